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
    let _ = writeln!(out, "{}  {}", session.id, session.name);
    let fields = what_and_where(session)
        .into_iter()
        .chain(progress(session, now));
    for (label, value) in fields {
        let _ = writeln!(out, "{:<13} {value}", format!("{label}:"));
    }
    let _ = writeln!(out, "prompt:\n  {}", session.prompt.replace('\n', "\n  "));
    if let Some(detail) = &session.failure_detail {
        let _ = writeln!(out, "failure detail:\n  {}", detail.replace('\n', "\n  "));
    }
    // Every field may hold stored text: nothing raw reaches the terminal.
    visible_lines(&out)
}

/// `lulu show`'s runs of a continued session, one line each (nothing for a single run, which
/// the fields above describe): number, status and outcome, when it ended, cost, prompt.
pub fn run_history(runs: &[lulu_core::store::RunRecord], now: DateTime<Utc>) -> String {
    if runs.len() < 2 {
        return String::new();
    }
    let mut out = String::from("runs:\n");
    for run in runs {
        let outcome = run
            .outcome
            .map(|outcome| format!(" ({})", outcome.as_str()))
            .unwrap_or_default();
        let when = match run.ended_at {
            Some(ended) => format!("ended {} ago", compact_age(ended, now)),
            None => format!("queued {} ago", compact_age(run.queued_at, now)),
        };
        let cost = run
            .cost_usd
            .map(|cost| format!(", ${cost:.4}"))
            .unwrap_or_default();
        let prompt = run.prompt.lines().next().unwrap_or("");
        let _ = writeln!(
            out,
            "  {}. {}{outcome}, {when}{cost}: {prompt}",
            run.run,
            run.status.as_str()
        );
    }
    visible_lines(&out)
}

/// `-` for a field without a value.
fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_owned())
}

/// `lulu show`'s fields of how the session stands and where it works.
fn what_and_where(session: &Session) -> Vec<(&'static str, String)> {
    let mut fields = vec![("status", session.status.as_str().to_owned())];
    if let Some(reason) = &session.failure_reason {
        fields.push(("reason", reason.clone()));
    }
    fields.push((
        "outcome",
        or_dash(session.outcome.map(|o| o.as_str().to_owned())),
    ));
    fields.push((
        "exit code",
        or_dash(session.exit_code.map(|c| c.to_string())),
    ));
    if let Some(signal) = session.signal {
        let name = lulu_core::process::signal_name(signal);
        fields.push(("signal", format!("{name} ({signal})")));
    }
    let worktree = session
        .worktree_path
        .as_ref()
        .map(|p| p.display().to_string());
    fields.extend([
        ("repository", session.repo.display().to_string()),
        ("worktree", or_dash(worktree)),
        ("branch", or_dash(session.branch.clone())),
        (
            "base",
            format!(
                "{} ({})",
                or_dash(session.base_commit.clone()),
                session.base_ref
            ),
        ),
        (
            "agent",
            format!("{} ({})", session.agent, session.format.as_str()),
        ),
        ("command", lulu_core::runner::shell_words(&session.command)),
        ("run", session.run.to_string()),
    ]);
    fields
}

