//! Processes: launching a detached runner, the runner lock that proves a runner is alive,
//! process groups and signals.
//!
//! Nothing here signals a process by PID alone. A runner signals only its own agent's process
//! group while a member of that group (the watchdog) is alive, so the group id cannot have
//! been reused; everyone else learns whether a runner lives from its lock.

use std::{
    fs::File,
    io::{self, Write},
    os::{
        fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd},
        unix::process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use nix::unistd::ForkResult;
use rustix::{
    fs::FlockOperation,
    io::{Errno, FdFlags},
    pipe::PipeFlags,
    process::{Pid, Signal},
};

use crate::model::SessionId;

/// Where a session's runtime files live.
pub fn runs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("runs")
}

pub fn lock_path(state_dir: &Path, id: &SessionId) -> PathBuf {
    runs_dir(state_dir).join(format!("{id}.lock"))
}

pub fn log_path(state_dir: &Path, id: &SessionId) -> PathBuf {
    runs_dir(state_dir).join(format!("{id}.log"))
}

/// Starts the lines of each run in a session's log (runs of one session share it).
const RUN_SEPARATOR: &str = "-- run ";

/// The error a runner printed as it stopped (its run's last `lulu: ...` line in the log), if
/// any: what reconciliation tells people when the runner is found gone. Reads the log's tail.
pub fn runner_last_words(state_dir: &Path, id: &SessionId) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 8 * 1024;
    let mut log = File::open(log_path(state_dir, id)).ok()?;
    let length = log.metadata().ok()?.len();
    log.seek(SeekFrom::Start(length.saturating_sub(TAIL)))
        .ok()?;
    let mut tail = Vec::new();
    log.read_to_end(&mut tail).ok()?;
    String::from_utf8_lossy(&tail)
        .lines()
        .rev()
        .take_while(|line| !line.starts_with(RUN_SEPARATOR))
        .find_map(|line| line.strip_prefix("lulu: "))
        .map(|words| words.trim().to_owned())
        .filter(|words| !words.is_empty())
}

/// Room kept in a runner's log (allocated, the file's size unchanged) so that the error a runner
/// stops on reaches its log even when that error is a full disk.
const LAST_WORDS_ROOM: i64 = 64 * 1024;

fn reserve_room_for_last_words(log: &File, log_path: &Path) {
    let end = log.metadata().map_or(0, |metadata| metadata.len());
    let offset = i64::try_from(end).unwrap_or(i64::MAX - LAST_WORDS_ROOM);
    if let Err(error) = nix::fcntl::fallocate(
        log,
        nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
        offset,
        LAST_WORDS_ROOM,
    ) {
        // Not every file system can (and a full one cannot): the log then works as any file.
        tracing::debug!(log = %log_path.display(), %error, "could not reserve room in the runner's log");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("could not prepare the runtime file {path}")]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the runner of session {id} from an earlier run is still alive")]
    StillLocked { id: SessionId },
    #[error("could not start the runner of session {id}")]
    Spawn {
        id: SessionId,
        #[source]
        source: io::Error,
    },
}

/// Takes an exclusive `flock` on `file` without waiting. False if another open file holds it.
fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    match rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(Errno::WOULDBLOCK) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

fn open_lock(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
}

/// Whether the runner that holds this session's lock is alive. Taking the lock for a moment
/// proves it is not; failing to take it proves it is.
pub fn runner_alive(state_dir: &Path, id: &SessionId) -> io::Result<bool> {
    let path = lock_path(state_dir, id);
    let file = match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    };
    Ok(!try_lock_exclusive(&file)?)
}

/// What a runner needs to be told on its command line.
#[derive(Debug, Clone)]
pub struct RunnerLaunch {
    pub state_dir: PathBuf,
    pub id: SessionId,
    pub run: i64,
    /// For a first run: where to create the worktree and which branch to make.
    pub worktree: Option<(PathBuf, String)>,
}

/// A session's runner lock, held by whoever is about to start a runner for it (and then by the
/// runner for its whole life).
pub struct RunnerLock {
    file: File,
}

