//! Each operation's own error enum, and the kind of failure it is (`ErrorKind`), which the protocol layer maps to an error code.

use std::path::PathBuf;

use crate::{
    model::SessionId,
    process::LaunchError,
    repo_lock::RepositoryLockError,
    store::{self, ResolveIdError, StoreError},
    worktree::{self},
};

/// What kind of failure an operation met; the protocol layer maps kinds to error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NoSuchSession,
    SessionActive,
    WouldLoseWork,
    BadRepository,
    UnknownAgent,
    BadBaseRef,
    InvalidInput,
    /// The change conflicts with the target (protocol version 2).
    Conflicts,
    /// Nothing to land or push.
    NothingToLand,
    /// A program lulu needs (`git` to push, `gh` for a pull request) is not installed.
    ProgramMissing,
    /// `git push` or `gh` failed.
    ProgramFailed,
    /// The repository's setup command is not trusted yet (issue 14).
    SetupNotTrusted,
    Internal,
    /// The session is not running (issue 12: `lulu/send`).
    NotRunning,
    /// The session's agent cannot take this (messages, approvals).
    AgentCannotTake,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] store::OpenError),
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no session with id {0:?}")]
    NotFound(String),
    #[error("the id prefix {prefix:?} matches {count} sessions; give more characters")]
    Ambiguous { prefix: String, count: usize },
    #[error(transparent)]
    Open(#[from] store::OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LookupError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            LookupError::NotFound(_) | LookupError::Ambiguous { .. } => ErrorKind::NoSuchSession,
            LookupError::Open(_) | LookupError::Store(_) => ErrorKind::Internal,
        }
    }
}

impl From<ResolveIdError> for LookupError {
    fn from(error: ResolveIdError) -> Self {
        match error {
            ResolveIdError::NotFound(id) => LookupError::NotFound(id),
            ResolveIdError::Ambiguous { prefix, count } => LookupError::Ambiguous { prefix, count },
            ResolveIdError::Store(error) => LookupError::Store(error),
        }
    }
}

