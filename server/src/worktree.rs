//! Git worktrees for sessions, made and inspected with gitoxide (`gix`), never by running `git`.
//!
//! Every session works in its own *linked worktree* (the same thing `git worktree add` makes), on its own
//! branch, so `git worktree list`, `git status` and `git fsck` accept it. This module:
//!
//! - finds the repository a path belongs to ([`discover_repository`]) and resolves revisions ([`resolve_commit`]);
//! - creates a branch and a linked worktree for a session ([`create_worktree`]), hiding lulu's folder from the
//!   main checkout's `git status` through the repository's `info/exclude`;
//! - tells what deleting a worktree would lose ([`uncommitted_changes`], [`unmerged_commits`]);
//! - removes worktrees and branches ([`remove_worktree`], [`delete_branch`]);
//! - computes the session's change set against its base commit ([`diff_against`]);
//! - reconciles stale registrations and reports orphan folders at startup ([`reconcile`]).
//!
//! All functions are synchronous and open the repository afresh: they are called rarely, from runners and
//! request handlers, and must see what other processes did in the meantime.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::AtomicBool;

use gix::bstr::{BStr, BString, ByteSlice};
use gix::refs::transaction::{Change, PreviousValue, RefEdit, RefLog};
use gix::status::index_worktree::Item as WorktreeItem;

/// The boxed cause of a failure inside gitoxide or the file system.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn boxed<E>(error: E) -> BoxError
where
    E: std::error::Error + Send + Sync + 'static,
{
    Box::new(error)
}

/// Git's rule for binary content: a NUL byte within the first 8000 bytes.
const BINARY_PROBE_LEN: usize = 8000;

// ---------------------------------------------------------------------------------------------------------------------
// Errors

/// Why [`discover_repository`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{} is not inside a git repository", path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("the git repository at {} is bare (it has no working tree)", path.display())]
    Bare { path: PathBuf },
    #[error("the git repository at {} has no commit yet (HEAD is unborn)", path.display())]
    NoCommits { path: PathBuf },
    #[error("could not read the git repository at {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
}

/// Why [`resolve_commit`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveCommitError {
    #[error("could not open the git repository at {}", repo.display())]
    Open {
        repo: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("{rev:?} does not name a commit in the repository at {}", repo.display())]
    NotACommit {
        repo: PathBuf,
        rev: String,
        #[source]
        source: Option<BoxError>,
    },
}