impl RunnerLock {
    /// Takes the session's lock. A runner of an earlier run may still be finishing its last
    /// write, so this waits a little before giving up.
    pub fn acquire(state_dir: &Path, id: &SessionId) -> Result<RunnerLock, LaunchError> {
        let runs = runs_dir(state_dir);
        std::fs::create_dir_all(&runs).map_err(|source| LaunchError::File {
            path: runs.clone(),
            source,
        })?;
        let lock_path = lock_path(state_dir, id);
        let file = open_lock(&lock_path).map_err(|source| LaunchError::File {
            path: lock_path.clone(),
            source,
        })?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match try_lock_exclusive(&file) {
                Ok(true) => return Ok(RunnerLock { file }),
                Ok(false) => {
                    if Instant::now() > deadline {
                        return Err(LaunchError::StillLocked { id: id.clone() });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(source) => {
                    return Err(LaunchError::File {
                        path: lock_path,
                        source,
                    });
                }
            }
        }
    }
}

/// Starts a detached runner for one run of a session: its own session and process group, the
/// session's lock handed over already held (so there is no moment in which the session looks
/// orphaned), stdout to nowhere and stderr to the session's log. Returns once the runner has
/// been exec'd; the runner is not our child (double fork), so nothing needs to reap it.
pub fn launch_runner(launch: &RunnerLaunch, lock: RunnerLock) -> Result<(), LaunchError> {
    use std::os::unix::fs::OpenOptionsExt;
    let lock = lock.file;
    let log_path = log_path(&launch.state_dir, &launch.id);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|source| LaunchError::File {
            path: log_path.clone(),
            source,
        })?;
    writeln!(log, "{RUN_SEPARATOR}{}", launch.run).map_err(|source| LaunchError::File {
        path: log_path.clone(),
        source,
    })?;
    reserve_room_for_last_words(&log, &log_path);
    // /proc/self/exe is this very binary, even if an upgrade has replaced the file since this
    // process started; the runner is the same version as its launcher.
    let mut command = Command::new("/proc/self/exe");
    command
        .arg("__run")
        .arg("--state-dir")
        .arg(&launch.state_dir)
        .arg("--session")
        .arg(launch.id.as_str())
        .arg("--run")
        .arg(launch.run.to_string())
        .arg("--lock-fd")
        .arg(lock.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    if let Some((worktree_path, branch)) = &launch.worktree {
        command
            .arg("--worktree")
            .arg(worktree_path)
            .arg("--branch")
            .arg(branch);
    }
    let lock_fd = lock.as_raw_fd();
    // SAFETY: between fork and exec we call only async-signal-safe functions (fork, _exit,
    // setsid, fcntl) and touch no memory shared with other threads.
    unsafe {
        command.pre_exec(move || {
            // Double fork: the intermediate child exits at once (and is reaped by `wait`
            // below); the grandchild becomes the runner, adopted by init.
            if let ForkResult::Parent { .. } = nix::unistd::fork()? {
                libc::_exit(0);
            }
            nix::unistd::setsid()?;
            // Let the lock survive exec; the runner marks it close-on-exec again at once.
            let lock = BorrowedFd::borrow_raw(lock_fd);
            let flags = rustix::io::fcntl_getfd(lock)?;
            rustix::io::fcntl_setfd(lock, flags.difference(FdFlags::CLOEXEC))?;
            Ok(())
        });
    }
    let mut intermediate = command.spawn().map_err(|source| LaunchError::Spawn {
        id: launch.id.clone(),
        source,
    })?;
    intermediate.wait().map_err(|source| LaunchError::Spawn {
        id: launch.id.clone(),
        source,
    })?;
    // Our copy of the lock goes; the runner's copy (the same open file description) keeps it.
    drop(lock);
    Ok(())
}

/// In the runner: keeps the inherited lock for the process's life, but out of the agent's
/// reach.
pub fn adopt_runner_lock(lock_fd: RawFd) -> io::Result<()> {
    // A number from the command line may name nothing: ask the kernel first, so that borrowing
    // it below is sound.
    if !Path::new(&format!("/proc/self/fd/{lock_fd}")).exists() {
        return Err(io::Error::from(Errno::BADF));
    }
    // SAFETY: the descriptor is open (checked above) and stays open for the process's life:
    // nothing in the runner closes it.
    let lock = unsafe { BorrowedFd::borrow_raw(lock_fd) };
    let flags = rustix::io::fcntl_getfd(lock)?;
    rustix::io::fcntl_setfd(lock, flags | FdFlags::CLOEXEC)?;
    Ok(())
}

/// Sends `signal` to every process in the group. Only call it while the group is provably
/// ours (a member we started, such as the watchdog, is alive and unreaped).
pub fn signal_group(process_group: i32, signal: Signal) -> io::Result<()> {
    let group = Pid::from_raw(process_group).ok_or_else(|| io::Error::from(Errno::INVAL))?;
    match rustix::process::kill_process_group(group, signal) {
        Ok(()) | Err(Errno::SRCH) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// The agent's watchdog: a process that shares the runner's memory (`clone` with `CLONE_VM`:
/// no copy of the runner's pages, so it costs a session no memory of its own beyond a few
/// pages of stack), joins the agent's process group and waits on a pipe. When the runner's end
/// of the pipe closes (the runner reaps it, or dies however it dies), it kills its whole group,
/// itself included.
///
/// While it is alive and unreaped, the group id cannot be reused: that is what lets the runner
/// signal the group. While the runner is dead but the watchdog not yet, the watchdog still holds
/// the runner lock (its descriptor table is its own copy, taken at the clone), so nobody settles
/// the session before its agent is gone.
pub struct Watchdog {
    pid: nix::unistd::Pid,
    /// The runner's end of the watchdog's pipe.
    pipe: OwnedFd,
    stack: WatchdogStack,
}

/// What the watchdog is told, written at the bottom of its stack's mapping before the clone.
/// The mapping outlives the watchdog (it is unmapped only once the watchdog is reaped), so
/// the watchdog may read this for its whole life.
#[repr(C)]
struct WatchdogOrders {
    /// The watchdog's end of the pipe.
    pipe: RawFd,
    /// The runner's end, which the watchdog's copy of the descriptor table must not keep.
    runner_end: RawFd,
    group: i32,
    close: [RawFd; WatchdogOrders::MOST_TO_CLOSE],
    close_count: usize,
}

impl WatchdogOrders {
    const MOST_TO_CLOSE: usize = 4;
}

/// The watchdog's own stack: an anonymous mapping in the address space it shares with the
/// runner. Only the pages it touches (one or two) ever exist.
struct WatchdogStack {
    base: *mut std::ffi::c_void,
}

impl WatchdogStack {
    const BYTES: usize = 64 * 1024;

    fn map() -> io::Result<WatchdogStack> {
        use rustix::mm::{MapFlags, ProtFlags};
        // SAFETY: a fresh anonymous mapping at an address the kernel chooses aliases nothing.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                WatchdogStack::BYTES,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::STACK,
            )
        }?;
        Ok(WatchdogStack { base })
    }

    /// Unmaps the stack. Only once the watchdog is gone (reaped, or never started).
    fn unmap(self) {
        // SAFETY: the mapping is ours (made by `map`), and nothing runs on it any more.
        if let Err(error) = unsafe { rustix::mm::munmap(self.base, WatchdogStack::BYTES) } {
            tracing::debug!(%error, "could not unmap the watchdog's stack");
        }
    }
}

impl Watchdog {
    /// Starts the watchdog of the agent whose process group is `process_group`.
    pub fn start(process_group: i32) -> io::Result<Watchdog> {
        Watchdog::start_closing(process_group, &[])
    }

