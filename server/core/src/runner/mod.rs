//! The runner: one detached process per run of a session, its supervisor.
//!
//! It waits for a running slot, creates the worktree (first run), starts the agent in its own
//! process group with a watchdog inside that group, turns the agent's output into transcript
//! events (batched writes), watches for cancellation, and writes the run's one terminal state.
//!
//! A runner sleeps until something happens: it blocks in `poll` on its wake-up FIFO
//! ([`crate::wake`]: a cancel request, a freed slot), and, while the agent runs, on the agent's
//! pipes and its pidfd (the agent's exit). A slow safety poll re-reads the database in case a
//! wake-up never came. Modules: `supervise` (the agent's life: output, exit, cancellation),
//! `end` (judging the end, settling dead runners).

mod end;
mod supervise;

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::Context;
use rustix::process::Signal;

pub use end::{cancelled_termination, settle_dead_runner};
use end::{spawn_failed, worktree_failed};

use crate::{
    agent_host::AgentHost,
    model::{NewEvent, Session, SessionId, Status},
    process::{Watchdog, runner_alive, signal_group},
    store::{SlotClaim, Store, Termination},
    wake::{WakeReceiver, wake_queued},
    worktree::{CreateWorktree, create_worktree},
};

/// How long an agent has between SIGTERM and SIGKILL when cancelled.
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(5);
/// The cancellation grace period, from `LULU_CANCEL_GRACE_MS` when set (tests shorten it).
pub fn cancel_grace_from_env() -> Duration {
    std::env::var("LULU_CANCEL_GRACE_MS")
        .ok()
        .and_then(|value| value.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_CANCEL_GRACE)
}

/// How often a runner re-reads the database when no wake-up came: the safety net.
const SAFETY_POLL: Duration = Duration::from_secs(2);
/// How often the first runner in the queue checks that the slot holders' runners live (a
/// runner killed with SIGKILL wakes nobody).
const HEAD_OF_QUEUE_POLL: Duration = Duration::from_secs(1);
/// The polling period of a runner that could not open its wake-up FIFO.
const POLL_WITHOUT_WAKE: Duration = Duration::from_millis(100);
/// The runner's write-ahead log checkpoint interval in pages (40 MB of 4 KiB pages): a flood
/// copies its log into the database and syncs it a tenth as often as at SQLite's default of
/// 1,000, and pages written again by consecutive batches (the index's and the table's last
/// pages, the session's row) are copied once per checkpoint rather than once per 1,000 pages.
/// The log stays bounded (SQLite restarts it after each complete checkpoint).
const RUNNER_CHECKPOINT_PAGES: u32 = 10_000;

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    pub state_dir: PathBuf,
    pub id: SessionId,
    pub run: i64,
    pub worktree: Option<(PathBuf, String)>,
    pub cancel_grace: Duration,
}

/// Runs one run of a session to its end. Errors are for the runner's log; the session's
/// status is always settled first where it can be.
pub fn run(options: RunnerOptions) -> anyhow::Result<()> {
    // Listen before reading anything: a wake-up sent after this point is not lost.
    let wake = match WakeReceiver::listen(&options.state_dir, &options.id) {
        Ok(wake) => Some(wake),
        Err(error) => {
            tracing::warn!(id = %options.id, %error, "no wake-up FIFO; polling the database instead");
            None
        }
    };
    let store = Store::open(&options.state_dir).context("opening the session database")?;
    store
        .set_checkpoint_interval(RUNNER_CHECKPOINT_PAGES)
        .context("setting the runner's checkpoint interval")?;
    let session = store
        .session(&options.id)?
        .with_context(|| format!("no session {}", options.id))?;
    if session.run != options.run || session.status != Status::Starting {
        tracing::info!(id = %options.id, run = options.run, "run is no longer starting; nothing to do");
        return Ok(());
    }
    let mut runner = Runner {
        store,
        options,
        session,
        wake,
    };
    runner.execute()
}

struct Runner {
    store: Store,
    options: RunnerOptions,
    session: Session,
    /// None if the FIFO could not be made: the runner then polls quickly instead.
    wake: Option<WakeReceiver>,
}

/// What ended a run, before it is written.
enum RunEnd {
    Done(Termination),
    /// Someone else already ended the run (cancel while waiting, reconciliation).
    AlreadyEnded,
}

impl Runner {
    fn id(&self) -> &SessionId {
        &self.options.id
    }

    fn execute(&mut self) -> anyhow::Result<()> {
        let end = match self.wait_for_slot()? {
            Some(end) => end,
            None => self.prepare_and_run()?,
        };
        let finished = match end {
            RunEnd::AlreadyEnded => Ok(()),
            RunEnd::Done(termination) => self.finish(termination),
        };
        // ---- provisioning hook (issue 14), part 3: the run's ports go back.
        crate::provision::hook::release_ports(&mut self.store, &self.session);
        finished
    }

