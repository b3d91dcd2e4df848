//! Wake-ups: how one process tells a runner "look at the database now".
//!
//! Each runner listens on a FIFO, `runs/<id>.wake`, opened read-write and non-blocking (so it
//! never reads end-of-file and opening never waits). Whoever commits a change a runner must act
//! on writes one byte to it afterwards: a cancel request, a running slot freed, and (for the
//! runner that hosts Claude Code) an approval answered or a message sent. A wake-up carries no
//! data: the database is the truth, the runner re-reads what concerns it. A wake-up is
//! best-effort: nobody listening (no runner, or a runner of an older lulu) or a full FIFO (a
//! wake-up is already pending) are fine, and every runner keeps a slow safety poll for a
//! wake-up that never comes (a writer that died between its commit and its wake-up).

use std::{
    fs::File,
    io::{self, Read, Write},
    os::{
        fd::{AsFd, BorrowedFd},
        unix::fs::{FileTypeExt, OpenOptionsExt},
    },
    path::{Path, PathBuf},
};

use crate::{
    model::SessionId,
    process::runs_dir,
    store::{Store, StoreError},
};

/// The FIFO a session's runner listens on.
pub fn wake_path(state_dir: &Path, id: &SessionId) -> PathBuf {
    runs_dir(state_dir).join(format!("{id}.wake"))
}

/// A runner's end of its wake-up FIFO. Poll it for readability, then [`WakeReceiver::drain`].
pub struct WakeReceiver {
    fifo: File,
}

impl WakeReceiver {
    /// Makes (if needed) and opens the FIFO of session `id`. Wake-ups sent from now on are
    /// kept until drained.
    pub fn listen(state_dir: &Path, id: &SessionId) -> io::Result<WakeReceiver> {
        let path = wake_path(state_dir, id);
        match nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(error) => return Err(error.into()),
        }
        let fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)?;
        if !fifo.metadata()?.file_type().is_fifo() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a FIFO", path.display()),
            ));
        }
        Ok(WakeReceiver { fifo })
    }

    /// Consumes every pending wake-up.
    pub fn drain(&self) {
        let mut buffer = [0_u8; 256];
        loop {
            match (&self.fifo).read(&mut buffer) {
                Ok(0) => return,
                Ok(_) => continue,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }
}

impl AsFd for WakeReceiver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fifo.as_fd()
    }
}

/// Tells the runner of session `id` to look at the database. Best-effort: never waits, never
/// fails (see the module's documentation).
pub fn wake_runner(state_dir: &Path, id: &SessionId) {
    let path = wake_path(state_dir, id);
    // Without a reader, opening a FIFO for writing without blocking fails (ENXIO): nobody to wake.
    let Ok(mut fifo) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
    else {
        return;
    };
    // Never write into something else that took the FIFO's name.
    if fifo
        .metadata()
        .is_ok_and(|metadata| metadata.file_type().is_fifo())
    {
        // A full FIFO (EAGAIN) already holds a wake-up: as good as ours.
        fifo.write_all(b"!").ok();
    }
}

/// Wakes every runner waiting for a running slot: call it after a run ended (a slot is free,
/// or the queue moved).
pub fn wake_queued(store: &Store, state_dir: &Path) -> Result<(), StoreError> {
    for id in store.waiting_for_slot()? {
        wake_runner(state_dir, &id);
    }
    Ok(())
}
