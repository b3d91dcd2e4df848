//! The command line: `lulu spawn`, `ls`, `show`, `logs`, `cancel`, `continue`, `diff`, `rm`,
//! `gc`, `agents`, `demo`, `serve`, and the hidden runner and watchdog entry points.
//!
//! The CLI is an edge: it turns arguments into sessions calls and results into text or
//! JSON (the protocol's own shapes), and errors into one line on stderr and a non-zero exit.

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

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Start a session: a new worktree and an agent working in it. Returns at once.
    Spawn {
        /// What the agent should do.
        #[arg(required = true, num_args = 1..)]
        prompt: Vec<String>,
        /// Agent profile (default: claude, or config.toml's default_agent).
        #[arg(long)]
        agent: Option<String>,
        /// Revision to branch from (default HEAD).
        #[arg(long = "base", value_name = "REF")]
        base_ref: Option<String>,
        /// Human name (default: derived from the prompt).
        #[arg(long)]
        name: Option<String>,
        /// Any path inside the repository (default: the current directory).
        #[arg(long, value_name = "PATH")]
        repo: Option<PathBuf>,
        /// Print the new session as JSON (a SessionRow).
        #[arg(long)]
        json: bool,
        /// Stop the session once the agent reports spending more than this (US dollars).
        #[arg(long = "max-cost", value_name = "USD")]
        max_cost_usd: Option<f64>,
        /// Stop the session after this many minutes of running.
        #[arg(long, value_name = "N")]
        max_minutes: Option<f64>,
    },
    /// Pending permission requests of running agents, oldest first.
    Approvals {
        /// Only this session's.
        id: Option<String>,
        /// Print `{ approvals: Approval[] }` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Answer a permission request: allow it (default) or deny it.
    Approve {
        /// The approval id (from `lulu approvals`).
        approval_id: String,
        #[arg(long)]
        deny: bool,
        /// Words for the agent (with --deny: why).
        #[arg(long, short = 'm', value_name = "MSG")]
        message: Option<String>,
    },
    /// Send a message to a running agent; it takes it after what it is doing now.
    Send {
        id: String,
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// The session list: newest first, status, name, failure reason, age.
    #[command(alias = "list")]
    Ls {
        /// Print SessionRow objects as JSON.
        #[arg(long)]
        json: bool,
        /// Every repository, not only the one around the current directory.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// A session's details: worktree, branch, base, outcome, exit code, cost, failure detail.
    Show {
        id: String,
        /// Print the SessionDetail as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A session's transcript.
    Logs {
        id: String,
        /// Keep streaming until the session ends.
        #[arg(long, short)]
        follow: bool,
        /// Print TranscriptEvent objects, one JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a starting or running session (SIGTERM, then SIGKILL after a grace period).
    Cancel { id: String },
    /// Run the agent again in the same worktree, resuming its conversation.
    Continue {
        id: String,
        #[arg(required = true, num_args = 1..)]
        prompt: Vec<String>,
    },
    /// Files changed in the session's worktree against its base commit.
    Diff {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a session's worktree and row (refuses to lose work unless --force).
    Rm {
        id: String,
        /// Cancel it if running and discard uncommitted work (and unmerged commits with --delete-branch).
        #[arg(long)]
        force: bool,
        /// Delete the session's branch too.
        #[arg(long)]
        delete_branch: bool,
    },
    /// Reconcile: interrupted sessions, stale worktree metadata, orphan worktree folders.
    Gc,
    /// The agent profiles and whether their programs are installed.
    Agents,
    /// Show the machinery on a scratch repository with a demo agent (touches nothing of yours).
    Demo,
    /// Speak the Lulu protocol (LSP framing) on stdin/stdout, for editors.
    Serve {
        /// How often reconciliation runs after the first, in milliseconds (tests shorten it).
        #[arg(long, hide = true, value_name = "MS", default_value_t = 30_000)]
        reconcile_every_ms: u64,
    },
    /// Runs one run of a session (started by lulu itself).
    #[command(name = "__run", hide = true)]
    Run {
        #[arg(long)]
        session: String,
        #[arg(long)]
        run: i64,
        #[arg(long)]
        lock_fd: i32,
        #[arg(long)]
        worktree: Option<PathBuf>,
        #[arg(long)]
        branch: Option<String>,
    },
    /// Kills its process group when its stdin closes (started by a runner).
    #[command(name = "__watchdog", hide = true)]
    Watchdog,
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

/// Settles sessions whose runner died, so what the CLI shows is the truth.
fn reconcile_sessions(sessions: &Sessions) {
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
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        CliCommand::Spawn {
            prompt,
            agent,
            base_ref,
            name,
            repo,
            json,
            max_cost_usd,
            max_minutes,
        } => {
            let sessions = sessions(&cli.global)?;
            let repo = match repo {
                Some(repo) => repo,
                None => current_dir()?,
            };
            let session = sessions.spawn(SpawnRequest {
                prompt: prompt.join(" "),
                name,
                agent,
                base_ref,
                repo,
                max_cost_usd,
                max_minutes,
            })?;
            if json {
                write_json(&mut out, &protocol::SessionRow::from(&session))?;
            } else {
                writeln!(out, "{}  {}", session.id, session.name)?;
            }
        }
        CliCommand::Ls { json, all, limit } => {
            let sessions = sessions(&cli.global)?;
            reconcile_sessions(&sessions);
            let repos = if all {
                None
            } else {
                match sessions.repository_of(&current_dir()?) {
                    Ok(repo) => Some(vec![repo]),
                    Err(_) => None,
                }
            };
            let page = sessions.list(&ListQuery {
                limit: limit.clamp(1, 1000),
                before: None,
                repos,
            })?;
            if json {
                let rows: Vec<protocol::SessionRow> = page
                    .sessions
                    .iter()
                    .map(protocol::SessionRow::from)
                    .collect();
                write_json(&mut out, &rows)?;
            } else {
                let style = ListStyle {
                    color: std::io::stdout().is_terminal(),
                    frame: 0,
                };
                write!(
                    out,
                    "{}",
                    render::session_table(&page.sessions, Utc::now(), style)
                )?;
            }
        }
        CliCommand::Show { id, json } => {
            let sessions = sessions(&cli.global)?;
            reconcile_sessions(&sessions);
            let session = sessions.session(&id)?;
            if json {
                let mut detail = protocol::SessionDetail::from(&session);
                detail.pending_approvals = sessions
                    .approvals(Some(session.id.as_str()))?
                    .iter()
                    .map(protocol::Approval::from)
                    .collect();
                write_json(&mut out, &detail)?;
            } else {
                write!(out, "{}", render::session_detail(&session, Utc::now()))?;
            }
        }
        CliCommand::Logs { id, follow, json } => {
            let sessions = sessions(&cli.global)?;
            reconcile_sessions(&sessions);
            let session = sessions.session(&id)?;
            let mut after = 0;
            loop {
                let transcript = sessions.transcript(session.id.as_str(), after, 1000)?;
                for event in &transcript.events {
                    if json {
                        serde_json::to_writer(&mut out, &protocol::TranscriptEvent::from(event))?;
                        writeln!(out)?;
                    } else {
                        write!(out, "{}", render::transcript_event(event))?;
                    }
                    after = event.seq;
                }
                out.flush()?;
                if !transcript.events.is_empty() {
                    continue;
                }
                if !follow {
                    break;
                }
                let current = sessions.session(session.id.as_str())?;
                if current.status.is_ended() && after >= current.last_seq {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
                reconcile_sessions(&sessions);
            }
        }
        CliCommand::Cancel { id } => {
            let sessions = sessions(&cli.global)?;
            let session = sessions.cancel(&id)?;
            let reason = session
                .failure_reason
                .as_deref()
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default();
            writeln!(out, "{}  {}{reason}", session.id, session.status.as_str())?;
        }
        CliCommand::Continue { id, prompt } => {
            let sessions = sessions(&cli.global)?;
            let session = sessions.continue_session(&id, prompt.join(" "))?;
            writeln!(
                out,
                "{}  {}  (run {})",
                session.id, session.name, session.run
            )?;
        }
        CliCommand::Diff { id, json } => {
            let sessions = sessions(&cli.global)?;
            let diff = sessions.diff(&id)?;
            if json {
                write_json(&mut out, &protocol::DiffResult::from(&diff))?;
            } else {
                writeln!(out, "base {}", diff.base_commit)?;
                if diff.files.is_empty() {
                    writeln!(out, "no changes")?;
                }
                for file in &diff.files {
                    let path = match &file.old_path {
                        Some(old) => format!("{old} → {}", file.path),
                        None => file.path.clone(),
                    };
                    writeln!(
                        out,
                        "{:<8} {:>6} {:>6}  {path}",
                        protocol::change_status_name(file.status),
                        format!("+{}", file.additions),
                        format!("-{}", file.deletions),
                    )?;
                }
            }
        }
        CliCommand::Rm {
            id,
            force,
            delete_branch,
        } => {
            let sessions = sessions(&cli.global)?;
            let session = sessions.session(&id)?;
            sessions.remove(
                session.id.as_str(),
                RemoveOptions {
                    force,
                    delete_branch,
                },
            )?;
            writeln!(out, "removed {}  {}", session.id, session.name)?;
        }
        CliCommand::Gc => {
            let sessions = sessions(&cli.global)?;
            let report = sessions.reconcile(ReconcileOptions {
                sessions_only: false,
                remove_clean_orphans: true,
            })?;
            for id in &report.interrupted {
                writeln!(out, "interrupted  {id}  (its runner was gone)")?;
            }
            for path in &report.pruned {
                writeln!(
                    out,
                    "pruned       {}  (stale worktree metadata)",
                    path.display()
                )?;
            }
            for path in &report.removed_orphans {
                writeln!(
                    out,
                    "removed      {}  (clean orphan worktree)",
                    path.display()
                )?;
            }
            for orphan in &report.orphans {
                if report.removed_orphans.contains(&orphan.path) {
                    continue;
                }
                let why = if orphan.registered {
                    "orphan worktree with uncommitted work; kept"
                } else {
                    "folder no session owns; kept"
                };
                writeln!(out, "orphan       {}  ({why})", orphan.path.display())?;
            }
            for problem in &report.problems {
                writeln!(out, "problem      {problem}")?;
            }
            if report.interrupted.is_empty()
                && report.pruned.is_empty()
                && report.orphans.is_empty()
                && report.problems.is_empty()
            {
                writeln!(out, "nothing to reconcile")?;
            }
        }
        CliCommand::Approvals { id, json } => {
            let sessions = sessions(&cli.global)?;
            reconcile_sessions(&sessions);
            approvals::list(&sessions, id.as_deref(), json, &mut out)?;
        }
        CliCommand::Approve {
            approval_id,
            deny,
            message,
        } => {
            let sessions = sessions(&cli.global)?;
            let answer = lulu_core::sessions::ApprovalAnswer {
                approval_id,
                allow: !deny,
                message,
            };
            approvals::approve(&sessions, answer, &mut out)?;
        }
        CliCommand::Send { id, text } => {
            let sessions = sessions(&cli.global)?;
            approvals::send(&sessions, &id, &text.join(" "), &mut out)?;
        }
        CliCommand::Agents => {
            let sessions = sessions(&cli.global)?;
            let default = &sessions.settings().default_agent;
            for agent in sessions.agents() {
                writeln!(
                    out,
                    "{}{:<10} {:<20} {:<14} {:<16} {}",
                    if &agent.name == default { "* " } else { "  " },
                    agent.name,
                    agent.format,
                    if agent.available {
                        "available"
                    } else {
                        "not on PATH"
                    },
                    if agent.input == "stream-json" {
                        "approvals, send"
                    } else {
                        "no approvals"
                    },
                    lulu_core::runner::shell_words(&agent.command)
                )?;
            }
        }
        CliCommand::Demo => crate::demo::run(&mut out)?,
        CliCommand::Serve { reconcile_every_ms } => {
            drop(out);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("could not start the async runtime")?;
            let code = runtime.block_on(lulu_lsp::serve_stdio(lulu_lsp::ServeOptions {
                overrides: cli.global.overrides(),
                reconcile_every: std::time::Duration::from_millis(reconcile_every_ms.max(100)),
            }));
            // Stdin may still be open and its reader blocked: end now (see serve_stdio).
            std::process::exit(code);
        }
        CliCommand::Run {
            session,
            run,
            lock_fd,
            worktree,
            branch,
        } => {
            lulu_core::process::adopt_runner_lock(lock_fd)
                .context("the runner lock was not handed over")?;
            let settings = Settings::resolve(cli.global.overrides())?;
            let worktree = match (worktree, branch) {
                (Some(path), Some(branch)) => Some((path, branch)),
                (None, None) => None,
                _ => bail!("--worktree and --branch go together"),
            };
            runner::run(RunnerOptions {
                state_dir: settings.state_dir,
                id: lulu_core::model::SessionId(session),
                run,
                worktree,
                cancel_grace: runner::cancel_grace_from_env(),
            })?;
        }
        CliCommand::Watchdog => lulu_core::process::run_watchdog(),
    }
    Ok(())
}
