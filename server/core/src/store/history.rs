//! Each run of a session (`runs`, kept by triggers on `sessions`: see the schema): what a
//! session that was continued did in each of its runs.

use chrono::{DateTime, Utc};
use rusqlite::Row;

use crate::model::{Outcome, SessionId, Status};

use super::*;

/// One run of a session as it stood when it last changed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// 1 for the first run, +1 for every `continue`.
    pub run: i64,
    pub prompt: String,
    /// When the run was asked for (the session's creation, or the `continue`).
    pub queued_at: DateTime<Utc>,
    pub status: Status,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub failure_reason: Option<String>,
    /// As the agent reported it by the end of the run (Claude reports the conversation's
    /// total, all runs so far).
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

impl Store {
    /// The runs of a session, first run first.
    pub fn run_history(&self, id: &SessionId) -> Result<Vec<RunRecord>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT run, prompt, queued_at, status, started_at, ended_at, outcome, \
                 failure_reason, cost_usd, input_tokens, output_tokens \
                 FROM runs WHERE session_id = ?1 ORDER BY run",
            )
            .map_err(|source| self.sqlite(source))?;
        let rows: Vec<Result<RunRecord, String>> = statement
            .query_map([id.as_str()], read_run_row)
            .and_then(|rows| rows.collect())
            .map_err(|source| self.sqlite(source))?;
        rows.into_iter()
            .map(|row| {
                row.map_err(|message| self.corrupt(format!("session {id}'s runs: {message}")))
            })
            .collect()
    }
}

fn read_run_row(row: &Row<'_>) -> rusqlite::Result<Result<RunRecord, String>> {
    let time = |text: Option<String>| text.as_deref().map(parse_time).transpose();
    let queued_at: String = row.get(2)?;
    let status: String = row.get(3)?;
    let started_at: Option<String> = row.get(4)?;
    let ended_at: Option<String> = row.get(5)?;
    let outcome: Option<String> = row.get(6)?;
    let run = row.get(0)?;
    let prompt = row.get(1)?;
    let failure_reason = row.get(7)?;
    let cost_usd = row.get(8)?;
    let input_tokens = row.get(9)?;
    let output_tokens = row.get(10)?;
    Ok((|| {
        Ok(RunRecord {
            run,
            prompt,
            queued_at: parse_time(&queued_at)?,
            status: status.parse().map_err(|error| format!("{error}"))?,
            started_at: time(started_at)?,
            ended_at: time(ended_at)?,
            outcome: outcome
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|error| format!("{error}"))?,
            failure_reason,
            cost_usd,
            input_tokens,
            output_tokens,
        })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewEvent;
    use crate::store::tests::{new_session, termination};

    /// (run, prompt, status, outcome, started, ended) of each run.
    type Summary = (i64, String, Status, Option<Outcome>, bool, bool);

    fn summaries(store: &Store, id: &SessionId) -> Vec<Summary> {
        store
            .run_history(id)
            .expect("runs")
            .into_iter()
            .map(|run| {
                (
                    run.run,
                    run.prompt,
                    run.status,
                    run.outcome,
                    run.started_at.is_some(),
                    run.ended_at.is_some(),
                )
            })
            .collect()
    }

    #[test]
    fn every_run_is_kept_as_it_ended_and_goes_with_its_session() {
        use Status::{Completed, Failed, Running, Starting};
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(dir.path()).expect("open");
        let id = new_session(&mut store, 6);
        let event = || NewEvent::lulu("status", "step");
        assert_eq!(
            summaries(&store, &id),
            [(1, "p".to_owned(), Starting, None, false, false)]
        );
        assert_eq!(
            store.try_claim_slot(&id, 1).expect("claim"),
            SlotClaim::Claimed
        );
        assert!(store.mark_running(&id, 1, &event()).expect("running"));
        assert_eq!(
            summaries(&store, &id),
            [(1, "p".to_owned(), Running, None, true, false)]
        );
        assert!(store.finish_run(&id, 1, &termination(Failed)).expect("end"));
        let next = store
            .begin_next_run(&id, "again", &["true".to_owned()], 6, &event())
            .expect("continue");
        assert_eq!(next, Some(2));
        assert!(
            store
                .finish_run(&id, 2, &termination(Completed))
                .expect("end")
        );
        assert_eq!(
            summaries(&store, &id),
            [
                (
                    1,
                    "p".to_owned(),
                    Failed,
                    Some(Outcome::Cancelled),
                    true,
                    true
                ),
                (
                    2,
                    "again".to_owned(),
                    Completed,
                    Some(Outcome::Exited),
                    false,
                    true
                ),
            ]
        );
        assert!(store.delete_ended_session(&id).expect("delete"));
        assert_eq!(summaries(&store, &id), []);
    }
}
