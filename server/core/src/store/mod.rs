//! The one truth: a SQLite file in the state dir (WAL, busy timeout, `BEGIN IMMEDIATE`
//! writes, migrations by `user_version`, mode 0600).
//!
//! Every process that shares a state dir (servers, the CLI, runners) opens its own
//! connection, once, and keeps it. Writers do their own rows' transitions with compare-and-set; every row write
//! bumps a global change counter and stamps the row with it, which is the change feed readers
//! poll (`changed_since`, `removed_since`).

mod approvals;
mod comments;
mod events;
mod history;
mod land;
mod provision;
mod runs;
mod schema;
mod sessions;
mod worktrees;

pub use approvals::*;
pub use comments::*;
use events::append_events_in;
pub use history::*;
pub use land::*;
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
    #[error(
        "the session database {path} has schema version {found}, older than this lulu's ({SCHEMA_VERSION}), and cannot be upgraded where it is read-only"
    )]
    NeedsMigration { path: PathBuf, found: i64 },
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
    /// Opens (creating and migrating as needed) the database in `state_dir`, for reading and
    /// writing. Opening writes nothing to a database that is already in WAL mode and migrated.
    ///
    /// Nothing but SQLite ever opens the file: closing any descriptor of a file drops every POSIX
    /// lock the process holds on it, so a stray `open`/`close` would make other connections (a
    /// user's `sqlite3`, other lulu processes) believe they are the last one and remove the WAL.
    /// The state dir is created 0700 first, SQLite creates the file, and then it is made 0600 by
    /// path.
    pub fn open(state_dir: &Path) -> Result<Store, OpenError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|source| OpenError::CreateDir {
                path: state_dir.to_owned(),
                source,
            })?;
        let path = state_dir.join(DATABASE_FILE_NAME);
        let open_error = |source| OpenError::Open {
            path: path.clone(),
            source,
        };
        let connection = Connection::open(&path).map_err(open_error)?;
        let private = std::fs::Permissions::from_mode(0o600);
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.permissions().mode() & 0o777 != 0o600 => {
                std::fs::set_permissions(&path, private).map_err(|source| {
                    OpenError::CreateDir {
                        path: path.clone(),
                        source,
                    }
                })?;
            }
            _ => {}
        }
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

    /// Opens the database in `state_dir` for reading only, where it cannot be written (a
    /// read-only state dir or file system): `mode=ro` when SQLite can still share the WAL's
    /// index, else `immutable=1` when there is no WAL to miss (nobody can be writing a database
    /// whose WAL cannot be created). Never creates or migrates anything.
    pub fn open_read_only(state_dir: &Path) -> Result<Store, OpenError> {
        use rusqlite::OpenFlags;
        let path = state_dir.join(DATABASE_FILE_NAME);
        let open_error = |source| OpenError::Open {
            path: path.clone(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let uri = |query: &str| {
            let mut encoded = String::from("file:");
            for byte in path.as_os_str().as_encoded_bytes() {
                if byte.is_ascii_alphanumeric() || b"/-_.~".contains(byte) {
                    encoded.push(char::from(*byte));
                } else {
                    encoded.push_str(&format!("%{byte:02X}"));
                }
            }
            format!("{encoded}?{query}")
        };
        if !path.exists() {
            return Err(open_error(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some("the session database does not exist".to_owned()),
            )));
        }
        let check = |connection: Connection| -> rusqlite::Result<Connection> {
            connection.busy_timeout(BUSY_TIMEOUT)?;
            connection.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
            Ok(connection)
        };
        let wal = state_dir.join(format!("{DATABASE_FILE_NAME}-wal"));
        let connection = match Connection::open_with_flags(uri("mode=ro"), flags).and_then(check) {
            Ok(connection) => connection,
            Err(error) if wal.exists() => return Err(open_error(error)),
            Err(_) => Connection::open_with_flags(uri("immutable=1"), flags)
                .and_then(check)
                .map_err(open_error)?,
        };
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        if version > SCHEMA_VERSION {
            return Err(OpenError::TooNew {
                path: path.clone(),
                found: version,
            });
        }
        if version < SCHEMA_VERSION {
            return Err(OpenError::NeedsMigration {
                path: path.clone(),
                found: version,
            });
        }
        Ok(Store { connection, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Brings the schema up to date. Reads `user_version` first, outside any transaction, so
    /// an up-to-date database is not written at all (a write, even of the same value, wakes
    /// every reader's `data_version`); only a database that is behind takes the write lock,
    /// and looks again inside it (another process may have migrated meanwhile).
    fn migrate(&mut self) -> Result<(), OpenError> {
        let path = self.path.clone();
        let open_error = |source| OpenError::Open {
            path: path.clone(),
            source,
        };
        let too_new = |found| OpenError::TooNew {
            path: path.clone(),
            found,
        };
        let version: i64 = self
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version > SCHEMA_VERSION {
            return Err(too_new(version));
        }
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open_error)?;
        let version: i64 = transaction
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version > SCHEMA_VERSION {
            return Err(too_new(version));
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

    /// How many pages the write-ahead log may hold before a commit of this connection copies
    /// them into the database (`wal_autocheckpoint`; SQLite's default is 1,000).
    pub fn set_checkpoint_interval(&self, pages: u32) -> Result<(), StoreError> {
        self.connection
            .pragma_update(None, "wal_autocheckpoint", pages)
            .map_err(|source| self.sqlite(source))
    }

    /// Gives back what the connection holds only to be faster (its page cache): for a process
    /// about to sleep a long time, such as a runner whose agent is thinking. Best effort.
    pub fn release_memory(&self) {
        if let Err(error) = self.connection.execute_batch("PRAGMA shrink_memory") {
            tracing::debug!(%error, "could not shrink the database connection's memory");
        }
    }

    /// The global change counter now.
    pub fn change_seq(&self) -> Result<i64, StoreError> {
        self.connection
            .prepare_cached("SELECT value FROM counters WHERE name = 'change'")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(|source| self.sqlite(source))
    }
}

fn bump(transaction: &rusqlite::Transaction<'_>, counter: &str) -> rusqlite::Result<i64> {
    transaction
        .prepare_cached("UPDATE counters SET value = value + 1 WHERE name = ?1 RETURNING value")?
        .query_row([counter], |row| row.get(0))
}

#[cfg(test)]
mod tests;
