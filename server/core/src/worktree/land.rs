//! Landing a branch into another: the new commit computed in memory (tree merges), the target
//! moved by compare-and-set, and a checked-out target's files and index following in the changed
//! paths only. A dirty file of the user's in those paths, or a conflict, refuses and changes nothing.

use std::path::{Path, PathBuf};

use super::apply::{
    Files, LockedIndex, apply_changes, branch_tip, change_paths, checked_out_in, commit_tree,
    dirty_paths, move_branch, tree_changes,
};
use super::checkout::open_for_checkout;
use super::*;

/// How many times a target that moved between reading and moving it is read again.
const MAX_ATTEMPTS: u32 = 5;

/// The memory for objects read more than once while landing (gix keeps none by default).
const OBJECT_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// How the session's commits arrive in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandStrategy {
    /// One new commit on the target with the whole change.
    Squash,
    /// The branch's commits replayed on the target (merge commits skipped, as `git rebase` does),
    /// then the target fast-forwarded to the last one.
    Rebase,
    /// A merge commit on the target whose second parent is the branch.
    Merge,
}

impl LandStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            LandStrategy::Squash => "squash",
            LandStrategy::Rebase => "rebase",
            LandStrategy::Merge => "merge",
        }
    }

    pub fn parse(text: &str) -> Option<LandStrategy> {
        match text {
            "squash" => Some(LandStrategy::Squash),
            "rebase" => Some(LandStrategy::Rebase),
            "merge" => Some(LandStrategy::Merge),
            _ => None,
        }
    }
}

/// Why [`land`] failed. In every case the target, its worktree and the branch are as they were.
#[derive(Debug, thiserror::Error)]
pub enum LandError {
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
    #[error("there is no branch {branch:?} in the repository at {}", repo.display())]
    BranchNotFound { repo: PathBuf, branch: String },
    #[error("cannot land the branch {branch:?} into itself")]
    IntoItself { branch: String },
    #[error("{branch:?} and {into:?} have no commit in common")]
    Unrelated { branch: String, into: String },
    #[error("nothing to land: {into:?} already has every change of {branch:?}")]
    NothingToLand { branch: String, into: String },
    #[error("landing {branch:?} into {into:?} conflicts in {}", files.join(", "))]
    Conflicts {
        branch: String,
        into: String,
        files: Vec<String>,
    },
    #[error("{into:?} is checked out in {} with uncommitted changes to {}, which the landing changes; commit or stash them first", worktree.display(), files.join(", "))]
    DirtyTarget {
        into: String,
        worktree: PathBuf,
        files: Vec<String>,
    },
    #[error("{into:?} kept moving while lulu landed {branch:?} ({attempts} attempts); try again")]
    TargetKeptMoving {
        branch: String,
        into: String,
        attempts: u32,
    },
    #[error("could not land {branch:?} into {into:?}")]
    Git {
        branch: String,
        into: String,
        #[source]
        source: BoxError,
    },
    #[error("{into:?} moved to the landed commit, but its worktree {} could not follow; `git status` there shows the difference", worktree.display())]
    Worktree {
        into: String,
        worktree: PathBuf,
        #[source]
        source: BoxError,
    },
}

/// What [`land`] lands.
pub struct LandRequest<'a> {
    /// The repository (any of its worktrees).
    pub repo: &'a Path,
    /// The short name of the branch to land.
    pub branch: &'a str,
    /// The short name of the branch that receives it.
    pub into: &'a str,
    pub strategy: LandStrategy,
    /// The message of the squash or merge commit (rebase keeps each commit's own).
    pub message: &'a str,
    /// Called after the target was read and the new commit computed, right before the
    /// compare-and-set, with the attempt number (from 1). Tests move the target here.
    pub before_move: Option<&'a (dyn Fn(u32) + Sync)>,
}

