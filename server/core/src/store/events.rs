//! Transcript events: gapless `seq` per session, appended in batches.

use rusqlite::params;

use crate::{
    agent_output::render_data,
    model::{Event, NewEvent, OutputFormat, SessionId, Stream},
};

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
        // The session's format, looked up once and only if a row's text must be rendered.
        let mut format = None;
        rows.into_iter()
            .map(|(seq, at, stream, kind, text, data)| {
                let stream = stream
                    .parse::<Stream>()
                    .map_err(|error| self.corrupt(error.to_string()))?;
                let data: Option<serde_json::Value> =
                    data.and_then(|data| serde_json::from_str(&data).ok());
                let text = match &data {
                    Some(value) if text.is_empty() && stream == Stream::Stdout => {
                        let format = match format {
                            Some(format) => format,
                            None => *format.insert(self.session_format(id)?),
                        };
                        render_data(format, value).unwrap_or(text)
                    }
                    _ => text,
                };
                Ok(Event {
                    seq,
                    at: parse_time(&at).map_err(|message| self.corrupt(message))?,
                    stream,
                    kind,
                    text,
                    data,
                })
            })
            .collect()
    }

    fn session_format(&self, id: &SessionId) -> Result<OutputFormat, StoreError> {
        let format: String = self
            .connection
            .prepare_cached("SELECT format FROM sessions WHERE id = ?1")
            .and_then(|mut statement| statement.query_row([id.as_str()], |row| row.get(0)))
            .map_err(|source| self.sqlite(source))?;
        format
            .parse::<OutputFormat>()
            .map_err(|error| self.corrupt(error.to_string()))
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
    // Stored to the millisecond: lines of a flood share their timestamp's text.
    let mut last_millis = None;
    for event in events {
        last_seq += 1;
        let millis = event.at.timestamp_millis();
        if last_millis != Some(millis) {
            last_at = format_time(event.at);
            last_millis = Some(millis);
        }
        statement.execute(params![
            id.as_str(),
            last_seq,
            last_at,
            event.stream.as_str(),
            event.kind,
            stored_text(event),
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

/// The text a row keeps. An agent's stdout line with a JSON object (`data`) keeps none: its
/// text is the object's rendering in the session's format, a pure function of `data`, made
/// again when read (`Store::events`). Storing it too cost half the bytes of a Claude line
/// (issue 10). Rows written before keep their text and are read as they are; an empty text
/// read back is rendered, which gives the empty rendering it stood for.
fn stored_text(event: &NewEvent) -> &str {
    if event.stream == Stream::Stdout && event.data.is_some() {
        ""
    } else {
        &event.text
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::{
        agent_output::{AgentVerdict, parse_line, parse_line_to_store},
        store::tests::new_session,
    };

    /// Writes `lines` of a `format` session as rows written before issue 10 (text stored),
    /// as rows written now, and as the runner writes them (`parse_line_to_store`); all read
    /// back as `parse_line` made them, and the new rows keep no text where `data` holds the
    /// line's object.
    fn check(format: OutputFormat, lines: &[(Stream, &str)], expected_stored_texts: &[&str]) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(dir.path()).expect("open");
        let old = new_session(&mut store, 6);
        let new = new_session(&mut store, 6);
        let runner = new_session(&mut store, 6);
        store
            .connection
            .execute("UPDATE sessions SET format = ?1", [format.as_str()])
            .expect("set the format");
        let mut verdict = AgentVerdict::default();
        let at = Utc::now();
        let events: Vec<NewEvent> = lines
            .iter()
            .map(|(stream, line)| parse_line(format, *stream, line, at, &mut verdict))
            .collect();
        for (seq, event) in (1..).zip(&events) {
            store
                .connection
                .execute(
                    "INSERT INTO events (session_id, seq, at, stream, kind, text, data) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        old.as_str(),
                        seq,
                        format_time(event.at),
                        event.stream.as_str(),
                        event.kind,
                        event.text,
                        event.data
                    ],
                )
                .expect("an old row");
        }
        store.append_events(&new, &events).expect("append");
        // As the runner reads them: no text made for what the store renders on reading.
        let mut verdict = AgentVerdict::default();
        let runner_events: Vec<NewEvent> = lines
            .iter()
            .map(|(stream, line)| parse_line_to_store(format, *stream, line, at, &mut verdict))
            .collect();
        store
            .append_events(&runner, &runner_events)
            .expect("append");
        let read = |id: &SessionId| -> Vec<(Stream, String, String, Option<serde_json::Value>)> {
            store
                .events(id, 0, 100)
                .expect("read")
                .into_iter()
                .map(|event| (event.stream, event.kind, event.text, event.data))
                .collect()
        };
        let expected: Vec<_> = events
            .iter()
            .map(|event| {
                let data = event
                    .data
                    .as_deref()
                    .map(|data| serde_json::from_str::<serde_json::Value>(data).expect("json"));
                (event.stream, event.kind.clone(), event.text.clone(), data)
            })
            .collect();
        pretty_assertions::assert_eq!(read(&old), expected);
        pretty_assertions::assert_eq!(read(&new), expected);
        pretty_assertions::assert_eq!(read(&runner), expected);
        let stored: Vec<String> = store
            .connection
            .prepare("SELECT text FROM events WHERE session_id = ?1 ORDER BY seq")
            .expect("prepare")
            .query_map([new.as_str()], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        pretty_assertions::assert_eq!(stored, expected_stored_texts);
    }

    #[test]
    fn claude_lines_keep_their_object_and_read_back_rendered() {
        check(
            OutputFormat::ClaudeStreamJson,
            &[
                (
                    Stream::Stdout,
                    r#"{"type":"system","subtype":"init","session_id":"s1","model":"m"}"#,
                ),
                (
                    Stream::Stdout,
                    r#"{"type":"assistant","message":{"content":[{"type":"text","text":"héllo"},{"type":"tool_use","name":"Bash","input":{"command":"ls"}}]}}"#,
                ),
                // Renders as nothing: stored and read back as nothing.
                (
                    Stream::Stdout,
                    r#"{"type":"assistant","message":{"content":[]}}"#,
                ),
                (Stream::Stdout, r#"{"type":"weird","z":1,"a":[2]}"#),
                (Stream::Stdout, "not json"),
                (Stream::Stdout, "[1, 2]"),
                (Stream::Stderr, r#"{"type":"assistant"}"#),
                (
                    Stream::Stdout,
                    r#"{"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.5,"usage":{"input_tokens":1,"output_tokens":2},"result":"done"}"#,
                ),
            ],
            &[
                "",
                "",
                "",
                "",
                "not json",
                "[1, 2]",
                r#"{"type":"assistant"}"#,
                "",
            ],
        );
    }

    #[test]
    fn codex_lines_keep_their_object_and_read_back_rendered() {
        check(
            OutputFormat::CodexJson,
            &[
                (
                    Stream::Stdout,
                    r#"{"type":"thread.started","thread_id":"t1"}"#,
                ),
                (
                    Stream::Stdout,
                    r#"{"type":"item.completed","item":{"type":"command_execution","command":"ls","exit_code":0,"aggregated_output":"a\nb\n"}}"#,
                ),
                (Stream::Stdout, "plain"),
            ],
            &["", "", "plain"],
        );
    }

    #[test]
    fn text_lines_keep_their_text() {
        check(
            OutputFormat::Text,
            &[
                (Stream::Stdout, r#"{"type":"assistant"}"#),
                (Stream::Stderr, "e"),
            ],
            &[r#"{"type":"assistant"}"#, "e"],
        );
    }
}
