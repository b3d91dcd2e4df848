//! The wire types of `lulu serve`: serde structs that mirror docs/protocol.md exactly (camelCase),
//! the params and results of every method, the notifications' params, the error codes, and the
//! conversions from the domain types in `model.rs`.
//!
//! Nothing here knows how a request is served; `lsp/` does that.

mod land;

pub use land::*;

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use ts_rs::TS;

mod provision;
mod review;
mod runs;
mod typescript;
pub use provision::*;
pub use review::*;
pub use runs::*;
pub use typescript::{lua_error_codes, lua_protocol_version, typescript_bindings};

use lulu_core::{
    agent_view,
    model::{Event, Session, Stream},
};

mod approvals;
pub use approvals::*;

/// The protocol version announced in `capabilities.experimental.lulu.protocolVersion`.
pub const PROTOCOL_VERSION: u32 = 2;

/// The one list of requests: for each, its constant in [`method`], its name on the wire, the
/// `Backend` method that serves it, its params and its result. Everything else that lists
/// requests (the method constants, [`REQUEST_METHODS`], the server's registration, the
/// TypeScript `Requests` map) is generated from it, so none of them can drift.
macro_rules! for_each_request {
    ($callback:ident) => {
        $callback! {
            SPAWN "lulu/spawn" spawn(SpawnParams) -> SessionRow;
            LIST "lulu/list" list(ListParams) -> ListResult;
            SESSION "lulu/session" session(IdParams) -> SessionDetail;
            TRANSCRIPT "lulu/transcript" transcript(TranscriptParams) -> TranscriptResult;
            WATCH "lulu/watch" watch(WatchParams) -> Empty;
            UNWATCH "lulu/unwatch" unwatch(IdParams) -> Empty;
            CANCEL "lulu/cancel" cancel(IdParams) -> SessionRow;
            CONTINUE "lulu/continue" continue_session(ContinueParams) -> SessionRow;
            REMOVE "lulu/remove" remove(RemoveParams) -> Empty;
            DIFF "lulu/diff" diff(IdParams) -> DiffResult;
            AGENTS "lulu/agents" agents(Empty) -> AgentsResult;
            APPROVALS "lulu/approvals" approvals(ApprovalsParams) -> ApprovalsResult;
            APPROVE "lulu/approve" approve(ApproveParams) -> Empty;
            SEND "lulu/send" send(SendParams) -> Empty;
            LAND "lulu/land" land(LandParams) -> LandResult;
            SYNC "lulu/sync" sync(SyncParams) -> SyncResult;
            PUSH "lulu/push" push(PushParams) -> PushResult;
            TRUST "lulu/trust" trust(TrustParams) -> Empty;
            GC "lulu/gc" gc(GcParams) -> GcResult;
            COMMENT "lulu/comment" comment(CommentParams) -> Comment;
            COMMENTS "lulu/comments" comments(IdParams) -> CommentsResult;
            UNCOMMENT "lulu/uncomment" uncomment(UncommentParams) -> Empty;
            REVIEW "lulu/review" review(ReviewParams) -> SessionRow;
        }
    };
}
pub(crate) use for_each_request;

/// The one list of notifications the server sends: constant, name, params.
macro_rules! for_each_notification {
    ($callback:ident) => {
        $callback! {
            SESSION_CHANGED "lulu/sessionChanged" SessionChangedParams;
            SESSION_REMOVED "lulu/sessionRemoved" SessionRemovedParams;
            OUTPUT "lulu/output" OutputParams;
            COMMENTS_CHANGED "lulu/commentsChanged" CommentsChangedParams;
            APPROVAL_REQUESTED "lulu/approvalRequested" ApprovalRequestedParams;
            APPROVAL_RESOLVED "lulu/approvalResolved" ApprovalResolvedParams;
        }
    };
}
pub(crate) use for_each_notification;

macro_rules! request_names {
    ($($constant:ident $name:literal $handler:ident($params:ty) -> $result:ty;)*) => {
        /// Request method names.
        pub mod request {
            $(pub const $constant: &str = $name;)*
        }
        /// Every request method `lulu serve` answers beside the LSP lifecycle, in
        /// docs/protocol.md's order.
        pub const REQUEST_METHODS: &[&str] = &[$(request::$constant),*];
    };
}
for_each_request!(request_names);

