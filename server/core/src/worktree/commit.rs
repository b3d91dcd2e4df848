//! Committing a worktree's uncommitted work on its branch (`git add -A && git commit`), so what
//! lands, syncs or is pushed is exactly what `diff_against` showed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gix::bstr::BString;

use super::apply::{Files, LockedIndex, PathChange, apply_changes, commit_tree, tree_changes};
use super::checkout::open_for_checkout;
use super::diff::{Current, DiskChanges, current_files_with, disk_changes};
use super::*;

/// Why [`commit_worktree`] failed. Nothing is committed then.
#[derive(Debug, thiserror::Error)]
pub enum CommitWorkError {
    #[error("{} is not a git worktree", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("the worktree {} has unresolved conflicts in {}", path.display(), files.join(", "))]
    Unresolved { path: PathBuf, files: Vec<String> },
    #[error("could not read the uncommitted work in {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("could not commit the uncommitted work in {}", path.display())]
    Commit {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
}

/// The paths of index entries in conflict (stages 1 to 3), sorted, once each.
pub(super) fn unresolved_paths(index: &gix::index::State) -> Vec<String> {
    let mut paths: Vec<String> = index
        .entries()
        .iter()
        .filter(|entry| entry.stage() != gix::index::entry::Stage::Unconflicted)
        .map(|entry| path_string(entry.path(index)))
        .collect();
    paths.dedup();
    paths
}

/// Commits everything uncommitted in the worktree (modified, deleted and untracked non-ignored
/// files) on its checked-out branch with `message`, and brings the index along, so `git status` is
/// clean afterwards. A merge in progress (`MERGE_HEAD`, from a sync) becomes the second parent.
/// Returns the new commit, or `None` when there was nothing to commit. Refuses while the index
/// still records conflicts.
pub fn commit_worktree(
    worktree_path: &Path,
    message: &str,
) -> Result<Option<String>, CommitWorkError> {
    let open_error = |source| CommitWorkError::Open {
        path: worktree_path.to_owned(),
        source,
    };
    let repository = open_for_checkout(worktree_path).map_err(open_error)?;
    let Some(workdir) = repository.workdir().map(Path::to_owned) else {
        return Err(open_error("it has no working directory".into()));
    };
    let read_error = |source: BoxError| CommitWorkError::Read {
        path: worktree_path.to_owned(),
        source,
    };
    let commit_error = |source: BoxError| CommitWorkError::Commit {
        path: worktree_path.to_owned(),
        source,
    };
    let mut locked = LockedIndex::acquire(&repository).map_err(read_error)?;
    let unresolved = unresolved_paths(&locked.index);
    if !unresolved.is_empty() {
        return Err(CommitWorkError::Unresolved {
            path: worktree_path.to_owned(),
            files: unresolved,
        });
    }
    let head = repository
        .head_id()
        .map_err(|e| read_error(boxed(e)))?
        .detach();
    let head_tree = commit_tree(&repository, head).map_err(read_error)?;
    let merge_head_file = repository.git_dir().join("MERGE_HEAD");
    let merge_head = read_merge_head(&merge_head_file).map_err(read_error)?;

    let changes = disk_changes(&repository, worktree_path, &workdir)
        .map_err(|error| read_error(boxed(error)))?;
    let new_tree = if index_is_tree(&locked.index, head_tree) {
        edit_tree(&repository, &locked.index, head_tree, changes).map_err(commit_error)?
    } else {
        let current = current_files_with(&locked.index, changes);
        snapshot_tree(&repository, head_tree, &current).map_err(commit_error)?
    };
    if new_tree == head_tree && merge_head.is_none() {
        return Ok(None);
    }
    let mut parents = vec![head];
    parents.extend(merge_head);
    let commit = repository
        .commit("HEAD", message, new_tree, parents)
        .map_err(|e| commit_error(boxed(e)))?
        .detach();
    let changes: Vec<PathChange> =
        tree_changes(&repository, head_tree, new_tree).map_err(commit_error)?;
    apply_changes(
        &repository,
        &mut locked.index,
        &changes,
        Files::AlreadyThere,
    )
    .map_err(commit_error)?;
    locked.write().map_err(commit_error)?;
    for name in ["MERGE_HEAD", "MERGE_MSG", "MERGE_MODE"] {
        std::fs::remove_file(repository.git_dir().join(name)).ok();
    }
    tracing::debug!(worktree = %worktree_path.display(), %commit, "committed the uncommitted work");
    Ok(Some(commit.to_string()))
}

pub(super) fn read_merge_head(file: &Path) -> Result<Option<gix::ObjectId>, BoxError> {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let first = text.lines().next().unwrap_or_default().trim();
            Ok(Some(
                gix::ObjectId::from_hex(first.as_bytes()).map_err(boxed)?,
            ))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(boxed(error)),
    }
}

