//! The one truth: a SQLite file in the state dir (WAL, busy timeout, `BEGIN IMMEDIATE`
//! writes, migrations by `user_version`, mode 0600).
//!
//! Every process that shares a state dir (servers, the CLI, runners) opens its own
//! connection. Writers do their own rows' transitions with compare-and-set; every row write
//! bumps a global change counter and stamps the row with it, which is the change feed readers
//! poll (`changed_since`, `removed_since`).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::model::{Event, NewEvent, Outcome, OutputFormat, Session, SessionId, Status, Stream};

pub const DATABASE_FILE_NAME: &str = "lulu.db";
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema's history, oldest first: migration `i` takes a database from `user_version` `i` to
/// `i + 1`. Append only; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[SESSIONS_EVENTS_COUNTERS];

/// The `user_version` of a database this build fully understands.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const SESSIONS_EVENTS_COUNTERS: &str = "
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    repo TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_activity_at TEXT NOT NULL,
    failure_reason TEXT,
    prompt TEXT NOT NULL,
    agent TEXT NOT NULL,
    command TEXT NOT NULL,
    format TEXT NOT NULL,
    env TEXT NOT NULL,
    worktree_path TEXT,
    branch TEXT,
    base_ref TEXT NOT NULL,
    base_commit TEXT,
    started_at TEXT,
    ended_at TEXT,
    outcome TEXT,
    exit_code INTEGER,
    signal INTEGER,
    failure_detail TEXT,
    agent_session_id TEXT,
    cost_usd REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    run INTEGER NOT NULL,
    max_running INTEGER NOT NULL,
    queue_seq INTEGER NOT NULL,
    slot_held INTEGER NOT NULL DEFAULT 0,
    cancel_requested_run INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL DEFAULT 0,
    change_seq INTEGER NOT NULL
);
CREATE INDEX sessions_by_creation ON sessions (created_at DESC, id DESC);
CREATE INDEX sessions_by_repo ON sessions (repo, created_at DESC, id DESC);
CREATE INDEX sessions_by_change ON sessions (change_seq);
CREATE INDEX sessions_active ON sessions (status) WHERE status IN ('starting', 'running');
CREATE INDEX sessions_holding_slots ON sessions (slot_held) WHERE slot_held = 1;
CREATE TABLE events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    stream TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    data TEXT,
    UNIQUE (session_id, seq)
);
CREATE TABLE removed (
    id TEXT PRIMARY KEY NOT NULL,
    change_seq INTEGER NOT NULL
);
CREATE INDEX removed_by_change ON removed (change_seq);
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('change', 0), ('queue', 0);
";

const SESSION_COLUMNS: &str = "id, name, repo, status, created_at, last_activity_at, failure_reason, prompt, agent, \
     command, format, env, worktree_path, branch, base_ref, base_commit, started_at, ended_at, outcome, \
     exit_code, signal, failure_detail, agent_session_id, cost_usd, input_tokens, output_tokens, run, \
     max_running, last_seq, change_seq";

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("could not create the state directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not open the session database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the session database {path} has schema version {found}, newer than this lulu understands ({SCHEMA_VERSION}); upgrade lulu"
    )]
    TooNew { path: PathBuf, found: i64 },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the session database {path} failed")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the session database {path} holds a value this lulu cannot read: {message}")]
    Corrupt { path: PathBuf, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveIdError {
    #[error("no session with id {0:?}")]
    NotFound(String),
    #[error("the id prefix {prefix:?} matches {count} sessions; give more characters")]
    Ambiguous { prefix: String, count: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new session row, as the spawner writes it.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    pub name: String,
    pub repo: PathBuf,
    pub prompt: String,
    pub agent: String,
    pub command: Vec<String>,
    pub format: OutputFormat,
    pub env: BTreeMap<String, String>,
    pub base_ref: String,
    pub base_commit: String,
    pub max_running: i64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Termination {
    pub status: Status,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// One line, present iff `status` is failed.
    pub failure_reason: Option<String>,
    pub failure_detail: Option<String>,
}

/// What the agent told us about itself (Claude's `result` line, Codex's usage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentReport {
    pub agent_session_id: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: usize,
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
    /// Only these repositories; `None` lists every repository.
    pub repos: Option<Vec<PathBuf>>,
}

#[derive(Debug, Clone)]
pub struct ListPage {
    pub sessions: Vec<Session>,
    pub next: Option<String>,
}

/// The answer to a slot claim.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotClaim {
    Claimed,
    /// Every slot is taken, or sessions queued earlier are still waiting.
    Wait {
        running: i64,
        ahead: Vec<SessionId>,
    },
    /// The run is no longer starting (ended by cancel or reconciliation).
    Gone,
}

pub struct Store {
    connection: Connection,
    path: PathBuf,
}

/// Timestamps are stored as RFC 3339 with milliseconds, so text order is time order.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("bad timestamp {text:?}: {error}"))
}

