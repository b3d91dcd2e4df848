//! Syncing a session's worktree with its base branch (a merge inside the worktree, conflicts left
//! for someone to resolve), and how far a branch is ahead of and behind another.

use std::path::{Path, PathBuf};

use super::apply::{
    Files, LockedIndex, apply_changes, branch_tip, change_paths, commit_tree, move_branch,
    tree_changes,
};
use super::checkout::open_for_checkout;
use super::commit::{read_merge_head, unresolved_paths};
use super::land::{Labels, conflicted_paths};
use super::*;

/// Why [`sync_worktree`] failed. Nothing changed then.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{} is not a git worktree", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("the worktree {} is not on a branch (HEAD is detached)", path.display())]
    Detached { path: PathBuf },
    #[error("there is no branch {branch:?} to sync {} with", path.display())]
    BaseNotFound { path: PathBuf, branch: String },
    #[error("the worktree {} has unresolved conflicts in {}; resolve and commit them first", path.display(), files.join(", "))]
    Unresolved { path: PathBuf, files: Vec<String> },
    #[error("the worktree {} is in the middle of a merge; commit it first", path.display())]
    MergeInProgress { path: PathBuf },
    #[error("the worktree {} and {branch:?} have no commit in common", path.display())]
    Unrelated { path: PathBuf, branch: String },
    #[error("{branch:?} moved while lulu synced {}; try again", path.display())]
    Moved { path: PathBuf, branch: String },
    #[error("could not sync {} with {branch:?}", path.display())]
    Git {
        path: PathBuf,
        branch: String,
        #[source]
        source: BoxError,
    },
}

/// What [`sync_worktree`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The base had nothing the branch lacks.
    UpToDate,
    /// The base is merged (or fast-forwarded into) the branch; the paths that changed.
    Synced { commit: String, files: Vec<String> },
    /// The merge is left in the worktree: markers in these files, their stages in the index,
    /// `MERGE_HEAD` recorded, so the next commit there is the merge commit.
    Conflicts { files: Vec<String> },
}

/// Merges the latest `base_branch` into the branch checked out in the (clean) worktree; the merge
/// commit gets `message`. See [`SyncOutcome`].
pub fn sync_worktree(
    worktree_path: &Path,
    base_branch: &str,
    message: &str,
) -> Result<SyncOutcome, SyncError> {
    let (sync, locked) = Sync::prepare(worktree_path, base_branch)?;
    let base = sync
        .repository
        .merge_base(sync.head, sync.tip)
        .map_err(|e| sync.git_error(boxed(e)))?
        .map(gix::Id::detach)
        .ok_or_else(|| SyncError::Unrelated {
            path: worktree_path.to_owned(),
            branch: base_branch.to_owned(),
        })?;
    if base == sync.tip {
        return Ok(SyncOutcome::UpToDate);
    }
    if base == sync.head {
        // Nothing of the branch's own: a fast-forward.
        let reflog = format!("lulu sync: fast-forward to {base_branch}");
        let tip_tree = sync.commit_tree(sync.tip)?;
        return sync.move_and_apply(locked, sync.tip, tip_tree, &reflog);
    }
    sync.merge(locked, base, message)
}

/// A sync under way: the worktree's repository, its branch and the base's tip. The worktree's
/// index is locked beside it until the sync ends.
struct Sync<'a> {
    worktree_path: &'a Path,
    base_branch: &'a str,
    repository: gix::Repository,
    head_name: gix::refs::FullName,
    head: gix::ObjectId,
    tip: gix::ObjectId,
}