    /// As [`Watchdog::start`], the watchdog first closing `close`: descriptors of the runner
    /// whose other end must see them closed when the runner closes them (the agent's stdin
    /// pipe, issue 12: a copy held by the watchdog would keep the agent from its EOF).
    pub fn start_closing(
        process_group: i32,
        close: &[std::os::fd::BorrowedFd<'_>],
    ) -> io::Result<Watchdog> {
        let group = Pid::from_raw(process_group).ok_or_else(|| io::Error::from(Errno::INVAL))?;
        if close.len() > WatchdogOrders::MOST_TO_CLOSE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the watchdog can close at most {} descriptors",
                    WatchdogOrders::MOST_TO_CLOSE
                ),
            ));
        }
        let (read_end, write_end) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let mut orders = WatchdogOrders {
            pipe: read_end.as_raw_fd(),
            runner_end: write_end.as_raw_fd(),
            group: group.as_raw_nonzero().get(),
            close: [-1; WatchdogOrders::MOST_TO_CLOSE],
            close_count: close.len(),
        };
        for (slot, fd) in orders.close.iter_mut().zip(close) {
            *slot = fd.as_raw_fd();
        }
        give_back_free_heap();
        let stack = WatchdogStack::map()?;
        let child = match clone_watchdog(&stack, orders) {
            Ok(child) => child,
            Err(error) => {
                stack.unmap();
                return Err(error);
            }
        };
        drop(read_end);
        let watchdog = Watchdog {
            pid: child,
            pipe: write_end,
            stack,
        };
        // Both sides set the group, so it is set before either goes on. The group is gone if
        // the agent has already exited: there is then nothing to watch.
        if let Err(error) = rustix::process::setpgid(Pid::from_raw(child.as_raw()), Some(group)) {
            watchdog.reap();
            return Err(error.into());
        }
        Ok(watchdog)
    }

    /// Ends the watchdog: closing the pipe makes it kill its group (by now empty, or about to
    /// be); waits for it to be gone.
    pub fn reap(self) {
        let Watchdog { pid, pipe, stack } = self;
        drop(pipe);
        match nix::sys::wait::waitpid(pid, None) {
            Ok(_) => stack.unmap(),
            // Not reaped, so perhaps still running on its stack: leave the mapping be.
            Err(error) => tracing::warn!(%error, "could not reap the watchdog"),
        }
    }
}