/// Puts the database in WAL mode, once for good. Switching needs an exclusive lock, for which
/// SQLite does not wait on its busy handler: processes opening a brand-new database at the same
/// moment get "database is locked" at once. So look first (WAL already: nothing to do), and on
/// that error look again a moment later, within the busy timeout.
fn use_wal(connection: &Connection) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    loop {
        let mode: String = connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

impl Store {
    /// Opens (creating and migrating as needed) the database in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Store, OpenError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|source| OpenError::CreateDir {
                path: state_dir.to_owned(),
                source,
            })?;
        let path = state_dir.join(DATABASE_FILE_NAME);
        // Create the file ourselves so it is never world-readable, even for a moment.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| OpenError::CreateDir {
                path: path.clone(),
                source,
            })?;
        let open_error = |source| OpenError::Open {
            path: path.clone(),
            source,
        };
        let connection = Connection::open(&path).map_err(open_error)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        use_wal(&connection).map_err(open_error)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        let mut store = Store { connection, path };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<(), OpenError> {
        let path = self.path.clone();
        let open_error = |source| OpenError::Open {
            path: path.clone(),
            source,
        };
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open_error)?;
        let version: i64 = transaction
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        if version > SCHEMA_VERSION {
            return Err(OpenError::TooNew {
                path: path.clone(),
                found: version,
            });
        }
        let applied = usize::try_from(version).unwrap_or(0);
        for migration in &MIGRATIONS[applied..] {
            transaction.execute_batch(migration).map_err(open_error)?;
        }
        transaction
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_error)?;
        transaction.commit().map_err(open_error)
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message,
        }
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction.
    fn write<T>(
        &mut self,
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let value = body(&transaction).map_err(wrap)?;
        transaction.commit().map_err(wrap)?;
        Ok(value)
    }

    /// `PRAGMA data_version`: changes whenever another connection commits.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.connection
            .pragma_query_value(None, "data_version", |row| row.get(0))
            .map_err(|source| self.sqlite(source))
    }

    /// The global change counter now.
    pub fn change_seq(&self) -> Result<i64, StoreError> {
        self.connection
            .query_row(
                "SELECT value FROM counters WHERE name = 'change'",
                [],
                |row| row.get(0),
            )
            .map_err(|source| self.sqlite(source))
    }

    pub fn insert_session(&mut self, new: &NewSession) -> Result<Session, StoreError> {
        let command = serde_json::to_string(&new.command).expect("a list of strings serializes");
        let env = serde_json::to_string(&new.env).expect("a map of strings serializes");
        let created_at = format_time(new.created_at);
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let queue_seq = bump(transaction, "queue")?;
            transaction.execute(
                "INSERT INTO sessions (id, name, repo, status, created_at, last_activity_at, prompt, agent, \
                 command, format, env, base_ref, base_commit, run, max_running, queue_seq, change_seq) \
                 VALUES (?1, ?2, ?3, 'starting', ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13, ?14)",
                params![
                    new.id.as_str(),
                    new.name,
                    new.repo.to_string_lossy(),
                    created_at,
                    new.prompt,
                    new.agent,
                    command,
                    new.format.as_str(),
                    env,
                    new.base_ref,
                    new.base_commit,
                    new.max_running,
                    queue_seq,
                    change_seq,
                ],
            )?;
            Ok(())
        })?;
        self.session(&new.id)?
            .ok_or_else(|| self.corrupt(format!("session {} vanished after insert", new.id)))
    }

    pub fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1");
        let row = self
            .connection
            .query_row(&sql, [id.as_str()], read_session_row)
            .optional()
            .map_err(|source| self.sqlite(source))?;
        row.map(|row| row.map_err(|message| self.corrupt(message)))
            .transpose()
    }

    /// Finds the one session whose id starts with `prefix`.
    pub fn resolve_id(&self, prefix: &str) -> Result<SessionId, ResolveIdError> {
        let prefix = prefix.trim();
        if prefix.is_empty() {
            return Err(ResolveIdError::NotFound(prefix.to_owned()));
        }
        let pattern = format!("{}%", prefix.replace(['%', '_'], ""));
        let mut statement = self
            .connection
            .prepare_cached("SELECT id FROM sessions WHERE id LIKE ?1 LIMIT 2")
            .map_err(|source| self.sqlite(source))?;
        let ids: Vec<String> = statement
            .query_map([pattern], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|source| self.sqlite(source))?;
        match ids.as_slice() {
            [] => Err(ResolveIdError::NotFound(prefix.to_owned())),
            [one] => Ok(SessionId(one.clone())),
            _ => {
                let count: i64 = self
                    .connection
                    .query_row(
                        "SELECT count(*) FROM sessions WHERE id LIKE ?1",
                        [format!("{prefix}%")],
                        |row| row.get(0),
                    )
                    .map_err(|source| self.sqlite(source))?;
                Err(ResolveIdError::Ambiguous {
                    prefix: prefix.to_owned(),
                    count: usize::try_from(count).unwrap_or(usize::MAX),
                })
            }
        }
    }

    /// Newest first (`created_at` then `id`, both descending), a page at a time.
    pub fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1");
        let mut values: Vec<String> = Vec::new();
        if let Some(before) = &query.before {
            let Some((created_at, id)) = before.split_once('|') else {
                return Ok(ListPage {
                    sessions: Vec::new(),
                    next: None,
                });
            };
            values.push(created_at.to_owned());
            values.push(id.to_owned());
            sql.push_str(&format!(
                " AND (created_at, id) < (?{}, ?{})",
                values.len() - 1,
                values.len()
            ));
        }
        if let Some(repos) = &query.repos {
            if repos.is_empty() {
                return Ok(ListPage {
                    sessions: Vec::new(),
                    next: None,
                });
            }
            let mut placeholders = Vec::new();
            for repo in repos {
                values.push(repo.to_string_lossy().into_owned());
                placeholders.push(format!("?{}", values.len()));
            }
            sql.push_str(&format!(" AND repo IN ({})", placeholders.join(", ")));
        }
        let limit = query.limit.max(1);
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT {}",
            limit + 1
        ));
        let mut statement = self
            .connection
            .prepare_cached(&sql)
            .map_err(|source| self.sqlite(source))?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(values.iter()), read_session_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|source| self.sqlite(source))?;
        let mut sessions = rows
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| self.corrupt(message))?;
        let next = if sessions.len() > limit {
            sessions.truncate(limit);
            sessions
                .last()
                .map(|last| format!("{}|{}", format_time(last.created_at), last.id.as_str()))
        } else {
            None
        };
        Ok(ListPage { sessions, next })
    }

    /// Sessions that are starting or running.
    pub fn active_sessions(&self) -> Result<Vec<Session>, StoreError> {
        self.sessions_where("status IN ('starting', 'running') ORDER BY created_at", [])
    }

    /// Every session of a repository (for worktree reconciliation).
    pub fn sessions_of_repo(&self, repo: &Path) -> Result<Vec<Session>, StoreError> {
        self.sessions_where(
            "repo = ?1 ORDER BY created_at",
            [repo.to_string_lossy().into_owned()],
        )
    }

    /// The distinct repositories that have sessions.
    pub fn repositories(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT DISTINCT repo FROM sessions ORDER BY repo")
            .map_err(|source| self.sqlite(source))?;
        statement
            .query_map([], |row| row.get::<_, String>(0).map(PathBuf::from))
            .and_then(|rows| rows.collect())
            .map_err(|source| self.sqlite(source))
    }

    /// Rows written after `change_seq`, in change order.
    pub fn changed_since(&self, change_seq: i64, limit: usize) -> Result<Vec<Session>, StoreError> {
        self.sessions_where(
            &format!("change_seq > ?1 ORDER BY change_seq LIMIT {}", limit.max(1)),
            [change_seq],
        )
    }

    /// Sessions removed after `change_seq`, with the change that removed them.
    pub fn removed_since(&self, change_seq: i64) -> Result<Vec<(SessionId, i64)>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, change_seq FROM removed WHERE change_seq > ?1 ORDER BY change_seq",
            )
            .map_err(|source| self.sqlite(source))?;
        statement
            .query_map([change_seq], |row| {
                Ok((SessionId(row.get(0)?), row.get(1)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(|source| self.sqlite(source))
    }

    fn sessions_where<P: rusqlite::Params>(
        &self,
        condition: &str,
        values: P,
    ) -> Result<Vec<Session>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE {condition}");
        let mut statement = self
            .connection
            .prepare_cached(&sql)
            .map_err(|source| self.sqlite(source))?;
        let rows = statement
            .query_map(values, read_session_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|source| self.sqlite(source))?;
        rows.into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| self.corrupt(message))
    }

    /// Transcript events after `after_seq`, in order.
    pub fn events(
        &self,
        id: &SessionId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT seq, at, stream, kind, text, data FROM events \
                 WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(|source| self.sqlite(source))?;
        let rows = statement
            .query_map(
                params![id.as_str(), after_seq, limit.max(1) as i64],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|source| self.sqlite(source))?;
        rows.into_iter()
            .map(|(seq, at, stream, kind, text, data)| {
                Ok(Event {
                    seq,
                    at: parse_time(&at).map_err(|message| self.corrupt(message))?,
                    stream: stream
                        .parse::<Stream>()
                        .map_err(|error| self.corrupt(error.to_string()))?,
                    kind,
                    text,
                    data: data.and_then(|data| serde_json::from_str(&data).ok()),
                })
            })
            .collect()
    }

    /// Appends events with the next `seq` numbers (gapless) and records the activity.
    /// Returns the last `seq` written.
    pub fn append_events(
        &mut self,
        id: &SessionId,
        events: &[NewEvent],
    ) -> Result<i64, StoreError> {
        if events.is_empty() {
            return self
                .session(id)?
                .map(|session| session.last_seq)
                .ok_or_else(|| self.corrupt(format!("no session {id}")));
        }
        self.write(|transaction| append_events_in(transaction, id, events))
    }

    /// Tries to take a running slot for this run, first come first served across every
    /// process sharing the database. A read decides first, so waiting runners poll without
    /// taking the write lock; the claim itself re-checks under `BEGIN IMMEDIATE`.
    pub fn try_claim_slot(&mut self, id: &SessionId, run: i64) -> Result<SlotClaim, StoreError> {
        let outlook =
            slot_outlook(&self.connection, id, run).map_err(|source| self.sqlite(source))?;
        if outlook != SlotClaim::Claimed {
            return Ok(outlook);
        }
        self.write(|transaction| {
            let outlook = slot_outlook(transaction, id, run)?;
            if outlook == SlotClaim::Claimed {
                transaction.execute(
                    "UPDATE sessions SET slot_held = 1 WHERE id = ?1",
                    [id.as_str()],
                )?;
            }
            Ok(outlook)
        })
    }

    /// Records the worktree of a session (first run).
    pub fn set_worktree(
        &mut self,
        id: &SessionId,
        worktree_path: &Path,
        branch: &str,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            transaction.execute(
                "UPDATE sessions SET worktree_path = ?2, branch = ?3, change_seq = ?4 WHERE id = ?1",
                params![
                    id.as_str(),
                    worktree_path.to_string_lossy(),
                    branch,
                    change_seq
                ],
            )?;
            Ok(())
        })
    }

    /// `starting → running` for this run, with a lifecycle event. False if the run is gone.
    pub fn mark_running(
        &mut self,
        id: &SessionId,
        run: i64,
        event: &NewEvent,
    ) -> Result<bool, StoreError> {
        let now = format_time(event.at);
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let changed = transaction.execute(
                "UPDATE sessions SET status = 'running', started_at = ?3, last_activity_at = ?3, change_seq = ?4 \
                 WHERE id = ?1 AND run = ?2 AND status = 'starting'",
                params![id.as_str(), run, now, change_seq],
            )?;
            if changed == 1 {
                append_events_in(transaction, id, std::slice::from_ref(event))?;
            }
            Ok(changed == 1)
        })
    }

    /// The one terminal transition of a run (compare-and-set: only from starting or running,
    /// only for this run). Returns whether this call made it. The lifecycle event is written
    /// in the same transaction.
    pub fn finish_run(
        &mut self,
        id: &SessionId,
        run: i64,
        termination: &Termination,
        event: &NewEvent,
    ) -> Result<bool, StoreError> {
        let now = format_time(event.at);
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let changed = transaction.execute(
                "UPDATE sessions SET status = ?3, outcome = ?4, exit_code = ?5, signal = ?6, failure_reason = ?7, \
                 failure_detail = ?8, ended_at = ?9, last_activity_at = ?9, slot_held = 0, change_seq = ?10 \
                 WHERE id = ?1 AND run = ?2 AND status IN ('starting', 'running')",
                params![
                    id.as_str(),
                    run,
                    termination.status.as_str(),
                    termination.outcome.as_str(),
                    termination.exit_code,
                    termination.signal,
                    termination.failure_reason,
                    termination.failure_detail,
                    now,
                    change_seq,
                ],
            )?;
            if changed == 1 {
                append_events_in(transaction, id, std::slice::from_ref(event))?;
            }
            Ok(changed == 1)
        })
    }

    /// Records what the agent reported about itself (only the fields it gave).
    pub fn set_agent_report(
        &mut self,
        id: &SessionId,
        report: &AgentReport,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            transaction.execute(
                "UPDATE sessions SET agent_session_id = coalesce(?2, agent_session_id), \
                 cost_usd = coalesce(?3, cost_usd), input_tokens = coalesce(?4, input_tokens), \
                 output_tokens = coalesce(?5, output_tokens), change_seq = ?6 WHERE id = ?1",
                params![
                    id.as_str(),
                    report.agent_session_id,
                    report.cost_usd,
                    report.input_tokens,
                    report.output_tokens,
                    change_seq
                ],
            )?;
            Ok(())
        })
    }

    /// Asks the runner of the current run to cancel. Returns the run it applies to, or None
    /// when the session has already ended.
    pub fn request_cancel(&mut self, id: &SessionId) -> Result<Option<i64>, StoreError> {
        self.write(|transaction| {
            let run: Option<i64> = transaction
                .query_row(
                    "UPDATE sessions SET cancel_requested_run = run \
                     WHERE id = ?1 AND status IN ('starting', 'running') RETURNING run",
                    [id.as_str()],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(run)
        })
    }

    pub fn cancel_requested(&self, id: &SessionId, run: i64) -> Result<bool, StoreError> {
        self.connection
            .query_row(
                "SELECT cancel_requested_run = ?2 FROM sessions WHERE id = ?1",
                params![id.as_str(), run],
                |row| row.get::<_, bool>(0),
            )
            .optional()
            .map(|value| value.unwrap_or(true))
            .map_err(|source| self.sqlite(source))
    }

    /// Starts a new run of an ended session: `→ starting`, with a new prompt and command, at
    /// the back of the queue. Returns the new run number, or None if the session is not ended.
    pub fn begin_next_run(
        &mut self,
        id: &SessionId,
        prompt: &str,
        command: &[String],
        max_running: i64,
        event: &NewEvent,
    ) -> Result<Option<i64>, StoreError> {
        let command = serde_json::to_string(command).expect("a list of strings serializes");
        let now = format_time(event.at);
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let queue_seq = bump(transaction, "queue")?;
            let run: Option<i64> = transaction
                .query_row(
                    "UPDATE sessions SET status = 'starting', run = run + 1, prompt = ?2, command = ?3, \
                     max_running = ?4, queue_seq = ?5, change_seq = ?6, last_activity_at = ?7, \
                     failure_reason = NULL, failure_detail = NULL, outcome = NULL, exit_code = NULL, \
                     signal = NULL, started_at = NULL, ended_at = NULL, slot_held = 0 \
                     WHERE id = ?1 AND status IN ('completed', 'failed') RETURNING run",
                    params![id.as_str(), prompt, command, max_running, queue_seq, change_seq, now],
                    |row| row.get(0),
                )
                .optional()?;
            if run.is_some() {
                append_events_in(transaction, id, std::slice::from_ref(event))?;
            }
            Ok(run)
        })
    }

    /// Deletes an ended session and its transcript, leaving a tombstone for the change feed.
    /// False if the session is active (or gone).
    pub fn delete_ended_session(&mut self, id: &SessionId) -> Result<bool, StoreError> {
        self.write(|transaction| {
            let deleted = transaction.execute(
                "DELETE FROM sessions WHERE id = ?1 AND status IN ('completed', 'failed')",
                [id.as_str()],
            )?;
            if deleted == 0 {
                return Ok(false);
            }
            transaction.execute("DELETE FROM events WHERE session_id = ?1", [id.as_str()])?;
            let change_seq = bump(transaction, "change")?;
            transaction.execute(
                "INSERT OR REPLACE INTO removed (id, change_seq) VALUES (?1, ?2)",
                params![id.as_str(), change_seq],
            )?;
            Ok(true)
        })
    }
}

