//! Proof that a process group is a session's agent's, for when its runner and watchdog are both
//! gone: the runner records the agent's pid and the kernel's start time of that process
//! (`/proc/PID/stat` field 22) in `runs/<id>.agent`. Reconciliation kills the group only if the
//! group's leader is that very process (same pid, same start time), so a recycled pid is never
//! signalled; otherwise it says the agent may still be running.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use crate::{model::SessionId, process::runs_dir};

pub fn record_path(state_dir: &Path, id: &SessionId) -> PathBuf {
    runs_dir(state_dir).join(format!("{id}.agent"))
}

/// The start time of a live process, in clock ticks since boot (`/proc/PID/stat` field 22);
/// `None` for a process that is gone or a zombie (dead, only not yet reaped: where PID 1 does
/// not reap, an orphaned agent stays one).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let after_name = stat.rsplit_once(')')?.1;
    let mut fields = after_name.split_whitespace();
    // Field 3 (state) is the first after the name; field 22 is 19 further on.
    if matches!(fields.next()?, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Records run `run`'s agent (the leader of its own process group).
pub fn record(state_dir: &Path, id: &SessionId, run: i64, pid: i32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let started = start_time(pid).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no start time for process {pid}"),
        )
    })?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(record_path(state_dir, id))?;
    writeln!(file, "{run} {pid} {started}")
}

/// What became of the agent of a run whose runner is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentFate {
    /// Nothing of its process group is left (or it never started).
    Gone,
    /// Its group leader was still the recorded process: its whole group was killed now.
    Stopped { pid: i32 },
    /// Processes of its group remain but the leader is gone, so the group cannot be proven to
    /// be the agent's: nothing was signalled.
    MayBeRunning { pid: i32 },
}

/// Ends the agent of run `run` if it is provably still there (see the module's doc).
pub fn end_orphaned_agent(state_dir: &Path, id: &SessionId, run: i64) -> AgentFate {
    let Some((pid, started)) = read_record(state_dir, id, run) else {
        return AgentFate::Gone;
    };
    if start_time(pid) == Some(started) {
        // The leader is the very process the runner started (same pid, same start time): the
        // group is the agent's.
        match nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        ) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => return AgentFate::Stopped { pid },
            Err(error) => {
                tracing::warn!(%id, pid, %error, "could not kill the orphaned agent's group");
                return AgentFate::MayBeRunning { pid };
            }
        }
    }
    if crate::process::group_members(pid).is_empty() {
        AgentFate::Gone
    } else {
        AgentFate::MayBeRunning { pid }
    }
}

fn read_record(state_dir: &Path, id: &SessionId, run: i64) -> Option<(i32, u64)> {
    let text = std::fs::read_to_string(record_path(state_dir, id)).ok()?;
    let mut fields = text.split_whitespace();
    let recorded_run: i64 = fields.next()?.parse().ok()?;
    let pid: i32 = fields.next()?.parse().ok()?;
    let started: u64 = fields.next()?.parse().ok()?;
    (recorded_run == run && pid > 1).then_some((pid, started))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_are_read_and_a_record_proves_only_its_own_process() {
        let state = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(runs_dir(state.path())).expect("runs dir");
        let me = i32::try_from(std::process::id()).expect("pid fits");
        assert!(start_time(me).is_some());
        let id = SessionId("s".to_owned());
        // A record of another run, or none, proves nothing.
        assert_eq!(end_orphaned_agent(state.path(), &id, 1), AgentFate::Gone);
        // A recorded pid whose start time differs (a recycled pid) is never signalled; this
        // very test process stands in for it, and survives.
        std::fs::write(record_path(state.path(), &id), format!("1 {me} 1\n")).expect("write");
        let fate = end_orphaned_agent(state.path(), &id, 1);
        assert!(
            matches!(fate, AgentFate::Gone | AgentFate::MayBeRunning { .. }),
            "{fate:?}"
        );
    }
}
