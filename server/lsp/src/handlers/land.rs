//! `lulu/land`, `lulu/sync`, `lulu/push`, and the landing fields of `lulu/session`.

use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::{Error as RpcError, Result as RpcResult};

use super::{Backend, blocking, check_id, invalid_params, op_error, parse};
use lulu_core::{
    model::Session,
    sessions::{LandOptions, PullRequest, PushOptions, Sessions, SyncOptions},
    worktree::LandStrategy,
};

use crate::protocol::{
    BranchDetail, LandParams, LandResult, PushParams, PushResult, SyncParams, SyncResult, method,
};

/// Messages and titles longer than this are not something a person typed.
const TEXT_MAX_BYTES: usize = 64 * 1024;

/// An operation's error whose `data` names the files at fault (conflicts, dirty files in the way).
fn error_with_files(
    kind: lulu_core::sessions::ErrorKind,
    failure: &(dyn std::error::Error + 'static),
    files: Option<&[String]>,
) -> RpcError {
    let mut rpc = op_error(kind, failure);
    if let Some(files) = files {
        let mut data = rpc.data.take().unwrap_or_else(|| json!({}));
        if let Value::Object(map) = &mut data {
            map.insert("files".to_owned(), json!(files));
        }
        rpc.data = Some(data);
    }
    rpc
}

fn check_text(field: &str, text: Option<&str>) -> RpcResult<()> {
    match text {
        Some(text) if text.len() > TEXT_MAX_BYTES => Err(invalid_params(format!(
            "`{field}` is {} bytes long; the limit is {TEXT_MAX_BYTES} bytes",
            text.len()
        ))),
        _ => Ok(()),
    }
}

/// The landing fields of a session's detail (ahead/behind computed now).
pub(super) fn branch_detail(sessions: &Sessions, session: &Session) -> BranchDetail {
    match sessions.branch_status(session) {
        Ok(status) => BranchDetail::from(&status),
        Err(error) => {
            tracing::warn!(id = %session.id, %error, "could not read the session's branches");
            BranchDetail::default()
        }
    }
}

impl Backend {
    pub(super) async fn land(&self, params: Value) -> RpcResult<LandResult> {
        let params: LandParams = parse(method::LAND, params)?;
        check_id(&params.id)?;
        check_text("message", params.message.as_deref())?;
        let strategy = match params.strategy.as_deref() {
            None => LandStrategy::Squash,
            Some(text) => LandStrategy::parse(text).ok_or_else(|| {
                invalid_params(format!(
                    "`strategy` must be \"squash\", \"rebase\" or \"merge\", not {}",
                    crate::protocol::quote_short(text)
                ))
            })?,
        };
        let options = LandOptions {
            strategy,
            into: params.into,
            message: params.message,
        };
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let result = blocking(method::LAND, move || sessions.land(&params.id, options))
            .await?
            .map_err(|failure| error_with_files(failure.kind(), &failure, failure.files()))?;
        Ok(LandResult::from(&result))
    }

    pub(super) async fn sync(&self, params: Value) -> RpcResult<SyncResult> {
        let params: SyncParams = parse(method::SYNC, params)?;
        check_id(&params.id)?;
        let options = SyncOptions {
            agent_resolves: params.agent_resolves.unwrap_or(true),
        };
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let result = blocking(method::SYNC, move || sessions.sync(&params.id, options))
            .await?
            .map_err(|failure| error_with_files(failure.kind(), &failure, failure.files()))?;
        Ok(SyncResult::from(&result))
    }

    pub(super) async fn push(&self, params: Value) -> RpcResult<PushResult> {
        let params: PushParams = parse(method::PUSH, params)?;
        check_id(&params.id)?;
        if let Some(request) = &params.pull_request {
            check_text("pullRequest.title", request.title.as_deref())?;
            check_text("pullRequest.body", request.body.as_deref())?;
        }
        let options = PushOptions {
            remote: params.remote,
            pull_request: params.pull_request.map(|request| PullRequest {
                title: request.title,
                body: request.body,
                draft: request.draft.unwrap_or(false),
            }),
        };
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let pushed = blocking(method::PUSH, move || sessions.push(&params.id, options))
            .await?
            .map_err(|failure| op_error(failure.kind(), &failure))?;
        Ok(PushResult::from(&pushed))
    }
}
