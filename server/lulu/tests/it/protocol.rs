//! The protocol of docs/protocol.md, driven through the real `lulu serve` binary with real
//! `Content-Length` framing, real git repositories and the scripted fake agents.

use std::path::{Path, PathBuf};

use crate::support::{Normalizer, Server, check, init_options, make_repo};
use serde_json::{Value, json};

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn ok(id: i64, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn git(repo: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    repo: std::path::PathBuf,
    state: std::path::PathBuf,
    normalizer: Normalizer,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().canonicalize().expect("canonical");
    let repo = make_repo(&root.join("repo"), "basic");
    let mut normalizer = Normalizer::new(&root);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    normalizer.replace(&head[..12], "<short>");
    Setup {
        state: root.join("state"),
        normalizer,
        repo,
        root,
        _tmp: tmp,
    }
}

#[test]
fn lifecycle_and_bad_input_get_the_protocol_errors() {
    let Setup {
        _tmp,
        root,
        repo,
        state,
        mut normalizer,
        ..
    } = setup();
    let n = &mut normalizer;
    let mut server = Server::start(&root.join("logs"));

    // Before initialize: -32002, known method or not; notifications are dropped.
    server.notify("initialized", json!({}));
    check(
        n,
        &server.call("lulu/list", json!({})),
        error(
            json!(1),
            -32002,
            "the server is not initialized: send `initialize` before `lulu/list`",
        ),
    );
    check(
        n,
        &server.call("lulu/nope", json!({})),
        error(
            json!(2),
            -32002,
            "the server is not initialized: send `initialize` before `lulu/nope`",
        ),
    );

    // Bad initializationOptions: -32602 naming the field; the server carries on.
    let mut bad = |options: Value, message: &str| {
        let response = server.initialize(&[&repo], options);
        let id = response["id"].clone();
        check(n, &response, error(id, -32602, message));
    };
    bad(
        json!({"stateDir": state, "maxRunning": "six"}),
        "invalid `initializationOptions.maxRunning`: invalid type: string \"six\", expected i64",
    );
    bad(
        json!({"stateDir": state, "maxRuning": 2}),
        "invalid `initializationOptions.maxRuning`: unknown field `maxRuning`, expected one of `stateDir`, `worktreeDir`, `maxRunning`, `defaultAgent`, `agents`",
    );
    bad(
        json!({"stateDir": state, "agents": {"x": {"command": ["echo"], "format": "yaml"}}}),
        "`initializationOptions.agents.x.format` is \"yaml\"; expected \"claude-stream-json\", \"codex-json\" or \"text\"",
    );
    bad(
        json!({"stateDir": state, "agents": {"x": {"command": [], "format": "text"}}}),
        "`initializationOptions.agents.x.command` must name a program: a non-empty list whose first item is not empty",
    );
    bad(
        json!({"stateDir": state, "agents": {"x": {"command": "echo", "format": "text"}}}),
        "invalid `initializationOptions.agents.x.command`: invalid type: string \"echo\", expected a sequence",
    );
    bad(
        json!({"stateDir": "relative/state"}),
        "`initializationOptions.stateDir` must be an absolute path, not \"relative/state\"",
    );
    bad(
        json!({"stateDir": state, "maxRunning": 0}),
        "invalid settings: maxRunning must be at least 1, not 0",
    );
    bad(
        json!([1, 2]),
        "`initializationOptions` must be an object, not an array",
    );

    // A good initialize.
    let response = server.initialize(&[&repo, &root.join("not-a-repo")], init_options(&state));
    check(
        n,
        &response,
        ok(
            11,
            json!({
                "capabilities": {"experimental": {"lulu": {
                    "protocolVersion": 2,
                    "stateDir": "<tmp>/state",
                    "repos": ["<tmp>/repo"],
                    "methods": ["lulu/spawn", "lulu/list", "lulu/session", "lulu/transcript",
                        "lulu/watch", "lulu/unwatch", "lulu/cancel", "lulu/continue", "lulu/remove",
                        "lulu/diff", "lulu/agents", "lulu/approvals", "lulu/approve", "lulu/send",
                        "lulu/land", "lulu/sync", "lulu/push", "lulu/trust", "lulu/gc",
                        "lulu/comment", "lulu/comments", "lulu/uncomment", "lulu/review"],
                    "notifications": ["lulu/sessionChanged", "lulu/sessionRemoved", "lulu/output",
                        "lulu/commentsChanged", "lulu/approvalRequested", "lulu/approvalResolved"],
                }}},
                "serverInfo": {"name": "lulu", "version": env!("CARGO_PKG_VERSION")},
            }),
        ),
    );
    check(
        n,
        &server.call("initialize", json!({"capabilities": {}})),
        error(json!(12), -32600, "Invalid request"),
    );

    // Unknown method, bad params, wrong types.
    check(
        n,
        &server.call("lulu/nope", json!({})),
        json!({"jsonrpc": "2.0", "id": 13, "error": {"code": -32601, "message": "Method not found", "data": "lulu/nope"}}),
    );
    let cases: &[(&str, Value, i64, &str)] = &[
        (
            "lulu/session",
            json!({"id": 5}),
            -32602,
            "invalid params for lulu/session: `id`: invalid type: integer `5`, expected a string",
        ),
        (
            "lulu/session",
            json!({}),
            -32602,
            "invalid params for lulu/session: missing field `id`",
        ),
        (
            "lulu/session",
            json!([1]),
            -32602,
            "invalid params for lulu/session: params must be an object, not an array",
        ),
        (
            "lulu/spawn",
            Value::Null,
            -32602,
            "invalid params for lulu/spawn: missing field `prompt`",
        ),
        (
            "lulu/spawn",
            json!({"prompt": "  "}),
            -32602,
            "the prompt is empty; say what the agent should do",
        ),
        (
            "lulu/list",
            json!({"limit": 0}),
            -32602,
            "`limit` must be between 1 and 1000, not 0",
        ),
        (
            "lulu/list",
            json!({"limit": 1001}),
            -32602,
            "`limit` must be between 1 and 1000, not 1001",
        ),
        (
            "lulu/list",
            json!({"limit": -1}),
            -32602,
            "invalid params for lulu/list: `limit`: invalid value: integer `-1`, expected u64",
        ),
        (
            "lulu/list",
            json!({"before": "nonsense"}),
            -32602,
            "`before` is not a cursor from lulu/list's `next`: \"nonsense\"",
        ),
        (
            "lulu/list",
            json!({"repo": "/", "allRepos": true}),
            -32602,
            "give `repo` or `allRepos`, not both",
        ),
        (
            "lulu/list",
            json!({"allRepos": "yes"}),
            -32602,
            "invalid params for lulu/list: `allRepos`: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "lulu/transcript",
            json!({"id": "x", "afterSeq": -1}),
            -32602,
            "`afterSeq` must be 0 or more, not -1",
        ),
        (
            "lulu/transcript",
            json!({"id": "x", "limit": 0}),
            -32602,
            "`limit` must be between 1 and 10000, not 0",
        ),
        (
            "lulu/remove",
            json!({"id": "x", "force": "yes"}),
            -32602,
            "invalid params for lulu/remove: `force`: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "lulu/session",
            json!({"id": "0000"}),
            -32001,
            "no session with id \"0000\"",
        ),
        ("lulu/session", json!({"id": ""}), -32602, "`id` is empty"),
    ];
    for (method, params, code, message) in cases {
        let response = server.call(method, params.clone());
        let id = response["id"].clone();
        check(n, &response, error(id, *code, message));
    }

    // Broken frames: a log line each, and the next frame is answered.
    server.send_raw(b"garbage without headers\r\n\r\n");
    server.send_raw(b"Content-Length: many\r\n\r\n");
    server.send_raw(b"X-Other: 1\r\n\r\n");
    check(
        n,
        &server.call("lulu/agents", Value::Null),
        ok(
            30,
            json!({"defaultAgent": "text", "agents": [
                {"name": "claude", "command": ["<tmp-fixtures>/agents/fake-claude", "-p", "{prompt}", "--output-format", "stream-json", "--verbose"], "format": "claude-stream-json", "available": true, "input": "closed"},
                {"name": "codex", "command": ["<tmp-fixtures>/agents/fake-codex", "exec", "--json", "{prompt}"], "format": "codex-json", "available": true, "input": "closed"},
                {"name": "missing", "command": ["lulu-no-such-program"], "format": "text", "available": false, "input": "closed"},
                {"name": "text", "command": ["<tmp-fixtures>/agents/fake-text", "{prompt}"], "format": "text", "available": true, "input": "closed"},
            ]}),
        )
        .to_string()
        .replace("<tmp-fixtures>", crate::support::fixture("").display().to_string().trim_end_matches('/'))
        .parse::<Value>()
        .expect("json"),
    );
    // Invalid JSON, a body that is not UTF-8, a batch, a message that is no message.
    server.send_body(br#"{"jsonrpc":"2.0","id":99,"method":"#);
    check(
        n,
        &server.response(&Value::Null),
        error(
            Value::Null,
            -32700,
            "the message is not valid JSON: EOF while parsing a value at line 1 column 34",
        ),
    );
    server.send_body(
        b"{\"jsonrpc\":\"2.0\",\"id\":98,\"method\":\"lulu/list\",\"params\":{\"repo\":\"\xff\"}}",
    );
    check(
        n,
        &server.response(&Value::Null),
        error(
            Value::Null,
            -32700,
            "the message is not valid JSON: invalid unicode code point at line 1 column 65",
        ),
    );
    server.send_body(br#"[{"jsonrpc":"2.0","id":97,"method":"lulu/list"}]"#);
    check(
        n,
        &server.response(&Value::Null),
        error(
            Value::Null,
            -32600,
            "the message is a batch (an array); lulu takes one JSON-RPC message per frame",
        ),
    );
    server.send_body(br#"{"jsonrpc":"2.0","id":96}"#);
    check(
        n,
        &server.response(&json!(96)),
        error(
            json!(96),
            -32600,
            "the message has neither a `method` nor a `result` or `error`",
        ),
    );
    server.send_body(br#"{"jsonrpc":"1.0","id":95,"method":"lulu/list"}"#);
    check(
        n,
        &server.response(&json!(95)),
        error(json!(95), -32600, "the message's `jsonrpc` must be \"2.0\""),
    );

    // Huge params (10 MB): an error response, and the server carries on.
    let huge = "x".repeat(10 * 1024 * 1024);
    let response = server.call("lulu/spawn", json!({"prompt": huge}));
    check(
        n,
        &response,
        error(
            response["id"].clone(),
            -32602,
            "`prompt` is 10485760 bytes long; the limit is 131071 bytes",
        ),
    );
    let response = server.call("lulu/session", json!({"id": huge}));
    let expected = format!("no session with id {:?}… (10485760 bytes)", "x".repeat(80));
    check(
        n,
        &response,
        error(response["id"].clone(), -32001, &expected),
    );
    // A notification of an unknown method gets no answer; the next request does.
    server.notify("lulu/whatever", json!({}));
    let response = server.call("lulu/list", json!({}));
    check(
        n,
        &response,
        ok(
            response["id"].as_i64().expect("id"),
            json!({"sessions": [], "next": null}),
        ),
    );

    // shutdown, then requests are refused, then exit ends the process at once with stdin open.
    let response = server.call("shutdown", Value::Null);
    check(
        n,
        &response,
        ok(response["id"].as_i64().expect("id"), Value::Null),
    );
    let response = server.call("lulu/list", json!({}));
    check(
        n,
        &response,
        error(response["id"].clone(), -32600, "Invalid request"),
    );
    server.notify("exit", Value::Null);
    let status = server.wait();
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    let log = server.stderr();
    for expected in [
        "a frame's headers have no valid Content-Length (lines: [\\\"garbage without headers\\\"])",
        "a frame's headers have no valid Content-Length (lines: [\\\"Content-Length: many\\\"])",
        "a frame's headers have no valid Content-Length (lines: [\\\"X-Other: 1\\\"])",
    ] {
        assert!(
            log.contains(expected) || log.contains(&expected.replace("\\\"", "\"")),
            "{expected} not in the log:\n{log}"
        );
    }
}

#[test]
fn exit_without_shutdown_ends_with_code_1_and_end_of_input_ends_too() {
    let Setup {
        _tmp,
        root,
        state,
        repo,
        ..
    } = setup();
    // Lua clients send `[]` for an empty table: taken as `{}` where a map is expected.
    let mut lua = init_options(&state);
    lua["agents"] = json!([]);
    let mut server = Server::start(&root.join("logs"));
    let response = server.initialize(&[&repo], lua);
    assert!(response.get("result").is_some(), "{response}");
    server.notify("exit", Value::Null);
    assert_eq!(server.wait().code(), Some(1));
    let mut lua = init_options(&state);
    lua["agents"]["text"]["env"] = json!([]);
    let mut server = Server::start(&root.join("logs"));
    let response = server.initialize(&[&repo], lua);
    assert!(response.get("result").is_some(), "{response}");
    server.notify("exit", Value::Null);
    assert_eq!(server.wait().code(), Some(1));

    // `~/` in stateDir is the home directory.
    let home = root.join("home");
    let mut options = init_options(&state);
    options["stateDir"] = json!("~/lulu-state");
    let mut server = Server::start_with_env(&root.join("logs"), &[("HOME", &home)]);
    let response = server.initialize(&[&repo], options);
    assert_eq!(
        response["result"]["capabilities"]["experimental"]["lulu"]["stateDir"],
        json!(home.join("lulu-state"))
    );
    server.notify("exit", Value::Null);
    assert_eq!(server.wait().code(), Some(1));

    // `rootUri` (a path inside the repository) when there are no workspace folders.
    let mut server = Server::start(&root.join("logs"));
    let response = server.call(
        "initialize",
        json!({"processId": null, "capabilities": {},
               "rootUri": crate::support::file_uri(&repo.join("src")),
               "initializationOptions": init_options(&state)}),
    );
    assert_eq!(
        response["result"]["capabilities"]["experimental"]["lulu"]["repos"],
        json!([repo])
    );
    server.notify("exit", Value::Null);
    assert_eq!(server.wait().code(), Some(1));

    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state));
    server.close_stdin();
    assert_eq!(server.wait().code(), Some(1));
}

#[test]
fn spawn_in_a_workspace_without_a_usable_repository_says_why_in_data_reason() {
    let Setup {
        _tmp,
        root,
        state,
        mut normalizer,
        ..
    } = setup();
    let n = &mut normalizer;
    let plain = root.join("plain");
    let unborn = root.join("unborn");
    std::fs::create_dir_all(&plain).expect("plain folder");
    std::fs::create_dir_all(&unborn).expect("unborn folder");
    git(&unborn, &["init", "-q"]);
    let cases: &[(&[&Path], Value)] = &[
        (
            &[&plain],
            json!({"code": -32012, "message": "<tmp>/plain is not inside a git repository",
                   "data": {"causes": ["Could not find a git repository in \"<tmp>/plain\" or in any of its parents", "NotFound"],
                            "reason": "notARepository"}}),
        ),
        (
            &[&unborn],
            json!({"code": -32012, "message": "the git repository at <tmp>/unborn has no commit yet (HEAD is unborn)",
                   "data": {"reason": "noCommits"}}),
        ),
        (
            &[],
            json!({"code": -32012, "message": "the editor has no folder open; open a folder inside a git repository",
                   "data": {"reason": "noWorkspaceFolder"}}),
        ),
    ];
    for (folders, expected) in cases {
        let mut server = Server::start(&root.join("logs"));
        server.initialize(folders, init_options(&state));
        let response = server.call("lulu/spawn", json!({"prompt": "x"}));
        check(n, &response["error"], expected.clone());
        assert_eq!(server.shutdown().code(), Some(0));
    }
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|event| event["seq"].as_i64().expect("seq"))
        .collect()
}

fn row(name: &str, id: &str, status: &str) -> Value {
    json!({"id": id, "name": name, "repo": "<tmp>/repo", "status": status,
           "createdAt": "<time>", "lastActivityAt": "<time>"})
}

fn failed_row(name: &str, id: &str, reason: &str) -> Value {
    let mut row = row(name, id, "failed");
    row["failureReason"] = json!(reason);
    row
}

#[test]
fn a_session_through_its_whole_life() {
    let Setup {
        _tmp,
        root,
        repo,
        state,
        mut normalizer,
    } = setup();
    let n = &mut normalizer;
    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state));

    // spawn: the row comes back `starting`, then the feed tells the rest.
    let spawned = server.result(
        "lulu/spawn",
        json!({"prompt": "take notes [edit] [lines 3]", "name": "notes"}),
    );
    check(n, &spawned, row("notes", "<id1>", "starting"));
    let id = spawned["id"].as_str().expect("id").to_owned();
    let done = server.wait_status(&id, "completed");
    check(n, &done, row("notes", "<id1>", "completed"));

    check(
        n,
        &server.result("lulu/list", json!({})),
        json!({"sessions": [row("notes", "<id1>", "completed")], "next": null}),
    );
    let fake_text = crate::support::fixture("agents/fake-text")
        .display()
        .to_string();
    check(
        n,
        &server.result("lulu/session", json!({"id": id})),
        json!({"id": "<id1>", "name": "notes", "repo": "<tmp>/repo", "status": "completed",
               "createdAt": "<time>", "lastActivityAt": "<time>",
               "prompt": "take notes [edit] [lines 3]", "agent": "text",
               "command": [fake_text, "take notes [edit] [lines 3]"],
               "worktreePath": "<tmp>/repo/.lulu/worktrees/notes-<tail1>",
               "branch": "lulu/notes-<tail1>", "baseCommit": "<commit>",
               "startedAt": "<time>", "endedAt": "<time>", "outcome": "exited",
               "exitCode": 0, "signal": null, "failureDetail": null, "agentSessionId": null,
               "costUsd": null, "inputTokens": null, "outputTokens": null,
               "pendingApprovals": [], "maxCostUsd": null, "maxMinutes": null,
               "runs": [{"run": 1, "prompt": "take notes [edit] [lines 3]", "queuedAt": "<time>",
                         "status": "completed", "startedAt": "<time>", "endedAt": "<time>",
                         "outcome": "exited", "failureReason": null, "costUsd": null,
                         "inputTokens": null, "outputTokens": null}],
               "baseBranch": "main", "ahead": 1, "behind": 0, "landed": null,
               "ports": [], "worktreeGone": false}),
    );
    let all = server.result("lulu/transcript", json!({"id": id}));
    check(
        n,
        &all,
        json!({"lastSeq": 8, "events": [
            {"seq": 1, "at": "<time>", "stream": "lulu", "kind": "status", "text": "creating worktree <tmp>/repo/.lulu/worktrees/notes-<tail1> on branch lulu/notes-<tail1> from <short>"},
            {"seq": 2, "at": "<time>", "stream": "lulu", "kind": "status", "text": format!("running {fake_text} 'take notes [edit] [lines 3]'")},
            {"seq": 3, "at": "<time>", "stream": "stdout", "kind": "text", "text": "starting: take notes [edit] [lines 3]"},
            {"seq": 4, "at": "<time>", "stream": "stdout", "kind": "text", "text": "line 1"},
            {"seq": 5, "at": "<time>", "stream": "stdout", "kind": "text", "text": "line 2"},
            {"seq": 6, "at": "<time>", "stream": "stdout", "kind": "text", "text": "line 3"},
            {"seq": 7, "at": "<time>", "stream": "stdout", "kind": "text", "text": "done"},
            {"seq": 8, "at": "<time>", "stream": "lulu", "kind": "status", "text": "completed"},
        ]}),
    );
    let page = server.result(
        "lulu/transcript",
        json!({"id": id, "afterSeq": 3, "limit": 2}),
    );
    assert_eq!(
        page,
        json!({"lastSeq": 8, "events": all["events"].as_array().expect("events")[3..5]})
    );

    // watch replays from afterSeq, then unwatch.
    assert_eq!(
        server.result("lulu/watch", json!({"id": id, "afterSeq": 5})),
        json!({})
    );
    let replayed = server.output_until(&id, |event| event["seq"] == 8);
    assert_eq!(
        replayed,
        all["events"].as_array().expect("events")[5..].to_vec()
    );
    assert_eq!(server.result("lulu/unwatch", json!({"id": id})), json!({}));

    // diff: the agent's commit, against the base commit.
    let head = git(&repo, &["rev-parse", "HEAD"]);
    check(
        n,
        &server.result("lulu/diff", json!({"id": id})),
        json!({"baseCommit": "<commit>", "files": [
            {"path": "notes/text.md", "status": "added", "additions": 3, "deletions": 0},
        ]}),
    );
    assert_eq!(
        server.result("lulu/session", json!({"id": id}))["baseCommit"],
        json!(head)
    );

    // continue: a new run of the ended session, live output while watched.
    assert_eq!(
        server.result("lulu/watch", json!({"id": id, "afterSeq": 8})),
        json!({})
    );
    let continued = server.result(
        "lulu/continue",
        json!({"id": id, "prompt": "more [lines 300]"}),
    );
    check(n, &continued, row("notes", "<id1>", "starting"));
    server.wait_status(&id, "completed");
    let live = server.output_until(&id, |event| {
        event["kind"] == "status" && event["text"] == "completed"
    });
    let first = live[0]["seq"].as_i64().expect("seq");
    assert_eq!(
        first, 9,
        "the first live event follows the watch's afterSeq"
    );
    assert_eq!(
        seqs(&live),
        (9..9 + live.len() as i64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    let texts: Vec<&str> = live
        .iter()
        .filter(|event| event["stream"] == "stdout")
        .filter_map(|event| event["text"].as_str())
        .collect();
    let mut expected_texts = vec!["starting: more [lines 300]".to_owned()];
    expected_texts.extend((1..=300).map(|line| format!("line {line}")));
    expected_texts.push("done".to_owned());
    assert_eq!(texts, expected_texts);
    server.result("lulu/unwatch", json!({"id": id}));
    // Each run is kept: the first as it ended, then the continued one.
    let run = |number: i64, prompt: &str| {
        json!({"run": number, "prompt": prompt, "queuedAt": "<time>", "status": "completed",
               "startedAt": "<time>", "endedAt": "<time>", "outcome": "exited",
               "failureReason": null, "costUsd": null, "inputTokens": null, "outputTokens": null})
    };
    check(
        n,
        &server.result("lulu/session", json!({"id": id}))["runs"],
        json!([
            run(1, "take notes [edit] [lines 3]"),
            run(2, "more [lines 300]")
        ]),
    );

    // Errors of spawn.
    let cases: &[(Value, Value)] = &[
        (
            json!({"prompt": "x", "agent": "nobody"}),
            json!({"code": -32013, "message": "unknown agent \"nobody\" (known agents: claude, codex, missing, text)",
                "data": {"reason": "unknownAgent", "agent": "nobody"}}),
        ),
        (
            json!({"prompt": "x", "agent": "missing"}),
            json!({"code": -32013, "message": "the agent \"missing\" needs `lulu-no-such-program`, which is not on PATH",
                "data": {"reason": "agentNotInstalled", "agent": "missing", "program": "lulu-no-such-program"}}),
        ),
        (
            json!({"prompt": "x", "baseRef": "no-such-branch"}),
            json!({"code": -32014, "message": "\"no-such-branch\" does not name a commit in the repository at <tmp>/repo",
                "data": {"causes": ["couldn't parse revision, input=\"no-such-branch\"",
                                    "Reference \"no-such-branch\" could not be found", "NotFound"]}}),
        ),
        (
            json!({"prompt": "x", "repo": root.join("state")}),
            json!({"code": -32012, "message": "<tmp>/state is not inside a git repository",
                "data": {"causes": ["Could not find a git repository in \"<tmp>/state\" or in any of its parents", "NotFound"],
                         "reason": "notARepository"}}),
        ),
        (
            json!({"prompt": "x", "repo": "relative"}),
            json!({"code": -32602, "message": "`repo` must be an absolute path, not \"relative\""}),
        ),
    ];
    for (params, expected) in cases {
        let response = server.call("lulu/spawn", params.clone());
        check(n, &response["error"], expected.clone());
    }
    check(
        n,
        &server.call("lulu/session", json!({"id": "ffff"}))["error"],
        json!({"code": -32001, "message": "no session with id \"ffff\""}),
    );

    // cancel a running session; remove refusals; remove.
    let sleeper = server.result(
        "lulu/spawn",
        json!({"prompt": "wait [sleep 60]", "name": "sleeper"}),
    );
    let sleeper_id = sleeper["id"].as_str().expect("id").to_owned();
    check(n, &sleeper, row("sleeper", "<id2>", "starting"));
    server.wait_status(&sleeper_id, "running");
    let response = server.call("lulu/remove", json!({"id": sleeper_id}));
    check(
        n,
        &response["error"],
        json!({"code": -32010, "message": "session <id2> is still running; cancel it first or remove it with force"}),
    );
    let response = server.call(
        "lulu/continue",
        json!({"id": sleeper_id, "prompt": "again"}),
    );
    check(
        n,
        &response["error"],
        json!({"code": -32010, "message": "session <id2> is still running; continue it once it has ended"}),
    );
    let cancelled = server.result("lulu/cancel", json!({"id": sleeper_id}));
    check(
        n,
        &cancelled,
        json!({"id": "<id2>", "name": "sleeper", "repo": "<tmp>/repo", "status": "failed",
               "createdAt": "<time>", "lastActivityAt": "<time>", "failureReason": "cancelled by the user"}),
    );
    let failed = server.wait_status(&sleeper_id, "failed");
    assert_eq!(failed, cancelled);
    // Cancel of an ended session changes nothing.
    assert_eq!(
        server.result("lulu/cancel", json!({"id": sleeper_id})),
        cancelled
    );

    let dirty = server.result("lulu/spawn", json!({"prompt": "[dirty]", "name": "dirty"}));
    let dirty_id = dirty["id"].as_str().expect("id").to_owned();
    check(n, &dirty, row("dirty", "<id3>", "starting"));
    server.wait_status(&dirty_id, "completed");
    let response = server.call("lulu/remove", json!({"id": dirty_id}));
    check(n, &response["error"]["code"], json!(-32011));
    // The notes session's branch has a commit not in main.
    let response = server.call("lulu/remove", json!({"id": id, "deleteBranch": true}));
    check(n, &response["error"]["code"], json!(-32011));

    assert_eq!(
        server.result("lulu/remove", json!({"id": dirty_id, "force": true})),
        json!({})
    );
    let removed = server.notification("sessionRemoved", |message| {
        message["method"] == "lulu/sessionRemoved"
    });
    assert_eq!(removed["params"], json!({"id": dirty_id}));
    check(
        n,
        &server.call("lulu/session", json!({"id": dirty_id}))["error"],
        json!({"code": -32001, "message": "no session with id \"<id3>\""}),
    );
    assert_eq!(server.result("lulu/remove", json!({"id": id})), json!({}));
    assert!(
        !git(&repo, &["branch", "--list", "lulu/notes-*"]).is_empty(),
        "the branch is kept unless deleteBranch"
    );
    assert_eq!(server.shutdown().code(), Some(0));
}

#[test]
fn two_servers_share_a_state_dir_and_a_killed_server_loses_nothing() {
    let Setup {
        _tmp,
        root,
        repo,
        state,
        mut normalizer,
    } = setup();
    let n = &mut normalizer;
    let logs = root.join("logs");
    let mut a = Server::start(&logs);
    let mut b = Server::start(&logs);
    a.initialize(&[&repo], init_options(&state));
    b.initialize(&[&repo], init_options(&state));

    // Spawned through A: B hears of it, sees it run and streams its output.
    let spawned = a.result(
        "lulu/spawn",
        json!({"prompt": "[lines 20] [sleep 10]", "name": "shared"}),
    );
    check(n, &spawned, row("shared", "<id1>", "starting"));
    let id = spawned["id"].as_str().expect("id").to_owned();
    check(
        n,
        &b.wait_status(&id, "running"),
        row("shared", "<id1>", "running"),
    );
    assert_eq!(b.result("lulu/watch", json!({"id": id})), json!({}));
    let before_kill = b.output_until(&id, |event| event["text"] == "line 20");
    let seen = before_kill.len() as i64;
    assert_eq!(seqs(&before_kill), (1..=seen).collect::<Vec<_>>());

    // SIGKILL A mid-run: the session runs on.
    a.kill();
    let mut c = Server::start(&logs);
    c.initialize(&[&repo], init_options(&state));
    check(
        n,
        &c.result("lulu/list", json!({})),
        json!({"sessions": [row("shared", "<id1>", "running")], "next": null}),
    );
    assert_eq!(
        c.result("lulu/watch", json!({"id": id, "afterSeq": seen})),
        json!({})
    );
    let rest = c.output_until(&id, |event| {
        event["kind"] == "status" && event["text"] == "completed"
    });
    assert_eq!(
        seqs(&rest),
        (seen + 1..=seen + rest.len() as i64).collect::<Vec<_>>(),
        "the rest of the output, no gap, no duplicate"
    );
    let texts: Vec<&str> = rest
        .iter()
        .filter_map(|event| event["text"].as_str())
        .collect();
    assert_eq!(texts, ["done", "completed"]);
    check(
        n,
        &c.wait_status(&id, "completed"),
        row("shared", "<id1>", "completed"),
    );

    // B streamed the whole story across the kill.
    let after_kill = b.output_until(&id, |event| {
        event["kind"] == "status" && event["text"] == "completed"
    });
    assert_eq!(after_kill, rest);
    check(
        n,
        &b.wait_status(&id, "completed"),
        row("shared", "<id1>", "completed"),
    );
    assert_eq!(b.shutdown().code(), Some(0));
    assert_eq!(c.shutdown().code(), Some(0));
}

/// The `### `name`` headings of a `## section` of docs/protocol.md.
fn documented(doc: &str, section: &str) -> Vec<String> {
    let mut inside = false;
    let mut names = Vec::new();
    for line in doc.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            inside = title == section;
        } else if inside && let Some(heading) = line.strip_prefix("### `") {
            names.push(heading.trim_end_matches('`').to_owned());
        }
    }
    names
}

