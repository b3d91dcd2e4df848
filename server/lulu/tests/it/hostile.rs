//! Hostile input and faults (issue 9): what a careless or hostile user, or a failing machine,
//! does to lulu, each tried against the real binary, the real SQLite file (read by the real
//! `sqlite3` program beside it) and real processes. Every test here failed before its fix.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    sessions::{World, assert_no_agent_processes, runner_pid},
    support::{PATIENCE, Server, file_uri, fixture, init_options},
};

fn database(world: &World) -> PathBuf {
    world.state_dir.join("lulu.db")
}

/// Runs Debian's `sqlite3` program on the database.
fn sqlite3(database: &Path, sql: &str) -> Output {
    Command::new("sqlite3")
        .arg(database)
        .arg(sql)
        .output()
        .expect("run sqlite3 (Debian's sqlite3 package)")
}

fn integrity(database: &Path) -> String {
    let output = sqlite3(database, "PRAGMA integrity_check;");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    )
}

/// An outside reader: `sqlite3` reading the sessions every ~50 ms until stopped, as a user's
/// backup script or dashboard would. Returns (reads, errors).
struct Reader {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl Reader {
    fn start(database: PathBuf) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut reads = 0;
            let mut errors = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                if database.exists() {
                    let output = sqlite3(&database, "SELECT count(*) FROM sessions;");
                    reads += 1;
                    if !output.status.success() {
                        errors.push(String::from_utf8_lossy(&output.stderr).trim().to_owned());
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (reads, errors)
        });
        Reader { stop, thread }
    }

    fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the reader thread")
    }
}

/// Errors of the reader that mean harm (a busy or locked moment is SQLite telling a reader to
/// come back, not harm).
fn harmful(errors: &[String]) -> Vec<&String> {
    errors
        .iter()
        .filter(|error| !(error.contains("locked") || error.contains("busy")))
        .collect()
}

fn started_server(world: &World, name: &str) -> Server {
    let mut server = Server::start(&world.root.join(name));
    let response = server.initialize(&[&world.repo], init_options(&world.state_dir));
    assert!(response.get("result").is_some(), "{response}");
    server
}

