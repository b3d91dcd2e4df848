//! Wire types of issue 12: approvals, messages, budgets.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use lulu_core::store::Approval as CoreApproval;

use super::{method, timestamp};

/// An open permission request of an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub approval_id: String,
    pub session_id: String,
    pub tool: String,
    #[ts(type = "Record<string, unknown>")]
    pub input: Value,
    pub summary: String,
    pub requested_at: String,
}

impl From<&CoreApproval> for Approval {
    fn from(approval: &CoreApproval) -> Approval {
        Approval {
            approval_id: approval.id.clone(),
            session_id: approval.session_id.0.clone(),
            tool: approval.tool.clone(),
            input: approval.input.clone(),
            summary: approval.summary.clone(),
            requested_at: timestamp(&approval.requested_at),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalsResult {
    pub approvals: Vec<Approval>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApproveParams {
    pub approval_id: String,
    pub allow: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SendParams {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequestedParams {
    pub approval: Approval,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalResolvedParams {
    pub approval_id: String,
    pub session_id: String,
    pub allowed: bool,
    /// `user`, `timeout` or `cancel`.
    #[ts(type = "\"user\" | \"timeout\" | \"cancel\"")]
    pub by: String,
}

impl ApprovalResolvedParams {
    /// None while the approval is pending.
    pub fn of(approval: &CoreApproval) -> Option<ApprovalResolvedParams> {
        let resolution = approval.resolution.as_ref()?;
        Some(ApprovalResolvedParams {
            approval_id: approval.id.clone(),
            session_id: approval.session_id.0.clone(),
            allowed: resolution.allowed,
            by: resolution.by.as_str().to_owned(),
        })
    }
}

/// `lulu/approvalRequested`.
#[derive(Debug)]
pub enum ApprovalRequested {}
impl tower_lsp_server::ls_types::notification::Notification for ApprovalRequested {
    type Params = ApprovalRequestedParams;
    const METHOD: &'static str = method::APPROVAL_REQUESTED;
}

/// `lulu/approvalResolved`.
#[derive(Debug)]
pub enum ApprovalResolved {}
impl tower_lsp_server::ls_types::notification::Notification for ApprovalResolved {
    type Params = ApprovalResolvedParams;
    const METHOD: &'static str = method::APPROVAL_RESOLVED;
}
