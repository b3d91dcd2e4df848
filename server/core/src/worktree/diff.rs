//! The session's change set against its base commit, with line counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gix::bstr::{BStr, BString, ByteSlice};
use gix::status::index_worktree::Item as WorktreeItem;

use super::*;

/// Git's rule for binary content: a NUL byte within the first 8000 bytes.
const BINARY_PROBE_LEN: usize = 8000;

// ---------------------------------------------------------------------------------------------------------------------
// Errors

/// Why [`diff_against`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{} is not a git worktree", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("the git repository at {} has no working tree", path.display())]
    NoWorkingTree { path: PathBuf },
    #[error("the base {rev:?} does not name a commit in the worktree {}", path.display())]
    BaseNotACommit {
        path: PathBuf,
        rev: String,
        #[source]
        source: ResolveCommitError,
    },
    #[error("could not read the tree of {rev:?} in the worktree {}", path.display())]
    BaseTree {
        path: PathBuf,
        rev: String,
        #[source]
        source: BoxError,
    },
    #[error("could not compute the status of the worktree {}", path.display())]
    Status {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("could not read {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read object {id} for {file:?} in the worktree {}", path.display())]
    ReadObject {
        path: PathBuf,
        file: String,
        id: String,
        #[source]
        source: BoxError,
    },
}

/// How a file differs from the base commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// One changed file in [`diff_against`]'s result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path relative to the worktree, `/`-separated (the new path of a rename).
    pub path: String,
    pub status: ChangeStatus,
    /// The path in the base commit, for [`ChangeStatus::Renamed`].
    pub old_path: Option<String>,
    /// Lines added, like `git diff --numstat` (0 for binary files).
    pub additions: u64,
    /// Lines deleted, like `git diff --numstat` (0 for binary files).
    pub deletions: u64,
}

/// Where a file's current content is.
#[derive(Debug, Clone)]
pub(super) enum Current {
    /// Unchanged since the index: the blob is in the object database.
    Index {
        id: gix::ObjectId,
        mode: gix::index::entry::Mode,
    },
    /// Changed or untracked: read from disk (content already hashed).
    Disk {
        id: gix::ObjectId,
        mode: gix::index::entry::Mode,
        data: Vec<u8>,
    },
}

impl Current {
    pub(super) fn id(&self) -> gix::ObjectId {
        match self {
            Current::Index { id, .. } | Current::Disk { id, .. } => *id,
        }
    }
    pub(super) fn mode(&self) -> gix::index::entry::Mode {
        match self {
            Current::Index { mode, .. } | Current::Disk { mode, .. } => *mode,
        }
    }
}

/// The worktree as it is on disk now (committed and uncommitted; untracked non-ignored files count as added)
/// against `base_commit`'s tree; line counts like `git diff --numstat` (binary files: 0/0); exact-content
/// renames detected (a deleted and an added file with identical content => [`ChangeStatus::Renamed`] with
/// `old_path`). Sorted by path.
///
/// Changed and untracked files are read through the clean filters (`core.autocrlf`, `eol`, filter drivers),
/// as `git add` would store them; `-diff`/`binary` attributes make a file binary.
pub fn diff_against(worktree_path: &Path, base_commit: &str) -> Result<Vec<FileChange>, DiffError> {
    let repository = open_worktree(worktree_path).map_err(|source| DiffError::Open {
        path: worktree_path.to_owned(),
        source,
    })?;
    let Some(workdir) = repository.workdir().map(Path::to_owned) else {
        return Err(DiffError::NoWorkingTree {
            path: worktree_path.to_owned(),
        });
    };
    let before = base_files(&repository, worktree_path, base_commit)?;
    let current = current_files(&repository, worktree_path, &workdir)?;
    let mut differ = Differ {
        repository: &repository,
        worktree_path,
        marked_binary: BinaryAttribute::new(&repository),
        changes: Vec::new(),
    };
    let mut added: Vec<(&BString, &Current)> = Vec::new();
    for (path, now) in &current {
        match before.get(path) {
            None => added.push((path, now)),
            Some((id, mode)) if *id != now.id() || *mode != now.mode() => {
                differ.modified(path, *id, now)?;
            }
            Some(_) => {}
        }
    }
    let deleted: Vec<(&BString, gix::ObjectId)> = before
        .iter()
        .filter(|(path, _)| !current.contains_key(*path))
        .map(|(path, (id, _))| (path, *id))
        .collect();
    let renamed_from = differ.added_or_renamed(&added, &deleted)?;
    for (path, id) in &deleted {
        if !renamed_from.contains(*path) {
            differ.deleted(path, *id)?;
        }
    }
    let mut changes = differ.changes;
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// Every file of the base commit's tree (submodules left out), by path.
fn base_files(
    repository: &gix::Repository,
    worktree_path: &Path,
    base_commit: &str,
) -> Result<BTreeMap<BString, (gix::ObjectId, gix::index::entry::Mode)>, DiffError> {
    let base = resolve_commit_in(repository, worktree_path, base_commit).map_err(|source| {
        DiffError::BaseNotACommit {
            path: worktree_path.to_owned(),
            rev: base_commit.to_owned(),
            source,
        }
    })?;
    let base_tree_error = |source: BoxError| DiffError::BaseTree {
        path: worktree_path.to_owned(),
        rev: base_commit.to_owned(),
        source,
    };
    let base_tree = repository
        .find_commit(base)
        .map_err(|e| base_tree_error(boxed(e)))?
        .tree_id()
        .map_err(|e| base_tree_error(boxed(e)))?
        .detach();
    let base_index = repository
        .index_from_tree(&base_tree)
        .map_err(|e| base_tree_error(boxed(e)))?;
    Ok(base_index
        .entries()
        .iter()
        .filter(|entry| entry.mode != gix::index::entry::Mode::COMMIT)
        .map(|entry| (entry.path(&base_index).to_owned(), (entry.id, entry.mode)))
        .collect())
}

/// Builds the change list, reading contents and counting lines.
struct Differ<'repo> {
    repository: &'repo gix::Repository,
    worktree_path: &'repo Path,
    marked_binary: BinaryAttribute<'repo>,
    changes: Vec<FileChange>,
}

