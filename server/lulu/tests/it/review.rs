//! Review through the real `lulu serve`: comments in the database (across a restart and in a
//! second server), `lulu/commentsChanged`, the one prompt the agent receives, sent once.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{Normalizer, Server, check, init_options, make_repo};

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    /// The text agent appends every prompt it receives here.
    prompts: PathBuf,
    options: Value,
    normalizer: Normalizer,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().canonicalize().expect("canonical");
    let repo = make_repo(&root.join("repo"), "basic");
    let prompts = root.join("prompts.txt");
    let mut options = init_options(&root.join("state"));
    options["agents"]["text"]["env"] = json!({ "FAKE_AGENT_PROMPTS": prompts });
    Setup {
        normalizer: Normalizer::new(&root),
        _tmp: tmp,
        root,
        repo,
        prompts,
        options,
    }
}

fn started(logs: &Path, repo: &Path, options: &Value) -> Server {
    let mut server = Server::start(logs);
    let response = server.initialize(&[repo], options.clone());
    assert!(response.get("result").is_some(), "{response}");
    server
}

/// The prompts the agent received, in order.
fn received(prompts: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(prompts).unwrap_or_default();
    text.split("=== prompt\n")
        .filter(|part| !part.is_empty())
        .map(|part| part.trim_end_matches("=== end\n").trim_end().to_owned())
        .collect()
}

fn comment(path: &str, line: i64, side: &str, text: &str, sent: bool) -> Value {
    json!({"commentId": if sent { "<sent>" } else { "<draft>" }, "path": path, "line": line,
           "side": side, "text": text, "createdAt": "<time>",
           "sentAt": if sent { json!("<time>") } else { Value::Null }})
}

/// `lulu/comments` with comment ids hidden (drafts `<draft>`, sent `<sent>`).
fn comments(server: &mut Server, n: &mut Normalizer, id: &str) -> Value {
    let mut result = n.apply(&server.result("lulu/comments", json!({"id": id})));
    for comment in result["comments"].as_array_mut().expect("comments") {
        comment["commentId"] = json!(if comment["sentAt"].is_null() {
            "<draft>"
        } else {
            "<sent>"
        });
    }
    result
}

fn comments_changed(server: &mut Server, id: &str) {
    let message = server.notification("lulu/commentsChanged", |message| {
        message["method"] == "lulu/commentsChanged" && message["params"]["id"] == id
    });
    assert_eq!(message["params"], json!({"id": id}));
}

