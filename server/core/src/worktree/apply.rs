//! What landing, syncing and committing share: the paths two trees differ in, the worktree a branch
//! is checked out in, and bringing a worktree's files and index to a new tree in those paths only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gix::bstr::{BStr, BString, ByteSlice};
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};

use super::*;

/// One path whose entry differs between two trees: its new blob (or symlink, or submodule
/// commit) and mode, or `None` when the path is gone in the new tree; and what the old tree has
/// there (a tree when a folder becomes a file), `None` when nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PathChange {
    pub path: BString,
    pub new: Option<(gix::ObjectId, gix::objs::tree::EntryMode)>,
    pub old: Option<(gix::ObjectId, gix::objs::tree::EntryMode)>,
}

/// The non-tree paths where `old_tree` and `new_tree` differ, sorted, without rename tracking.
/// A plain tree walk: no diff resource cache, so no index or attributes are loaded.
pub(super) fn tree_changes(
    repository: &gix::Repository,
    old_tree: gix::ObjectId,
    new_tree: gix::ObjectId,
) -> Result<Vec<PathChange>, BoxError> {
    use gix::diff::tree::recorder::Change;
    if old_tree == new_tree {
        return Ok(Vec::new());
    }
    let old = repository.find_tree(old_tree).map_err(boxed)?;
    let new = repository.find_tree(new_tree).map_err(boxed)?;
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        gix::objs::TreeRefIter::from_bytes(&old.data, old_tree.kind()),
        gix::objs::TreeRefIter::from_bytes(&new.data, new_tree.kind()),
        gix::diff::tree::State::default(),
        &repository.objects,
        &mut recorder,
    )
    .map_err(boxed)?;
    // A folder that becomes a file (or the reverse) is a deletion and an addition of one path.
    let mut old_entries = std::collections::HashMap::new();
    for change in &recorder.records {
        match change {
            Change::Deletion {
                entry_mode,
                oid,
                path,
                ..
            } => {
                old_entries.insert(path.clone(), (*oid, *entry_mode));
            }
            Change::Modification {
                previous_entry_mode,
                previous_oid,
                path,
                ..
            } => {
                old_entries.insert(path.clone(), (*previous_oid, *previous_entry_mode));
            }
            Change::Addition { .. } => {}
        }
    }
    let mut out = Vec::new();
    for change in recorder.records {
        let (path, new) = match change {
            Change::Addition {
                entry_mode,
                oid,
                path,
                ..
            } if entry_mode.is_no_tree() => (path, Some((oid, entry_mode))),
            Change::Deletion {
                entry_mode, path, ..
            } if entry_mode.is_no_tree() => (path, None),
            Change::Modification {
                previous_entry_mode,
                entry_mode,
                oid,
                path,
                ..
            } => match (previous_entry_mode.is_no_tree(), entry_mode.is_no_tree()) {
                (_, true) => (path, Some((oid, entry_mode))),
                (true, false) => (path, None),
                (false, false) => continue,
            },
            Change::Addition { .. } | Change::Deletion { .. } => continue,
        };
        let old = old_entries.get(&path).copied();
        out.push(PathChange { path, new, old });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The paths of `changes` as text, for error messages and results.
pub(super) fn change_paths(changes: &[PathChange]) -> Vec<String> {
    changes
        .iter()
        .map(|change| path_string(change.path.as_ref()))
        .collect()
}

/// The worktree (main or linked) that has `branch` checked out, opened, if any folder still exists.
pub(super) fn checked_out_in(
    repository: &gix::Repository,
    branch: &gix::refs::FullName,
) -> Result<Option<gix::Repository>, BoxError> {
    let main = repository.main_repo().map_err(boxed)?;
    if main.workdir().is_some() && main.head_name().map_err(boxed)?.as_ref() == Some(branch) {
        return Ok(Some(main));
    }
    for proxy in repository.worktrees().map_err(boxed)? {
        let Ok(base) = proxy.base() else { continue };
        if !base.exists() {
            continue;
        }
        let linked = proxy.into_repo().map_err(boxed)?;
        if linked.head_name().map_err(boxed)?.as_ref() == Some(branch) {
            return Ok(Some(linked));
        }
    }
    Ok(None)
}

/// The tip of `refs/heads/<branch>`, peeled to a commit.
pub(super) fn branch_tip(
    repository: &gix::Repository,
    branch: &gix::refs::FullName,
) -> Result<Option<gix::ObjectId>, BoxError> {
    let Some(mut reference) = repository
        .try_find_reference(branch.as_ref())
        .map_err(boxed)?
    else {
        return Ok(None);
    };
    Ok(Some(reference.peel_to_commit().map_err(boxed)?.id))
}

pub(super) fn commit_tree(
    repository: &gix::Repository,
    commit: gix::ObjectId,
) -> Result<gix::ObjectId, BoxError> {
    Ok(repository
        .find_commit(commit)
        .map_err(boxed)?
        .tree_id()
        .map_err(boxed)?
        .detach())
}

/// Moves `refs/heads/...` from `old` to `new` only if it still points at `old` (compare-and-set).
/// `Ok(false)` when it moved meanwhile; the reflog records `message`.
pub(super) fn move_branch(
    repository: &gix::Repository,
    branch: &gix::refs::FullName,
    old: gix::ObjectId,
    new: gix::ObjectId,
    message: &str,
) -> Result<bool, BoxError> {
    let edit = RefEdit {
        change: Change::Update {
            log: LogChange {
                mode: RefLog::AndReference,
                force_create_reflog: false,
                message: message.into(),
            },
            expected: PreviousValue::MustExistAndMatch(gix::refs::Target::Object(old)),
            new: gix::refs::Target::Object(new),
        },
        name: branch.clone(),
        deref: false,
    };
    match repository.edit_reference(edit) {
        Ok(_) => Ok(true),
        Err(error) => {
            // Told apart by looking again: a value other than `old` means someone moved it.
            match branch_tip(repository, branch)? {
                Some(now) if now != old => Ok(false),
                _ => Err(boxed(error)),
            }
        }
    }
}

/// The worktree's index, locked against other writers (git's `index.lock`) until written or dropped.
pub(super) struct LockedIndex {
    pub index: gix::index::File,
    lock: gix::lock::File,
}

impl LockedIndex {
    pub fn acquire(worktree: &gix::Repository) -> Result<LockedIndex, BoxError> {
        let path = worktree.index_path();
        let lock = gix::lock::File::acquire_to_update_resource(
            &path,
            gix::lock::acquire::Fail::AfterDurationWithBackoff(std::time::Duration::from_secs(3)),
            None,
            0,
        )
        .map_err(|error| {
            format!(
                "the index {} is locked by another git process ({error})",
                path.display()
            )
        })?;
        // Read after taking the lock, through the repository's shared copy (which it re-reads
        // when the file changed): a status of the same repository then reads it no second time.
        let shared = worktree.index_or_empty().map_err(boxed)?;
        let index = gix::index::File::clone(&shared);
        Ok(LockedIndex { index, lock })
    }

    /// Writes the index through the lock (no cached trees: they would be stale) and releases it.
    /// Buffered: gix writes an entry in several small pieces, and each unbuffered piece is a
    /// `write` call plus a look-up in gix's registry of temporary files (with 5,000 entries that
    /// was most of a landing's time).
    pub fn write(mut self) -> Result<(), BoxError> {
        use std::io::Write as _;
        self.index.remove_tree();
        let options = gix::index::write::Options {
            extensions: gix::index::write::Extensions::Given {
                tree_cache: false,
                end_of_index_entry: true,
            },
            skip_hash: false,
        };
        let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, self.lock);
        self.index.write_to(&mut buffered, options).map_err(boxed)?;
        buffered.flush().map_err(boxed)?;
        let lock = buffered
            .into_inner()
            .map_err(|error| boxed(error.into_error()))?;
        lock.commit().map_err(|error| boxed(error.error))?;
        Ok(())
    }
}