/// What [`land`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    /// The new tip of the target.
    pub commit: String,
    /// The tip of the branch that was landed.
    pub source_commit: String,
    /// The paths the landing changed in the target.
    pub files: Vec<String>,
    /// The worktree that has the target checked out, whose files and index followed.
    pub worktree: Option<PathBuf>,
}

impl LandRequest<'_> {
    /// A git failure while landing this request.
    fn git_error(&self, source: BoxError) -> LandError {
        LandError::Git {
            branch: self.branch.to_owned(),
            into: self.into.to_owned(),
            source,
        }
    }
}

/// Lands `branch` into `into` (see the module doc). The target moves only from the value the new
/// commit was computed on; if another commit arrived meanwhile, everything is computed again.
pub fn land(request: &LandRequest) -> Result<Landed, LandError> {
    let git_error = |source: BoxError| request.git_error(source);
    let mut repository = open_for_checkout(request.repo).map_err(|source| LandError::Open {
        repo: request.repo.to_owned(),
        source,
    })?;
    // The merge base walk, the merge and the diff of the result read the same commits and trees.
    repository.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
    let full = |branch: &str| {
        branch_full_name(branch).map_err(|source| LandError::InvalidBranchName {
            branch: branch.to_owned(),
            source,
        })
    };
    let branch_name = full(request.branch)?;
    let into_name = full(request.into)?;
    if branch_name == into_name {
        return Err(LandError::IntoItself {
            branch: request.branch.to_owned(),
        });
    }
    let not_found = |branch: &str| LandError::BranchNotFound {
        repo: request.repo.to_owned(),
        branch: branch.to_owned(),
    };
    let source = branch_tip(&repository, &branch_name)
        .map_err(git_error)?
        .ok_or_else(|| not_found(request.branch))?;
    for attempt in 1..=MAX_ATTEMPTS {
        let tip = branch_tip(&repository, &into_name)
            .map_err(git_error)?
            .ok_or_else(|| not_found(request.into))?;
        let target = Target {
            name: &into_name,
            tip,
        };
        if let Some(landed) = land_once(&repository, request, &target, source, attempt)? {
            return Ok(landed);
        }
        tracing::debug!(
            into = request.into,
            attempt,
            "the target moved meanwhile; again"
        );
    }
    Err(LandError::TargetKeptMoving {
        branch: request.branch.to_owned(),
        into: request.into.to_owned(),
        attempts: MAX_ATTEMPTS,
    })
}

/// The branch landed into, and its tip when this attempt read it.
struct Target<'a> {
    name: &'a gix::refs::FullName,
    tip: gix::ObjectId,
}

/// One attempt: computes the new tip from `target.tip`, checks a checkout of the target, moves
/// the target by compare-and-set and makes its checkout follow. `None` when the target moved
/// meanwhile (nothing changed then).
fn land_once(
    repository: &gix::Repository,
    request: &LandRequest,
    target: &Target<'_>,
    source: gix::ObjectId,
    attempt: u32,
) -> Result<Option<Landed>, LandError> {
    let git_error = |source: BoxError| request.git_error(source);
    let tip = target.tip;
    let new = compute(repository, request, tip, source)?;
    let tip_tree = commit_tree(repository, tip).map_err(git_error)?;
    let changes = tree_changes(
        repository,
        tip_tree,
        commit_tree(repository, new).map_err(git_error)?,
    )
    .map_err(git_error)?;
    let checkout = checked_out_in(repository, target.name).map_err(git_error)?;
    // The target's index stays locked from the check of its dirty files to its update.
    let locked = match &checkout {
        Some(worktree) => Some(lock_clean_paths(worktree, request, &changes)?),
        None => None,
    };
    if let Some(hook) = request.before_move {
        hook(attempt);
    }
    let reflog = format!(
        "lulu land ({}): {}",
        request.strategy.as_str(),
        request.message.lines().next().unwrap_or(request.branch)
    );
    if !move_branch(repository, target.name, tip, new, &reflog).map_err(git_error)? {
        return Ok(None);
    }
    let worktree_path = checkout
        .as_ref()
        .and_then(|worktree| worktree.workdir().map(Path::to_owned));
    if let (Some(worktree), Some(mut locked)) = (checkout, locked) {
        let follow = apply_changes(&worktree, &mut locked.index, &changes, Files::Write)
            .and_then(|()| locked.write());
        follow.map_err(|source| LandError::Worktree {
            into: request.into.to_owned(),
            worktree: worktree_path.clone().unwrap_or_default(),
            source,
        })?;
    }
    Ok(Some(Landed {
        commit: new.to_string(),
        source_commit: source.to_string(),
        files: change_paths(&changes),
        worktree: worktree_path,
    }))
}

