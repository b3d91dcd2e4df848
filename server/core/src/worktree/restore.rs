//! Re-creating a session's linked worktree from its existing branch (after gc removed it).

use std::path::{Path, PathBuf};

use super::create::{add_worktree, create_parent_folders};
use super::*;

#[derive(Debug, thiserror::Error)]
pub enum RestoreWorktreeError {
    #[error("could not open the git repository at {}", repo.display())]
    Open {
        repo: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("the branch {branch:?} no longer exists in the repository at {}", repo.display())]
    NoBranch {
        repo: PathBuf,
        branch: String,
        #[source]
        source: BoxError,
    },
    #[error("the worktree folder {} already exists and is not empty", path.display())]
    DestinationExists { path: PathBuf },
    #[error("could not lock the worktrees of the repository at {}", repo.display())]
    Lock {
        repo: PathBuf,
        #[source]
        source: crate::repo_lock::RepositoryLockError,
    },
    #[error("could not add the linked worktree {} for branch {branch:?}", path.display())]
    AddWorktree {
        path: PathBuf,
        branch: String,
        #[source]
        source: BoxError,
    },
}

/// Checks out the existing `branch` into a new linked worktree at `worktree_path`, as
/// [`create_worktree`] would have, without touching the branch.
pub fn restore_worktree(
    repo: &Path,
    worktree_path: &Path,
    branch: &str,
) -> Result<(), RestoreWorktreeError> {
    let repository =
        super::checkout::open_for_checkout(repo).map_err(|source| RestoreWorktreeError::Open {
            repo: repo.to_owned(),
            source,
        })?;
    let no_branch = |source: BoxError| RestoreWorktreeError::NoBranch {
        repo: repo.to_owned(),
        branch: branch.to_owned(),
        source,
    };
    let full_name = branch_full_name(branch).map_err(no_branch)?;
    let _held = crate::repo_lock::RepositoryLock::acquire_in(repository.common_dir()).map_err(
        |source| RestoreWorktreeError::Lock {
            repo: repo.to_owned(),
            source,
        },
    )?;
    let tip = repository
        .find_reference(full_name.as_ref())
        .map_err(|error| no_branch(boxed(error)))?
        .peel_to_commit()
        .map_err(|error| no_branch(boxed(error)))?
        .id;
    let destination = absolute(worktree_path);
    if let Ok(mut entries) = std::fs::read_dir(&destination)
        && entries.next().is_some()
    {
        return Err(RestoreWorktreeError::DestinationExists { path: destination });
    }
    let add_error = |source: BoxError| RestoreWorktreeError::AddWorktree {
        path: destination.clone(),
        branch: branch.to_owned(),
        source,
    };
    create_parent_folders(&destination).map_err(|error| add_error(boxed(error)))?;
    add_worktree(&repository, &destination, &full_name, tip).map_err(add_error)?;
    tracing::debug!(worktree = %destination.display(), branch, "re-created worktree");
    Ok(())
}