/// Polls `lulu/session` until every session has ended; returns their details.
fn wait_all_ended(server: &mut Server, ids: &[String]) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    ids.iter()
        .map(|id| {
            loop {
                let detail = server.result("lulu/session", json!({ "id": id }));
                if detail["status"] == "completed" || detail["status"] == "failed" {
                    break detail;
                }
                assert!(Instant::now() < deadline, "{id} never ended: {detail}");
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .collect()
}

/// Issue 9, item 1. Before the fix, the store opened `lulu.db` raw and closed it, dropping the
/// process's POSIX locks: whenever no runner was alive, `sqlite3` then believed it was the last
/// connection and deleted the WAL under the live servers (spawns failed with "disk I/O error",
/// the file ended malformed). So the sessions come in rounds, with idle moments between them in
/// which only the servers and the reader are connected.
#[test]
fn a_sqlite3_reader_beside_two_servers_and_their_runners_harms_nothing() {
    let world = World::new();
    let mut servers = [started_server(&world, "a"), started_server(&world, "b")];
    let db = database(&world);
    let wal = world.state_dir.join("lulu.db-wal");
    let reader = Reader::start(db.clone());
    let mut ids = Vec::new();
    let mut failed = Vec::new();
    let mut wal_deleted = 0;
    for round in 0..5 {
        let mut batch = Vec::new();
        for server in servers.iter_mut() {
            for n in 0..4 {
                let response = server.call(
                    "lulu/spawn",
                    json!({"prompt": format!("reader {round}.{n} [lines 20]"), "agent": "text"}),
                );
                match response["result"]["id"].as_str() {
                    Some(id) => batch.push(id.to_owned()),
                    None => failed.push(response),
                }
            }
        }
        for detail in wait_all_ended(&mut servers[round % 2], &batch) {
            if detail["status"] != "completed" {
                failed.push(detail);
            }
        }
        ids.extend(batch);
        // Idle: the runners exit; only the servers (and the reader) hold the database.
        std::thread::sleep(Duration::from_millis(600));
        if !wal.exists() {
            wal_deleted += 1;
        }
    }
    let (reads, errors) = reader.stop();
    let integrity = integrity(&db);
    eprintln!(
        "sqlite3 beside two servers: {} sessions, {} failed, {reads} outside reads ({} refused), integrity {integrity}, WAL deleted in {wal_deleted} of 5 idle moments",
        ids.len() + failed.len(),
        failed.len(),
        errors.len(),
    );
    assert_eq!(
        failed,
        Vec::<Value>::new(),
        "every spawn succeeds and completes"
    );
    assert_eq!(wal_deleted, 0, "the WAL of the live servers survives");
    assert_eq!(harmful(&errors), Vec::<&String>::new());
    assert_eq!(integrity, "ok");
    for server in servers.iter_mut() {
        assert_eq!(server.shutdown().code(), Some(0));
    }
}

fn data_version(connection: &rusqlite::Connection) -> i64 {
    connection
        .pragma_query_value(None, "data_version", |row| row.get(0))
        .expect("data_version")
}

/// Issue 9, item 1: reads never write. Before the fix every open ran the migration's write
/// transaction (setting `user_version` again), so each `lulu ls` woke every reader.
#[test]
fn reading_commands_write_nothing() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "read me [lines 3]"]);
    world.wait_ended(&id);
    let db = database(&world);
    let watcher = rusqlite::Connection::open(&db).expect("open the database");
    let files =
        || ["lulu.db", "lulu.db-wal"].map(|name| std::fs::read(world.state_dir.join(name)).ok());
    let version = data_version(&watcher);
    let before = files();
    for args in [
        vec!["ls"],
        vec!["ls", "--all", "--json"],
        vec!["show", &id],
        vec!["logs", &id],
        vec!["agents"],
    ] {
        world.ok(&args);
        assert_eq!(data_version(&watcher), version, "lulu {args:?} wrote");
    }
    let mut server = started_server(&world, "serve");
    server.result("lulu/list", json!({}));
    server.result("lulu/session", json!({ "id": id }));
    server.result("lulu/agents", json!({}));
    assert_eq!(server.shutdown().code(), Some(0));
    assert_eq!(data_version(&watcher), version, "lulu serve wrote");
    assert!(before == files(), "the database files changed");
}

/// Runs `script` (bash, `set -eu`) in a user and mount namespace of its own (`unshare -rm`),
/// with the world's environment plus `STATE`, `REPO`, `ROOT` and `LULU`, so that it may mount
/// folders read-only (root ignores permission bits; a read-only mount it cannot ignore).
fn in_a_namespace(world: &World, script: &str) -> Output {
    let template = world.command(&[]);
    let mut command = Command::new("unshare");
    command
        .args(["-rm", "bash", "-c", &format!("set -eu\n{script}")])
        .current_dir(&world.repo)
        .env("STATE", &world.state_dir)
        .env("REPO", &world.repo)
        .env("ROOT", &world.root)
        .env("LULU", env!("CARGO_BIN_EXE_lulu"));
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.output().expect("run unshare")
}

fn text(output: &[u8]) -> String {
    String::from_utf8_lossy(output).into_owned()
}

