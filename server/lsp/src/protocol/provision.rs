//! Wire types of provisioning (issue 14): `lulu/trust`, the `lulu/gc` extension, the -32021
//! error's data, and the `SessionDetail` fields `ports` and `worktreeGone`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use lulu_core::{
    model::Session,
    sessions::{GcReport, ProvisionState},
};

use super::{SessionDetail, path_text};

/// `SessionDetail`'s provisioning fields (flattened into it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DetailProvision {
    /// Ports leased to the session's current run; empty when none (or once it ended).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// lulu extension: `lulu gc` removed the worktree of this ended session (`worktreePath` is
    /// then null); `lulu/continue` re-creates it from the session's branch.
    #[serde(default)]
    pub worktree_gone: bool,
}

/// The session's detail with what provisioning knows about it.
pub fn session_detail(session: &Session, state: &ProvisionState) -> SessionDetail {
    let mut detail = SessionDetail::from(session);
    detail.provision = DetailProvision {
        ports: state.ports.clone(),
        worktree_gone: state.worktree_gone,
    };
    if state.worktree_gone {
        detail.worktree_path = None;
    }
    detail
}

/// The params of `lulu/trust`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TrustParams {
    /// Any path inside the repository (the `repo` of the -32021 error's data).
    pub repo: String,
    /// The `setupHash` of the -32021 error's data.
    pub setup_hash: String,
}

/// The data of error -32021.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UntrustedSetupData {
    pub repo: String,
    pub setup: String,
    pub setup_hash: String,
}

/// The params of `lulu/gc` (lulu extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct GcParams {
    /// An age: `7d`, `12h`, `30m`, `45s`.
    pub older_than: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub dry_run: Option<bool>,
    /// Also remove ignored files that are in no commit and not in the main checkout (build
    /// output, an edited `.env`); without it such a worktree is kept, its reason naming them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub include_ignored: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct GcRemoved {
    pub id: String,
    pub worktree_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct GcKept {
    pub id: String,
    pub reason: String,
}

/// The result of `lulu/gc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct GcResult {
    pub removed: Vec<GcRemoved>,
    pub kept: Vec<GcKept>,
}

impl From<&GcReport> for GcResult {
    fn from(report: &GcReport) -> GcResult {
        GcResult {
            removed: report
                .removed
                .iter()
                .map(|(id, path)| GcRemoved {
                    id: id.to_string(),
                    worktree_path: path_text(path),
                })
                .collect(),
            kept: report
                .kept
                .iter()
                .map(|kept| GcKept {
                    id: kept.id.to_string(),
                    reason: kept.reason.clone(),
                })
                .collect(),
        }
    }
}
