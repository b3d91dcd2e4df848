//! Sessions end to end through the real `lulu` binary: real repositories from the fixture
//! script, scripted fake agents (tests/fixtures/agents) standing in for Claude Code and Codex
//! under their real names on PATH, detached runners, the real SQLite file.
//!
//! Waits are bounded by a generous patience (a hang guard), never timing assertions.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::{PATIENCE, fixture};

/// One test's world: a temp folder with a repository, a state dir, and a bin folder where
/// `claude` and `codex` are the fake agents.
pub(crate) struct World {
    _dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) repo: PathBuf,
    pub(crate) state_dir: PathBuf,
    pub(crate) bin: PathBuf,
    pub(crate) pid_file: PathBuf,
    pub(crate) extra_env: Vec<(String, String)>,
}

impl World {
    pub(crate) fn new() -> World {
        World::with_repo("basic")
    }

    pub(crate) fn with_repo(kind: &str) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let repo = root.join("repo");
        let status = Command::new(fixture("make-repo.sh"))
            .arg(&repo)
            .arg(kind)
            .status()
            .expect("run make-repo.sh");
        assert!(status.success(), "make-repo.sh failed");
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        for (name, target) in [("claude", "fake-claude"), ("codex", "fake-codex")] {
            std::os::unix::fs::symlink(fixture(&format!("agents/{target}")), bin.join(name))
                .expect("symlink fake agent");
        }
        let state_dir = root.join("state");
        std::fs::create_dir_all(&state_dir).expect("state dir");
        std::fs::write(
            state_dir.join("config.toml"),
            format!(
                "[agents.text]\ncommand = [{:?}, \"{{prompt}}\"]\nformat = \"text\"\n\n[agents.ghost]\ncommand = [\"lulu-no-such-agent\", \"{{prompt}}\"]\n",
                fixture("agents/fake-text").display().to_string()
            ),
        )
        .expect("config.toml");
        World {
            pid_file: root.join("agent-pids"),
            _dir: dir,
            root,
            repo,
            state_dir,
            bin,
            extra_env: Vec::new(),
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lulu"));
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        command
            .args(args)
            .current_dir(&self.repo)
            .env("LULU_HOME", &self.state_dir)
            .env("PATH", path)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("FAKE_AGENT_PIDFILE", &self.pid_file)
            .env("LULU_CANCEL_GRACE_MS", "1000")
            .env_remove("XDG_STATE_HOME");
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run lulu")
    }

    /// Runs lulu and expects success; returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "lulu {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    /// Runs lulu and expects failure; returns its one stderr line.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "lulu {args:?} should have failed");
        assert!(output.stdout.is_empty(), "nothing on stdout when failing");
        let stderr = String::from_utf8(output.stderr).expect("utf-8 stderr");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line of error, got: {stderr}");
        lines[0].to_owned()
    }

    pub(crate) fn spawn(&self, args: &[&str]) -> String {
        let mut full = vec!["spawn", "--json"];
        full.extend_from_slice(args);
        let row: Value = serde_json::from_str(&self.ok(&full)).expect("json row");
        assert_eq!(row["status"], "starting");
        row["id"].as_str().expect("id").to_owned()
    }

    pub(crate) fn detail(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["show", id, "--json"])).expect("json detail")
    }

    pub(crate) fn wait_ended(&self, id: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let detail = self.detail(id);
            if detail["status"] == "completed" || detail["status"] == "failed" {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "session {id} never ended: {detail}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let detail = self.detail(id);
            if detail["status"] == status {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "session {id} never became {status}: {detail}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub(crate) fn transcript(&self, id: &str) -> Vec<Value> {
        self.ok(&["logs", id, "--json"])
            .lines()
            .map(|line| serde_json::from_str(line).expect("json event"))
            .collect()
    }

    /// Process groups the fake agents reported.
    pub(crate) fn agent_groups(&self) -> Vec<i32> {
        std::fs::read_to_string(&self.pid_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
            .collect()
    }

    pub(crate) fn git(&self, dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("run git");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }
}

/// No process of any agent group reported by the fake agents is left.
pub(crate) fn assert_no_agent_processes(world: &World) {
    for group in world.agent_groups() {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let members = lulu_core::process::group_members(group);
            if members.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "process group {group} still has members {members:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The transcript is complete and gapless: seq 1..=n, and n is the session's last seq.
fn assert_gapless(world: &World, id: &str, events: &[Value]) {
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], index as u64 + 1, "gap or disorder at {index}");
    }
    let session = lulu_core::store::Store::open(&world.state_dir)
        .expect("open the state db")
        .session(&lulu_core::model::SessionId(id.to_owned()))
        .expect("read")
        .expect("the session exists");
    assert_eq!(session.last_seq, events.len() as i64);
}

/// What a case should end as.
struct Expected<'a> {
    status: &'a str,
    outcome: &'a str,
    exit_code: Option<i64>,
    signal: Option<i64>,
    reason: Option<&'a str>,
    /// Texts that must appear in the transcript, in this order.
    transcript: &'a [&'a str],
}

