//! A run's transitions, each a compare-and-set on `(id, run, status)`: running slots, worktree, running, the one terminal state, agent reports, cancellation, the next run.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{NewEvent, Outcome, SessionId, Status};

use super::*;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Termination {
    pub status: Status,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// One line, present iff `status` is failed.
    pub failure_reason: Option<String>,
    pub failure_detail: Option<String>,
}

impl Termination {
    /// A failed run's end: the reason made one line, the whole story in `detail`.
    pub fn failed(
        outcome: Outcome,
        exit_code: Option<i32>,
        signal: Option<i32>,
        reason: &str,
        detail: String,
    ) -> Termination {
        Termination {
            status: Status::Failed,
            outcome,
            exit_code,
            signal,
            failure_reason: Some(crate::model::one_line_reason(reason)),
            failure_detail: Some(detail),
        }
    }

    /// The lifecycle line of a run's end: `completed`, or `failed: <reason>`. Built here only,
    /// so every end (runner, cancel, reconciliation, a runner that never started) reads alike.
    pub fn end_event(&self) -> NewEvent {
        let text = match &self.failure_reason {
            Some(reason) => format!("failed: {reason}"),
            None => "completed".to_owned(),
        };
        NewEvent::lulu("status", text)
    }
}

/// What the agent told us about itself (Claude's `result` line, Codex's usage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentReport {
    pub agent_session_id: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

/// The answer to a slot claim.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotClaim {
    Claimed,
    /// Every slot is taken, or sessions queued earlier are still waiting.
    Wait {
        running: i64,
        ahead: Vec<SessionId>,
    },
    /// The run is no longer starting (ended by cancel or reconciliation).
    Gone,
}

impl Store {
    /// Tries to take a running slot for this run, first come first served across every
    /// process sharing the database. A read decides first, so waiting runners poll without
    /// taking the write lock; the claim itself re-checks under `BEGIN IMMEDIATE`.
    pub fn try_claim_slot(&mut self, id: &SessionId, run: i64) -> Result<SlotClaim, StoreError> {
        let outlook =
            slot_outlook(&self.connection, id, run).map_err(|source| self.sqlite(source))?;
        if outlook != SlotClaim::Claimed {
            return Ok(outlook);
        }
        self.write(|transaction| {
            let outlook = slot_outlook(transaction, id, run)?;
            if outlook == SlotClaim::Claimed {
                transaction
                    .prepare_cached("UPDATE sessions SET slot_held = 1 WHERE id = ?1")?
                    .execute([id.as_str()])?;
            }
            Ok(outlook)
        })
    }