/// What [`apply_changes`] does to the files of the worktree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Files {
    /// Write (and delete) the files, then record them in the index.
    Write,
    /// The files are already as the new tree has them (just committed): only the index follows.
    AlreadyThere,
}

/// Brings `changes` into the worktree's files (unless [`Files::AlreadyThere`]) and its index
/// (stage 0, with fresh stat data); nothing outside those paths is touched.
pub(super) fn apply_changes(
    worktree: &gix::Repository,
    index: &mut gix::index::File,
    changes: &[PathChange],
    files: Files,
) -> Result<(), BoxError> {
    let workdir = worktree
        .workdir()
        .ok_or("the worktree has no working directory")?
        .to_owned();
    let changed: BTreeSet<&BStr> = changes.iter().map(|change| change.path.as_ref()).collect();
    index.remove_entries(|_, path, _| changed.contains(path));
    // Deletions first: a folder the change turns into a file must be empty before it is written.
    let (deletions, writes): (Vec<&PathChange>, Vec<&PathChange>) =
        changes.iter().partition(|change| change.new.is_none());
    for change in deletions.into_iter().chain(writes) {
        let relative = gix::path::from_bstr(change.path.as_bstr())
            .map_err(boxed)?
            .into_owned();
        let file = workdir.join(&relative);
        match change.new {
            None => {
                if files == Files::Write {
                    remove_file(&workdir, &file)?;
                }
            }
            Some((id, mode)) => {
                if mode.is_commit() {
                    // A submodule: its folder is its own business; only the index records the commit.
                    index.dangerously_push_entry(
                        Default::default(),
                        id,
                        gix::index::entry::Flags::empty(),
                        gix::index::entry::Mode::COMMIT,
                        change.path.as_ref(),
                    );
                    continue;
                }
                let written = match files {
                    Files::Write => write_file(worktree, &file, id, mode)?,
                    Files::AlreadyThere => None,
                };
                let metadata = match written {
                    Some(metadata) => metadata,
                    None => gix::index::fs::Metadata::from_path_no_follow(&file)
                        .map_err(|error| format!("could not read {}: {error}", file.display()))?,
                };
                let stat = gix::index::entry::Stat::from_fs(&metadata).map_err(boxed)?;
                let index_mode =
                    gix::index::entry::Mode::from_bits_truncate(u32::from(mode.value()));
                index.dangerously_push_entry(
                    stat,
                    id,
                    gix::index::entry::Flags::empty(),
                    index_mode,
                    change.path.as_ref(),
                );
            }
        }
    }
    index.sort_entries();
    Ok(())
}

