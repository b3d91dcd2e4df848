//! The command line: `lulu spawn`, `ls`, `show`, `logs`, `cancel`, `continue`, `diff`, `rm`,
//! `gc`, `agents`, `demo`, `serve`, `land`, `sync`, `push`, `trust`, `comment`, `comments`,
//! `uncomment`, `review`, and the hidden runner entry point.
//!
//! The CLI is an edge: it turns arguments into sessions calls and results into text or
//! JSON (the protocol's own shapes), and errors into one line on stderr and a non-zero exit.

mod land;

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
    time::Duration,
};

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};

use lulu_core::{
    config::{Settings, SettingsOverrides},
    runner::{self, RunnerOptions},
    sessions::{ReconcileOptions, RemoveOptions, Sessions, SpawnRequest},
    store::ListQuery,
};
use lulu_lsp::protocol;

use crate::render::{self, ListStyle};

mod approvals;
mod internal;
mod provision;
mod review;
mod session;
mod upkeep;

#[derive(Debug, Parser)]
#[command(
    name = "lulu",
    version,
    about = "Run several AI coding agents at once, each in its own git worktree."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// Where the session database lives (default: $LULU_HOME, $XDG_STATE_HOME/lulu, ~/.local/state/lulu).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// How many sessions may run at once (default 6, or config.toml's max_running).
    #[arg(long, global = true, value_name = "N")]
    pub max_running: Option<i64>,
    /// Folder template for worktrees; `{repo}` is the repository's top level.
    #[arg(long, global = true, value_name = "TEMPLATE")]
    pub worktree_dir: Option<String>,
}

#[derive(Debug, Args)]
pub struct SpawnArgs {
    /// What the agent should do.
    #[arg(required = true, num_args = 1..)]
    pub prompt: Vec<String>,
    /// Agent profile (default: claude, or config.toml's default_agent).
    #[arg(long)]
    pub agent: Option<String>,
    /// Revision to branch from (default HEAD).
    #[arg(long = "base", value_name = "REF")]
    pub base_ref: Option<String>,
    /// Human name (default: derived from the prompt).
    #[arg(long)]
    pub name: Option<String>,
    /// Any path inside the repository (default: the current directory).
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// Print the new session as JSON (a SessionRow).
    #[arg(long)]
    pub json: bool,
    /// Trust the repository's setup command (lulu.toml) as it is now, without asking.
    #[arg(long)]
    pub trust_setup: bool,
    /// Stop the session once the agent reports spending more than this (US dollars).
    #[arg(long = "max-cost", value_name = "USD")]
    pub max_cost_usd: Option<f64>,
    /// Stop the session after this many minutes of running.
    #[arg(long, value_name = "N")]
    pub max_minutes: Option<f64>,
}

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// Only this session's.
    pub id: Option<String>,
    /// Print `{ approvals: Approval[] }` as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The approval id (from `lulu approvals`).
    pub approval_id: String,
    #[arg(long)]
    pub deny: bool,
    /// Words for the agent (with --deny: why).
    #[arg(long, short = 'm', value_name = "MSG")]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    pub id: String,
    #[arg(required = true, num_args = 1..)]
    pub text: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print SessionRow objects as JSON.
    #[arg(long)]
    pub json: bool,
    /// Every repository, not only the one around the current directory.
    #[arg(long)]
    pub all: bool,
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub id: String,
    /// Print the SessionDetail as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub id: String,
    /// Keep streaming until the session ends.
    #[arg(long, short)]
    pub follow: bool,
    /// Print TranscriptEvent objects, one JSON object a line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ContinueArgs {
    pub id: String,
    #[arg(required = true, num_args = 1..)]
    pub prompt: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub id: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    pub id: String,
    /// Cancel it if running and discard uncommitted work (and unmerged commits with --delete-branch).
    #[arg(long)]
    pub force: bool,
    /// Delete the session's branch too.
    #[arg(long)]
    pub delete_branch: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// How often reconciliation runs after the first, in milliseconds (tests shorten it).
    #[arg(long, hide = true, value_name = "MS", default_value_t = 30_000)]
    pub reconcile_every_ms: u64,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(long)]
    pub session: String,
    #[arg(long)]
    pub run: i64,
    #[arg(long)]
    pub lock_fd: i32,
    #[arg(long)]
    pub worktree: Option<PathBuf>,
    #[arg(long)]
    pub branch: Option<String>,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Start a session: a new worktree and an agent working in it. Returns at once.
    Spawn(SpawnArgs),
    /// The session list: newest first, status, name, failure reason, age.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// A session's details: worktree, branch, base, outcome, exit code, cost, failure detail.
    Show(ShowArgs),
    /// A session's transcript.
    Logs(LogsArgs),
    /// Cancel a starting or running session (SIGTERM, then SIGKILL after a grace period).
    Cancel(IdArgs),
    /// Run the agent again in the same worktree, resuming its conversation.
    Continue(ContinueArgs),
    /// Files changed in the session's worktree against its base commit.
    Diff(DiffArgs),
    /// Remove a session's worktree and row (refuses to lose work unless --force).
    Rm(RmArgs),
    /// Pending permission requests of running agents, oldest first.
    Approvals(ApprovalsArgs),
    /// Answer a permission request: allow it (default) or deny it.
    Approve(ApproveArgs),
    /// Send a message to a running agent; it takes it after what it is doing now.
    Send(SendArgs),
    /// Land an ended session into its base branch (or --into): squash, rebase or merge,
    /// without touching your uncommitted changes.
    Land(land::LandArgs),
    /// Merge the latest base branch into the session's branch; conflicts go back to the agent.
    Sync(land::SyncArgs),
    /// Push the session's branch (git push), and open a pull request with --pr (gh).
    Push(land::PushArgs),
    /// Reconcile: interrupted sessions, stale worktree metadata, orphan worktree folders; with
    /// --older-than, also remove the clean worktrees of sessions that ended that long ago.
    Gc(provision::GcArgs),
    /// Show the repository's setup command (lulu.toml) and trust it (asks on a terminal).
    Trust(provision::TrustArgs),
    /// Comment on a line of a session's diff (a draft until `lulu review` sends it).
    Comment(review::CommentArgs),
    /// A session's review comments, drafts and sent.
    Comments(review::CommentsArgs),
    /// Delete a draft comment.
    Uncomment(review::UncommentArgs),
    /// Send every draft comment (and a message) to the agent as one prompt, continuing the session.
    Review(review::ReviewArgs),
    /// The agent profiles and whether their programs are installed.
    Agents,
    /// Show the machinery on a scratch repository with a demo agent (touches nothing of yours).
    Demo,
    /// Speak the Lulu protocol (LSP framing) on stdin/stdout, for editors.
    Serve(ServeArgs),
    /// Runs one run of a session (started by lulu itself).
    #[command(name = "__run", hide = true)]
    Run(RunArgs),
}