/// Why [`create_worktree`] failed. Nothing it made is left behind.
#[derive(Debug, thiserror::Error)]
pub enum CreateWorktreeError {
    #[error("could not open the git repository at {}", repo.display())]
    Open {
        repo: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("{branch:?} is not a valid branch name")]
    InvalidBranchName {
        branch: String,
        #[source]
        source: BoxError,
    },
    #[error("the branch {branch:?} already exists in the repository at {}", repo.display())]
    BranchExists { repo: PathBuf, branch: String },
    #[error("the base {rev:?} does not name a commit in the repository at {}", repo.display())]
    BaseNotACommit {
        repo: PathBuf,
        rev: String,
        #[source]
        source: ResolveCommitError,
    },
    #[error("the worktree folder {} already exists and is not empty", path.display())]
    DestinationExists { path: PathBuf },
    #[error("could not create the folder {}", path.display())]
    CreateFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not create the branch {branch:?} in the repository at {}", repo.display())]
    CreateBranch {
        repo: PathBuf,
        branch: String,
        #[source]
        source: BoxError,
    },
    #[error("could not add the linked worktree {} for branch {branch:?}", path.display())]
    AddWorktree {
        path: PathBuf,
        branch: String,
        #[source]
        source: BoxError,
    },
    #[error("could not add lulu's worktree folder to {}", path.display())]
    Exclude {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not lock the worktrees of the repository at {}", repo.display())]
    Lock {
        repo: PathBuf,
        #[source]
        source: crate::repo_lock::RepositoryLockError,
    },
}

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

/// Why [`reconcile`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("could not open the git repository at {}", repo.display())]
    Open {
        repo: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("could not read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not remove the stale worktree registration {}", path.display())]
    Prune {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

// ---------------------------------------------------------------------------------------------------------------------
// Discovery and revisions

/// Finds the git repository containing `path` and returns the canonical top-level directory of its
/// working tree (for a path inside a linked worktree, that worktree's top level).
pub fn discover_repository(path: &Path) -> Result<PathBuf, DiscoverError> {
    let repo = gix::discover(path).map_err(|source| DiscoverError::NotARepository {
        path: path.to_owned(),
        source: boxed(source),
    })?;
    let Some(workdir) = repo.workdir() else {
        return Err(DiscoverError::Bare {
            path: path.to_owned(),
        });
    };
    let head = repo.head().map_err(|source| DiscoverError::Read {
        path: path.to_owned(),
        source: boxed(source),
    })?;
    if head.is_unborn() {
        return Err(DiscoverError::NoCommits {
            path: path.to_owned(),
        });
    }
    std::fs::canonicalize(workdir).map_err(|source| DiscoverError::Read {
        path: workdir.to_owned(),
        source: boxed(source),
    })
}

/// Resolves any revision git accepts for a commit (`main`, `HEAD~2`, full or short hash, tag) to a full hex id.
pub fn resolve_commit(repo: &Path, rev: &str) -> Result<String, ResolveCommitError> {
    let repository = gix::open(repo).map_err(|source| ResolveCommitError::Open {
        repo: repo.to_owned(),
        source: boxed(source),
    })?;
    resolve_commit_in(&repository, repo, rev).map(|id| id.to_string())
}

fn resolve_commit_in(
    repository: &gix::Repository,
    repo: &Path,
    rev: &str,
) -> Result<gix::ObjectId, ResolveCommitError> {
    let not_a_commit = |source: Option<BoxError>| ResolveCommitError::NotACommit {
        repo: repo.to_owned(),
        rev: rev.to_owned(),
        source,
    };
    if rev.trim().is_empty() {
        return Err(not_a_commit(None));
    }
    let id = repository
        .rev_parse_single(rev)
        .map_err(|source| not_a_commit(Some(boxed(source))))?;
    let object = id
        .object()
        .and_then(|object| object.peel_tags_to_end())
        .map_err(|source| not_a_commit(Some(boxed(source))))?;
    if object.kind != gix::objs::Kind::Commit {
        return Err(not_a_commit(None));
    }
    Ok(object.id)
}

// ---------------------------------------------------------------------------------------------------------------------
// Creation

/// What [`create_worktree`] makes.
#[derive(Debug, Clone, Copy)]
pub struct CreateWorktree<'a> {
    /// The repository (any folder of its main working tree).
    pub repo: &'a Path,
    /// Where the linked worktree goes; must not exist, or be an empty folder.
    pub worktree_path: &'a Path,
    /// Short branch name, e.g. `lulu/add-flag-3fa9c1`; made at `base_commit`, must not exist yet.
    pub branch: &'a str,
    /// The commit the branch starts at (any revision naming a commit).
    pub base_commit: &'a str,
}

/// Creates branch `refs/heads/<branch>` at `base_commit` (error if it exists), then a real linked worktree at
/// `worktree_path` with that branch checked out, creating parent folders.
///
/// If `worktree_path` is inside the repository's working tree, the top folder of it relative to the repository
/// (e.g. `/.lulu/`) is listed once in the common dir's `info/exclude`, so the main checkout's `git status`
/// does not show lulu's worktrees. On failure nothing is left behind: no branch, no folder, no registration.
pub fn create_worktree(options: &CreateWorktree) -> Result<(), CreateWorktreeError> {
    let CreateWorktree {
        repo,
        worktree_path,
        branch,
        base_commit,
    } = *options;
    let repository = open_for_checkout(repo).map_err(|source| CreateWorktreeError::Open {
        repo: repo.to_owned(),
        source,
    })?;
    let full_name =
        branch_full_name(branch).map_err(|source| CreateWorktreeError::InvalidBranchName {
            branch: branch.to_owned(),
            source,
        })?;
    // Other lulu processes (and threads) may be adding or removing worktrees of this repository.
    let _held = crate::repo_lock::RepositoryLock::acquire_in(repository.common_dir()).map_err(
        |source| CreateWorktreeError::Lock {
            repo: repo.to_owned(),
            source,
        },
    )?;
    let base = resolve_commit_in(&repository, repo, base_commit).map_err(|source| {
        CreateWorktreeError::BaseNotACommit {
            repo: repo.to_owned(),
            rev: base_commit.to_owned(),
            source,
        }
    })?;
    if repository
        .try_find_reference(full_name.as_ref())
        .ok()
        .flatten()
        .is_some()
    {
        return Err(CreateWorktreeError::BranchExists {
            repo: repo.to_owned(),
            branch: branch.to_owned(),
        });
    }
    let destination = absolute(worktree_path);
    if let Ok(mut entries) = std::fs::read_dir(&destination)
        && entries.next().is_some()
    {
        return Err(CreateWorktreeError::DestinationExists { path: destination });
    }
    if destination.symlink_metadata().is_ok() && !destination.is_dir() {
        return Err(CreateWorktreeError::DestinationExists { path: destination });
    }

    let destination_existed = destination.symlink_metadata().is_ok();

    // From here on, everything made is undone on failure, in reverse order.
    let created_folders = create_parent_folders(&destination)?;
    let undo_folders = |error: CreateWorktreeError| {
        remove_created_folders(&created_folders);
        error
    };

    if let Some(workdir) = repository.workdir() {
        let exclude_file = repository.common_dir().join("info").join("exclude");
        let exclude_file = absolute(&exclude_file);
        let excluded = repository
            .index_or_empty()
            .map_err(std::io::Error::other)
            .and_then(|index| ensure_excluded(workdir, &destination, &exclude_file, &index));
        excluded.map_err(|source| {
            undo_folders(CreateWorktreeError::Exclude {
                path: exclude_file.clone(),
                source,
            })
        })?;
    }

    repository
        .reference(
            full_name.clone(),
            base,
            PreviousValue::MustNotExist,
            format!("branch: Created from {base_commit}"),
        )
        .map_err(|source| {
            undo_folders(CreateWorktreeError::CreateBranch {
                repo: repo.to_owned(),
                branch: branch.to_owned(),
                source: boxed(source),
            })
        })?;

    if let Err(source) = add_worktree(&repository, &destination, &full_name, base) {
        if let Err(undo) = delete_reference(&repository, &full_name) {
            tracing::warn!(branch, error = %undo, "could not delete the branch of a failed worktree");
        }
        // gix removes what it made inside the destination; the destination itself goes if it is new.
        if !destination_existed {
            let _ = std::fs::remove_dir(&destination);
        }
        return Err(undo_folders(CreateWorktreeError::AddWorktree {
            path: destination.clone(),
            branch: branch.to_owned(),
            source,
        }));
    }
    tracing::debug!(worktree = %destination.display(), branch, base = %base, "created worktree");
    Ok(())
}

/// Registers and checks out the linked worktree, like gix's `Repository::add_worktree`, but reads loose
/// objects with [`CheckoutObjects`]. With sparse checkout configured, gix's own checkout does it all.
/// On failure, gix rolls back what it made (registration, checkout); the branch is the caller's.
fn add_worktree(
    repository: &gix::Repository,
    destination: &Path,
    branch: &gix::refs::FullName,
    commit: gix::ObjectId,
) -> Result<(), BoxError> {
    let interrupt = AtomicBool::new(false);
    let head = gix::worktree::add::Head::Attached(branch.clone());
    let sparse = repository
        .config_snapshot()
        .boolean("core.sparseCheckout")
        .unwrap_or(false);
    if sparse {
        repository.add_worktree(destination, head, gix::progress::Discard, &interrupt)?;
        return Ok(());
    }
    let prepared = repository.prepare_add_worktree(destination, head, &interrupt)?;
    match checkout(prepared.repo(), commit, &interrupt) {
        Ok(()) => {
            prepared.persist()?;
            Ok(())
        }
        Err(error) => {
            if let Err(rollback) = prepared.rollback() {
                tracing::warn!(worktree = %destination.display(), error = %rollback, "could not roll back a failed worktree");
            }
            Err(error)
        }
    }
}

/// Checks out `commit`'s tree into the (empty) working tree of `worktree` and writes its index.
fn checkout(
    worktree: &gix::Repository,
    commit: gix::ObjectId,
    interrupt: &AtomicBool,
) -> Result<(), BoxError> {
    let workdir = worktree
        .workdir()
        .ok_or("the new worktree has no working directory")?
        .to_owned();
    let tree = worktree.find_commit(commit)?.tree_id()?.detach();
    let mut index = worktree.index_from_tree(&tree)?;
    let mut options =
        worktree.checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)?;
    options.destination_is_initially_empty = true;
    let loose_dir = worktree.common_dir().join("objects");
    let objects = CheckoutObjects {
        odb: worktree.objects.clone().into_arc()?,
        loose: std::sync::Arc::new(list_loose_objects(&loose_dir, worktree.object_hash())),
        loose_dir,
        compressed: std::cell::RefCell::new(Vec::new()),
    };
    let discard = gix::progress::Discard;
    gix::worktree::state::checkout(
        &mut index, workdir, objects, &discard, &discard, interrupt, options,
    )?;
    index.write(Default::default())?;
    Ok(())
}