/// Issue 9, item 9: `lulu ls` on a read-only state dir (its WAL and index cannot be created)
/// lists; before the fix it failed opening the database. And a read-only worktree folder is
/// refused at spawn, before anything is created.
#[test]
fn a_read_only_state_dir_is_listed_and_a_read_only_worktree_folder_refused() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "listed read-only"]);
    world.wait_ended(&id);
    // The runner has exited: no connection is left, so neither the WAL nor its index exists.
    let deadline = Instant::now() + PATIENCE;
    while runner_pid(&id).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let read_only = world.root.join("read-only");
    std::fs::create_dir_all(&read_only).expect("folder");
    let output = in_a_namespace(
        &world,
        r#"
for folder in "$STATE" "$ROOT/read-only"; do
    mount --bind "$folder" "$folder"
    mount -o remount,ro,bind "$folder"
done
"$LULU" ls --all
"$LULU" show "$1" > /dev/null
if "$LULU" --state-dir "$ROOT/state2" spawn --agent claude --worktree-dir "$ROOT/read-only/wt" "never" 2> "$ROOT/spawn-error"; then
    echo "spawn into a read-only worktree folder succeeded" >&2
    exit 1
fi
"#
        .replace("\"$1\"", &id)
        .as_str(),
    );
    assert!(
        output.status.success(),
        "in the namespace: {}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout).contains("listed read-only"),
        "{}",
        text(&output.stdout)
    );
    let error = std::fs::read_to_string(world.root.join("spawn-error")).expect("spawn's error");
    assert_eq!(
        error.trim(),
        format!(
            "lulu: the worktree folder {}/read-only/wt cannot hold worktrees: Read-only file system (os error 30)",
            world.root.display()
        )
    );
}

/// Issue 9, item 7: `%` and `_` are literal. Before the fix, `lulu rm %` removed the only
/// session.
#[test]
fn ids_are_literal_never_patterns() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "keep me"]);
    world.wait_ended(&id);
    for pattern in ["%", "_", "0%", &format!("{}_", &id[..id.len() - 1])] {
        assert_eq!(
            world.fails(&["rm", pattern]),
            format!("lulu: no session with id {pattern:?}")
        );
    }
    assert_eq!(world.detail(&id[..8])["id"], id.as_str());
}

/// Issue 9, item 3: a prompt is data, never an option of the agent. Before the fix the
/// built-in profiles ran `claude -p --dangerously-skip-permissions ...` and
/// `codex exec --json --help`.
#[test]
fn a_prompt_is_never_an_option_of_the_agent() {
    let mut world = World::new();
    let argv_file = world.root.join("argv");
    world.extra_env.push((
        "FAKE_AGENT_ARGV".to_owned(),
        argv_file.display().to_string(),
    ));
    let claude = world.spawn(&["--agent", "claude", "--", "--dangerously-skip-permissions"]);
    assert_eq!(world.wait_ended(&claude)["status"], "completed");
    let codex = world.spawn(&["--agent", "codex", "--", "--help"]);
    assert_eq!(world.wait_ended(&codex)["status"], "completed");
    let codex_again = world.spawn(&["--agent", "codex", "resume"]);
    assert_eq!(world.wait_ended(&codex_again)["status"], "completed");
    world.ok(&["continue", &claude, "--", "--version"]);
    let detail = world.wait_ended(&claude);
    assert_eq!(detail["status"], "completed", "{detail}");
    let session_id = detail["agentSessionId"]
        .as_str()
        .expect("claude's session id");
    world.ok(&["continue", &codex, "--", "-x"]);
    let detail = world.wait_ended(&codex);
    let thread_id = detail["agentSessionId"]
        .as_str()
        .expect("codex's thread id");
    let recorded = std::fs::read_to_string(&argv_file).expect("argv recorded");
    let runs: Vec<Vec<&str>> = recorded
        .split_terminator("--end--\n")
        .map(|run| run.lines().collect())
        .collect();
    // Issue 12: the hosted built-in claude takes its prompt on stdin: never an argument at all.
    let claude_options = [
        "claude",
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-prompt-tool",
        "stdio",
        "--permission-mode",
        "acceptEdits",
        "--replay-user-messages",
    ];
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .chain(tail)
            .map(|word| word.to_string())
            .collect()
    };
    let runs: Vec<Vec<String>> = runs
        .into_iter()
        .map(|run| run.into_iter().map(str::to_owned).collect())
        .collect();
    pretty_assertions::assert_eq!(
        runs,
        vec![
            with(&claude_options, &[]),
            with(&["codex", "exec", "--json"], &["--", "--help"]),
            with(&["codex", "exec", "--json"], &["--", "resume"]),
            with(&claude_options, &["--resume", session_id]),
            with(
                &["codex", "exec", "--json"],
                &["resume", thread_id, "--", "-x"]
            ),
        ]
    );
    // The agents took them as prompts.
    let said = |id: &str| {
        world
            .transcript(id)
            .iter()
            .map(|event| event["text"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(said(&claude).contains("--dangerously-skip-permissions"));
    assert!(said(&codex_again).contains("the change for: resume"));
}

/// Issue 9, item 4: the caller's git environment never reaches the agent. Before the fix,
/// with `GIT_DIR`, `GIT_WORK_TREE` and `GIT_INDEX_FILE` pointing at the user's repository (as
/// inside a git hook), the agent's commit landed on the user's `main`.
#[test]
fn the_callers_git_environment_does_not_reach_the_agent() {
    let mut world = World::new();
    let git_dir = world.repo.join(".git");
    for (name, value) in [
        ("GIT_DIR", git_dir.clone()),
        ("GIT_WORK_TREE", world.repo.clone()),
        ("GIT_INDEX_FILE", git_dir.join("index")),
    ] {
        world
            .extra_env
            .push((name.to_owned(), value.display().to_string()));
    }
    let main_before = world.git(&world.repo, &["rev-parse", "main"]);
    let id = world.spawn(&["--agent", "text", "commit here [edit]"]);
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], "completed", "{detail}");
    let branch = detail["branch"].as_str().expect("branch");
    assert_eq!(world.git(&world.repo, &["rev-parse", "main"]), main_before);
    assert_eq!(world.git(&world.repo, &["status", "--porcelain"]), "");
    assert_eq!(
        world.git(&world.repo, &["log", "-1", "--format=%s", branch]),
        "text: add notes\n"
    );
}

