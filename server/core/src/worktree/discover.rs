//! Finding the repository a path belongs to, and resolving revisions to commits.

use std::path::{Path, PathBuf};

use super::*;

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

/// Finds the git repository containing `path` and returns the canonical top-level directory of its
/// main working tree. A linked worktree (a session's, or any other) belongs to its main
/// repository: a path inside one resolves to the main checkout's top level, so sessions listed
/// or spawned from there are the main repository's, and new worktrees never nest inside a
/// worktree. (A linked worktree of a bare repository, which has no main checkout, stays itself.)
pub fn discover_repository(path: &Path) -> Result<PathBuf, DiscoverError> {
    let repo = gix::discover(path).map_err(|source| DiscoverError::NotARepository {
        path: path.to_owned(),
        source: boxed(source),
    })?;
    let repo = match repo.kind() {
        gix::repository::Kind::LinkedWorkTree => match repo.main_repo() {
            Ok(main) if main.workdir().is_some() => main,
            Ok(_) => repo,
            Err(source) => {
                return Err(DiscoverError::Read {
                    path: path.to_owned(),
                    source: boxed(source),
                });
            }
        },
        _ => repo,
    };
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

pub(super) fn resolve_commit_in(
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