/// Whether this run may take a slot now: it is starting without a slot, fewer than its
/// `max_running` hold one, and nobody queued earlier is still waiting.
fn slot_outlook(connection: &Connection, id: &SessionId, run: i64) -> rusqlite::Result<SlotClaim> {
    let mine: Option<(i64, i64, String)> = connection
        .query_row(
            "SELECT queue_seq, max_running, status FROM sessions WHERE id = ?1 AND run = ?2 AND slot_held = 0",
            params![id.as_str(), run],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((queue_seq, max_running, status)) = mine else {
        return Ok(SlotClaim::Gone);
    };
    if status != "starting" {
        return Ok(SlotClaim::Gone);
    }
    let running: i64 = connection.query_row(
        "SELECT count(*) FROM sessions WHERE slot_held = 1",
        [],
        |row| row.get(0),
    )?;
    let mut statement = connection.prepare_cached(
        "SELECT id FROM sessions WHERE status = 'starting' AND slot_held = 0 AND queue_seq < ?1 ORDER BY queue_seq",
    )?;
    let ahead: Vec<SessionId> = statement
        .query_map([queue_seq], |row| Ok(SessionId(row.get(0)?)))?
        .collect::<Result<_, _>>()?;
    if running >= max_running || !ahead.is_empty() {
        return Ok(SlotClaim::Wait { running, ahead });
    }
    Ok(SlotClaim::Claimed)
}

fn bump(transaction: &rusqlite::Transaction<'_>, counter: &str) -> rusqlite::Result<i64> {
    transaction.query_row(
        "UPDATE counters SET value = value + 1 WHERE name = ?1 RETURNING value",
        [counter],
        |row| row.get(0),
    )
}

fn append_events_in(
    transaction: &rusqlite::Transaction<'_>,
    id: &SessionId,
    events: &[NewEvent],
) -> rusqlite::Result<i64> {
    let mut last_seq: i64 = transaction.query_row(
        "SELECT last_seq FROM sessions WHERE id = ?1",
        [id.as_str()],
        |row| row.get(0),
    )?;
    let mut statement = transaction.prepare_cached(
        "INSERT INTO events (session_id, seq, at, stream, kind, text, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut last_at = String::new();
    for event in events {
        last_seq += 1;
        last_at = format_time(event.at);
        let data = event
            .data
            .as_ref()
            .map(|data| serde_json::to_string(data).expect("a JSON value serializes"));
        statement.execute(params![
            id.as_str(),
            last_seq,
            last_at,
            event.stream.as_str(),
            event.kind,
            event.text,
            data
        ])?;
    }
    let change_seq = bump(transaction, "change")?;
    transaction.execute(
        "UPDATE sessions SET last_seq = ?2, last_activity_at = max(last_activity_at, ?3), change_seq = ?4 WHERE id = ?1",
        params![id.as_str(), last_seq, last_at, change_seq],
    )?;
    Ok(last_seq)
}

type SessionRowResult = Result<Session, String>;

fn read_session_row(row: &Row<'_>) -> rusqlite::Result<SessionRowResult> {
    let text = |index: usize| row.get::<_, String>(index);
    let optional_text = |index: usize| row.get::<_, Option<String>>(index);
    let id = text(0)?;
    let name = text(1)?;
    let repo = text(2)?;
    let status = text(3)?;
    let created_at = text(4)?;
    let last_activity_at = text(5)?;
    let failure_reason = optional_text(6)?;
    let prompt = text(7)?;
    let agent = text(8)?;
    let command = text(9)?;
    let format = text(10)?;
    let env = text(11)?;
    let worktree_path = optional_text(12)?;
    let branch = optional_text(13)?;
    let base_ref = text(14)?;
    let base_commit = optional_text(15)?;
    let started_at = optional_text(16)?;
    let ended_at = optional_text(17)?;
    let outcome = optional_text(18)?;
    let exit_code = row.get::<_, Option<i32>>(19)?;
    let signal = row.get::<_, Option<i32>>(20)?;
    let failure_detail = optional_text(21)?;
    let agent_session_id = optional_text(22)?;
    let cost_usd = row.get::<_, Option<f64>>(23)?;
    let input_tokens = row.get::<_, Option<i64>>(24)?;
    let output_tokens = row.get::<_, Option<i64>>(25)?;
    let run = row.get::<_, i64>(26)?;
    let max_running = row.get::<_, i64>(27)?;
    let last_seq = row.get::<_, i64>(28)?;
    let change_seq = row.get::<_, i64>(29)?;
    let build = || -> Result<Session, String> {
        let optional_time = |value: Option<String>| value.as_deref().map(parse_time).transpose();
        Ok(Session {
            name,
            repo: PathBuf::from(repo),
            status: status
                .parse()
                .map_err(|error: crate::model::UnknownName| error.to_string())?,
            created_at: parse_time(&created_at)?,
            last_activity_at: parse_time(&last_activity_at)?,
            failure_reason,
            prompt,
            agent,
            command: serde_json::from_str(&command)
                .map_err(|error| format!("bad command of session {id}: {error}"))?,
            format: format
                .parse()
                .map_err(|error: crate::model::UnknownName| error.to_string())?,
            env: serde_json::from_str(&env)
                .map_err(|error| format!("bad env of session {id}: {error}"))?,
            worktree_path: worktree_path.map(PathBuf::from),
            branch,
            base_ref,
            base_commit,
            started_at: optional_time(started_at)?,
            ended_at: optional_time(ended_at)?,
            outcome: outcome
                .map(|outcome| outcome.parse::<Outcome>())
                .transpose()
                .map_err(|error| error.to_string())?,
            exit_code,
            signal,
            failure_detail,
            agent_session_id,
            cost_usd,
            input_tokens,
            output_tokens,
            run,
            max_running,
            last_seq,
            change_seq,
            id: SessionId(id.clone()),
        })
    };
    Ok(build())
}
