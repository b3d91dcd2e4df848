//! What deleting a worktree would lose: uncommitted changes and unmerged commits.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gix::status::index_worktree::Item as WorktreeItem;

use super::*;

/// Why [`uncommitted_changes`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{} is not a git worktree", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("the git repository at {} has no working tree", path.display())]
    NoWorkingTree { path: PathBuf },
    #[error("could not compute the status of the worktree {}", path.display())]
    Status {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
}

/// Why [`unmerged_commits`] failed.
#[derive(Debug, thiserror::Error)]
pub enum UnmergedError {
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
    #[error("the base {rev:?} does not name a commit in the repository at {}", repo.display())]
    BaseNotACommit {
        repo: PathBuf,
        rev: String,
        #[source]
        source: ResolveCommitError,
    },
    #[error("could not walk the commits of branch {branch:?} in the repository at {}", repo.display())]
    Walk {
        repo: PathBuf,
        branch: String,
        #[source]
        source: BoxError,
    },
}

/// What deleting a worktree folder would lose. Paths are relative to the worktree, `/`-separated, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UncommittedChanges {
    /// Tracked files modified, deleted or staged compared to `HEAD`.
    pub changed: Vec<String>,
    /// Untracked files that are not ignored.
    pub untracked: Vec<String>,
}

impl UncommittedChanges {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.untracked.is_empty()
    }
}

/// What would be lost by deleting this worktree folder: tracked files modified/deleted/staged vs `HEAD`,
/// and untracked (non-ignored) files.
pub fn uncommitted_changes(worktree_path: &Path) -> Result<UncommittedChanges, StatusError> {
    Ok(scan_worktree(worktree_path, IgnoredEntries::Skip)?.changes)
}

/// A worktree's uncommitted changes and the ignored entries it holds (from the same walk).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorktreeContents {
    pub changes: UncommittedChanges,
    /// Ignored files, symlinks and folders (a folder as one entry, its path ending in `/`: the
    /// walk does not go into it). Relative to the worktree, `/`-separated, sorted.
    pub ignored: Vec<String>,
}

/// [`uncommitted_changes`], plus the ignored entries the same walk passes (what `git status
/// --ignored` lists), for callers that must know every file that is in no commit.
pub fn worktree_contents(worktree_path: &Path) -> Result<WorktreeContents, StatusError> {
    scan_worktree(worktree_path, IgnoredEntries::List)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IgnoredEntries {
    Skip,
    List,
}

fn scan_worktree(
    worktree_path: &Path,
    ignored_entries: IgnoredEntries,
) -> Result<WorktreeContents, StatusError> {
    let repository = open_worktree(worktree_path).map_err(|source| StatusError::Open {
        path: worktree_path.to_owned(),
        source,
    })?;
    if repository.workdir().is_none() {
        return Err(StatusError::NoWorkingTree {
            path: worktree_path.to_owned(),
        });
    }
    let status_error = |source: BoxError| StatusError::Status {
        path: worktree_path.to_owned(),
        source,
    };
    let mut status = status_with_untracked_files(&repository).map_err(status_error)?;
    if ignored_entries == IgnoredEntries::List {
        // An ignored folder is one entry: the walk never goes into it (node_modules stays cheap).
        status = status.index_worktree_options_mut(|options| {
            if let Some(dirwalk) = options.dirwalk_options.take() {
                options.dirwalk_options =
                    Some(dirwalk.emit_ignored(Some(gix::dir::walk::EmissionMode::Matching)));
            }
        });
    }
    let iter = status.into_iter(None).map_err(|e| status_error(boxed(e)))?;
    let mut changed = BTreeSet::new();
    let mut untracked = BTreeSet::new();
    let mut ignored = BTreeSet::new();
    for item in iter {
        match item.map_err(|e| status_error(boxed(e)))? {
            gix::status::Item::TreeIndex(change) => {
                changed.insert(path_string(change.location()));
            }
            gix::status::Item::IndexWorktree(item) => match item {
                WorktreeItem::Modification {
                    rela_path, status, ..
                } => {
                    if !matches!(
                        status,
                        gix::status::plumbing::index_as_worktree::EntryStatus::NeedsUpdate(_)
                    ) {
                        changed.insert(path_string(rela_path.as_ref()));
                    }
                }
                WorktreeItem::DirectoryContents { entry, .. } => match entry.status {
                    gix::dir::entry::Status::Untracked => {
                        untracked.insert(path_string(entry.rela_path.as_ref()));
                    }
                    gix::dir::entry::Status::Ignored(_) => {
                        let mut path = path_string(entry.rela_path.as_ref());
                        if entry.disk_kind.is_some_and(|kind| kind.is_dir()) {
                            path.push('/');
                        }
                        ignored.insert(path);
                    }
                    gix::dir::entry::Status::Tracked | gix::dir::entry::Status::Pruned => {}
                },
                WorktreeItem::Rewrite {
                    source,
                    dirwalk_entry,
                    ..
                } => {
                    changed.insert(path_string(source.rela_path()));
                    untracked.insert(path_string(dirwalk_entry.rela_path.as_ref()));
                }
            },
        }
    }
    Ok(WorktreeContents {
        changes: UncommittedChanges {
            changed: changed.into_iter().collect(),
            untracked: untracked.into_iter().collect(),
        },
        ignored: ignored.into_iter().collect(),
    })
}

/// Commits reachable from `branch` that are not reachable from `base_ref` (resolved now, in `repo`); 0 if merged.
pub fn unmerged_commits(repo: &Path, branch: &str, base_ref: &str) -> Result<usize, UnmergedError> {
    let repository = gix::open(repo).map_err(|source| UnmergedError::Open {
        repo: repo.to_owned(),
        source: boxed(source),
    })?;
    let not_found = |source: Option<BoxError>| UnmergedError::BranchNotFound {
        repo: repo.to_owned(),
        branch: branch.to_owned(),
        source,
    };
    let tip = find_branch(&repository, branch)
        .map_err(not_found)?
        .peel_to_commit()
        .map_err(|source| not_found(Some(boxed(source))))?
        .id;
    let base = resolve_commit_in(&repository, repo, base_ref).map_err(|source| {
        UnmergedError::BaseNotACommit {
            repo: repo.to_owned(),
            rev: base_ref.to_owned(),
            source,
        }
    })?;
    let walk_error = |source: BoxError| UnmergedError::Walk {
        repo: repo.to_owned(),
        branch: branch.to_owned(),
        source,
    };
    let walk = repository
        .rev_walk([tip])
        .with_hidden([base])
        .all()
        .map_err(|e| walk_error(boxed(e)))?;
    let mut count = 0;
    for info in walk {
        info.map_err(|e| walk_error(boxed(e)))?;
        count += 1;
    }
    Ok(count)
}

// ---------------------------------------------------------------------------------------------------------------------
// Removal
