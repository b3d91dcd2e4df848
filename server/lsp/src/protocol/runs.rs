//! Wire type of a session's run history (`SessionDetail.runs`, a lulu addition to version 2).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::timestamp;

/// One run of a session: its prompt, times, outcome and the agent's report as it stood at the
/// run's end (Claude reports the conversation's total cost, all runs so far).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub run: i64,
    pub prompt: String,
    pub queued_at: String,
    #[ts(type = "Status")]
    pub status: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    #[ts(type = "Outcome | null")]
    pub outcome: Option<String>,
    pub failure_reason: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

impl From<&lulu_core::store::RunRecord> for RunSummary {
    fn from(run: &lulu_core::store::RunRecord) -> RunSummary {
        RunSummary {
            run: run.run,
            prompt: run.prompt.clone(),
            queued_at: timestamp(&run.queued_at),
            status: run.status.as_str().to_owned(),
            started_at: run.started_at.as_ref().map(timestamp),
            ended_at: run.ended_at.as_ref().map(timestamp),
            outcome: run.outcome.map(|outcome| outcome.as_str().to_owned()),
            failure_reason: run.failure_reason.clone(),
            cost_usd: run.cost_usd,
            input_tokens: run.input_tokens,
            output_tokens: run.output_tokens,
        }
    }
}