#[test]
fn docs_and_server_agree() {
    let doc = std::fs::read_to_string(crate::support::workspace_root().join("docs/protocol.md"))
        .expect("docs/protocol.md");
    let requests = documented(&doc, "Requests");
    assert_eq!(
        requests,
        lulu_lsp::registered_methods(),
        "requests in docs/protocol.md vs the server"
    );
    assert_eq!(requests, lulu_lsp::protocol::REQUEST_METHODS);
    assert_eq!(
        documented(&doc, "Lifecycle"),
        lulu_lsp::protocol::LIFECYCLE_METHODS
    );
    assert_eq!(
        documented(&doc, "Notifications"),
        lulu_lsp::protocol::NOTIFICATION_METHODS
    );
    assert_eq!(
        documented(&doc, "Objects"),
        [
            "SessionRow",
            "SessionDetail",
            "Approval",
            "TranscriptEvent",
            "FileChange",
            "Comment"
        ]
    );
    let codes: Vec<i64> = doc
        .lines()
        .filter_map(|line| line.strip_prefix("| -"))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(digits, _)| -digits.parse::<i64>().expect("a code"))
        .collect();
    let mut expected = lulu_lsp::protocol::code::ALL.to_vec();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    let mut codes_sorted = codes.clone();
    codes_sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(codes_sorted, expected, "error codes in docs/protocol.md");

    // The real server answers every documented method (an error maybe, never -32601), and
    // announces the same list.
    let Setup {
        _tmp,
        root,
        repo,
        state,
        ..
    } = setup();
    let mut server = Server::start(&root.join("logs"));
    let response = server.initialize(&[&repo], init_options(&state));
    assert_eq!(
        response["result"]["capabilities"]["experimental"]["lulu"]["methods"],
        json!(requests)
    );
    for method in &requests {
        let response = server.call(method, json!({}));
        assert_ne!(
            response["error"]["code"],
            json!(-32601),
            "{method}: {response}"
        );
        assert!(
            response.get("result").is_some() || response["error"]["code"].is_i64(),
            "{response}"
        );
    }
    let response = server.call("lulu/undocumented", json!({}));
    assert_eq!(response["error"]["code"], json!(-32601));
    assert_eq!(server.shutdown().code(), Some(0));
}

