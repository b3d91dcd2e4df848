//! What worktree reconciliation needs from the rows, and nothing more.

use std::path::{Path, PathBuf};

use super::*;

impl Store {
    /// The worktree paths of a repository's sessions, as stored (canonical since they are
    /// stored canonical).
    pub fn worktree_paths_of_repo(&self, repo: &Path) -> Result<Vec<PathBuf>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT worktree_path FROM sessions WHERE repo = ?1 AND worktree_path IS NOT NULL",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([repo.to_string_lossy()], |row| {
                        Ok(PathBuf::from(row.get::<_, String>(0)?))
                    })?
                    .collect()
            })
            .map_err(|source| self.sqlite(source))
    }
}
