//! Permission requests of hosted agents (approvals) and messages for running agents.
//!
//! An approval is written by the session's runner when its agent asks (`control_request`
//! `can_use_tool`), answered by any client (`answer_approval`, a compare-and-set on "still
//! pending"), and delivered to the agent by the runner (`mark_approval_delivered`). A run's
//! end resolves whatever is still pending, in `finish_run`'s transaction. Every approval write
//! takes the next value of the `approval` counter: the feed's cursor for
//! `lulu/approvalRequested` / `lulu/approvalResolved`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde_json::Value;

use crate::model::SessionId;

use super::*;

/// Who or what resolved an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedBy {
    User,
    Timeout,
    Cancel,
}

impl ResolvedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedBy::User => "user",
            ResolvedBy::Timeout => "timeout",
            ResolvedBy::Cancel => "cancel",
        }
    }

    fn parse(text: &str) -> Result<ResolvedBy, String> {
        match text {
            "user" => Ok(ResolvedBy::User),
            "timeout" => Ok(ResolvedBy::Timeout),
            "cancel" => Ok(ResolvedBy::Cancel),
            other => Err(format!("unknown approval resolver {other:?}")),
        }
    }
}

/// How an approval was answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub allowed: bool,
    pub by: ResolvedBy,
    /// The words that go to the agent with a denial.
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

/// A permission request of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub id: String,
    pub session_id: SessionId,
    pub run: i64,
    /// The agent's own id for the request (`request_id` of its `control_request`).
    pub request_id: String,
    pub tool: String,
    pub input: Value,
    pub summary: String,
    pub requested_at: DateTime<Utc>,
    /// None while pending.
    pub resolution: Option<Resolution>,
    /// The answer went back to the agent.
    pub delivered: bool,
    pub change_seq: i64,
}

/// A request as the runner records it.
#[derive(Debug, Clone)]
pub struct NewApproval {
    pub session_id: SessionId,
    pub run: i64,
    pub request_id: String,
    pub tool: String,
    pub input: Value,
    pub summary: String,
}

/// A message for a running agent, as `lulu/send` queued it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMessage {
    pub session_id: SessionId,
    pub seq: i64,
    pub text: String,
}

const APPROVAL_COLUMNS: &str = "a.id, a.session_id, a.run, a.request_id, a.tool, a.input, a.summary, \
     a.requested_at, a.resolved_at, a.allowed, a.resolved_by, a.message, a.delivered, a.change_seq";

