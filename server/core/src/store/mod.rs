//! The one truth: a SQLite file in the state dir (WAL, busy timeout, `BEGIN IMMEDIATE`
//! writes, migrations by `user_version`, mode 0600).
//!
//! Every process that shares a state dir (servers, the CLI, runners) opens its own
//! connection. Writers do their own rows' transitions with compare-and-set; every row write
//! bumps a global change counter and stamps the row with it, which is the change feed readers
//! poll (`changed_since`, `removed_since`).

mod approvals;
mod events;
mod runs;
mod schema;
mod sessions;

pub use approvals::*;
use events::append_events_in;
pub use runs::*;
use schema::{MIGRATIONS, SCHEMA_VERSION};
pub use sessions::*;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, TransactionBehavior};

pub const DATABASE_FILE_NAME: &str = "lulu.db";
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

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
}

fn bump(transaction: &rusqlite::Transaction<'_>, counter: &str) -> rusqlite::Result<i64> {
    transaction.query_row(
        "UPDATE counters SET value = value + 1 WHERE name = ?1 RETURNING value",
        [counter],
        |row| row.get(0),
    )
}

#[cfg(test)]
mod tests;