/// Locks the index of the worktree that has the target checked out, and refuses if any of its
/// uncommitted changes (or untracked files) is in a path the landing changes.
fn lock_clean_paths(
    worktree: &gix::Repository,
    request: &LandRequest,
    changes: &[super::apply::PathChange],
) -> Result<LockedIndex, LandError> {
    let workdir = worktree.workdir().unwrap_or(worktree.git_dir()).to_owned();
    let git_error = |source: BoxError| request.git_error(source);
    let locked = LockedIndex::acquire(worktree).map_err(git_error)?;
    let files = dirty_paths(worktree, &locked.index, changes).map_err(git_error)?;
    if !files.is_empty() {
        return Err(LandError::DirtyTarget {
            into: request.into.to_owned(),
            worktree: workdir,
            files,
        });
    }
    Ok(locked)
}

/// The new tip of the target: written to the object database, referenced by nothing yet.
fn compute(
    repository: &gix::Repository,
    request: &LandRequest,
    tip: gix::ObjectId,
    source: gix::ObjectId,
) -> Result<gix::ObjectId, LandError> {
    let git_error = |source: BoxError| request.git_error(source);
    let nothing = || LandError::NothingToLand {
        branch: request.branch.to_owned(),
        into: request.into.to_owned(),
    };
    let base = repository
        .merge_base(tip, source)
        .map_err(|e| git_error(boxed(e)))?
        .map(gix::Id::detach)
        .ok_or_else(|| LandError::Unrelated {
            branch: request.branch.to_owned(),
            into: request.into.to_owned(),
        })?;
    if base == source {
        return Err(nothing());
    }
    let tip_tree = commit_tree(repository, tip).map_err(git_error)?;
    match request.strategy {
        LandStrategy::Squash | LandStrategy::Merge => {
            let tree = if base == tip {
                commit_tree(repository, source).map_err(git_error)?
            } else {
                merge_into(repository, request, base, tip_tree, source)?
            };
            if tree == tip_tree {
                return Err(nothing());
            }
            let parents = match request.strategy {
                LandStrategy::Merge => vec![tip, source],
                _ => vec![tip],
            };
            let commit = repository
                .new_commit(request.message, tree, parents)
                .map_err(|e| git_error(boxed(e)))?;
            Ok(commit.id)
        }
        LandStrategy::Rebase => {
            if base == tip {
                return Ok(source);
            }
            let rebased = rebase(repository, request, tip, source)?;
            if rebased == tip {
                return Err(nothing());
            }
            Ok(rebased)
        }
    }
}

