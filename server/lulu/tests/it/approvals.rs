//! Issue 12 through the real `lulu serve` and CLI: approvals of a hosted agent (the scripted
//! fake-claude speaking Claude Code's stream-json control lines), messages for a running agent,
//! and budgets. Waits are bounded by the support's patience, never timing assertions.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{Normalizer, Server, check, fixture, init_options, make_repo};

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    state: PathBuf,
    pid_file: PathBuf,
    normalizer: Normalizer,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().canonicalize().expect("canonical");
    let repo = make_repo(&root.join("repo"), "basic");
    Setup {
        state: root.join("state"),
        pid_file: root.join("agent-pids"),
        normalizer: Normalizer::new(&root),
        repo,
        root,
        _tmp: tmp,
    }
}

/// The test options plus `host`: fake-claude hosted through stream-json, with this approval
/// timeout.
fn host_options(state: &Path, approval_timeout: Value) -> Value {
    let mut options = init_options(state);
    options["agents"]["host"] = json!({
        "command": [fixture("agents/fake-claude"), "-p", "--input-format", "stream-json",
                    "--output-format", "stream-json", "--verbose", "--permission-prompt-tool", "stdio",
                    "--replay-user-messages"],
        "format": "claude-stream-json",
        "input": "stream-json",
        "approvalTimeout": approval_timeout,
    });
    options
}

fn start(setup: &Setup, options: Value) -> Server {
    let mut server = Server::start_with_env(
        &setup.root.join("logs"),
        &[("FAKE_AGENT_PIDFILE", &setup.pid_file)],
    );
    let response = server.initialize(&[&setup.repo], options);
    assert!(response.get("result").is_some(), "{response}");
    server
}

fn spawn(server: &mut Server, agent: &str, prompt: &str) -> String {
    let row = server.result("lulu/spawn", json!({"prompt": prompt, "agent": agent}));
    row["id"].as_str().expect("id").to_owned()
}

fn requested(server: &mut Server, session: &str) -> Value {
    server.notification("lulu/approvalRequested", |message| {
        message["method"] == "lulu/approvalRequested"
            && message["params"]["approval"]["sessionId"] == session
    })["params"]["approval"]
        .clone()
}

fn resolved(server: &mut Server, approval_id: &str) -> Value {
    server.notification("lulu/approvalResolved", |message| {
        message["method"] == "lulu/approvalResolved"
            && message["params"]["approvalId"] == approval_id
    })["params"]
        .clone()
}