/// The object database as seen by the checkout threads (each has its own clone).
///
/// Loose objects are read with one `open` + `read` into a reused buffer and inflated in memory; gix's
/// loose store looks each up with a `stat`, then maps it with `mmap`/`munmap`, which in a multi-threaded
/// process adds a page fault and a TLB shootdown per object. A fresh commit of thousands of files is
/// all loose objects, so this matters for session worktrees of local work. Packed objects (and
/// alternates) come from gix's object database as usual.
#[derive(Clone)]
struct CheckoutObjects {
    odb: gix::OdbHandleArc,
    loose_dir: PathBuf,
    /// The loose objects there were when the checkout started; others are looked up in the object database.
    loose: std::sync::Arc<std::collections::HashSet<gix::ObjectId>>,
    compressed: std::cell::RefCell<Vec<u8>>,
}

/// The ids of the loose objects in `objects_dir` (its two-hex-digit fan-out folders).
fn list_loose_objects(
    objects_dir: &Path,
    hash: gix::hash::Kind,
) -> std::collections::HashSet<gix::ObjectId> {
    let mut ids = std::collections::HashSet::new();
    let Ok(fan_out) = std::fs::read_dir(objects_dir) else {
        return ids;
    };
    let mut hex = String::with_capacity(hash.len_in_hex());
    for folder in fan_out.flatten() {
        let name = folder.file_name();
        let Some(prefix) = name.to_str().filter(|name| name.len() == 2) else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(folder.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str() else { continue };
            hex.clear();
            hex.push_str(prefix);
            hex.push_str(rest);
            if hex.len() == hash.len_in_hex()
                && let Ok(id) = gix::ObjectId::from_hex(hex.as_bytes())
            {
                ids.insert(id);
            }
        }
    }
    ids
}

