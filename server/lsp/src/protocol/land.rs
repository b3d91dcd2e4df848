//! The wire types of landing (protocol version 2): `lulu/land`, `lulu/sync`, `lulu/push`, and the
//! `SessionDetail` fields `baseBranch`, `ahead`, `behind` and `landed`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use lulu_core::sessions::{
    BranchStatus, LandResult as CoreLandResult, Pushed, SyncResult as CoreSyncResult,
};
use lulu_core::store::Landing;

use super::{SessionRow, timestamp};

/// The landing fields of `SessionDetail` (flattened into it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BranchDetail {
    pub base_branch: Option<String>,
    pub ahead: Option<u64>,
    pub behind: Option<u64>,
    pub landed: Option<Landed>,
}

/// `SessionDetail.landed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Landed {
    pub into: String,
    pub commit: String,
    #[ts(type = "LandStrategy")]
    pub strategy: String,
    pub at: String,
}

impl From<&Landing> for Landed {
    fn from(landing: &Landing) -> Self {
        Landed {
            into: landing.into.clone(),
            commit: landing.commit.clone(),
            strategy: landing.strategy.clone(),
            at: timestamp(&landing.at),
        }
    }
}

impl From<&BranchStatus> for BranchDetail {
    fn from(status: &BranchStatus) -> Self {
        BranchDetail {
            base_branch: status.base_branch.clone(),
            ahead: status.ahead.map(|count| count as u64),
            behind: status.behind.map(|count| count as u64),
            landed: status.landed.as_ref().map(Landed::from),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct LandParams {
    pub id: String,
    /// `squash` (default), `rebase` or `merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "LandStrategy")]
    pub strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LandResult {
    pub into: String,
    pub commit: String,
    #[ts(type = "LandStrategy")]
    pub strategy: String,
    pub files: u64,
}

impl From<&CoreLandResult> for LandResult {
    fn from(result: &CoreLandResult) -> Self {
        LandResult {
            into: result.into.clone(),
            commit: result.commit.clone(),
            strategy: result.strategy.as_str().to_owned(),
            files: result.files as u64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct SyncParams {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_resolves: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    /// `upToDate`, `synced` or `conflicts`.
    #[ts(type = "\"upToDate\" | \"synced\" | \"conflicts\"")]
    pub result: String,
    pub files: Vec<String>,
    pub session: SessionRow,
}

impl From<&CoreSyncResult> for SyncResult {
    fn from(result: &CoreSyncResult) -> Self {
        SyncResult {
            result: result.result.as_str().to_owned(),
            files: result.files.clone(),
            session: SessionRow::from(&result.session),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct PushParams {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestParams>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct PullRequestParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PushResult {
    pub remote: String,
    pub branch: String,
    pub url: Option<String>,
}

impl From<&Pushed> for PushResult {
    fn from(pushed: &Pushed) -> Self {
        PushResult {
            remote: pushed.remote.clone(),
            branch: pushed.branch.clone(),
            url: pushed.url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};

    use super::*;

    fn check<T: Serialize>(value: T, expected: Value) {
        pretty_assertions::assert_eq!(serde_json::to_value(value).expect("json"), expected);
    }

    #[test]
    fn landing_shapes() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .expect("time")
            .with_timezone(&Utc);
        check(
            BranchDetail::from(&BranchStatus::default()),
            json!({"baseBranch": null, "ahead": null, "behind": null, "landed": null}),
        );
        check(
            BranchDetail::from(&BranchStatus {
                base_branch: Some("main".to_owned()),
                ahead: Some(2),
                behind: Some(0),
                landed: Some(Landing {
                    into: "main".to_owned(),
                    commit: "abc".to_owned(),
                    strategy: "squash".to_owned(),
                    at,
                    source_commit: "def".to_owned(),
                }),
            }),
            json!({"baseBranch": "main", "ahead": 2, "behind": 0,
                   "landed": {"into": "main", "commit": "abc", "strategy": "squash",
                              "at": "2026-01-02T03:04:05.678Z"}}),
        );
        check(
            PushResult {
                remote: "origin".to_owned(),
                branch: "lulu/x".to_owned(),
                url: None,
            },
            json!({"remote": "origin", "branch": "lulu/x", "url": null}),
        );
    }
}
