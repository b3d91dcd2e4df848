//! Running a repository's setup command (`sh -c SETUP`) in a new worktree, like an agent: its
//! own process group with a watchdog inside it (so it dies with the runner), every output line
//! a transcript event (`kind: "setup"`), cancellation polled from the row.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read},
    os::unix::process::{CommandExt, ExitStatusExt},
    path::Path,
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use chrono::Utc;

use crate::{
    model::{NewEvent, SessionId, Stream},
    process::{signal_group, signal_name},
    store::{Store, StoreError},
};

const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
const CANCEL_POLL: Duration = Duration::from_millis(100);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
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
    let watchdog = match start_watchdog(group) {
        Ok(watchdog) => watchdog,
        Err(error) => {
            signal_group(group, libc::SIGKILL).ok();
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
    let Watchdog { mut child, pipe } = watchdog;
    drop(pipe);
    child.wait().ok();
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
    let mut batch: Vec<NewEvent> = Vec::new();
    let mut last_stderr = None;
    let mut exit_status = None;
    let mut pipes_open = true;
    let mut group_killed_at: Option<Instant> = None;
    let mut cancel_started: Option<Instant> = None;
    let mut killed_hard = false;
    let mut last_cancel_check = Instant::now();
    let mut batch_started = Instant::now();
    loop {
        match lines.recv_timeout(FLUSH_INTERVAL) {
            Ok((stream, bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                let line = text.trim_end_matches(['\n', '\r']).to_owned();
                if stream == Stream::Stderr && !line.trim().is_empty() {
                    last_stderr = Some(line.clone());
                }
                if batch.is_empty() {
                    batch_started = Instant::now();
                }
                batch.push(NewEvent {
                    at: Utc::now(),
                    stream,
                    kind: "setup".to_owned(),
                    text: line,
                    data: None,
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                pipes_open = false;
                if exit_status.is_none() {
                    thread::sleep(FLUSH_INTERVAL);
                }
            }
        }
        if !batch.is_empty()
            && (batch.len() >= MAX_BATCH_EVENTS
                || batch_started.elapsed() >= FLUSH_INTERVAL
                || !pipes_open)
        {
            store.append_events(request.id, &batch)?;
            batch.clear();
        }
        if exit_status.is_none()
            && let Ok(Some(status)) = child.try_wait()
        {
            exit_status = Some(status);
            // Whatever the setup left in its group (a dev server started in the background)
            // goes too; the watchdog is still a member, so the group id is ours.
            signal_group(group, libc::SIGKILL).ok();
            group_killed_at = Some(Instant::now());
        }
        if exit_status.is_none() && last_cancel_check.elapsed() >= CANCEL_POLL {
            last_cancel_check = Instant::now();
            if cancel_started.is_none() && store.cancel_requested(request.id, request.run)? {
                store.append_events(
                    request.id,
                    &[NewEvent::lulu(
                        "status",
                        "cancelling: sent SIGTERM to the setup command's process group",
                    )],
                )?;
                signal_group(group, libc::SIGTERM).ok();
                cancel_started = Some(Instant::now());
            }
            if let Some(started) = cancel_started
                && !killed_hard
                && started.elapsed() >= request.cancel_grace
            {
                signal_group(group, libc::SIGKILL).ok();
                killed_hard = true;
            }
        }
        if exit_status.is_some() && !pipes_open && batch.is_empty() {
            break;
        }
        if let Some(killed_at) = group_killed_at
            && pipes_open
            && killed_at.elapsed() > DRAIN_TIMEOUT
        {
            if !batch.is_empty() {
                store.append_events(request.id, &batch)?;
            }
            break;
        }
    }
    let status = exit_status.expect("the loop ends only after the setup exited");
    Ok((status, cancel_started.is_some(), last_stderr))
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

struct Watchdog {
    child: Child,
    /// Closing it (or the runner dying) makes the watchdog kill the setup's group.
    pipe: ChildStdin,
}

fn start_watchdog(group: i32) -> std::io::Result<Watchdog> {
    let mut child = Command::new("/proc/self/exe")
        .arg("__watchdog")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(group)
        .spawn()?;
    let pipe = child.stdin.take().expect("stdin was configured as a pipe");
    Ok(Watchdog { child, pipe })
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