impl Differ<'_> {
    fn push(&mut self, path: &BStr, status: ChangeStatus, old: &[u8], new: &[u8]) {
        let (additions, deletions) = line_counts(old, new, self.marked_binary.is_set(path));
        self.changes.push(FileChange {
            path: path_string(path),
            status,
            old_path: None,
            additions,
            deletions,
        });
    }

    fn modified(
        &mut self,
        path: &BString,
        base_id: gix::ObjectId,
        now: &Current,
    ) -> Result<(), DiffError> {
        let old = read_blob(self.repository, self.worktree_path, path.as_ref(), base_id)?;
        let new = current_content(self.repository, self.worktree_path, path.as_ref(), now)?;
        self.push(path.as_ref(), ChangeStatus::Modified, &old, &new);
        Ok(())
    }

    fn deleted(&mut self, path: &BString, base_id: gix::ObjectId) -> Result<(), DiffError> {
        let old = read_blob(self.repository, self.worktree_path, path.as_ref(), base_id)?;
        self.push(path.as_ref(), ChangeStatus::Deleted, &old, &[]);
        Ok(())
    }

    /// Records each added file, as a rename where a deleted file had exactly its (non-empty)
    /// content, paired in path order; returns the deleted paths that became renames.
    fn added_or_renamed<'paths>(
        &mut self,
        added: &[(&BString, &Current)],
        deleted: &[(&'paths BString, gix::ObjectId)],
    ) -> Result<BTreeSet<&'paths BString>, DiffError> {
        let empty_blob = gix::ObjectId::empty_blob(self.repository.object_hash());
        let mut deleted_by_id: BTreeMap<gix::ObjectId, Vec<&BString>> = BTreeMap::new();
        for (path, id) in deleted.iter().rev() {
            if *id != empty_blob {
                deleted_by_id.entry(*id).or_default().push(path);
            }
        }
        let mut renamed_from = BTreeSet::new();
        for (path, now) in added {
            if let Some(old_path) = deleted_by_id.get_mut(&now.id()).and_then(Vec::pop) {
                renamed_from.insert(old_path);
                self.changes.push(FileChange {
                    path: path_string(path.as_ref()),
                    status: ChangeStatus::Renamed,
                    old_path: Some(path_string(old_path.as_ref())),
                    additions: 0,
                    deletions: 0,
                });
                continue;
            }
            let new = current_content(self.repository, self.worktree_path, path.as_ref(), now)?;
            self.push(path.as_ref(), ChangeStatus::Added, &[], &new);
        }
        Ok(renamed_from)
    }
}

/// Every file in the worktree now (tracked and not deleted, plus untracked non-ignored), by path.
pub(super) fn current_files(
    repository: &gix::Repository,
    worktree_path: &Path,
    workdir: &Path,
) -> Result<BTreeMap<BString, Current>, DiffError> {
    let index = repository.index_or_empty().map_err(|e| DiffError::Status {
        path: worktree_path.to_owned(),
        source: boxed(e),
    })?;
    let changes = disk_changes(repository, worktree_path, workdir)?;
    Ok(current_files_with(&index, changes))
}

