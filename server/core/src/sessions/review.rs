//! Review: comments on a session's diff (drafts in the database), and sending every draft to
//! the agent as one prompt that continues the session.

use std::path::{Component, Path, PathBuf};

use chrono::Utc;

use crate::{
    model::{Session, SessionId},
    store::{Comment, CommentSide, DeleteDraft, NewComment, StoreError},
};

use super::{review_prompt::*, *};

/// The longest comment, in bytes.
pub const COMMENT_TEXT_MAX_BYTES: usize = 8 * 1024;
/// The longest review message, in bytes (as a prompt).
pub const REVIEW_MESSAGE_MAX_BYTES: usize = 64 * 1024;
/// The longest review prompt: agents take the prompt as one argument, and the kernel refuses a
/// single argument over 128 KiB.
pub const REVIEW_PROMPT_MAX_BYTES: usize = 128 * 1024 - 1;
/// The longest `path`, in bytes.
const PATH_MAX_BYTES: usize = 4096;
/// No file has more lines than this; a larger `line` is a mistake.
const LINE_MAX: i64 = 100_000_000;

/// A comment a client asks to add.
#[derive(Debug, Clone)]
pub struct CommentRequest {
    /// Relative to the session's worktree.
    pub path: String,
    /// 1-based.
    pub line: i64,
    pub side: CommentSide,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("`path` is empty; give the file's path relative to the session's worktree")]
    EmptyPath,
    #[error(
        "`path` must be relative to the session's worktree (as lulu/diff gives it), not the absolute path {path:?}"
    )]
    AbsolutePath { path: String },
    #[error("`path` {path:?} leads outside the session's worktree")]
    PathEscapes { path: String },
    #[error("`path` {path:?} has a `..` part; give the plain path inside the session's worktree")]
    ParentPart { path: String },
    #[error("`path` is {length} bytes long; the limit is {PATH_MAX_BYTES}")]
    PathTooLong { length: usize },
    #[error("`line` must be between 1 and {LINE_MAX} (lines count from 1), not {line}")]
    BadLine { line: i64 },
    #[error("`text` is empty; say what should change")]
    EmptyText,
    #[error("`text` is {length} bytes long; the limit is {COMMENT_TEXT_MAX_BYTES} bytes")]
    TextTooLong { length: usize },
    #[error(
        "`{field}` holds the control character {character} (only newlines and tabs are allowed)"
    )]
    ControlCharacter {
        field: &'static str,
        character: String,
    },
    #[error("session {id} has no worktree yet; comment once it has one")]
    NoWorktree { id: SessionId },
    #[error("the worktree {} of session {id} no longer exists", path.display())]
    WorktreeGone { id: SessionId, path: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CommentError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommentError::Lookup(error) => error.kind(),
            CommentError::Store(_) => ErrorKind::Internal,
            _ => ErrorKind::InvalidInput,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UncommentError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("`commentId` {comment_id:?} is no comment of session {id}")]
    NoSuchComment { id: SessionId, comment_id: String },
    #[error("comment {comment_id} was sent to the agent already; sent comments stay")]
    AlreadySent { comment_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UncommentError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            UncommentError::Lookup(error) => error.kind(),
            UncommentError::NoSuchComment { .. } | UncommentError::AlreadySent { .. } => {
                ErrorKind::InvalidInput
            }
            UncommentError::Store(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("session {id} is still {status}; send the review once it has ended")]
    Active { id: SessionId, status: &'static str },
    #[error("session {id} has no draft comment and no message was given; nothing to send")]
    NothingToSend { id: SessionId },
    #[error("`message` is {length} bytes long; the limit is {REVIEW_MESSAGE_MAX_BYTES} bytes")]
    MessageTooLong { length: usize },
    #[error(
        "`message` holds the control character {character} (only newlines and tabs are allowed)"
    )]
    MessageControlCharacter { character: String },
    #[error(
        "the review of session {id} would be a prompt of {length} bytes, over the limit of {REVIEW_PROMPT_MAX_BYTES}; delete some drafts or shorten them"
    )]
    PromptTooLong { id: SessionId, length: usize },
    #[error(transparent)]
    Continue(#[from] ContinueError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lock(#[from] crate::repo_lock::RepositoryLockError),
}

impl ReviewError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReviewError::Lookup(error) => error.kind(),
            ReviewError::Active { .. } => ErrorKind::SessionActive,
            ReviewError::NothingToSend { .. }
            | ReviewError::MessageTooLong { .. }
            | ReviewError::MessageControlCharacter { .. }
            | ReviewError::PromptTooLong { .. } => ErrorKind::InvalidInput,
            ReviewError::Continue(error) => error.kind(),
            ReviewError::Store(_) | ReviewError::Lock(_) => ErrorKind::Internal,
        }
    }
}

