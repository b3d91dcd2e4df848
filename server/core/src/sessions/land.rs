//! Landing a session into its base branch, syncing it with the base, and where its branch stands
//! (base branch, ahead/behind, landed).

use chrono::Utc;

use crate::{
    model::{Session, SessionId},
    repo_lock::{RepositoryLock, RepositoryLockError},
    store::{Landing, StoreError},
    worktree::{self, LandStrategy, SyncOutcome},
};

use super::*;

/// What `land` is asked.
#[derive(Debug, Clone)]
pub struct LandOptions {
    pub strategy: LandStrategy,
    /// The branch to land into; the session's base branch when `None`.
    pub into: Option<String>,
    /// The squash or merge commit's message; from the session's name and prompt when `None`.
    pub message: Option<String>,
}

/// What `land` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandResult {
    pub into: String,
    pub commit: String,
    pub strategy: LandStrategy,
    /// How many paths the landing changed in `into`.
    pub files: usize,
}

/// Whether a sync hands its conflicts to the agent.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    pub agent_resolves: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncResultKind {
    UpToDate,
    Synced,
    Conflicts,
}

impl SyncResultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncResultKind::UpToDate => "upToDate",
            SyncResultKind::Synced => "synced",
            SyncResultKind::Conflicts => "conflicts",
        }
    }
}

/// What `sync` did; `session` is the row afterwards (starting again when the agent resolves).
#[derive(Debug, Clone)]
pub struct SyncResult {
    pub result: SyncResultKind,
    pub files: Vec<String>,
    pub session: Session,
}

/// Where a session's branch stands. `ahead`/`behind` are `None` when they cannot be known (no
/// base branch, a branch deleted by hand).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchStatus {
    pub base_branch: Option<String>,
    pub ahead: Option<usize>,
    pub behind: Option<usize>,
    pub landed: Option<Landing>,
}