#[test]
fn drafts_persist_across_a_restart_show_in_a_second_server_and_go_to_the_agent_once() {
    let Setup {
        _tmp,
        root,
        repo,
        prompts,
        options,
        mut normalizer,
    } = setup();
    let n = &mut normalizer;
    let logs = root.join("logs");
    let mut a = started(&logs, &repo, &options);
    let mut b = started(&logs, &repo, &options);
    let spawned = a.result(
        "lulu/spawn",
        json!({"prompt": "[edit]", "name": "reviewed"}),
    );
    let id = spawned["id"].as_str().expect("id").to_owned();
    a.wait_status(&id, "completed");
    check(n, &json!(id), json!("<id1>"));

    let first = a.result(
        "lulu/comment",
        json!({"id": id, "path": "src/lib.txt", "line": 2, "text": "say two in words"}),
    );
    let first_id = first["commentId"].as_str().expect("commentId").to_owned();
    check(
        n,
        &first,
        json!({"commentId": "<id2>", "path": "src/lib.txt", "line": 2, "side": "new",
               "text": "say two in words", "createdAt": "<time>", "sentAt": null}),
    );
    comments_changed(&mut b, &id);
    a.result(
        "lulu/comment",
        json!({"id": id, "path": "./README.md", "line": 1, "side": "old",
               "text": "a better title\nwith the project's name"}),
    );
    let doomed = a.result(
        "lulu/comment",
        json!({"id": id, "path": "notes/text.md", "line": 1, "text": "never mind"}),
    );
    assert_eq!(
        a.result(
            "lulu/uncomment",
            json!({"id": id, "commentId": doomed["commentId"]})
        ),
        json!({})
    );
    comments_changed(&mut b, &id);
    let drafts = json!({"comments": [
        comment("src/lib.txt", 2, "new", "say two in words", false),
        comment("README.md", 1, "old", "a better title\nwith the project's name", false),
    ]});
    assert_eq!(
        comments(&mut b, n, &id),
        drafts,
        "the second server sees them"
    );

    // A restart loses nothing.
    assert_eq!(a.shutdown().code(), Some(0));
    let mut c = started(&logs, &repo, &options);
    assert_eq!(comments(&mut c, n, &id), drafts, "after a restart");

    // The review: one prompt, each comment with its place, context and text, then the message.
    let row = c.result(
        "lulu/review",
        json!({"id": id, "message": "and add a test"}),
    );
    check(n, &row["status"], json!("starting"));
    c.wait_status(&id, "completed");
    comments_changed(&mut b, &id);
    let expected_prompt = "Review of your changes: 2 comments from the user, all at once. Address each one, then commit your work.

1. src/lib.txt, line 2:
    1 | line one
  > 2 | line two
    3 | line three
    4 | line four
   Comment: say two in words

2. README.md, line 1 (of the base version, before your changes):
  > 1 | # Fixture project
    2 |
    3 | A small repository for lulu tests.
   Comment: a better title
   with the project's name

And the user says:
and add a test";
    assert_eq!(
        received(&prompts),
        ["[edit]".to_owned(), expected_prompt.to_owned()]
    );
    let sent = json!({"comments": [
        comment("src/lib.txt", 2, "new", "say two in words", true),
        comment("README.md", 1, "old", "a better title\nwith the project's name", true),
    ]});
    assert_eq!(comments(&mut b, n, &id), sent);

    // A second review sends only what is new: here, a message and no comment.
    c.result(
        "lulu/review",
        json!({"id": id, "message": "one more thing"}),
    );
    c.wait_status(&id, "completed");
    assert_eq!(received(&prompts)[2], "one more thing");

    // Refused: nothing to send, a sent comment's deletion, a running session.
    let refusals = [
        (
            "lulu/review",
            json!({"id": id}),
            json!({"code": -32602, "message": "session <id1> has no draft comment and no message was given; nothing to send"}),
        ),
        (
            "lulu/review",
            json!({"id": id, "message": "  \n "}),
            json!({"code": -32602, "message": "session <id1> has no draft comment and no message was given; nothing to send"}),
        ),
        (
            "lulu/uncomment",
            json!({"id": id, "commentId": first_id}),
            json!({"code": -32602, "message": "comment <id2> was sent to the agent already; sent comments stay"}),
        ),
    ];
    for (method, params, expected) in refusals {
        let response = c.call(method, params.clone());
        check(n, &response["error"], expected);
    }
    let running = c.result(
        "lulu/spawn",
        json!({"prompt": "[sleep 30]", "name": "busy"}),
    );
    let running_id = running["id"].as_str().expect("id").to_owned();
    assert_eq!(n.id(&running_id), "<id4>");
    c.wait_status(&running_id, "running");
    c.result(
        "lulu/comment",
        json!({"id": running_id, "path": "README.md", "line": 1, "text": "drafts wait"}),
    );
    let response = c.call("lulu/review", json!({"id": running_id}));
    check(
        n,
        &response["error"],
        json!({"code": -32010, "message": "session <id4> is still running; send the review once it has ended"}),
    );
    // The running session's agent records its own prompt as it starts (maybe after the row
    // reads `running`): the fourth prompt; the refused review sent nothing more.
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    while received(&prompts).len() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    c.result("lulu/cancel", json!({"id": running_id}));
    c.wait_status(&running_id, "failed");
    assert_eq!(received(&prompts).len(), 4, "nothing more was sent");
    assert_eq!(b.shutdown().code(), Some(0));
    assert_eq!(c.shutdown().code(), Some(0));
}