    /// Records the worktree of a session (first run).
    pub fn set_worktree(
        &mut self,
        id: &SessionId,
        worktree_path: &Path,
        branch: &str,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            transaction.prepare_cached(
                "UPDATE sessions SET worktree_path = ?2, branch = ?3, change_seq = ?4 WHERE id = ?1",
            )?.execute(params![
                    id.as_str(),
                    worktree_path.to_string_lossy(),
                    branch,
                    change_seq
                ])?;
            Ok(())
        })
    }

    /// `starting → running` for this run, with a lifecycle event. False if the run is gone.
    pub fn mark_running(
        &mut self,
        id: &SessionId,
        run: i64,
        event: &NewEvent,
    ) -> Result<bool, StoreError> {
        let now = format_time(event.at);
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let changed = transaction
                .prepare_cached(
                    "UPDATE sessions SET status = 'running', started_at = ?3, last_activity_at = ?3, change_seq = ?4 \
                     WHERE id = ?1 AND run = ?2 AND status = 'starting'",
                )?
                .execute(params![id.as_str(), run, now, change_seq])?;
            if changed == 1 {
                append_events_in(transaction, id, std::slice::from_ref(event))?;
            }
            Ok(changed == 1)
        })
    }

    /// The one terminal transition of a run (compare-and-set: only from starting or running,
    /// only for this run). Returns whether this call made it. The lifecycle event of the end
    /// ([`Termination::end_event`]) is written in the same transaction.
    pub fn finish_run(
        &mut self,
        id: &SessionId,
        run: i64,
        termination: &Termination,
    ) -> Result<bool, StoreError> {
        let event = termination.end_event();
        let now = format_time(event.at);
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let changed = transaction.prepare_cached(
                "UPDATE sessions SET status = ?3, outcome = ?4, exit_code = ?5, signal = ?6, failure_reason = ?7, \
                 failure_detail = ?8, ended_at = ?9, last_activity_at = ?9, slot_held = 0, change_seq = ?10 \
                 WHERE id = ?1 AND run = ?2 AND status IN ('starting', 'running')",
            )?.execute(params![
                    id.as_str(),
                    run,
                    termination.status.as_str(),
                    termination.outcome.as_str(),
                    termination.exit_code,
                    termination.signal,
                    termination.failure_reason,
                    termination.failure_detail,
                    now,
                    change_seq,
                ])?;
            if changed == 1 {
                append_events_in(transaction, id, std::slice::from_ref(&event))?;
                // Issue 12: a run's end resolves its pending permission requests.
                approvals::resolve_pending_in(transaction, id, &now)?;
            }
            Ok(changed == 1)
        })
    }

    /// Records what the agent reported about itself (only the fields it gave).
    pub fn set_agent_report(
        &mut self,
        id: &SessionId,
        report: &AgentReport,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            transaction
                .prepare_cached(
                    "UPDATE sessions SET agent_session_id = coalesce(?2, agent_session_id), \
                 cost_usd = coalesce(?3, cost_usd), input_tokens = coalesce(?4, input_tokens), \
                 output_tokens = coalesce(?5, output_tokens), change_seq = ?6 WHERE id = ?1",
                )?
                .execute(params![
                    id.as_str(),
                    report.agent_session_id,
                    report.cost_usd,
                    report.input_tokens,
                    report.output_tokens,
                    change_seq
                ])?;
            Ok(())
        })
    }

    /// Asks the runner of the current run to cancel. Returns the run it applies to, or None
    /// when the session has already ended.
    pub fn request_cancel(&mut self, id: &SessionId) -> Result<Option<i64>, StoreError> {
        self.write(|transaction| {
            let run: Option<i64> = transaction
                .query_row(
                    "UPDATE sessions SET cancel_requested_run = run \
                     WHERE id = ?1 AND status IN ('starting', 'running') RETURNING run",
                    [id.as_str()],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(run)
        })
    }

    pub fn cancel_requested(&self, id: &SessionId, run: i64) -> Result<bool, StoreError> {
        self.connection
            .prepare_cached("SELECT cancel_requested_run = ?2 FROM sessions WHERE id = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row(params![id.as_str(), run], |row| row.get::<_, bool>(0))
                    .optional()
            })
            .map(|value| value.unwrap_or(true))
            .map_err(|source| self.sqlite(source))
    }

    /// Sessions waiting for a running slot, first in the queue first (to wake their runners).
    pub fn waiting_for_slot(&self) -> Result<Vec<SessionId>, StoreError> {
        self.session_ids(
            "SELECT id FROM sessions WHERE status = 'starting' AND slot_held = 0 ORDER BY queue_seq",
        )
    }

    /// Sessions holding a running slot (a queued runner checks that their runners live).
    pub fn slot_holders(&self) -> Result<Vec<SessionId>, StoreError> {
        self.session_ids("SELECT id FROM sessions WHERE slot_held = 1")
    }

    fn session_ids(&self, sql: &str) -> Result<Vec<SessionId>, StoreError> {
        self.connection
            .prepare_cached(sql)
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| Ok(SessionId(row.get(0)?)))?
                    .collect()
            })
            .map_err(|source| self.sqlite(source))
    }

    /// Starts a new run of an ended session: `→ starting`, with a new prompt and command, at
    /// the back of the queue. Returns the new run number, or None if the session is not ended.
    pub fn begin_next_run(
        &mut self,
        id: &SessionId,
        prompt: &str,
        command: &[String],
        max_running: i64,
        event: &NewEvent,
    ) -> Result<Option<i64>, StoreError> {
        let command = serde_json::to_string(command).expect("a list of strings serializes");
        let now = format_time(event.at);
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let queue_seq = bump(transaction, "queue")?;
            let run: Option<i64> = transaction
                .query_row(
                    "UPDATE sessions SET status = 'starting', run = run + 1, prompt = ?2, command = ?3, \
                     max_running = ?4, queue_seq = ?5, change_seq = ?6, last_activity_at = ?7, \
                     failure_reason = NULL, failure_detail = NULL, outcome = NULL, exit_code = NULL, \
                     signal = NULL, started_at = NULL, ended_at = NULL, slot_held = 0 \
                     WHERE id = ?1 AND status IN ('completed', 'failed') RETURNING run",
                    params![id.as_str(), prompt, command, max_running, queue_seq, change_seq, now],
                    |row| row.get(0),
                )
                .optional()?;
            if run.is_some() {
                append_events_in(transaction, id, std::slice::from_ref(event))?;
            }
            Ok(run)
        })
    }
}

/// Whether this run may take a slot now: it is starting without a slot, fewer than its
/// `max_running` hold one, and nobody queued earlier is still waiting.
fn slot_outlook(connection: &Connection, id: &SessionId, run: i64) -> rusqlite::Result<SlotClaim> {
    let mine: Option<(i64, i64, String)> = connection
        .prepare_cached(
            "SELECT queue_seq, max_running, status FROM sessions WHERE id = ?1 AND run = ?2 AND slot_held = 0",
        )?
        .query_row(params![id.as_str(), run], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((queue_seq, max_running, status)) = mine else {
        return Ok(SlotClaim::Gone);
    };
    if status != "starting" {
        return Ok(SlotClaim::Gone);
    }
    let running: i64 = connection
        .prepare_cached("SELECT count(*) FROM sessions WHERE slot_held = 1")?
        .query_row([], |row| row.get(0))?;
    let mut statement = connection.prepare_cached(
        "SELECT id FROM sessions WHERE status = 'starting' AND slot_held = 0 AND queue_seq < ?1 ORDER BY queue_seq",
    )?;
    let ahead: Vec<SessionId> = statement
        .query_map([queue_seq], |row| Ok(SessionId(row.get(0)?)))?
        .collect::<Result<_, _>>()?;
    if running >= max_running || !ahead.is_empty() {
        return Ok(SlotClaim::Wait { running, ahead });
    }
    Ok(SlotClaim::Claimed)
}