#[test]
fn a_client_that_stops_reading_slows_nobody_and_loses_nothing() {
    let Setup {
        _tmp,
        root,
        repo,
        state,
        ..
    } = setup();
    let logs = root.join("logs");
    let mut slow = Server::start(&logs);
    let mut other = Server::start(&logs);
    slow.initialize(&[&repo], init_options(&state));
    other.initialize(&[&repo], init_options(&state));
    let lines = 100_000;
    let baseline = slow.rss_kib();

    // The slow client watches a flood, then stops reading its stdout.
    let flood = other.result(
        "lulu/spawn",
        json!({"prompt": format!("[lines {lines}]"), "name": "flood"}),
    );
    let id = flood["id"].as_str().expect("id").to_owned();
    slow.result("lulu/watch", json!({"id": id}));
    slow.pause_reading();

    // The session runs to its end, and the other client hears of it, while the slow one
    // reads nothing.
    other.wait_status(&id, "completed");
    let transcript = other.result(
        "lulu/transcript",
        json!({"id": id, "afterSeq": 0, "limit": 1}),
    );
    let last_seq = transcript["lastSeq"].as_i64().expect("lastSeq");
    assert!(
        last_seq > lines,
        "every line is in the transcript: {last_seq}"
    );
    // The stalled server held back, in bounded memory, what it could not write.
    let stalled = slow.rss_kib();
    eprintln!("lulu serve RSS: {baseline} KiB before, {stalled} KiB stalled behind a flood");
    assert!(
        stalled < baseline + 64 * 1024,
        "a stalled client cost {} KiB (from {baseline} KiB to {stalled} KiB)",
        stalled - baseline
    );

    // Reading again, the slow client gets every event, in order, once.
    slow.resume_reading();
    let events = slow.output_until(&id, |event| event["seq"] == json!(last_seq));
    assert_eq!(seqs(&events), (1..=last_seq).collect::<Vec<_>>());
    assert_eq!(slow.shutdown().code(), Some(0));
    assert_eq!(other.shutdown().code(), Some(0));
}