/// Clones the watchdog onto `stack`, sharing this address space, with every signal blocked
/// from its first instruction (the runner's signal handlers must never run on its stack).
fn clone_watchdog(stack: &WatchdogStack, orders: WatchdogOrders) -> io::Result<nix::unistd::Pid> {
    use nix::sys::signal::{SigSet, SigmaskHow};
    let orders_at = stack.base.cast::<WatchdogOrders>();
    // SAFETY: the mapping is fresh, writable, page-aligned and much larger than the orders.
    unsafe { orders_at.write(orders) };
    // The stack grows down from the mapping's top, 16-byte aligned as the ABI wants.
    // SAFETY: one past the end of the mapping, which `clone` takes as the stack's top.
    let top = unsafe { stack.base.cast::<u8>().add(WatchdogStack::BYTES) };
    let runner_mask = SigSet::all().thread_swap_mask(SigmaskHow::SIG_SETMASK)?;
    // SAFETY: `watchdog_main` runs on its own stack, makes only raw system calls (rustix's, which
    // touch neither errno nor any lock of the runner's), allocates nothing and never returns; it
    // reads only its orders, which stay mapped until it is reaped. Without CLONE_FILES its
    // descriptor table is a copy, so its closes do not touch the runner's.
    let pid = unsafe {
        libc::clone(
            watchdog_main,
            top.cast(),
            libc::CLONE_VM | libc::SIGCHLD,
            orders_at.cast(),
        )
    };
    let cloned = if pid == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(nix::unistd::Pid::from_raw(pid))
    };
    runner_mask.thread_set_mask()?;
    cloned
}

/// The watchdog's whole life, on its own stack in the runner's address space.
extern "C" fn watchdog_main(orders: *mut std::ffi::c_void) -> std::ffi::c_int {
    // SAFETY: `clone_watchdog` wrote the orders there and their mapping outlives us.
    let orders = unsafe { &*orders.cast::<WatchdogOrders>() };
    // SAFETY: these numbers are open in our copy of the descriptor table, and nothing else in
    // this process uses that copy.
    unsafe {
        rustix::io::close(orders.runner_end);
        for fd in &orders.close[..orders.close_count] {
            rustix::io::close(*fd);
        }
    }
    // SAFETY: open in our table (above), and never closed before we exit.
    let pipe = unsafe { BorrowedFd::borrow_raw(orders.pipe) };
    // Checked before the clone; no panic may happen here (it would unwind on a borrowed stack).
    let Some(group) = Pid::from_raw(orders.group) else {
        exit_now()
    };
    watch_pipe(pipe, group)
}

/// Returns the heap's free pages to the system: before the watchdog starts (the runner's
/// set-up, the worktree's checkout above all, frees most of what it used), and when a runner
/// is about to sleep.
pub fn give_back_free_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: `malloc_trim` only releases memory malloc holds free; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What the watchdog does: join the group, wait for the pipe to close, kill the group.
fn watch_pipe(pipe: BorrowedFd<'_>, group: Pid) -> ! {
    if rustix::process::setpgid(None, Some(group)).is_err() {
        exit_now();
    }
    rustix::thread::set_name(c"lulu-watchdog").ok();
    // The signals meant for the agent (a cancel's SIGTERM to the group, a terminal's SIGINT or
    // SIGHUP) wait, blocked since the clone; only SIGKILL ends the watchdog early.
    let mut buffer = [0_u8; 64];
    loop {
        match rustix::io::read(pipe, &mut buffer) {
            Ok(0) => break,
            Ok(_) | Err(Errno::INTR) => continue,
            Err(_) => break,
        }
    }
    // Our own process group: provably ours.
    rustix::process::kill_current_process_group(Signal::KILL).ok();
    exit_now()
}

fn exit_now() -> ! {
    // SAFETY: `_exit` ends this process (exit_group: the watchdog is a thread group of its own)
    // at once, without running anything of the runner's.
    unsafe { libc::_exit(0) }
}

/// Process ids in a process group, from /proc (for tests and diagnostics).
pub fn group_members(process_group: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let after_name = stat.rsplit_once(')')?.1;
                    let fields: Vec<&str> = after_name.split_whitespace().collect();
                    // state ppid pgrp
                    let state = fields.first()?;
                    let group = fields.get(2)?.parse::<i32>().ok()?;
                    Some(group == process_group && *state != "Z")
                })
                .unwrap_or(false)
        })
        .collect()
}

/// The name of a signal, for reasons a person reads.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|signal| signal.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal {signal}"))
}
