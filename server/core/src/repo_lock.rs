//! One lulu at a time changes a repository's worktree registrations.
//!
//! gix reads every registration under `.git/worktrees/` while it adds a worktree; a registration
//! another process is writing at that moment reads as an empty `gitdir` and fails the add. So
//! creating, removing and pruning worktrees take an exclusive `flock` on `lulu.lock` in the
//! repository's common git dir, shared by every lulu process whatever its state dir.

use std::{
    fs::File,
    path::{Path, PathBuf},
};

pub const LOCK_FILE_NAME: &str = "lulu.lock";

#[derive(Debug, thiserror::Error)]
pub enum RepositoryLockError {
    #[error("could not open the git repository at {}", repo.display())]
    Open {
        repo: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("could not lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while a repository's worktrees change; released on drop.
pub struct RepositoryLock {
    _file: File,
}

impl RepositoryLock {
    /// Waits until no other lulu process changes this repository's worktrees.
    pub fn acquire(repo: &Path) -> Result<RepositoryLock, RepositoryLockError> {
        let repository = gix::open(repo).map_err(|source| RepositoryLockError::Open {
            repo: repo.to_owned(),
            source: source.into(),
        })?;
        RepositoryLock::acquire_in(repository.common_dir())
    }

    /// [`RepositoryLock::acquire`] for a repository already open: `common_dir` is its common git dir.
    ///
    /// The lock is per open file, so it also excludes other threads of this process; a thread
    /// that holds it must not take it again (it would wait for itself).
    pub fn acquire_in(common_dir: &Path) -> Result<RepositoryLock, RepositoryLockError> {
        let path = common_dir.join(LOCK_FILE_NAME);
        let lock_error = |source| RepositoryLockError::Lock {
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(lock_error)?;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
                Ok(()) => return Ok(RepositoryLock { _file: file }),
                Err(rustix::io::Errno::INTR) => continue,
                Err(error) => return Err(lock_error(error.into())),
            }
        }
    }
}