impl gix::objs::Find for CheckoutObjects {
    fn try_find<'a>(
        &self,
        id: &gix::hash::oid,
        buffer: &'a mut Vec<u8>,
    ) -> gix::error::Result<Option<gix::objs::Data<'a>>> {
        if self.loose.contains(id) && self.read_loose(id, buffer)? {
            let (kind, size, header_len) = gix::objs::decode::loose_header(buffer)?;
            if usize::try_from(size).ok() != Some(buffer.len() - header_len) {
                return Err(gix::error::Error::from_error(std::io::Error::other(
                    format!(
                        "loose object {id} is {} bytes long, its header says {size}",
                        buffer.len() - header_len
                    ),
                )));
            }
            buffer.drain(..header_len);
            return Ok(Some(gix::objs::Data {
                kind,
                object_hash: id.kind(),
                data: buffer,
            }));
        }
        self.odb.try_find(id, buffer)
    }
}

impl CheckoutObjects {
    /// Inflates the loose object `id` (header included) into `out`; `false` if there is no such loose object.
    fn read_loose(&self, id: &gix::hash::oid, out: &mut Vec<u8>) -> gix::error::Result<bool> {
        use std::io::Read as _;
        let hex = id.to_hex().to_string();
        let path = self.loose_dir.join(&hex[..2]).join(&hex[2..]);
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(gix::error::Error::from_error(error)),
        };
        let mut compressed = self.compressed.borrow_mut();
        compressed.clear();
        file.read_to_end(&mut compressed)
            .map_err(gix::error::Error::from_error)?;
        drop(file);
        let mut inflate = gix::zlib::Decompress::new();
        out.clear();
        out.resize(compressed.len().saturating_mul(4).max(256), 0);
        loop {
            let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
            let written = usize::try_from(inflate.total_out()).unwrap_or(usize::MAX);
            let input = compressed.get(consumed..).unwrap_or_default();
            let output = out.get_mut(written..).unwrap_or_default();
            let status = inflate.decompress(input, output, gix::zlib::FlushDecompress::None)?;
            let now_written = usize::try_from(inflate.total_out()).unwrap_or(usize::MAX);
            match status {
                gix::zlib::Status::StreamEnd => {
                    out.truncate(now_written);
                    return Ok(true);
                }
                gix::zlib::Status::Ok | gix::zlib::Status::BufError => {
                    if now_written == out.len() {
                        let grown = out.len().saturating_mul(2);
                        out.resize(grown, 0);
                    } else if now_written == written
                        && usize::try_from(inflate.total_in()).unwrap_or(usize::MAX) == consumed
                    {
                        return Err(gix::error::Error::from_error(std::io::Error::other(
                            format!("loose object {} is truncated", path.display()),
                        )));
                    }
                }
            }
        }
    }
}