/// The first control character of `text` other than newline and tab, as `U+0007`.
fn control_character(text: &str) -> Option<String> {
    text.chars()
        .find(|character| character.is_control() && *character != '\n' && *character != '\t')
        .map(|character| format!("U+{:04X}", u32::from(character)))
}

/// `path` made plain (`./a//b` is `a/b`), or why it cannot be a path in the worktree.
fn relative_path(path: &str) -> Result<String, CommentError> {
    if path.len() > PATH_MAX_BYTES {
        return Err(CommentError::PathTooLong { length: path.len() });
    }
    if let Some(character) = path.chars().find(|character| character.is_control()) {
        return Err(CommentError::ControlCharacter {
            field: "path",
            character: format!("U+{:04X}", u32::from(character)),
        });
    }
    if Path::new(path).is_absolute() {
        return Err(CommentError::AbsolutePath {
            path: path.to_owned(),
        });
    }
    let mut parts = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(CommentError::ParentPart {
                    path: path.to_owned(),
                });
            }
        }
    }
    if parts.is_empty() {
        return Err(CommentError::EmptyPath);
    }
    Ok(parts.join("/"))
}

/// Refuses a path that a symbolic link inside the worktree leads outside of it.
fn check_inside(worktree_path: &Path, relative: &str) -> Result<(), CommentError> {
    let escapes = || CommentError::PathEscapes {
        path: relative.to_owned(),
    };
    let Ok(root) = worktree_path.canonicalize() else {
        return Ok(());
    };
    // The deepest part of the path that exists decides where it leads.
    let mut candidate = worktree_path.join(relative);
    loop {
        if let Ok(real) = candidate.canonicalize() {
            return if real.starts_with(&root) {
                Ok(())
            } else {
                Err(escapes())
            };
        }
        if !candidate.pop() {
            return Ok(());
        }
    }
}

fn check_text(text: &str) -> Result<String, CommentError> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(CommentError::EmptyText);
    }
    if text.len() > COMMENT_TEXT_MAX_BYTES {
        return Err(CommentError::TextTooLong { length: text.len() });
    }
    if let Some(character) = control_character(text) {
        return Err(CommentError::ControlCharacter {
            field: "text",
            character,
        });
    }
    Ok(text.to_owned())
}

impl Sessions {
    /// Adds a draft comment on a session's diff (any status: drafts wait for the review).
    pub fn add_comment(&self, id: &str, request: CommentRequest) -> Result<Comment, CommentError> {
        let path = relative_path(&request.path)?;
        if !(1..=LINE_MAX).contains(&request.line) {
            return Err(CommentError::BadLine { line: request.line });
        }
        let text = check_text(&request.text)?;
        let mut store = self.store();
        let session = lookup(&store, id)?;
        let Some(worktree_path) = session.worktree_path.clone() else {
            return Err(CommentError::NoWorktree { id: session.id });
        };
        if !worktree_path.exists() {
            return Err(CommentError::WorktreeGone {
                id: session.id,
                path: worktree_path,
            });
        }
        check_inside(&worktree_path, &path)?;
        let new = NewComment {
            session_id: session.id.clone(),
            path,
            line: request.line,
            side: request.side,
            text,
        };
        store
            .insert_comment(&new)?
            .ok_or_else(|| CommentError::Lookup(LookupError::NotFound(id.to_owned())))
    }

    /// A session's comments, drafts and sent, oldest first.
    pub fn comments(&self, id: &str) -> Result<Vec<Comment>, LookupError> {
        let store = self.store();
        let session = lookup(&store, id)?;
        Ok(store.comments(&session.id)?)
    }

    /// Deletes a draft comment; a sent one stays.
    pub fn remove_comment(&self, id: &str, comment_id: &str) -> Result<(), UncommentError> {
        let mut store = self.store();
        let session = lookup(&store, id)?;
        match store.delete_draft(&session.id, comment_id)? {
            DeleteDraft::Deleted => Ok(()),
            DeleteDraft::AlreadySent => Err(UncommentError::AlreadySent {
                comment_id: comment_id.to_owned(),
            }),
            DeleteDraft::NotFound => Err(UncommentError::NoSuchComment {
                id: session.id,
                comment_id: comment_id.to_owned(),
            }),
        }
    }

