//! Git worktrees for sessions, made and inspected with gitoxide (`gix`), never by running `git`.
//!
//! Every session works in its own *linked worktree* (the same thing `git worktree add` makes), on its own
//! branch, so `git worktree list`, `git status` and `git fsck` accept it. This module:
//!
//! - finds the repository a path belongs to ([`discover_repository`]) and resolves revisions ([`resolve_commit`]);
//! - creates a branch and a linked worktree for a session ([`create_worktree`]), hiding lulu's folder from the
//!   main checkout's `git status` through the repository's `info/exclude`;
//! - tells what deleting a worktree would lose ([`uncommitted_changes`], [`unmerged_commits`], and its
//!   ignored files in no commit: [`worktree_contents`], [`ignored_work`]);
//! - removes worktrees and branches ([`remove_worktree`], [`delete_branch`]);
//! - computes the session's change set against its base commit ([`diff_against`]);
//! - reconciles stale registrations and reports orphan folders at startup ([`reconcile`]);
//! - commits a worktree's uncommitted work ([`commit_worktree`]), lands a branch into another ([`land`]), and
//!   syncs a worktree with its base branch ([`sync_worktree`]), touching a checked-out target only in the paths
//!   that change.
//!
//! All functions are synchronous and open the repository afresh: they are called rarely, from runners and
//! request handlers, and must see what other processes did in the meantime.

mod apply;
mod checkout;
mod commit;
mod create;
mod diff;
mod discover;
mod file_at;
mod ignored;
mod land;
mod reconcile;
mod remove;
mod restore;
mod status;
mod sync;

pub use commit::*;
pub use create::*;
pub use diff::*;
pub use discover::*;
pub use file_at::*;
pub use ignored::*;
pub use land::*;
pub use reconcile::*;
pub use remove::*;
pub use restore::*;
pub use status::*;
pub use sync::*;

use std::path::{Path, PathBuf};

use gix::bstr::{BStr, ByteSlice};

/// The boxed cause of a failure inside gitoxide or the file system.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn boxed<E>(error: E) -> BoxError
where
    E: std::error::Error + Send + Sync + 'static,
{
    Box::new(error)
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

fn path_string(path: &BStr) -> String {
    path.to_str_lossy().into_owned()
}

fn open_worktree(worktree_path: &Path) -> Result<gix::Repository, BoxError> {
    gix::open(worktree_path).map_err(boxed)
}

/// A status of the worktree that walks for untracked files (one by one, even where
/// `status.showUntrackedFiles=no` turned the walk off) and detects no rewrites: what both
/// "what would removal lose" and the diff need to see.
fn status_with_untracked_files(
    repository: &gix::Repository,
) -> Result<gix::status::Platform<'_, gix::progress::Discard>, BoxError> {
    let dirwalk = repository.dirwalk_options().map_err(boxed)?;
    Ok(repository
        .status(gix::progress::Discard)
        .map_err(boxed)?
        .index_worktree_options_mut(|options| {
            options.dirwalk_options = Some(dirwalk.empty_patterns_match_prefix(false));
            options.rewrites = None;
        })
        .untracked_files(gix::status::UntrackedFiles::Files))
}

/// `refs/heads/<branch>`: `Err(None)` when there is no such branch, `Err(Some(cause))` when the
/// name is invalid or the reference could not be read.
fn find_branch<'repo>(
    repository: &'repo gix::Repository,
    branch: &str,
) -> Result<gix::Reference<'repo>, Option<BoxError>> {
    let full_name = branch_full_name(branch).map_err(Some)?;
    repository
        .try_find_reference(full_name.as_ref())
        .map_err(|source| Some(boxed(source)))?
        .ok_or(None)
}