/// Opens `repo` for [`create_worktree`]: unless the user configured `checkout.workers`, checkout uses
/// twice as many threads as there are cores (at least 4, at most 16). Writing thousands of small files is
/// bound by the kernel (inode allocation, page faults on loose objects) more than by the CPU, so more
/// threads than cores overlap those waits; gix's default is one thread per core. Measured with
/// `cargo bench -p lulu --bench worktree`.
/// Opens the repository for creating a branch and a worktree: parallel checkout (twice the cores,
/// unless `checkout.workers` is configured), and a generic committer for the reflog entries of the
/// branch and the new HEAD when the machine has no `user.name`/`user.email` (CI, a fresh
/// container), where `git worktree add` would not fail either. The open options carry over to
/// the linked worktree gix opens.
fn open_for_checkout(repo: &Path) -> Result<gix::Repository, BoxError> {
    let repository = gix::open(repo).map_err(boxed)?;
    let mut overrides = Vec::new();
    if repository
        .config_snapshot()
        .integer("checkout.workers")
        .is_none()
    {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let workers = (cores * 2).clamp(4, 16);
        overrides.push(format!("checkout.workers={workers}"));
    }
    if repository.committer().is_none() {
        overrides.push("user.name=lulu".to_owned());
        overrides.push("user.email=lulu@localhost".to_owned());
    }
    if overrides.is_empty() {
        return Ok(repository);
    }
    gix::open_opts(
        repo,
        gix::open::Options::default().config_overrides(overrides),
    )
    .map_err(boxed)
}

