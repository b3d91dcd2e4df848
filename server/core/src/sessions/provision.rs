//! Provisioning operations (issue 14): the trust check at spawn, trusting a repository's setup
//! command, what a session holds (ports, a worktree gc removed), and reclaiming disk (`gc`).

use std::{
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::Utc;

use crate::{
    model::SessionId,
    process,
    provision::{self, RepoConfigError, RepoProvisioning, TrustError, setup_hash},
    repo_lock::RepositoryLock,
    store::StoreError,
    worktree::{self, RemoveMode},
};

use super::*;

/// A repository's setup command and whether it is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupInfo {
    pub repo: PathBuf,
    /// None when the repository has no setup command.
    pub setup: Option<String>,
    pub setup_hash: Option<String>,
    pub trusted: bool,
}

/// What a session holds beyond its row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisionState {
    /// Ports leased to its current run (empty once it ended).
    pub ports: Vec<u16>,
    /// gc removed its worktree (continue re-creates it from the branch).
    pub worktree_gone: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionCheckError {
    #[error(transparent)]
    Config(#[from] RepoConfigError),
    #[error(
        "the setup command of {} is not trusted yet: `{setup}`; trust it with `lulu trust` (or lulu/trust), then spawn again",
        repo.display()
    )]
    Untrusted {
        repo: PathBuf,
        setup: String,
        setup_hash: String,
    },
    #[error(transparent)]
    Trust(#[from] TrustError),
}

impl ProvisionCheckError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProvisionCheckError::Config(_) => ErrorKind::BadRepository,
            ProvisionCheckError::Untrusted { .. } => ErrorKind::SetupNotTrusted,
            ProvisionCheckError::Trust(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrustSetupError {
    #[error(transparent)]
    Repository(#[from] worktree::DiscoverError),
    #[error(transparent)]
    Config(#[from] RepoConfigError),
    #[error("the repository {} has no setup command to trust (no `setup` in its lulu.toml)", repo.display())]
    NoSetup { repo: PathBuf },
    #[error(
        "the setup command of {} has changed since it was shown (its hash is now {current}, not {given}); show it again before trusting it",
        repo.display()
    )]
    Changed {
        repo: PathBuf,
        given: String,
        current: String,
    },
    #[error(transparent)]
    Trust(#[from] TrustError),
}

impl TrustSetupError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            TrustSetupError::Repository(_) | TrustSetupError::Config(_) => ErrorKind::BadRepository,
            TrustSetupError::NoSetup { .. } | TrustSetupError::Changed { .. } => {
                ErrorKind::InvalidInput
            }
            TrustSetupError::Trust(_) => ErrorKind::Internal,
        }
    }
}

/// Which ended sessions lose their worktree.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// Sessions that ended at least this long ago.
    pub older_than: Duration,
    /// Only report what would be removed.
    pub dry_run: bool,
    /// Also remove ignored files that are in no commit and not in the main checkout (build
    /// output, an edited `.env`); without it such a worktree is kept.
    pub include_ignored: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Sessions whose worktree was removed (or would be, in a dry run), with its path.
    pub removed: Vec<(SessionId, PathBuf)>,
    /// Sessions left alone, with why (uncommitted work, a runner about to start).
    pub kept: Vec<GcKept>,
}

/// A session gc left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcKept {
    pub id: SessionId,
    /// One line: `uncommitted work: src/app.ts`, `1 ignored file not in a commit: .env`, ...
    pub reason: String,
    /// How many ignored files in no commit it was kept for (`include_ignored` would remove
    /// them), counting at most one past the named ones; 0 when kept for another reason.
    pub ignored_files: usize,
}

/// How many paths a kept session's reason names (the search for ignored files stops after).
const NAMED_PATHS: usize = 3;

/// Why gc keeps a worktree.
struct Keep {
    reason: String,
    ignored_files: usize,
}