impl GlobalOptions {
    pub fn overrides(&self) -> SettingsOverrides {
        SettingsOverrides {
            state_dir: self.state_dir.clone(),
            worktree_dir: self.worktree_dir.clone(),
            max_running: self.max_running,
            ..SettingsOverrides::default()
        }
    }
}

/// An error as one line a person reads: lulu's own message (which names the thing at fault),
/// plus the operating system's or SQLite's words when such an error lies at the root ("No space
/// left on device", "database or disk is full"). The whole chain is in the debug log.
pub fn one_line(error: &anyhow::Error) -> String {
    let message = error.to_string();
    match lulu_core::system_root_cause(error.as_ref()) {
        Some(root) if !message.contains(&root) => format!("{message}: {root}"),
        _ => message,
    }
}

fn sessions(global: &GlobalOptions) -> anyhow::Result<Sessions> {
    let settings = Settings::resolve(global.overrides())?;
    Ok(Sessions::new(settings)?)
}

/// For the commands that only read: works on a read-only state dir too.
fn sessions_for_reading(global: &GlobalOptions) -> anyhow::Result<Sessions> {
    let settings = Settings::resolve(global.overrides())?;
    Ok(Sessions::new_for_reading(settings)?)
}

/// Settles sessions whose runner died, so what the CLI shows is the truth (not where the
/// database is read-only: then it shows what is recorded).
fn reconcile_sessions(sessions: &Sessions) {
    if sessions.is_read_only() {
        return;
    }
    if let Err(error) = sessions.reconcile(ReconcileOptions {
        sessions_only: true,
        remove_clean_orphans: false,
    }) {
        tracing::warn!(%error, "reconciliation failed");
    }
}

fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

fn current_dir() -> anyhow::Result<PathBuf> {
    std::env::current_dir().context("could not read the current directory")
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    let stdout = std::io::stdout();
    match cli.command {
        // `serve` owns stdout (the protocol) and `__run` prints nothing: neither takes its lock.
        CliCommand::Serve(args) => internal::serve(global, args),
        CliCommand::Run(args) => internal::run(global, args),
        CliCommand::Spawn(args) => session::spawn(global, args, &mut stdout.lock()),
        CliCommand::Ls(args) => session::ls(global, args, &mut stdout.lock()),
        CliCommand::Show(args) => session::show(global, args, &mut stdout.lock()),
        CliCommand::Logs(args) => session::logs(global, args, &mut stdout.lock()),
        CliCommand::Cancel(args) => session::cancel(global, args, &mut stdout.lock()),
        CliCommand::Continue(args) => session::continue_session(global, args, &mut stdout.lock()),
        CliCommand::Diff(args) => session::diff(global, args, &mut stdout.lock()),
        CliCommand::Rm(args) => session::rm(global, args, &mut stdout.lock()),
        CliCommand::Approvals(args) => approvals::list(global, args, &mut stdout.lock()),
        CliCommand::Approve(args) => approvals::approve(global, args, &mut stdout.lock()),
        CliCommand::Send(args) => approvals::send(global, args, &mut stdout.lock()),
        CliCommand::Land(args) => land::land(global, args, &mut stdout.lock()),
        CliCommand::Sync(args) => land::sync(global, args, &mut stdout.lock()),
        CliCommand::Push(args) => land::push(global, args, &mut stdout.lock()),
        CliCommand::Gc(args) => provision::gc(global, args, &mut stdout.lock()),
        CliCommand::Trust(args) => provision::trust(global, args, &mut stdout.lock()),
        CliCommand::Comment(args) => review::comment(global, args, &mut stdout.lock()),
        CliCommand::Comments(args) => review::comments(global, args, &mut stdout.lock()),
        CliCommand::Uncomment(args) => review::uncomment(global, args, &mut stdout.lock()),
        CliCommand::Review(args) => review::review(global, args, &mut stdout.lock()),
        CliCommand::Agents => upkeep::agents(global, &mut stdout.lock()),
        CliCommand::Demo => crate::demo::run(&mut stdout.lock()),
    }
}