    /// Sends every draft comment and `message` to the agent as one prompt, continuing the
    /// ended session; the drafts sent are marked so, and never sent again.
    pub fn review(&self, id: &str, message: Option<String>) -> Result<Session, ReviewError> {
        let message = message
            .map(|message| message.replace("\r\n", "\n").trim().to_owned())
            .filter(|message| !message.is_empty());
        if let Some(message) = &message {
            if message.len() > REVIEW_MESSAGE_MAX_BYTES {
                return Err(ReviewError::MessageTooLong {
                    length: message.len(),
                });
            }
            if let Some(character) = control_character(message) {
                return Err(ReviewError::MessageControlCharacter { character });
            }
        }
        // One review of a repository's sessions at a time, across every process: of two at
        // once, the second sees the first's new run and is refused as active.
        let repo = lookup(&self.store(), id)?.repo;
        let _one_at_a_time = crate::repo_lock::RepositoryLock::acquire(&repo)?;
        // The connection is held for database work only: continuing takes it again.
        let session = lookup(&self.store(), id)?;
        if !session.status.is_ended() {
            return Err(ReviewError::Active {
                id: session.id,
                status: session.status.as_str(),
            });
        }
        let drafts: Vec<Comment> = self
            .store()
            .comments(&session.id)?
            .into_iter()
            .filter(|comment| comment.sent_at.is_none())
            .collect();
        if drafts.is_empty() && message.is_none() {
            return Err(ReviewError::NothingToSend { id: session.id });
        }
        let sources = Sources {
            worktree: session.worktree_path.as_deref(),
            base_commit: session.base_commit.as_deref(),
        };
        let with_files: Vec<(Comment, FileNow)> = drafts
            .into_iter()
            .map(|comment| {
                let file = sources.read(&comment);
                (comment, file)
            })
            .collect();
        let prompt = review_prompt(&with_files, message.as_deref());
        if prompt.len() > REVIEW_PROMPT_MAX_BYTES {
            return Err(ReviewError::PromptTooLong {
                id: session.id,
                length: prompt.len(),
            });
        }
        // The drafts are claimed first, with a compare-and-set on "not sent yet": of two reviews
        // at once (two servers), one claims them and the other is refused, so no draft goes
        // twice. Continuing is a compare-and-set on the ended status as well.
        let claimed: Vec<String> = with_files
            .iter()
            .map(|(comment, _)| comment.id.clone())
            .collect();
        let claimed_at = Utc::now();
        let marked = self.store().mark_sent(&session.id, &claimed, claimed_at)?;
        if marked != claimed.len() {
            self.store()
                .unmark_sent(&session.id, &claimed, claimed_at)?;
            let now = lookup(&self.store(), session.id.as_str())?;
            if now.status.is_ended() {
                return Err(ReviewError::NothingToSend { id: now.id });
            }
            return Err(ReviewError::Active {
                id: now.id,
                status: now.status.as_str(),
            });
        }
        let continued = match self.continue_session(session.id.as_str(), prompt) {
            Ok(continued) => continued,
            Err(error) => {
                self.store()
                    .unmark_sent(&session.id, &claimed, claimed_at)?;
                return Err(match error {
                    ContinueError::Active { id, status } => ReviewError::Active { id, status },
                    error => error.into(),
                });
            }
        };
        Ok(continued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: Result<&str, &str>) {
        let actual = relative_path(path).map_err(|error| error.to_string());
        assert_eq!(
            actual.as_deref().map_err(String::as_str),
            expected,
            "{path:?}"
        );
    }

    #[test]
    fn comment_paths_stay_inside_the_worktree() {
        check("src/a.rs", Ok("src/a.rs"));
        check("./src//a.rs", Ok("src/a.rs"));
        check(
            "../x",
            Err(
                "`path` \"../x\" has a `..` part; give the plain path inside the session's worktree",
            ),
        );
        check(
            "src/../../x",
            Err(
                "`path` \"src/../../x\" has a `..` part; give the plain path inside the session's worktree",
            ),
        );
        check(
            "/etc/passwd",
            Err(
                "`path` must be relative to the session's worktree (as lulu/diff gives it), not the absolute path \"/etc/passwd\"",
            ),
        );
        check(
            "",
            Err("`path` is empty; give the file's path relative to the session's worktree"),
        );
        check(
            ".",
            Err("`path` is empty; give the file's path relative to the session's worktree"),
        );
        check(
            "a\u{1b}[31m",
            Err("`path` holds the control character U+001B (only newlines and tabs are allowed)"),
        );
    }
}
