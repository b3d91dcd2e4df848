//! Which ignored entries of a worktree are in no commit and nowhere else: what removing the
//! worktree would lose beyond [`uncommitted_changes`](super::uncommitted_changes).
//!
//! An ignored file is safe to lose when the main checkout holds the same bytes at the same path
//! (a copy of an include nobody changed). Anything else (build output, an edited `.env`, a
//! `node_modules` the setup made) is work or at least costly to make again. A folder the main
//! checkout lacks is one such entry, never walked into, and the search stops after `limit`
//! entries: a 100,000-file tree costs one `lstat`.
//!
//! Symlinks are compared as links and never followed; a FIFO, socket or device holds no data and
//! is never opened. A folder that cannot be read, or whose entries could not be deleted, is an
//! error: nobody can tell what it holds, and removing around it would leave half a worktree.

use std::{
    fs::{self, File},
    io::Read,
    os::unix::fs::OpenOptionsExt,
    path::Path,
};

/// Why [`ignored_work`] could not tell.
#[derive(Debug, thiserror::Error)]
pub enum IgnoredWorkError {
    #[error("could not read {relative}")]
    Unreadable {
        relative: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not delete what {relative} holds")]
    Undeletable {
        relative: String,
        #[source]
        source: std::io::Error,
    },
}

/// What [`ignored_work`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoredCheck {
    /// Ignored entries that the main checkout does not hold byte for byte.
    NotInMainCheckout,
    /// None: the caller removes them anyway; only check every ignored folder can be emptied.
    Removable,
}

/// Ignored entries of a worktree that are in no commit and not in the main checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoredWork {
    /// The first ones found (at most `limit`), relative and `/`-separated; folders end in `/`.
    pub paths: Vec<String>,
    /// More than `limit` were found (the search stopped there).
    pub more: bool,
}

impl IgnoredWork {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// What to compare.
#[derive(Debug, Clone, Copy)]
pub struct IgnoredWorkRequest<'a> {
    pub worktree: &'a Path,
    /// The main checkout's top level.
    pub main_checkout: &'a Path,
    /// [`WorktreeContents::ignored`](super::WorktreeContents::ignored).
    pub ignored: &'a [String],
    pub check: IgnoredCheck,
    /// How many paths to name before stopping.
    pub limit: usize,
}

/// The ignored entries of `request.worktree` that removing it would lose (none with
/// [`IgnoredCheck::Removable`], which only checks that every ignored folder can be emptied).
pub fn ignored_work(request: &IgnoredWorkRequest<'_>) -> Result<IgnoredWork, IgnoredWorkError> {
    let mut walk = Compare {
        request,
        found: IgnoredWork::default(),
        buffers: (vec![0; 64 * 1024], vec![0; 64 * 1024]),
    };
    for entry in request.ignored {
        let relative = entry.trim_end_matches('/');
        let main_is_real = main_parents_are_folders(request.main_checkout, relative);
        walk.entry(relative, main_is_real)?;
        if walk.found.more {
            break;
        }
    }
    Ok(walk.found)
}

/// Whether every folder on the way to `relative` in the main checkout is a real folder (a
/// symlinked one would compare with something outside it).
fn main_parents_are_folders(main_checkout: &Path, relative: &str) -> bool {
    let mut current = main_checkout.to_owned();
    let parents: Vec<&str> = relative.split('/').collect();
    let Some((_, parents)) = parents.split_last() else {
        return true;
    };
    parents.iter().all(|part| {
        current.push(part);
        current.symlink_metadata().is_ok_and(|m| m.is_dir())
    })
}

struct Compare<'a, 'r> {
    request: &'a IgnoredWorkRequest<'r>,
    found: IgnoredWork,
    buffers: (Vec<u8>, Vec<u8>),
}

impl Compare<'_, '_> {
    fn note(&mut self, relative: &str, is_dir: bool) {
        if self.found.paths.len() >= self.request.limit {
            self.found.more = true;
            return;
        }
        let suffix = if is_dir { "/" } else { "" };
        self.found.paths.push(format!("{relative}{suffix}"));
    }

    /// Compares one worktree entry with the main checkout's (`main_exists`: the main side's
    /// parents are real folders, so its path can be looked at).
    fn entry(&mut self, relative: &str, main_exists: bool) -> Result<(), IgnoredWorkError> {
        let here = self.request.worktree.join(relative);
        let metadata = match here.symlink_metadata() {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(IgnoredWorkError::Unreadable {
                    relative: relative.to_owned(),
                    source,
                });
            }
        };
        let there = self.request.main_checkout.join(relative);
        let main = main_exists.then(|| there.symlink_metadata().ok()).flatten();
        if metadata.is_dir() {
            return self.folder(relative, &here, main.is_some_and(|m| m.is_dir()));
        }
        if self.request.check == IgnoredCheck::Removable {
            return Ok(());
        }
        let same = if metadata.file_type().is_symlink() {
            main.is_some_and(|m| m.file_type().is_symlink())
                && fs::read_link(&here).ok() == fs::read_link(&there).ok()
        } else if metadata.is_file() {
            main.is_some_and(|m| m.is_file() && m.len() == metadata.len())
                && self.same_bytes(relative, &here, &there)?
        } else {
            true // a FIFO, socket or device: no data to lose, and never opened
        };
        if !same {
            self.note(relative, false);
        }
        Ok(())
    }

    fn folder(
        &mut self,
        relative: &str,
        here: &Path,
        main_is_folder: bool,
    ) -> Result<(), IgnoredWorkError> {
        if self.request.check == IgnoredCheck::NotInMainCheckout && !main_is_folder {
            self.note(relative, true);
            return Ok(());
        }
        let unreadable = |source| IgnoredWorkError::Unreadable {
            relative: relative.to_owned(),
            source,
        };
        let mut names: Vec<String> = fs::read_dir(here)
            .map_err(unreadable)?
            .map(|entry| entry.map(|entry| entry.file_name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(unreadable)?
            .into_iter()
            .filter_map(|name| name.into_string().ok())
            .collect();
        rustix::fs::access(
            here,
            rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
        )
        .map_err(|errno| IgnoredWorkError::Undeletable {
            relative: relative.to_owned(),
            source: errno.into(),
        })?;
        names.sort();
        for name in names {
            self.entry(&format!("{relative}/{name}"), main_is_folder)?;
            if self.found.more {
                break;
            }
        }
        Ok(())
    }

    /// Whether the two regular files hold the same bytes, read in step (never following a
    /// symlink put there meanwhile). A main-side file that cannot be read is not the same.
    fn same_bytes(
        &mut self,
        relative: &str,
        here: &Path,
        there: &Path,
    ) -> Result<bool, IgnoredWorkError> {
        let open = |path: &Path| {
            File::options()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
        };
        let mut mine = open(here).map_err(|source| IgnoredWorkError::Unreadable {
            relative: relative.to_owned(),
            source,
        })?;
        let Ok(mut theirs) = open(there) else {
            return Ok(false);
        };
        let (left, right) = &mut self.buffers;
        loop {
            let read =
                read_full(&mut mine, left).map_err(|source| IgnoredWorkError::Unreadable {
                    relative: relative.to_owned(),
                    source,
                })?;
            let Ok(other) = read_full(&mut theirs, right) else {
                return Ok(false);
            };
            if read != other || left[..read] != right[..other] {
                return Ok(false);
            }
            if read < left.len() {
                return Ok(true);
            }
        }
    }
}

/// Reads until `buffer` is full or the file ends; how many bytes it read.
fn read_full(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}