impl<'a> Sync<'a> {
    /// Opens the worktree, locks its index and checks there is nothing half-done in it.
    fn prepare(
        worktree_path: &'a Path,
        base_branch: &'a str,
    ) -> Result<(Sync<'a>, LockedIndex), SyncError> {
        let git_error = |source: BoxError| SyncError::Git {
            path: worktree_path.to_owned(),
            branch: base_branch.to_owned(),
            source,
        };
        let repository = open_for_checkout(worktree_path).map_err(|source| SyncError::Open {
            path: worktree_path.to_owned(),
            source,
        })?;
        let head_name = repository
            .head_name()
            .map_err(|e| git_error(boxed(e)))?
            .ok_or_else(|| SyncError::Detached {
                path: worktree_path.to_owned(),
            })?;
        let base_name = branch_full_name(base_branch).map_err(git_error)?;
        let tip = branch_tip(&repository, &base_name)
            .map_err(git_error)?
            .ok_or_else(|| SyncError::BaseNotFound {
                path: worktree_path.to_owned(),
                branch: base_branch.to_owned(),
            })?;
        let locked = LockedIndex::acquire(&repository).map_err(git_error)?;
        let unresolved = unresolved_paths(&locked.index);
        if !unresolved.is_empty() {
            return Err(SyncError::Unresolved {
                path: worktree_path.to_owned(),
                files: unresolved,
            });
        }
        let merge_head_file = repository.git_dir().join("MERGE_HEAD");
        if read_merge_head(&merge_head_file)
            .map_err(git_error)?
            .is_some()
        {
            return Err(SyncError::MergeInProgress {
                path: worktree_path.to_owned(),
            });
        }
        let head = repository
            .head_id()
            .map_err(|e| git_error(boxed(e)))?
            .detach();
        let sync = Sync {
            worktree_path,
            base_branch,
            repository,
            head_name,
            head,
            tip,
        };
        Ok((sync, locked))
    }

    fn git_error(&self, source: BoxError) -> SyncError {
        SyncError::Git {
            path: self.worktree_path.to_owned(),
            branch: self.base_branch.to_owned(),
            source,
        }
    }

    fn commit_tree(&self, commit: gix::ObjectId) -> Result<gix::ObjectId, SyncError> {
        commit_tree(&self.repository, commit).map_err(|e| self.git_error(e))
    }

    /// Moves the branch from `head` to `commit` (compare-and-set) and makes the worktree's files
    /// and index those of `tree`.
    fn move_and_apply(
        &self,
        mut locked: LockedIndex,
        commit: gix::ObjectId,
        tree: gix::ObjectId,
        reflog: &str,
    ) -> Result<SyncOutcome, SyncError> {
        let changes = self.changes_to(tree)?;
        let moved = move_branch(&self.repository, &self.head_name, self.head, commit, reflog)
            .map_err(|e| self.git_error(e))?;
        if !moved {
            return Err(SyncError::Moved {
                path: self.worktree_path.to_owned(),
                branch: self.head_name.shorten().to_string(),
            });
        }
        apply_changes(&self.repository, &mut locked.index, &changes, Files::Write)
            .and_then(|()| locked.write())
            .map_err(|e| self.git_error(e))?;
        Ok(SyncOutcome::Synced {
            commit: commit.to_string(),
            files: change_paths(&changes),
        })
    }

    /// The paths the worktree's `HEAD` tree and `tree` differ in.
    fn changes_to(&self, tree: gix::ObjectId) -> Result<Vec<super::apply::PathChange>, SyncError> {
        let head_tree = self.commit_tree(self.head)?;
        tree_changes(&self.repository, head_tree, tree).map_err(|e| self.git_error(e))
    }

    /// A three-way merge of the base's tip into the branch: committed when clean, else left in
    /// the worktree for someone to finish.
    fn merge(
        &self,
        locked: LockedIndex,
        base: gix::ObjectId,
        message: &str,
    ) -> Result<SyncOutcome, SyncError> {
        let current = self.head_name.shorten().to_string();
        let labels = Labels {
            current: &current,
            other: self.base_branch,
        };
        let options = self
            .repository
            .tree_merge_options()
            .map_err(|e| self.git_error(boxed(e)))?;
        let mut outcome = self
            .repository
            .merge_trees(
                self.commit_tree(base)?,
                self.commit_tree(self.head)?,
                self.commit_tree(self.tip)?,
                gix::merge::blob::builtin_driver::text::Labels {
                    ancestor: Some("base".into()),
                    current: Some(labels.current.into()),
                    other: Some(labels.other.into()),
                },
                options,
            )
            .map_err(|e| self.git_error(boxed(e)))?;
        let merged_tree = outcome
            .tree
            .write()
            .map_err(|e| self.git_error(boxed(e)))?
            .detach();
        let how = gix::merge::tree::TreatAsUnresolved::git();
        if !outcome.has_unresolved_conflicts(how) {
            let commit = self
                .repository
                .new_commit(message, merged_tree, [self.head, self.tip])
                .map_err(|e| self.git_error(boxed(e)))?
                .id;
            return self.move_and_apply(locked, commit, merged_tree, message);
        }
        self.leave_conflicts(locked, &mut outcome, merged_tree, message)
    }

