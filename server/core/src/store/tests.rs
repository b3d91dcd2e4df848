//! The store's transitions as data: each case is a list of steps on one session (and, where a
//! case needs it, a second one holding the only slot), each step with the answer it must get,
//! and the status the session must have at the end.

use std::collections::BTreeMap;

use chrono::Utc;

use super::*;
use crate::model::{NewEvent, Outcome, OutputFormat, SessionId, Status};

#[derive(Debug, Clone, Copy)]
enum Step {
    /// `try_claim_slot` for the current run: claimed (true) or not.
    Claim(bool),
    /// `mark_running`: did the compare-and-set take.
    MarkRunning(bool),
    /// `finish_run` with this status: did the compare-and-set take.
    Finish(Status, bool),
    /// `request_cancel`: was there a run to cancel.
    Cancel(bool),
    /// `cancel_requested` for the current run.
    CancelRequested(bool),
    /// `begin_next_run`: did a new run start (only from an ended session).
    NextRun(bool),
}

pub(super) fn new_session(store: &mut Store, max_running: i64) -> SessionId {
    let id = SessionId::new();
    store
        .insert_session(&NewSession {
            id: id.clone(),
            created_at: Utc::now(),
            name: "table".to_owned(),
            repo: "/nowhere/repo".into(),
            prompt: "p".to_owned(),
            agent: "text".to_owned(),
            command: vec!["true".to_owned()],
            format: OutputFormat::Text,
            env: BTreeMap::new(),
            base_ref: "HEAD".to_owned(),
            base_commit: "0".repeat(40),
            max_running,
            limits: Default::default(),
        })
        .expect("insert a session");
    id
}

/// A session that has ended (`completed`), for the tables that hang off sessions.
pub(super) fn insert_ended_session(store: &mut Store) -> SessionId {
    let id = new_session(store, 6);
    store
        .connection
        .execute(
            "UPDATE sessions SET status = 'completed' WHERE id = ?1",
            [id.as_str()],
        )
        .expect("end it");
    id
}

pub(super) fn termination(status: Status) -> Termination {
    let failed = status == Status::Failed;
    Termination {
        status,
        outcome: if failed {
            Outcome::Cancelled
        } else {
            Outcome::Exited
        },
        exit_code: Some(0),
        signal: None,
        failure_reason: failed.then(|| "cancelled".to_owned()),
        failure_detail: None,
    }
}

/// Runs the steps on a fresh session in a fresh database (with `max_running` slots, one of
/// them held by another running session when `slot_taken`), then checks the final status.
fn check(max_running: i64, slot_taken: bool, steps: &[Step], expected_status: Status) {
    let state_dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(state_dir.path()).expect("open the store");
    if slot_taken {
        let holder = new_session(&mut store, max_running);
        assert_eq!(
            store.try_claim_slot(&holder, 1).expect("claim"),
            SlotClaim::Claimed
        );
    }
    let id = new_session(&mut store, max_running);
    let mut run = 1;
    let event = || NewEvent::lulu("status", "step");
    for (index, step) in steps.iter().enumerate() {
        let answer = match *step {
            Step::Claim(_) => store.try_claim_slot(&id, run).expect("claim") == SlotClaim::Claimed,
            Step::MarkRunning(_) => store.mark_running(&id, run, &event()).expect("mark"),
            Step::Finish(status, _) => store
                .finish_run(&id, run, &termination(status))
                .expect("finish"),
            Step::Cancel(_) => store.request_cancel(&id).expect("cancel").is_some(),
            Step::CancelRequested(_) => store.cancel_requested(&id, run).expect("read"),
            Step::NextRun(_) => {
                let next = store
                    .begin_next_run(&id, "again", &["true".to_owned()], max_running, &event())
                    .expect("next run");
                if let Some(next) = next {
                    run = next;
                }
                next.is_some()
            }
        };
        let expected = match *step {
            Step::Claim(expected)
            | Step::MarkRunning(expected)
            | Step::Finish(_, expected)
            | Step::Cancel(expected)
            | Step::CancelRequested(expected)
            | Step::NextRun(expected) => expected,
        };
        assert_eq!(answer, expected, "step {index} ({step:?}) of {steps:?}");
    }
    let session = store.session(&id).expect("read").expect("the session");
    assert_eq!(session.status, expected_status, "after {steps:?}");
}

#[test]
fn transitions() {
    use Status::{Completed, Failed, Running, Starting};
    use Step::*;
    // The happy path, and the terminal transition happens once a run whoever races.
    check(
        1,
        false,
        &[Claim(true), MarkRunning(true), Finish(Completed, true)],
        Completed,
    );
    check(
        1,
        false,
        &[
            Claim(true),
            MarkRunning(true),
            Finish(Failed, true),
            Finish(Completed, false),
        ],
        Failed,
    );
    // starting -> failed directly (worktree or spawn failure, cancel while queued).
    check(1, false, &[Finish(Failed, true)], Failed);
    check(
        1,
        false,
        &[Finish(Failed, true), MarkRunning(false)],
        Failed,
    );
    // A full house keeps the session waiting; it stays starting.
    check(1, true, &[Claim(false)], Starting);
    check(2, true, &[Claim(true), MarkRunning(true)], Running);
    // Cancel marks the current run only while it is starting or running.
    check(1, false, &[Cancel(true), CancelRequested(true)], Starting);
    check(
        1,
        false,
        &[Claim(true), MarkRunning(true), CancelRequested(false)],
        Running,
    );
    check(
        1,
        false,
        &[Finish(Completed, true), Cancel(false)],
        Completed,
    );
    // A new run only of an ended session; its terminal transition is its own.
    check(1, false, &[Claim(true), NextRun(false)], Starting);
    check(
        1,
        false,
        &[
            Finish(Failed, true),
            NextRun(true),
            Claim(true),
            MarkRunning(true),
            Finish(Completed, true),
        ],
        Completed,
    );
    // A cancel of an earlier run does not cancel the next one.
    check(
        1,
        false,
        &[
            Cancel(true),
            Finish(Failed, true),
            NextRun(true),
            CancelRequested(false),
        ],
        Starting,
    );
}