impl From<String> for Keep {
    fn from(reason: String) -> Keep {
        Keep {
            reason,
            ignored_files: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error(transparent)]
    Open(#[from] crate::store::OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GcError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

/// Parses `7d`, `12h`, `30m`, `45s` (or a plain number of days).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "d"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 7d, 12h, 30m or 45s"))?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?} is not an age like 7d, 12h, 30m or 45s")),
    };
    Ok(Duration::from_secs(value.saturating_mul(seconds)))
}

impl Sessions {
    /// At spawn: the repository's provisioning, after checking its setup command is trusted
    /// (`trust_now`: trust it here, for scripts that pass `--trust-setup`).
    pub fn check_provisioning(
        &self,
        repo: &Path,
        trust_now: bool,
    ) -> Result<RepoProvisioning, ProvisionCheckError> {
        let provisioning = provision::read_repo_provisioning(repo)?;
        if let Some(setup) = &provisioning.setup {
            let hash = setup_hash(setup);
            let state_dir = &self.settings.state_dir;
            if trust_now {
                provision::trust::trust(state_dir, repo, &hash)?;
            } else if !provision::trust::is_trusted(state_dir, repo, &hash)? {
                return Err(ProvisionCheckError::Untrusted {
                    repo: repo.to_owned(),
                    setup: setup.clone(),
                    setup_hash: hash,
                });
            }
        }
        Ok(provisioning)
    }

    /// The setup command of the repository containing `path`, and whether it is trusted.
    pub fn setup_info(&self, path: &Path) -> Result<SetupInfo, TrustSetupError> {
        let repo = worktree::discover_repository(path)?;
        let provisioning = provision::read_repo_provisioning(&repo)?;
        let setup_hash = provisioning.setup.as_deref().map(setup_hash);
        let trusted = match &setup_hash {
            Some(hash) => provision::trust::is_trusted(&self.settings.state_dir, &repo, hash)?,
            None => false,
        };
        Ok(SetupInfo {
            repo,
            setup: provisioning.setup,
            setup_hash,
            trusted,
        })
    }

    /// Trusts the setup command with hash `hash` of the repository containing `path`; refuses
    /// when the command has changed since the client showed it.
    pub fn trust_setup(&self, path: &Path, hash: &str) -> Result<SetupInfo, TrustSetupError> {
        let info = self.setup_info(path)?;
        let Some(current) = info.setup_hash.clone() else {
            return Err(TrustSetupError::NoSetup { repo: info.repo });
        };
        if current != hash.trim() {
            return Err(TrustSetupError::Changed {
                repo: info.repo,
                given: hash.trim().to_owned(),
                current,
            });
        }
        provision::trust::trust(&self.settings.state_dir, &info.repo, &current)?;
        Ok(SetupInfo {
            trusted: true,
            ..info
        })
    }

    /// Ports and worktree state of a session.
    pub fn provision_state(&self, id: &SessionId) -> Result<ProvisionState, LookupError> {
        let store = self.store();
        Ok(ProvisionState {
            ports: store.ports_of(id)?,
            worktree_gone: store.worktree_collected(id)?,
        })
    }

    /// Sessions among `ids` whose worktree gc removed.
    pub fn collected_worktrees(&self) -> Result<std::collections::HashSet<SessionId>, LookupError> {
        Ok(self.store().collected_worktrees()?)
    }

    /// Removes the worktrees of sessions that ended at least `older_than` ago and hold nothing
    /// that is not in a commit (no uncommitted change, no untracked file); their branches and
    /// rows stay, and `continue` re-creates the worktree from the branch.
    pub fn gc_worktrees(&self, options: GcOptions) -> Result<GcReport, GcError> {
        // The connection is taken for each query only: git work does not hold it.
        self.store().forget_removed_provisioning()?;
        let cutoff = Utc::now()
            - chrono::Duration::from_std(options.older_than).unwrap_or(chrono::Duration::MAX);
        let mut report = GcReport::default();
        let candidates = self.store().gc_candidates(cutoff)?;
        for id in candidates {
            let Some(session) = self.store().session(&id)? else {
                continue;
            };
            let Some(path) = session.worktree_path.clone() else {
                continue;
            };
            match self.collect_one(&session, &path, options) {
                Ok(()) => report.removed.push((id, path)),
                Err(keep) => report.kept.push(GcKept {
                    id,
                    reason: keep.reason,
                    ignored_files: keep.ignored_files,
                }),
            }
        }
        Ok(report)
    }

