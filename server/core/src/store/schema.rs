//! The schema's history: an append-only list of migrations, applied in order at open.

/// The schema's history, oldest first: migration `i` takes a database from `user_version` `i` to
/// `i + 1`. Append only; never edit one that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    SESSIONS_EVENTS_COUNTERS,
    SESSION_BRANCHES,
    PROVISIONING,
    REVIEW_COMMENTS,
    APPROVALS_MESSAGES_LIMITS,
    RUN_HISTORY,
    WORKTREE_PATHS,
    EVENTS_RENDERED_ON_READ,
];

/// The `user_version` of a database this build fully understands.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

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

/// Version 2 (landing): the branch a session started from, and its landing, one row a session
/// (gone with the session).
const SESSION_BRANCHES: &str = "
CREATE TABLE session_branches (
    session_id TEXT PRIMARY KEY NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    base_branch TEXT,
    landed_into TEXT,
    landed_commit TEXT,
    landed_strategy TEXT,
    landed_at TEXT,
    landed_source_commit TEXT
);
";

/// Issue 14: what a repository asked of each session's worktree, port leases, reclaimed worktrees.
const PROVISIONING: &str = "
CREATE TABLE session_provision (
    session_id TEXT PRIMARY KEY NOT NULL,
    include TEXT NOT NULL,
    setup TEXT,
    ports INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE port_leases (
    port INTEGER PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL,
    run INTEGER NOT NULL,
    leased_at TEXT NOT NULL
);
CREATE INDEX port_leases_by_session ON port_leases (session_id);
CREATE TABLE collected_worktrees (
    session_id TEXT PRIMARY KEY NOT NULL,
    removed_at TEXT NOT NULL
);
";

/// Review comments (`lulu/comment`): drafts until `lulu/review` sends them (`sent_at`).
/// `comment_changes` stamps a session with the change counter whenever its comments change,
/// which is the feed's source of `lulu/commentsChanged`. A removed session takes its comments
/// with it (the trigger), so no writer of sessions has to know about comments.
const REVIEW_COMMENTS: &str = "
CREATE TABLE comments (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    path TEXT NOT NULL,
    line INTEGER NOT NULL,
    side TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX comments_by_session ON comments (session_id, number);
CREATE TABLE comment_changes (
    session_id TEXT PRIMARY KEY NOT NULL,
    change_seq INTEGER NOT NULL
);
CREATE INDEX comment_changes_by_change ON comment_changes (change_seq);
CREATE TRIGGER comments_go_with_their_session AFTER DELETE ON sessions BEGIN
    DELETE FROM comments WHERE session_id = OLD.id;
    DELETE FROM comment_changes WHERE session_id = OLD.id;
END;
";

/// Issue 12: the agent host channel (input mode, approval timeout), budgets, permission
/// requests waiting for a person, and messages for a running agent. A removed session takes
/// its approvals and messages with it (the trigger).
const APPROVALS_MESSAGES_LIMITS: &str = "
ALTER TABLE sessions ADD COLUMN input TEXT NOT NULL DEFAULT 'closed';
ALTER TABLE sessions ADD COLUMN approval_timeout_ms INTEGER;
ALTER TABLE sessions ADD COLUMN max_cost_usd REAL;
ALTER TABLE sessions ADD COLUMN max_minutes REAL;
CREATE TABLE approvals (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL,
    run INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    input TEXT NOT NULL,
    summary TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    resolved_at TEXT,
    allowed INTEGER,
    resolved_by TEXT,
    message TEXT,
    delivered INTEGER NOT NULL DEFAULT 0,
    change_seq INTEGER NOT NULL
);
CREATE INDEX approvals_pending ON approvals (session_id, requested_at) WHERE resolved_at IS NULL;
CREATE INDEX approvals_undelivered ON approvals (session_id, run) WHERE delivered = 0;
CREATE INDEX approvals_by_change ON approvals (change_seq);
CREATE TABLE messages (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    run INTEGER NOT NULL,
    text TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    delivered_at TEXT,
    PRIMARY KEY (session_id, seq)
);
INSERT INTO counters (name, value) VALUES ('approval', 0);
CREATE TRIGGER approvals_and_messages_go_with_their_session AFTER DELETE ON sessions BEGIN
    DELETE FROM approvals WHERE session_id = OLD.id;
    DELETE FROM messages WHERE session_id = OLD.id;
END;
";

/// Each run of a session as it stood when it last changed: its prompt, times, outcome and the
/// agent's report. Kept by triggers on `sessions`, so no writer of sessions knows about it:
/// a row is written when the run starts (insert, `continue`) and whenever its status, times,
/// outcome or report change, never for activity alone (the runner's frequent writes). A
/// removed session takes its runs with it. Sessions from before this migration get one row,
/// for their latest run (earlier runs were not kept).
const RUN_HISTORY: &str = "
CREATE TABLE runs (
    session_id TEXT NOT NULL,
    run INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    outcome TEXT,
    failure_reason TEXT,
    cost_usd REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    PRIMARY KEY (session_id, run)
);
INSERT INTO runs (session_id, run, prompt, queued_at, status, started_at, ended_at, outcome,
    failure_reason, cost_usd, input_tokens, output_tokens)
SELECT id, run, prompt, coalesce(started_at, created_at), status, started_at, ended_at, outcome,
    failure_reason, cost_usd, input_tokens, output_tokens FROM sessions;
CREATE TRIGGER runs_begin AFTER INSERT ON sessions BEGIN
    INSERT INTO runs (session_id, run, prompt, queued_at, status)
    VALUES (NEW.id, NEW.run, NEW.prompt, NEW.created_at, NEW.status);
END;
CREATE TRIGGER runs_follow AFTER UPDATE ON sessions
WHEN NEW.run IS NOT OLD.run OR NEW.status IS NOT OLD.status
    OR NEW.started_at IS NOT OLD.started_at OR NEW.ended_at IS NOT OLD.ended_at
    OR NEW.outcome IS NOT OLD.outcome OR NEW.failure_reason IS NOT OLD.failure_reason
    OR NEW.cost_usd IS NOT OLD.cost_usd OR NEW.input_tokens IS NOT OLD.input_tokens
    OR NEW.output_tokens IS NOT OLD.output_tokens OR NEW.prompt IS NOT OLD.prompt
BEGIN
    INSERT INTO runs (session_id, run, prompt, queued_at, status, started_at, ended_at, outcome,
        failure_reason, cost_usd, input_tokens, output_tokens)
    VALUES (NEW.id, NEW.run, NEW.prompt, NEW.last_activity_at, NEW.status, NEW.started_at,
        NEW.ended_at, NEW.outcome, NEW.failure_reason, NEW.cost_usd, NEW.input_tokens,
        NEW.output_tokens)
    ON CONFLICT (session_id, run) DO UPDATE SET
        prompt = excluded.prompt, status = excluded.status, started_at = excluded.started_at,
        ended_at = excluded.ended_at, outcome = excluded.outcome,
        failure_reason = excluded.failure_reason, cost_usd = excluded.cost_usd,
        input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens;
END;
CREATE TRIGGER runs_go_with_their_session AFTER DELETE ON sessions BEGIN
    DELETE FROM runs WHERE session_id = OLD.id;
END;
";

/// The worktree paths of a repository's sessions, read from the index alone: reconciliation
/// and `lulu gc` read every one, and a table row each cost a page read per session ever run.
const WORKTREE_PATHS: &str = "
CREATE INDEX sessions_worktrees ON sessions (repo, worktree_path) WHERE worktree_path IS NOT NULL;
";

/// Changes no table, only what the rows mean: from this version on, a stdout event that carries
/// a JSON object keeps no rendered text (`text` is '', rendered again from `data` when read).
/// A lulu before it would show those lines empty; with the version raised it refuses the
/// database instead ("newer than this lulu understands; upgrade lulu").
const EVENTS_RENDERED_ON_READ: &str = "
-- The events' meaning changed; their columns did not.
SELECT 1;
";