/// Issue 9, item 8: control characters in names are refused at the boundary (CLI and
/// protocol), and stored text never reaches the terminal raw. Before the fix a name holding
/// `\n` or an escape sequence was stored and printed as it was.
#[test]
fn control_characters_are_refused_in_names_and_escaped_in_output() {
    let world = World::new();
    assert_eq!(
        world.fails(&["spawn", "--name", "evil\u{1b}[2J", "x"]),
        "lulu: `name` holds a control character (U+001B); a name is one line of plain text"
    );
    assert_eq!(
        world.fails(&["spawn", "--name", "two\nlines", "x"]),
        "lulu: `name` holds a control character (U+000A); a name is one line of plain text"
    );
    let mut server = started_server(&world, "serve");
    let response = server.call(
        "lulu/spawn",
        json!({"prompt": "x", "name": "bell\u{7}", "agent": "text"}),
    );
    assert_eq!(
        response["error"],
        json!({"code": -32602, "message": "`name` holds a control character (U+0007); a name is one line of plain text"})
    );
    assert_eq!(server.shutdown().code(), Some(0));

    // Stored text with control characters (a prompt the agent echoes; a name from an older lulu).
    let id = world.spawn(&["--agent", "text", "clear \u{1b}[2J screen"]);
    world.wait_ended(&id);
    let connection = rusqlite::Connection::open(database(&world)).expect("open");
    connection
        .execute(
            "UPDATE sessions SET name = ?1 WHERE id = ?2",
            ["old\u{1b}[2J\nforged row", &id],
        )
        .expect("update");
    for args in [vec!["ls"], vec!["show", &id], vec!["logs", &id]] {
        let out = world.ok(&args);
        assert!(
            !out.chars()
                .any(|character| character.is_control() && character != '\n'),
            "lulu {args:?} printed a control character: {out:?}"
        );
        assert!(out.contains("\\x1b[2J"), "lulu {args:?}: {out}");
    }
    let listed = world.ok(&["ls"]);
    assert!(listed.contains("old\\x1b[2J\\nforged row"), "{listed}");
    assert_eq!(listed.lines().count(), 2, "a header and one row: {listed}");
}