fn check(agent: &str, prompt: &str, expected: Expected<'_>) {
    let world = World::new();
    let id = world.spawn(&["--agent", agent, prompt]);
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], expected.status, "{detail}");
    assert_eq!(detail["outcome"], expected.outcome, "{detail}");
    assert_eq!(detail["exitCode"].as_i64(), expected.exit_code, "{detail}");
    assert_eq!(detail["signal"].as_i64(), expected.signal, "{detail}");
    assert_eq!(
        detail["failureReason"].as_str(),
        expected.reason,
        "{detail}"
    );
    if expected.status == "failed" {
        assert!(
            detail["failureDetail"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    let events = world.transcript(&id);
    assert_gapless(&world, &id, &events);
    let texts: Vec<&str> = events.iter().filter_map(|e| e["text"].as_str()).collect();
    let mut position = 0;
    for wanted in expected.transcript {
        let found = texts[position..]
            .iter()
            .position(|text| text.contains(wanted))
            .unwrap_or_else(|| panic!("{wanted:?} not in transcript (in order): {texts:#?}"));
        position += found + 1;
    }
    // The terminal lifecycle line is written exactly once.
    let terminal = texts
        .iter()
        .filter(|text| text.starts_with("completed") || text.starts_with("failed:"))
        .count();
    assert_eq!(terminal, 1, "{texts:#?}");
    assert_no_agent_processes(&world);
}

#[test]
fn claude_success() {
    check(
        "claude",
        "Add a flag",
        Expected {
            status: "completed",
            outcome: "exited",
            exit_code: Some(0),
            signal: None,
            reason: None,
            transcript: &[
                // Issue 12: the built-in profile hosts Claude; the prompt goes on stdin.
                "running claude -p --input-format stream-json",
                "Claude session",
                "I will work on: Add a flag",
                "→ Bash: ls",
                "← README.md",
                "All done.",
                "result: success, 2 turns, $0.0123, 1200 in / 345 out tokens",
                "completed",
            ],
        },
    );
}

#[test]
fn claude_is_error_with_exit_zero_fails() {
    check(
        "claude",
        "Try [is-error]",
        Expected {
            status: "failed",
            outcome: "agent_error",
            exit_code: Some(0),
            signal: None,
            reason: Some(
                "Claude reported an error: API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
            ),
            transcript: &[
                "result: success (error)",
                "failed: Claude reported an error",
            ],
        },
    );
}

#[test]
fn claude_max_turns_fails() {
    check(
        "claude",
        "Loop [fail]",
        Expected {
            status: "failed",
            outcome: "agent_error",
            exit_code: Some(1),
            signal: None,
            reason: Some("Claude stopped: it reached the maximum number of turns"),
            transcript: &["result: error_max_turns (error)"],
        },
    );
}

#[test]
fn stderr_only_exit_one() {
    check(
        "claude",
        "Offline [stderr-only]",
        Expected {
            status: "failed",
            outcome: "exited",
            exit_code: Some(1),
            signal: None,
            reason: Some("exit code 1: hint: check your network"),
            transcript: &[
                "fatal: could not reach the model service",
                "hint: check your network",
            ],
        },
    );
}

#[test]
fn codex_success_and_failure() {
    check(
        "codex",
        "Fix CI",
        Expected {
            status: "completed",
            outcome: "exited",
            exit_code: Some(0),
            signal: None,
            reason: None,
            transcript: &[
                "Codex thread",
                "(thinking) **Planning**",
                "→ $ bash -lc ls",
                "← $ bash -lc ls (exit 0)",
                "Done: Fix CI",
                "turn completed, 2400 in / 180 out tokens",
            ],
        },
    );
    check(
        "codex",
        "Fix CI [fail]",
        Expected {
            status: "failed",
            outcome: "agent_error",
            exit_code: Some(1),
            signal: None,
            reason: Some(
                "Codex turn failed: stream disconnected before completion: rate limit reached",
            ),
            transcript: &[
                "error: stream disconnected",
                "turn failed: stream disconnected",
            ],
        },
    );
}

#[test]
fn text_agent_exit_codes_and_signals() {
    check(
        "text",
        "Work [exit 7]",
        Expected {
            status: "failed",
            outcome: "exited",
            exit_code: Some(7),
            signal: None,
            reason: Some("the agent exited with code 7"),
            transcript: &["starting: Work [exit 7]", "done"],
        },
    );
    check(
        "text",
        "Crash [signal SEGV]",
        Expected {
            status: "failed",
            outcome: "signaled",
            exit_code: None,
            signal: Some(11),
            reason: Some("the agent was killed by SIGSEGV"),
            transcript: &["starting: Crash"],
        },
    );
    check(
        "text",
        "Die [signal KILL]",
        Expected {
            status: "failed",
            outcome: "signaled",
            exit_code: None,
            signal: Some(9),
            reason: Some("the agent was killed by SIGKILL"),
            transcript: &["starting: Die"],
        },
    );
}

#[test]
fn grandchild_holding_the_pipe_does_not_keep_the_session_running() {
    check(
        "text",
        "Background [grandchild]",
        Expected {
            status: "completed",
            outcome: "exited",
            exit_code: Some(0),
            signal: None,
            reason: None,
            transcript: &["starting: Background", "done", "completed"],
        },
    );
}

/// Runs a text agent to completion and returns the texts of its stdout events, after checking
/// the whole transcript is gapless and no process is left.
fn completed_stdout(prompt: &str) -> Vec<String> {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", prompt]);
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], "completed", "{detail}");
    let events = world.transcript(&id);
    assert_gapless(&world, &id, &events);
    assert_no_agent_processes(&world);
    events
        .iter()
        .filter(|event| event["stream"] == "stdout")
        .filter_map(|event| event["text"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn five_megabyte_line_without_newline_is_kept_whole() {
    let big = completed_stdout("Big [bigline 5000000]");
    assert_eq!(big.len(), 1);
    let text = &big[0];
    assert_eq!(text.len(), 5_000_000);
    assert!(text.bytes().all(|byte| byte == b'x'));
}

#[test]
fn two_hundred_thousand_lines_all_arrive_in_order() {
    let stdout = completed_stdout("Flood [lines 200000]");
    let lines: Vec<&String> = stdout
        .iter()
        .filter(|text| text.starts_with("line "))
        .collect();
    assert_eq!(lines.len(), 200_000);
    for (index, line) in lines.iter().enumerate() {
        assert_eq!(**line, format!("line {}", index + 1));
    }
}

#[test]
fn cancel_ends_a_running_session_and_its_whole_group() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "Wait [sleep 60] [grandchild]"]);
    world.wait_status(&id, "running");
    let output = world.ok(&["cancel", &id]);
    assert!(
        output.contains("failed (cancelled by the user)"),
        "{output}"
    );
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], "failed");
    assert_eq!(detail["outcome"], "cancelled");
    assert_eq!(detail["failureReason"], "cancelled by the user");
    assert_no_agent_processes(&world);
    // Cancelling an ended session changes nothing.
    let again = world.ok(&["cancel", &id]);
    assert!(again.contains("failed (cancelled by the user)"));
    assert_eq!(world.detail(&id)["endedAt"], detail["endedAt"]);
}

