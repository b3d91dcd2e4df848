//! Text renderings for the terminal: compact ages, the session list, transcripts, details.
//! Used by the CLI and `lulu demo`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use lulu_core::model::{Event, Session, Status, Stream};

/// A compact age: `5s`, `2m`, `1h`, `3d` (floors; never negative).
pub fn compact_age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - since).num_seconds().max(0);
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3_599 => format!("{}m", seconds / 60),
        3_600..=86_399 => format!("{}h", seconds / 3_600),
        _ => format!("{}d", seconds / 86_400),
    }
}

/// Each id cut to one common length (at least 8 characters), the shortest at which every id is
/// told apart from the others, like git's abbreviated hashes: the column stays aligned.
pub fn short_ids(ids: &[&str]) -> Vec<String> {
    const MIN: usize = 8;
    let unique_length = |id: &str| {
        let mut length = MIN.min(id.len());
        while length < id.len()
            && ids
                .iter()
                .any(|other| *other != id && other.starts_with(&id[..length]))
        {
            length += 1;
        }
        length
    };
    let length = ids.iter().map(|id| unique_length(id)).max().unwrap_or(MIN);
    ids.iter()
        .map(|id| id[..length.min(id.len())].to_owned())
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ListStyle {
    /// ANSI colours and the moving indicator.
    pub color: bool,
    /// Frame of the running indicator (advances each redraw).
    pub frame: usize,
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

fn marker(status: Status, style: ListStyle) -> String {
    let (symbol, colour) = match status {
        Status::Starting => ("○", "\x1b[2m"),
        Status::Running => (SPINNER[style.frame % SPINNER.len()], "\x1b[36m"),
        Status::Completed => ("✓", "\x1b[32m"),
        Status::Failed => ("✗", "\x1b[31m"),
    };
    let symbol = if status == Status::Running && !style.color {
        "●"
    } else {
        symbol
    };
    if style.color {
        format!("{colour}{symbol} {:<9}\x1b[0m", status.as_str())
    } else {
        format!("{symbol} {:<9}", status.as_str())
    }
}

/// The dashboard list: id, status, name (with the failure reason inline), age last.
pub fn session_table(sessions: &[Session], now: DateTime<Utc>, style: ListStyle) -> String {
    if sessions.is_empty() {
        return "no sessions\n".to_owned();
    }
    let ids: Vec<&str> = sessions.iter().map(|session| session.id.as_str()).collect();
    let short = short_ids(&ids);
    let id_width = short.iter().map(String::len).max().unwrap_or(8);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<id_width$}  {:<11}  {:<72}  {:>4}",
        "ID", "STATUS", "NAME", "AGE"
    );
    for (session, id) in sessions.iter().zip(short) {
        let mut name = visible(&session.name);
        if let Some(reason) = &session.failure_reason {
            name.push_str(" — ");
            name.push_str(&visible(reason));
        }
        let name = fit(&name, 72);
        let age = compact_age(session.last_activity_at, now);
        let _ = writeln!(
            out,
            "{id:<id_width$}  {}  {name}  {age:>4}",
            marker(session.status, style)
        );
    }
    out
}

