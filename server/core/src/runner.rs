//! The runner: one detached process per run of a session, its supervisor.
//!
//! It waits for a running slot, creates the worktree (first run), starts the agent in its own
//! process group with a watchdog inside that group, turns the agent's output into transcript
//! events (batched writes), watches for cancellation, and writes the run's one terminal state.

use std::{
    io::{BufRead, BufReader, Read},
    os::unix::process::{CommandExt, ExitStatusExt},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;

use crate::{
    agent_host::{AgentHost, Budget},
    agent_output::{AgentVerdict, parse_line},
    model::{NewEvent, Outcome, OutputFormat, Session, SessionId, Status, Stream, one_line_reason},
    process::{runner_alive, signal_group, signal_name},
    store::{SlotClaim, Store, Termination},
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

const SLOT_POLL: Duration = Duration::from_millis(100);
const CANCEL_POLL: Duration = Duration::from_millis(100);
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
const MAX_BATCH_EVENTS: usize = 2_000;
const MAX_BATCH_BYTES: usize = 8 << 20;
/// After the agent's group is gone, how long we wait for its pipes to close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// Lines in flight between the pipe readers and the writer (bounds memory; a flooding agent
/// is slowed by its own pipe, nobody else).
const LINE_CHANNEL_CAPACITY: usize = 8_192;

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
    let store = Store::open(&options.state_dir).context("opening the session database")?;
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
    };
    runner.execute()
}

