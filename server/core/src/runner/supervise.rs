//! The agent's life under its runner: one thread, blocked in `poll` on the agent's stdout and
//! stderr (read without blocking, cut into lines in a buffer), its pidfd (its exit), and the
//! runner's wake-up FIFO (a cancel request). Nothing happens between events but the batch's
//! flush timer, the cancellation's grace timer and the slow safety poll.

use std::{
    fs::File,
    os::fd::{AsFd, OwnedFd},
    process::{Child, ExitStatus},
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use rustix::{
    event::{PollFd, PollFlags, Timespec},
    io::Errno,
    process::{Pid, PidfdFlags, Signal},
};

use super::{POLL_WITHOUT_WAKE, Runner, SAFETY_POLL, end::judge};
use crate::{
    agent_host::{AgentHost, Budget},
    agent_output::{AgentVerdict, parse_line_to_store},
    model::{NewEvent, OutputFormat, SessionId, Stream},
    process::signal_group,
    store::{AgentReport, Store, Termination},
};

/// The longest an event waits in the batch before it is written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// How long a sleep ahead makes the runner give back memory before it (see `supervise`).
const SETTLE_AFTER: Duration = Duration::from_secs(1);
const MAX_BATCH_EVENTS: usize = 2_000;
const MAX_BATCH_BYTES: usize = 8 << 20;
/// After the agent's group is gone, how long we wait for its pipes to close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
const READ_CHUNK: usize = 64 * 1024;
/// Chunks read from one pipe before the loop looks at everything else again (a flooding
/// agent does not delay its own cancellation).
const CHUNKS_PER_ROUND: usize = 16;
/// How often the agent's exit is checked when the kernel has no pidfd (before Linux 5.3).
const EXIT_POLL_WITHOUT_PIDFD: Duration = Duration::from_millis(50);

/// What came out of the agent so far: the batch not yet written, and what it said about itself.
struct Ingest {
    format: OutputFormat,
    verdict: AgentVerdict,
    reported: AgentReport,
    last_stderr: Option<String>,
    batch: Vec<NewEvent>,
    batch_bytes: usize,
    batch_started: Instant,
}

impl Ingest {
    fn new(format: OutputFormat) -> Ingest {
        Ingest {
            format,
            verdict: AgentVerdict::default(),
            reported: AgentReport::default(),
            last_stderr: None,
            batch: Vec::new(),
            batch_bytes: 0,
            batch_started: Instant::now(),
        }
    }

    fn take_line(&mut self, stream: Stream, bytes: &[u8]) {
        let text = utf8(bytes);
        let line = text.strip_suffix('\n').unwrap_or(&text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if stream == Stream::Stderr && !line.trim().is_empty() {
            self.last_stderr = Some(line.to_owned());
        }
        if self.batch.is_empty() {
            self.batch_started = Instant::now();
        }
        self.batch_bytes += bytes.len();
        self.batch.push(parse_line_to_store(
            self.format,
            stream,
            line,
            Utc::now(),
            &mut self.verdict,
        ));
    }

    fn full(&self) -> bool {
        self.batch.len() >= MAX_BATCH_EVENTS || self.batch_bytes >= MAX_BATCH_BYTES
    }

    /// When the batch must be written, if it holds anything.
    fn flush_due(&self) -> Option<Instant> {
        (!self.batch.is_empty()).then(|| self.batch_started + FLUSH_INTERVAL)
    }

    /// Writes the batch (one transaction) and what the agent reported, if it changed.
    fn flush(&mut self, store: &mut Store, id: &SessionId) -> anyhow::Result<()> {
        if !self.batch.is_empty() {
            store.append_events(id, &self.batch)?;
            self.batch.clear();
            self.batch_bytes = 0;
        }
        if self.verdict.report != self.reported {
            store.set_agent_report(id, &self.verdict.report)?;
            self.reported = self.verdict.report.clone();
        }
        Ok(())
    }
}

/// A line as text: borrowed when it is valid UTF-8 (checked by the fast validator), else
/// with each bad sequence replaced.
fn utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// One of the agent's output pipes, read without blocking and cut into lines (a line may be
/// any length).
struct Pipe {
    stream: Stream,
    /// None once it reached its end.
    file: Option<File>,
    partial: Vec<u8>,
}

enum Chunk {
    Read,
    Empty,
    Closed,
}

impl Pipe {
    fn new(stream: Stream, fd: impl Into<OwnedFd>) -> std::io::Result<Pipe> {
        let fd: OwnedFd = fd.into();
        rustix::io::ioctl_fionbio(&fd, true)?;
        Ok(Pipe {
            stream,
            file: Some(File::from(fd)),
            partial: Vec::new(),
        })
    }

    fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Reads one chunk; every complete line goes to `take_line`, the rest waits for its end.
    fn read_chunk(
        &mut self,
        buffer: &mut [u8],
        take_line: &mut impl FnMut(Stream, &[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<Chunk> {
        let Some(file) = &self.file else {
            return Ok(Chunk::Closed);
        };
        let read = match rustix::io::read(file, &mut *buffer) {
            Ok(read) => read,
            Err(Errno::AGAIN) => return Ok(Chunk::Empty),
            Err(Errno::INTR) => return Ok(Chunk::Read),
            Err(error) => {
                tracing::warn!(stream = self.stream.as_str(), %error, "reading agent output failed");
                0
            }
        };
        if read == 0 {
            self.file = None;
            if !self.partial.is_empty() {
                take_line(self.stream, &std::mem::take(&mut self.partial))?;
            }
            return Ok(Chunk::Closed);
        }
        let mut data = &buffer[..read];
        while let Some(newline) = memchr::memchr(b'\n', data) {
            let (line, rest) = data.split_at(newline + 1);
            if self.partial.is_empty() {
                take_line(self.stream, line)?;
            } else {
                self.partial.extend_from_slice(line);
                take_line(self.stream, &self.partial)?;
                self.partial.clear();
            }
            data = rest;
        }
        self.partial.extend_from_slice(data);
        Ok(Chunk::Read)
    }
}

/// What woke the loop.
#[derive(Default)]
struct Ready {
    pipes: [bool; 2],
    exited: bool,
    woken: bool,
}

/// How the agent's end is going.
#[derive(Default)]
struct Ending {
    exit_status: Option<ExitStatus>,
    cancel_started: Option<Instant>,
    killed_hard: bool,
    group_killed_at: Option<Instant>,
    last_cancel_check: Option<Instant>,
    /// Issue 12: why a limit stopped the agent (it is stopped as a cancel does).
    over_budget: Option<String>,
}

impl Runner {
    /// Reads the agent's output until it ends, handling cancellation; returns how it ended.
    pub(super) fn supervise(
        &mut self,
        mut agent: Child,
        process_group: i32,
        mut host: Option<AgentHost>,
    ) -> anyhow::Result<Termination> {
        let id = self.id().clone();
        let mut pipes = agent_pipes(&mut agent)?;
        let pidfd = rustix::process::pidfd_open(Pid::from_child(&agent), PidfdFlags::empty())
            .map_err(|error| tracing::debug!(%error, "no pidfd; polling the agent's exit"))
            .ok();
        let mut ingest = Ingest::new(self.session.format);
        let mut ending = Ending {
            last_cancel_check: Some(Instant::now()),
            ..Ending::default()
        };
        let mut buffer = vec![0_u8; READ_CHUNK];
        let budget = Budget::new(&self.session);

        // Whether the memory the last burst of work left behind was given back (see below).
        let mut settled = false;
        loop {
            let deadline = self
                .next_deadline(&ending, &ingest, &pipes, pidfd.is_some())
                .min(self.host_deadline(&ending, host.as_ref(), &budget));
            // A long sleep ahead (the agent is thinking): give back the database connection's
            // cache and the heap's free pages first, once per quiet spell. A sleeping session
            // then costs little more than its runner's code (issue 10).
            if !settled && deadline.saturating_duration_since(Instant::now()) >= SETTLE_AFTER {
                self.store.release_memory();
                crate::process::give_back_free_heap();
                settled = true;
            }
            let ready = self.wait(&pipes, pidfd.as_ref(), &ending, deadline)?;
            if ready.pipes.iter().any(|ready| *ready) {
                settled = false;
            }

            self.read_pipes(
                &mut pipes,
                ready.pipes,
                &mut buffer,
                &mut ingest,
                host.as_mut(),
            )?;
            let pipes_open = pipes.iter().any(Pipe::is_open);

            if ending.exit_status.is_none() && (ready.exited || pidfd.is_none()) {
                ending.note_exit(&mut agent, process_group)?;
            }
            if ready.woken
                && let Some(wake) = &self.wake
            {
                wake.drain();
            }
            self.handle_cancellation(&mut ending, ready.woken, process_group)?;
            self.host_and_budget(
                &mut ending,
                &mut ingest,
                host.as_mut(),
                &budget,
                process_group,
            )?;

            let flush_now = ingest.flush_due().is_some_and(|due| Instant::now() >= due)
                || !pipes_open
                || ingest.verdict.report != ingest.reported;
            if flush_now {
                ingest.flush(&mut self.store, &id)?;
            }

            if ending.exit_status.is_some() && !pipes_open {
                break;
            }
            // A process that left the group can hold the pipes open forever; once the group is
            // gone, give the pipes a bounded time to drain.
            if let Some(killed_at) = ending.group_killed_at
                && killed_at.elapsed() > DRAIN_TIMEOUT
            {
                tracing::warn!(%id, "agent output pipes still open after its group was killed; stopping reading");
                ingest.flush(&mut self.store, &id)?;
                break;
            }
        }
        drop(host);
        Ok(ending.judge(&ingest, &budget))
    }

    /// Issue 12: the host delivers answers and messages (it re-reads the database when
    /// something changed: a client wakes the runner after committing), and the limits stop
    /// the agent as a cancel does.
    fn host_and_budget(
        &mut self,
        ending: &mut Ending,
        ingest: &mut Ingest,
        host: Option<&mut AgentHost>,
        budget: &Budget,
        process_group: i32,
    ) -> anyhow::Result<()> {
        if ending.exit_status.is_some() {
            return Ok(());
        }
        if let Some(host) = host {
            let said = host.tick(&mut self.store)?;
            if ingest.batch.is_empty() && !said.is_empty() {
                ingest.batch_started = Instant::now();
            }
            ingest.batch.extend(said);
        }
        if ending.cancel_started.is_none()
            && let Some(reason) = budget.exceeded(&ingest.verdict.report)
        {
            let id = self.id().clone();
            self.store.append_events(
                &id,
                &[NewEvent::lulu(
                    "status",
                    format!("{reason}: sent SIGTERM to the agent's process group"),
                )],
            )?;
            signal_group(process_group, Signal::TERM).ok();
            ending.cancel_started = Some(Instant::now());
            ending.over_budget = Some(reason);
        }
        Ok(())
    }

    /// When the host or the budget needs the loop without an event: a request's timeout, the
    /// time limit; without a wake-up FIFO, the host's short poll for answers and messages.
    fn host_deadline(&self, ending: &Ending, host: Option<&AgentHost>, budget: &Budget) -> Instant {
        let far = Instant::now() + SAFETY_POLL;
        if ending.exit_status.is_some() {
            return far;
        }
        let host_due = host.and_then(|host| {
            if self.wake.is_some() {
                host.next_timeout()
            } else {
                Some(Instant::now() + host.poll_interval())
            }
        });
        let time_limit = budget
            .time_limit_at()
            .filter(|_| ending.cancel_started.is_none());
        [host_due, time_limit]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(far)
    }

    /// Reads what the readable pipes hold (a bounded number of chunks each), writing a batch
    /// as soon as it is full.
    fn read_pipes(
        &mut self,
        pipes: &mut [Pipe],
        readable: [bool; 2],
        buffer: &mut [u8],
        ingest: &mut Ingest,
        mut host: Option<&mut AgentHost>,
    ) -> anyhow::Result<()> {
        let id = self.id().clone();
        let store = &mut self.store;
        let mut take_line = |stream: Stream, line: &[u8]| -> anyhow::Result<()> {
            if stream == Stream::Stdout
                && let Some(host) = host.as_deref_mut()
            {
                let text = utf8(line);
                host.observe(store, text.trim_end_matches(['\n', '\r']))?;
            }
            ingest.take_line(stream, line);
            if ingest.full() {
                ingest.flush(store, &id)?;
            }
            Ok(())
        };
        for (pipe, readable) in pipes.iter_mut().zip(readable) {
            if !readable {
                continue;
            }
            for _ in 0..CHUNKS_PER_ROUND {
                match pipe.read_chunk(buffer, &mut take_line)? {
                    Chunk::Read => {}
                    Chunk::Empty | Chunk::Closed => break,
                }
            }
        }
        Ok(())
    }

    /// The next moment something is due without an event: the batch's flush, the cancel
    /// grace, the pipes' drain, the safety poll.
    fn next_deadline(
        &self,
        ending: &Ending,
        ingest: &Ingest,
        pipes: &[Pipe],
        has_pidfd: bool,
    ) -> Instant {
        let running = ending.exit_status.is_none();
        let safety = if self.wake.is_some() {
            SAFETY_POLL
        } else {
            POLL_WITHOUT_WAKE
        };
        [
            ingest.flush_due(),
            ending
                .last_cancel_check
                .filter(|_| running && ending.cancel_started.is_none())
                .map(|checked| checked + safety),
            ending
                .cancel_started
                .filter(|_| running && !ending.killed_hard)
                .map(|started| started + self.options.cancel_grace),
            ending
                .group_killed_at
                .filter(|_| pipes.iter().any(Pipe::is_open))
                .map(|killed| killed + DRAIN_TIMEOUT),
            (running && !has_pidfd).then(|| Instant::now() + EXIT_POLL_WITHOUT_PIDFD),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_else(|| Instant::now() + SAFETY_POLL)
    }

    /// Blocks in `poll` until a pipe, the agent's exit or a wake-up is ready, or `deadline`.
    fn wait(
        &self,
        pipes: &[Pipe],
        pidfd: Option<&OwnedFd>,
        ending: &Ending,
        deadline: Instant,
    ) -> anyhow::Result<Ready> {
        let readable = PollFlags::IN | PollFlags::HUP | PollFlags::ERR;
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(4);
        let mut slots = Vec::with_capacity(4);
        for (index, pipe) in pipes.iter().enumerate() {
            if let Some(file) = &pipe.file {
                fds.push(PollFd::from_borrowed_fd(file.as_fd(), PollFlags::IN));
                slots.push(Slot::Pipe(index));
            }
        }
        if ending.exit_status.is_none() {
            if let Some(pidfd) = pidfd {
                fds.push(PollFd::from_borrowed_fd(pidfd.as_fd(), PollFlags::IN));
                slots.push(Slot::Exit);
            }
            if let Some(wake) = &self.wake {
                fds.push(PollFd::from_borrowed_fd(wake.as_fd(), PollFlags::IN));
                slots.push(Slot::Wake);
            }
        }
        let timeout = Timespec::try_from(deadline.saturating_duration_since(Instant::now()))
            .expect("a timeout of seconds fits");
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(error) => {
                return Err(std::io::Error::from(error)).context("waiting for the agent");
            }
        }
        let mut ready = Ready::default();
        for (fd, slot) in fds.iter().zip(slots) {
            if !fd.revents().intersects(readable) {
                continue;
            }
            match slot {
                Slot::Pipe(index) => ready.pipes[index] = true,
                Slot::Exit => ready.exited = true,
                Slot::Wake => ready.woken = true,
            }
        }
        Ok(ready)
    }

    /// Checks for a cancel request when woken or when the safety poll is due; SIGTERM to the
    /// group at once, SIGKILL after the grace period.
    fn handle_cancellation(
        &mut self,
        ending: &mut Ending,
        woken: bool,
        process_group: i32,
    ) -> anyhow::Result<()> {
        if ending.exit_status.is_some() {
            return Ok(());
        }
        let id = self.id().clone();
        let safety = if self.wake.is_some() {
            SAFETY_POLL
        } else {
            POLL_WITHOUT_WAKE
        };
        let check_due = ending
            .last_cancel_check
            .is_none_or(|checked| checked.elapsed() >= safety);
        if ending.cancel_started.is_none() && (woken || check_due) && {
            ending.last_cancel_check = Some(Instant::now());
            self.store.cancel_requested(&id, self.options.run)?
        } {
            self.store.append_events(
                &id,
                &[NewEvent::lulu(
                    "status",
                    "cancelling: sent SIGTERM to the agent's process group",
                )],
            )?;
            signal_group(process_group, Signal::TERM).ok();
            ending.cancel_started = Some(Instant::now());
        }
        if let Some(started) = ending.cancel_started
            && !ending.killed_hard
            && started.elapsed() >= self.options.cancel_grace
        {
            signal_group(process_group, Signal::KILL).ok();
            ending.killed_hard = true;
        }
        Ok(())
    }
}

enum Slot {
    Pipe(usize),
    Exit,
    Wake,
}

/// The agent's stdout and stderr, to be read without blocking.
fn agent_pipes(agent: &mut Child) -> anyhow::Result<Vec<Pipe>> {
    let mut pipes = Vec::new();
    if let Some(stdout) = agent.stdout.take() {
        pipes.push(Pipe::new(Stream::Stdout, stdout).context("reading the agent's stdout")?);
    }
    if let Some(stderr) = agent.stderr.take() {
        pipes.push(Pipe::new(Stream::Stderr, stderr).context("reading the agent's stderr")?);
    }
    Ok(pipes)
}

impl Ending {
    /// Notes the agent's exit, if it exited. The leader gone, whatever it left in its group
    /// (grandchildren holding our pipes) goes too; the watchdog is still a member, so the group
    /// id is still ours.
    fn note_exit(&mut self, agent: &mut Child, process_group: i32) -> anyhow::Result<()> {
        let Some(status) = agent.try_wait().context("waiting for the agent")? else {
            return Ok(());
        };
        self.exit_status = Some(status);
        signal_group(process_group, Signal::KILL).ok();
        self.group_killed_at = Some(Instant::now());
        Ok(())
    }

    /// How the run ended, once the agent exited and its pipes are read.
    fn judge(&self, ingest: &Ingest, budget: &Budget) -> Termination {
        let status = self
            .exit_status
            .expect("the loop ends only after the agent exited");
        let over_budget = self.over_budget.clone().or_else(|| {
            ingest
                .verdict
                .budget_exceeded
                .then(|| budget.cost_reason(ingest.verdict.report.cost_usd))
        });
        judge(
            ingest.format,
            status,
            self.cancel_started.is_some(),
            &ingest.verdict,
            ingest.last_stderr.as_deref(),
            over_budget.as_deref(),
        )
    }
}