/// Stored text made safe for a terminal: every control character (newlines included, so a
/// name cannot forge a row; escape sequences, so it cannot clear the screen) is shown as an
/// escape (`\n`, `\x1b`, `\u{9b}`).
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if control.is_control() => {
                let code = u32::from(control);
                if code < 0x80 {
                    let _ = write!(out, "\\x{code:02x}");
                } else {
                    let _ = write!(out, "\\u{{{code:x}}}");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Like [`visible`], but keeps line breaks (and tabs) as they are: for text shown over several
/// lines (transcripts, prompts, details).
pub fn visible_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| visible(line).replace("\\t", "\t"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Pads or cuts to exactly `width` characters.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return format!("{text}{}", " ".repeat(width - count));
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// One transcript event for a terminal: time, a stream marker, the text (continuation lines
/// indented).
pub fn transcript_event(event: &Event) -> String {
    let time = event.at.format("%H:%M:%S");
    let marker = match (event.stream, event.kind.as_str()) {
        (Stream::Lulu, _) => "lulu",
        (Stream::Stderr, _) => "err ",
        (_, "assistant") => "  » ",
        (_, "tool_use") => "tool",
        (_, "tool_result") => "    ",
        (_, "result") => "done",
        (_, "init") => "init",
        _ => "    ",
    };
    let text = visible_lines(&event.text);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let mut out = format!("{time} {marker} {first}\n");
    for line in lines {
        let _ = writeln!(out, "              {line}");
    }
    out
}

/// The detail view of a session.
pub fn session_detail(session: &Session, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let optional = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    let time = |value: Option<DateTime<Utc>>| {
        value
            .map(|time| {
                format!(
                    "{} ({} ago)",
                    lulu_core::store::format_time(time),
                    compact_age(time, now)
                )
            })
            .unwrap_or_else(|| "-".to_owned())
    };
    let _ = writeln!(out, "{}  {}", session.id, session.name);
    let _ = writeln!(out, "status:       {}", session.status.as_str());
    if let Some(reason) = &session.failure_reason {
        let _ = writeln!(out, "reason:       {reason}");
    }
    let _ = writeln!(
        out,
        "outcome:      {}",
        optional(session.outcome.map(|o| o.as_str().to_owned()))
    );
    let _ = writeln!(
        out,
        "exit code:    {}",
        optional(session.exit_code.map(|c| c.to_string()))
    );
    if let Some(signal) = session.signal {
        let _ = writeln!(
            out,
            "signal:       {} ({signal})",
            lulu_core::process::signal_name(signal)
        );
    }
    let _ = writeln!(out, "repository:   {}", session.repo.display());
    let _ = writeln!(
        out,
        "worktree:     {}",
        optional(
            session
                .worktree_path
                .as_ref()
                .map(|p| p.display().to_string())
        )
    );
    let _ = writeln!(out, "branch:       {}", optional(session.branch.clone()));
    let _ = writeln!(
        out,
        "base:         {} ({})",
        optional(session.base_commit.clone()),
        session.base_ref
    );
    let _ = writeln!(
        out,
        "agent:        {} ({})",
        session.agent,
        session.format.as_str()
    );
    let _ = writeln!(
        out,
        "command:      {}",
        lulu_core::runner::shell_words(&session.command)
    );
    let _ = writeln!(out, "run:          {}", session.run);
    let _ = writeln!(out, "created:      {}", time(Some(session.created_at)));
    let _ = writeln!(out, "started:      {}", time(session.started_at));
    let _ = writeln!(out, "ended:        {}", time(session.ended_at));
    let _ = writeln!(
        out,
        "last activity: {}",
        time(Some(session.last_activity_at))
    );
    let _ = writeln!(
        out,
        "agent session: {}",
        optional(session.agent_session_id.clone())
    );
    let _ = writeln!(
        out,
        "cost:         {}",
        optional(session.cost_usd.map(|cost| format!("${cost:.4}")))
    );
    let _ = writeln!(
        out,
        "tokens:       {} in / {} out",
        optional(session.input_tokens.map(|t| t.to_string())),
        optional(session.output_tokens.map(|t| t.to_string()))
    );
    if session.max_cost_usd.is_some() || session.max_minutes.is_some() {
        let cost = session.max_cost_usd.map(|cost| format!("${cost}"));
        let minutes = session.max_minutes.map(|minutes| format!("{minutes} min"));
        let limits: Vec<String> = [cost, minutes].into_iter().flatten().collect();
        let _ = writeln!(out, "limits:       {}", limits.join(", "));
    }
    let _ = writeln!(out, "transcript:   {} events", session.last_seq);
    let _ = writeln!(out, "prompt:\n  {}", session.prompt.replace('\n', "\n  "));
    if let Some(detail) = &session.failure_detail {
        let _ = writeln!(out, "failure detail:\n  {}", detail.replace('\n', "\n  "));
    }
    // Every field may hold stored text: nothing raw reaches the terminal.
    visible_lines(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn check(seconds: i64, expected: &str) {
        let now = Utc::now();
        assert_eq!(compact_age(now - Duration::seconds(seconds), now), expected);
    }

    #[test]
    fn ages_are_compact() {
        check(0, "0s");
        check(5, "5s");
        check(59, "59s");
        check(60, "1m");
        check(150, "2m");
        check(3_600, "1h");
        check(86_399, "23h");
        check(3 * 86_400 + 5, "3d");
        check(-10, "0s");
    }

    #[test]
    fn short_ids_are_unique_prefixes() {
        assert_eq!(
            short_ids(&["0199aaaa-1111", "0199aaaa-2222", "0200bbbb-0000"]),
            vec!["0199aaaa-1", "0199aaaa-2", "0200bbbb-0"]
        );
    }
}
