//! Provisioning rows: what a session's repository asked for at spawn (include patterns, the
//! trusted setup command, how many ports), its port leases, and worktrees reclaimed by gc.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::{model::SessionId, provision::RepoProvisioning};

use super::*;

/// A lease counts only while its session is live in the run that took it; anything else is
/// stale, whoever forgot to release it (a runner that died).
/// Leases whose session is no longer live in the run that leased them.
const STALE_LEASE: &str = "NOT EXISTS (SELECT 1 FROM sessions s \
     WHERE s.id = port_leases.session_id AND s.run = port_leases.run AND s.status IN ('starting', 'running'))";

impl Store {
    /// Records what the repository asked of this session's worktree.
    pub fn set_provision(
        &mut self,
        id: &SessionId,
        provisioning: &RepoProvisioning,
    ) -> Result<(), StoreError> {
        let include =
            serde_json::to_string(&provisioning.include).expect("a list of strings serializes");
        self.write(|transaction| {
            transaction.execute(
                "INSERT INTO session_provision (session_id, include, setup, ports) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (session_id) DO UPDATE SET include = ?2, setup = ?3, ports = ?4",
                params![id.as_str(), include, provisioning.setup, provisioning.ports],
            )?;
            Ok(())
        })
    }

    /// What the repository asked of this session's worktree (None: nothing).
    pub fn provision(&self, id: &SessionId) -> Result<Option<RepoProvisioning>, StoreError> {
        let row: Option<(String, Option<String>, u32)> = self
            .connection
            .query_row(
                "SELECT include, setup, ports FROM session_provision WHERE session_id = ?1",
                [id.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(|source| self.sqlite(source))?;
        row.map(|(include, setup, ports)| {
            let include: Vec<String> = serde_json::from_str(&include)
                .map_err(|error| self.corrupt(format!("bad include list {include:?}: {error}")))?;
            Ok(RepoProvisioning {
                include,
                setup,
                ports,
            })
        })
        .transpose()
    }

    /// Takes `port` for this run; false if another session holds it.
    pub fn try_lease_port(
        &mut self,
        id: &SessionId,
        run: i64,
        port: u16,
    ) -> Result<bool, StoreError> {
        let now = format_time(Utc::now());
        self.write(|transaction| {
            let inserted = transaction.execute(
                "INSERT OR IGNORE INTO port_leases (port, session_id, run, leased_at) VALUES (?1, ?2, ?3, ?4)",
                params![port, id.as_str(), run, now],
            )?;
            Ok(inserted == 1)
        })
    }

    /// Gives back every port this session holds.
    pub fn release_ports(&mut self, id: &SessionId) -> Result<usize, StoreError> {
        self.write(|transaction| {
            transaction.execute(
                "DELETE FROM port_leases WHERE session_id = ?1",
                [id.as_str()],
            )
        })
    }

    /// Gives back the ports of sessions that are no longer live in the run that leased them.
    /// Looks first, outside any transaction: with nothing to give back (the usual case) it
    /// takes no write lock, so a reader (`lulu ls`, a server's first page) never waits behind a
    /// busy writer for it.
    pub fn release_stale_ports(&mut self) -> Result<usize, StoreError> {
        let any_stale: bool = self
            .connection
            .prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM port_leases WHERE {STALE_LEASE})"
            ))
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(|source| self.sqlite(source))?;
        if !any_stale {
            return Ok(0);
        }
        self.write(|transaction| {
            transaction.execute(&format!("DELETE FROM port_leases WHERE {STALE_LEASE}"), [])
        })
    }

    /// The ports this session holds now (empty once it ended).
    pub fn ports_of(&self, id: &SessionId) -> Result<Vec<u16>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT l.port FROM port_leases l JOIN sessions s ON s.id = l.session_id AND s.run = l.run \
                 WHERE l.session_id = ?1 AND s.status IN ('starting', 'running') ORDER BY l.rowid",
            )
            .map_err(|source| self.sqlite(source))?;
        statement
            .query_map([id.as_str()], |row| row.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<u16>, _>>())
            .map_err(|source| self.sqlite(source))
    }

    /// Ended sessions older than `ended_before` whose worktree is still there, oldest first.
    pub fn gc_candidates(&self, ended_before: DateTime<Utc>) -> Result<Vec<SessionId>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id FROM sessions WHERE status IN ('completed', 'failed') AND ended_at < ?1 \
                 AND worktree_path IS NOT NULL \
                 AND id NOT IN (SELECT session_id FROM collected_worktrees) ORDER BY ended_at",
            )
            .map_err(|source| self.sqlite(source))?;
        statement
            .query_map([format_time(ended_before)], |row| {
                Ok(SessionId(row.get(0)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|source| self.sqlite(source))
    }

    /// Records that gc removed this ended session's worktree (a compare-and-set: false if the
    /// session is no longer ended). Bumps the row's change so clients refresh it.
    pub fn mark_worktree_collected(&mut self, id: &SessionId) -> Result<bool, StoreError> {
        let now = format_time(Utc::now());
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let changed = transaction.execute(
                "UPDATE sessions SET change_seq = ?2 WHERE id = ?1 AND status IN ('completed', 'failed')",
                params![id.as_str(), change_seq],
            )?;
            if changed == 1 {
                transaction.execute(
                    "INSERT OR REPLACE INTO collected_worktrees (session_id, removed_at) VALUES (?1, ?2)",
                    params![id.as_str(), now],
                )?;
            }
            Ok(changed == 1)
        })
    }

    /// The worktree is back (continue re-created it).
    pub fn clear_worktree_collected(&mut self, id: &SessionId) -> Result<(), StoreError> {
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            transaction.execute(
                "DELETE FROM collected_worktrees WHERE session_id = ?1",
                [id.as_str()],
            )?;
            transaction.execute(
                "UPDATE sessions SET change_seq = ?2 WHERE id = ?1",
                params![id.as_str(), change_seq],
            )?;
            Ok(())
        })
    }

    /// Whether gc removed this session's worktree (and nothing re-created it since).
    pub fn worktree_collected(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.connection
            .query_row(
                "SELECT 1 FROM collected_worktrees WHERE session_id = ?1",
                [id.as_str()],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|source| self.sqlite(source))
    }

    /// Every session whose worktree gc removed.
    pub fn collected_worktrees(&self) -> Result<HashSet<SessionId>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT session_id FROM collected_worktrees")
            .map_err(|source| self.sqlite(source))?;
        statement
            .query_map([], |row| Ok(SessionId(row.get(0)?)))
            .and_then(|rows| rows.collect::<Result<HashSet<_>, _>>())
            .map_err(|source| self.sqlite(source))
    }

    /// Drops provisioning rows of sessions that were removed.
    pub fn forget_removed_provisioning(&mut self) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute_batch(
                "DELETE FROM session_provision WHERE session_id NOT IN (SELECT id FROM sessions); \
                 DELETE FROM collected_worktrees WHERE session_id NOT IN (SELECT id FROM sessions); \
                 DELETE FROM port_leases WHERE session_id NOT IN (SELECT id FROM sessions);",
            )
        })
    }
}