macro_rules! notification_names {
    ($($constant:ident $name:literal $params:ty;)*) => {
        /// Notification method names.
        pub mod notification {
            $(pub const $constant: &str = $name;)*
        }
        /// Every notification `lulu serve` sends.
        pub const NOTIFICATION_METHODS: &[&str] = &[$(notification::$constant),*];
    };
}
for_each_notification!(notification_names);

/// Method names, requests and notifications alike.
pub mod method {
    pub use super::notification::*;
    pub use super::request::*;
}

/// The LSP lifecycle messages `lulu serve` handles.
pub const LIFECYCLE_METHODS: &[&str] = &["initialize", "initialized", "shutdown", "exit"];

/// Declares the error codes once, each with the name every client uses for it.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $constant:ident = $value:literal, $name:literal;)*) => {
        /// JSON-RPC and lulu error codes (docs/protocol.md, "Errors").
        pub mod code {
            $($(#[$doc])* pub const $constant: i64 = $value;)*

            /// Every code the server sends.
            pub const ALL: &[i64] = &[$($constant),*];

            /// Every code with its name in the clients (TypeScript `ErrorCodes.X`, Lua
            /// `codes.X`), generated from this list.
            pub const NAMED: &[(&str, i64)] = &[$(($name, $constant)),*];
        }
    };
}

error_codes! {
    PARSE_ERROR = -32700, "ParseError";
    INVALID_REQUEST = -32600, "InvalidRequest";
    METHOD_NOT_FOUND = -32601, "MethodNotFound";
    INVALID_PARAMS = -32602, "InvalidParams";
    INTERNAL_ERROR = -32603, "InternalError";
    /// No session with that id.
    NO_SUCH_SESSION = -32001, "NoSuchSession";
    /// Server not initialized (LSP).
    NOT_INITIALIZED = -32002, "NotInitialized";
    /// The session is starting or running (the operation needs it ended, or `force`).
    SESSION_ACTIVE = -32010, "SessionActive";
    /// Uncommitted changes or untracked files, or unmerged commits (needs `force`).
    WOULD_LOSE_WORK = -32011, "WouldLoseWork";
    /// Not a git repository, or one lulu cannot use (bare, no commit yet).
    BAD_REPOSITORY = -32012, "BadRepository";
    /// Unknown agent, or its program is not on `PATH`.
    UNKNOWN_AGENT = -32013, "UnknownAgent";
    /// `baseRef` does not name a commit.
    BAD_BASE_REF = -32014, "BadBaseRef";
    /// The change conflicts with the target (`data.files`).
    CONFLICTS = -32015, "Conflicts";
    /// Nothing to land or push: no change against the base.
    NOTHING_TO_LAND = -32016, "NothingToLand";
    /// A program lulu needs is not installed (`git` for push, `gh` for a pull request).
    PROGRAM_MISSING = -32017, "ProgramMissing";
    /// `git push` or `gh` failed.
    PROGRAM_FAILED = -32018, "ProgramFailed";
    /// The session is not running (`lulu/send`).
    NOT_RUNNING = -32019, "NotRunning";
    /// The session's agent cannot take this (messages, approvals).
    AGENT_CANNOT_TAKE = -32020, "AgentCannotTake";
    /// The repository's setup command is not trusted yet (`data: { repo, setup, setupHash }`).
    SETUP_NOT_TRUSTED = -32021, "SetupNotTrusted";
}