/// `lulu show`'s fields of when things happened and what the session used.
fn progress(session: &Session, now: DateTime<Utc>) -> Vec<(&'static str, String)> {
    let time = |value: Option<DateTime<Utc>>| {
        or_dash(value.map(|time| {
            format!(
                "{} ({} ago)",
                lulu_core::store::format_time(time),
                compact_age(time, now)
            )
        }))
    };
    let tokens = format!(
        "{} in / {} out",
        or_dash(session.input_tokens.map(|t| t.to_string())),
        or_dash(session.output_tokens.map(|t| t.to_string()))
    );
    let mut fields = vec![
        ("created", time(Some(session.created_at))),
        ("started", time(session.started_at)),
        ("ended", time(session.ended_at)),
        ("last activity", time(Some(session.last_activity_at))),
        ("agent session", or_dash(session.agent_session_id.clone())),
        (
            "cost",
            or_dash(session.cost_usd.map(|cost| format!("${cost:.4}"))),
        ),
        ("tokens", tokens),
    ];
    let cost = session.max_cost_usd.map(|cost| format!("${cost}"));
    let minutes = session.max_minutes.map(|minutes| format!("{minutes} min"));
    let limits: Vec<String> = [cost, minutes].into_iter().flatten().collect();
    if !limits.is_empty() {
        fields.push(("limits", limits.join(", ")));
    }
    fields.push(("transcript", format!("{} events", session.last_seq)));
    fields
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
    fn a_session_shows_every_field_aligned() {
        let created = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("a time")
            .with_timezone(&Utc);
        let session = Session {
            id: lulu_core::model::SessionId("019a-s".to_owned()),
            name: "fix-login".to_owned(),
            repo: "/r".into(),
            status: lulu_core::model::Status::Failed,
            created_at: created,
            last_activity_at: created + Duration::seconds(90),
            failure_reason: Some("killed by SIGKILL".to_owned()),
            prompt: "fix it\nplease".to_owned(),
            agent: "claude".to_owned(),
            command: vec!["claude".to_owned(), "-p".to_owned(), "a b".to_owned()],
            format: lulu_core::model::OutputFormat::ClaudeStreamJson,
            env: Default::default(),
            worktree_path: None,
            branch: Some("lulu/fix-login".to_owned()),
            base_ref: "main".to_owned(),
            base_commit: Some("abc123".to_owned()),
            started_at: Some(created + Duration::seconds(1)),
            ended_at: None,
            outcome: Some(lulu_core::model::Outcome::Signaled),
            exit_code: None,
            signal: Some(9),
            failure_detail: Some("line one\nline two".to_owned()),
            agent_session_id: None,
            cost_usd: Some(0.5),
            input_tokens: Some(10),
            output_tokens: None,
            run: 2,
            max_running: 6,
            last_seq: 7,
            change_seq: 1,
            input: lulu_core::model::InputMode::Closed,
            approval_timeout: None,
            max_cost_usd: Some(2.0),
            max_minutes: Some(30.0),
        };
        let now = created + Duration::seconds(120);
        pretty_assertions::assert_eq!(
            session_detail(&session, now),
            "019a-s  fix-login
status:       failed
reason:       killed by SIGKILL
outcome:      signaled
exit code:    -
signal:       SIGKILL (9)
repository:   /r
worktree:     -
branch:       lulu/fix-login
base:         abc123 (main)
agent:        claude (claude-stream-json)
command:      claude -p 'a b'
run:          2
created:      2026-01-02T03:04:05.000Z (2m ago)
started:      2026-01-02T03:04:06.000Z (1m ago)
ended:        -
last activity: 2026-01-02T03:05:35.000Z (30s ago)
agent session: -
cost:         $0.5000
tokens:       10 in / - out
limits:       $2, 30 min
transcript:   7 events
prompt:
  fix it
  please
failure detail:
  line one
  line two
"
        );
    }

    #[test]
    fn a_continued_session_lists_its_runs() {
        use lulu_core::model::{Outcome, Status};
        use lulu_core::store::RunRecord;
        let now = Utc::now();
        let run = |number: i64, prompt: &str, status: Status, outcome: Option<Outcome>| RunRecord {
            run: number,
            prompt: prompt.to_owned(),
            queued_at: now - Duration::seconds(300),
            status,
            started_at: None,
            ended_at: outcome.map(|_| now - Duration::seconds(120)),
            outcome,
            failure_reason: None,
            cost_usd: outcome.map(|_| 0.25),
            input_tokens: None,
            output_tokens: None,
        };
        let first = run(
            1,
            "fix it\nplease",
            Status::Failed,
            Some(Outcome::Cancelled),
        );
        assert_eq!(run_history(std::slice::from_ref(&first), now), "");
        assert_eq!(
            run_history(
                &[first, run(2, "go on \u{1b}[31m", Status::Running, None)],
                now
            ),
            "runs:\n  1. failed (cancelled), ended 2m ago, $0.2500: fix it\n  2. running, queued 5m ago: go on \\x1b[31m\n"
        );
    }

    #[test]
    fn short_ids_are_unique_prefixes() {
        assert_eq!(
            short_ids(&["0199aaaa-1111", "0199aaaa-2222", "0200bbbb-0000"]),
            vec!["0199aaaa-1", "0199aaaa-2", "0200bbbb-0"]
        );
    }
}