fn branch_full_name(branch: &str) -> Result<gix::refs::FullName, BoxError> {
    if branch.is_empty()
        || branch.starts_with("refs/")
        || branch == "HEAD"
        || branch.starts_with('-')
    {
        return Err(format!("{branch:?} must be a short branch name like \"lulu/topic\"").into());
    }
    let full = format!("refs/heads/{branch}");
    gix::validate::reference::branch_name(full.as_bytes().as_bstr()).map_err(boxed)?;
    gix::refs::FullName::try_from(full).map_err(boxed)
}

/// Makes the missing ancestors of `destination` (not `destination` itself), returning those it made, outermost first.
fn create_parent_folders(destination: &Path) -> Result<Vec<PathBuf>, CreateWorktreeError> {
    let mut missing = Vec::new();
    let mut current = destination.parent();
    while let Some(folder) = current {
        if folder.as_os_str().is_empty() || folder.symlink_metadata().is_ok() {
            break;
        }
        missing.push(folder.to_owned());
        current = folder.parent();
    }
    missing.reverse();
    let mut created = Vec::new();
    for folder in missing {
        match std::fs::create_dir(&folder) {
            Ok(()) => created.push(folder),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                remove_created_folders(&created);
                return Err(CreateWorktreeError::CreateFolder {
                    path: folder,
                    source,
                });
            }
        }
    }
    Ok(created)
}

fn remove_created_folders(created: &[PathBuf]) {
    for folder in created.iter().rev() {
        // Only empty folders go: another session may have put its worktree next to ours meanwhile.
        let _ = std::fs::remove_dir(folder);
    }
}

/// Makes `path` absolute against the current directory, without touching the file system.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Canonicalizes the longest existing ancestor of `path` and appends the rest.
fn canonical_lenient(path: &Path) -> PathBuf {
    let path = absolute(path);
    let mut rest = Vec::new();
    let mut current = path.as_path();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(current) {
            let mut result = canonical;
            for part in rest.iter().rev() {
                result.push(part);
            }
            return result;
        }
        match (current.parent(), current.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                current = parent;
            }
            _ => return path,
        }
    }
}

