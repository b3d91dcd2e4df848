//! The operations on sessions that clients ask for: spawn, list, look up, cancel, continue,
//! remove, diff, reconcile. Shared by the CLI and `lulu serve`; knows nothing of JSON-RPC.
//!
//! Every method is synchronous (SQLite, gix, process launch) and opens its own database
//! connection, so a `Sessions` is `Send + Sync` and cheap to share.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use chrono::Utc;

use crate::{
    config::{AgentProfile, Settings, find_program},
    model::{Event, NewEvent, Session, SessionId, Status},
    process::{self, LaunchError, RunnerLaunch, RunnerLock},
    repo_lock::{RepositoryLock, RepositoryLockError},
    runner::{cancelled_termination, settle_dead_runner},
    store::{self, ListPage, ListQuery, NewSession, ResolveIdError, Store, StoreError},
    worktree::{self, FileChange, OrphanFolder, RemoveMode},
};

/// What kind of failure an operation met; the protocol layer maps kinds to error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NoSuchSession,
    SessionActive,
    WouldLoseWork,
    BadRepository,
    UnknownAgent,
    BadBaseRef,
    InvalidInput,
    Internal,
}

/// A request to start a session.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    pub prompt: String,
    pub name: Option<String>,
    pub agent: Option<String>,
    pub base_ref: Option<String>,
    /// Any path inside the repository.
    pub repo: PathBuf,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// Cancel a running session and discard uncommitted work and unmerged commits.
    pub force: bool,
    pub delete_branch: bool,
}

#[derive(Debug, Clone)]
pub struct Transcript {
    pub events: Vec<Event>,
    pub last_seq: i64,
}

#[derive(Debug, Clone)]
pub struct SessionDiff {
    pub base_commit: String,
    pub files: Vec<FileChange>,
}

#[derive(Debug, Clone)]
pub struct AgentInfo {
    pub name: String,
    pub command: Vec<String>,
    pub format: &'static str,
    pub available: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ReconcileOptions {
    /// Only settle sessions whose runner died; leave worktrees alone (cheap, for the CLI).
    pub sessions_only: bool,
    /// Delete orphan worktree folders that hold nothing to lose (`lulu gc`); otherwise they are
    /// only reported.
    pub remove_clean_orphans: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {
    /// Sessions whose runner had died, now failed/interrupted.
    pub interrupted: Vec<SessionId>,
    /// Stale worktree registrations pruned (their folders were gone).
    pub pruned: Vec<PathBuf>,
    /// Folders under a worktree root that no session owns.
    pub orphans: Vec<OrphanFolder>,
    /// Orphans deleted because they were clean (only with `remove_clean_orphans`).
    pub removed_orphans: Vec<PathBuf>,
    /// Repositories that could not be reconciled, with why.
    pub problems: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] store::OpenError),
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no session with id {0:?}")]
    NotFound(String),
    #[error("the id prefix {prefix:?} matches {count} sessions; give more characters")]
    Ambiguous { prefix: String, count: usize },
    #[error(transparent)]
    Open(#[from] store::OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LookupError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            LookupError::NotFound(_) | LookupError::Ambiguous { .. } => ErrorKind::NoSuchSession,
            LookupError::Open(_) | LookupError::Store(_) => ErrorKind::Internal,
        }
    }
}

