//! Copying a repository's ignored files that `include` / `.worktreeinclude` name from the main
//! checkout into a new worktree.
//!
//! Only files git ignores are copied; tracked files never are, and nothing already in the
//! worktree is overwritten. Symlinks are copied as links and never followed, when walking or
//! when writing (a destination folder that is a symlink in the worktree is skipped). File modes
//! are kept; file data is reflinked where the file system can (`FICLONE`), else copied (Linux's
//! `copy_file_range` still shares extents where it can).
//!
//! Walking: every folder git does not ignore is searched, so a bare name (`.env`) matches at
//! any depth there; inside an ignored folder (`node_modules/`) only a pattern that names a path
//! into it reaches (`node_modules/.cache/x`), so a huge ignored tree is never walked for nothing.

use std::{
    fs::{self, File},
    os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use gix::bstr::{BStr, ByteSlice};

#[derive(Debug, thiserror::Error)]
pub enum IncludeError {
    #[error("could not open the git repository at {}", repo.display())]
    Open {
        repo: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("could not read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not copy {} to {}", from.display(), to.display())]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What [`copy_includes`] did. Paths are relative to the repository, `/`-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncludeReport {
    /// Files and symlinks copied.
    pub copied: Vec<String>,
    pub bytes: u64,
    /// Matched paths left alone because they are tracked or already in the worktree.
    pub kept: Vec<String>,
}

/// Where to copy from and to.
#[derive(Debug, Clone, Copy)]
pub struct CopyIncludes<'a> {
    /// The main checkout's top level.
    pub repo: &'a Path,
    /// The new worktree.
    pub worktree: &'a Path,
    /// gitignore-syntax patterns.
    pub patterns: &'a [String],
    /// Folders never walked (lulu's worktree folder).
    pub skip: &'a [PathBuf],
}

pub fn copy_includes(request: &CopyIncludes<'_>) -> Result<IncludeReport, IncludeError> {
    let mut report = IncludeReport::default();
    if request.patterns.is_empty() {
        return Ok(report);
    }
    let open_error = |source: Box<dyn std::error::Error + Send + Sync>| IncludeError::Open {
        repo: request.repo.to_owned(),
        source,
    };
    let repository = gix::open(request.repo).map_err(|error| open_error(Box::new(error)))?;
    let index = repository
        .index_or_empty()
        .map_err(|error| open_error(Box::new(error)))?;
    let mut excludes = repository
        .excludes(
            &index,
            None,
            gix::worktree::stack::state::ignore::Source::WorktreeThenIdMappingIfNotSkipped,
        )
        .map_err(|error| open_error(Box::new(error)))?;
    let search = gix::ignore::Search::from_overrides(
        request.patterns.iter().map(String::as_str),
        gix::ignore::search::Ignore::default(),
    );
    // As given and canonical, so the walk compares paths without resolving each folder.
    let skip: Vec<PathBuf> = request
        .skip
        .iter()
        .chain(std::iter::once(&request.worktree.to_owned()))
        .flat_map(|path| {
            [
                path.clone(),
                fs::canonicalize(path).unwrap_or_else(|_| path.clone()),
            ]
        })
        .collect();
    let mut walk = Walk {
        request,
        index: &index,
        search: &search,
        literal_prefixes: request
            .patterns
            .iter()
            .filter_map(|p| literal_prefix(p))
            .collect(),
        // Every pattern names a path from the top (none is a bare name matching at any
        // depth): only the folders on the way to those paths need walking.
        all_anchored: request.patterns.iter().all(|p| literal_prefix(p).is_some()),
        skip,
        report: &mut report,
    };
    walk.folder(request.repo, "", &mut |path, is_dir| {
        let mode = if is_dir {
            gix::index::entry::Mode::DIR
        } else {
            gix::index::entry::Mode::FILE
        };
        excludes
            .at_path(path, Some(mode))
            .map(|platform| platform.is_excluded())
            .unwrap_or(false)
    })?;
    report.copied.sort();
    report.kept.sort();
    Ok(report)
}

/// The literal folder path a pattern names before its first glob character, for patterns that
/// name a path (`node_modules/.cache/*` → `node_modules/.cache`); None for bare names.
fn literal_prefix(pattern: &str) -> Option<String> {
    let pattern = pattern.strip_prefix('!').unwrap_or(pattern);
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    let body = pattern.trim_end_matches('/');
    if !body.contains('/') {
        return None;
    }
    let literal_end = body.find(['*', '?', '[', '\\']).unwrap_or(body.len());
    Some(body[..literal_end].trim_end_matches('/').to_owned())
}

struct Walk<'a, 'r> {
    request: &'a CopyIncludes<'r>,
    index: &'a gix::index::State,
    search: &'a gix::ignore::Search,
    literal_prefixes: Vec<String>,
    all_anchored: bool,
    skip: Vec<PathBuf>,
    report: &'a mut IncludeReport,
}

impl Walk<'_, '_> {
    fn matches(&self, relative: &str, is_dir: bool) -> bool {
        self.search
            .pattern_matching_relative_path(
                BStr::new(relative.as_bytes()),
                Some(is_dir),
                gix::glob::pattern::Case::Sensitive,
            )
            .is_some_and(|found| !found.pattern.is_negative())
    }

    fn is_tracked(&self, relative: &str) -> bool {
        self.index
            .entry_by_path(relative.as_bytes().as_bstr())
            .is_some()
    }

    /// Whether a pattern names a path into this ignored folder.
    fn reaches_into(&self, relative: &str) -> bool {
        self.literal_prefixes.iter().any(|prefix| {
            prefix.starts_with(&format!("{relative}/"))
                || prefix == relative
                || relative.starts_with(&format!("{prefix}/"))
                || prefix.is_empty()
        })
    }

    fn folder(
        &mut self,
        folder: &Path,
        relative: &str,
        ignored: &mut dyn FnMut(&str, bool) -> bool,
    ) -> Result<(), IncludeError> {
        let read_error = |source| IncludeError::Read {
            path: folder.to_owned(),
            source,
        };
        let mut entries: Vec<_> = fs::read_dir(folder)
            .map_err(read_error)?
            .collect::<Result<_, _>>()
            .map_err(read_error)?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue; // not representable in git's paths as lulu handles them
            };
            if name == ".git" {
                continue;
            }
            let path = entry.path();
            let child = if relative.is_empty() {
                name.to_owned()
            } else {
                format!("{relative}/{name}")
            };
            let metadata = fs::symlink_metadata(&path).map_err(|source| IncludeError::Read {
                path: path.clone(),
                source,
            })?;
            let is_dir = metadata.is_dir();
            if is_dir && self.skip.contains(&path) {
                continue;
            }
            if is_dir && path.join(".git").symlink_metadata().is_ok() {
                continue; // a nested repository or submodule is not ours to copy from
            }
            let matched = self.matches(&child, is_dir);
            if matched && ignored(&child, is_dir) {
                self.copy_entry(&path, &child, &metadata)?;
                continue;
            }
            if !is_dir {
                continue;
            }
            if (self.all_anchored || ignored(&child, true)) && !self.reaches_into(&child) {
                continue;
            }
            self.folder(&path, &child, ignored)?;
        }
        Ok(())
    }

    /// Copies a matched ignored file, symlink or whole folder.
    fn copy_entry(
        &mut self,
        from: &Path,
        relative: &str,
        metadata: &fs::Metadata,
    ) -> Result<(), IncludeError> {
        if self.is_tracked(relative) {
            self.report.kept.push(relative.to_owned());
            return Ok(());
        }
        let Some(to) = self.destination(relative) else {
            self.report.kept.push(relative.to_owned());
            return Ok(());
        };
        let copy_error = |source| IncludeError::Copy {
            from: from.to_owned(),
            to: to.clone(),
            source,
        };
        if metadata.is_dir() {
            if to.symlink_metadata().is_err() {
                fs::create_dir(&to).map_err(copy_error)?;
                fs::set_permissions(&to, fs::Permissions::from_mode(metadata.mode() & 0o7777))
                    .map_err(copy_error)?;
            } else if !to.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                self.report.kept.push(relative.to_owned());
                return Ok(());
            }
            let read_error = |source| IncludeError::Read {
                path: from.to_owned(),
                source,
            };
            let mut entries: Vec<_> = fs::read_dir(from)
                .map_err(read_error)?
                .collect::<Result<_, _>>()
                .map_err(read_error)?;
            entries.sort_by_key(|entry| entry.file_name());
            for entry in entries {
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let path = entry.path();
                let metadata =
                    fs::symlink_metadata(&path).map_err(|source| IncludeError::Read {
                        path: path.clone(),
                        source,
                    })?;
                self.copy_entry(&path, &format!("{relative}/{name}"), &metadata)?;
            }
            return Ok(());
        }
        if metadata.file_type().is_symlink() {
            let target = fs::read_link(from).map_err(copy_error)?;
            std::os::unix::fs::symlink(&target, &to).map_err(copy_error)?;
        } else if metadata.is_file() {
            copy_file(from, &to, metadata.mode() & 0o7777).map_err(copy_error)?;
            self.report.bytes += metadata.len();
        } else {
            return Ok(()); // sockets, fifos, devices: not files a project needs copied
        }
        self.report.copied.push(relative.to_owned());
        Ok(())
    }

    /// Where `relative` goes in the worktree, making its parent folders; None when something is
    /// already there, or a folder on the way is not a real folder (a symlink could lead out).
    fn destination(&self, relative: &str) -> Option<PathBuf> {
        let mut current = self.request.worktree.to_owned();
        let parts: Vec<&str> = relative.split('/').collect();
        let (last, parents) = parts.split_last()?;
        for (depth, part) in parents.iter().enumerate() {
            current.push(part);
            match current.symlink_metadata() {
                Ok(metadata) if metadata.is_dir() => {}
                Ok(_) => return None,
                Err(_) => {
                    let source = self.request.repo.join(parents[..=depth].join("/"));
                    let mode = fs::symlink_metadata(source)
                        .map(|m| m.mode() & 0o7777)
                        .unwrap_or(0o755);
                    fs::create_dir(&current).ok()?;
                    fs::set_permissions(&current, fs::Permissions::from_mode(mode)).ok()?;
                }
            }
        }
        current.push(last);
        if current.symlink_metadata().is_ok() {
            return None;
        }
        Some(current)
    }
}

/// Copies a regular file (never following a symlink at either end), reflinking when the file
/// system can, and gives it `mode`.
fn copy_file(from: &Path, to: &Path, mode: u32) -> std::io::Result<()> {
    let mut source = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)?;
    let mut destination = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    if !reflink(&source, &destination) {
        std::io::copy(&mut source, &mut destination)?;
    }
    destination.set_permissions(fs::Permissions::from_mode(mode))
}

/// `ioctl(FICLONE)`: shares the file's extents (btrfs, XFS, bcachefs). False when the file
/// system cannot.
fn reflink(source: &File, destination: &File) -> bool {
    rustix::fs::ioctl_ficlone(destination, source).is_ok()
}