/// Adds `/<top>/` to `exclude_file` when `destination` is inside `workdir` (`<top>` being its first folder there).
fn ensure_excluded(
    workdir: &Path,
    destination: &Path,
    exclude_file: &Path,
    tracked: &gix::index::State,
) -> Result<(), std::io::Error> {
    let workdir = canonical_lenient(workdir);
    let destination = canonical_lenient(destination);
    let Ok(relative) = destination.strip_prefix(&workdir) else {
        return Ok(());
    };
    // The shallowest folder on the way that holds no tracked file: `.lulu` for `.lulu/worktrees/x`, but
    // `src/wt` for `src/wt/x`, so the user's own untracked files in `src` are never hidden.
    let mut top = String::new();
    let mut found = false;
    for component in relative.components() {
        let Component::Normal(name) = component else {
            return Ok(());
        };
        let Some(name) = name.to_str() else {
            return Ok(());
        };
        if !top.is_empty() {
            top.push('/');
        }
        top.push_str(name);
        let prefix = format!("{top}/");
        let holds_tracked = tracked
            .prefixed_entries(prefix.as_bytes().as_bstr())
            .is_some_and(|entries| !entries.is_empty())
            || tracked
                .entry_index_by_path(top.as_bytes().as_bstr())
                .is_ok();
        if !holds_tracked {
            found = true;
            break;
        }
    }
    if !found {
        return Ok(());
    }
    let pattern = format!("/{top}/");
    let listed = |content: &[u8]| {
        content.lines().any(|line| {
            let line = line.trim();
            line == pattern.as_bytes() || line == format!("/{top}").as_bytes()
        })
    };
    let read = |path: &Path| match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error),
    };
    if listed(&read(exclude_file)?) {
        return Ok(());
    }
    // Several runners may create worktrees at once: update under git's lock-file protocol
    // (`exclude.lock`, then an atomic rename), re-reading once the lock is held.
    let info_dir = exclude_file.parent().map(Path::to_owned);
    if let Some(info_dir) = &info_dir {
        std::fs::create_dir_all(info_dir)?;
    }
    let mut lock = gix::lock::File::acquire_to_update_resource(
        exclude_file,
        gix::lock::acquire::Fail::AfterDurationWithBackoff(std::time::Duration::from_secs(5)),
        None,
        0,
    )
    .map_err(std::io::Error::other)?;
    let mut content = read(exclude_file)?;
    if listed(&content) {
        return Ok(()); // Dropping the lock removes `exclude.lock`.
    }
    if !content.is_empty() && !content.ends_with(b"\n") {
        content.push(b'\n');
    }
    content.extend_from_slice(b"# lulu's session worktrees\n");
    content.extend_from_slice(pattern.as_bytes());
    content.push(b'\n');
    lock.write_all(&content)?;
    lock.commit().map_err(|error| error.error)?;
    Ok(())
}