#[test]
fn cancel_kills_an_agent_that_ignores_sigterm() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "Stubborn [ignore-term] [sleep 60]"]);
    world.wait_status(&id, "running");
    world.ok(&["cancel", &id]);
    let detail = world.wait_ended(&id);
    assert_eq!(detail["outcome"], "cancelled", "{detail}");
    let texts: Vec<String> = world
        .transcript(&id)
        .iter()
        .filter_map(|e| e["text"].as_str().map(str::to_owned))
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("cancelling: sent SIGTERM"))
    );
    assert_no_agent_processes(&world);
}

/// The runner's pid, found in /proc by its command line (and its own process group).
pub(crate) fn runner_pid(id: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let words: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
        let is_runner = words.contains(&b"__run".as_slice()) && words.contains(&id.as_bytes());
        // The watchdog is a clone of the runner (same command line) in the agent's group; the
        // runner leads its own group.
        let leads_its_group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let group = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(2)?
                    .parse::<i32>()
                    .ok()?;
                Some(group == pid)
            })
            .unwrap_or(false);
        (is_runner && leads_its_group).then_some(pid)
    })
}

/// Whether two processes share one address space: kcmp(2) with KCMP_VM.
fn same_address_space(pid: i32, other: i32) -> bool {
    const KCMP_VM: libc::c_long = 1;
    // SAFETY: kcmp only compares kernel objects of two processes this test may trace.
    let answer = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            libc::c_long::from(pid),
            libc::c_long::from(other),
            KCMP_VM,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    };
    assert!(
        answer >= 0,
        "kcmp failed: {}",
        std::io::Error::last_os_error()
    );
    answer == 0
}

#[test]
fn killed_runner_takes_its_agent_down_and_is_reconciled_as_interrupted() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "Long [sleep 120] [grandchild]"]);
    world.wait_status(&id, "running");
    // The session outlived `lulu spawn`, which has long exited.
    let pid = runner_pid(&id).expect("the runner is alive");
    // The agent reports its group once its script is under way.
    let deadline = Instant::now() + PATIENCE;
    let groups = loop {
        let groups = world.agent_groups();
        if !groups.is_empty() || Instant::now() > deadline {
            break groups;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(groups.len(), 1);
    assert!(!lulu_core::process::group_members(groups[0]).is_empty());
    // Issue 10: the watchdog shares the runner's address space (it costs the session no
    // memory of its own), while living in the agent's group.
    let watchdog =
        crate::hostile::watchdog_of(groups[0]).expect("the agent's group has a watchdog");
    assert_eq!(
        (
            same_address_space(pid, watchdog),
            same_address_space(pid, groups[0])
        ),
        (true, false),
        "the watchdog, and not the agent, shares the runner's memory"
    );
    // SAFETY: the pid was just read from /proc and belongs to our own runner.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let killed_at = Instant::now();
    assert_no_agent_processes(&world);
    eprintln!(
        "agent group gone {:?} after the runner was killed",
        killed_at.elapsed()
    );
    // The next reconciliation (here: `lulu show`) marks it interrupted.
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], "failed");
    assert_eq!(detail["outcome"], "interrupted");
    assert_eq!(
        detail["failureReason"],
        "interrupted: the session's runner died without finishing"
    );
}

/// The session's row as the database holds it, read without any reconciliation (which every
/// CLI listing would do).
fn stored_session(world: &World, id: &str) -> lulu_core::model::Session {
    let store = lulu_core::store::Store::open(&world.state_dir).expect("open the store");
    store
        .session(&lulu_core::model::SessionId(id.to_owned()))
        .expect("read the session")
        .expect("the session exists")
}

