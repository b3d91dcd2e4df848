//! Transcript events: gapless `seq` per session, appended in batches.

use rusqlite::params;

use crate::model::{Event, NewEvent, SessionId, Stream};

use super::*;

impl Store {
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
}

pub(super) fn append_events_in(
    transaction: &rusqlite::Transaction<'_>,
    id: &SessionId,
    events: &[NewEvent],
) -> rusqlite::Result<i64> {
    let mut last_seq: i64 = transaction
        .prepare_cached("SELECT last_seq FROM sessions WHERE id = ?1")?
        .query_row([id.as_str()], |row| row.get(0))?;
    let mut statement = transaction.prepare_cached(
        "INSERT INTO events (session_id, seq, at, stream, kind, text, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut last_at = String::new();
    for event in events {
        last_seq += 1;
        last_at = format_time(event.at);
        statement.execute(params![
            id.as_str(),
            last_seq,
            last_at,
            event.stream.as_str(),
            event.kind,
            event.text,
            event.data
        ])?;
    }
    let change_seq = bump(transaction, "change")?;
    transaction
        .prepare_cached(
            "UPDATE sessions SET last_seq = ?2, last_activity_at = max(last_activity_at, ?3), change_seq = ?4 WHERE id = ?1",
        )?
        .execute(params![id.as_str(), last_seq, last_at, change_seq])?;
    Ok(last_seq)
}
