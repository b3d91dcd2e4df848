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
    let base = resolve_commit_in(&repository, worktree_path, base_commit).map_err(|source| {
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
    let mut before: BTreeMap<BString, (gix::ObjectId, gix::index::entry::Mode)> = BTreeMap::new();
    for entry in base_index.entries() {
        if entry.mode != gix::index::entry::Mode::COMMIT {
            before.insert(entry.path(&base_index).to_owned(), (entry.id, entry.mode));
        }
    }

    let current = current_files(&repository, worktree_path, &workdir)?;
    let mut marked_binary = BinaryAttribute::new(&repository);

    let mut added: Vec<(&BString, &Current)> = Vec::new();
    let mut deleted: Vec<(&BString, gix::ObjectId)> = Vec::new();
    let mut changes = Vec::new();
    for (path, now) in &current {
        match before.get(path) {
            None => added.push((path, now)),
            Some((id, mode)) => {
                if *id != now.id() || *mode != now.mode() {
                    let old = read_blob(&repository, worktree_path, path.as_ref(), *id)?;
                    let new = current_content(&repository, worktree_path, path.as_ref(), now)?;
                    let (additions, deletions) =
                        line_counts(&old, &new, marked_binary.is_set(path.as_ref()));
                    changes.push(FileChange {
                        path: path_string(path.as_ref()),
                        status: ChangeStatus::Modified,
                        old_path: None,
                        additions,
                        deletions,
                    });
                }
            }
        }
    }
    for (path, (id, _)) in &before {
        if !current.contains_key(path) {
            deleted.push((path, *id));
        }
    }

    // Exact renames: pair each added file with a deleted file of identical (non-empty) content, in path order.
    let empty_blob = gix::ObjectId::empty_blob(repository.object_hash());
    let mut deleted_by_id: BTreeMap<gix::ObjectId, Vec<&BString>> = BTreeMap::new();
    for (path, id) in &deleted {
        if *id != empty_blob {
            deleted_by_id.entry(*id).or_default().push(path);
        }
    }
    for candidates in deleted_by_id.values_mut() {
        candidates.reverse();
    }
    let mut renamed_from = BTreeSet::new();
    for (path, now) in &added {
        let source = deleted_by_id.get_mut(&now.id()).and_then(Vec::pop);
        if let Some(old_path) = source {
            renamed_from.insert(old_path);
            changes.push(FileChange {
                path: path_string(path.as_ref()),
                status: ChangeStatus::Renamed,
                old_path: Some(path_string(old_path.as_ref())),
                additions: 0,
                deletions: 0,
            });
        } else {
            let new = current_content(&repository, worktree_path, path.as_ref(), now)?;
            let (additions, deletions) =
                line_counts(&[], &new, marked_binary.is_set(path.as_ref()));
            changes.push(FileChange {
                path: path_string(path.as_ref()),
                status: ChangeStatus::Added,
                old_path: None,
                additions,
                deletions,
            });
        }
    }
    for (path, id) in &deleted {
        if renamed_from.contains(*path) {
            continue;
        }
        let old = read_blob(&repository, worktree_path, path.as_ref(), *id)?;
        let (additions, deletions) = line_counts(&old, &[], marked_binary.is_set(path.as_ref()));
        changes.push(FileChange {
            path: path_string(path.as_ref()),
            status: ChangeStatus::Deleted,
            old_path: None,
            additions,
            deletions,
        });
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// Every file in the worktree now (tracked and not deleted, plus untracked non-ignored), by path.
pub(super) fn current_files(
    repository: &gix::Repository,
    worktree_path: &Path,
    workdir: &Path,
) -> Result<BTreeMap<BString, Current>, DiffError> {
    let status_error = |source: BoxError| DiffError::Status {
        path: worktree_path.to_owned(),
        source,
    };
    let index = repository
        .index_or_empty()
        .map_err(|e| status_error(boxed(e)))?;
    let mut current = BTreeMap::new();
    for entry in index.entries() {
        if entry.mode == gix::index::entry::Mode::COMMIT
            || entry.stage() != gix::index::entry::Stage::Unconflicted
        {
            continue;
        }
        current.insert(
            entry.path(&index).to_owned(),
            Current::Index {
                id: entry.id,
                mode: entry.mode,
            },
        );
    }
    let dirwalk = repository
        .dirwalk_options()
        .map_err(|e| status_error(boxed(e)))?;
    let iter = repository
        .status(gix::progress::Discard)
        .map_err(|e| status_error(boxed(e)))?
        .index_worktree_options_mut(|options| {
            options.dirwalk_options = Some(dirwalk.empty_patterns_match_prefix(false));
            options.rewrites = None;
        })
        .untracked_files(gix::status::UntrackedFiles::Files)
        .index_worktree_submodules(None)
        .into_index_worktree_iter(None)
        .map_err(|e| status_error(boxed(e)))?;
    use gix::status::plumbing::index_as_worktree::{Change as EntryChange, EntryStatus};
    let mut read_from_disk = Vec::new();
    for item in iter {
        match item.map_err(|e| status_error(boxed(e)))? {
            WorktreeItem::Modification {
                rela_path, status, ..
            } => match status {
                EntryStatus::Change(EntryChange::Removed) => {
                    current.remove(&rela_path);
                }
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
            Ok(Some(now)) => {
                current.insert(rela_path, now);
            }
            Ok(None) => {
                current.remove(&rela_path);
            }
            Err(source) => return Err(DiffError::ReadFile { path: file, source }),
        }
    }
    Ok(current)
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