#[test]
fn hostile_comments_are_refused_naming_the_field() {
    let Setup {
        _tmp,
        root,
        repo,
        options,
        mut normalizer,
        ..
    } = setup();
    let n = &mut normalizer;
    let mut server = started(&root.join("logs"), &repo, &options);
    let spawned = server.result("lulu/spawn", json!({"prompt": "hi", "name": "target"}));
    let id = spawned["id"].as_str().expect("id").to_owned();
    assert_eq!(n.id(&id), "<id1>");
    server.wait_status(&id, "completed");
    let session = server.result("lulu/session", json!({"id": id}));
    let worktree = PathBuf::from(session["worktreePath"].as_str().expect("worktree"));
    std::os::unix::fs::symlink("/etc", worktree.join("outside")).expect("symlink");

    let base = json!({"id": id, "path": "src/lib.txt", "line": 1, "text": "ok"});
    let with = |field: &str, value: Value| {
        let mut params = base.clone();
        params[field] = value;
        params
    };
    let huge = "x".repeat(9000);
    let cases = [
        (
            with("path", json!("../../etc/passwd")),
            "`path` \"../../etc/passwd\" has a `..` part; give the plain path inside the session's worktree",
        ),
        (
            with("path", json!("/etc/passwd")),
            "`path` must be relative to the session's worktree (as lulu/diff gives it), not the absolute path \"/etc/passwd\"",
        ),
        (
            with("path", json!("outside/passwd")),
            "`path` \"outside/passwd\" leads outside the session's worktree",
        ),
        (
            with("path", json!("")),
            "`path` is empty; give the file's path relative to the session's worktree",
        ),
        (
            with("path", json!("a\u{0}b")),
            "`path` holds the control character U+0000 (only newlines and tabs are allowed)",
        ),
        (
            with("line", json!(0)),
            "`line` must be between 1 and 100000000 (lines count from 1), not 0",
        ),
        (
            with("line", json!(-4)),
            "`line` must be between 1 and 100000000 (lines count from 1), not -4",
        ),
        (
            with("line", json!("two")),
            "invalid params for lulu/comment: `line`: invalid type: string \"two\", expected i64",
        ),
        (
            with("text", json!(" \n ")),
            "`text` is empty; say what should change",
        ),
        (
            with("text", json!(huge)),
            "`text` is 9000 bytes long; the limit is 8192 bytes",
        ),
        (
            with("text", json!("red \u{1b}[31m")),
            "`text` holds the control character U+001B (only newlines and tabs are allowed)",
        ),
        (
            with("side", json!("middle")),
            "invalid params for lulu/comment: `side`: unknown variant `middle`, expected `new` or `old`",
        ),
    ];
    for (params, message) in cases {
        let response = server.call("lulu/comment", params.clone());
        check(
            n,
            &response["error"],
            json!({"code": -32602, "message": message}),
        );
    }
    let response = server.call(
        "lulu/comment",
        json!({"id": "0190f0e0-0000-7000-8000-000000000000", "path": "a", "line": 1, "text": "x"}),
    );
    check(
        n,
        &response["error"],
        json!({"code": -32001, "message": "no session with id \"0190f0e0-0000-7000-8000-000000000000\""}),
    );
    let response = server.call(
        "lulu/uncomment",
        json!({"id": id, "commentId": "0190f0e0-0000-7000-8000-000000000001"}),
    );
    check(
        n,
        &response["error"],
        json!({"code": -32602, "message": "`commentId` \"0190f0e0-0000-7000-8000-000000000001\" is no comment of session <id1>"}),
    );
    assert_eq!(
        server.result("lulu/comments", json!({"id": id})),
        json!({"comments": []}),
        "nothing was stored"
    );
    assert_eq!(server.shutdown().code(), Some(0));
}

