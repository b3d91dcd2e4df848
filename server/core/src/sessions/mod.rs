//! The operations on sessions that clients ask for: spawn, list, look up, cancel, continue,
//! remove, diff, reconcile, land, sync, push. Shared by the CLI and `lulu serve`; knows nothing of JSON-RPC.
//!
//! Every method is synchronous (SQLite, gix, process launch). A `Sessions` owns one database
//! connection, opened once and shared behind a mutex (never held while waiting on anything but
//! SQLite), so it is `Send + Sync` and cheap to share.

mod approvals;
mod errors;
mod land;
mod lifecycle;
mod provision;
mod push;
mod reconcile;
mod remove;
mod review;
mod review_prompt;
mod spawn;

pub use approvals::*;
pub use errors::*;
pub use land::*;
pub use provision::*;
pub use push::*;
pub use reconcile::*;
pub use remove::*;
pub use review::*;
pub use spawn::*;

use std::{
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use crate::{
    config::{AgentProfile, Settings, find_program},
    model::{Event, Session, SessionId},
    store::{ListPage, ListQuery, Store},
    worktree::{self, FileChange},
};

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
    /// Whether the agent can ask for approvals and take messages (`input: stream-json`).
    pub input: &'static str,
}

pub struct Sessions {
    settings: Settings,
    cancel_grace: Duration,
    store: Mutex<Store>,
    read_only: bool,
}

impl Sessions {
    /// Opens the state dir's database (creating and migrating it) for this process's life.
    pub fn new(settings: Settings) -> Result<Sessions, OpenError> {
        let store = Store::open(&settings.state_dir)?;
        Ok(Sessions::with_store(settings, store, false))
    }

    /// For commands that only read (`lulu ls`, `show`, `logs`): like [`Sessions::new`], but
    /// where the state dir cannot be written (a read-only mount, say) the database is opened
    /// read-only instead ([`Store::open_read_only`]); every write then fails.
    pub fn new_for_reading(settings: Settings) -> Result<Sessions, OpenError> {
        match Store::open(&settings.state_dir) {
            Ok(store) => Ok(Sessions::with_store(settings, store, false)),
            Err(error) => match Store::open_read_only(&settings.state_dir) {
                Ok(store) => {
                    tracing::info!(%error, "the state dir is not writable; reading only");
                    Ok(Sessions::with_store(settings, store, true))
                }
                Err(_) => Err(error.into()),
            },
        }
    }

    fn with_store(settings: Settings, store: Store, read_only: bool) -> Sessions {
        Sessions {
            settings,
            cancel_grace: crate::runner::cancel_grace_from_env(),
            store: Mutex::new(store),
            read_only,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether the database could only be opened for reading.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// This process's connection. Hold it only for database work: never across a wait.
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding it leaves the connection as SQLite left it: still usable (an
        // open transaction is rolled back when its guard drops).
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The top-level directory of the repository containing `path`.
    pub fn repository_of(&self, path: &Path) -> Result<PathBuf, worktree::DiscoverError> {
        worktree::discover_repository(path)
    }

    fn profile(&self, name: &str) -> Option<&AgentProfile> {
        self.settings.agents.get(name)
    }

    fn known_agents(&self) -> String {
        self.settings
            .agents
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn list(&self, query: &ListQuery) -> Result<ListPage, LookupError> {
        Ok(self.store().list(query)?)
    }

    /// Finds a session by its id or a unique prefix of it.
    pub fn session(&self, id: &str) -> Result<Session, LookupError> {
        let store = self.store();
        lookup(&store, id)
    }

    /// Every run of a session, first run first.
    pub fn runs(&self, id: &str) -> Result<Vec<crate::store::RunRecord>, LookupError> {
        let store = self.store();
        let session = lookup(&store, id)?;
        Ok(store.run_history(&session.id)?)
    }

    pub fn transcript(
        &self,
        id: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Transcript, LookupError> {
        let store = self.store();
        let session = lookup(&store, id)?;
        let events = store.events(&session.id, after_seq, limit)?;
        Ok(Transcript {
            events,
            last_seq: session.last_seq,
        })
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
                input: profile.input.as_str(),
            })
            .collect()
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
