//! Reconciling stale worktree registrations and reporting orphan folders.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;

use super::*;

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

/// A folder under the worktree root that no session owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanFolder {
    pub path: PathBuf,
    /// It is a registered linked worktree of the repository.
    pub registered: bool,
    /// Nothing would be lost by deleting it: a registered worktree without uncommitted changes
    /// and without ignored files the main checkout lacks, or an empty folder that is not
    /// registered.
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
    let Registrations {
        mut pruned,
        registered,
    } = prune_stale_registrations(&registrations_dir)?;
    let mut orphans = orphan_folders(repo, worktree_root, owned, &registered)?;
    orphans.sort_by(|a, b| a.path.cmp(&b.path));
    pruned.sort();
    Ok(ReconcileReport { pruned, orphans })
}

/// The registrations of linked worktrees, after pruning.
struct Registrations {
    /// The folders of the registrations removed because the folder was gone.
    pruned: Vec<PathBuf>,
    /// The folders of the registrations kept.
    registered: BTreeSet<PathBuf>,
}

/// The entries of a folder, or none when it does not exist.
fn read_dir_if_any(path: &Path) -> Result<Option<std::fs::ReadDir>, ReconcileError> {
    match std::fs::read_dir(path) {
        Ok(entries) => Ok(Some(entries)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ReconcileError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes the registrations (under `.git/worktrees`) whose worktree folder no longer exists;
/// locked ones, and ones without a readable `gitdir` (maybe being made right now), are kept.
fn prune_stale_registrations(registrations_dir: &Path) -> Result<Registrations, ReconcileError> {
    let mut pruned = Vec::new();
    let mut registered = BTreeSet::new();
    for entry in read_dir_if_any(registrations_dir)?.into_iter().flatten() {
        let entry = entry.map_err(|source| ReconcileError::Read {
            path: registrations_dir.to_owned(),
            source,
        })?;
        let registration = entry.path();
        if !registration.is_dir() || registration.join("locked").symlink_metadata().is_ok() {
            continue;
        }
        let Some(dot_git) = registered_dot_git(&registration) else {
            continue;
        };
        let folder = dot_git
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| dot_git.clone());
        if dot_git.symlink_metadata().is_ok() {
            registered.insert(folder);
            continue;
        }
        std::fs::remove_dir_all(&registration).map_err(|source| ReconcileError::Prune {
            path: registration.clone(),
            source,
        })?;
        tracing::info!(worktree = %folder.display(), registration = %registration.display(), "pruned stale worktree registration");
        pruned.push(folder);
    }
    Ok(Registrations { pruned, registered })
}

/// The worktree's `.git` file a registration points to, when its `gitdir` can be read.
fn registered_dot_git(registration: &Path) -> Option<PathBuf> {
    let gitdir = std::fs::read(registration.join("gitdir")).ok()?;
    let dot_git = gix::path::from_bstr(gitdir.trim().as_bstr())
        .ok()?
        .into_owned();
    Some(if dot_git.is_relative() {
        registration.join(dot_git)
    } else {
        dot_git
    })
}

/// The folders directly under `worktree_root` that no session owns.
///
/// Paths are compared as written first (sessions store them canonical, gix registers them as
/// lulu gave them), and canonicalized only for a folder that matched nothing: the work is
/// proportional to the folders under the root, not to the sessions ever run.
fn orphan_folders(
    repo: &Path,
    worktree_root: &Path,
    owned: &[PathBuf],
    registered: &BTreeSet<PathBuf>,
) -> Result<Vec<OrphanFolder>, ReconcileError> {
    // Hashed, not sorted: there is one per session ever run, and sorting paths compares them
    // component by component.
    let owned: HashSet<&Path> = owned.iter().map(PathBuf::as_path).collect();
    let canonical_root = canonical_lenient(worktree_root);
    let mut canonical_owned: Option<HashSet<PathBuf>> = None;
    let mut canonical_registered: Option<BTreeSet<PathBuf>> = None;
    let mut orphans = Vec::new();
    for entry in read_dir_if_any(worktree_root)?.into_iter().flatten() {
        let entry = entry.map_err(|source| ReconcileError::Read {
            path: worktree_root.to_owned(),
            source,
        })?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let in_root = canonical_root.join(entry.file_name());
        if owned.contains(path.as_path()) || owned.contains(in_root.as_path()) {
            continue;
        }
        let canonical = canonical_lenient(&path);
        // Owned paths directly under the root were matched by name above; only the others
        // (legacy rows, another spelling of the root) need their real path.
        let owned_elsewhere = canonical_owned.get_or_insert_with(|| {
            owned
                .iter()
                .filter(|path| {
                    path.parent()
                        .is_none_or(|parent| parent != worktree_root && parent != canonical_root)
                })
                .map(|path| canonical_lenient(path))
                .collect()
        });
        if owned_elsewhere.contains(&canonical) {
            continue;
        }
        let is_registered = registered.contains(&path)
            || registered.contains(&in_root)
            || canonical_registered
                .get_or_insert_with(|| {
                    registered
                        .iter()
                        .map(|path| canonical_lenient(path))
                        .collect()
                })
                .contains(&canonical);
        let clean = if is_registered {
            holds_nothing_in_no_commit(&path, repo)
        } else {
            std::fs::read_dir(&path).is_ok_and(|mut entries| entries.next().is_none())
        };
        orphans.push(OrphanFolder {
            path,
            registered: is_registered,
            clean,
        });
    }
    Ok(orphans)
}

/// No uncommitted change, no untracked file, and every ignored file byte for byte in the main
/// checkout at `repo` (and readable: what cannot be read counts as work).
fn holds_nothing_in_no_commit(worktree: &Path, repo: &Path) -> bool {
    let Ok(contents) = worktree_contents(worktree) else {
        return false;
    };
    contents.changes.is_empty()
        && ignored_work(&IgnoredWorkRequest {
            worktree,
            main_checkout: repo,
            ignored: &contents.ignored,
            check: IgnoredCheck::NotInMainCheckout,
            limit: 1,
        })
        .is_ok_and(|work| work.is_empty())
}
