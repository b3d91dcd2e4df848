//! Running a repository's setup command (`sh -c SETUP`) in a new worktree, like an agent: its
//! own process group with a watchdog inside it (so it dies with the runner), every output line
//! a transcript event (`kind: "setup"`), cancellation polled from the row.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read},
    os::unix::process::{CommandExt, ExitStatusExt},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use chrono::Utc;

use rustix::process::Signal;

use crate::{
    model::{NewEvent, SessionId, Stream},
    process::{Watchdog, signal_group, signal_name},
    store::{Store, StoreError},
};

const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
const CANCEL_POLL: Duration = Duration::from_millis(100);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a setup that closed its output is checked for its exit.
const EXIT_POLL: Duration = Duration::from_millis(5);
const MAX_BATCH_EVENTS: usize = 1_000;

/// How a setup command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupEnd {
    Succeeded,
    Cancelled {
        exit_code: Option<i32>,
        signal: Option<i32>,
    },
    /// Exited non-zero, was killed, or could not start; `reason` is a line a person reads.
    Failed {
        reason: String,
        detail: String,
        exit_code: Option<i32>,
        signal: Option<i32>,
    },
}

/// One setup run.
#[derive(Debug, Clone, Copy)]
pub struct RunSetup<'a> {
    pub id: &'a SessionId,
    pub run: i64,
    pub setup: &'a str,
    pub worktree: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub cancel_grace: Duration,
}

/// Runs the setup command to its end; output lines go to the transcript as they come.
pub fn run_setup(store: &mut Store, request: &RunSetup<'_>) -> Result<SetupEnd, StoreError> {
    let shown = command_for_reason(request.setup);
    let mut child = match Command::new("sh")
        .arg("-c")
        .arg(request.setup)
        .current_dir(request.worktree)
        .envs(request.env)
        .env("LULU_SESSION_ID", request.id.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            let reason = format!("setup failed: could not start `sh` for {shown}: {error}");
            return Ok(SetupEnd::Failed {
                detail: reason.clone(),
                reason,
                exit_code: None,
                signal: None,
            });
        }
    };
    let group = i32::try_from(child.id()).expect("a process id fits in an i32 on Linux");
    let watchdog = match Watchdog::start(group) {
        Ok(watchdog) => watchdog,
        Err(error) => {
            signal_group(group, Signal::KILL).ok();
            child.wait().ok();
            let reason = format!("setup failed: could not start the watchdog for it: {error}");
            return Ok(SetupEnd::Failed {
                detail: reason.clone(),
                reason,
                exit_code: None,
                signal: None,
            });
        }
    };
    let outcome = supervise(store, request, &mut child, group);
    watchdog.reap();
    let (status, cancelled, last_stderr) = outcome?;
    Ok(judge(
        request.setup,
        status,
        cancelled,
        last_stderr.as_deref(),
    ))
}

/// The command as a reason shows it: its first line, shortened.
fn command_for_reason(setup: &str) -> String {
    const MAX: usize = 60;
    let first = setup.lines().next().unwrap_or("").trim();
    let more = setup.lines().count() > 1;
    let mut shown: String = first.chars().take(MAX).collect();
    if more || first.chars().count() > MAX {
        shown.push('…');
    }
    format!("`{shown}`")
}

fn judge(setup: &str, status: ExitStatus, cancelled: bool, last_stderr: Option<&str>) -> SetupEnd {
    let exit_code = status.code();
    let signal = status.signal();
    if cancelled {
        return SetupEnd::Cancelled { exit_code, signal };
    }
    if status.success() {
        return SetupEnd::Succeeded;
    }
    let shown = command_for_reason(setup);
    let reason = match (exit_code, signal) {
        (_, Some(signal)) => format!(
            "setup failed: {shown} was killed by {}",
            signal_name(signal)
        ),
        (Some(code), None) => format!("setup failed: {shown} exited with code {code}"),
        (None, None) => format!("setup failed: {shown} ended abnormally"),
    };
    let detail = format!(
        "{reason}\nsetup command: {setup}{}\nThe worktree is kept as the setup left it.",
        last_stderr
            .map(|line| format!("\nlast stderr line: {line}"))
            .unwrap_or_default()
    );
    SetupEnd::Failed {
        reason,
        detail,
        exit_code,
        signal,
    }
}

type Supervised = (ExitStatus, bool, Option<String>);

/// The state of one setup's supervision loop.
struct Supervisor<'s, 'r> {
    store: &'s mut Store,
    request: &'s RunSetup<'r>,
    group: i32,
    batch: Vec<NewEvent>,
    batch_started: Instant,
    last_stderr: Option<String>,
    exit_status: Option<ExitStatus>,
    group_killed_at: Option<Instant>,
    cancel_started: Option<Instant>,
    killed_hard: bool,
    last_cancel_check: Instant,
}