/// Issue 9, item 9: errors that came late or vague now come at once, naming the thing at fault,
/// and nothing is created.
#[test]
fn late_and_vague_errors_come_at_once_and_name_the_thing() {
    let world = World::new();
    // A prompt over one argument's limit, in several words (before: a worktree and a branch,
    // then `spawn_failed: Argument list too long`).
    let word = "x".repeat(40_000);
    let words = [word.as_str(); 4];
    let mut args = vec!["spawn", "--agent", "text"];
    args.extend(words);
    assert_eq!(
        world.fails(&args),
        "lulu: the prompt is 160003 bytes long; the limit is 131071 bytes (one command-line argument)"
    );
    let file = world.root.join("a-file");
    std::fs::write(&file, "").expect("file");
    for (folder, why) in [
        (file.display().to_string(), "File exists (os error 17)"),
        (
            "/proc/lulu-worktrees".to_owned(),
            "No such file or directory (os error 2)",
        ),
    ] {
        assert_eq!(
            world.fails(&["--worktree-dir", &folder, "spawn", "--agent", "text", "x"]),
            format!("lulu: the worktree folder {folder} cannot hold worktrees: {why}")
        );
    }
    assert_eq!(
        world.fails(&["spawn", "--base=", "--agent", "text", "x"]),
        "lulu: the base revision is empty; name a commit, or leave it out for HEAD"
    );
    assert_eq!(
        world.fails(&["--worktree-dir", "{repo}/{branch}", "spawn", "x"]),
        "lulu: the worktree folder template \"{repo}/{branch}\" holds the unknown placeholder {branch} (known: {repo})"
    );
    std::fs::write(
        world.state_dir.join("config.toml"),
        "max_running = 2\nmax_running = 3\n",
    )
    .expect("config");
    let error = world.fails(&["ls"]);
    assert!(
        error.contains("max_running") && error.contains("line 2"),
        "{error}"
    );
    // Nothing was created by the refused spawns.
    assert!(
        !world.repo.join(".lulu/worktrees").exists() || {
            std::fs::read_dir(world.repo.join(".lulu/worktrees"))
                .expect("read")
                .next()
                .is_none()
        }
    );
    assert_eq!(world.git(&world.repo, &["branch", "--list", "lulu/*"]), "");
}

pub(crate) fn watchdog_of(agent_group: i32) -> Option<i32> {
    lulu_core::process::group_members(agent_group)
        .into_iter()
        .find(|pid| {
            // The watchdog is a clone of the runner that names itself (prctl PR_SET_NAME).
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == "lulu-watchdog")
        })
}

