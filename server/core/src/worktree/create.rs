//! Creating a session's branch and linked worktree, and hiding lulu's folder from the main checkout.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::AtomicBool;

use gix::bstr::ByteSlice;
use gix::refs::transaction::PreviousValue;

use super::checkout::{check_out_commit, open_for_checkout};
use super::*;

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
    let destination_existed = usable_destination(&destination)?;

    // From here on, everything made is undone on failure, in reverse order.
    let created_folders = create_parent_folders(&destination)?;
    let undo_folders = |error: CreateWorktreeError| {
        remove_created_folders(&created_folders);
        error
    };
    exclude_from_main_checkout(&repository, &destination).map_err(undo_folders)?;

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

/// Whether the destination exists already (as an empty folder); an error if it is anything else.
fn usable_destination(destination: &Path) -> Result<bool, CreateWorktreeError> {
    if let Ok(mut entries) = std::fs::read_dir(destination)
        && entries.next().is_some()
    {
        return Err(CreateWorktreeError::DestinationExists {
            path: destination.to_owned(),
        });
    }
    let existed = destination.symlink_metadata().is_ok();
    if existed && !destination.is_dir() {
        return Err(CreateWorktreeError::DestinationExists {
            path: destination.to_owned(),
        });
    }
    Ok(existed)
}

/// Lists the worktree's top folder inside the main working tree (if it is inside) in the
/// common dir's `info/exclude`, so the main checkout's `git status` does not show it.
fn exclude_from_main_checkout(
    repository: &gix::Repository,
    destination: &Path,
) -> Result<(), CreateWorktreeError> {
    let Some(workdir) = repository.workdir() else {
        return Ok(());
    };
    let exclude_file = absolute(&repository.common_dir().join("info").join("exclude"));
    repository
        .index_or_empty()
        .map_err(std::io::Error::other)
        .and_then(|index| ensure_excluded(workdir, destination, &exclude_file, &index))
        .map_err(|source| CreateWorktreeError::Exclude {
            path: exclude_file.clone(),
            source,
        })
}

/// Registers and checks out the linked worktree, like gix's `Repository::add_worktree`, but reads loose
/// objects with [`CheckoutObjects`]. With sparse checkout configured, gix's own checkout does it all.
/// On failure, gix rolls back what it made (registration, checkout); the branch is the caller's.
pub(super) fn add_worktree(
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
    match check_out_commit(prepared.repo(), commit, &interrupt) {
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

/// Makes the missing ancestors of `destination` (not `destination` itself), returning those it made, outermost first.
pub(super) fn create_parent_folders(
    destination: &Path,
) -> Result<Vec<PathBuf>, CreateWorktreeError> {
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