impl Store {
    pub fn insert_approval(&mut self, new: &NewApproval) -> Result<Approval, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let input = new.input.to_string();
        let now = format_time(Utc::now());
        self.write(|transaction| {
            let change_seq = bump(transaction, "approval")?;
            transaction.execute(
                "INSERT INTO approvals (id, session_id, run, request_id, tool, input, summary, requested_at, change_seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    new.session_id.as_str(),
                    new.run,
                    new.request_id,
                    new.tool,
                    input,
                    new.summary,
                    now,
                    change_seq
                ],
            )?;
            Ok(())
        })?;
        self.approval(&id)?
            .ok_or_else(|| self.corrupt(format!("approval {id} vanished after insert")))
    }

    pub fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals a WHERE a.id = ?1");
        let row = self
            .connection
            .query_row(&sql, [id], read_approval_row)
            .optional()
            .map_err(|source| self.sqlite(source))?;
        row.map(|row| row.map_err(|message| self.corrupt(message)))
            .transpose()
    }

    /// Pending approvals, oldest first: of one session, or of every session.
    pub fn pending_approvals(
        &self,
        session: Option<&SessionId>,
    ) -> Result<Vec<Approval>, StoreError> {
        match session {
            Some(id) => self.approvals_where(
                "a.session_id = ?1 AND a.resolved_at IS NULL ORDER BY a.requested_at, a.id",
                [id.as_str()],
            ),
            None => self.approvals_where("a.resolved_at IS NULL ORDER BY a.requested_at, a.id", []),
        }
    }

    /// Answers a pending approval (compare-and-set). None when it is no longer pending (or
    /// never was).
    pub fn answer_approval(
        &mut self,
        id: &str,
        allowed: bool,
        by: ResolvedBy,
        message: Option<&str>,
    ) -> Result<Option<Approval>, StoreError> {
        let now = format_time(Utc::now());
        let changed = self.write(|transaction| {
            let change_seq = bump(transaction, "approval")?;
            transaction.execute(
                "UPDATE approvals SET resolved_at = ?2, allowed = ?3, resolved_by = ?4, message = ?5, \
                 change_seq = ?6 WHERE id = ?1 AND resolved_at IS NULL",
                params![id, now, allowed, by.as_str(), message, change_seq],
            )
        })?;
        if changed == 0 {
            return Ok(None);
        }
        self.approval(id)
    }

    /// Answered approvals of this run whose answer has not gone to the agent yet.
    pub fn approvals_to_deliver(
        &self,
        session: &SessionId,
        run: i64,
    ) -> Result<Vec<Approval>, StoreError> {
        self.approvals_where(
            "a.session_id = ?1 AND a.run = ?2 AND a.delivered = 0 AND a.resolved_at IS NOT NULL \
             ORDER BY a.resolved_at, a.id",
            params![session.as_str(), run],
        )
    }

    pub fn mark_approval_delivered(&mut self, id: &str) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute("UPDATE approvals SET delivered = 1 WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// The `approval` counter now (the feed starts its cursor here).
    pub fn approval_change_seq(&self) -> Result<i64, StoreError> {
        self.connection
            .query_row(
                "SELECT value FROM counters WHERE name = 'approval'",
                [],
                |row| row.get(0),
            )
            .map_err(|source| self.sqlite(source))
    }

    /// Approvals written after `change_seq`, in change order, each with its session's
    /// repository (for the feed's scope).
    pub fn approvals_changed_since(
        &self,
        change_seq: i64,
        limit: usize,
    ) -> Result<Vec<(Approval, PathBuf)>, StoreError> {
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS}, s.repo FROM approvals a JOIN sessions s ON s.id = a.session_id \
             WHERE a.change_seq > ?1 ORDER BY a.change_seq LIMIT {}",
            limit.max(1)
        );
        let mut statement = self
            .connection
            .prepare_cached(&sql)
            .map_err(|source| self.sqlite(source))?;
        let rows = statement
            .query_map([change_seq], |row| {
                let approval = read_approval_row(row)?;
                let repo = PathBuf::from(row.get::<_, String>(14)?);
                Ok(approval.map(|approval| (approval, repo)))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|source| self.sqlite(source))?;
        rows.into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| self.corrupt(message))
    }

    /// Every pending approval with its session's repository (for a client that starts
    /// watching the list).
    pub fn pending_approvals_with_repo(&self) -> Result<Vec<(Approval, PathBuf)>, StoreError> {
        let pending = self.pending_approvals(None)?;
        let mut out = Vec::with_capacity(pending.len());
        for approval in pending {
            if let Some(session) = self.session(&approval.session_id)? {
                out.push((approval, session.repo));
            }
        }
        Ok(out)
    }

    /// Sets how the runner talks to the agent of a session (before a new run starts).
    pub fn set_input_mode(
        &mut self,
        session: &SessionId,
        input: crate::model::InputMode,
        approval_timeout: Option<std::time::Duration>,
    ) -> Result<(), StoreError> {
        let timeout_ms =
            approval_timeout.map(|timeout| i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
        self.write(|transaction| {
            transaction.execute(
                "UPDATE sessions SET input = ?2, approval_timeout_ms = ?3 WHERE id = ?1",
                params![session.as_str(), input.as_str(), timeout_ms],
            )?;
            Ok(())
        })
    }

    /// Queues a message for the current run of a session. Returns its per-session number.
    pub fn queue_message(
        &mut self,
        session: &SessionId,
        run: i64,
        text: &str,
    ) -> Result<i64, StoreError> {
        let now = format_time(Utc::now());
        self.write(|transaction| {
            transaction.query_row(
                "INSERT INTO messages (session_id, seq, run, text, sent_at) VALUES \
                 (?1, (SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE session_id = ?1), ?2, ?3, ?4) \
                 RETURNING seq",
                params![session.as_str(), run, text, now],
                |row| row.get(0),
            )
        })
    }

    /// Messages of this run not yet written to the agent, in the order they were sent.
    pub fn messages_to_deliver(
        &self,
        session: &SessionId,
        run: i64,
    ) -> Result<Vec<QueuedMessage>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT seq, text FROM messages WHERE session_id = ?1 AND run = ?2 \
                 AND delivered_at IS NULL ORDER BY seq",
            )
            .map_err(|source| self.sqlite(source))?;
        statement
            .query_map(params![session.as_str(), run], |row| {
                Ok(QueuedMessage {
                    session_id: session.clone(),
                    seq: row.get(0)?,
                    text: row.get(1)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|source| self.sqlite(source))
    }

    pub fn mark_message_delivered(
        &mut self,
        session: &SessionId,
        seq: i64,
    ) -> Result<(), StoreError> {
        let now = format_time(Utc::now());
        self.write(|transaction| {
            transaction.execute(
                "UPDATE messages SET delivered_at = ?3 WHERE session_id = ?1 AND seq = ?2",
                params![session.as_str(), seq, now],
            )?;
            Ok(())
        })
    }

    fn approvals_where<P: rusqlite::Params>(
        &self,
        condition: &str,
        values: P,
    ) -> Result<Vec<Approval>, StoreError> {
        let sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals a WHERE {condition}");
        let mut statement = self
            .connection
            .prepare_cached(&sql)
            .map_err(|source| self.sqlite(source))?;
        let rows = statement
            .query_map(values, read_approval_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|source| self.sqlite(source))?;
        rows.into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| self.corrupt(message))
    }
}