/// Pids of processes whose command line contains every one of `words`.
fn pids_with(words: &[&str]) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|byte| *byte == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        if words.iter().all(|word| args.iter().any(|arg| arg == word)) {
            pids.push(pid);
        }
    }
    pids
}

/// `initializationOptions` whose text agent writes its pid and process group to the returned file.
fn options_with_agent_pidfile(root: &Path, state: &Path) -> (PathBuf, Value) {
    let pidfile = root.join("agent-pids");
    let mut options = init_options(state);
    options["agents"]["text"]["env"] = json!({"FAKE_AGENT_PIDFILE": pidfile});
    (pidfile, options)
}

/// SIGKILLs the runner of session `id` and waits until its agent's process group (read from the
/// fake agent's pid file) is gone.
fn kill_runner_and_wait_for_its_agent(id: &str, pidfile: &Path) {
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    while !std::fs::read_to_string(pidfile).is_ok_and(|pids| pids.ends_with('\n')) {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never wrote {}",
            pidfile.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The runner dies without a word (its agent's group goes with it, or is cleaned up).
    // The watchdog is a clone of the runner (same command line) in the agent's group; the runner
    // leads its own group.
    let runners: Vec<i32> = pids_with(&["__run", id])
        .into_iter()
        .filter(|pid| {
            nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(*pid)))
                .is_ok_and(|group| group.as_raw() == *pid)
        })
        .collect();
    assert_eq!(runners.len(), 1, "one runner for the session: {runners:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(runners[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the runner");
    let pids = std::fs::read_to_string(pidfile).expect("the agent wrote its pid");
    let pgid: i32 = pids
        .split_whitespace()
        .nth(1)
        .and_then(|pgid| pgid.parse().ok())
        .expect("pgid");
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    while nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent's process group {pgid} outlived its runner"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_dashboard_opened_after_a_runner_died_tells_the_truth() {
    let Setup {
        _tmp,
        root,
        repo,
        state,
        mut normalizer,
    } = setup();
    let n = &mut normalizer;
    let (pidfile, options) = options_with_agent_pidfile(&root, &state);
    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], options.clone());
    let spawned = server.result(
        "lulu/spawn",
        json!({"prompt": "[sleep 120]", "name": "doomed"}),
    );
    let id = spawned["id"].as_str().expect("id").to_owned();
    check(n, &spawned, row("doomed", "<id1>", "starting"));
    server.wait_status(&id, "running");
    assert_eq!(server.shutdown().code(), Some(0));
    kill_runner_and_wait_for_its_agent(&id, &pidfile);

    // A new server: reconciliation has settled it before the first page.
    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], options);
    check(
        n,
        &server.result("lulu/list", json!({})),
        json!({"sessions": [failed_row("doomed", "<id1>", "interrupted: the session's runner died without finishing")], "next": null}),
    );
    let detail = server.result("lulu/session", json!({"id": id}));
    assert_eq!(detail["outcome"], json!("interrupted"), "{detail}");
    assert_eq!(server.shutdown().code(), Some(0));
}

