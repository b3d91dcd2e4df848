//! The protocol of PROTOCOL.md, driven through the real `lulu serve` binary with real
//! `Content-Length` framing, real git repositories and the scripted fake agents.

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::{Normalizer, Server, check, init_options, make_repo};

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
                    "protocolVersion": 1,
                    "stateDir": "<tmp>/state",
                    "repos": ["<tmp>/repo"],
                    "methods": ["lulu/spawn", "lulu/list", "lulu/session", "lulu/transcript",
                        "lulu/watch", "lulu/unwatch", "lulu/cancel", "lulu/continue", "lulu/remove",
                        "lulu/diff", "lulu/agents"],
                    "notifications": ["lulu/sessionChanged", "lulu/sessionRemoved", "lulu/output"],
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
                {"name": "claude", "command": ["<tmp-fixtures>/agents/fake-claude", "-p", "{prompt}", "--output-format", "stream-json", "--verbose"], "format": "claude-stream-json", "available": true},
                {"name": "codex", "command": ["<tmp-fixtures>/agents/fake-codex", "exec", "--json", "{prompt}"], "format": "codex-json", "available": true},
                {"name": "missing", "command": ["lulu-no-such-program"], "format": "text", "available": false},
                {"name": "text", "command": ["<tmp-fixtures>/agents/fake-text", "{prompt}"], "format": "text", "available": true},
            ]}),
        )
        .to_string()
        .replace("<tmp-fixtures>", &support::fixture("").display().to_string().trim_end_matches('/').to_owned())
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
    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state));
    server.notify("exit", Value::Null);
    assert_eq!(server.wait().code(), Some(1));

    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state));
    server.close_stdin();
    assert_eq!(server.wait().code(), Some(1));
}