/// Resolves every pending approval of a session as cancelled (its run ended), inside the
/// run's terminal transaction.
pub(super) fn resolve_pending_in(
    transaction: &rusqlite::Transaction<'_>,
    session: &SessionId,
    at: &str,
) -> rusqlite::Result<()> {
    let pending: Vec<String> = {
        let mut statement = transaction.prepare_cached(
            "SELECT id FROM approvals WHERE session_id = ?1 AND resolved_at IS NULL ORDER BY requested_at",
        )?;
        statement
            .query_map([session.as_str()], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    for id in pending {
        let change_seq = bump(transaction, "approval")?;
        transaction.execute(
            "UPDATE approvals SET resolved_at = ?2, allowed = 0, resolved_by = 'cancel', \
             message = 'the session ended before an answer came', change_seq = ?3 WHERE id = ?1",
            params![id, at, change_seq],
        )?;
    }
    Ok(())
}

fn read_approval_row(row: &Row<'_>) -> rusqlite::Result<Result<Approval, String>> {
    let id: String = row.get(0)?;
    let session_id: String = row.get(1)?;
    let run: i64 = row.get(2)?;
    let request_id: String = row.get(3)?;
    let tool: String = row.get(4)?;
    let input: String = row.get(5)?;
    let summary: String = row.get(6)?;
    let requested_at: String = row.get(7)?;
    let resolved_at: Option<String> = row.get(8)?;
    let allowed: Option<bool> = row.get(9)?;
    let resolved_by: Option<String> = row.get(10)?;
    let message: Option<String> = row.get(11)?;
    let delivered: bool = row.get(12)?;
    let change_seq: i64 = row.get(13)?;
    let build = || -> Result<Approval, String> {
        let resolution = match (resolved_at, resolved_by) {
            (Some(at), Some(by)) => Some(Resolution {
                allowed: allowed.unwrap_or(false),
                by: ResolvedBy::parse(&by)?,
                message,
                at: parse_time(&at)?,
            }),
            _ => None,
        };
        Ok(Approval {
            input: serde_json::from_str(&input)
                .map_err(|error| format!("bad input of approval {id}: {error}"))?,
            requested_at: parse_time(&requested_at)?,
            session_id: SessionId(session_id),
            id,
            run,
            request_id,
            tool,
            summary,
            resolution,
            delivered,
            change_seq,
        })
    };
    Ok(build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::insert_ended_session;

    #[test]
    fn a_removed_session_takes_its_approvals_and_messages_with_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(dir.path()).expect("open");
        let session = insert_ended_session(&mut store);
        let kept = insert_ended_session(&mut store);
        for id in [&session, &kept] {
            store
                .insert_approval(&NewApproval {
                    session_id: id.clone(),
                    run: 1,
                    request_id: "r1".to_owned(),
                    tool: "Bash".to_owned(),
                    input: serde_json::json!({"command": "npm test"}),
                    summary: "Bash: npm test".to_owned(),
                })
                .expect("insert approval");
            store.queue_message(id, 1, "and the docs").expect("queue");
        }
        assert!(store.delete_ended_session(&session).expect("delete"));
        let rows = |table: &str, id: &SessionId| -> i64 {
            store
                .connection
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE session_id = ?1"),
                    [id.as_str()],
                    |row| row.get(0),
                )
                .expect("count")
        };
        assert_eq!(
            [rows("approvals", &session), rows("messages", &session)],
            [0, 0]
        );
        assert_eq!([rows("approvals", &kept), rows("messages", &kept)], [1, 1]);
    }
}