/// Whether the index holds exactly `tree`, as git's cache of the index's trees (the `TREE`
/// extension, which `git commit`, `git reset` and `git read-tree` write, and any change to an
/// entry invalidates) says; `false` when it does not know.
fn index_is_tree(index: &gix::index::State, tree: gix::ObjectId) -> bool {
    index
        .tree()
        .is_some_and(|root| root.num_entries.is_some() && root.id == tree)
}

/// `head_tree`, which `index` holds exactly, with the `changes` found on disk (submodules kept):
/// no need to read all of `head_tree` to learn what the index changed.
fn edit_tree(
    repository: &gix::Repository,
    index: &gix::index::State,
    head_tree: gix::ObjectId,
    changes: DiskChanges,
) -> Result<gix::ObjectId, BoxError> {
    if changes.is_empty() {
        return Ok(head_tree);
    }
    let is_submodule = |path: &BString| {
        index
            .entry_by_path(path.as_ref())
            .is_some_and(|entry| entry.mode == gix::index::entry::Mode::COMMIT)
    };
    let removed = changes.gone.iter().filter(|path| !is_submodule(path));
    let written = changes.read.iter().map(|(path, now)| (path, now));
    edited_tree(repository, head_tree, removed, written)
}

/// `tree` with the `removed` paths removed, then the `written` files upserted: in this order,
/// so that a file that became a folder does not take the folder's new files away with it.
fn edited_tree<'a>(
    repository: &gix::Repository,
    tree: gix::ObjectId,
    removed: impl IntoIterator<Item = &'a BString>,
    written: impl IntoIterator<Item = (&'a BString, &'a Current)>,
) -> Result<gix::ObjectId, BoxError> {
    let mut editor = repository.edit_tree(tree).map_err(boxed)?;
    for path in removed {
        editor.remove(path).map_err(boxed)?;
    }
    for (path, now) in written {
        if let Current::Disk { data, .. } = now {
            repository.write_blob(data).map_err(boxed)?;
        }
        let kind = now
            .mode()
            .to_tree_entry_mode()
            .ok_or_else(|| format!("{path} has a mode git cannot store"))?
            .kind();
        editor.upsert(path, kind, now.id()).map_err(boxed)?;
    }
    Ok(editor.write().map_err(boxed)?.detach())
}

/// `head_tree` with every file as `current` has it (added, changed, deleted); submodules kept.
fn snapshot_tree(
    repository: &gix::Repository,
    head_tree: gix::ObjectId,
    current: &BTreeMap<BString, Current>,
) -> Result<gix::ObjectId, BoxError> {
    let head_index = repository.index_from_tree(&head_tree).map_err(boxed)?;
    let mut before: BTreeMap<BString, (gix::ObjectId, gix::index::entry::Mode)> = BTreeMap::new();
    for entry in head_index.entries() {
        if entry.mode != gix::index::entry::Mode::COMMIT {
            before.insert(entry.path(&head_index).to_owned(), (entry.id, entry.mode));
        }
    }
    let removed = before.keys().filter(|path| !current.contains_key(*path));
    let written = current
        .iter()
        .filter(|(path, now)| before.get(*path) != Some(&(now.id(), now.mode())));
    edited_tree(repository, head_tree, removed, written)
}