/// The files of `index` (stage 0, no submodules) with the `changes` found on disk applied.
pub(super) fn current_files_with(
    index: &gix::index::State,
    changes: DiskChanges,
) -> BTreeMap<BString, Current> {
    let mut current: BTreeMap<BString, Current> = index
        .entries()
        .iter()
        .filter(|entry| {
            entry.mode != gix::index::entry::Mode::COMMIT
                && entry.stage() == gix::index::entry::Stage::Unconflicted
        })
        .map(|entry| {
            let now = Current::Index {
                id: entry.id,
                mode: entry.mode,
            };
            (entry.path(index).to_owned(), now)
        })
        .collect();
    for path in changes.gone {
        current.remove(&path);
    }
    for (path, now) in changes.read {
        current.insert(path, now);
    }
    current
}

/// Where the worktree's files differ from its index, as the index-to-worktree status finds it.
pub(super) struct DiskChanges {
    /// Paths no longer there as files (deleted, or now something else): not in the worktree now.
    pub gone: Vec<BString>,
    /// Changed, conflicted, intent-to-add and untracked files, read from disk as `git add` would.
    pub read: Vec<(BString, Current)>,
}

impl DiskChanges {
    pub(super) fn is_empty(&self) -> bool {
        self.gone.is_empty() && self.read.is_empty()
    }
}

/// The index-to-worktree status, with the changed and untracked files read (and hashed).
pub(super) fn disk_changes(
    repository: &gix::Repository,
    worktree_path: &Path,
    workdir: &Path,
) -> Result<DiskChanges, DiffError> {
    let status_error = |source: BoxError| DiffError::Status {
        path: worktree_path.to_owned(),
        source,
    };
    let (removed, read_from_disk) = changed_paths(repository).map_err(status_error)?;
    let mut changes = DiskChanges {
        gone: removed,
        read: Vec::new(),
    };
    let object_hash = repository.object_hash();
    // Content as `git add` would store it: clean filters, `core.autocrlf`, `eol`, `ident`, encodings.
    let (mut filters, filter_index) = repository
        .filter_pipeline(None)
        .map_err(|e| status_error(boxed(e)))?;
    for rela_path in read_from_disk {
        let relative =
            gix::path::from_bstr(rela_path.as_bstr()).map_err(|e| status_error(boxed(e)))?;
        let file = workdir.join(&relative);
        let mut to_git = |data: Vec<u8>| -> Result<Vec<u8>, std::io::Error> {
            use gix::filter::plumbing::pipeline::convert::ToGitOutcome;
            use std::io::Read as _;
            let outcome = filters
                .convert_to_git(data.as_slice(), &relative, &filter_index)
                .map_err(std::io::Error::other)?;
            Ok(match outcome {
                ToGitOutcome::Unchanged(_) => data,
                ToGitOutcome::Buffer(converted) => converted.to_vec(),
                ToGitOutcome::Process(mut reader) => {
                    let mut converted = Vec::new();
                    reader.read_to_end(&mut converted)?;
                    converted
                }
            })
        };
        match read_disk_file(&file, object_hash, &mut to_git) {
            Ok(Some(now)) => changes.read.push((rela_path, now)),
            Ok(None) => changes.gone.push(rela_path),
            Err(source) => return Err(DiffError::ReadFile { path: file, source }),
        }
    }
    Ok(changes)
}

/// The index-to-worktree status: tracked files removed from disk, and the files whose content
/// must be read from disk (changed, conflicted, intent-to-add, untracked).
fn changed_paths(repository: &gix::Repository) -> Result<(Vec<BString>, Vec<BString>), BoxError> {
    use gix::status::plumbing::index_as_worktree::{Change as EntryChange, EntryStatus};
    let iter = status_with_untracked_files(repository)?
        .index_worktree_submodules(None)
        .into_index_worktree_iter(None)
        .map_err(boxed)?;
    let mut removed = Vec::new();
    let mut read_from_disk = Vec::new();
    for item in iter {
        match item.map_err(boxed)? {
            WorktreeItem::Modification {
                rela_path, status, ..
            } => match status {
                EntryStatus::Change(EntryChange::Removed) => removed.push(rela_path),
                EntryStatus::Change(EntryChange::SubmoduleModification(_))
                | EntryStatus::NeedsUpdate(_) => {}
                EntryStatus::Change(
                    EntryChange::Modification { .. } | EntryChange::Type { .. },
                )
                | EntryStatus::Conflict { .. }
                | EntryStatus::IntentToAdd => read_from_disk.push(rela_path),
            },
            WorktreeItem::DirectoryContents { entry, .. } => {
                if entry.status == gix::dir::entry::Status::Untracked
                    && matches!(
                        entry.disk_kind,
                        Some(gix::dir::entry::Kind::File | gix::dir::entry::Kind::Symlink)
                    )
                {
                    read_from_disk.push(entry.rela_path);
                }
            }
            WorktreeItem::Rewrite { dirwalk_entry, .. } => {
                read_from_disk.push(dirwalk_entry.rela_path)
            }
        }
    }
    Ok((removed, read_from_disk))
}