struct Runner {
    store: Store,
    options: RunnerOptions,
    session: Session,
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
        match end {
            RunEnd::AlreadyEnded => Ok(()),
            RunEnd::Done(termination) => self.finish(termination),
        }
    }

    fn finish(&mut self, termination: Termination) -> anyhow::Result<()> {
        let id = self.id().clone();
        let made_it = self.store.finish_run(&id, self.options.run, &termination)?;
        if !made_it {
            tracing::warn!(%id, "the run had already been ended by someone else");
        }
        Ok(())
    }

    /// Waits for a running slot, first come first served. Returns an end if the run ended
    /// while waiting.
    fn wait_for_slot(&mut self) -> anyhow::Result<Option<RunEnd>> {
        let id = self.id().clone();
        let run = self.options.run;
        let mut announced = false;
        let mut last_liveness_check = Instant::now();
        loop {
            match self.store.try_claim_slot(&id, run)? {
                SlotClaim::Claimed => return Ok(None),
                SlotClaim::Gone => return Ok(Some(RunEnd::AlreadyEnded)),
                SlotClaim::Wait { running, ahead } => {
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
                    // A queued session whose runner died would hold the queue forever: settle
                    // it (it has no agent, so there is nothing to kill).
                    if last_liveness_check.elapsed() > Duration::from_secs(1) {
                        last_liveness_check = Instant::now();
                        for other in ahead {
                            self.settle_if_orphaned(&other)?;
                        }
                    }
                    thread::sleep(SLOT_POLL);
                }
            }
        }
    }

    fn settle_if_orphaned(&mut self, other: &SessionId) -> anyhow::Result<()> {
        if runner_alive(&self.options.state_dir, other)? {
            return Ok(());
        }
        let Some(session) = self.store.session(other)? else {
            return Ok(());
        };
        if session.status.is_ended() {
            return Ok(());
        }
        // Re-check after reading the row: a runner for a brand-new run holds its lock from
        // before the row could be read as starting.
        if runner_alive(&self.options.state_dir, other)? {
            return Ok(());
        }
        settle_dead_runner(&mut self.store, &self.options.state_dir, other, session.run)?;
        Ok(())
    }

    fn prepare_and_run(&mut self) -> anyhow::Result<RunEnd> {
        let id = self.id().clone();
        let worktree_path = match self.ensure_worktree()? {
            Ok(path) => path,
            Err(termination) => return Ok(RunEnd::Done(termination)),
        };
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
        // The watchdog joins the agent's group; it kills the group if this runner dies.
        let watchdog = match start_watchdog(process_group) {
            Ok(watchdog) => watchdog,
            Err(error) => {
                signal_group(process_group, libc::SIGKILL).ok();
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
            signal_group(process_group, libc::SIGKILL).ok();
            agent.wait().ok();
            reap_watchdog(watchdog);
            return Ok(RunEnd::AlreadyEnded);
        }
        // Issue 12 hook: the host channel (prompt, approvals, messages) for stream-json agents.
        let host = agent
            .stdin
            .take()
            .map(|stdin| AgentHost::start(&self.session, stdin));
        let outcome = self.supervise(&mut agent, process_group, host)?;
        reap_watchdog(watchdog);
        Ok(RunEnd::Done(outcome))
    }

    /// Reads the agent's output until it ends, handling cancellation; returns how it ended.
    fn supervise(
        &mut self,
        agent: &mut Child,
        process_group: i32,
        mut host: Option<AgentHost>,
    ) -> anyhow::Result<Termination> {
        let id = self.id().clone();
        let run = self.options.run;
        let format = self.session.format;
        let (sender, lines) = mpsc::sync_channel::<(Stream, Vec<u8>)>(LINE_CHANNEL_CAPACITY);
        let mut readers = Vec::new();
        if let Some(stdout) = agent.stdout.take() {
            readers.push(spawn_reader(Stream::Stdout, stdout, sender.clone()));
        }
        if let Some(stderr) = agent.stderr.take() {
            readers.push(spawn_reader(Stream::Stderr, stderr, sender.clone()));
        }
        drop(sender);

        let mut verdict = AgentVerdict::default();
        let mut reported = verdict.report.clone();
        let mut last_stderr: Option<String> = None;
        let mut batch: Vec<NewEvent> = Vec::new();
        let mut batch_bytes = 0_usize;
        let mut batch_started = Instant::now();
        let mut last_cancel_check = Instant::now();
        let mut cancel_started: Option<Instant> = None;
        let mut killed_hard = false;
        let mut exit_status: Option<ExitStatus> = None;
        let mut group_killed_at: Option<Instant> = None;
        let mut pipes_open = true;
        // Issue 12: limits stop the agent as a cancel does.
        let budget = Budget::new(&self.session);
        let mut over_budget: Option<String> = None;

        loop {
            let wait = host.as_ref().map_or(FLUSH_INTERVAL, |host| {
                host.poll_interval().min(FLUSH_INTERVAL)
            });
            match lines.recv_timeout(wait) {
                Ok((stream, bytes)) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let line = text.strip_suffix('\n').unwrap_or(&text);
                    let line = line.strip_suffix('\r').unwrap_or(line);
                    if stream == Stream::Stderr && !line.trim().is_empty() {
                        last_stderr = Some(line.to_owned());
                    }
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    batch_bytes += bytes.len();
                    if let Some(host) = host.as_mut()
                        && stream == Stream::Stdout
                    {
                        host.observe(&mut self.store, line)?;
                    }
                    batch.push(parse_line(format, stream, line, Utc::now(), &mut verdict));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The agent closed its output but may still run: poll it calmly.
                    pipes_open = false;
                    if exit_status.is_none() {
                        thread::sleep(FLUSH_INTERVAL);
                    }
                }
            }
            let flush_due = batch.len() >= MAX_BATCH_EVENTS
                || batch_bytes >= MAX_BATCH_BYTES
                || (!batch.is_empty() && batch_started.elapsed() >= FLUSH_INTERVAL)
                || (!batch.is_empty() && !pipes_open);
            if flush_due {
                self.store.append_events(&id, &batch)?;
                batch.clear();
                batch_bytes = 0;
                if verdict.report != reported {
                    self.store.set_agent_report(&id, &verdict.report)?;
                    reported = verdict.report.clone();
                }
            }

            if exit_status.is_none()
                && let Some(status) = agent.try_wait().context("waiting for the agent")?
            {
                exit_status = Some(status);
                // The leader is gone: whatever it left in its group (grandchildren holding
                // our pipes) goes too. The watchdog is still a member, so the group id is
                // still ours.
                signal_group(process_group, libc::SIGKILL).ok();
                group_killed_at = Some(Instant::now());
            }

            if let Some(host) = host.as_mut()
                && exit_status.is_none()
            {
                let said = host.tick(&mut self.store)?;
                if batch.is_empty() && !said.is_empty() {
                    batch_started = Instant::now();
                }
                batch.extend(said);
            }
            if exit_status.is_none()
                && cancel_started.is_none()
                && let Some(reason) = budget.exceeded(&verdict.report)
            {
                self.store.append_events(
                    &id,
                    &[NewEvent::lulu(
                        "status",
                        format!("{reason}: sent SIGTERM to the agent's process group"),
                    )],
                )?;
                signal_group(process_group, libc::SIGTERM).ok();
                cancel_started = Some(Instant::now());
                over_budget = Some(reason);
            }

            if exit_status.is_none() && last_cancel_check.elapsed() >= CANCEL_POLL {
                last_cancel_check = Instant::now();
                if cancel_started.is_none() && self.store.cancel_requested(&id, run)? {
                    self.store.append_events(
                        &id,
                        &[NewEvent::lulu(
                            "status",
                            "cancelling: sent SIGTERM to the agent's process group",
                        )],
                    )?;
                    signal_group(process_group, libc::SIGTERM).ok();
                    cancel_started = Some(Instant::now());
                }
                if let Some(started) = cancel_started
                    && !killed_hard
                    && started.elapsed() >= self.options.cancel_grace
                {
                    signal_group(process_group, libc::SIGKILL).ok();
                    killed_hard = true;
                }
            }

            if exit_status.is_some() && !pipes_open && batch.is_empty() {
                break;
            }
            // A process that left the group can hold the pipes open forever; once the group is
            // gone, give the pipes a bounded time to drain.
            if let Some(killed_at) = group_killed_at
                && pipes_open
                && killed_at.elapsed() > DRAIN_TIMEOUT
            {
                tracing::warn!(%id, "agent output pipes still open after its group was killed; stopping reading");
                if !batch.is_empty() {
                    self.store.append_events(&id, &batch)?;
                    batch.clear();
                }
                break;
            }
        }
        if verdict.report != reported {
            self.store.set_agent_report(&id, &verdict.report)?;
        }
        for reader in readers {
            if reader.is_finished() {
                reader.join().ok();
            }
        }
        drop(host);
        let status = exit_status.expect("the loop ends only after the agent exited");
        let over_budget = over_budget.or_else(|| {
            verdict
                .budget_exceeded
                .then(|| budget.cost_reason(verdict.report.cost_usd))
        });
        Ok(judge(
            format,
            status,
            cancel_started.is_some(),
            &verdict,
            last_stderr.as_deref(),
            over_budget.as_deref(),
        ))
    }
}

