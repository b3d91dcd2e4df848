//! A session's branches: the base branch recorded at spawn, and its landing.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::model::SessionId;

use super::*;

/// A session's work landed in a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    pub into: String,
    /// The new tip of `into`.
    pub commit: String,
    /// `squash`, `rebase` or `merge`.
    pub strategy: String,
    pub at: DateTime<Utc>,
    /// The tip of the session's branch that was landed: the branch counts as merged while it
    /// has nothing beyond it.
    pub source_commit: String,
}

/// What the store knows of a session's branches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionBranches {
    /// The branch the session started from; `None` when it started on a detached HEAD.
    pub base_branch: Option<String>,
    pub landed: Option<Landing>,
}

impl Store {
    /// Records the branch a session started from (at spawn).
    pub fn record_base_branch(
        &mut self,
        id: &SessionId,
        base_branch: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute(
                "INSERT INTO session_branches (session_id, base_branch) VALUES (?1, ?2) \
                 ON CONFLICT (session_id) DO UPDATE SET base_branch = excluded.base_branch",
                params![id.as_str(), base_branch],
            )?;
            Ok(())
        })
    }

    /// Records a landing, and stamps the session's row so every client's feed sees the change.
    pub fn record_landing(&mut self, id: &SessionId, landing: &Landing) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute(
                "INSERT INTO session_branches (session_id, landed_into, landed_commit, landed_strategy, \
                 landed_at, landed_source_commit) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (session_id) DO UPDATE SET landed_into = excluded.landed_into, \
                 landed_commit = excluded.landed_commit, landed_strategy = excluded.landed_strategy, \
                 landed_at = excluded.landed_at, landed_source_commit = excluded.landed_source_commit",
                params![
                    id.as_str(),
                    landing.into,
                    landing.commit,
                    landing.strategy,
                    format_time(landing.at),
                    landing.source_commit,
                ],
            )?;
            let change_seq = bump(transaction, "change")?;
            transaction.execute(
                "UPDATE sessions SET change_seq = ?2 WHERE id = ?1",
                params![id.as_str(), change_seq],
            )?;
            Ok(())
        })
    }

    /// The session's base branch and landing (both empty for a session spawned before version 2).
    pub fn session_branches(&self, id: &SessionId) -> Result<SessionBranches, StoreError> {
        type Row = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = self
            .connection
            .query_row(
                "SELECT base_branch, landed_into, landed_commit, landed_strategy, landed_at, \
                 landed_source_commit FROM session_branches WHERE session_id = ?1",
                [id.as_str()],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ))
                },
            )
            .optional()
            .map_err(|source| self.sqlite(source))?;
        let Some((base_branch, into, commit, strategy, at, source_commit)) = row else {
            return Ok(SessionBranches::default());
        };
        let landed = match (into, commit, strategy, at, source_commit) {
            (Some(into), Some(commit), Some(strategy), Some(at), Some(source_commit)) => {
                Some(Landing {
                    into,
                    commit,
                    strategy,
                    at: parse_time(&at).map_err(|message| self.corrupt(message))?,
                    source_commit,
                })
            }
            _ => None,
        };
        Ok(SessionBranches {
            base_branch,
            landed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_are_recorded_and_go_with_the_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path()).expect("open");
        let id = SessionId::new();
        let new = NewSession {
            id: id.clone(),
            created_at: Utc::now(),
            name: "n".to_owned(),
            repo: dir.path().to_owned(),
            prompt: "p".to_owned(),
            agent: "a".to_owned(),
            command: vec!["a".to_owned()],
            format: crate::model::OutputFormat::Text,
            env: Default::default(),
            base_ref: "HEAD".to_owned(),
            base_commit: "abc".to_owned(),
            max_running: 1,
            limits: Default::default(),
        };
        store.insert_session(&new).expect("insert");
        assert_eq!(
            store.session_branches(&id).expect("read"),
            SessionBranches::default()
        );
        store.record_base_branch(&id, Some("main")).expect("base");
        let before = store.session(&id).expect("row").expect("some").change_seq;
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .expect("time")
            .with_timezone(&Utc);
        let landing = Landing {
            into: "main".to_owned(),
            commit: "c".to_owned(),
            strategy: "squash".to_owned(),
            at,
            source_commit: "s".to_owned(),
        };
        store.record_landing(&id, &landing).expect("land");
        assert_eq!(
            store.session_branches(&id).expect("read"),
            SessionBranches {
                base_branch: Some("main".to_owned()),
                landed: Some(landing),
            }
        );
        let after = store.session(&id).expect("row").expect("some").change_seq;
        assert!(after > before, "the row is stamped for the change feed");
        // Ended sessions only are deleted; end it by hand.
        store
            .connection
            .execute(
                "UPDATE sessions SET status = 'completed' WHERE id = ?1",
                [id.as_str()],
            )
            .expect("end");
        assert!(store.delete_ended_session(&id).expect("delete"));
        let left: i64 = store
            .connection
            .query_row("SELECT count(*) FROM session_branches", [], |row| {
                row.get(0)
            })
            .expect("count");
        assert_eq!(left, 0);
    }
}