impl From<ResolveIdError> for LookupError {
    fn from(error: ResolveIdError) -> Self {
        match error {
            ResolveIdError::NotFound(id) => LookupError::NotFound(id),
            ResolveIdError::Ambiguous { prefix, count } => LookupError::Ambiguous { prefix, count },
            ResolveIdError::Store(error) => LookupError::Store(error),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the prompt is empty; say what the agent should do")]
    EmptyPrompt,
    #[error("the session name is empty")]
    EmptyName,
    #[error(transparent)]
    Repository(#[from] worktree::DiscoverError),
    #[error("unknown agent {name:?} (known agents: {known})")]
    UnknownAgent { name: String, known: String },
    #[error("the agent {name:?} needs `{program}`, which is not on PATH")]
    AgentNotInstalled { name: String, program: String },
    #[error(transparent)]
    BaseRef(#[from] worktree::ResolveCommitError),
    #[error(transparent)]
    Open(#[from] store::OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

impl SpawnError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SpawnError::EmptyPrompt | SpawnError::EmptyName => ErrorKind::InvalidInput,
            SpawnError::Repository(_) => ErrorKind::BadRepository,
            SpawnError::UnknownAgent { .. } | SpawnError::AgentNotInstalled { .. } => {
                ErrorKind::UnknownAgent
            }
            SpawnError::BaseRef(worktree::ResolveCommitError::NotACommit { .. }) => {
                ErrorKind::BadBaseRef
            }
            SpawnError::BaseRef(_) => ErrorKind::BadRepository,
            SpawnError::Open(_) | SpawnError::Store(_) | SpawnError::Launch(_) => {
                ErrorKind::Internal
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not tell whether the runner of session {id} is alive")]
    Liveness {
        id: SessionId,
        #[source]
        source: std::io::Error,
    },
}

impl CancelError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CancelError::Lookup(error) => error.kind(),
            CancelError::Store(_) | CancelError::Liveness { .. } => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContinueError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("the prompt is empty; say what the agent should do next")]
    EmptyPrompt,
    #[error("session {id} is still {status}; continue it once it has ended")]
    Active { id: SessionId, status: &'static str },
    #[error("session {id} used the agent {name:?}, which is no longer configured")]
    UnknownAgent { id: SessionId, name: String },
    #[error("the agent {name:?} needs `{program}`, which is not on PATH")]
    AgentNotInstalled { name: String, program: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

impl ContinueError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ContinueError::Lookup(error) => error.kind(),
            ContinueError::EmptyPrompt => ErrorKind::InvalidInput,
            ContinueError::Active { .. } => ErrorKind::SessionActive,
            ContinueError::UnknownAgent { .. } | ContinueError::AgentNotInstalled { .. } => {
                ErrorKind::UnknownAgent
            }
            ContinueError::Store(_) | ContinueError::Launch(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("session {id} is still {status}; cancel it first or remove it with force")]
    Active { id: SessionId, status: &'static str },
    #[error("session {id} did not stop after being cancelled; try again")]
    DidNotStop { id: SessionId },
    #[error("the worktree {} has {count} uncommitted or untracked files ({sample}); commit them or remove with force", path.display())]
    Uncommitted {
        path: PathBuf,
        count: usize,
        sample: String,
    },
    #[error(
        "the branch {branch:?} has {count} commits that are not in {base:?}; merge them or delete with force"
    )]
    Unmerged {
        branch: String,
        base: String,
        count: usize,
    },
    #[error(transparent)]
    Cancel(#[from] CancelError),
    #[error(transparent)]
    Status(#[from] worktree::StatusError),
    #[error(transparent)]
    UnmergedCheck(#[from] worktree::UnmergedError),
    #[error(transparent)]
    RemoveWorktree(#[from] worktree::RemoveWorktreeError),
    #[error(transparent)]
    DeleteBranch(#[from] worktree::DeleteBranchError),
    #[error(transparent)]
    Lock(#[from] RepositoryLockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RemoveError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RemoveError::Lookup(error) => error.kind(),
            RemoveError::Active { .. } | RemoveError::DidNotStop { .. } => ErrorKind::SessionActive,
            RemoveError::Uncommitted { .. } | RemoveError::Unmerged { .. } => {
                ErrorKind::WouldLoseWork
            }
            RemoveError::RemoveWorktree(worktree::RemoveWorktreeError::Dirty { .. }) => {
                ErrorKind::WouldLoseWork
            }
            RemoveError::Cancel(error) => error.kind(),
            RemoveError::Status(_)
            | RemoveError::UnmergedCheck(_)
            | RemoveError::RemoveWorktree(_)
            | RemoveError::DeleteBranch(_)
            | RemoveError::Lock(_)
            | RemoveError::Store(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("session {id} has no worktree yet")]
    NoWorktree { id: SessionId },
    #[error("the worktree {} of session {id} no longer exists", path.display())]
    WorktreeGone { id: SessionId, path: PathBuf },
    #[error(transparent)]
    Diff(#[from] worktree::DiffError),
}

impl DiffError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DiffError::Lookup(error) => error.kind(),
            DiffError::NoWorktree { .. } | DiffError::WorktreeGone { .. } => {
                ErrorKind::InvalidInput
            }
            DiffError::Diff(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Open(#[from] store::OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not tell whether the runner of session {id} is alive")]
    Liveness {
        id: SessionId,
        #[source]
        source: std::io::Error,
    },
}

impl ReconcileError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

pub struct Sessions {
    settings: Settings,
    cancel_grace: Duration,
}

impl Sessions {
    /// Checks the state dir's database opens (creating and migrating it).
    pub fn new(settings: Settings) -> Result<Sessions, OpenError> {
        Store::open(&settings.state_dir)?;
        Ok(Sessions {
            settings,
            cancel_grace: crate::runner::cancel_grace_from_env(),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A fresh connection to the state dir's database.
    pub fn store(&self) -> Result<Store, store::OpenError> {
        Store::open(&self.settings.state_dir)
    }

    /// The top-level directory of the repository containing `path`.
    pub fn repository_of(&self, path: &Path) -> Result<PathBuf, worktree::DiscoverError> {
        worktree::discover_repository(path)
    }

    fn profile(&self, name: &str) -> Option<&AgentProfile> {
        self.settings.agents.get(name)
    }

    pub fn spawn(&self, request: SpawnRequest) -> Result<Session, SpawnError> {
        let prompt = request.prompt.trim().to_owned();
        if prompt.is_empty() {
            return Err(SpawnError::EmptyPrompt);
        }
        let name = match request.name {
            Some(name) if name.trim().is_empty() => return Err(SpawnError::EmptyName),
            Some(name) => name.trim().to_owned(),
            None => derive_name(&prompt),
        };
        let repo = worktree::discover_repository(&request.repo)?;
        let agent_name = request
            .agent
            .unwrap_or_else(|| self.settings.default_agent.clone());
        let profile = self
            .profile(&agent_name)
            .ok_or_else(|| SpawnError::UnknownAgent {
                name: agent_name.clone(),
                known: self.known_agents(),
            })?;
        let program = &profile.command[0];
        if find_program(program, &profile.env).is_none() {
            return Err(SpawnError::AgentNotInstalled {
                name: agent_name,
                program: program.clone(),
            });
        }
        let base_ref = request
            .base_ref
            .map(|base| base.trim().to_owned())
            .filter(|base| !base.is_empty())
            .unwrap_or_else(|| "HEAD".to_owned());
        let base_commit = worktree::resolve_commit(&repo, &base_ref)?;

        let now = Utc::now();
        let id = SessionId::new();
        let (worktree_path, branch) = self.worktree_place(&repo, &name, &id);
        let mut store = self.store()?;
        // The lock is ours before the row exists, so no reconciliation can see a starting
        // session without a live owner.
        let lock = RunnerLock::acquire(&self.settings.state_dir, &id)?;
        let session = store.insert_session(&NewSession {
            id: id.clone(),
            created_at: now,
            name,
            repo,
            prompt: prompt.clone(),
            agent: agent_name,
            command: profile.argv(&prompt),
            format: profile.format,
            env: profile.env.clone(),
            base_ref,
            base_commit,
            max_running: self.settings.max_running,
        })?;
        let launch = RunnerLaunch {
            state_dir: self.settings.state_dir.clone(),
            id: id.clone(),
            run: session.run,
            worktree: Some((worktree_path, branch)),
        };
        if let Err(error) = process::launch_runner(&launch, lock) {
            self.fail_unlaunched(&mut store, &session, &error)?;
            return Err(error.into());
        }
        Ok(session)
    }

    fn fail_unlaunched(
        &self,
        store: &mut Store,
        session: &Session,
        error: &LaunchError,
    ) -> Result<(), StoreError> {
        let reason = format!("could not start the session's runner: {error}");
        let termination = store::Termination {
            status: Status::Failed,
            outcome: crate::model::Outcome::SpawnFailed,
            exit_code: None,
            signal: None,
            failure_reason: Some(crate::model::one_line_reason(&reason)),
            failure_detail: Some(crate::error_chain(error)),
        };
        store.finish_run(
            &session.id,
            session.run,
            &termination,
            &NewEvent::lulu("status", format!("failed: {reason}")),
        )?;
        Ok(())
    }

    fn known_agents(&self) -> String {
        self.settings
            .agents
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Where a session's worktree goes and what its branch is called.
    fn worktree_place(&self, repo: &Path, name: &str, id: &SessionId) -> (PathBuf, String) {
        let folder = format!("{}-{}", slug(name), id.short_tail());
        let path = self.settings.worktree_root(repo).join(&folder);
        (path, format!("lulu/{folder}"))
    }

    pub fn list(&self, query: &ListQuery) -> Result<ListPage, LookupError> {
        Ok(self.store()?.list(query)?)
    }

    /// Finds a session by its id or a unique prefix of it.
    pub fn session(&self, id: &str) -> Result<Session, LookupError> {
        let store = self.store()?;
        lookup(&store, id)
    }

    pub fn transcript(
        &self,
        id: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Transcript, LookupError> {
        let store = self.store()?;
        let session = lookup(&store, id)?;
        let events = store.events(&session.id, after_seq, limit)?;
        Ok(Transcript {
            events,
            last_seq: session.last_seq,
        })
    }

    /// Ends a starting or running session as failed/cancelled. Waits (a bounded time) for the
    /// runner to stop the agent, and returns the row as it then is. An ended session is
    /// returned unchanged.
    pub fn cancel(&self, id: &str) -> Result<Session, CancelError> {
        let mut store = self.store().map_err(LookupError::from)?;
        let session = lookup(&store, id)?;
        if session.status.is_ended() {
            return Ok(session);
        }
        let Some(run) = store.request_cancel(&session.id)? else {
            return Ok(reload(&store, &session.id)?);
        };
        let alive =
            process::runner_alive(&self.settings.state_dir, &session.id).map_err(|source| {
                CancelError::Liveness {
                    id: session.id.clone(),
                    source,
                }
            })?;
        if !alive {
            // No runner, so no agent: settle it here.
            store.finish_run(
                &session.id,
                run,
                &cancelled_termination(None, None),
                &NewEvent::lulu("status", "failed: cancelled by the user"),
            )?;
            return Ok(reload(&store, &session.id)?);
        }
        let deadline = Instant::now() + self.cancel_grace + Duration::from_secs(3);
        while Instant::now() < deadline {
            let current = reload(&store, &session.id)?;
            if current.status.is_ended() || current.run != run {
                return Ok(current);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(reload(&store, &session.id)?)
    }

    /// Starts a new run of an ended session in the same worktree, resuming the agent's
    /// conversation where the agent supports it.
    pub fn continue_session(&self, id: &str, prompt: String) -> Result<Session, ContinueError> {
        let prompt = prompt.trim().to_owned();
        let mut store = self.store().map_err(LookupError::from)?;
        let session = lookup(&store, id)?;
        if prompt.is_empty() {
            return Err(ContinueError::EmptyPrompt);
        }
        if !session.status.is_ended() {
            return Err(ContinueError::Active {
                id: session.id.clone(),
                status: session.status.as_str(),
            });
        }
        let profile = self
            .profile(&session.agent)
            .ok_or_else(|| ContinueError::UnknownAgent {
                id: session.id.clone(),
                name: session.agent.clone(),
            })?;
        let program = &profile.command[0];
        if find_program(program, &profile.env).is_none() {
            return Err(ContinueError::AgentNotInstalled {
                name: session.agent.clone(),
                program: program.clone(),
            });
        }
        let command = profile.continue_argv(&prompt, session.agent_session_id.as_deref());
        let lock = RunnerLock::acquire(&self.settings.state_dir, &session.id)?;
        let event = NewEvent::lulu("status", format!("continuing: {prompt}"));
        let Some(run) = store.begin_next_run(
            &session.id,
            &prompt,
            &command,
            self.settings.max_running,
            &event,
        )?
        else {
            let current = reload(&store, &session.id)?;
            return Err(ContinueError::Active {
                id: current.id.clone(),
                status: current.status.as_str(),
            });
        };
        let worktree = match &session.worktree_path {
            Some(_) => None,
            None => Some(self.worktree_place(&session.repo, &session.name, &session.id)),
        };
        let launch = RunnerLaunch {
            state_dir: self.settings.state_dir.clone(),
            id: session.id.clone(),
            run,
            worktree,
        };
        let current = reload(&store, &session.id)?;
        if let Err(error) = process::launch_runner(&launch, lock) {
            self.fail_unlaunched(&mut store, &current, &error)?;
            return Err(error.into());
        }
        Ok(current)
    }

    /// Removes a session: its worktree (refusing to lose work unless forced), optionally its
    /// branch, then its row and transcript.
    pub fn remove(&self, id: &str, options: RemoveOptions) -> Result<(), RemoveError> {
        let mut store = self.store().map_err(LookupError::from)?;
        let mut session = lookup(&store, id)?;
        if !session.status.is_ended() {
            if !options.force {
                return Err(RemoveError::Active {
                    id: session.id.clone(),
                    status: session.status.as_str(),
                });
            }
            session = self.cancel(session.id.as_str())?;
            if !session.status.is_ended() {
                return Err(RemoveError::DidNotStop { id: session.id });
            }
        }
        if !session.repo.exists() {
            // The repository itself is gone: there is no worktree or branch left to lose.
            store.delete_ended_session(&session.id)?;
            self.remove_runtime_files(&session.id);
            return Ok(());
        }
        let worktree_exists = session
            .worktree_path
            .as_deref()
            .is_some_and(|path| path.exists());
        // Check everything that could lose work before touching anything.
        if let (Some(path), true, false) = (
            session.worktree_path.as_deref(),
            worktree_exists,
            options.force,
        ) {
            let changes = worktree::uncommitted_changes(path)?;
            if !changes.is_empty() {
                let all: Vec<&String> = changes.changed.iter().chain(&changes.untracked).collect();
                let mut sample = all
                    .iter()
                    .take(3)
                    .map(|path| path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                if all.len() > 3 {
                    sample.push_str(", …");
                }
                return Err(RemoveError::Uncommitted {
                    path: path.to_owned(),
                    count: all.len(),
                    sample,
                });
            }
        }
        if let (Some(branch), true, false) = (
            session.branch.as_deref(),
            options.delete_branch,
            options.force,
        ) {
            let count = match worktree::unmerged_commits(&session.repo, branch, &session.base_ref) {
                Ok(count) => count,
                Err(worktree::UnmergedError::BranchNotFound { .. }) => 0,
                Err(error) => return Err(error.into()),
            };
            if count > 0 {
                return Err(RemoveError::Unmerged {
                    branch: branch.to_owned(),
                    base: session.base_ref.clone(),
                    count,
                });
            }
        }
        let _held = RepositoryLock::acquire(&session.repo)?;
        if let Some(path) = session.worktree_path.as_deref() {
            let mode = if options.force {
                RemoveMode::DiscardChanges
            } else {
                RemoveMode::Safe
            };
            worktree::remove_worktree(&session.repo, path, mode)?;
        }
        if let (Some(branch), true) = (session.branch.as_deref(), options.delete_branch) {
            match worktree::delete_branch(&session.repo, branch) {
                Ok(()) | Err(worktree::DeleteBranchError::BranchNotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        store.delete_ended_session(&session.id)?;
        self.remove_runtime_files(&session.id);
        Ok(())
    }

    fn remove_runtime_files(&self, id: &SessionId) {
        for path in [
            process::lock_path(&self.settings.state_dir, id),
            process::log_path(&self.settings.state_dir, id),
        ] {
            std::fs::remove_file(path).ok();
        }
    }

    pub fn diff(&self, id: &str) -> Result<SessionDiff, DiffError> {
        let session = self.session(id)?;
        let Some(path) = session.worktree_path.clone() else {
            return Err(DiffError::NoWorktree { id: session.id });
        };
        if !path.exists() {
            return Err(DiffError::WorktreeGone {
                id: session.id,
                path,
            });
        }
        let base_commit = session.base_commit.clone().unwrap_or_default();
        let files = worktree::diff_against(&path, &base_commit)?;
        Ok(SessionDiff { base_commit, files })
    }

    pub fn agents(&self) -> Vec<AgentInfo> {
        self.settings
            .agents
            .values()
            .map(|profile| AgentInfo {
                name: profile.name.clone(),
                command: profile.command.clone(),
                format: profile.format.as_str(),
                available: find_program(&profile.command[0], &profile.env).is_some(),
            })
            .collect()
    }

    /// Settles sessions whose runner died (failed/interrupted), prunes stale worktree
    /// metadata, and reports (optionally removes, when clean) worktree folders no session
    /// owns.
    pub fn reconcile(&self, options: ReconcileOptions) -> Result<ReconcileReport, ReconcileError> {
        let mut store = self.store()?;
        let mut report = ReconcileReport::default();
        for session in store.active_sessions()? {
            let liveness = |id: &SessionId| {
                process::runner_alive(&self.settings.state_dir, id).map_err(|source| {
                    ReconcileError::Liveness {
                        id: id.clone(),
                        source,
                    }
                })
            };
            if liveness(&session.id)? {
                continue;
            }
            if settle_dead_runner(
                &mut store,
                &self.settings.state_dir,
                &session.id,
                session.run,
            )? {
                tracing::info!(id = %session.id, "session interrupted: its runner is gone");
                report.interrupted.push(session.id.clone());
            }
        }
        if options.sessions_only {
            return Ok(report);
        }
        for repo in store.repositories()? {
            if !repo.exists() {
                continue;
            }
            let sessions = store.sessions_of_repo(&repo)?;
            let owned: Vec<PathBuf> = sessions
                .iter()
                .filter_map(|session| session.worktree_path.clone())
                .collect();
            let mut roots: Vec<PathBuf> = vec![self.settings.worktree_root(&repo)];
            for path in &owned {
                if let Some(parent) = path.parent()
                    && !roots.iter().any(|root| root == parent)
                {
                    roots.push(parent.to_owned());
                }
            }
            let _held = match RepositoryLock::acquire(&repo) {
                Ok(held) => held,
                Err(error) => {
                    report.problems.push(error.to_string());
                    continue;
                }
            };
            for root in roots {
                match worktree::reconcile(&repo, &root, &owned) {
                    Ok(found) => {
                        report.pruned.extend(found.pruned);
                        for orphan in found.orphans {
                            if options.remove_clean_orphans && orphan.clean {
                                let removed = if orphan.registered {
                                    worktree::remove_worktree(&repo, &orphan.path, RemoveMode::Safe)
                                        .map_err(|error| error.to_string())
                                } else {
                                    std::fs::remove_dir(&orphan.path)
                                        .map_err(|error| error.to_string())
                                };
                                match removed {
                                    Ok(()) => report.removed_orphans.push(orphan.path.clone()),
                                    Err(error) => report.problems.push(format!(
                                        "could not remove {}: {error}",
                                        orphan.path.display()
                                    )),
                                }
                            }
                            report.orphans.push(orphan);
                        }
                    }
                    Err(error) => report.problems.push(error.to_string()),
                }
            }
        }
        Ok(report)
    }
}

fn lookup(store: &Store, id: &str) -> Result<Session, LookupError> {
    let exact = SessionId(id.trim().to_owned());
    if let Some(session) = store.session(&exact)? {
        return Ok(session);
    }
    let resolved = store.resolve_id(id)?;
    store
        .session(&resolved)?
        .ok_or_else(|| LookupError::NotFound(id.to_owned()))
}

fn reload(store: &Store, id: &SessionId) -> Result<Session, LookupError> {
    store
        .session(id)?
        .ok_or_else(|| LookupError::NotFound(id.to_string()))
}

/// A human name from a prompt: its first line, at most about 60 characters, cut at a word.
pub fn derive_name(prompt: &str) -> String {
    const MAX: usize = 60;
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("session");
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut name = String::new();
    for word in words {
        let extra = if name.is_empty() { 0 } else { 1 };
        if name.chars().count() + extra + word.chars().count() > MAX {
            if name.is_empty() {
                name = word.chars().take(MAX - 1).collect();
            }
            name.push('…');
            break;
        }
        if extra == 1 {
            name.push(' ');
        }
        name.push_str(word);
    }
    name
}

/// A branch- and folder-safe slug of a name: lowercase ASCII letters, digits and dashes.
pub fn slug(name: &str) -> String {
    const MAX: usize = 40;
    let mut slug = String::new();
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= MAX {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        "session".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(prompt: &str, expected_name: &str, expected_slug: &str) {
        let name = derive_name(prompt);
        assert_eq!(name, expected_name);
        assert_eq!(slug(&name), expected_slug);
    }

    #[test]
    fn names_and_slugs() {
        check(
            "Add a --verbose flag to the CLI",
            "Add a --verbose flag to the CLI",
            "add-a-verbose-flag-to-the-cli",
        );
        check("\n  Fix   CI\nmore detail", "Fix CI", "fix-ci");
        check("ÜÖ 日本", "ÜÖ 日本", "session");
        check(
            "Refactor the store so that every write goes through one transaction helper and nothing else",
            "Refactor the store so that every write goes through one…",
            "refactor-the-store-so-that-every-write-g",
        );
    }
}
