//! A file's content as a commit has it (the "old" side of a review comment).

use std::path::{Path, PathBuf};

use super::*;

/// Why [`file_at_commit`] failed.
#[derive(Debug, thiserror::Error)]
pub enum FileAtCommitError {
    #[error("could not read {file:?} at commit {commit} in the worktree {}", worktree.display())]
    Read {
        worktree: PathBuf,
        commit: String,
        file: String,
        #[source]
        source: BoxError,
    },
}

/// The content of `file` (relative, `/`-separated) in `commit`'s tree, or `None` when the commit
/// has no such file.
pub fn file_at_commit(
    worktree_path: &Path,
    commit: &str,
    file: &str,
) -> Result<Option<Vec<u8>>, FileAtCommitError> {
    let failed = |source: BoxError| FileAtCommitError::Read {
        worktree: worktree_path.to_owned(),
        commit: commit.to_owned(),
        file: file.to_owned(),
        source,
    };
    let repo = gix::open(worktree_path).map_err(|error| failed(boxed(error)))?;
    let tree = repo
        .rev_parse_single(commit)
        .map_err(|error| failed(boxed(error)))?
        .object()
        .map_err(|error| failed(boxed(error)))?
        .peel_to_commit()
        .map_err(|error| failed(boxed(error)))?
        .tree()
        .map_err(|error| failed(boxed(error)))?;
    let Some(entry) = tree
        .lookup_entry_by_path(file)
        .map_err(|error| failed(boxed(error)))?
    else {
        return Ok(None);
    };
    if !entry.mode().is_blob() {
        return Ok(None);
    }
    let object = entry.object().map_err(|error| failed(boxed(error)))?;
    Ok(Some(object.data.clone()))
}
