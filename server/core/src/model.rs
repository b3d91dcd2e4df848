//! The domain model: sessions, their statuses and outcomes, transcript events.
//!
//! These are plain Rust types. They know nothing of JSON-RPC; the wire shapes live in
//! `protocol.rs` and are converted at the boundary.

use std::{collections::BTreeMap, fmt, path::PathBuf, str::FromStr};

use chrono::{DateTime, Utc};

/// A session id: UUIDv7 text, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub String);

impl SessionId {
    pub fn new() -> SessionId {
        SessionId(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The random tail of the id (the last six hex digits). The head of a UUIDv7 is a
    /// timestamp, so two sessions spawned in the same millisecond share it; the tail
    /// keeps branch and folder names apart.
    pub fn short_tail(&self) -> &str {
        let len = self.0.len();
        &self.0[len.saturating_sub(6)..]
    }
}

impl Default for SessionId {
    fn default() -> Self {
        SessionId::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An enum whose variants are stored and sent as fixed names: `as_str`, `FromStr` and `ALL`
/// from one list, so a name cannot be written two ways.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(UnknownName(other.to_owned())),
                }
            }
        }
    };
}

named_enum! {
    /// The four statuses the wire shows (invariant 2).
    pub enum Status {
        Starting => "starting",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
    }
}

impl Status {
    pub fn is_ended(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

named_enum! {
    /// How a run ended: the richer truth behind the status.
    pub enum Outcome {
        Exited => "exited",
        Signaled => "signaled",
        Cancelled => "cancelled",
        SpawnFailed => "spawn_failed",
        WorktreeFailed => "worktree_failed",
        AgentError => "agent_error",
        Interrupted => "interrupted",
        /// lulu stopped the agent at its cost or time limit (or the agent stopped itself at it).
        OverBudget => "over_budget",
        /// The repository's setup command failed (issue 14); the worktree is kept.
        SetupFailed => "setup_failed",
    }
}

named_enum! {
    /// Which stream a transcript line came from.
    pub enum Stream {
        Stdout => "stdout",
        Stderr => "stderr",
        /// Lifecycle lines written by lulu itself.
        Lulu => "lulu",
    }
}

named_enum! {
    /// How an agent's stdout is parsed.
    pub enum OutputFormat {
        ClaudeStreamJson => "claude-stream-json",
        CodexJson => "codex-json",
        Text => "text",
    }
}

named_enum! {
    /// How the agent's stdin is used.
    pub enum InputMode {
        /// Closed from the start; the prompt is an argument (version 1's way).
        Closed => "closed",
        /// The runner hosts the agent (Claude Code's `--input-format stream-json`): the prompt
        /// and later messages are user messages on stdin, permission requests come back as
        /// `control_request` lines and are answered with `control_response` lines.
        StreamJson => "stream-json",
    }
}

// `named_enum!` generates the enum, so `#[derive(Default)]` with `#[default]` cannot be used.
#[allow(clippy::derivable_impls)]
impl Default for InputMode {
    fn default() -> Self {
        InputMode::Closed
    }
}

/// A stored name (status, outcome, stream, format) that this build does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

/// Everything lulu keeps about a session. `SessionRow` and `SessionDetail` on the wire
/// are projections of this.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub name: String,
    pub repo: PathBuf,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub failure_reason: Option<String>,
    pub prompt: String,
    pub agent: String,
    pub command: Vec<String>,
    pub format: OutputFormat,
    pub env: BTreeMap<String, String>,
    pub worktree_path: Option<PathBuf>,
    pub branch: Option<String>,
    /// The revision the user asked for (`main`, `HEAD~2`), kept to judge "unmerged" later.
    pub base_ref: String,
    pub base_commit: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub failure_detail: Option<String>,
    pub agent_session_id: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    /// 1 for the first run, +1 for every `continue`.
    pub run: i64,
    /// Sessions allowed to run at once, as in force when this run was queued.
    pub max_running: i64,
    /// The highest transcript `seq` written so far.
    pub last_seq: i64,
    /// The store's change counter at this row's last write (the change feed's cursor).
    pub change_seq: i64,
    /// How the runner talks to the agent (issue 12).
    pub input: InputMode,
    /// How long a permission request waits for an answer before it is denied; None: forever.
    pub approval_timeout: Option<std::time::Duration>,
    /// The cost limit in US dollars (from the agent's own reports).
    pub max_cost_usd: Option<f64>,
    /// The running-time limit in minutes.
    pub max_minutes: Option<f64>,
}

/// One transcript line.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub stream: Stream,
    pub kind: String,
    pub text: String,
    pub data: Option<serde_json::Value>,
}

/// A transcript line before the store gave it its `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub stream: Stream,
    pub kind: String,
    pub text: String,
    /// The line's JSON object as the agent wrote it (stored as is: parsed once, to render it).
    pub data: Option<String>,
}

impl NewEvent {
    pub fn lulu(kind: &str, text: impl Into<String>) -> NewEvent {
        NewEvent {
            at: Utc::now(),
            stream: Stream::Lulu,
            kind: kind.to_owned(),
            text: text.into(),
            data: None,
        }
    }
}

/// The longest a failure reason may be on the wire (docs/protocol.md).
pub const FAILURE_REASON_MAX_CHARS: usize = 120;

/// Makes any text a one-line failure reason of at most 120 characters.
pub fn one_line_reason(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("the session failed for an unknown reason");
    let collapsed: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= FAILURE_REASON_MAX_CHARS {
        return collapsed;
    }
    let mut cut: String = collapsed
        .chars()
        .take(FAILURE_REASON_MAX_CHARS - 1)
        .collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(one_line_reason(input), expected);
    }

    #[test]
    fn reasons_are_one_short_line() {
        check("exit code 1", "exit code 1");
        check("\n\n  first   line\nsecond", "first line");
        check("", "the session failed for an unknown reason");
        let long = "x".repeat(300);
        let reason = one_line_reason(&long);
        assert_eq!(reason.chars().count(), FAILURE_REASON_MAX_CHARS);
        assert!(reason.ends_with('…'));
    }
}
