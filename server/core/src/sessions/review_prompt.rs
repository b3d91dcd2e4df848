//! The one prompt a review sends: each draft comment with its path, line, the lines around it
//! as they are now, and its text, then the user's message.

use std::path::Path;

use crate::{
    store::{Comment, CommentSide},
    worktree,
};

/// Lines shown above and below a comment's line.
pub const CONTEXT_LINES: usize = 2;
/// A context line longer than this is cut (minified files, generated data).
const CONTEXT_LINE_MAX_CHARS: usize = 240;

/// What a comment's file looks like now, as the prompt shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileNow {
    Text(String),
    Missing,
    Binary,
    Unreadable(String),
}

/// Where a session's files are: its worktree now, and its base commit.
pub struct Sources<'a> {
    pub worktree: Option<&'a Path>,
    pub base_commit: Option<&'a str>,
}

impl Sources<'_> {
    /// The file of `comment`'s side: the worktree's for `new`, the base commit's for `old`.
    pub fn read(&self, comment: &Comment) -> FileNow {
        let Some(worktree_path) = self.worktree else {
            return FileNow::Unreadable("the session has no worktree".to_owned());
        };
        let bytes = match comment.side {
            CommentSide::New => match std::fs::read(worktree_path.join(&comment.path)) {
                Ok(bytes) => Some(bytes),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(error) => return FileNow::Unreadable(error.to_string()),
            },
            CommentSide::Old => {
                let commit = self.base_commit.unwrap_or("HEAD");
                match worktree::file_at_commit(worktree_path, commit, &comment.path) {
                    Ok(bytes) => bytes,
                    Err(error) => return FileNow::Unreadable(error.to_string()),
                }
            }
        };
        match bytes {
            None => FileNow::Missing,
            Some(bytes) if bytes.iter().take(8000).any(|byte| *byte == 0) => FileNow::Binary,
            Some(bytes) => FileNow::Text(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }
}

/// The review prompt for `comments` (with what their files hold now) and `message`.
pub fn review_prompt(comments: &[(Comment, FileNow)], message: Option<&str>) -> String {
    let mut prompt = String::new();
    if !comments.is_empty() {
        let count = comments.len();
        let noun = if count == 1 { "comment" } else { "comments" };
        prompt.push_str(&format!(
            "Review of your changes: {count} {noun} from the user, all at once. Address each one, then commit your work.\n"
        ));
        for (number, (comment, file)) in comments.iter().enumerate() {
            prompt.push('\n');
            prompt.push_str(&comment_block(number + 1, comment, file));
        }
    }
    if let Some(message) = message {
        if !prompt.is_empty() {
            prompt.push_str("\nAnd the user says:\n");
        }
        prompt.push_str(message);
        prompt.push('\n');
    }
    prompt
}

fn comment_block(number: usize, comment: &Comment, file: &FileNow) -> String {
    let side = match comment.side {
        CommentSide::New => "",
        CommentSide::Old => " (of the base version, before your changes)",
    };
    let mut block = format!("{number}. {}, line {}{side}:\n", comment.path, comment.line);
    match file {
        FileNow::Text(text) => block.push_str(&context(text, comment.line)),
        FileNow::Missing => block.push_str("   (the file does not exist now)\n"),
        FileNow::Binary => block.push_str("   (a binary file)\n"),
        FileNow::Unreadable(why) => {
            block.push_str(&format!("   (the file could not be read: {why})\n"));
        }
    }
    let mut lines = comment.text.lines();
    block.push_str(&format!("   Comment: {}\n", lines.next().unwrap_or("")));
    for line in lines {
        block.push_str(&format!("   {line}\n"));
    }
    block
}

/// The lines around `line` (1-based), numbered, the commented one marked with `>`.
fn context(text: &str, line: i64) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Ok(target) = usize::try_from(line) else {
        return String::new();
    };
    if target == 0 || target > lines.len() {
        return format!("   (the file has {} lines now)\n", lines.len());
    }
    let first = target.saturating_sub(CONTEXT_LINES).max(1);
    let last = (target + CONTEXT_LINES).min(lines.len());
    let width = last.to_string().len();
    let mut shown = String::new();
    for number in first..=last {
        let marker = if number == target { '>' } else { ' ' };
        let mut content: String = lines[number - 1]
            .chars()
            .take(CONTEXT_LINE_MAX_CHARS)
            .collect();
        if content.len() < lines[number - 1].len() {
            content.push('…');
        }
        let line = format!("  {marker} {number:>width$} | {content}");
        shown.push_str(line.trim_end());
        shown.push('\n');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionId;

    fn comment(path: &str, line: i64, side: CommentSide, text: &str) -> Comment {
        Comment {
            id: "c".to_owned(),
            session_id: SessionId("s".to_owned()),
            path: path.to_owned(),
            line,
            side,
            text: text.to_owned(),
            created_at: chrono::Utc::now(),
            sent_at: None,
        }
    }

    fn check(comments: &[(Comment, FileNow)], message: Option<&str>, expected: &str) {
        pretty_assertions::assert_eq!(review_prompt(comments, message), expected);
    }

    #[test]
    fn each_comment_with_its_place_context_and_text_then_the_message() {
        let file = FileNow::Text("one\ntwo\nthree\nfour\nfive\nsix\nseven\n".to_owned());
        check(
            &[
                (
                    comment("src/a.txt", 4, CommentSide::New, "four is wrong"),
                    file.clone(),
                ),
                (
                    comment("src/a.txt", 1, CommentSide::Old, "keep one\nand say why"),
                    file.clone(),
                ),
                (comment("gone.txt", 2, CommentSide::New, "x"), FileNow::Missing),
                (comment("src/a.txt", 99, CommentSide::New, "past the end"), file),
            ],
            Some("also add a test"),
            "Review of your changes: 4 comments from the user, all at once. Address each one, then commit your work.

1. src/a.txt, line 4:
    2 | two
    3 | three
  > 4 | four
    5 | five
    6 | six
   Comment: four is wrong

2. src/a.txt, line 1 (of the base version, before your changes):
  > 1 | one
    2 | two
    3 | three
   Comment: keep one
   and say why

3. gone.txt, line 2:
   (the file does not exist now)
   Comment: x

4. src/a.txt, line 99:
   (the file has 7 lines now)
   Comment: past the end

And the user says:
also add a test
",
        );
        check(&[], Some("only a message"), "only a message\n");
    }
}
