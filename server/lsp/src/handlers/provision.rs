//! Provisioning methods (issue 14): `lulu/trust`, `lulu/gc` (lulu extension), the -32021 answer
//! of `lulu/spawn`, and `lulu/session`'s `ports` / `worktreeGone`.

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error as RpcError, Result as RpcResult};

use lulu_core::sessions::{GcOptions, ProvisionCheckError, SpawnError, parse_age};

use super::{Backend, absolute_path, blocking, error, invalid_params, op_error, parse};
use crate::protocol::{
    self, Empty, GcParams, GcResult, SessionDetail, TrustParams, UntrustedSetupData, code, method,
};

/// `lulu/spawn`'s error: -32021 with `{repo, setup, setupHash}` for an untrusted setup command.
pub(super) fn spawn_error(failure: SpawnError) -> RpcError {
    if let SpawnError::Provision(ProvisionCheckError::Untrusted {
        repo,
        setup,
        setup_hash,
    }) = &failure
    {
        let data = UntrustedSetupData {
            repo: repo.to_string_lossy().into_owned(),
            setup: setup.clone(),
            setup_hash: setup_hash.clone(),
        };
        return error(
            code::SETUP_NOT_TRUSTED,
            failure.to_string(),
            Some(serde_json::to_value(data).expect("strings serialize")),
        );
    }
    super::with_reason(
        op_error(failure.kind(), &failure),
        super::spawn_reason(&failure),
    )
}

/// `lulu/session`'s answer: the detail with the session's ports and whether gc removed its
/// worktree.
pub(super) async fn session_detail(
    core: &super::Core,
    session: lulu_core::model::Session,
) -> RpcResult<SessionDetail> {
    let sessions = core.sessions.clone();
    let id = session.id.clone();
    let state = blocking(method::SESSION, move || sessions.provision_state(&id))
        .await?
        .map_err(|error| op_error(error.kind(), &error))?;
    Ok(protocol::session_detail(&session, &state))
}

impl Backend {
    pub(super) async fn trust(&self, params: Value) -> RpcResult<Empty> {
        let params: TrustParams = parse(method::TRUST, params)?;
        let repo = absolute_path("repo", &params.repo)?;
        if params.setup_hash.trim().is_empty() {
            return Err(invalid_params(
                "`setupHash` is empty; give the one lulu/spawn's error carried",
            ));
        }
        let core = self.core()?;
        let sessions = core.sessions.clone();
        blocking(method::TRUST, move || {
            sessions.trust_setup(&repo, &params.setup_hash)
        })
        .await?
        .map_err(|error| op_error(error.kind(), &error))?;
        Ok(Empty {})
    }

    pub(super) async fn gc(&self, params: Value) -> RpcResult<GcResult> {
        let params: GcParams = parse(method::GC, params)?;
        let older_than = parse_age(&params.older_than)
            .map_err(|problem| invalid_params(format!("`olderThan`: {problem}")))?;
        let options = GcOptions {
            older_than,
            dry_run: params.dry_run.unwrap_or(false),
            include_ignored: params.include_ignored.unwrap_or(false),
        };
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let report = blocking(method::GC, move || sessions.gc_worktrees(options))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        Ok(GcResult::from(&report))
    }
}