#[test]
fn a_queued_session_settles_a_slot_holder_whose_runner_died() {
    // Issue 9, item 2: with one slot, the holder's runner killed, the queue stalled until some
    // client reconciled.
    let world = World::new();
    let holder = world.spawn(&["--max-running", "1", "--agent", "text", "Hold [sleep 120]"]);
    world.wait_status(&holder, "running");
    let queued = world.spawn(&["--max-running", "1", "--agent", "text", "Next [sleep 0.1]"]);
    let pid = runner_pid(&holder).expect("the holder's runner is alive");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the holder's runner");
    // No client lists anything from now on: the queued runner itself must notice.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let session = stored_session(&world, &queued);
        if session.status.is_ended() {
            assert_eq!(session.status.as_str(), "completed", "{session:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queued session is still {} 10 s after the slot holder's runner died",
            session.status.as_str()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let holder = stored_session(&world, &holder);
    assert_eq!(holder.status.as_str(), "failed");
    assert_eq!(
        holder.failure_reason.as_deref(),
        Some("interrupted: the session's runner died without finishing")
    );
    assert_no_agent_processes(&world);
}

#[test]
fn ten_sessions_with_max_running_three() {
    let mut world = World::new();
    let intervals = world.root.join("intervals");
    world.extra_env.push((
        "FAKE_AGENT_INTERVALS".to_owned(),
        intervals.display().to_string(),
    ));
    let ids: Vec<String> = (0..10)
        .map(|n| {
            world.spawn(&[
                "--max-running",
                "3",
                "--agent",
                "text",
                &format!("Task {n} [sleep 0.4]"),
            ])
        })
        .collect();
    for id in &ids {
        let detail = world.wait_ended(id);
        assert_eq!(detail["status"], "completed", "{detail}");
        let texts: Vec<String> = world
            .transcript(id)
            .iter()
            .filter_map(|e| e["text"].as_str().map(str::to_owned))
            .collect();
        let terminal = texts.iter().filter(|t| t.as_str() == "completed").count();
        assert_eq!(terminal, 1, "exactly one end for {id}");
    }
    // Each agent wrote "start <time>" and "end <time>"; at no instant were more than 3 alive.
    let text = std::fs::read_to_string(&intervals).expect("intervals written");
    let mut points: Vec<(f64, i32)> = text
        .lines()
        .map(|line| {
            let (kind, time) = line.split_once(' ').expect("kind time");
            let time: f64 = time.parse().expect("time");
            (time, if kind == "start" { 1 } else { -1 })
        })
        .collect();
    assert_eq!(points.len(), 20);
    points.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let mut alive = 0;
    let mut most = 0;
    for (_, delta) in points {
        alive += delta;
        most = most.max(alive);
    }
    assert!(most <= 3, "{most} agents were alive at once");
    assert!(most >= 2, "the sessions did run side by side ({most})");
}

#[test]
fn worktree_is_sound_and_the_main_checkout_untouched() {
    let world = World::new();
    let before = world.git(&world.repo, &["status", "--porcelain"]);
    let id = world.spawn(&[
        "--agent",
        "claude",
        "--name",
        "Add notes",
        "Write notes [edit]",
    ]);
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], "completed", "{detail}");
    let worktree = PathBuf::from(detail["worktreePath"].as_str().expect("worktree"));
    let branch = detail["branch"].as_str().expect("branch");
    assert!(branch.starts_with("lulu/add-notes-"), "{branch}");
    assert!(worktree.starts_with(world.repo.join(".lulu/worktrees")));
    let list = world.git(&world.repo, &["worktree", "list", "--porcelain"]);
    assert!(
        list.contains(&format!("worktree {}", worktree.display())),
        "{list}"
    );
    assert!(
        list.contains(&format!("branch refs/heads/{branch}")),
        "{list}"
    );
    assert_eq!(world.git(&worktree, &["status", "--porcelain"]), "");
    world.git(&world.repo, &["fsck", "--strict"]);
    assert_eq!(world.git(&world.repo, &["status", "--porcelain"]), before);
    // The agent's commit is on the session's branch, on top of the base.
    let log = world.git(&world.repo, &["log", "--format=%s", branch]);
    assert_eq!(log.lines().next(), Some("claude: add notes"));
    let base = world.git(&world.repo, &["rev-parse", "HEAD"]);
    assert_eq!(detail["baseCommit"], base.trim());
    assert_eq!(detail["agentSessionId"].as_str().map(str::len), Some(36));
    assert_eq!(detail["costUsd"], 0.0123);
    assert_eq!(detail["inputTokens"], 1200);
    assert_eq!(detail["outputTokens"], 345);
    // The diff against the base commit.
    let diff: Value = serde_json::from_str(&world.ok(&["diff", &id, "--json"])).expect("json");
    assert_eq!(
        diff,
        serde_json::json!({
            "baseCommit": base.trim(),
            "files": [{"path": "notes/claude.md", "status": "added", "additions": 3, "deletions": 0}]
        })
    );
}

