//! One function per method: convert the params, call the core in `spawn_blocking`, convert
//! the result or the error. No handler blocks the runtime or holds a lock across an await.

mod land;
mod review;

pub(crate) use initialize::initialize;

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower_lsp_server::{
    LspServiceBuilder,
    jsonrpc::{Error as RpcError, ErrorCode, Result as RpcResult},
};

mod approvals;
mod initialize;
mod provision;

use super::{Backend, Core};
use lulu_core::{
    model::SessionId,
    sessions::{ContinueError, ErrorKind, RemoveOptions, Sessions, SpawnError, SpawnRequest},
    store::ListQuery,
    worktree::DiscoverError,
};

use crate::protocol::{
    self, AgentInfo, AgentsResult, ContinueParams, DiffResult, Empty, IdParams, ListParams,
    ListResult, NAME_MAX_CHARS, PROMPT_MAX_BYTES, RemoveParams, SessionDetail, SessionRow,
    SpawnParams, TranscriptEvent, TranscriptParams, TranscriptResult, WatchParams, code, method,
    quote_short,
};

macro_rules! register_requests {
    ($($constant:ident $name:literal $handler:ident($params:ty) -> $result:ty;)*) => {
        /// Adds a handler for every request of `protocol::for_each_request`.
        pub(super) fn register(builder: LspServiceBuilder<Backend>) -> LspServiceBuilder<Backend> {
            builder$(.custom_method(method::$constant, Backend::$handler))*
        }
    };
}
crate::protocol::for_each_request!(register_requests);

// ---------------------------------------------------------------------------------------------
// Errors

pub(super) fn error(code: i64, message: impl Into<String>, data: Option<Value>) -> RpcError {
    RpcError {
        code: ErrorCode::from(code),
        message: message.into().into(),
        data,
    }
}

pub(super) fn invalid_request(message: impl Into<String>) -> RpcError {
    error(code::INVALID_REQUEST, message, None)
}

pub(super) fn invalid_params(message: impl Into<String>) -> RpcError {
    error(code::INVALID_PARAMS, message, None)
}

fn internal(message: impl Into<String>) -> RpcError {
    error(code::INTERNAL_ERROR, message, None)
}

fn kind_code(kind: ErrorKind) -> i64 {
    match kind {
        ErrorKind::NoSuchSession => code::NO_SUCH_SESSION,
        ErrorKind::SessionActive => code::SESSION_ACTIVE,
        ErrorKind::WouldLoseWork => code::WOULD_LOSE_WORK,
        ErrorKind::BadRepository => code::BAD_REPOSITORY,
        ErrorKind::UnknownAgent => code::UNKNOWN_AGENT,
        ErrorKind::BadBaseRef => code::BAD_BASE_REF,
        ErrorKind::InvalidInput => code::INVALID_PARAMS,
        ErrorKind::Conflicts => code::CONFLICTS,
        ErrorKind::NothingToLand => code::NOTHING_TO_LAND,
        ErrorKind::ProgramMissing => code::PROGRAM_MISSING,
        ErrorKind::ProgramFailed => code::PROGRAM_FAILED,
        ErrorKind::SetupNotTrusted => code::SETUP_NOT_TRUSTED,
        ErrorKind::Internal => code::INTERNAL_ERROR,
        ErrorKind::NotRunning => code::NOT_RUNNING,
        ErrorKind::AgentCannotTake => code::AGENT_CANNOT_TAKE,
    }
}