    fn finish(&mut self, termination: Termination) -> anyhow::Result<()> {
        let id = self.id().clone();
        let made_it = self.store.finish_run(&id, self.options.run, &termination)?;
        if !made_it {
            tracing::warn!(%id, "the run had already been ended by someone else");
        }
        // A slot is free, or the queue moved: whoever waits looks now.
        if let Err(error) = wake_queued(&self.store, &self.options.state_dir) {
            // A hint only: the queued runners' safety poll finds the free slot anyway.
            tracing::warn!(%error, "could not wake the queued runners");
        }
        Ok(())
    }

    /// Waits for a running slot, first come first served. Returns an end if the run ended
    /// while waiting. Sleeps between wake-ups; a runner killed with SIGKILL wakes nobody, so
    /// the first in the queue checks the slot holders' runners now and then, and every other
    /// one the runner just ahead of it (each settles what it finds dead, so the queue moves).
    fn wait_for_slot(&mut self) -> anyhow::Result<Option<RunEnd>> {
        let id = self.id().clone();
        let run = self.options.run;
        let mut announced = false;
        loop {
            let (running, ahead) = match self.store.try_claim_slot(&id, run)? {
                SlotClaim::Claimed => return Ok(None),
                SlotClaim::Gone => return Ok(Some(RunEnd::AlreadyEnded)),
                SlotClaim::Wait { running, ahead } => (running, ahead),
            };
            if !announced {
                announced = true;
                let text = format!(
                    "waiting for a running slot ({running} of {} running, {} queued ahead)",
                    self.session.max_running,
                    ahead.len()
                );
                self.store
                    .append_events(&id, &[NewEvent::lulu("status", text)])?;
            }
            if self.store.cancel_requested(&id, run)? {
                return Ok(Some(RunEnd::Done(cancelled_termination(None, None))));
            }
            let (suspects, period) = match ahead.last() {
                Some(just_ahead) => (vec![just_ahead.clone()], SAFETY_POLL),
                None => (self.store.slot_holders()?, HEAD_OF_QUEUE_POLL),
            };
            let mut settled_any = false;
            for other in &suspects {
                settled_any |= self.settle_if_orphaned(other)?;
            }
            if !settled_any {
                self.sleep_until_woken(period)?;
            }
        }
    }