/// Default and largest page sizes.
pub const LIST_DEFAULT_LIMIT: u64 = 200;
pub const LIST_MAX_LIMIT: u64 = 1000;
pub const TRANSCRIPT_DEFAULT_LIMIT: u64 = 1000;
pub const TRANSCRIPT_MAX_LIMIT: u64 = 10_000;
/// The longest prompt `lulu/spawn` and `lulu/continue` accept, in bytes. Agents take the
/// prompt as one argument, and the kernel refuses a single argument over 128 KiB.
pub const PROMPT_MAX_BYTES: usize = lulu_core::sessions::PROMPT_MAX_BYTES;
/// The longest session name, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// RFC 3339 in UTC with milliseconds, as every timestamp on the wire.
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn path_text(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// Objects

/// What a dashboard row needs, and nothing more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    pub id: String,
    pub name: String,
    pub repo: String,
    /// `starting`, `running`, `completed` or `failed`.
    #[ts(type = "Status")]
    pub status: String,
    pub created_at: String,
    pub last_activity_at: String,
    /// Present iff `status` is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub failure_reason: Option<String>,
}

impl From<&Session> for SessionRow {
    fn from(session: &Session) -> SessionRow {
        let failure_reason = if session.status == lulu_core::model::Status::Failed {
            Some(lulu_core::model::one_line_reason(
                session
                    .failure_reason
                    .as_deref()
                    .or(session.failure_detail.as_deref())
                    .unwrap_or(""),
            ))
        } else {
            None
        };
        SessionRow {
            id: session.id.to_string(),
            name: session.name.clone(),
            repo: path_text(&session.repo),
            status: session.status.as_str().to_owned(),
            created_at: timestamp(&session.created_at),
            last_activity_at: timestamp(&session.last_activity_at),
            failure_reason,
        }
    }
}

/// Every `SessionRow` field, and the whole story of the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionDetail {
    #[serde(flatten)]
    pub row: SessionRow,
    pub prompt: String,
    pub agent: String,
    pub command: Vec<String>,
    pub worktree_path: Option<String>,
    pub branch: Option<String>,
    pub base_commit: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    #[ts(type = "Outcome | null")]
    pub outcome: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub failure_detail: Option<String>,
    pub agent_session_id: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    /// Open permission requests, oldest first (filled in by the handler).
    pub pending_approvals: Vec<Approval>,
    /// Every run, first run first (filled in by the handler; a lulu extension of version 2,
    /// so optional to clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub runs: Option<Vec<RunSummary>>,
    pub max_cost_usd: Option<f64>,
    pub max_minutes: Option<f64>,
    /// `baseBranch`, `ahead`, `behind`, `landed` (version 2): filled by the handler, which
    /// computes ahead/behind on request.
    #[serde(flatten)]
    pub branches: BranchDetail,
    /// `ports` and `worktreeGone` (issue 14).
    #[serde(flatten)]
    pub provision: DetailProvision,
}

impl From<&Session> for SessionDetail {
    fn from(session: &Session) -> SessionDetail {
        SessionDetail {
            row: SessionRow::from(session),
            prompt: session.prompt.clone(),
            agent: session.agent.clone(),
            command: session.command.clone(),
            worktree_path: session.worktree_path.as_deref().map(path_text),
            branch: session.branch.clone(),
            base_commit: session.base_commit.clone(),
            started_at: session.started_at.as_ref().map(timestamp),
            ended_at: session.ended_at.as_ref().map(timestamp),
            outcome: session.outcome.map(|outcome| outcome.as_str().to_owned()),
            exit_code: session.exit_code,
            signal: session.signal,
            failure_detail: session.failure_detail.clone(),
            agent_session_id: session.agent_session_id.clone(),
            cost_usd: session.cost_usd,
            input_tokens: session.input_tokens,
            output_tokens: session.output_tokens,
            pending_approvals: Vec::new(),
            runs: None,
            max_cost_usd: session.max_cost_usd,
            max_minutes: session.max_minutes,
            branches: BranchDetail::default(),
            provision: DetailProvision::default(),
        }
    }
}

/// One transcript line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptEvent {
    pub seq: i64,
    pub at: String,
    /// `stdout`, `stderr` or `lulu`.
    #[ts(type = "TranscriptStream")]
    pub stream: String,
    pub kind: String,
    pub text: String,
    /// The parsed agent JSON, when the line was JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "Record<string, unknown>")]
    pub data: Option<Value>,
    /// What a client shows of agent JSON, read by the server (docs/protocol.md): present
    /// when `data` is a line of Claude's or Codex's JSON that lulu knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub blocks: Option<Vec<EventBlock>>,
}