#[derive(Debug, thiserror::Error)]
pub enum LandError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("session {id} is still {status}; land it once it has ended")]
    Active { id: SessionId, status: &'static str },
    #[error("session {id} has no branch yet")]
    NoBranch { id: SessionId },
    #[error(
        "session {id} started on a detached HEAD, so it has no base branch; say which branch to land into"
    )]
    NoBaseBranch { id: SessionId },
    #[error(transparent)]
    CommitWork(#[from] worktree::CommitWorkError),
    #[error(transparent)]
    Land(#[from] worktree::LandError),
    #[error(transparent)]
    Lock(#[from] RepositoryLockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LandError {
    pub fn kind(&self) -> ErrorKind {
        use worktree::LandError as Git;
        match self {
            LandError::Lookup(error) => error.kind(),
            LandError::Active { .. } => ErrorKind::SessionActive,
            LandError::NoBranch { .. } | LandError::NoBaseBranch { .. } => ErrorKind::InvalidInput,
            LandError::CommitWork(worktree::CommitWorkError::Unresolved { .. }) => {
                ErrorKind::Conflicts
            }
            LandError::Land(Git::Conflicts { .. }) => ErrorKind::Conflicts,
            LandError::Land(Git::NothingToLand { .. }) => ErrorKind::NothingToLand,
            LandError::Land(Git::DirtyTarget { .. }) => ErrorKind::WouldLoseWork,
            LandError::Land(
                Git::InvalidBranchName { .. }
                | Git::BranchNotFound { .. }
                | Git::IntoItself { .. }
                | Git::Unrelated { .. },
            ) => ErrorKind::InvalidInput,
            LandError::CommitWork(_)
            | LandError::Land(_)
            | LandError::Lock(_)
            | LandError::Store(_) => ErrorKind::Internal,
        }
    }

    /// The files at fault (conflicts, or the user's uncommitted changes in the way).
    pub fn files(&self) -> Option<&[String]> {
        match self {
            LandError::CommitWork(worktree::CommitWorkError::Unresolved { files, .. })
            | LandError::Land(
                worktree::LandError::Conflicts { files, .. }
                | worktree::LandError::DirtyTarget { files, .. },
            ) => Some(files),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("session {id} is still {status}; sync it once it has ended")]
    Active { id: SessionId, status: &'static str },
    #[error("session {id} has no worktree to sync")]
    NoWorktree { id: SessionId },
    #[error("session {id} started on a detached HEAD, so it has no base branch to sync with")]
    NoBaseBranch { id: SessionId },
    #[error(transparent)]
    CommitWork(#[from] worktree::CommitWorkError),
    #[error(transparent)]
    Sync(#[from] worktree::SyncError),
    #[error(
        "the conflicts are in the worktree, but the agent could not be asked to resolve them: {0}"
    )]
    Continue(#[source] Box<ContinueError>),
    #[error(transparent)]
    Lock(#[from] RepositoryLockError),
}

impl SyncError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SyncError::Lookup(error) => error.kind(),
            SyncError::Active { .. } => ErrorKind::SessionActive,
            SyncError::NoWorktree { .. } | SyncError::NoBaseBranch { .. } => {
                ErrorKind::InvalidInput
            }
            SyncError::CommitWork(worktree::CommitWorkError::Unresolved { .. })
            | SyncError::Sync(worktree::SyncError::Unresolved { .. }) => ErrorKind::Conflicts,
            SyncError::Sync(
                worktree::SyncError::BaseNotFound { .. }
                | worktree::SyncError::Detached { .. }
                | worktree::SyncError::Unrelated { .. }
                | worktree::SyncError::MergeInProgress { .. },
            ) => ErrorKind::InvalidInput,
            SyncError::Continue(error) => error.kind(),
            SyncError::CommitWork(_) | SyncError::Sync(_) | SyncError::Lock(_) => {
                ErrorKind::Internal
            }
        }
    }

    pub fn files(&self) -> Option<&[String]> {
        match self {
            SyncError::CommitWork(worktree::CommitWorkError::Unresolved { files, .. })
            | SyncError::Sync(worktree::SyncError::Unresolved { files, .. }) => Some(files),
            _ => None,
        }
    }
}

impl Sessions {
    /// Lands an ended session into `into` (its base branch by default): its uncommitted work is
    /// committed on its branch first (message: the session's name), then `worktree::land`.
    pub fn land(&self, id: &str, options: LandOptions) -> Result<LandResult, LandError> {
        // The connection is held for database work only, never across git's.
        let session = lookup(&self.store(), id)?;
        if !session.status.is_ended() {
            return Err(LandError::Active {
                id: session.id.clone(),
                status: session.status.as_str(),
            });
        }
        let Some(branch) = session.branch.clone() else {
            return Err(LandError::NoBranch { id: session.id });
        };
        let branches = self.store().session_branches(&session.id)?;
        let into = match options.into.filter(|into| !into.trim().is_empty()) {
            Some(into) => into.trim().to_owned(),
            None => branches
                .base_branch
                .clone()
                .ok_or_else(|| LandError::NoBaseBranch {
                    id: session.id.clone(),
                })?,
        };
        let _held = RepositoryLock::acquire(&session.repo)?;
        self.commit_session_work(&session)?;
        let message = options
            .message
            .filter(|message| !message.trim().is_empty())
            .unwrap_or_else(|| default_land_message(&session, options.strategy, &branch, &into));
        let landed = worktree::land(&worktree::LandRequest {
            repo: &session.repo,
            branch: &branch,
            into: &into,
            strategy: options.strategy,
            message: &message,
            before_move: None,
        })?;
        self.store().record_landing(
            &session.id,
            &Landing {
                into: into.clone(),
                commit: landed.commit.clone(),
                strategy: options.strategy.as_str().to_owned(),
                at: Utc::now(),
                source_commit: landed.source_commit.clone(),
            },
        )?;
        Ok(LandResult {
            into,
            commit: landed.commit,
            strategy: options.strategy,
            files: landed.files.len(),
        })
    }

    /// Commits the session's uncommitted work on its branch (message: its name), if its worktree
    /// is still there.
    pub(super) fn commit_session_work(
        &self,
        session: &Session,
    ) -> Result<Option<String>, worktree::CommitWorkError> {
        match session.worktree_path.as_deref() {
            Some(path) if path.exists() => worktree::commit_worktree(path, &session.name),
            _ => Ok(None),
        }
    }

    /// Merges the latest base branch into an ended session's branch in its worktree; conflicts
    /// stay there as a merge in progress and, when `agent_resolves`, go back to the agent.
    pub fn sync(&self, id: &str, options: SyncOptions) -> Result<SyncResult, SyncError> {
        let session = lookup(&self.store(), id)?;
        if !session.status.is_ended() {
            return Err(SyncError::Active {
                id: session.id.clone(),
                status: session.status.as_str(),
            });
        }
        let Some(path) = session.worktree_path.clone().filter(|path| path.exists()) else {
            return Err(SyncError::NoWorktree { id: session.id });
        };
        let base_branch = self
            .store()
            .session_branches(&session.id)
            .map_err(LookupError::from)?
            .base_branch
            .ok_or_else(|| SyncError::NoBaseBranch {
                id: session.id.clone(),
            })?;
        let outcome = {
            let _held = RepositoryLock::acquire(&session.repo)?;
            self.commit_session_work(&session)?;
            let branch = session.branch.as_deref().unwrap_or("HEAD");
            let message = format!("Merge branch '{base_branch}' into {branch}");
            worktree::sync_worktree(&path, &base_branch, &message)?
        };
        let (result, files) = match outcome {
            SyncOutcome::UpToDate => (SyncResultKind::UpToDate, Vec::new()),
            SyncOutcome::Synced { files, .. } => (SyncResultKind::Synced, files),
            SyncOutcome::Conflicts { files } => (SyncResultKind::Conflicts, files),
        };
        let session = if result == SyncResultKind::Conflicts && options.agent_resolves {
            self.continue_session(session.id.as_str(), conflict_prompt(&base_branch, &files))
                .map_err(|error| SyncError::Continue(Box::new(error)))?
        } else {
            reload(&self.store(), &session.id)?
        };
        Ok(SyncResult {
            result,
            files,
            session,
        })
    }

    /// The session's base branch, how far its branch is ahead of and behind it, and its landing.
    pub fn branch_status(&self, session: &Session) -> Result<BranchStatus, LookupError> {
        let branches = self.store().session_branches(&session.id)?;
        let (ahead, behind) = match (&session.branch, &branches.base_branch) {
            (Some(branch), Some(base)) if session.repo.exists() => {
                match worktree::ahead_behind(&session.repo, branch, base) {
                    Ok((ahead, behind)) => (Some(ahead), Some(behind)),
                    Err(error) => {
                        tracing::debug!(id = %session.id, %error, "ahead/behind unknown");
                        (None, None)
                    }
                }
            }
            _ => (None, None),
        };
        Ok(BranchStatus {
            base_branch: branches.base_branch,
            ahead,
            behind,
            landed: branches.landed,
        })
    }
}

/// Squash: the session's name, then its prompt. Merge: git's own words. Rebase keeps each
/// commit's message (this one is only the reflog's).
fn default_land_message(
    session: &Session,
    strategy: LandStrategy,
    branch: &str,
    into: &str,
) -> String {
    match strategy {
        LandStrategy::Merge => format!("Merge branch '{branch}' into {into}"),
        LandStrategy::Squash | LandStrategy::Rebase => {
            let prompt = session.prompt.trim();
            if prompt == session.name {
                session.name.clone()
            } else {
                format!("{}\n\n{prompt}", session.name)
            }
        }
    }
}

/// The prompt that hands a sync's conflicts back to the agent.
pub fn conflict_prompt(base_branch: &str, files: &[String]) -> String {
    let list: Vec<String> = files.iter().map(|file| format!("- {file}")).collect();
    format!(
        "Merging the latest `{base_branch}` into this branch left conflicts in:\n{}\n\
         Resolve them: edit each file so it keeps the intent of both sides and has no conflict \
         markers left (<<<<<<<, =======, >>>>>>>), then `git add` the files and `git commit` to \
         finish the merge.",
        list.join("\n")
    )
}

impl Sessions {
    /// Records the branch a new session starts from: `base_ref` when it names a branch, else the
    /// branch the repository's HEAD is on (none when detached). A failure to tell is logged and
    /// recorded as none: it must not stop the spawn.
    pub(super) fn record_base_branch(
        &self,
        store: &mut crate::store::Store,
        session: &Session,
    ) -> Result<(), StoreError> {
        let base_branch = match worktree::base_branch_of(&session.repo, &session.base_ref) {
            Ok(branch) => branch,
            Err(error) => {
                tracing::warn!(id = %session.id, %error, "could not tell the session's base branch");
                None
            }
        };
        store.record_base_branch(&session.id, base_branch.as_deref())
    }
}
