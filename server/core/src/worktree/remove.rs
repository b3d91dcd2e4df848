//! Removing worktrees and branches.

use std::path::{Path, PathBuf};

use gix::refs::transaction::{Change, PreviousValue, RefEdit, RefLog};

use super::*;

/// Why [`remove_worktree`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveWorktreeError {
    #[error("could not open the git repository at {}", repo.display())]
    Open {
        repo: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("{} is not a linked worktree of the repository at {}", path.display(), repo.display())]
    NotAWorktree {
        repo: PathBuf,
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("the worktree {} has {} uncommitted change(s) and {} untracked file(s)", path.display(), changes.changed.len(), changes.untracked.len())]
    Dirty {
        path: PathBuf,
        changes: UncommittedChanges,
    },
    #[error("could not check the worktree {} for uncommitted changes", path.display())]
    Status {
        path: PathBuf,
        #[source]
        source: StatusError,
    },
    #[error("could not remove the worktree {}", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
}

/// Why [`delete_branch`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteBranchError {
    #[error("could not open the git repository at {}", repo.display())]
    Open {
        repo: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("there is no branch {branch:?} in the repository at {}", repo.display())]
    BranchNotFound {
        repo: PathBuf,
        branch: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("the branch {branch:?} is checked out in the worktree {}", worktree.display())]
    CheckedOut { branch: String, worktree: PathBuf },
    #[error("could not list the worktrees of the repository at {}", repo.display())]
    Worktrees {
        repo: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("could not delete the branch {branch:?} in the repository at {}", repo.display())]
    Delete {
        repo: PathBuf,
        branch: String,
        #[source]
        source: BoxError,
    },
}

pub(super) fn delete_reference(
    repository: &gix::Repository,
    name: &gix::refs::FullName,
) -> Result<(), BoxError> {
    repository
        .edit_reference(RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExist,
                log: RefLog::AndReference,
            },
            name: name.clone(),
            deref: false,
        })
        .map_err(boxed)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------------
// What would be lost

/// How [`remove_worktree`] treats uncommitted work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveMode {
    /// Refuse when [`uncommitted_changes`] finds anything.
    Safe,
    /// Delete the folder whatever it holds.
    DiscardChanges,
}

/// Removes the linked worktree folder and its registration (`.git/worktrees/<name>`).
///
/// [`RemoveMode::Safe`] refuses if [`uncommitted_changes`] is non-empty ([`RemoveWorktreeError::Dirty`]).
/// If the folder is already gone, just prunes the registration; if neither the folder nor a registration
/// exists, there is nothing to do and this succeeds. A locked worktree is never removed.
/// The branch is kept (see [`delete_branch`]).
pub fn remove_worktree(
    repo: &Path,
    worktree_path: &Path,
    mode: RemoveMode,
) -> Result<(), RemoveWorktreeError> {
    let repository = gix::open(repo).map_err(|source| RemoveWorktreeError::Open {
        repo: repo.to_owned(),
        source: boxed(source),
    })?;
    let path = absolute(worktree_path);
    let folder_exists = path.symlink_metadata().is_ok();
    let target = match repository.prepare_remove_worktree(&path) {
        Ok(target) => target,
        Err(source) => {
            let not_registered = matches!(
                source.downcast_any_ref::<gix::worktree::remove::Error>(),
                Some(gix::worktree::remove::Error::NotFound { .. })
            );
            if not_registered && !folder_exists {
                tracing::debug!(worktree = %path.display(), "worktree already removed");
                return Ok(());
            }
            return Err(RemoveWorktreeError::NotAWorktree {
                repo: repo.to_owned(),
                path,
                source: boxed(source),
            });
        }
    };
    if folder_exists && mode == RemoveMode::Safe {
        let changes = uncommitted_changes(&path).map_err(|source| RemoveWorktreeError::Status {
            path: path.clone(),
            source,
        })?;
        if !changes.is_empty() {
            return Err(RemoveWorktreeError::Dirty { path, changes });
        }
    }
    // Our own check above is the safety net for `Safe`; gix's own check would refuse the same things.
    target
        .remove(
            gix::worktree::remove::Force::DiscardChanges,
            gix::progress::Discard,
        )
        .map_err(|source| RemoveWorktreeError::Remove {
            path: path.clone(),
            source: boxed(source),
        })?;
    tracing::debug!(worktree = %path.display(), "removed worktree");
    Ok(())
}

/// Deletes `refs/heads/<branch>` (error if it is checked out in some worktree).
pub fn delete_branch(repo: &Path, branch: &str) -> Result<(), DeleteBranchError> {
    let repository = gix::open(repo).map_err(|source| DeleteBranchError::Open {
        repo: repo.to_owned(),
        source: boxed(source),
    })?;
    let not_found = |source: Option<BoxError>| DeleteBranchError::BranchNotFound {
        repo: repo.to_owned(),
        branch: branch.to_owned(),
        source,
    };
    let reference = find_branch(&repository, branch).map_err(not_found)?;
    let full_name = reference.name().to_owned();
    let worktrees_error = |source: BoxError| DeleteBranchError::Worktrees {
        repo: repo.to_owned(),
        source,
    };

    // The main worktree, then every linked one, even if its folder is gone (git still counts it until pruned).
    let main = repository
        .main_repo()
        .map_err(|e| worktrees_error(boxed(e)))?;
    let mut heads = vec![(
        main.workdir().unwrap_or(main.git_dir()).to_owned(),
        main.head_name().map_err(|e| worktrees_error(boxed(e)))?,
    )];
    for proxy in repository
        .worktrees()
        .map_err(|e| worktrees_error(boxed(e)))?
    {
        let base = proxy.base().unwrap_or_else(|_| proxy.git_dir().to_owned());
        let linked = proxy
            .into_repo_with_possibly_inaccessible_worktree()
            .map_err(|e| worktrees_error(boxed(e)))?;
        heads.push((
            base,
            linked.head_name().map_err(|e| worktrees_error(boxed(e)))?,
        ));
    }
    if let Some((worktree, _)) = heads
        .into_iter()
        .find(|(_, head)| head.as_ref() == Some(&full_name))
    {
        return Err(DeleteBranchError::CheckedOut {
            branch: branch.to_owned(),
            worktree,
        });
    }

    let expected = reference.target().into_owned();
    let expected = match expected {
        gix::refs::Target::Object(id) => {
            PreviousValue::MustExistAndMatch(gix::refs::Target::Object(id))
        }
        gix::refs::Target::Symbolic(_) => PreviousValue::MustExist,
    };
    repository
        .edit_reference(RefEdit {
            change: Change::Delete {
                expected,
                log: RefLog::AndReference,
            },
            name: full_name,
            deref: false,
        })
        .map_err(|source| DeleteBranchError::Delete {
            repo: repo.to_owned(),
            branch: branch.to_owned(),
            source: boxed(source),
        })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------------
// Diff