/// A control character as a person reads it: `U+001B`.
pub fn control_character_name(character: char) -> String {
    format!("U+{:04X}", u32::from(character))
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the prompt is empty; say what the agent should do")]
    EmptyPrompt,
    #[error("the session name is empty")]
    EmptyName,
    #[error(
        "`name` holds a control character ({}); a name is one line of plain text",
        control_character_name(*character)
    )]
    NameControlCharacter { character: char },
    #[error(
        "the prompt is {bytes} bytes long; the limit is {limit} bytes (one command-line argument)"
    )]
    PromptTooLong { bytes: usize, limit: usize },
    #[error("the base revision is empty; name a commit, or leave it out for HEAD")]
    EmptyBase,
    #[error("the worktree folder {path} cannot hold worktrees")]
    WorktreeFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Repository(#[from] worktree::DiscoverError),
    #[error("unknown agent {name:?} (known agents: {known})")]
    UnknownAgent { name: String, known: String },
    #[error("the agent {name:?} needs `{program}`, which is not on PATH")]
    AgentNotInstalled { name: String, program: String },
    #[error(transparent)]
    BaseRef(#[from] worktree::ResolveCommitError),
    #[error("{field} must be a number above 0, not {value}")]
    BadLimit { field: &'static str, value: f64 },
    #[error(transparent)]
    Open(#[from] store::OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error(transparent)]
    Provision(#[from] super::ProvisionCheckError),
}

impl SpawnError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SpawnError::EmptyPrompt
            | SpawnError::EmptyName
            | SpawnError::BadLimit { .. }
            | SpawnError::NameControlCharacter { .. }
            | SpawnError::PromptTooLong { .. }
            | SpawnError::WorktreeFolder { .. } => ErrorKind::InvalidInput,
            SpawnError::EmptyBase => ErrorKind::BadBaseRef,
            SpawnError::Repository(_) => ErrorKind::BadRepository,
            SpawnError::UnknownAgent { .. } | SpawnError::AgentNotInstalled { .. } => {
                ErrorKind::UnknownAgent
            }
            SpawnError::BaseRef(worktree::ResolveCommitError::NotACommit { .. }) => {
                ErrorKind::BadBaseRef
            }
            SpawnError::BaseRef(_) => ErrorKind::BadRepository,
            SpawnError::Open(_) | SpawnError::Store(_) | SpawnError::Launch(_) => {
                ErrorKind::Internal
            }
            SpawnError::Provision(error) => error.kind(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not tell whether the runner of session {id} is alive")]
    Liveness {
        id: SessionId,
        #[source]
        source: std::io::Error,
    },
}

impl CancelError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CancelError::Lookup(error) => error.kind(),
            CancelError::Store(_) | CancelError::Liveness { .. } => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContinueError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("the prompt is empty; say what the agent should do next")]
    EmptyPrompt,
    #[error(
        "the prompt is {bytes} bytes long; the limit is {limit} bytes (one command-line argument)"
    )]
    PromptTooLong { bytes: usize, limit: usize },
    #[error("session {id} is still {status}; continue it once it has ended")]
    Active { id: SessionId, status: &'static str },
    #[error("session {id} used the agent {name:?}, which is no longer configured")]
    UnknownAgent { id: SessionId, name: String },
    #[error("the agent {name:?} needs `{program}`, which is not on PATH")]
    AgentNotInstalled { name: String, program: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

impl ContinueError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ContinueError::Lookup(error) => error.kind(),
            ContinueError::EmptyPrompt | ContinueError::PromptTooLong { .. } => {
                ErrorKind::InvalidInput
            }
            ContinueError::Active { .. } => ErrorKind::SessionActive,
            ContinueError::UnknownAgent { .. } | ContinueError::AgentNotInstalled { .. } => {
                ErrorKind::UnknownAgent
            }
            ContinueError::Store(_) | ContinueError::Launch(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("session {id} is still {status}; cancel it first or remove it with force")]
    Active { id: SessionId, status: &'static str },
    #[error("session {id} did not stop after being cancelled; try again")]
    DidNotStop { id: SessionId },
    #[error("the worktree {} has {count} uncommitted or untracked files ({sample}); commit them or remove with force", path.display())]
    Uncommitted {
        path: PathBuf,
        count: usize,
        sample: String,
    },
    #[error(
        "the branch {branch:?} has {count} commits that are not in {base:?}; merge them or delete with force"
    )]
    Unmerged {
        branch: String,
        base: String,
        count: usize,
    },
    #[error(transparent)]
    Cancel(#[from] CancelError),
    #[error(transparent)]
    Status(#[from] worktree::StatusError),
    #[error(transparent)]
    UnmergedCheck(#[from] worktree::UnmergedError),
    #[error(transparent)]
    RemoveWorktree(#[from] worktree::RemoveWorktreeError),
    #[error(transparent)]
    DeleteBranch(#[from] worktree::DeleteBranchError),
    #[error(transparent)]
    Lock(#[from] RepositoryLockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RemoveError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RemoveError::Lookup(error) => error.kind(),
            RemoveError::Active { .. } | RemoveError::DidNotStop { .. } => ErrorKind::SessionActive,
            RemoveError::Uncommitted { .. } | RemoveError::Unmerged { .. } => {
                ErrorKind::WouldLoseWork
            }
            RemoveError::RemoveWorktree(worktree::RemoveWorktreeError::Dirty { .. }) => {
                ErrorKind::WouldLoseWork
            }
            RemoveError::Cancel(error) => error.kind(),
            RemoveError::Status(_)
            | RemoveError::UnmergedCheck(_)
            | RemoveError::RemoveWorktree(_)
            | RemoveError::DeleteBranch(_)
            | RemoveError::Lock(_)
            | RemoveError::Store(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("session {id} has no worktree yet")]
    NoWorktree { id: SessionId },
    #[error("the worktree {} of session {id} no longer exists", path.display())]
    WorktreeGone { id: SessionId, path: PathBuf },
    #[error(transparent)]
    Diff(#[from] worktree::DiffError),
}

impl DiffError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DiffError::Lookup(error) => error.kind(),
            DiffError::NoWorktree { .. } | DiffError::WorktreeGone { .. } => {
                ErrorKind::InvalidInput
            }
            DiffError::Diff(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Open(#[from] store::OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not tell whether the runner of session {id} is alive")]
    Liveness {
        id: SessionId,
        #[source]
        source: std::io::Error,
    },
}

impl ReconcileError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}