/// Reads one pipe line by line (a line may be any length) into the channel.
fn spawn_reader(
    stream: Stream,
    pipe: impl Read + Send + 'static,
    sender: mpsc::SyncSender<(Stream, Vec<u8>)>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::with_capacity(64 * 1024, pipe);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if sender.send((stream, line)).is_err() {
                        break;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::warn!(stream = stream.as_str(), %error, "reading agent output failed");
                    break;
                }
            }
        }
    })
}

struct Watchdog {
    child: Child,
    /// The runner's end of the watchdog's stdin: closing it (or dying) tells the watchdog.
    _pipe: ChildStdin,
}

fn start_watchdog(process_group: i32) -> std::io::Result<Watchdog> {
    // /proc/self/exe is the binary this runner runs, even if an upgrade has replaced or
    // deleted the file since.
    let mut child = Command::new("/proc/self/exe")
        .arg("__watchdog")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(process_group)
        .spawn()?;
    let pipe = child.stdin.take().expect("stdin was configured as a pipe");
    Ok(Watchdog { child, _pipe: pipe })
}

fn reap_watchdog(watchdog: Watchdog) {
    let Watchdog { mut child, _pipe } = watchdog;
    drop(_pipe);
    // The group kill took it already, or closing the pipe makes it kill its (now empty) group.
    child.wait().ok();
}