#[test]
fn continue_resumes_the_conversation_in_the_same_worktree() {
    let world = World::new();
    let id = world.spawn(&["--agent", "claude", "First step"]);
    let first = world.wait_ended(&id);
    assert_eq!(first["status"], "completed");
    let agent_session = first["agentSessionId"]
        .as_str()
        .expect("agent session")
        .to_owned();
    let refused = world.fails(&["continue", &id, "  "]);
    assert_eq!(
        refused,
        "lulu: the prompt is empty; say what the agent should do next"
    );
    world.ok(&["continue", &id, "Now add tests"]);
    let second = world.wait_ended(&id);
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(second["worktreePath"], first["worktreePath"]);
    assert_eq!(second["prompt"], "Now add tests");
    let command: Vec<&str> = second["command"]
        .as_array()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Issue 12: the hosted built-in claude takes the prompt on stdin, never in its arguments.
    assert_eq!(
        &command[command.len() - 2..],
        ["--resume", agent_session.as_str()]
    );
    let texts: Vec<String> = world
        .transcript(&id)
        .iter()
        .filter_map(|e| e["text"].as_str().map(str::to_owned))
        .collect();
    assert!(texts.contains(&format!("Resuming conversation {agent_session}.")));
    assert_eq!(
        texts.iter().filter(|t| t.as_str() == "completed").count(),
        2
    );
    // Continuing a running session is refused.
    let id2 = world.spawn(&["--agent", "text", "Slow [sleep 30]"]);
    world.wait_status(&id2, "running");
    let refused = world.fails(&["continue", &id2, "more"]);
    assert!(refused.contains("is still running"), "{refused}");
    world.ok(&["cancel", &id2]);
}

#[test]
fn remove_refuses_to_lose_work_unless_forced() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "Edit [edit] [dirty]"]);
    let detail = world.wait_ended(&id);
    let worktree = PathBuf::from(detail["worktreePath"].as_str().expect("worktree"));
    let branch = detail["branch"].as_str().expect("branch").to_owned();
    let refused = world.fails(&["rm", &id]);
    assert_eq!(
        refused,
        format!(
            "lulu: the worktree {} has 1 uncommitted or untracked files (untracked.txt); commit them or remove with force",
            worktree.display()
        )
    );
    assert!(worktree.join("untracked.txt").exists(), "nothing lost");
    std::fs::remove_file(worktree.join("untracked.txt")).expect("clean up");
    let refused = world.fails(&["rm", &id, "--delete-branch"]);
    assert_eq!(
        refused,
        format!(
            "lulu: the branch {branch:?} has 1 commits that are not in \"HEAD\"; merge them or delete with force"
        )
    );
    assert!(worktree.exists(), "nothing removed by a refusal");
    world.ok(&["rm", &id]);
    assert!(!worktree.exists());
    let list = world.git(&world.repo, &["worktree", "list", "--porcelain"]);
    assert!(!list.contains(&worktree.display().to_string()));
    let branches = world.git(&world.repo, &["branch", "--list", &branch]);
    assert!(branches.contains(&branch), "the branch is kept");
    assert_eq!(
        world.fails(&["show", &id]),
        format!("lulu: no session with id {id:?}")
    );

    let id = world.spawn(&["--agent", "text", "Edit [edit] [dirty]"]);
    let detail = world.wait_ended(&id);
    let branch = detail["branch"].as_str().expect("branch").to_owned();
    world.ok(&["rm", &id, "--force", "--delete-branch"]);
    let branches = world.git(&world.repo, &["branch", "--list", &branch]);
    assert_eq!(branches, "");

    let id = world.spawn(&["--agent", "text", "Slow [sleep 60]"]);
    world.wait_status(&id, "running");
    let refused = world.fails(&["rm", &id]);
    assert!(refused.contains("is still running"), "{refused}");
    world.ok(&["rm", &id, "--force"]);
    assert_no_agent_processes(&world);
}

#[test]
fn bad_inputs_get_one_clear_line() {
    let world = World::new();
    let elsewhere = world.root.join("not-a-repo");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let bare = world.root.join("bare.git");
    let status = Command::new(fixture("make-repo.sh"))
        .arg(&bare)
        .arg("bare")
        .status();
    assert!(status.expect("make-repo").success());
    let empty = world.root.join("empty");
    let status = Command::new(fixture("make-repo.sh"))
        .arg(&empty)
        .arg("empty")
        .status();
    assert!(status.expect("make-repo").success());
    let cases: BTreeMap<&str, (Vec<String>, String)> = [
        (
            "not a repository",
            (
                vec!["--repo".into(), elsewhere.display().to_string(), "x".into()],
                format!(
                    "lulu: {} is not inside a git repository",
                    elsewhere.display()
                ),
            ),
        ),
        (
            "bare",
            (
                vec!["--repo".into(), bare.display().to_string(), "x".into()],
                format!(
                    "lulu: the git repository at {} is bare (it has no working tree)",
                    bare.display()
                ),
            ),
        ),
        (
            "no commits",
            (
                vec!["--repo".into(), empty.display().to_string(), "x".into()],
                format!(
                    "lulu: the git repository at {} has no commit yet (HEAD is unborn)",
                    empty.display()
                ),
            ),
        ),
        (
            "unknown agent",
            (
                vec!["--agent".into(), "nope".into(), "x".into()],
                "lulu: unknown agent \"nope\" (known agents: claude, codex, ghost, text)".into(),
            ),
        ),
        (
            "agent not on PATH",
            (
                vec!["--agent".into(), "ghost".into(), "x".into()],
                "lulu: the agent \"ghost\" needs `lulu-no-such-agent`, which is not on PATH".into(),
            ),
        ),
        (
            "bad base",
            (
                vec!["--base".into(), "no-such-branch".into(), "x".into()],
                format!(
                    "lulu: \"no-such-branch\" does not name a commit in the repository at {}",
                    world.repo.display()
                ),
            ),
        ),
        (
            "empty prompt",
            (
                vec!["   ".into()],
                "lulu: the prompt is empty; say what the agent should do".into(),
            ),
        ),
    ]
    .into_iter()
    .collect();
    for (case, (args, expected)) in cases {
        let mut full = vec!["spawn"];
        full.extend(args.iter().map(String::as_str));
        assert_eq!(world.fails(&full), expected, "case: {case}");
    }
    assert_eq!(
        world.fails(&["show", "zzz"]),
        "lulu: no session with id \"zzz\""
    );
    assert_eq!(
        world.fails(&["logs", "zzz"]),
        "lulu: no session with id \"zzz\""
    );
    // Nothing was written by the refusals.
    assert_eq!(world.ok(&["ls", "--json"]).trim(), "[]");
}

