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
        fd::{AsRawFd, RawFd},
        unix::process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
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

fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    // SAFETY: flock on a valid, open file descriptor owned by `file`.
    let result = unsafe { libc::flock(file.as_raw_fd(), operation) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
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
    match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(false),
        Err(error) if error.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(true),
        Err(error) => Err(error),
    }
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
            match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => return Ok(RunnerLock { file }),
                Err(error) if error.raw_os_error() == Some(libc::EWOULDBLOCK) => {
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
    // setsid, dup2, fcntl) and touch no memory shared with other threads.
    unsafe {
        command.pre_exec(move || {
            // Double fork: the intermediate child exits at once (and is reaped by `wait`
            // below); the grandchild becomes the runner, adopted by init.
            match libc::fork() {
                -1 => return Err(io::Error::last_os_error()),
                0 => {}
                _ => libc::_exit(0),
            }
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            // Let the lock survive exec; the runner marks it close-on-exec again at once.
            let flags = libc::fcntl(lock_fd, libc::F_GETFD);
            if flags == -1 || libc::fcntl(lock_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1 {
                return Err(io::Error::last_os_error());
            }
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
    // SAFETY: fcntl on a descriptor number; failure is reported, not undefined.
    let flags = unsafe { libc::fcntl(lock_fd, libc::F_GETFD) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let result = unsafe { libc::fcntl(lock_fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to every process in the group. Only call it while the group is provably
/// ours (a member we started, such as the watchdog, is alive and unreaped).
pub fn signal_group(process_group: i32, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill with a negative pid addresses a process group; no memory is touched.
    let result = unsafe { libc::kill(-process_group, signal) };
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(error)
}

/// The watchdog's whole life: ignore the signals meant for the agent, wait until the runner's
/// end of the pipe on stdin closes (the runner ended or died), then kill the process group it
/// belongs to, which is the agent's.
pub fn run_watchdog() -> ! {
    use std::io::Read;
    for signal in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGPIPE,
    ] {
        // SAFETY: installing SIG_IGN for standard signals.
        unsafe {
            libc::signal(signal, libc::SIG_IGN);
        }
    }
    let mut buffer = [0_u8; 64];
    let mut stdin = io::stdin().lock();
    loop {
        match stdin.read(&mut buffer) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    // SAFETY: kill(0, ..) addresses our own process group: provably ours.
    unsafe {
        libc::kill(0, libc::SIGKILL);
        libc::_exit(0)
    }
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
