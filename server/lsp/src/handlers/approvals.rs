//! `lulu/approvals`, `lulu/approve`, `lulu/send` (issue 12).

use serde_json::Value;
use tower_lsp_server::jsonrpc::Result as RpcResult;

use lulu_core::sessions::{ApprovalAnswer, MESSAGE_MAX_BYTES};

use super::{check_id, error, invalid_params, op_error, parse};
use crate::{
    Backend,
    protocol::{
        Approval, ApprovalsParams, ApprovalsResult, ApproveParams, Empty, SendParams, code, method,
        quote_short,
    },
};

/// Approval ids are UUIDs; anything much longer is no id lulu made.
const APPROVAL_ID_MAX_CHARS: usize = 64;

impl Backend {
    pub(crate) async fn approvals(&self, params: Value) -> RpcResult<ApprovalsResult> {
        let params: ApprovalsParams = parse(method::APPROVALS, params)?;
        if let Some(id) = &params.id {
            check_id(id)?;
        }
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let approvals = super::blocking(method::APPROVALS, move || {
            sessions.approvals(params.id.as_deref())
        })
        .await?
        .map_err(|failure| op_error(failure.kind(), &failure))?;
        Ok(ApprovalsResult {
            approvals: approvals.iter().map(Approval::from).collect(),
        })
    }

    pub(crate) async fn approve(&self, params: Value) -> RpcResult<Empty> {
        let params: ApproveParams = parse(method::APPROVE, params)?;
        if params.approval_id.trim().is_empty() {
            return Err(invalid_params("`approvalId` is empty"));
        }
        if params.approval_id.chars().count() > APPROVAL_ID_MAX_CHARS {
            return Err(error(
                code::NO_SUCH_SESSION,
                format!(
                    "no pending approval with id {}",
                    quote_short(&params.approval_id)
                ),
                None,
            ));
        }
        if let Some(message) = &params.message
            && message.len() > MESSAGE_MAX_BYTES
        {
            return Err(invalid_params(format!(
                "`message` is {} bytes long; the limit is {MESSAGE_MAX_BYTES} bytes",
                message.len()
            )));
        }
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let answer = ApprovalAnswer {
            approval_id: params.approval_id,
            allow: params.allow,
            message: params.message,
        };
        super::blocking(method::APPROVE, move || sessions.approve(answer))
            .await?
            .map_err(|failure| op_error(failure.kind(), &failure))?;
        Ok(Empty {})
    }

    pub(crate) async fn send(&self, params: Value) -> RpcResult<Empty> {
        let params: SendParams = parse(method::SEND, params)?;
        check_id(&params.id)?;
        let core = self.core()?;
        let sessions = core.sessions.clone();
        super::blocking(method::SEND, move || {
            sessions.send(&params.id, &params.text)
        })
        .await?
        .map_err(|failure| op_error(failure.kind(), &failure))?;
        Ok(Empty {})
    }
}
