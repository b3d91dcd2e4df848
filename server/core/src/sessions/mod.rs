//! The operations on sessions that clients ask for: spawn, list, look up, cancel, continue,
//! remove, diff, reconcile. Shared by the CLI and `lulu serve`; knows nothing of JSON-RPC.
//!
//! Every method is synchronous (SQLite, gix, process launch) and opens its own database
//! connection, so a `Sessions` is `Send + Sync` and cheap to share.

mod approvals;
mod errors;
mod lifecycle;
mod reconcile;
mod remove;
mod spawn;

pub use approvals::*;
pub use errors::*;
pub use reconcile::*;
pub use remove::*;
pub use spawn::*;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{
    config::{AgentProfile, Settings, find_program},
    model::{Event, Session, SessionId},
    store::{self, ListPage, ListQuery, Store},
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

    fn known_agents(&self) -> String {
        self.settings
            .agents
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
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