#[test]
fn ids_may_be_abbreviated_and_ls_shows_the_list() {
    let world = World::new();
    let first = world.spawn(&["--agent", "text", "--name", "First", "one [fail]"]);
    world.wait_ended(&first);
    let second = world.spawn(&["--agent", "text", "--name", "Second", "two"]);
    world.wait_ended(&second);
    let rows: Value = serde_json::from_str(&world.ok(&["ls", "--json"])).expect("json");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], second.as_str(), "newest first");
    assert_eq!(
        rows[1]["failureReason"],
        "exit code 1: error: the task could not be done"
    );
    let keys: Vec<&String> = rows[0].as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "createdAt",
            "id",
            "lastActivityAt",
            "name",
            "repo",
            "status"
        ]
    );
    let table = world.ok(&["ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID"), "{table}");
    assert!(
        lines[1].contains("completed") && lines[1].contains("Second"),
        "{table}"
    );
    assert!(
        lines[2].contains("failed")
            && lines[2].contains("First — exit code 1: error: the task could not be done"),
        "{table}"
    );
    // A unique prefix is enough; the shared UUIDv7 time prefix is not.
    let unique = &second[..second.len() - 4];
    assert_eq!(world.detail(unique)["id"], second.as_str());
    let ambiguous = &second[..4];
    let error = world.fails(&["show", ambiguous]);
    assert_eq!(
        error,
        format!("lulu: the id prefix {ambiguous:?} matches 2 sessions; give more characters")
    );
}

#[test]
fn gc_reports_orphan_folders_and_keeps_them() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "quick"]);
    world.wait_ended(&id);
    let orphan = world.repo.join(".lulu/worktrees/left-behind");
    std::fs::create_dir_all(&orphan).expect("orphan");
    std::fs::write(orphan.join("work.txt"), "precious").expect("write");
    let output = world.ok(&["gc"]);
    assert!(
        output.contains(&format!(
            "orphan       {}  (folder no session owns; kept)",
            orphan.display()
        )),
        "{output}"
    );
    assert!(orphan.join("work.txt").exists());
}

/// A registered worktree no session owns is removed by `lulu gc` only when it holds nothing
/// that is in no commit: an ignored file the main checkout lacks keeps it.
#[test]
fn gc_keeps_an_orphan_worktree_holding_ignored_files_in_no_commit() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "quick"]);
    world.wait_ended(&id);
    let clean = world.repo.join(".lulu/worktrees/clean-orphan");
    let built = world.repo.join(".lulu/worktrees/built-orphan");
    for (path, branch) in [(&clean, "clean-orphan"), (&built, "built-orphan")] {
        let path = path.display().to_string();
        world.git(&world.repo, &["worktree", "add", "-q", "-b", branch, &path]);
    }
    std::fs::create_dir_all(built.join("target")).expect("target/");
    std::fs::write(built.join("target/app"), "binary").expect("build output");
    let output = world.ok(&["gc"]);
    assert!(!clean.exists(), "a clean orphan worktree goes: {output}");
    assert!(built.join("target/app").exists(), "{output}");
}

#[test]
fn sessions_survive_the_lulu_binary_being_replaced() {
    // An upgrade replaces the binary under running and queued sessions.
    let world = World::new();
    let copy = world.root.join("lulu-old");
    std::fs::copy(env!("CARGO_BIN_EXE_lulu"), &copy).expect("copy the binary");
    // The same environment as `World::command`, but the copy as the program.
    let run_copy = |args: &[&str]| {
        let command = world.command(args);
        let mut replaced = Command::new(&copy);
        replaced.args(args).current_dir(&world.repo);
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => replaced.env(key, value),
                None => replaced.env_remove(key),
            };
        }
        // Another test thread may fork while the copy's write descriptor is open; its child
        // holds that descriptor until it execs, and exec of the copy fails with ETXTBSY meanwhile.
        let started = Instant::now();
        let output = loop {
            match replaced.output() {
                Err(error)
                    if error.kind() == std::io::ErrorKind::ExecutableFileBusy
                        && started.elapsed() < PATIENCE =>
                {
                    std::thread::sleep(Duration::from_millis(20))
                }
                result => break result.expect("run the copy"),
            }
        };
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let row: Value = serde_json::from_slice(&output.stdout).expect("json");
        row["id"].as_str().expect("id").to_owned()
    };
    let first = run_copy(&[
        "spawn",
        "--json",
        "--max-running",
        "1",
        "--agent",
        "text",
        "First [sleep 1]",
    ]);
    let second = run_copy(&[
        "spawn",
        "--json",
        "--max-running",
        "1",
        "--agent",
        "text",
        "Second",
    ]);
    world.wait_status(&first, "running");
    std::fs::remove_file(&copy).expect("remove the old binary");
    std::fs::write(&copy, "not a program any more").expect("replace it");
    for id in [&first, &second] {
        let detail = world.wait_ended(id);
        assert_eq!(detail["status"], "completed", "{detail}");
    }
    assert_no_agent_processes(&world);
}