fn supervise(
    store: &mut Store,
    request: &RunSetup<'_>,
    child: &mut Child,
    group: i32,
) -> Result<Supervised, StoreError> {
    let (sender, lines) = mpsc::sync_channel::<(Stream, Vec<u8>)>(4_096);
    if let Some(stdout) = child.stdout.take() {
        spawn_reader(Stream::Stdout, stdout, sender.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        spawn_reader(Stream::Stderr, stderr, sender.clone());
    }
    drop(sender);
    let mut supervisor = Supervisor {
        store,
        request,
        group,
        batch: Vec::new(),
        batch_started: Instant::now(),
        last_stderr: None,
        exit_status: None,
        group_killed_at: None,
        cancel_started: None,
        killed_hard: false,
        last_cancel_check: Instant::now(),
    };
    let mut pipes_open = true;
    loop {
        match lines.recv_timeout(FLUSH_INTERVAL) {
            Ok((stream, bytes)) => supervisor.line(stream, &bytes),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // The setup closed its output; it has usually exited too. Poll it briskly.
                pipes_open = false;
                supervisor.poll_exit(child);
                if supervisor.exit_status.is_none() {
                    thread::sleep(EXIT_POLL);
                }
            }
        }
        supervisor.flush(!pipes_open)?;
        supervisor.poll_exit(child);
        supervisor.poll_cancel()?;
        if supervisor.exit_status.is_some() && !pipes_open && supervisor.batch.is_empty() {
            break;
        }
        // A process that left the group can hold the pipes open forever.
        if supervisor
            .group_killed_at
            .is_some_and(|killed_at| pipes_open && killed_at.elapsed() > DRAIN_TIMEOUT)
        {
            supervisor.flush(true)?;
            break;
        }
    }
    let status = supervisor
        .exit_status
        .expect("the loop ends only after the setup exited");
    Ok((
        status,
        supervisor.cancel_started.is_some(),
        supervisor.last_stderr,
    ))
}

impl Supervisor<'_, '_> {
    fn line(&mut self, stream: Stream, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let line = text.trim_end_matches(['\n', '\r']).to_owned();
        if stream == Stream::Stderr && !line.trim().is_empty() {
            self.last_stderr = Some(line.clone());
        }
        if self.batch.is_empty() {
            self.batch_started = Instant::now();
        }
        self.batch.push(NewEvent {
            at: Utc::now(),
            stream,
            kind: "setup".to_owned(),
            text: line,
            data: None,
        });
    }

    /// Writes the batch when it is due (or `now`).
    fn flush(&mut self, now: bool) -> Result<(), StoreError> {
        let due = now
            || self.batch.len() >= MAX_BATCH_EVENTS
            || self.batch_started.elapsed() >= FLUSH_INTERVAL;
        if due && !self.batch.is_empty() {
            self.store.append_events(self.request.id, &self.batch)?;
            self.batch.clear();
        }
        Ok(())
    }

    fn poll_exit(&mut self, child: &mut Child) {
        if self.exit_status.is_some() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            self.exit_status = Some(status);
            // Whatever the setup left in its group (a dev server started in the background)
            // goes too; the watchdog is still a member, so the group id is ours.
            signal_group(self.group, Signal::KILL).ok();
            self.group_killed_at = Some(Instant::now());
        }
    }

    /// SIGTERM to the group when a cancel was asked, SIGKILL after the grace period.
    fn poll_cancel(&mut self) -> Result<(), StoreError> {
        if self.exit_status.is_some() || self.last_cancel_check.elapsed() < CANCEL_POLL {
            return Ok(());
        }
        self.last_cancel_check = Instant::now();
        if self.cancel_started.is_none()
            && self
                .store
                .cancel_requested(self.request.id, self.request.run)?
        {
            self.store.append_events(
                self.request.id,
                &[NewEvent::lulu(
                    "status",
                    "cancelling: sent SIGTERM to the setup command's process group",
                )],
            )?;
            signal_group(self.group, Signal::TERM).ok();
            self.cancel_started = Some(Instant::now());
        }
        if let Some(started) = self.cancel_started
            && !self.killed_hard
            && started.elapsed() >= self.request.cancel_grace
        {
            signal_group(self.group, Signal::KILL).ok();
            self.killed_hard = true;
        }
        Ok(())
    }
}

fn spawn_reader(
    stream: Stream,
    pipe: impl Read + Send + 'static,
    sender: mpsc::SyncSender<(Stream, Vec<u8>)>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
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
                Err(_) => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(setup: &str, code: i32, expected_reason: &str) {
        let status = ExitStatus::from_raw(code << 8);
        match judge(setup, status, false, Some("npm ERR! missing script")) {
            SetupEnd::Failed { reason, .. } => assert_eq!(reason, expected_reason),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn failure_reasons_name_the_command() {
        check("npm ci", 1, "setup failed: `npm ci` exited with code 1");
        check(
            "npm ci\nnpm run build",
            2,
            "setup failed: `npm ci…` exited with code 2",
        );
        check(
            &"x".repeat(100),
            1,
            &format!("setup failed: `{}…` exited with code 1", "x".repeat(60)),
        );
        assert_eq!(
            judge("true", ExitStatus::from_raw(0), false, None),
            SetupEnd::Succeeded
        );
    }
}