/// An operation's error: its kind's code, its sentence, and the causes behind it in `data`.
pub(super) fn op_error(kind: ErrorKind, failure: &(dyn std::error::Error + 'static)) -> RpcError {
    let mut causes = Vec::new();
    let mut source = failure.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if kind == ErrorKind::Internal {
        tracing::error!(?causes, "{failure}");
    }
    let data = (!causes.is_empty()).then(|| json!({ "causes": causes }));
    error(kind_code(kind), failure.to_string(), data)
}

/// An operation's error with `data.reason` (and the fields that go with it) merged into its
/// `data`, so a client can tell cases of one code apart without reading the sentence.
pub(super) fn with_reason(mut error: RpcError, reason: Option<Value>) -> RpcError {
    let Some(Value::Object(reason)) = reason else {
        return error;
    };
    let mut data = match error.data.take() {
        Some(Value::Object(data)) => data,
        _ => serde_json::Map::new(),
    };
    data.extend(reason);
    error.data = Some(Value::Object(data));
    error
}

/// `data.reason` of a repository lulu cannot use (-32012).
fn discover_reason(error: &DiscoverError) -> Value {
    let reason = match error {
        DiscoverError::NotARepository { .. } => "notARepository",
        DiscoverError::Bare { .. } => "bare",
        DiscoverError::NoCommits { .. } => "noCommits",
        DiscoverError::Read { .. } => "unreadable",
    };
    json!({ "reason": reason })
}

/// `data.reason` of spawn's -32012 and -32013 errors.
pub(super) fn spawn_reason(error: &SpawnError) -> Option<Value> {
    match error {
        SpawnError::Repository(error) => Some(discover_reason(error)),
        SpawnError::UnknownAgent { name, .. } => {
            Some(json!({ "reason": "unknownAgent", "agent": name }))
        }
        SpawnError::AgentNotInstalled { name, program } => {
            Some(json!({ "reason": "agentNotInstalled", "agent": name, "program": program }))
        }
        _ => None,
    }
}

/// `data.reason` of continue's -32013 errors.
fn continue_reason(error: &ContinueError) -> Option<Value> {
    match error {
        ContinueError::UnknownAgent { name, .. } => {
            Some(json!({ "reason": "unknownAgent", "agent": name }))
        }
        ContinueError::AgentNotInstalled { name, program } => {
            Some(json!({ "reason": "agentNotInstalled", "agent": name, "program": program }))
        }
        _ => None,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn parse<T: DeserializeOwned>(method: &str, params: Value) -> RpcResult<T> {
    if !params.is_object() {
        return Err(invalid_params(format!(
            "invalid params for {method}: params must be an object, not {}",
            json_kind(&params)
        )));
    }
    protocol::parse_params(method, params).map_err(|error| invalid_params(error.to_string()))
}

/// Runs core work on the blocking pool; a panic there is an internal error, not a dead server.
pub(super) async fn blocking<T: Send + 'static>(
    method: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> RpcResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|join_error| {
            tracing::error!(%method, "the core panicked: {join_error}");
            internal(format!(
                "internal error: {method} failed unexpectedly ({join_error})"
            ))
        })
}

/// Ids longer than this are no id lulu makes (a UUID is 36 characters).
const ID_MAX_CHARS: usize = 64;

pub(super) fn check_id(id: &str) -> RpcResult<()> {
    if id.is_empty() {
        return Err(invalid_params("`id` is empty"));
    }
    if id.chars().count() > ID_MAX_CHARS {
        return Err(error(
            code::NO_SUCH_SESSION,
            format!("no session with id {}", quote_short(id)),
            None,
        ));
    }
    Ok(())
}

fn check_prompt(prompt: &str) -> RpcResult<()> {
    if prompt.len() > PROMPT_MAX_BYTES {
        return Err(invalid_params(format!(
            "`prompt` is {} bytes long; the limit is {PROMPT_MAX_BYTES} bytes",
            prompt.len()
        )));
    }
    Ok(())
}

pub(super) fn absolute_path(field: &str, text: &str) -> RpcResult<PathBuf> {
    let path = PathBuf::from(text);
    if !path.is_absolute() {
        return Err(invalid_params(format!(
            "`{field}` must be an absolute path, not {}",
            quote_short(text)
        )));
    }
    Ok(path)
}

/// Waits (a bounded time) for the first reconciliation, so that a dashboard opened after a
/// crash shows the truth from its first page.
async fn after_first_reconciliation(core: &Core) {
    let mut reconciled = core.reconciled.clone();
    let _ = tokio::time::timeout(Duration::from_secs(10), reconciled.wait_for(|done| *done)).await;
}

async fn discover(sessions: &Arc<Sessions>, field: &str, text: &str) -> RpcResult<PathBuf> {
    let path = absolute_path(field, text)?;
    let sessions = sessions.clone();
    blocking("discover", move || {
        sessions
            .repository_of(&path)
            .map_err(|error| op_error(ErrorKind::BadRepository, &error))
    })
    .await?
}

// ---------------------------------------------------------------------------------------------
// Requests

impl Backend {
    pub(super) async fn spawn(&self, params: Value) -> RpcResult<SessionRow> {
        let params: SpawnParams = parse(method::SPAWN, params)?;
        check_prompt(&params.prompt)?;
        if let Some(name) = &params.name
            && name.chars().count() > NAME_MAX_CHARS
        {
            return Err(invalid_params(format!(
                "`name` is {} characters long; the limit is {NAME_MAX_CHARS}",
                name.chars().count()
            )));
        }
        let core = self.core()?;
        let repo = match &params.repo {
            Some(repo) => absolute_path("repo", repo)?,
            None => core
                .repos
                .first()
                .cloned()
                .ok_or_else(|| core.no_repository.clone())?,
        };
        let request = SpawnRequest {
            prompt: params.prompt,
            name: params.name,
            agent: params.agent,
            base_ref: params.base_ref,
            repo,
            max_cost_usd: params.max_cost_usd,
            max_minutes: params.max_minutes,
            trust_setup: false,
        };
        let sessions = core.sessions.clone();
        let session = blocking(method::SPAWN, move || sessions.spawn(request))
            .await?
            .map_err(provision::spawn_error)?;
        // A session spawned into a repository outside the workspace is this client's too.
        core.feed.cover_repo(session.repo.clone());
        Ok(SessionRow::from(&session))
    }

    pub(super) async fn list(&self, params: Value) -> RpcResult<ListResult> {
        let params: ListParams = parse(method::LIST, params)?;
        let limit = params.limit.unwrap_or(protocol::LIST_DEFAULT_LIMIT);
        if !(1..=protocol::LIST_MAX_LIMIT).contains(&limit) {
            return Err(invalid_params(format!(
                "`limit` must be between 1 and {}, not {limit}",
                protocol::LIST_MAX_LIMIT
            )));
        }
        if let Some(before) = &params.before
            && !before.contains('|')
        {
            return Err(invalid_params(format!(
                "`before` is not a cursor from lulu/list's `next`: {}",
                quote_short(before)
            )));
        }
        let core = self.core()?;
        let repos = match (&params.repo, params.all_repos.unwrap_or(false)) {
            (Some(_), true) => {
                return Err(invalid_params("give `repo` or `allRepos`, not both"));
            }
            (Some(repo), false) => {
                let repo = discover(&core.sessions, "repo", repo).await?;
                core.feed.cover_repo(repo.clone());
                Some(vec![repo])
            }
            (None, true) => {
                core.feed.cover_all_repos();
                None
            }
            (None, false) => Some(core.repos.clone()),
        };
        after_first_reconciliation(&core).await;
        let query = ListQuery {
            limit: limit as usize,
            before: params.before,
            repos,
        };
        let sessions = core.sessions.clone();
        let page = blocking(method::LIST, move || sessions.list(&query))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        Ok(ListResult {
            sessions: page.sessions.iter().map(SessionRow::from).collect(),
            next: page.next,
        })
    }

    pub(super) async fn session(&self, params: Value) -> RpcResult<SessionDetail> {
        let params: IdParams = parse(method::SESSION, params)?;
        check_id(&params.id)?;
        let core = self.core()?;
        after_first_reconciliation(&core).await;
        let sessions = core.sessions.clone();
        let session = blocking(method::SESSION, move || sessions.session(&params.id))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        let mut detail = provision::session_detail(&core, session.clone()).await?;
        let sessions = core.sessions.clone();
        let id = session.id.clone();
        let pending = blocking(method::SESSION, move || {
            sessions.approvals(Some(id.as_str()))
        })
        .await?
        .map_err(|error| op_error(error.kind(), &error))?;
        detail.pending_approvals = pending.iter().map(protocol::Approval::from).collect();
        let sessions = core.sessions.clone();
        let id = session.id.clone();
        let runs = blocking(method::SESSION, move || sessions.runs(id.as_str()))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        detail.runs = Some(runs.iter().map(protocol::RunSummary::from).collect());
        let sessions = core.sessions.clone();
        detail.branches = blocking(method::SESSION, move || {
            land::branch_detail(&sessions, &session)
        })
        .await?;
        Ok(detail)
    }

    pub(super) async fn transcript(&self, params: Value) -> RpcResult<TranscriptResult> {
        let params: TranscriptParams = parse(method::TRANSCRIPT, params)?;
        check_id(&params.id)?;
        let after_seq = params.after_seq.unwrap_or(0);
        if after_seq < 0 {
            return Err(invalid_params(format!(
                "`afterSeq` must be 0 or more, not {after_seq}"
            )));
        }
        let limit = params.limit.unwrap_or(protocol::TRANSCRIPT_DEFAULT_LIMIT);
        if !(1..=protocol::TRANSCRIPT_MAX_LIMIT).contains(&limit) {
            return Err(invalid_params(format!(
                "`limit` must be between 1 and {}, not {limit}",
                protocol::TRANSCRIPT_MAX_LIMIT
            )));
        }
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let transcript = blocking(method::TRANSCRIPT, move || {
            sessions.transcript(&params.id, after_seq, limit as usize)
        })
        .await?
        .map_err(|error| op_error(error.kind(), &error))?;
        Ok(TranscriptResult {
            events: transcript
                .events
                .iter()
                .map(TranscriptEvent::from)
                .collect(),
            last_seq: transcript.last_seq,
        })
    }

    pub(super) async fn watch(&self, params: Value) -> RpcResult<Empty> {
        let params: WatchParams = parse(method::WATCH, params)?;
        check_id(&params.id)?;
        let after_seq = params.after_seq.unwrap_or(0);
        if after_seq < 0 {
            return Err(invalid_params(format!(
                "`afterSeq` must be 0 or more, not {after_seq}"
            )));
        }
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let session = blocking(method::WATCH, move || sessions.session(&params.id))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        core.feed.watch(session.id, after_seq);
        Ok(Empty {})
    }

    pub(super) async fn unwatch(&self, params: Value) -> RpcResult<Empty> {
        let params: IdParams = parse(method::UNWATCH, params)?;
        check_id(&params.id)?;
        let core = self.core()?;
        if core.feed.unwatch(&SessionId(params.id.clone())) {
            return Ok(Empty {});
        }
        // Not watched under that exact id: an id prefix, or no such session.
        let sessions = core.sessions.clone();
        let session = blocking(method::UNWATCH, move || sessions.session(&params.id))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        core.feed.unwatch(&session.id);
        Ok(Empty {})
    }

    pub(super) async fn cancel(&self, params: Value) -> RpcResult<SessionRow> {
        let params: IdParams = parse(method::CANCEL, params)?;
        check_id(&params.id)?;
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let session = blocking(method::CANCEL, move || sessions.cancel(&params.id))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        Ok(SessionRow::from(&session))
    }

    pub(super) async fn continue_session(&self, params: Value) -> RpcResult<SessionRow> {
        let params: ContinueParams = parse(method::CONTINUE, params)?;
        check_id(&params.id)?;
        check_prompt(&params.prompt)?;
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let session = blocking(method::CONTINUE, move || {
            sessions.continue_session(&params.id, params.prompt)
        })
        .await?
        .map_err(|error| with_reason(op_error(error.kind(), &error), continue_reason(&error)))?;
        Ok(SessionRow::from(&session))
    }

    pub(super) async fn remove(&self, params: Value) -> RpcResult<Empty> {
        let params: RemoveParams = parse(method::REMOVE, params)?;
        check_id(&params.id)?;
        let options = RemoveOptions {
            force: params.force.unwrap_or(false),
            delete_branch: params.delete_branch.unwrap_or(false),
        };
        let core = self.core()?;
        let sessions = core.sessions.clone();
        blocking(method::REMOVE, move || sessions.remove(&params.id, options))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        Ok(Empty {})
    }

    pub(super) async fn diff(&self, params: Value) -> RpcResult<DiffResult> {
        let params: IdParams = parse(method::DIFF, params)?;
        check_id(&params.id)?;
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let diff = blocking(method::DIFF, move || sessions.diff(&params.id))
            .await?
            .map_err(|error| op_error(error.kind(), &error))?;
        Ok(DiffResult::from(&diff))
    }

    pub(super) async fn agents(&self, params: Value) -> RpcResult<AgentsResult> {
        let _: Empty = parse(method::AGENTS, params)?;
        let core = self.core()?;
        let sessions = core.sessions.clone();
        let (agents, default_agent) = blocking(method::AGENTS, move || {
            (sessions.agents(), sessions.settings().default_agent.clone())
        })
        .await?;
        Ok(AgentsResult {
            agents: agents
                .into_iter()
                .map(|agent| AgentInfo {
                    name: agent.name,
                    command: agent.command,
                    format: agent.format.to_owned(),
                    available: agent.available,
                    input: agent.input.to_owned(),
                })
                .collect(),
            default_agent,
        })
    }
}