fn delete_reference(
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

fn path_string(path: &BStr) -> String {
    path.to_str_lossy().into_owned()
}

fn open_worktree(worktree_path: &Path) -> Result<gix::Repository, BoxError> {
    gix::open(worktree_path).map_err(boxed)
}

/// What would be lost by deleting this worktree folder: tracked files modified/deleted/staged vs `HEAD`,
/// and untracked (non-ignored) files.
pub fn uncommitted_changes(worktree_path: &Path) -> Result<UncommittedChanges, StatusError> {
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
    let dirwalk = repository
        .dirwalk_options()
        .map_err(|e| status_error(boxed(e)))?;
    let iter = repository
        .status(gix::progress::Discard)
        .map_err(|e| status_error(boxed(e)))?
        .index_worktree_options_mut(|options| {
            // Walk for untracked files even if `status.showUntrackedFiles=no` turned the walk off.
            options.dirwalk_options = Some(dirwalk.empty_patterns_match_prefix(false));
            options.rewrites = None;
        })
        .untracked_files(gix::status::UntrackedFiles::Files)
        .into_iter(None)
        .map_err(|e| status_error(boxed(e)))?;
    let mut changed = BTreeSet::new();
    let mut untracked = BTreeSet::new();
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
                WorktreeItem::DirectoryContents { entry, .. } => {
                    if entry.status == gix::dir::entry::Status::Untracked {
                        untracked.insert(path_string(entry.rela_path.as_ref()));
                    }
                }
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
    Ok(UncommittedChanges {
        changed: changed.into_iter().collect(),
        untracked: untracked.into_iter().collect(),
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
    let full_name = branch_full_name(branch).map_err(|source| not_found(Some(source)))?;
    let tip = repository
        .try_find_reference(full_name.as_ref())
        .map_err(|source| not_found(Some(boxed(source))))?
        .ok_or_else(|| not_found(None))?
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
    let full_name = branch_full_name(branch).map_err(|source| not_found(Some(source)))?;
    let reference = repository
        .try_find_reference(full_name.as_ref())
        .map_err(|source| not_found(Some(boxed(source))))?
        .ok_or_else(|| not_found(None))?;
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
enum Current {
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
    fn id(&self) -> gix::ObjectId {
        match self {
            Current::Index { id, .. } | Current::Disk { id, .. } => *id,
        }
    }
    fn mode(&self) -> gix::index::entry::Mode {
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
fn current_files(
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

/// A folder under the worktree root that no session owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanFolder {
    pub path: PathBuf,
    /// It is a registered linked worktree of the repository.
    pub registered: bool,
    /// Nothing would be lost by deleting it: a registered worktree without uncommitted changes,
    /// or an empty folder that is not registered.
    pub clean: bool,
}

/// What [`reconcile`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Worktree folders whose stale registrations were removed (the folder was gone).
    pub pruned: Vec<PathBuf>,
    /// Folders directly under the worktree root that are not owned; never deleted.
    pub orphans: Vec<OrphanFolder>,
}

/// Startup reconciliation: prunes registrations in `repo` whose worktree folder no longer exists (like
/// `git worktree prune`; locked worktrees are kept), and lists folders directly under `worktree_root` that
/// are not in `owned` (never deletes a folder).
pub fn reconcile(
    repo: &Path,
    worktree_root: &Path,
    owned: &[PathBuf],
) -> Result<ReconcileReport, ReconcileError> {
    let repository = gix::open(repo).map_err(|source| ReconcileError::Open {
        repo: repo.to_owned(),
        source: boxed(source),
    })?;
    let registrations_dir = absolute(&repository.common_dir().join("worktrees"));
    let mut pruned = Vec::new();
    let mut registered = BTreeSet::new();
    let entries = match std::fs::read_dir(&registrations_dir) {
        Ok(entries) => Some(entries),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(ReconcileError::Read {
                path: registrations_dir,
                source,
            });
        }
    };
    for entry in entries.into_iter().flatten() {
        let entry = entry.map_err(|source| ReconcileError::Read {
            path: registrations_dir.clone(),
            source,
        })?;
        let registration = entry.path();
        if !registration.is_dir() || registration.join("locked").symlink_metadata().is_ok() {
            continue;
        }
        // A registration without a readable `gitdir` may be one being made right now: leave it.
        let Ok(gitdir) = std::fs::read(registration.join("gitdir")) else {
            continue;
        };
        let Ok(dot_git) =
            gix::path::from_bstr(gitdir.trim().as_bstr()).map(|path| path.into_owned())
        else {
            continue;
        };
        let dot_git = if dot_git.is_relative() {
            registration.join(dot_git)
        } else {
            dot_git
        };
        let folder = dot_git
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| dot_git.clone());
        if dot_git.symlink_metadata().is_ok() {
            registered.insert(canonical_lenient(&folder));
            continue;
        }
        std::fs::remove_dir_all(&registration).map_err(|source| ReconcileError::Prune {
            path: registration.clone(),
            source,
        })?;
        tracing::info!(worktree = %folder.display(), registration = %registration.display(), "pruned stale worktree registration");
        pruned.push(folder);
    }

    let owned: BTreeSet<PathBuf> = owned.iter().map(|path| canonical_lenient(path)).collect();
    let mut orphans = Vec::new();
    let folders = match std::fs::read_dir(worktree_root) {
        Ok(folders) => Some(folders),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(ReconcileError::Read {
                path: worktree_root.to_owned(),
                source,
            });
        }
    };
    for entry in folders.into_iter().flatten() {
        let entry = entry.map_err(|source| ReconcileError::Read {
            path: worktree_root.to_owned(),
            source,
        })?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let canonical = canonical_lenient(&path);
        if owned.contains(&canonical) {
            continue;
        }
        let is_registered = registered.contains(&canonical);
        let clean = if is_registered {
            uncommitted_changes(&path).is_ok_and(|changes| changes.is_empty())
        } else {
            std::fs::read_dir(&path).is_ok_and(|mut entries| entries.next().is_none())
        };
        orphans.push(OrphanFolder {
            path,
            registered: is_registered,
            clean,
        });
    }
    orphans.sort_by(|a, b| a.path.cmp(&b.path));
    pruned.sort();
    Ok(ReconcileReport { pruned, orphans })
}