    /// Blocks until a wake-up comes or `period` passes.
    fn sleep_until_woken(&self, period: Duration) -> anyhow::Result<()> {
        let Some(wake) = &self.wake else {
            std::thread::sleep(POLL_WITHOUT_WAKE);
            return Ok(());
        };
        let mut fds = [rustix::event::PollFd::new(
            wake,
            rustix::event::PollFlags::IN,
        )];
        let timeout = rustix::event::Timespec::try_from(period).expect("a short period fits");
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(std::io::Error::from(error)).context("waiting for a wake-up"),
        }
        wake.drain();
        Ok(())
    }

    /// Settles `other` as interrupted if its runner is dead. Returns whether it did.
    fn settle_if_orphaned(&mut self, other: &SessionId) -> anyhow::Result<bool> {
        if runner_alive(&self.options.state_dir, other)? {
            return Ok(false);
        }
        let Some(session) = self.store.session(other)? else {
            return Ok(false);
        };
        if session.status.is_ended() {
            return Ok(false);
        }
        // Re-check after reading the row: a runner for a brand-new run holds its lock from
        // before the row could be read as starting.
        if runner_alive(&self.options.state_dir, other)? {
            return Ok(false);
        }
        tracing::info!(%other, "settling a session whose runner is gone");
        Ok(settle_dead_runner(
            &mut self.store,
            &self.options.state_dir,
            other,
            session.run,
        )?)
    }

    fn prepare_and_run(&mut self) -> anyhow::Result<RunEnd> {
        let id = self.id().clone();
        // ---- provisioning hook (issue 14), part 1: a worktree gc removed comes back first.
        let restored = match crate::provision::hook::restore_collected_worktree(
            &mut self.store,
            &self.session,
        )? {
            Ok(restored) => restored,
            Err(termination) => return Ok(RunEnd::Done(termination)),
        };
        let fresh_worktree = restored || self.session.worktree_path.is_none();
        // ---- end of provisioning hook, part 1.
        let worktree_path = match self.ensure_worktree()? {
            Ok(path) => path,
            Err(termination) => return Ok(RunEnd::Done(termination)),
        };
        // ---- provisioning hook (issue 14), part 2: ports (into the session's env, so the agent
        // gets LULU_PORT/LULU_PORTS), includes and the trusted setup command, while `starting`.
        let provisioned = crate::provision::hook::provision_worktree(
            &mut self.store,
            &mut self.session,
            &crate::provision::hook::ProvisionWorktree {
                worktree: &worktree_path,
                run: self.options.run,
                fresh: fresh_worktree,
                cancel_grace: self.options.cancel_grace,
            },
        )?;
        if let Some(termination) = provisioned {
            return Ok(RunEnd::Done(termination));
        }
        // ---- end of provisioning hook, part 2.
        if self.store.cancel_requested(&id, self.options.run)? {
            return Ok(RunEnd::Done(cancelled_termination(None, None)));
        }
        self.run_agent(&worktree_path)
    }

    /// Creates the worktree on the first run; checks it is still there on later runs.
    fn ensure_worktree(&mut self) -> anyhow::Result<Result<PathBuf, Termination>> {
        let id = self.id().clone();
        if let Some(existing) = self.session.worktree_path.clone() {
            if existing.is_dir() {
                return Ok(Ok(existing));
            }
            let reason = format!("the worktree {} no longer exists", existing.display());
            return Ok(Err(worktree_failed(&reason, &reason)));
        }
        let Some((worktree_path, branch)) = self.options.worktree.clone() else {
            let reason = "the runner was started without a worktree to create";
            return Ok(Err(worktree_failed(reason, reason)));
        };
        let base_commit = self.session.base_commit.clone().unwrap_or_default();
        self.store.append_events(
            &id,
            &[NewEvent::lulu(
                "status",
                format!(
                    "creating worktree {} on branch {branch} from {}",
                    worktree_path.display(),
                    short_commit(&base_commit)
                ),
            )],
        )?;
        let created = create_worktree(&CreateWorktree {
            repo: &self.session.repo,
            worktree_path: &worktree_path,
            branch: &branch,
            base_commit: &base_commit,
        });
        if let Err(error) = created {
            // The most specific words (a full disk) fit the line; the path at fault is in the detail.
            let cause = crate::innermost_cause(&error);
            let reason = format!("could not create the worktree: {cause}");
            return Ok(Err(worktree_failed(&reason, &crate::error_chain(&error))));
        }
        // Stored canonical, once: reconciliation then compares paths as written.
        let worktree_path = std::fs::canonicalize(&worktree_path).unwrap_or(worktree_path);
        self.store.set_worktree(&id, &worktree_path, &branch)?;
        Ok(Ok(worktree_path))
    }

    fn run_agent(&mut self, worktree_path: &Path) -> anyhow::Result<RunEnd> {
        let id = self.id().clone();
        let run = self.options.run;
        let Some((program, arguments)) = self.session.command.split_first() else {
            let reason = "the agent command is empty";
            return Ok(RunEnd::Done(spawn_failed(reason, reason)));
        };
        let mut command = Command::new(program);
        command
            .args(arguments)
            .current_dir(worktree_path)
            .envs(&self.session.env)
            .env("LULU_SESSION_ID", id.as_str())
            // Issue 12: a stream-json agent is hosted through its stdin.
            .stdin(
                if self.session.input == crate::model::InputMode::StreamJson {
                    Stdio::piped()
                } else {
                    Stdio::null()
                },
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut agent = match command.spawn() {
            Ok(agent) => agent,
            Err(error) => {
                let reason = format!("could not start `{program}`: {error}");
                let detail = format!(
                    "{reason}\ncommand: {:?}\nworking directory: {}",
                    self.session.command,
                    worktree_path.display()
                );
                return Ok(RunEnd::Done(spawn_failed(&reason, &detail)));
            }
        };
        let process_group =
            i32::try_from(agent.id()).expect("a process id fits in an i32 on Linux");
        // Proof for reconciliation, should this runner and the watchdog both be killed.
        if let Err(error) =
            crate::agent_record::record(&self.options.state_dir, &id, run, process_group)
        {
            tracing::warn!(%id, %error, "could not record the agent's pid and start time");
        }
        // The watchdog joins the agent's group; it kills the group if this runner dies.
        let agent_stdin = agent.stdin.as_ref().map(std::os::fd::AsFd::as_fd);
        let watchdog = match Watchdog::start_closing(process_group, agent_stdin.as_slice()) {
            Ok(watchdog) => watchdog,
            Err(error) => {
                // The agent is our unreaped child: its group id is still ours.
                signal_group(process_group, Signal::KILL).ok();
                agent.wait().ok();
                let reason = format!("could not start the watchdog for the agent: {error}");
                return Ok(RunEnd::Done(spawn_failed(&reason, &reason)));
            }
        };
        let running_event = NewEvent::lulu(
            "status",
            format!("running {}", shell_words(&self.session.command)),
        );
        if !self.store.mark_running(&id, run, &running_event)? {
            // Cancelled or settled between the slot and now.
            signal_group(process_group, Signal::KILL).ok();
            agent.wait().ok();
            watchdog.reap();
            return Ok(RunEnd::AlreadyEnded);
        }
        // Issue 12: the host channel (prompt, approvals, messages) of a stream-json agent.
        let host = agent
            .stdin
            .take()
            .map(|stdin| AgentHost::start(&self.session, stdin));
        let outcome = self.supervise(agent, process_group, host)?;
        watchdog.reap();
        Ok(RunEnd::Done(outcome))
    }
}

fn short_commit(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// Renders a command for people (not for a shell to run).
pub fn shell_words(command: &[String]) -> String {
    command
        .iter()
        .map(|word| {
            if !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c))
            {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