/// Replays the first-parent commits of `source` that `onto` lacks, oldest first, skipping merge
/// commits and commits that become empty; each keeps its author and message.
fn rebase(
    repository: &gix::Repository,
    request: &LandRequest,
    onto: gix::ObjectId,
    source: gix::ObjectId,
) -> Result<gix::ObjectId, LandError> {
    let git_error = |source: BoxError| request.git_error(source);
    let walk = repository
        .rev_walk([source])
        .first_parent_only()
        .with_hidden([onto])
        .all()
        .map_err(|e| git_error(boxed(e)))?;
    let mut commits = Vec::new();
    for info in walk {
        commits.push(info.map_err(|e| git_error(boxed(e)))?.id);
    }
    commits.reverse();
    let committer = repository
        .committer()
        .ok_or("no committer identity")
        .map_err(|e| git_error(e.into()))?
        .map_err(|e| git_error(boxed(e)))?;
    let mut current = onto;
    for id in commits {
        let commit = repository
            .find_commit(id)
            .map_err(|e| git_error(boxed(e)))?;
        let parents: Vec<gix::ObjectId> = commit.parent_ids().map(gix::Id::detach).collect();
        let [parent] = parents.as_slice() else {
            continue;
        };
        let current_tree = commit_tree(repository, current).map_err(git_error)?;
        let tree = if *parent == current {
            commit_tree(repository, id).map_err(git_error)?
        } else {
            merge_into(repository, request, *parent, current_tree, id)?
        };
        if tree == current_tree {
            continue;
        }
        let decoded = commit.decode().map_err(|e| git_error(boxed(e)))?;
        let message = decoded.message.to_owned();
        let author = decoded.author().map_err(|e| git_error(boxed(e)))?;
        let new = repository
            .new_commit_as(committer, author, message.to_string(), tree, [current])
            .map_err(|e| git_error(boxed(e)))?;
        current = new.id;
    }
    Ok(current)
}

/// The names conflict markers carry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Labels<'a> {
    pub current: &'a str,
    pub other: &'a str,
}

/// The tree `into_tree` with the changes from commit `base` to commit `other` merged in, or
/// [`LandError::Conflicts`] naming the paths that conflict.
fn merge_into(
    repository: &gix::Repository,
    request: &LandRequest,
    base: gix::ObjectId,
    into_tree: gix::ObjectId,
    other: gix::ObjectId,
) -> Result<gix::ObjectId, LandError> {
    let git_error = |source: BoxError| request.git_error(source);
    let labels = Labels {
        current: request.into,
        other: request.branch,
    };
    merge_trees(
        repository,
        commit_tree(repository, base).map_err(git_error)?,
        into_tree,
        commit_tree(repository, other).map_err(git_error)?,
        labels,
    )
    .map_err(git_error)?
    .map_err(|files| LandError::Conflicts {
        branch: request.branch.to_owned(),
        into: request.into.to_owned(),
        files,
    })
}

/// Three-way merge of trees: the merged tree, or the conflicted paths.
pub(super) fn merge_trees(
    repository: &gix::Repository,
    base: gix::ObjectId,
    ours: gix::ObjectId,
    theirs: gix::ObjectId,
    labels: Labels,
) -> Result<Result<gix::ObjectId, Vec<String>>, BoxError> {
    let options = repository.tree_merge_options().map_err(boxed)?;
    let mut outcome = repository
        .merge_trees(
            base,
            ours,
            theirs,
            gix::merge::blob::builtin_driver::text::Labels {
                ancestor: Some("base".into()),
                current: Some(labels.current.into()),
                other: Some(labels.other.into()),
            },
            options,
        )
        .map_err(boxed)?;
    let how = gix::merge::tree::TreatAsUnresolved::git();
    if outcome.has_unresolved_conflicts(how) {
        return Ok(Err(conflicted_paths(&outcome.conflicts, how)));
    }
    Ok(Ok(outcome.tree.write().map_err(boxed)?.detach()))
}

/// The paths of the unresolved conflicts, sorted, once each.
pub(super) fn conflicted_paths(
    conflicts: &[gix::merge::tree::Conflict],
    how: gix::merge::tree::TreatAsUnresolved,
) -> Vec<String> {
    let mut files: Vec<String> = conflicts
        .iter()
        .filter(|conflict| conflict.is_unresolved(how))
        .flat_map(|conflict| {
            let (ours, theirs) = conflict.changes_in_resolution();
            [path_string(ours.location()), path_string(theirs.location())]
        })
        .collect();
    files.sort();
    files.dedup();
    files
}