/// Reads a file (or symlink target) as git would store it; `None` if it is gone or not a file.
fn read_disk_file(
    file: &Path,
    object_hash: gix::hash::Kind,
    to_git: &mut dyn FnMut(Vec<u8>) -> Result<Vec<u8>, std::io::Error>,
) -> Result<Option<Current>, std::io::Error> {
    let metadata = match file.symlink_metadata() {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let (mode, data) = if metadata.file_type().is_symlink() {
        let target = std::fs::read_link(file)?;
        let target: Vec<u8> = gix::path::into_bstr(target)
            .map_err(std::io::Error::other)?
            .into_owned()
            .into();
        (gix::index::entry::Mode::SYMLINK, target)
    } else if metadata.is_file() {
        let executable = is_executable(&metadata);
        let mode = if executable {
            gix::index::entry::Mode::FILE_EXECUTABLE
        } else {
            gix::index::entry::Mode::FILE
        };
        (mode, to_git(std::fs::read(file)?)?)
    } else {
        return Ok(None);
    };
    let id = gix::objs::compute_hash(object_hash, gix::objs::Kind::Blob, &data)
        .map_err(std::io::Error::other)?;
    Ok(Some(Current::Disk { id, mode, data }))
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &std::fs::Metadata) -> bool {
    false
}

fn read_blob(
    repository: &gix::Repository,
    worktree_path: &Path,
    path: &BStr,
    id: gix::ObjectId,
) -> Result<Vec<u8>, DiffError> {
    let object = repository
        .find_object(id)
        .map_err(|source| DiffError::ReadObject {
            path: worktree_path.to_owned(),
            file: path_string(path),
            id: id.to_string(),
            source: boxed(source),
        })?;
    Ok(object.detach().data)
}

fn current_content(
    repository: &gix::Repository,
    worktree_path: &Path,
    path: &BStr,
    now: &Current,
) -> Result<Vec<u8>, DiffError> {
    match now {
        Current::Index { id, .. } => read_blob(repository, worktree_path, path, *id),
        Current::Disk { data, .. } => Ok(data.clone()),
    }
}

fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE_LEN)].contains(&0)
}

/// Git's `-diff` attribute (also set by the `binary` macro): such files are diffed as binary.
struct BinaryAttribute<'repo> {
    stack: Option<gix::AttributeStack<'repo>>,
}

impl<'repo> BinaryAttribute<'repo> {
    fn new(repository: &'repo gix::Repository) -> Self {
        let stack = repository.index_or_empty().and_then(|index| {
            repository.attributes_only(
                &index,
                gix::worktree::stack::state::attributes::Source::WorktreeThenIdMapping,
            )
        });
        match stack {
            Ok(stack) => Self { stack: Some(stack) },
            Err(error) => {
                tracing::warn!(error = %error, "could not read .gitattributes; binary files are detected by content only");
                Self { stack: None }
            }
        }
    }

    /// Whether `path` has `-diff` (or `binary`).
    fn is_set(&mut self, path: &BStr) -> bool {
        let Some(stack) = &mut self.stack else {
            return false;
        };
        let matched = (|| -> gix::error::Result<bool> {
            // The first visit loads the `.gitattributes` files on the way, which may define `diff`;
            // the selection is made afterwards so it knows the attribute.
            let _loaded = stack.at_entry(path, None)?;
            let mut outcome = stack.selected_attribute_matches(["diff"]);
            stack
                .at_entry(path, None)?
                .matching_attributes(&mut outcome);
            Ok(outcome
                .iter_selected()
                .any(|matched| matched.assignment.state == gix::attrs::StateRef::Unset))
        })();
        matched.unwrap_or_else(|error| {
            tracing::warn!(path = %path, error = %error, "could not read the attributes of a file");
            false
        })
    }
}

/// Added and deleted lines from `old` to `new`, like `git diff --numstat` (0/0 when either side is binary).
fn line_counts(old: &[u8], new: &[u8], marked_binary: bool) -> (u64, u64) {
    if marked_binary || is_binary(old) || is_binary(new) {
        return (0, 0);
    }
    use gix::diff::blob::{Algorithm, Diff, InternedInput, sources::byte_lines};
    let input = InternedInput::new(byte_lines(old), byte_lines(new));
    let diff = Diff::compute(Algorithm::Myers, &input);
    (
        u64::from(diff.count_additions()),
        u64::from(diff.count_removals()),
    )
}

// ---------------------------------------------------------------------------------------------------------------------
// Reconciliation