#[test]
fn a_runner_that_dies_while_the_dashboard_is_open_is_settled_by_periodic_reconciliation() {
    let Setup {
        _tmp,
        root,
        repo,
        state,
        mut normalizer,
    } = setup();
    let n = &mut normalizer;
    let (pidfile, options) = options_with_agent_pidfile(&root, &state);
    let mut server = Server::start_with(&root.join("logs"), &[], &["--reconcile-every-ms", "500"]);
    server.initialize(&[&repo], options);
    let spawned = server.result(
        "lulu/spawn",
        json!({"prompt": "[sleep 120]", "name": "doomed"}),
    );
    let id = spawned["id"].as_str().expect("id").to_owned();
    server.wait_status(&id, "running");

    kill_runner_and_wait_for_its_agent(&id, &pidfile);

    // No request from the client: the server's own reconciliation notices and says so.
    let changed = server.wait_status(&id, "failed");
    check(
        n,
        &changed,
        failed_row(
            "doomed",
            "<id1>",
            "interrupted: the session's runner died without finishing",
        ),
    );
    assert_eq!(server.shutdown().code(), Some(0));
}

#[test]
fn list_pages_newest_first_stable_under_status_changes_and_scoped_by_repo() {
    let Setup {
        _tmp,
        root,
        repo,
        state,
        mut normalizer,
    } = setup();
    let n = &mut normalizer;
    let other_repo = make_repo(&root.join("other"), "basic");
    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state));
    let mut ids = Vec::new();
    for round in 1..=5 {
        let spawned = server.result(
            "lulu/spawn",
            json!({"prompt": "[sleep 60]", "name": format!("s{round}")}),
        );
        let id = spawned["id"].as_str().expect("id").to_owned();
        n.id(&id);
        ids.push(id);
    }
    let elsewhere = server.result(
        "lulu/spawn",
        json!({"prompt": "[lines 1]", "name": "elsewhere", "repo": other_repo}),
    );
    n.id(elsewhere["id"].as_str().expect("id"));

    let first = server.result("lulu/list", json!({"limit": 2}));
    let names = |page: &Value| -> Vec<String> {
        page["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .map(|row| row["name"].as_str().expect("name").to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["s5", "s4"]);
    // Status changes between pages move nothing.
    for id in &ids {
        server.result("lulu/cancel", json!({"id": id}));
    }
    let second = server.result("lulu/list", json!({"limit": 2, "before": first["next"]}));
    assert_eq!(names(&second), ["s3", "s2"]);
    let third = server.result("lulu/list", json!({"limit": 2, "before": second["next"]}));
    assert_eq!(names(&third), ["s1"]);
    assert_eq!(third["next"], Value::Null);
    check(
        n,
        &third["sessions"][0],
        failed_row("s1", "<id1>", "cancelled by the user"),
    );

    // The workspace by default; another repository by `repo`; every one with `allRepos`.
    let all = server.result("lulu/list", json!({"allRepos": true}));
    assert_eq!(names(&all), ["elsewhere", "s5", "s4", "s3", "s2", "s1"]);
    let other = server.result("lulu/list", json!({"repo": other_repo.join("src")}));
    assert_eq!(names(&other), ["elsewhere"]);
    let workspace = server.result("lulu/list", json!({}));
    assert_eq!(names(&workspace), ["s5", "s4", "s3", "s2", "s1"]);
    let response = server.call("lulu/list", json!({"repo": root.join("state")}));
    check(n, &response["error"]["code"], json!(-32012));
    assert_eq!(server.shutdown().code(), Some(0));
}

#[test]
fn sessions_of_the_cli_show_up_in_the_server() {
    let Setup {
        _tmp,
        root,
        repo,
        state,
        mut normalizer,
    } = setup();
    let n = &mut normalizer;
    std::fs::create_dir_all(&state).expect("state dir");
    std::fs::write(
        state.join("config.toml"),
        format!(
            "[agents.text]\ncommand = [{:?}, \"{{prompt}}\"]\nformat = \"text\"\n",
            crate::support::fixture("agents/fake-text")
                .display()
                .to_string()
        ),
    )
    .expect("config.toml");
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_lulu"))
            .arg("--state-dir")
            .arg(&state)
            .args(args)
            .current_dir(&repo)
            .output()
            .expect("lulu");
        assert!(output.status.success(), "lulu {args:?}: {output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    // One before the server starts, one while it runs.
    let before: Value = serde_json::from_str(&cli(&[
        "spawn",
        "--json",
        "--agent",
        "text",
        "--name",
        "before",
        "[lines 2]",
    ]))
    .expect("json");
    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state));
    let during: Value = serde_json::from_str(&cli(&[
        "spawn",
        "--json",
        "--agent",
        "text",
        "--name",
        "during",
        "[lines 2]",
    ]))
    .expect("json");
    let during_id = during["id"].as_str().expect("id").to_owned();
    n.id(before["id"].as_str().expect("id"));
    n.id(&during_id);
    check(
        n,
        &server.wait_status(&during_id, "completed"),
        row("during", "<id2>", "completed"),
    );
    let before_id = before["id"].as_str().expect("id").to_owned();
    let mut page = server.result("lulu/list", json!({}));
    if page["sessions"][1]["status"] != "completed" {
        server.wait_status(&before_id, "completed");
        page = server.result("lulu/list", json!({}));
    }
    check(
        n,
        &page,
        json!({"sessions": [row("during", "<id2>", "completed"), row("before", "<id1>", "completed")], "next": null}),
    );
    cli(&["rm", &before_id]);
    let removed = server.notification("sessionRemoved", |message| {
        message["method"] == "lulu/sessionRemoved"
    });
    check(n, &removed["params"], json!({"id": "<id1>"}));
    assert_eq!(server.shutdown().code(), Some(0));
}