/// Writes the blob `id` at `file`, replacing what is there, with as few system calls as git's
/// checkout (unlink, open, write, fstat: no `stat` before, none of the path after). Returns the
/// new file's metadata, or `None` for a symlink.
fn write_file(
    repository: &gix::Repository,
    file: &Path,
    id: gix::ObjectId,
    mode: gix::objs::tree::EntryMode,
) -> Result<Option<gix::index::fs::Metadata>, BoxError> {
    let blob = repository.find_object(id).map_err(boxed)?.detach().data;
    remove_old_entry(file)?;
    if mode.is_link() {
        let target = gix::path::from_bstr(blob.as_bstr())
            .map_err(boxed)?
            .into_owned();
        with_parent_folders(file, || std::os::unix::fs::symlink(&target, file))
            .map_err(|error| format!("could not write the symlink {}: {error}", file.display()))?;
        return Ok(None);
    }
    use std::os::unix::fs::OpenOptionsExt as _;
    let permissions = if mode.is_executable() { 0o777 } else { 0o666 };
    let mut handle = with_parent_folders(file, || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(permissions)
            .open(file)
    })
    .map_err(|error| format!("could not write {}: {error}", file.display()))?;
    std::io::Write::write_all(&mut handle, &blob)
        .map_err(|error| format!("could not write {}: {error}", file.display()))?;
    let metadata = gix::index::fs::Metadata::from_file(&handle).map_err(|error| {
        format!(
            "could not read {} after writing it: {error}",
            file.display()
        )
    })?;
    Ok(Some(metadata))
}

/// Removes the file, symlink or (empty by now: its tracked files were deleted first, and anything
/// else refused before) folder at `file`, if any.
fn remove_old_entry(file: &Path) -> Result<(), BoxError> {
    let error = match std::fs::remove_file(file) {
        Ok(()) => return Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => error,
    };
    match file.symlink_metadata() {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir(file)
            .map_err(|error| format!("could not remove the folder {}: {error}", file.display()))?,
        // A parent that is not a folder: the write that follows says so.
        Err(_) => {}
        Ok(_) => return Err(format!("could not replace {}: {error}", file.display()).into()),
    }
    Ok(())
}

/// Runs `create`, and again after creating the parent folders of `file` if they were missing.
fn with_parent_folders<T>(
    file: &Path,
    create: impl Fn() -> std::io::Result<T>,
) -> std::io::Result<T> {
    match create() {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let Some(parent) = file.parent() else {
                return Err(error);
            };
            std::fs::create_dir_all(parent)?;
            create()
        }
        other => other,
    }
}

/// Removes a file the change deleted, and the folders it leaves empty (never `workdir` itself).
fn remove_file(workdir: &Path, file: &Path) -> Result<(), BoxError> {
    match std::fs::remove_file(file) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(format!("could not delete {}: {error}", file.display()).into()),
    }
    let mut folder: Option<PathBuf> = file.parent().map(Path::to_owned);
    while let Some(current) = folder {
        if current == workdir || !current.starts_with(workdir) {
            break;
        }
        if std::fs::remove_dir(&current).is_err() {
            break;
        }
        folder = current.parent().map(Path::to_owned);
    }
    Ok(())
}