/// Runs the `lulu` CLI on a state dir from `dir`; returns (success, stdout, stderr).
fn cli(state: &Path, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lulu"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run lulu");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_cli_comments_lists_and_sends_a_review() {
    let Setup {
        _tmp,
        root,
        repo,
        prompts,
        ..
    } = setup();
    let state = root.join("cli-state");
    std::fs::create_dir_all(&state).expect("state dir");
    std::fs::write(
        state.join("config.toml"),
        format!(
            "default_agent = \"text\"\n[agents.text]\ncommand = [{:?}, \"{{prompt}}\"]\nformat = \"text\"\nenv = {{ FAKE_AGENT_PROMPTS = {:?} }}\n",
            crate::support::fixture("agents/fake-text").display().to_string(),
            prompts.display().to_string()
        ),
    )
    .expect("config.toml");
    let (ok, out, err) = cli(&state, &repo, &["spawn", "--name", "cli", "hello"]);
    assert!(ok, "{err}");
    let id = out.split_whitespace().next().expect("id").to_owned();
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    while !cli(&state, &repo, &["show", &id]).1.contains("completed") {
        assert!(
            std::time::Instant::now() < deadline,
            "the session never completed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let check = |args: &[&str], ok: bool, expected: &str| {
        let (success, out, err) = cli(&state, &repo, args);
        let text = if ok { out } else { err };
        let text = text.replace(&id, "<id>");
        let text: String = text
            .lines()
            .map(|line| match line.split_once("  ") {
                Some((first, rest)) if first.len() == 36 => format!("<comment>  {rest}\n"),
                _ => format!("{line}\n"),
            })
            .collect();
        assert_eq!((success, text.as_str()), (ok, expected), "lulu {args:?}");
    };
    check(
        &["comment", &id, "src/lib.txt:2", "say", "two"],
        true,
        "<comment>  draft  src/lib.txt:2\n",
    );
    check(
        &["comment", &id, "src/lib.txt", "x"],
        false,
        "lulu: \"src/lib.txt\" is not PATH:LINE (for example src/lib.rs:12)\n",
    );
    check(
        &["comment", &id, "../secret:1", "x"],
        false,
        "lulu: `path` \"../secret\" has a `..` part; give the plain path inside the session's worktree\n",
    );
    check(
        &["comments", &id],
        true,
        "<comment>  draft  src/lib.txt:2\n    say two\n",
    );
    check(
        &["review", &id, "thanks"],
        true,
        "<id>  cli  (run 2, 1 comment sent)\n",
    );
    check(
        &["comments", &id],
        true,
        "<comment>  sent   src/lib.txt:2\n    say two\n",
    );
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    while received(&prompts).len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the review never reached the agent"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let prompt = &received(&prompts)[1];
    assert!(
        prompt.contains("1. src/lib.txt, line 2:\n")
            && prompt.ends_with("And the user says:\nthanks"),
        "{prompt}"
    );
}

#[test]
fn of_two_reviews_at_once_one_sends_and_the_other_is_refused() {
    let Setup {
        _tmp,
        root,
        repo,
        prompts,
        options,
        mut normalizer,
    } = setup();
    let n = &mut normalizer;
    let logs = root.join("logs");
    let mut a = started(&logs, &repo, &options);
    let mut b = started(&logs, &repo, &options);
    let spawned = a.result("lulu/spawn", json!({"prompt": "hi", "name": "raced"}));
    let id = spawned["id"].as_str().expect("id").to_owned();
    assert_eq!(n.id(&id), "<id1>");
    a.wait_status(&id, "completed");
    // The comment makes the reviewed run last a while ("[sleep 2]" is the fake agent's own).
    a.result(
        "lulu/comment",
        json!({"id": id, "path": "README.md", "line": 1, "text": "[sleep 2] take your time"}),
    );
    let from_a = a.send_request("lulu/review", json!({"id": id}));
    let from_b = b.send_request("lulu/review", json!({"id": id}));
    let answers = [a.response(&json!(from_a)), b.response(&json!(from_b))];
    let succeeded = answers
        .iter()
        .filter(|answer| answer.get("result").is_some())
        .count();
    assert_eq!(succeeded, 1, "{answers:?}");
    let refused = answers
        .iter()
        .find(|answer| answer.get("error").is_some())
        .expect("one refusal");
    let message = refused["error"]["message"].as_str().expect("message");
    assert_eq!(refused["error"]["code"], json!(-32010), "{refused}");
    // Refused either before continuing (the review saw the new run) or by continuing's own
    // compare-and-set (both saw the session ended): the run may be starting or running by then.
    let refusals: Vec<String> = ["starting", "running"]
        .iter()
        .map(|status| format!("session <id1> is still {status}; send the review once it has ended"))
        .collect();
    let message = n.apply(&json!(message));
    assert!(
        refusals.iter().any(|refusal| message == json!(refusal)),
        "{message}"
    );
    a.wait_status(&id, "completed");
    let sent = received(&prompts);
    assert_eq!(sent.len(), 2, "the review went once: {sent:?}");
    assert!(
        sent[1].contains("Comment: [sleep 2] take your time"),
        "{}",
        sent[1]
    );
    assert_eq!(a.shutdown().code(), Some(0));
    assert_eq!(b.shutdown().code(), Some(0));
}