    /// Leaves the merge for someone to finish: files with markers, stages in the index,
    /// `MERGE_HEAD`, `MERGE_MODE` and `MERGE_MSG` as git leaves them.
    fn leave_conflicts(
        &self,
        mut locked: LockedIndex,
        outcome: &mut gix::merge::tree::Outcome<'_>,
        merged_tree: gix::ObjectId,
        message: &str,
    ) -> Result<SyncOutcome, SyncError> {
        let how = gix::merge::tree::TreatAsUnresolved::git();
        let files = conflicted_paths(&outcome.conflicts, how);
        let changes = self.changes_to(merged_tree)?;
        apply_changes(&self.repository, &mut locked.index, &changes, Files::Write)
            .map_err(|e| self.git_error(e))?;
        outcome.index_changed_after_applying_conflicts(
            &mut locked.index,
            how,
            gix::merge::tree::apply_index_entries::RemovalMode::Prune,
        );
        let git_dir = self.repository.git_dir().to_owned();
        let write = |name: &str, text: String| {
            std::fs::write(git_dir.join(name), text).map_err(|e| self.git_error(boxed(e)))
        };
        write("MERGE_HEAD", format!("{}\n", self.tip))?;
        write("MERGE_MODE", String::new())?;
        let mut merge_message = format!("{message}\n\n# Conflicts:\n");
        for file in &files {
            merge_message.push_str(&format!("#\t{file}\n"));
        }
        write("MERGE_MSG", merge_message)?;
        locked.write().map_err(|e| self.git_error(e))?;
        Ok(SyncOutcome::Conflicts { files })
    }
}

/// Commits on `branch` that `other` lacks, and commits on `other` that `branch` lacks.
pub fn ahead_behind(repo: &Path, branch: &str, other: &str) -> Result<(usize, usize), BoxError> {
    let repository = gix::open(repo).map_err(boxed)?;
    let one = branch_tip(&repository, &branch_full_name(branch)?)?
        .ok_or_else(|| format!("there is no branch {branch:?}"))?;
    let two = branch_tip(&repository, &branch_full_name(other)?)?
        .ok_or_else(|| format!("there is no branch {other:?}"))?;
    let count = |tip: gix::ObjectId, hidden: gix::ObjectId| -> Result<usize, BoxError> {
        let mut count = 0;
        for info in repository
            .rev_walk([tip])
            .with_hidden([hidden])
            .all()
            .map_err(boxed)?
        {
            info.map_err(boxed)?;
            count += 1;
        }
        Ok(count)
    };
    Ok((count(one, two)?, count(two, one)?))
}

/// The branch `rev` names (`main`, `refs/heads/main`), or, when `rev` is not a branch (`HEAD`, a
/// hash, `HEAD~2`), the branch `repo`'s HEAD is on; `None` when HEAD is detached.
pub fn base_branch_of(repo: &Path, rev: &str) -> Result<Option<String>, BoxError> {
    let repository = gix::open(repo).map_err(boxed)?;
    let short = rev.strip_prefix("refs/heads/").unwrap_or(rev);
    if let Ok(name) = branch_full_name(short)
        && repository
            .try_find_reference(name.as_ref())
            .map_err(boxed)?
            .is_some()
    {
        return Ok(Some(short.to_owned()));
    }
    Ok(repository
        .head_name()
        .map_err(boxed)?
        .map(|name| name.shorten().to_string()))
}