fn transcript_texts(server: &mut Server, id: &str) -> Vec<String> {
    server.result("lulu/transcript", json!({"id": id}))["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn worktree(server: &mut Server, id: &str) -> PathBuf {
    PathBuf::from(
        server.result("lulu/session", json!({"id": id}))["worktreePath"]
            .as_str()
            .expect("worktree"),
    )
}

fn assert_in_order(texts: &[String], wanted: &[&str]) {
    let mut position = 0;
    for want in wanted {
        let found = texts[position..]
            .iter()
            .position(|text| text.contains(want))
            .unwrap_or_else(|| panic!("{want:?} not in the transcript (in order): {texts:#?}"));
        position += found + 1;
    }
}

fn the_approval(session: &str) -> Value {
    json!({"approvalId": "<id2>", "sessionId": session, "tool": "Bash",
           "input": {"command": "touch approved.txt", "description": "Create approved.txt"},
           "summary": "Bash: touch approved.txt", "requestedAt": "<time>"})
}

#[test]
fn an_allowed_request_runs_and_the_session_completes_then_continues() {
    let mut setup = setup();
    let mut server = start(&setup, host_options(&setup.state, json!("30m")));
    let id = spawn(&mut server, "host", "make a file [ask]");
    let n = &mut setup.normalizer;
    let session = n.id(&id);

    let approval = requested(&mut server, &id);
    check(n, &approval, the_approval(&session));
    let approval_id = approval["approvalId"].as_str().expect("id").to_owned();
    // While it waits the session is running, and the request is in its detail and the lists.
    let detail = server.result("lulu/session", json!({"id": id}));
    assert_eq!(detail["status"], "running");
    check(
        n,
        &detail["pendingApprovals"],
        json!([the_approval(&session)]),
    );
    for params in [json!({}), json!({"id": id})] {
        check(
            n,
            &server.result("lulu/approvals", params),
            json!({"approvals": [the_approval(&session)]}),
        );
    }

    check(
        n,
        &server.result(
            "lulu/approve",
            json!({"approvalId": approval_id, "allow": true}),
        ),
        json!({}),
    );
    check(
        n,
        &resolved(&mut server, &approval_id),
        json!({"approvalId": "<id2>", "sessionId": session, "allowed": true, "by": "user"}),
    );
    server.wait_status(&id, "completed");
    assert!(worktree(&mut server, &id).join("approved.txt").is_file());
    // Answering it again: it is no longer pending.
    let again = server.call(
        "lulu/approve",
        json!({"approvalId": approval_id, "allow": false}),
    );
    assert_eq!(again["error"]["code"], -32001, "{again}");
    check(
        n,
        &server.result("lulu/approvals", json!({})),
        json!({"approvals": []}),
    );
    assert_in_order(
        &transcript_texts(&mut server, &id),
        &[
            "make a file [ask]",
            "→ Bash: touch approved.txt",
            "allowed (user): Bash: touch approved.txt",
            "All done.",
            "completed",
        ],
    );

    // Continue resumes the hosted conversation, the new prompt on stdin.
    server.result(
        "lulu/continue",
        json!({"id": id, "prompt": "and again [host]"}),
    );
    server.wait_status(&id, "completed");
    assert_in_order(
        &transcript_texts(&mut server, &id),
        &[
            "continuing: and again [host]",
            "Resuming conversation",
            "and again [host]",
            "All done.",
        ],
    );
}

#[test]
fn a_restarted_server_lists_the_pending_request_and_a_denial_reaches_the_agent() {
    let mut setup = setup();
    let mut first = start(&setup, host_options(&setup.state, json!("none")));
    let id = spawn(&mut first, "host", "make a file [ask]");
    let approval_id = requested(&mut first, &id)["approvalId"]
        .as_str()
        .expect("id")
        .to_owned();
    first.kill();

    // A new server (a restart, or a client that starts later) is told at once, and lists it.
    let mut second = start(&setup, host_options(&setup.state, json!("none")));
    let n = &mut setup.normalizer;
    let session = n.id(&id);
    n.id(&approval_id);
    check(n, &requested(&mut second, &id), the_approval(&session));
    check(
        n,
        &second.result("lulu/approvals", json!({"id": id})),
        json!({"approvals": [the_approval(&session)]}),
    );
    second.result(
        "lulu/approve",
        json!({"approvalId": approval_id, "allow": false, "message": "not in this repository"}),
    );
    check(
        n,
        &resolved(&mut second, &approval_id),
        json!({"approvalId": "<id2>", "sessionId": session, "allowed": false, "by": "user"}),
    );
    server_completes(&mut second, &id);
    assert!(!worktree(&mut second, &id).join("approved.txt").exists());
    let events = second.result("lulu/transcript", json!({"id": id}))["events"].clone();
    let denial = events
        .as_array()
        .expect("events")
        .iter()
        .find(|event| event["kind"] == "tool_result")
        .unwrap_or_else(|| panic!("no tool_result: {events:#}"));
    let block = &denial["data"]["message"]["content"][0];
    assert_eq!(
        (&block["is_error"], &block["content"]),
        (&json!(true), &json!("not in this repository")),
        "{denial:#}"
    );
}

fn server_completes(server: &mut Server, id: &str) {
    server.wait_status(id, "completed");
}

#[test]
fn the_approval_timeout_denies_with_a_message_that_says_so() {
    let setup = setup();
    let mut server = start(&setup, host_options(&setup.state, json!("1s")));
    let id = spawn(&mut server, "host", "make a file [ask]");
    let approval_id = requested(&mut server, &id)["approvalId"]
        .as_str()
        .expect("id")
        .to_owned();
    let resolution = resolved(&mut server, &approval_id);
    assert_eq!(
        (&resolution["allowed"], &resolution["by"]),
        (&json!(false), &json!("timeout"))
    );
    server.wait_status(&id, "completed");
    assert_in_order(
        &transcript_texts(&mut server, &id),
        &[
            "denied (timeout): Bash: touch approved.txt — lulu denied this: nobody answered within 1 second (the agent profile's approval timeout)",
            "lulu denied this: nobody answered within 1 second",
            "All done.",
        ],
    );
}

#[test]
fn cancel_while_waiting_resolves_the_request_and_leaves_no_process() {
    let setup = setup();
    let mut server = start(&setup, host_options(&setup.state, json!("none")));
    let id = spawn(&mut server, "host", "make a file [ask]");
    let approval_id = requested(&mut server, &id)["approvalId"]
        .as_str()
        .expect("id")
        .to_owned();
    let row = server.result("lulu/cancel", json!({"id": id}));
    assert_eq!(row["status"], "failed", "{row}");
    let resolution = resolved(&mut server, &approval_id);
    assert_eq!(
        (&resolution["allowed"], &resolution["by"]),
        (&json!(false), &json!("cancel"))
    );
    let detail = server.result("lulu/session", json!({"id": id}));
    assert_eq!(
        (&detail["outcome"], &detail["pendingApprovals"]),
        (&json!("cancelled"), &json!([]))
    );
    let pids = std::fs::read_to_string(&setup.pid_file).expect("pid file");
    for line in pids.lines() {
        let group: i32 = line
            .split_whitespace()
            .nth(1)
            .expect("pgid")
            .parse()
            .expect("number");
        assert!(
            lulu_core::process::group_members(group).is_empty(),
            "the agent's group {group} still has members"
        );
    }
}

#[test]
fn messages_reach_a_running_agent_in_order_and_only_one_that_can_take_them() {
    let setup = setup();
    let mut server = start(&setup, host_options(&setup.state, json!("none")));
    let id = spawn(&mut server, "host", "make a file [ask]");
    let approval_id = requested(&mut server, &id)["approvalId"]
        .as_str()
        .expect("id")
        .to_owned();
    // Sent while the agent waits on its request: taken after what it is doing now, in order.
    for text in ["first message", "second message"] {
        assert_eq!(
            server.result("lulu/send", json!({"id": id, "text": text})),
            json!({})
        );
    }
    server.result(
        "lulu/approve",
        json!({"approvalId": approval_id, "allow": true}),
    );
    server.wait_status(&id, "completed");
    assert_in_order(
        &transcript_texts(&mut server, &id),
        &[
            "allowed (user)",
            "All done.",
            "Got your message: first message",
            "Got your message: second message",
            "completed",
        ],
    );

    let refused = |server: &mut Server, id: &str, text: &str| -> Value {
        let answer = server.call("lulu/send", json!({"id": id, "text": text}));
        answer["error"].clone()
    };
    let ended = refused(&mut server, &id, "too late");
    assert_eq!(ended["code"], -32019, "{ended}");
    assert!(
        ended["message"]
            .as_str()
            .expect("message")
            .contains("not running"),
        "{ended}"
    );
    let empty = refused(&mut server, &id, "  ");
    assert_eq!(empty["code"], -32602, "{empty}");
    let text_agent = spawn(&mut server, "text", "wait [sleep 30]");
    server.wait_status(&text_agent, "running");
    let cannot = refused(&mut server, &text_agent, "hello");
    assert_eq!(cannot["code"], -32020, "{cannot}");
    assert!(
        cannot["message"]
            .as_str()
            .expect("message")
            .contains("cannot take messages"),
        "{cannot}"
    );
    server.result("lulu/cancel", json!({"id": text_agent}));
    let unknown = server.call("lulu/approve", json!({"approvalId": "nope", "allow": true}));
    assert_eq!(unknown["error"]["code"], -32001, "{unknown}");
    let agents = server.result("lulu/agents", json!({}));
    let inputs: Vec<(String, String)> = agents["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|agent| {
            (
                agent["name"].as_str().unwrap_or_default().to_owned(),
                agent["input"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .filter(|(name, _)| name == "host" || name == "codex")
        .collect();
    assert_eq!(
        inputs,
        [
            ("codex".to_owned(), "closed".to_owned()),
            ("host".to_owned(), "stream-json".to_owned())
        ]
    );
}

#[test]
fn budgets_stop_sessions_as_over_budget() {
    let setup = setup();
    let mut server = start(&setup, host_options(&setup.state, json!("none")));
    // Time: the runner stops the agent as a cancel does.
    let row = server.result(
        "lulu/spawn",
        json!({"prompt": "wait [sleep 60]", "agent": "text", "maxMinutes": 0.02}),
    );
    let id = row["id"].as_str().expect("id").to_owned();
    let ended = server.wait_status(&id, "failed");
    assert_eq!(
        ended["failureReason"],
        "over budget: the session ran past its time limit of 1.2 seconds (maxMinutes)"
    );
    let detail = server.result("lulu/session", json!({"id": id}));
    assert_eq!(
        (
            &detail["outcome"],
            &detail["maxMinutes"],
            &detail["maxCostUsd"]
        ),
        (&json!("over_budget"), &json!(0.02), &json!(null))
    );

    // Cost: Claude gets --max-budget-usd and its error_max_budget_usd result is over_budget.
    let row = server.result(
        "lulu/spawn",
        json!({"prompt": "spend [cost 0.9]", "agent": "host", "maxCostUsd": 0.5}),
    );
    let id = row["id"].as_str().expect("id").to_owned();
    let ended = server.wait_status(&id, "failed");
    assert_eq!(
        ended["failureReason"],
        "over budget: the session reached its cost limit of $0.50 (maxCostUsd) (spent $0.9000)"
    );
    let detail = server.result("lulu/session", json!({"id": id}));
    assert_eq!(
        (&detail["outcome"], &detail["maxCostUsd"]),
        (&json!("over_budget"), &json!(0.5))
    );
    let command: Vec<&str> = detail["command"]
        .as_array()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(command[command.len() - 2..], ["--max-budget-usd", "0.5"]);

    let bad = server.call("lulu/spawn", json!({"prompt": "x", "maxCostUsd": -1}));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    assert_eq!(
        bad["error"]["message"],
        "maxCostUsd must be a number above 0, not -1"
    );
}

#[test]
fn the_cli_lists_answers_and_sends() {
    let setup = setup();
    std::fs::create_dir_all(&setup.state).expect("state dir");
    std::fs::write(
        setup.state.join("config.toml"),
        format!(
            "[agents.host]\ncommand = [{:?}, \"-p\", \"--input-format\", \"stream-json\", \"--output-format\", \"stream-json\", \"--verbose\", \"--replay-user-messages\"]\nformat = \"claude-stream-json\"\ninput = \"stream-json\"\n",
            fixture("agents/fake-claude").display().to_string()
        ),
    )
    .expect("config.toml");
    let lulu = |args: &[&str]| -> (bool, String, String) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_lulu"))
            .args(args)
            .current_dir(&setup.repo)
            .env("LULU_HOME", &setup.state)
            .env_remove("XDG_STATE_HOME")
            .output()
            .expect("run lulu");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, id, _) = lulu(&[
        "spawn",
        "--agent",
        "host",
        "--max-cost",
        "3",
        "make a file [ask]",
    ]);
    assert!(ok);
    let id = id.split_whitespace().next().expect("id").to_owned();
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    let approval = loop {
        let (_, listed, _) = lulu(&["approvals", "--json"]);
        let listed: Value = serde_json::from_str(&listed).expect("json");
        if let Some(first) = listed["approvals"].get(0) {
            break first.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no approval listed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let (_, listed, _) = lulu(&["approvals"]);
    assert!(
        listed.contains("Bash: touch approved.txt  (make a file [ask])"),
        "{listed}"
    );
    let (ok, sent, _) = lulu(&["send", &id, "after", "that"]);
    assert!(ok);
    assert_eq!(sent, "sent\n");
    let approval_id = approval["approvalId"].as_str().expect("id");
    let (ok, answered, _) = lulu(&["approve", approval_id, "--deny", "-m", "no thanks"]);
    assert!(ok);
    assert_eq!(answered, "denied Bash: touch approved.txt\n");
    let (ok, _, error) = lulu(&["approve", approval_id]);
    assert!(!ok);
    assert!(error.contains("no pending approval with id"), "{error}");
    let detail = loop {
        let (_, shown, _) = lulu(&["show", &id, "--json"]);
        let detail: Value = serde_json::from_str(&shown).expect("json");
        if detail["status"] == "completed" {
            break detail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not completed: {detail}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        (&detail["maxCostUsd"], &detail["pendingApprovals"]),
        (&json!(3.0), &json!([]))
    );
    let (_, logs, _) = lulu(&["logs", &id]);
    assert!(logs.contains("Got your message: after that"), "{logs}");
    let (_, agents, _) = lulu(&["agents"]);
    let line = |name: &str| {
        agents
            .lines()
            .find(|line| line.contains(&format!(" {name} ")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("host").contains("approvals, send"), "{agents}");
    assert!(line("codex").contains("no approvals"), "{agents}");
    let (ok, _, error) = lulu(&["send", &id, "late"]);
    assert!(!ok);
    assert!(error.contains("not running"), "{error}");
}