/// How a run ended, from the exit status, cancellation and what the agent said.
fn judge(
    format: OutputFormat,
    status: ExitStatus,
    cancelled: bool,
    verdict: &AgentVerdict,
    last_stderr: Option<&str>,
    over_budget: Option<&str>,
) -> Termination {
    let exit_code = status.code();
    let signal = status.signal();
    if let Some(reason) = over_budget {
        return failed(
            Outcome::OverBudget,
            exit_code,
            signal,
            reason,
            reason.to_owned(),
        );
    }
    if cancelled {
        return cancelled_termination(exit_code, signal);
    }
    if let Some(signal) = signal {
        let reason = format!("the agent was killed by {}", signal_name(signal));
        let detail = match last_stderr {
            Some(stderr) => format!("{reason}\nlast stderr line: {stderr}"),
            None => reason.clone(),
        };
        return failed(Outcome::Signaled, None, Some(signal), &reason, detail);
    }
    let code = exit_code.unwrap_or(-1);
    if let Some(agent_error) = &verdict.error {
        let detail = format!(
            "{agent_error}\nexit code: {code}{}",
            last_stderr
                .map(|line| format!("\nlast stderr line: {line}"))
                .unwrap_or_default()
        );
        return failed(Outcome::AgentError, exit_code, None, agent_error, detail);
    }
    if code != 0 {
        let reason = match last_stderr {
            Some(line) => format!("exit code {code}: {line}"),
            None => format!("the agent exited with code {code}"),
        };
        let detail = format!(
            "the agent exited with code {code}{}",
            last_stderr
                .map(|line| format!("\nlast stderr line: {line}"))
                .unwrap_or_default()
        );
        return failed(Outcome::Exited, exit_code, None, &reason, detail);
    }
    if format == OutputFormat::ClaudeStreamJson && !verdict.saw_result {
        let reason = "Claude Code exited without a result";
        let detail = format!(
            "{reason} (exit code 0, no `result` line){}",
            last_stderr
                .map(|line| format!("\nlast stderr line: {line}"))
                .unwrap_or_default()
        );
        return failed(Outcome::AgentError, exit_code, None, reason, detail);
    }
    Termination {
        status: Status::Completed,
        outcome: Outcome::Exited,
        exit_code,
        signal: None,
        failure_reason: None,
        failure_detail: None,
    }
}

fn failed(
    outcome: Outcome,
    exit_code: Option<i32>,
    signal: Option<i32>,
    reason: &str,
    detail: String,
) -> Termination {
    Termination {
        status: Status::Failed,
        outcome,
        exit_code,
        signal,
        failure_reason: Some(one_line_reason(reason)),
        failure_detail: Some(detail),
    }
}

pub fn cancelled_termination(exit_code: Option<i32>, signal: Option<i32>) -> Termination {
    failed(
        Outcome::Cancelled,
        exit_code,
        signal,
        "cancelled by the user",
        "cancelled by the user".to_owned(),
    )
}

/// Ends run `run` of a session whose runner is gone (the caller has seen its lock free) as
/// `interrupted`, with the error the runner printed as it stopped, if any. False if the run had
/// already ended.
pub fn settle_dead_runner(
    store: &mut Store,
    state_dir: &Path,
    id: &SessionId,
    run: i64,
) -> Result<bool, crate::store::StoreError> {
    let last_words = crate::process::runner_last_words(state_dir, id);
    let termination = interrupted_termination(last_words.as_deref());
    store.finish_run(id, run, &termination)
}

/// The end of a run whose runner is gone without writing one. `last_words`: the error the
/// runner printed as it stopped ([`crate::process::runner_last_words`]), when it printed one.
fn interrupted_termination(last_words: Option<&str>) -> Termination {
    match last_words {
        None => failed(
            Outcome::Interrupted,
            None,
            None,
            "interrupted: the session's runner died without finishing",
            "interrupted: the runner process supervising this session is gone (killed, crashed, or the machine restarted) and it wrote no final state; the agent's process group was killed with it".to_owned(),
        ),
        Some(words) => failed(
            Outcome::Interrupted,
            None,
            None,
            // The root cause fits the line ("database or disk is full"); the whole error, with
            // the path at fault, is in the detail.
            &format!(
                "interrupted: the session's runner stopped on an error: {}",
                words.rsplit(": ").next().unwrap_or(words)
            ),
            format!("interrupted: the runner process supervising this session stopped on an error and could not write a final state; the agent's process group was killed with it. The runner's error: {words}"),
        ),
    }
}

fn worktree_failed(reason: &str, detail: &str) -> Termination {
    failed(
        Outcome::WorktreeFailed,
        None,
        None,
        reason,
        detail.to_owned(),
    )
}

fn spawn_failed(reason: &str, detail: &str) -> Termination {
    failed(Outcome::SpawnFailed, None, None, reason, detail.to_owned())
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