fn kill(pid: i32) {
    // SAFETY: the pid was just read from /proc and is a process this test started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Issue 9, item 10: with its watchdog and then its runner SIGKILLed, the agent outlived both;
/// the session read failed/interrupted while the agent ran on. Reconciliation now ends the
/// group it can prove is the agent's (same leader pid and start time). Run logs are 0600.
#[test]
fn an_agent_whose_watchdog_and_runner_were_killed_is_ended_by_reconciliation() {
    let world = World::new();
    let id = world.spawn(&["--agent", "text", "Outlive [sleep 120]"]);
    world.wait_status(&id, "running");
    let deadline = Instant::now() + PATIENCE;
    let group = loop {
        if let Some(group) = world.agent_groups().first().copied() {
            break group;
        }
        assert!(Instant::now() < deadline, "the agent never reported");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Once the agent has printed its first line it only sleeps: it writes nothing more that a
    // closed pipe could kill it with (SIGPIPE) once its runner is gone.
    while !world.transcript(&id).iter().any(|event| {
        event["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("starting: "))
    }) {
        assert!(Instant::now() < deadline, "the agent never printed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let watchdog = watchdog_of(group).expect("the watchdog is in the agent's group");
    kill(watchdog);
    kill(runner_pid(&id).expect("the runner is alive"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !lulu_core::process::group_members(group).is_empty(),
        "the agent outlived its runner and watchdog"
    );
    let detail = world.wait_ended(&id);
    assert_eq!(detail["outcome"], "interrupted", "{detail}");
    assert_no_agent_processes(&world);
    let failure_detail = detail["failureDetail"].as_str().expect("detail");
    assert!(
        failure_detail.contains("reconciliation killed the agent's process group"),
        "{failure_detail}"
    );
    use std::os::unix::fs::PermissionsExt;
    let log = world.state_dir.join(format!("runs/{id}.log"));
    let mode = std::fs::metadata(&log)
        .expect("the run's log")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", log.display());
}

/// Issue 15, item 14 (server side): a linked worktree belongs to its main repository. Opened
/// inside a session's worktree, `lulu serve` lists the main repository's sessions, and a spawn
/// from there makes its worktree beside the others, never nested in a worktree. Before the fix
/// the worktree was taken for a repository of its own.
#[test]
fn a_linked_worktree_resolves_to_its_main_repository() {
    let world = World::new();
    let first = world.spawn(&["--agent", "text", "first [edit]"]);
    let detail = world.wait_ended(&first);
    let worktree = PathBuf::from(detail["worktreePath"].as_str().expect("worktree"));
    let root = world.repo.join(".lulu/worktrees");
    assert_eq!(worktree.parent(), Some(root.as_path()));

    // The CLI, from inside the worktree.
    let mut spawn = world.command(&["spawn", "--json", "--agent", "text", "second"]);
    let output = spawn
        .current_dir(worktree.join("notes"))
        .output()
        .expect("spawn");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let row: Value = serde_json::from_slice(&output.stdout).expect("json");
    let second = row["id"].as_str().expect("id").to_owned();
    let detail = world.wait_ended(&second);
    assert_eq!(detail["repo"], world.repo.display().to_string());
    let nested = PathBuf::from(detail["worktreePath"].as_str().expect("worktree"));
    assert_eq!(nested.parent(), Some(root.as_path()), "not nested");
    let mut listing = world.command(&["ls", "--json"]);
    let output = listing.current_dir(&worktree).output().expect("ls");
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).expect("json rows");
    assert_eq!(rows.len(), 2, "the main repository's sessions: {rows:?}");

    // The protocol, with rootUri inside the worktree.
    let mut server = Server::start(&world.root.join("serve"));
    let response = server.call(
        "initialize",
        json!({"processId": null, "rootUri": file_uri(&worktree), "capabilities": {},
               "initializationOptions": init_options(&world.state_dir)}),
    );
    assert!(response.get("result").is_some(), "{response}");
    server.notify("initialized", json!({}));
    let listed = server.result("lulu/list", json!({}));
    let ids: Vec<&str> = listed["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|row| row["id"].as_str())
        .collect();
    assert_eq!(ids, vec![second.as_str(), first.as_str()]);
    let spawned = server.result("lulu/spawn", json!({"prompt": "third", "agent": "text"}));
    assert_eq!(spawned["repo"], world.repo.display().to_string());
    assert_eq!(server.shutdown().code(), Some(0));
}

/// Issue 9, items 5 and 6 through the real binary: bad framing keeps memory bounded; `$/`
/// requests get -32601 and every request after `shutdown` -32600.
#[test]
fn bad_framing_keeps_memory_bounded_and_lifecycle_errors_follow_lsp() {
    let world = World::new();
    let mut server = started_server(&world, "serve");
    let before = server.rss_kib();
    // 30 MB of `a\r\n` (header lines without a blank line), then 8 MB of long header lines
    // (before the fix the server kept every one: 21 to 568 MB).
    let junk = b"a\r\n".repeat(10 * 1024 * 1024);
    server.send_raw(&junk);
    let long_line = format!("X-Junk: {}\r\n", "j".repeat(8000));
    server.send_raw(long_line.repeat(1000).as_bytes());
    server.send_raw(b"\r\n\r\n");
    let response = server.call("lulu/agents", json!({}));
    assert!(response.get("result").is_some(), "{response}");
    let after = server.rss_kib();
    eprintln!("RSS {before} KiB before the junk, {after} KiB after");
    assert!(
        after < before + 64 * 1024,
        "memory grew from {before} KiB to {after} KiB"
    );
    let response = server.call("$/lulu/custom", json!({}));
    assert_eq!(
        response["error"],
        json!({"code": -32601, "message": "Method not found", "data": "$/lulu/custom"})
    );
    // A `$/` notification is dropped silently; the next request is answered.
    server.notify("$/cancelRequest", json!({"id": 99}));
    assert!(
        server
            .call("lulu/agents", json!({}))
            .get("result")
            .is_some()
    );
    assert_eq!(server.call("shutdown", Value::Null)["result"], Value::Null);
    for method in ["lulu/nope", "lulu/list", "$/x", "shutdown"] {
        let response = server.call(method, json!({}));
        assert_eq!(
            response["error"],
            json!({"code": -32600, "message": "Invalid request"}),
            "{method}"
        );
    }
    server.notify("exit", Value::Null);
    assert_eq!(server.wait().code(), Some(0));
}

/// Samples, every 20 ms until `sampling` is cleared, how many sessions hold a running slot;
/// returns (samples, the most seen).
fn sample_running(db: PathBuf, sampling: Arc<AtomicBool>) -> std::thread::JoinHandle<(usize, i64)> {
    std::thread::spawn(move || {
        let mut samples = 0;
        let mut most = 0;
        while sampling.load(Ordering::SeqCst) {
            if let Ok(connection) = rusqlite::Connection::open(&db) {
                let _ = connection.busy_timeout(Duration::from_secs(5));
                if let Ok(running) = connection.query_row(
                    "SELECT count(*) FROM sessions WHERE slot_held = 1",
                    [],
                    |row| row.get::<_, i64>(0),
                ) {
                    samples += 1;
                    most = most.max(running);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (samples, most)
    })
}

/// One CLI process after another: `count` spawns, every other one cancelled at once. Returns
/// the ids spawned and the errors met.
fn cli_worker(commands: Vec<Command>, worker: usize, count: usize) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut ids = Vec::new();
    let mut commands = commands.into_iter();
    for n in 0..count {
        let mut spawn = commands.next().expect("a command");
        let prompt = format!("cli {worker}.{n} [lines 30] [sleep 0.{}]", n % 4);
        let output = spawn
            .args(["spawn", "--json", "--agent", "text", &prompt])
            .output()
            .expect("spawn");
        if !output.status.success() {
            errors.push(text(&output.stderr));
            continue;
        }
        let row: Value = serde_json::from_slice(&output.stdout).expect("json");
        let id = row["id"].as_str().expect("id").to_owned();
        if n % 2 == 1 {
            let mut cancel = commands.next().expect("a command");
            let output = cancel.args(["cancel", &id]).output().expect("cancel");
            if !output.status.success() {
                errors.push(text(&output.stderr));
            }
        }
        ids.push(id);
    }
    (ids, errors)
}

/// The sessions whose count of terminal lifecycle events (`completed`, `failed: ...`) is not
/// their count of runs.
fn runs_not_ended_once(db: &Path, details: &[Value]) -> Vec<String> {
    let connection = rusqlite::Connection::open(db).expect("open");
    let mut wrong = Vec::new();
    for detail in details {
        let id = detail["id"].as_str().expect("id");
        let (ends, runs): (i64, i64) = connection
            .query_row(
                "SELECT (SELECT count(*) FROM events WHERE session_id = ?1 AND stream = 'lulu' \
                 AND kind = 'status' AND (text = 'completed' OR text LIKE 'failed: %')), \
                 (SELECT run FROM sessions WHERE id = ?1)",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("count");
        if ends != runs {
            wrong.push(format!("{id}: {ends} ends in {runs} runs"));
        }
    }
    wrong
}

/// Many spawns and cancels from several CLI processes and two `lulu serve` at once, with an
/// outside `sqlite3` reader: every run ends exactly once (one terminal lifecycle event per
/// run), the running cap holds at every sample, and the database is intact.
#[test]
fn stress_spawns_and_cancels_from_many_processes() {
    const MAX_RUNNING: i64 = 3;
    const CLI_WORKERS: usize = 4;
    const PER_WORKER: usize = 12;
    const PER_SERVER: usize = 15;
    let world = World::new();
    std::fs::write(
        world.state_dir.join("config.toml"),
        format!(
            "max_running = {MAX_RUNNING}\n[agents.text]\ncommand = [{:?}, \"{{prompt}}\"]\n",
            fixture("agents/fake-text").display().to_string()
        ),
    )
    .expect("config.toml");
    let started = Instant::now();
    let db = database(&world);
    let mut options = init_options(&world.state_dir);
    options["maxRunning"] = json!(MAX_RUNNING);
    let mut servers: Vec<Server> = ["a", "b"]
        .iter()
        .map(|name| {
            let mut server = Server::start(&world.root.join(name));
            let response = server.initialize(&[&world.repo], options.clone());
            assert!(response.get("result").is_some(), "{response}");
            server
        })
        .collect();
    // The outside reader starts once the servers made the database (before, it may read a
    // database whose tables are not there yet).
    let reader = Reader::start(db.clone());

    // The cap, sampled from the outside while everything runs.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = sample_running(db.clone(), sampling.clone());

    // CLI workers: spawn, and cancel every other one at once.
    let workers: Vec<_> = (0..CLI_WORKERS)
        .map(|worker| {
            let commands: Vec<Command> = (0..PER_WORKER * 2).map(|_| world.command(&[])).collect();
            std::thread::spawn(move || cli_worker(commands, worker, PER_WORKER))
        })
        .collect();

    // The servers spawn and cancel too, meanwhile.
    let mut ids = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for n in 0..PER_SERVER {
        for (index, server) in servers.iter_mut().enumerate() {
            let response = server.call(
                "lulu/spawn",
                json!({"prompt": format!("serve {index}.{n} [lines 30] [sleep 0.{}]", n % 4), "agent": "text"}),
            );
            let Some(id) = response["result"]["id"].as_str().map(str::to_owned) else {
                errors.push(response.to_string());
                continue;
            };
            if n % 3 == 0 {
                let response = server.call("lulu/cancel", json!({ "id": id }));
                if response.get("error").is_some() {
                    errors.push(response.to_string());
                }
            }
            ids.push(id);
        }
    }
    for worker in workers {
        let (worker_ids, worker_errors) = worker.join().expect("worker");
        ids.extend(worker_ids);
        errors.extend(worker_errors);
    }
    let details = wait_all_ended(&mut servers[0], &ids);
    sampling.store(false, Ordering::SeqCst);
    let (samples, most_running) = sampler.join().expect("sampler");
    let (reads, reader_errors) = reader.stop();

    // Each run ended exactly once: one terminal lifecycle event per run.
    let ended_twice = runs_not_ended_once(&db, &details);
    let cancelled = details
        .iter()
        .filter(|detail| detail["outcome"] == "cancelled")
        .count();
    let completed = details
        .iter()
        .filter(|detail| detail["status"] == "completed")
        .count();
    let integrity = integrity(&db);
    eprintln!(
        "stress: {} sessions ({completed} completed, {cancelled} cancelled) from {CLI_WORKERS} CLI workers and 2 servers in {:.1} s; errors: {}; ended twice: {}; running at most {most_running} of {MAX_RUNNING} over {samples} samples; {reads} sqlite3 reads ({} refused); integrity: {integrity}",
        details.len(),
        started.elapsed().as_secs_f64(),
        errors.len(),
        ended_twice.len(),
        harmful(&reader_errors).len(),
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(ended_twice, Vec::<String>::new());
    assert_eq!(details.len(), CLI_WORKERS * PER_WORKER + 2 * PER_SERVER);
    assert_eq!(
        completed + cancelled,
        details.len(),
        "every session completed or was cancelled"
    );
    assert!(samples > 0);
    assert!(
        most_running <= MAX_RUNNING,
        "{most_running} running at once"
    );
    assert_eq!(harmful(&reader_errors), Vec::<&String>::new());
    assert_eq!(integrity, "ok");
    for server in servers.iter_mut() {
        assert_eq!(server.shutdown().code(), Some(0));
    }
}