    /// Removes one ended session's worktree if it holds nothing that is in no commit; Err(why)
    /// when it is kept.
    fn collect_one(&self, session: &Session, path: &Path, options: GcOptions) -> Result<(), Keep> {
        // Holding the session's runner lock keeps `continue` from starting a run meanwhile.
        let Some(_lock) = try_runner_lock(&self.settings.state_dir, &session.id) else {
            return Err("a run of it is starting".to_owned().into());
        };
        if !path.exists() {
            // Removed by hand: nothing on disk to lose; record it so continue re-creates it.
            if !options.dry_run {
                self.store()
                    .mark_worktree_collected(&session.id)
                    .map_err(|e| e.to_string())?;
            }
            return Ok(());
        }
        check_nothing_to_lose(path, &session.repo, options.include_ignored)?;
        if options.dry_run {
            return Ok(());
        }
        let lock = RepositoryLock::acquire(&session.repo)
            .map_err(|error| format!("could not lock the repository: {error}"))?;
        let removed = worktree::remove_worktree(&session.repo, path, RemoveMode::Safe);
        drop(lock);
        removed.map_err(|error| crate::error_chain(&error).replace('\n', "; "))?;
        let marked = self.store().mark_worktree_collected(&session.id);
        if !marked.map_err(|e| e.to_string())? {
            return Err("it started a new run".to_owned().into());
        }
        Ok(())
    }
}

/// Ok when removing the worktree loses nothing that is not in a commit: no uncommitted change,
/// no untracked file, and no ignored file the main checkout does not hold byte for byte (unless
/// `include_ignored`); every ignored folder must be readable and deletable either way.
fn check_nothing_to_lose(
    worktree_path: &Path,
    main_checkout: &Path,
    include_ignored: bool,
) -> Result<(), Keep> {
    let contents = worktree::worktree_contents(worktree_path).map_err(|error| {
        format!(
            "could not tell what it holds: {}",
            crate::innermost_cause(&error)
        )
    })?;
    let changes = &contents.changes;
    if !changes.is_empty() {
        let mut files: Vec<&str> = changes
            .changed
            .iter()
            .chain(&changes.untracked)
            .map(String::as_str)
            .take(NAMED_PATHS)
            .collect();
        if changes.changed.len() + changes.untracked.len() > NAMED_PATHS {
            files.push("…");
        }
        return Err(format!("uncommitted work: {}", files.join(", ")).into());
    }
    let check = if include_ignored {
        worktree::IgnoredCheck::Removable
    } else {
        worktree::IgnoredCheck::NotInMainCheckout
    };
    let work = worktree::ignored_work(&worktree::IgnoredWorkRequest {
        worktree: worktree_path,
        main_checkout,
        ignored: &contents.ignored,
        check,
        limit: NAMED_PATHS,
    })
    .map_err(|error| format!("{error}: {}", crate::innermost_cause(&error)))?;
    if work.is_empty() {
        return Ok(());
    }
    let count = work.paths.len();
    let (how_many, named) = match (work.more, count) {
        (true, _) => (
            format!("more than {count} ignored files"),
            format!("{}, …", work.paths.join(", ")),
        ),
        (false, 1) => ("1 ignored file".to_owned(), work.paths.join(", ")),
        (false, _) => (format!("{count} ignored files"), work.paths.join(", ")),
    };
    Err(Keep {
        reason: format!("{how_many} not in a commit: {named}"),
        ignored_files: count + usize::from(work.more),
    })
}

/// The session's runner lock if nobody holds it (never waits).
fn try_runner_lock(state_dir: &Path, id: &SessionId) -> Option<nix::fcntl::Flock<std::fs::File>> {
    let path = process::lock_path(state_dir, id);
    std::fs::create_dir_all(process::runs_dir(state_dir)).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .ok()?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<u64, &str>) {
        assert_eq!(
            parse_age(text).map(|age| age.as_secs()),
            expected.map_err(str::to_owned)
        );
    }

    #[test]
    fn ages() {
        check("7d", Ok(7 * 86_400));
        check("12h", Ok(12 * 3_600));
        check("30m", Ok(1_800));
        check("0s", Ok(0));
        check("3", Ok(3 * 86_400));
        check("2w", Ok(14 * 86_400));
        check(
            "7 days",
            Err("\"7 days\" is not an age like 7d, 12h, 30m or 45s"),
        );
        check("-1d", Err("\"-1d\" is not an age like 7d, 12h, 30m or 45s"));
    }
}
