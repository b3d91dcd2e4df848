//! A run's end: judging how the agent ended, the terminations and their lifecycle event, and
//! settling a run whose runner died.

use std::{os::unix::process::ExitStatusExt, path::Path, process::ExitStatus};

use crate::{
    agent_output::AgentVerdict,
    agent_record::AgentFate,
    model::{Outcome, OutputFormat, SessionId, Status, one_line_reason},
    process::signal_name,
    store::{Store, Termination},
};

/// How a run ended, from the exit status, cancellation and what the agent said.
pub(super) fn judge(
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
        return Termination::failed(
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
        return Termination::failed(Outcome::Signaled, None, Some(signal), &reason, detail);
    }
    let code = exit_code.unwrap_or(-1);
    if let Some(agent_error) = &verdict.error {
        let detail = format!(
            "{agent_error}\nexit code: {code}{}",
            last_stderr
                .map(|line| format!("\nlast stderr line: {line}"))
                .unwrap_or_default()
        );
        return Termination::failed(Outcome::AgentError, exit_code, None, agent_error, detail);
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
        return Termination::failed(Outcome::Exited, exit_code, None, &reason, detail);
    }
    if format == OutputFormat::ClaudeStreamJson && !verdict.saw_result {
        let reason = "Claude Code exited without a result";
        let detail = format!(
            "{reason} (exit code 0, no `result` line){}",
            last_stderr
                .map(|line| format!("\nlast stderr line: {line}"))
                .unwrap_or_default()
        );
        return Termination::failed(Outcome::AgentError, exit_code, None, reason, detail);
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

pub fn cancelled_termination(exit_code: Option<i32>, signal: Option<i32>) -> Termination {
    Termination::failed(
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
    let agent = crate::agent_record::end_orphaned_agent(state_dir, id, run);
    let mut termination = interrupted_termination(last_words.as_deref());
    match agent {
        AgentFate::Gone => {}
        AgentFate::Stopped { pid } => {
            termination.failure_detail = termination.failure_detail.map(|detail| {
                format!("{detail}\nIts agent (pid {pid}) was still running (its watchdog gone too); reconciliation killed the agent's process group.")
            });
        }
        AgentFate::MayBeRunning { pid } => {
            termination.failure_reason = Some(one_line_reason(&format!(
                "interrupted: the session's runner died; its agent may still be running (process group {pid})"
            )));
            termination.failure_detail = termination.failure_detail.map(|detail| {
                format!("{detail}\nBut processes of the agent's group {pid} remain and its leader is gone, so lulu cannot prove they are the agent's and did not signal them: the agent may still be running.")
            });
        }
    }
    let settled = store.finish_run(id, run, &termination)?;
    if settled {
        // Its slot, or its place in the queue, is free.
        if let Err(error) = crate::wake::wake_queued(store, state_dir) {
            // A hint only: the queued runners' safety poll finds the free slot anyway.
            tracing::warn!(%error, "could not wake the queued runners");
        }
    }
    Ok(settled)
}

/// The end of a run whose runner is gone without writing one. `last_words`: the error the
/// runner printed as it stopped ([`crate::process::runner_last_words`]), when it printed one.
fn interrupted_termination(last_words: Option<&str>) -> Termination {
    match last_words {
        None => Termination::failed(
            Outcome::Interrupted,
            None,
            None,
            "interrupted: the session's runner died without finishing",
            "interrupted: the runner process supervising this session is gone (killed, crashed, or the machine restarted) and it wrote no final state; the agent's process group was killed with it".to_owned(),
        ),
        Some(words) => Termination::failed(
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

pub(super) fn worktree_failed(reason: &str, detail: &str) -> Termination {
    Termination::failed(
        Outcome::WorktreeFailed,
        None,
        None,
        reason,
        detail.to_owned(),
    )
}

pub(super) fn spawn_failed(reason: &str, detail: &str) -> Termination {
    Termination::failed(Outcome::SpawnFailed, None, None, reason, detail.to_owned())
}