/// One readable block of an event (`TranscriptEvent.blocks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct EventBlock {
    /// `assistant`, `thinking`, `toolUse`, `toolResult`, `result`, `error`, `meta`, `text`.
    #[ts(type = "EventBlockKind")]
    pub kind: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<i64>,
}

impl From<agent_view::Block> for EventBlock {
    fn from(block: agent_view::Block) -> EventBlock {
        EventBlock {
            kind: block
                .kind
                .map_or("text", agent_view::BlockKind::as_str)
                .to_owned(),
            text: block.text,
            tool: block.tool,
            input: block.input,
            is_error: block.is_error,
            exit_code: block.exit_code,
            cost_usd: block.cost_usd,
            input_tokens: block.input_tokens,
            output_tokens: block.output_tokens,
            turns: block.turns,
        }
    }
}

impl From<&Event> for TranscriptEvent {
    fn from(event: &Event) -> TranscriptEvent {
        let blocks = match (&event.stream, &event.data) {
            (Stream::Stdout, Some(data)) => agent_view::blocks_of(data)
                .map(|blocks| blocks.into_iter().map(EventBlock::from).collect()),
            _ => None,
        };
        TranscriptEvent {
            seq: event.seq,
            at: timestamp(&event.at),
            stream: event.stream.as_str().to_owned(),
            kind: event.kind.clone(),
            text: event.text.clone(),
            data: event.data.clone(),
            blocks,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// initializationOptions

/// `initializationOptions` of `initialize`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct InitializationOptions {
    #[serde(default)]
    pub state_dir: Option<String>,
    #[serde(default)]
    pub worktree_dir: Option<String>,
    #[serde(default)]
    pub max_running: Option<i64>,
    #[serde(default)]
    pub default_agent: Option<String>,
    #[serde(default)]
    pub agents: Option<BTreeMap<String, AgentProfileParams>>,
}

/// An agent profile in `initializationOptions.agents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct AgentProfileParams {
    pub command: Vec<String>,
    #[ts(type = "AgentFormat")]
    pub format: String,
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    /// `"stream-json"`: the runner hosts the agent (approvals, messages).
    #[serde(default)]
    #[ts(optional, type = "\"stream-json\" | \"closed\"")]
    pub input: Option<String>,
    /// Seconds, or a text such as `"30m"` or `"none"`.
    #[serde(default)]
    #[ts(optional, type = "number | string")]
    pub approval_timeout: Option<Value>,
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    #[serde(default)]
    pub max_minutes: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct SpawnParams {
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_minutes: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_repos: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListResult {
    pub sessions: Vec<SessionRow>,
    pub next: Option<String>,
}

/// The params of `lulu/session`, `lulu/unwatch`, `lulu/cancel` and `lulu/diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IdParams {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct TranscriptParams {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptResult {
    pub events: Vec<TranscriptEvent>,
    pub last_seq: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct WatchParams {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContinueParams {
    pub id: String,
    pub prompt: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct RemoveParams {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_branch: Option<bool>,
}

/// `{}`: the result of `lulu/watch`, `lulu/unwatch`, `lulu/remove`, and the params of
/// `lulu/agents`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiffResult {
    pub base_commit: String,
    pub files: Vec<FileChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileChange {
    pub path: String,
    /// `added`, `modified`, `deleted` or `renamed`.
    #[ts(type = "DiffFileStatus")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub old_path: Option<String>,
    pub additions: u64,
    pub deletions: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentsResult {
    pub agents: Vec<AgentInfo>,
    pub default_agent: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    pub name: String,
    pub command: Vec<String>,
    pub format: String,
    pub available: bool,
    /// `"stream-json"` when the agent can ask for approvals and take messages, else `"closed"`.
    #[ts(type = "\"stream-json\" | \"closed\"")]
    pub input: String,
}

// ---------------------------------------------------------------------------------------------
// Notifications

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionChangedParams {
    pub session: SessionRow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionRemovedParams {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutputParams {
    pub id: String,
    pub events: Vec<TranscriptEvent>,
}

/// `lulu/sessionChanged`.
#[derive(Debug)]
pub enum SessionChanged {}
impl tower_lsp_server::ls_types::notification::Notification for SessionChanged {
    type Params = SessionChangedParams;
    const METHOD: &'static str = method::SESSION_CHANGED;
}

/// `lulu/sessionRemoved`.
#[derive(Debug)]
pub enum SessionRemoved {}
impl tower_lsp_server::ls_types::notification::Notification for SessionRemoved {
    type Params = SessionRemovedParams;
    const METHOD: &'static str = method::SESSION_REMOVED;
}

/// `lulu/output`.
#[derive(Debug)]
pub enum Output {}
impl tower_lsp_server::ls_types::notification::Notification for Output {
    type Params = OutputParams;
    const METHOD: &'static str = method::OUTPUT;
}

// ---------------------------------------------------------------------------------------------
// Params parsing with the field at fault named

/// Bad params: the message names the method and the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid params for {method}: {message}")]
pub struct ParamsError {
    pub method: String,
    /// The field at fault, as a path (`agents.mine.format`), or `.` for the params as a whole.
    pub field: String,
    pub message: String,
}

/// Parses `params` into `T`; a failure names the field at fault (`limit: invalid type: ...`).
pub fn parse_params<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, ParamsError> {
    serde_path_to_error::deserialize::<_, T>(params).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner().to_string();
        let message = if field == "." || inner.contains(&format!("`{field}`")) {
            inner
        } else {
            format!("`{field}`: {inner}")
        };
        ParamsError {
            method: method.to_owned(),
            field,
            message,
        }
    })
}

/// Cuts user-given text (an id, a name) to something that fits in an error message.
pub fn quote_short(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}… ({} bytes)", text.len())
    }
}

/// The wire name of a change status.
pub fn change_status_name(status: lulu_core::worktree::ChangeStatus) -> &'static str {
    match status {
        lulu_core::worktree::ChangeStatus::Added => "added",
        lulu_core::worktree::ChangeStatus::Modified => "modified",
        lulu_core::worktree::ChangeStatus::Deleted => "deleted",
        lulu_core::worktree::ChangeStatus::Renamed => "renamed",
    }
}

impl From<&lulu_core::worktree::FileChange> for FileChange {
    fn from(change: &lulu_core::worktree::FileChange) -> Self {
        FileChange {
            path: change.path.clone(),
            status: change_status_name(change.status).to_owned(),
            old_path: change.old_path.clone(),
            additions: change.additions,
            deletions: change.deletions,
        }
    }
}

impl From<&lulu_core::sessions::SessionDiff> for DiffResult {
    fn from(diff: &lulu_core::sessions::SessionDiff) -> Self {
        DiffResult {
            base_commit: diff.base_commit.clone(),
            files: diff.files.iter().map(FileChange::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use lulu_core::model::{OutputFormat, SessionId, Status, Stream};

    fn session() -> Session {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .expect("time")
            .with_timezone(&Utc);
        Session {
            id: SessionId("0190f0e0-0000-7000-8000-000000abcdef".to_owned()),
            name: "fix the bug".to_owned(),
            repo: PathBuf::from("/r/repo"),
            status: Status::Failed,
            created_at: at,
            last_activity_at: at,
            failure_reason: Some("exit code 1".to_owned()),
            prompt: "fix the bug".to_owned(),
            agent: "claude".to_owned(),
            command: vec!["claude".to_owned()],
            format: OutputFormat::ClaudeStreamJson,
            env: BTreeMap::new(),
            worktree_path: Some(PathBuf::from("/r/repo/.lulu/worktrees/x")),
            branch: Some("lulu/x".to_owned()),
            base_ref: "HEAD".to_owned(),
            base_commit: Some("abc".to_owned()),
            started_at: Some(at),
            ended_at: None,
            outcome: Some(lulu_core::model::Outcome::Exited),
            exit_code: Some(1),
            signal: None,
            failure_detail: Some("exit code 1\nmore".to_owned()),
            agent_session_id: None,
            cost_usd: Some(0.5),
            input_tokens: None,
            output_tokens: Some(3),
            run: 1,
            max_running: 6,
            last_seq: 0,
            change_seq: 1,
            input: lulu_core::model::InputMode::StreamJson,
            approval_timeout: None,
            max_cost_usd: Some(2.5),
            max_minutes: None,
        }
    }

    fn check<T: Serialize>(value: T, expected: Value) {
        pretty_assertions::assert_eq!(serde_json::to_value(value).expect("json"), expected);
    }

    #[test]
    fn objects_have_the_protocol_shapes() {
        let mut s = session();
        check(
            SessionRow::from(&s),
            json!({"id": "0190f0e0-0000-7000-8000-000000abcdef", "name": "fix the bug",
                   "repo": "/r/repo", "status": "failed",
                   "createdAt": "2026-01-02T03:04:05.678Z", "lastActivityAt": "2026-01-02T03:04:05.678Z",
                   "failureReason": "exit code 1"}),
        );
        check(
            SessionDetail::from(&s),
            json!({"id": "0190f0e0-0000-7000-8000-000000abcdef", "name": "fix the bug",
                   "repo": "/r/repo", "status": "failed",
                   "createdAt": "2026-01-02T03:04:05.678Z", "lastActivityAt": "2026-01-02T03:04:05.678Z",
                   "failureReason": "exit code 1", "prompt": "fix the bug", "agent": "claude",
                   "command": ["claude"], "worktreePath": "/r/repo/.lulu/worktrees/x",
                   "branch": "lulu/x", "baseCommit": "abc", "startedAt": "2026-01-02T03:04:05.678Z",
                   "endedAt": null, "outcome": "exited", "exitCode": 1, "signal": null,
                   "failureDetail": "exit code 1\nmore", "agentSessionId": null, "costUsd": 0.5,
                   "inputTokens": null, "outputTokens": 3, "pendingApprovals": [],
                   "maxCostUsd": 2.5, "maxMinutes": null,
                   "baseBranch": null, "ahead": null, "behind": null, "landed": null,
                   "ports": [], "worktreeGone": false}),
        );
        // A running session never shows a failure reason, whatever the row holds.
        s.status = Status::Running;
        let row = serde_json::to_value(SessionRow::from(&s)).expect("json");
        assert_eq!(row.get("failureReason"), None);
        // A failed session always has one, even when the store had none.
        s.status = Status::Failed;
        s.failure_reason = None;
        s.failure_detail = None;
        assert_eq!(
            SessionRow::from(&s).failure_reason.as_deref(),
            Some("the session failed for an unknown reason")
        );
        let event = Event {
            seq: 3,
            at: s.created_at,
            stream: Stream::Stdout,
            kind: "text".to_owned(),
            text: "hi".to_owned(),
            data: None,
        };
        check(
            TranscriptEvent::from(&event),
            json!({"seq": 3, "at": "2026-01-02T03:04:05.678Z", "stream": "stdout", "kind": "text", "text": "hi"}),
        );
    }

    fn check_params_error<T: DeserializeOwned + std::fmt::Debug>(params: Value, expected: &str) {
        let error = parse_params::<T>("lulu/x", params).expect_err("bad params");
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn params_errors_name_the_field() {
        check_params_error::<ListParams>(
            json!({"limit": "ten"}),
            "invalid params for lulu/x: `limit`: invalid type: string \"ten\", expected u64",
        );
        check_params_error::<SpawnParams>(
            json!({}),
            "invalid params for lulu/x: missing field `prompt`",
        );
        check_params_error::<InitializationOptions>(
            json!({"agents": {"mine": {"command": "echo", "format": "text"}}}),
            "invalid params for lulu/x: `agents.mine.command`: invalid type: string \"echo\", expected a sequence",
        );
        check_params_error::<InitializationOptions>(
            json!({"maxRuning": 2}),
            "invalid params for lulu/x: unknown field `maxRuning`, expected one of `stateDir`, `worktreeDir`, `maxRunning`, `defaultAgent`, `agents`",
        );
    }
}
