//! What worktree reconciliation needs from the rows, and nothing more.

use std::path::{Path, PathBuf};

use super::*;

/// Read from the index `sessions_worktrees` alone.
const WORKTREE_PATHS_OF_REPO: &str =
    "SELECT worktree_path FROM sessions WHERE repo = ?1 AND worktree_path IS NOT NULL";

impl Store {
    /// The worktree paths of a repository's sessions, as stored (canonical since they are
    /// stored canonical).
    pub fn worktree_paths_of_repo(&self, repo: &Path) -> Result<Vec<PathBuf>, StoreError> {
        self.connection
            .prepare_cached(WORKTREE_PATHS_OF_REPO)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::new_session;

    fn plan(store: &Store, sql: &str) -> String {
        let mut statement = store
            .connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let details = statement
            .query_map(["/a"], |row| row.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<Vec<_>, _>>()
            .expect("plan rows");
        details.join("; ")
    }

    /// A database from before the worktree paths' index (schema version 6) is upgraded at
    /// open; the repositories and their worktree paths are then read from indexes alone, one
    /// seek per repository, not a row per session ever run.
    #[test]
    fn worktree_paths_and_repositories_come_from_indexes_after_the_upgrade() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(dir.path()).expect("open");
        for (repo, worktree) in [
            ("/b", Some("/w/b-1")),
            ("/a", Some("/w/a-1")),
            ("/b", None),
            ("/a", Some("/w/a-2")),
            ("/c", None),
        ] {
            let id = new_session(&mut store, 6);
            store
                .connection
                .execute(
                    "UPDATE sessions SET repo = ?2, worktree_path = ?3 WHERE id = ?1",
                    rusqlite::params![id.as_str(), repo, worktree],
                )
                .expect("place the session");
        }
        store
            .connection
            .execute_batch("DROP INDEX sessions_worktrees; PRAGMA user_version = 6;")
            .expect("make it a version 6 database");
        drop(store);
        let store = Store::open(dir.path()).expect("open and upgrade");
        let version: i64 = store
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("user_version");
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(
            store.repositories().expect("repositories"),
            ["/a", "/b", "/c"].map(PathBuf::from)
        );
        let mut paths = store
            .worktree_paths_of_repo(Path::new("/a"))
            .expect("paths");
        paths.sort();
        assert_eq!(paths, ["/w/a-1", "/w/a-2"].map(PathBuf::from));
        assert_eq!(
            store
                .worktree_paths_of_repo(Path::new("/c"))
                .expect("paths"),
            Vec::<PathBuf>::new()
        );
        let by_repo = plan(&store, WORKTREE_PATHS_OF_REPO);
        assert!(
            by_repo.contains("COVERING INDEX sessions_worktrees"),
            "{by_repo}"
        );
    }
}
