//! Pushing a session's branch with `git push` and opening a pull request with `gh pr create`: the
//! only programs lulu runs beside agents (gix cannot push; a forge needs its own client).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::{
    config::find_program,
    model::SessionId,
    repo_lock::{RepositoryLock, RepositoryLockError},
    worktree,
};

use super::*;

/// A pull request to open after the push.
#[derive(Debug, Clone, Default)]
pub struct PullRequest {
    /// The session's name when `None`.
    pub title: Option<String>,
    /// The session's prompt when `None`.
    pub body: Option<String>,
    pub draft: bool,
}

#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// `origin` when `None`.
    pub remote: Option<String>,
    pub pull_request: Option<PullRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub remote: String,
    pub branch: String,
    /// The pull request's address, when one was opened.
    pub url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("session {id} is still {status}; push it once it has ended")]
    Active { id: SessionId, status: &'static str },
    #[error("session {id} has no branch yet")]
    NoBranch { id: SessionId },
    #[error("{remote:?} is not a valid remote name")]
    BadRemote { remote: String },
    #[error("nothing to push: the branch {branch:?} has no commit beyond its base")]
    NothingToPush { branch: String },
    #[error("session {id} started on a detached HEAD, so a pull request has no base branch")]
    NoBaseBranch { id: SessionId },
    #[error("`{program}` is not installed (not on PATH); lulu needs it to {purpose}")]
    ProgramMissing {
        program: &'static str,
        purpose: &'static str,
    },
    #[error("`{command}` failed: {last_line}")]
    ProgramFailed { command: String, last_line: String },
    #[error("could not run `{program}`")]
    Run {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    CommitWork(#[from] worktree::CommitWorkError),
    #[error(transparent)]
    Unmerged(#[from] worktree::UnmergedError),
    #[error(transparent)]
    Lock(#[from] RepositoryLockError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl PushError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PushError::Lookup(error) => error.kind(),
            PushError::Active { .. } => ErrorKind::SessionActive,
            PushError::NoBranch { .. }
            | PushError::BadRemote { .. }
            | PushError::NoBaseBranch { .. } => ErrorKind::InvalidInput,
            PushError::NothingToPush { .. } => ErrorKind::NothingToLand,
            PushError::ProgramMissing { .. } => ErrorKind::ProgramMissing,
            PushError::ProgramFailed { .. } => ErrorKind::ProgramFailed,
            PushError::CommitWork(worktree::CommitWorkError::Unresolved { .. }) => {
                ErrorKind::Conflicts
            }
            PushError::Run { .. }
            | PushError::CommitWork(_)
            | PushError::Unmerged(_)
            | PushError::Lock(_)
            | PushError::Store(_) => ErrorKind::Internal,
        }
    }
}

impl Sessions {
    /// Commits the session's uncommitted work, pushes its branch to `remote` (setting it as the
    /// upstream), and opens a pull request against its base branch when asked.
    pub fn push(&self, id: &str, options: PushOptions) -> Result<Pushed, PushError> {
        let session = lookup(&self.store(), id)?;
        if !session.status.is_ended() {
            return Err(PushError::Active {
                id: session.id.clone(),
                status: session.status.as_str(),
            });
        }
        let Some(branch) = session.branch.clone() else {
            return Err(PushError::NoBranch { id: session.id });
        };
        let remote = remote_name(options.remote)?;
        let base_branch = self.store().session_branches(&session.id)?.base_branch;
        if options.pull_request.is_some() && base_branch.is_none() {
            return Err(PushError::NoBaseBranch { id: session.id });
        }
        let git = find_program("git", &Default::default()).ok_or(PushError::ProgramMissing {
            program: "git",
            purpose: "push",
        })?;
        let gh = match &options.pull_request {
            Some(_) => Some(find_program("gh", &Default::default()).ok_or(
                PushError::ProgramMissing {
                    program: "gh",
                    purpose: "open a pull request",
                },
            )?),
            None => None,
        };
        {
            let _held = RepositoryLock::acquire(&session.repo)?;
            self.commit_session_work(&session)?;
        }
        let base = session
            .base_commit
            .clone()
            .unwrap_or_else(|| "HEAD".to_owned());
        if worktree::unmerged_commits(&session.repo, &branch, &base)? == 0 {
            return Err(PushError::NothingToPush { branch });
        }
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        run(
            &git,
            "git push",
            &session.repo,
            &["push", "--set-upstream", &remote, &refspec],
        )?;
        let url = match (options.pull_request, gh, base_branch) {
            (Some(request), Some(gh), Some(base_branch)) => {
                open_pull_request(&gh, &session, request, &branch, &base_branch)?
            }
            _ => None,
        };
        Ok(Pushed {
            remote,
            branch,
            url,
        })
    }
}

/// The remote to push to: `origin` when none is given; never one that git would read as an
/// option or that holds white space.
fn remote_name(given: Option<String>) -> Result<String, PushError> {
    let remote = given
        .map(|remote| remote.trim().to_owned())
        .filter(|remote| !remote.is_empty())
        .unwrap_or_else(|| "origin".to_owned());
    if remote.starts_with('-') || remote.chars().any(char::is_whitespace) {
        return Err(PushError::BadRemote { remote });
    }
    Ok(remote)
}

/// `gh pr create` for the pushed branch (from the session's worktree when it still exists, so
/// `gh` finds the repository); the pull request's address, the last line `gh` printed.
fn open_pull_request(
    gh: &Path,
    session: &Session,
    request: PullRequest,
    branch: &str,
    base_branch: &str,
) -> Result<Option<String>, PushError> {
    let title = request.title.unwrap_or_else(|| session.name.clone());
    let body = request.body.unwrap_or_else(|| session.prompt.clone());
    let mut arguments = vec![
        "pr",
        "create",
        "--head",
        branch,
        "--base",
        base_branch,
        "--title",
        &title,
        "--body",
        &body,
    ];
    if request.draft {
        arguments.push("--draft");
    }
    let cwd = session
        .worktree_path
        .as_deref()
        .filter(|path| path.exists())
        .unwrap_or(&session.repo);
    let output = run(gh, "gh pr create", cwd, &arguments)?;
    Ok(output
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned))
}

/// Runs the program at `path` (`program` names it in errors: "git push") with `arguments` in
/// `cwd`, no terminal prompts; its stdout, or its last line of error on failure.
fn run(
    path: &Path,
    program: &'static str,
    cwd: &Path,
    arguments: &[&str],
) -> Result<String, PushError> {
    let output = Command::new(path)
        .args(arguments)
        .current_dir(cwd)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GH_PROMPT_DISABLED", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| PushError::Run { program, source })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = |text: &str| {
        text.lines()
            .map(str::trim)
            .rfind(|line| !line.is_empty())
            .map(str::to_owned)
    };
    let last_line = last(&stderr)
        .or_else(|| last(&stdout))
        .unwrap_or_else(|| format!("it ended with {}", output.status));
    Err(PushError::ProgramFailed {
        command: program.to_owned(),
        last_line,
    })
}
