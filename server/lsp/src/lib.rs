//! `lulu serve`: the LSP-framed protocol server of docs/protocol.md on stdin/stdout, and the
//! wire types (`protocol`). This is the only crate that knows about JSON-RPC and LSP.
//!
//! - `protocol.rs`: the wire types (serde, camelCase) and conversions from the core's model;
//!
//! - `transport.rs`: framing, dispatch, the lifecycle gate, panics to error responses;
//! - `handlers.rs`: one function per method, params in, core call in `spawn_blocking`, result
//!   or error code out;
//! - `feed.rs`: database changes to notifications.
//!
//! The core (`sessions`, `store`, `worktree`, `runner`) knows nothing of JSON-RPC.

use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
    time::Duration,
};

use serde_json::json;
use tokio::sync::watch;
use tower_lsp_server::{
    Client, LanguageServer, LspService,
    jsonrpc::Result as RpcResult,
    ls_types::{
        InitializeParams, InitializeResult, InitializedParams, ServerCapabilities, ServerInfo,
    },
};

use lulu_core::{
    config::SettingsOverrides,
    sessions::{ReconcileOptions, Sessions},
};

use crate::protocol::PROTOCOL_VERSION;

mod feed;
mod handlers;
pub mod protocol;
pub mod transport;

pub use feed::{ACTIVITY_INTERVAL, OUTPUT_BATCH, POLL_INTERVAL};

/// How `lulu serve` is set up before a client says anything.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Settings from the command line; `initializationOptions` override them.
    pub overrides: SettingsOverrides,
    /// How often reconciliation runs after the first (at `initialize`).
    pub reconcile_every: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            overrides: SettingsOverrides::default(),
            reconcile_every: Duration::from_secs(30),
        }
    }
}

/// Serves the protocol on this process's stdin and stdout until `exit` (or the end of
/// stdin). Returns the exit code LSP asks for: 0 after `shutdown` then `exit`, else 1.
///
/// Stdin and stdout are served by threads of their own that may still be blocked when this
/// returns (a client that keeps stdin open): end the process right after, with
/// `std::process::exit(code)`, rather than waiting for the runtime to wind down.
pub async fn serve_stdio(options: ServeOptions) -> i32 {
    serve(std::io::stdin(), std::io::stdout(), options).await
}

/// Serves the protocol over any byte streams (tests, benchmarks).
pub async fn serve(
    input: impl std::io::Read + Send + 'static,
    output: impl std::io::Write + Send + 'static,
    options: ServeOptions,
) -> i32 {
    let (service, socket) = build_service(options);
    transport::serve(input, output, service, socket).await
}

fn build_service(options: ServeOptions) -> (LspService<Backend>, tower_lsp_server::ClientSocket) {
    let builder = LspService::build(|client| Backend {
        client,
        options,
        core: OnceLock::new(),
    });
    handlers::register(builder).finish()
}

/// Every method the server answers beside the LSP lifecycle (the drift test compares this
/// with docs/protocol.md).
pub fn registered_methods() -> &'static [&'static str] {
    protocol::REQUEST_METHODS
}

/// What `initialize` set up.
pub(crate) struct Core {
    pub sessions: Arc<Sessions>,
    /// The workspace's repositories (top-level directories), in the client's order.
    pub repos: Vec<PathBuf>,
    /// What `lulu/spawn` without `repo` answers when `repos` is empty: why the workspace
    /// has no usable repository (-32012 with `data.reason`).
    pub no_repository: tower_lsp_server::jsonrpc::Error,
    pub feed: feed::Feed,
    /// Becomes true once the first reconciliation is done (or failed).
    pub reconciled: watch::Receiver<bool>,
    pub background: Vec<tokio::task::JoinHandle<()>>,
}

pub(crate) struct Backend {
    client: Client,
    options: ServeOptions,
    core: OnceLock<Arc<Core>>,
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> RpcResult<InitializeResult> {
        let core = handlers::initialize(&self.client, &self.options, params).await?;
        let experimental = json!({
            "lulu": {
                "protocolVersion": PROTOCOL_VERSION,
                "stateDir": core.sessions.settings().state_dir,
                "repos": core.repos,
                "methods": protocol::REQUEST_METHODS,
                "notifications": protocol::NOTIFICATION_METHODS,
            }
        });
        if self.core.set(core).is_err() {
            return Err(handlers::invalid_request(
                "the server is already initialized",
            ));
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                experimental: Some(experimental),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "lulu".to_owned(),
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        if let Some(core) = self.core.get() {
            core.feed.start();
        }
    }

    async fn shutdown(&self) -> RpcResult<()> {
        if let Some(core) = self.core.get() {
            core.feed.stop();
            for task in &core.background {
                task.abort();
            }
        }
        Ok(())
    }
}

impl Backend {
    fn core(&self) -> RpcResult<Arc<Core>> {
        self.core
            .get()
            .cloned()
            .ok_or_else(|| handlers::invalid_request("the server is not initialized"))
    }
}

/// Runs reconciliation: at start the sessions whose runner died (proportional to the sessions
/// not ended; `done` turns true after it, and the first `lulu/list` waits for nothing else),
/// then the worktrees (stale registrations, orphan folders under lulu's own folders) once, and
/// the sessions again every `every`.
fn start_reconciliation(
    sessions: Arc<Sessions>,
    every: Duration,
    done: watch::Sender<bool>,
) -> tokio::task::JoinHandle<()> {
    let sessions_only = ReconcileOptions {
        sessions_only: true,
        ..ReconcileOptions::default()
    };
    tokio::spawn(async move {
        reconcile_once(&sessions, sessions_only).await;
        done.send_replace(true);
        reconcile_once(&sessions, ReconcileOptions::default()).await;
        loop {
            tokio::time::sleep(every).await;
            reconcile_once(&sessions, sessions_only).await;
        }
    })
}

async fn reconcile_once(sessions: &Arc<Sessions>, options: ReconcileOptions) {
    let sessions = sessions.clone();
    let outcome = tokio::task::spawn_blocking(move || sessions.reconcile(options)).await;
    match outcome {
        Ok(Ok(report)) => {
            if !report.interrupted.is_empty() {
                tracing::info!(sessions = ?report.interrupted, "reconciliation: runners that died are now failed/interrupted");
            }
            for orphan in &report.orphans {
                tracing::warn!(?orphan, "reconciliation: a worktree folder no session owns");
            }
            for problem in &report.problems {
                tracing::warn!("reconciliation: {problem}");
            }
        }
        Ok(Err(error)) => tracing::error!("reconciliation failed: {error}: {error:?}"),
        Err(error) => tracing::error!("reconciliation panicked: {error}"),
    }
}