#[test]
fn logs_follow_streams_until_the_session_ends() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "Stream [lines 3] [sleep 1]"]);
    // Started while the session is young; returns by itself once it has ended.
    let followed = world.ok(&["logs", &id, "--follow"]);
    let lines: Vec<&str> = followed.lines().map(|line| &line[9..]).collect();
    let expected_tail = [
        "     starting: Stream [lines 3] [sleep 1]",
        "     line 1",
        "     line 2",
        "     line 3",
        "     done",
        "lulu completed",
    ];
    assert_eq!(
        &lines[lines.len() - expected_tail.len()..],
        expected_tail,
        "{followed}"
    );
    assert!(lines[0].starts_with("lulu creating worktree"), "{followed}");
}

#[test]
fn sessions_spawned_at_the_same_moment_all_get_their_worktree() {
    // Several processes adding worktrees to one repository at once (gix reads every
    // registration while it adds one; a half-written one used to fail the add).
    let world = World::new();
    for round in 0..5 {
        let children: Vec<std::process::Child> = (0..6)
            .map(|n| {
                world
                    .command(&[
                        "spawn",
                        "--json",
                        "--agent",
                        "text",
                        &format!("Round {round} task {n}"),
                    ])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("start lulu spawn")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("lulu spawn");
            assert!(
                output.status.success(),
                "lulu spawn failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            let row: Value = serde_json::from_slice(&output.stdout).expect("json row");
            let id = row["id"].as_str().expect("id");
            let detail = world.wait_ended(id);
            assert_eq!(detail["status"], "completed", "{detail}");
        }
    }
    let list = world.git(&world.repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1 + 30, "{list}");
    world.git(&world.repo, &["fsck", "--strict"]);
}

#[test]
fn the_agent_runs_in_its_worktree_with_its_id_and_no_stdin() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "Where am I [env] [stdin]"]);
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], "completed", "{detail}");
    let stdout: Vec<String> = world
        .transcript(&id)
        .iter()
        .filter(|event| event["stream"] == "stdout")
        .filter_map(|event| event["text"].as_str().map(str::to_owned))
        .collect();
    let worktree = detail["worktreePath"].as_str().expect("worktree");
    assert_eq!(
        stdout,
        [
            "starting: Where am I [env] [stdin]".to_owned(),
            format!("session: {id}"),
            format!("cwd: {worktree}"),
            "stdin: eof".to_owned(),
            "done".to_owned(),
        ]
    );
    // The database is the user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(world.state_dir.join("lulu.db"))
        .expect("the database exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// Runs `script` (bash) in a mount namespace of its own (`unshare -rm`, which needs no privileges
/// where user namespaces are on) in which `tiny` is a 1 MiB tmpfs, with the world's environment
/// plus `TINY`, `OUT` (a folder that outlives the namespace), `STATE` and `LULU`. Processes the
/// script leaves behind (runners) keep the namespace, and the small disk, alive.
fn in_a_small_disk(world: &World, tiny: &Path, out: &Path, script: &str) {
    std::fs::create_dir_all(tiny).expect("mount point");
    std::fs::create_dir_all(out).expect("out dir");
    let script = format!("set -eu\nmount -t tmpfs -o size=1m tmpfs \"$TINY\"\n{script}");
    let template = world.command(&[]);
    let mut command = Command::new("unshare");
    command
        .args(["-rm", "bash", "-c", &script])
        .current_dir(&world.repo)
        .env("TINY", tiny)
        .env("OUT", out)
        .env("STATE", &world.state_dir)
        .env("LULU", env!("CARGO_BIN_EXE_lulu"));
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command.output().expect("run unshare");
    assert!(
        output.status.success(),
        "the script on a small disk failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The worktree folder's disk is full: the session fails at once with the system's words as its
/// reason, and leaves no branch, no registration and no folder behind.
#[test]
fn a_full_worktree_disk_fails_the_session_and_leaves_nothing_behind() {
    let world = World::with_repo("files:3000");
    let tiny = world.root.join("tiny");
    let out = world.root.join("out");
    in_a_small_disk(
        &world,
        &tiny,
        &out,
        r#""$LULU" spawn --worktree-dir "$TINY/worktrees" "too big for the disk" | cut -d' ' -f1 > "$OUT/id""#,
    );
    let id = std::fs::read_to_string(out.join("id")).expect("id");
    let detail = world.wait_ended(id.trim());
    assert_eq!(detail["status"], "failed", "{detail}");
    assert_eq!(detail["outcome"], "worktree_failed", "{detail}");
    assert_eq!(
        detail["failureReason"],
        "could not create the worktree: No space left on device (os error 28)",
        "{detail}"
    );
    let failure_detail = detail["failureDetail"].as_str().expect("detail");
    assert!(
        failure_detail.contains(&tiny.join("worktrees").display().to_string()),
        "the detail names the folder: {failure_detail}"
    );
    assert_eq!(detail["worktreePath"], Value::Null, "{detail}");
    assert_eq!(world.git(&world.repo, &["branch", "--list", "lulu/*"]), "");
    assert_eq!(
        world
            .git(&world.repo, &["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1,
        "only the main worktree"
    );
    assert_eq!(world.git(&world.repo, &["status", "--porcelain"]), "");
}

/// The state dir's disk fills up while an agent prints: the runner stops on the database error,
/// the agent's group goes with it, and once there is room again the session reads `failed` /
/// `interrupted` with the runner's own words ("database or disk is full") as its reason. The
/// transcript up to then is kept, gapless, and the worktree is untouched.
///
/// The state dir is a 1 MiB tmpfs in a mount namespace of the test's own (`unshare -rm`, which
/// needs no privileges where user namespaces are on), so everything that reads the database runs
/// inside it, in the script below; the rest is checked from here.
#[test]
fn a_full_disk_ends_the_session_with_its_reason_and_loses_nothing_else() {
    let world = World::new();
    let tiny = world.root.join("tiny");
    let out = world.root.join("out");
    let script = r#"
export LULU_HOME="$TINY/state"
mkdir -p "$LULU_HOME"
cp "$STATE/config.toml" "$LULU_HOME/"
# Room given back once the runner has stopped, so that the session can be settled and read.
head -c 307200 /dev/zero > "$TINY/room"
id=$("$LULU" spawn --agent text "fill the disk [lines 200000]" | cut -d' ' -f1)
echo "$id" > "$OUT/id"
# The runner holds its lock while it lives.
timeout 120 sh -c 'until flock -n "$1" true; do sleep 0.05; done' - "$LULU_HOME/runs/$id.lock"
rm "$TINY/room"
"$LULU" show --json "$id" > "$OUT/detail.json"
"$LULU" logs --json "$id" > "$OUT/events.jsonl"
"$LULU" ls > "$OUT/ls.txt"
"#;
    in_a_small_disk(&world, &tiny, &out, script);
    let read = |name: &str| std::fs::read_to_string(out.join(name)).expect("script output");

    let detail: Value = serde_json::from_str(&read("detail.json")).expect("json detail");
    assert_eq!(detail["status"], "failed", "{detail}");
    assert_eq!(detail["outcome"], "interrupted", "{detail}");
    assert_eq!(
        detail["failureReason"],
        "interrupted: the session's runner stopped on an error: database or disk is full",
        "{detail}"
    );
    let database = tiny.join("state/lulu.db");
    assert_eq!(
        detail["failureDetail"].as_str(),
        Some(format!(
            "interrupted: the runner process supervising this session stopped on an error and could not write a final state; the agent's process group was killed with it. The runner's error: the session database {} failed: database or disk is full",
            database.display()
        ).as_str()),
    );
    // The list (which cuts reasons to its column) says it too.
    assert!(
        read("ls.txt").contains(
            "failed     fill the disk [lines 200000] — interrupted: the session's runner stoppe…"
        ),
        "{}",
        read("ls.txt")
    );

    // What was written before the disk filled is there, in order, with no gap.
    let events: Vec<Value> = read("events.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("json event"))
        .collect();
    assert!(
        events.len() > 100,
        "the transcript so far: {} events",
        events.len()
    );
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], index as u64 + 1, "gap or disorder at {index}");
    }
    let lines: Vec<&str> = events
        .iter()
        .filter_map(|event| event["text"].as_str())
        .filter(|text| text.starts_with("line "))
        .collect();
    let expected: Vec<String> = (1..=lines.len()).map(|n| format!("line {n}")).collect();
    assert_eq!(lines, expected, "the agent's lines, each once and in order");

    assert_no_agent_processes(&world);
    // The worktree is still there and sound.
    let worktree = PathBuf::from(detail["worktreePath"].as_str().expect("worktree path"));
    assert!(worktree.is_dir(), "{}", worktree.display());
    assert_eq!(world.git(&worktree, &["status", "--porcelain"]), "");
    assert!(
        world
            .git(&world.repo, &["worktree", "list", "--porcelain"])
            .contains(&format!("worktree {}", worktree.display()))
    );
}

/// Several processes using a brand-new state dir at the same moment (two editors starting on a
/// fresh machine) all open the database: none gets "database is locked".
#[test]
fn a_new_state_dir_opened_by_many_processes_at_once() {
    let mut world = World::new();
    for round in 0..20 {
        let state_dir = world.root.join(format!("fresh-state-{round}"));
        world.state_dir = state_dir;
        let children: Vec<std::process::Child> = (0..8)
            .map(|_| {
                world
                    .command(&["ls"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("start lulu ls")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("lulu ls");
            assert!(
                output.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
