//! Session rows: insert, look up, resolve id prefixes, list pages, the change feed, delete.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use crate::model::{Outcome, OutputFormat, Session, SessionId};

use super::*;

const SESSION_COLUMNS: &str = "id, name, repo, status, created_at, last_activity_at, failure_reason, prompt, agent, \
     command, format, env, worktree_path, branch, base_ref, base_commit, started_at, ended_at, outcome, \
     exit_code, signal, failure_detail, agent_session_id, cost_usd, input_tokens, output_tokens, run, \
     max_running, last_seq, change_seq, input, approval_timeout_ms, max_cost_usd, max_minutes";

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
    pub limits: SessionLimits,
}

/// How the runner hosts the agent and where it stops it (issue 12).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionLimits {
    pub input: crate::model::InputMode,
    pub approval_timeout: Option<std::time::Duration>,
    pub max_cost_usd: Option<f64>,
    pub max_minutes: Option<f64>,
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

impl Store {
    pub fn insert_session(&mut self, new: &NewSession) -> Result<Session, StoreError> {
        let command = serde_json::to_string(&new.command).expect("a list of strings serializes");
        let env = serde_json::to_string(&new.env).expect("a map of strings serializes");
        let created_at = format_time(new.created_at);
        self.write(|transaction| {
            let change_seq = bump(transaction, "change")?;
            let queue_seq = bump(transaction, "queue")?;
            transaction.execute(
                "INSERT INTO sessions (id, name, repo, status, created_at, last_activity_at, prompt, agent, \
                 command, format, env, base_ref, base_commit, run, max_running, queue_seq, change_seq, \
                 input, approval_timeout_ms, max_cost_usd, max_minutes) \
                 VALUES (?1, ?2, ?3, 'starting', ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13, ?14, \
                 ?15, ?16, ?17, ?18)",
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
                    new.limits.input.as_str(),
                    new.limits
                        .approval_timeout
                        .map(|timeout| i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)),
                    new.limits.max_cost_usd,
                    new.limits.max_minutes,
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
            .prepare_cached(&sql)
            .and_then(|mut statement| {
                statement
                    .query_row([id.as_str()], read_session_row)
                    .optional()
            })
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
        // Literal: `substr` compares characters, so `%` and `_` are never wildcards.
        let mut statement = self
            .connection
            .prepare_cached("SELECT id FROM sessions WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2")
            .map_err(|source| self.sqlite(source))?;
        let ids: Vec<String> = statement
            .query_map([prefix], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|source| self.sqlite(source))?;
        match ids.as_slice() {
            [] => Err(ResolveIdError::NotFound(prefix.to_owned())),
            [one] => Ok(SessionId(one.clone())),
            _ => {
                let count: i64 = self
                    .connection
                    .query_row(
                        "SELECT count(*) FROM sessions WHERE substr(id, 1, length(?1)) = ?1",
                        [prefix],
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
            // One index seek per repository (the next name after the last), not a scan of
            // every session ever run.
            .prepare_cached(
                "WITH RECURSIVE next(repo) AS (SELECT min(repo) FROM sessions \
                 UNION ALL SELECT (SELECT min(repo) FROM sessions WHERE repo > next.repo) \
                 FROM next WHERE next.repo IS NOT NULL) \
                 SELECT repo FROM next WHERE repo IS NOT NULL",
            )
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
        self.stamps_since(
            "SELECT id, change_seq FROM removed WHERE change_seq > ?1 ORDER BY change_seq",
            change_seq,
        )
    }

    /// `(session, change_seq)` rows of a change-feed query whose one parameter is the cursor.
    pub(super) fn stamps_since(
        &self,
        sql: &str,
        change_seq: i64,
    ) -> Result<Vec<(SessionId, i64)>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(sql)
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
    let input = text(30)?;
    let approval_timeout_ms = row.get::<_, Option<i64>>(31)?;
    let max_cost_usd = row.get::<_, Option<f64>>(32)?;
    let max_minutes = row.get::<_, Option<f64>>(33)?;
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
            input: input
                .parse()
                .map_err(|error: crate::model::UnknownName| error.to_string())?,
            approval_timeout: approval_timeout_ms
                .map(|ms| std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            max_cost_usd,
            max_minutes,
            id: SessionId(id.clone()),
        })
    };
    Ok(build())
}