/// The paths among `changes` (and their parent folders) where the worktree differs from the
/// tree its branch points at, the old tree of `changes`: a staged change, a conflict, a file
/// changed or deleted on disk, an untracked file or folder where the change writes. Looks only
/// at those paths (a few files), never at the whole worktree.
pub(super) fn dirty_paths(
    worktree: &gix::Repository,
    index: &gix::index::State,
    changes: &[PathChange],
) -> Result<Vec<String>, BoxError> {
    let workdir = worktree
        .workdir()
        .ok_or("the worktree has no working directory")?
        .to_owned();
    let deleted: BTreeSet<&BStr> = changes
        .iter()
        .filter(|change| change.new.is_none())
        .map(|change| change.path.as_ref())
        .collect();
    let mut dirty = BTreeSet::new();
    for change in changes {
        let path: &BStr = change.path.as_ref();
        if path_is_dirty(worktree, &workdir, index, change)? {
            dirty.insert(path_string(path));
        }
        // A parent folder that is a file on disk the change does not delete: someone's file.
        let mut parent = path;
        while let Some(slash) = parent.rfind_byte(b'/') {
            parent = parent[..slash].as_bstr();
            let on_disk = workdir.join(gix::path::from_bstr(parent).map_err(boxed)?);
            if let Ok(metadata) = on_disk.symlink_metadata()
                && !metadata.is_dir()
                && !deleted.contains(parent)
            {
                dirty.insert(path_string(parent));
            }
        }
    }
    Ok(dirty.into_iter().collect())
}

fn path_is_dirty(
    worktree: &gix::Repository,
    workdir: &Path,
    index: &gix::index::State,
    change: &PathChange,
) -> Result<bool, BoxError> {
    use gix::index::entry::Stage;
    let path: &BStr = change.path.as_ref();
    if [Stage::Base, Stage::Ours, Stage::Theirs]
        .into_iter()
        .any(|stage| index.entry_index_by_path_and_stage(path, stage).is_some())
    {
        return Ok(true);
    }
    let relative = gix::path::from_bstr(path).map_err(boxed)?;
    let head = change.old.map(|(id, mode)| (id, mode.value()));
    if change.old.is_some_and(|(_, mode)| mode.is_tree()) {
        // A folder the change replaces by a file: its tracked files are changes of their own;
        // anything else in it on disk is someone's.
        return Ok(has_untracked_files(
            &workdir.join(&relative),
            workdir,
            index,
        ));
    }
    let staged = index
        .entry_by_path_and_stage(path, Stage::Unconflicted)
        .map(|entry| (entry.id, entry.mode));
    let staged_as_tree = staged.map(|(id, mode)| (id, mode.bits() as u16));
    if staged_as_tree != head {
        return Ok(true);
    }
    let file = workdir.join(relative);
    let Some((id, mode)) = staged else {
        // Not tracked: anything on disk there is someone's (an untracked file or folder).
        return Ok(file.symlink_metadata().is_ok());
    };
    if mode == gix::index::entry::Mode::COMMIT {
        return Ok(false);
    }
    let metadata = match file.symlink_metadata() {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(error) => return Err(boxed(error)),
    };
    let (now_mode, data) = if metadata.file_type().is_symlink() {
        let target = std::fs::read_link(&file).map_err(boxed)?;
        let bytes: Vec<u8> = gix::path::into_bstr(target)
            .map_err(boxed)?
            .into_owned()
            .into();
        (gix::index::entry::Mode::SYMLINK, bytes)
    } else if metadata.is_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if metadata.permissions().mode() & 0o111 != 0 {
            gix::index::entry::Mode::FILE_EXECUTABLE
        } else {
            gix::index::entry::Mode::FILE
        };
        (mode, std::fs::read(&file).map_err(boxed)?)
    } else {
        return Ok(true);
    };
    if now_mode != mode {
        return Ok(true);
    }
    let now = gix::objs::compute_hash(worktree.object_hash(), gix::objs::Kind::Blob, &data)
        .map_err(boxed)?;
    Ok(now != id)
}

/// Whether the folder holds a file (at any depth) the index does not track.
fn has_untracked_files(folder: &Path, workdir: &Path, index: &gix::index::State) -> bool {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return false;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            if has_untracked_files(&path, workdir, index) {
                return true;
            }
            continue;
        }
        let tracked = path
            .strip_prefix(workdir)
            .ok()
            .and_then(|relative| gix::path::into_bstr(relative).ok())
            .is_some_and(|relative| index.entry_by_path(relative.as_ref()).is_some());
        if !tracked {
            return true;
        }
    }
    false
}
