//! Landing, syncing and pushing through the real `lulu serve` and the real CLI: real repositories
//! from the fixture script, the scripted fake agents, git as the oracle, whole-JSON comparisons.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Normalizer, Server, check, init_options, make_repo};

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Lulu Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@lulu.invalid")
        .env("GIT_COMMITTER_NAME", "Lulu Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@lulu.invalid")
        .output()
        .expect("git");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    state: PathBuf,
    n: Normalizer,
}

fn world() -> World {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().canonicalize().expect("canonical");
    let repo = make_repo(&root.join("repo"), "basic");
    World {
        state: root.join("state"),
        n: Normalizer::new(&root),
        repo,
        root,
        _tmp: tmp,
    }
}

/// Starts a server on the world's repository, with `env` on top of the test's environment.
fn server(world: &World, env: &[(&str, &Path)]) -> Server {
    let mut server = Server::start_with_env(&world.root.join("logs"), env);
    server.initialize(&[&world.repo], init_options(&world.state));
    server
}

/// Spawns a session with the fake text agent and waits for it to complete; its id.
fn completed_session(server: &mut Server, prompt: &str, name: &str) -> String {
    let row = server.result("lulu/spawn", json!({"prompt": prompt, "name": name}));
    let id = row["id"].as_str().expect("id").to_owned();
    let done = server.wait_status(&id, "completed");
    assert_eq!(done["status"], "completed", "{done}");
    id
}

fn error_of(response: &Value) -> Value {
    response
        .get("error")
        .cloned()
        .unwrap_or_else(|| panic!("expected an error, got {response}"))
}

#[test]
fn land_squashes_into_the_base_and_the_branch_counts_as_merged() {
    let mut w = world();
    let mut server = server(&w, &[]);
    let id = completed_session(&mut server, "take notes [edit] [dirty]", "notes");
    w.n.id(&id);

    let detail = server.result("lulu/session", json!({"id": id}));
    check(
        &mut w.n,
        &json!({"baseBranch": detail["baseBranch"], "ahead": detail["ahead"],
                "behind": detail["behind"], "landed": detail["landed"]}),
        json!({"baseBranch": "main", "ahead": 1, "behind": 0, "landed": null}),
    );
    let bad = server.call("lulu/land", json!({"id": id, "strategy": "octopus"}));
    check(
        &mut w.n,
        &error_of(&bad),
        json!({"code": -32602, "message": "`strategy` must be \"squash\", \"rebase\" or \"merge\", not \"octopus\""}),
    );

    let landed = server.result("lulu/land", json!({"id": id}));
    check(
        &mut w.n,
        &landed,
        json!({"into": "main", "commit": "<commit>", "strategy": "squash", "files": 2}),
    );
    assert_eq!(
        git(&w.repo, &["rev-parse", "main"]).trim(),
        landed["commit"]
    );
    // The squash commit: the session's name and prompt; the uncommitted file came along.
    assert_eq!(
        git(&w.repo, &["log", "--format=%s%n%b", "-1", "main"]),
        "notes\ntake notes [edit] [dirty]\n"
    );
    assert_eq!(
        git(&w.repo, &["show", "--format=", "--name-only", "main"]),
        "notes/text.md\nuntracked.txt\n"
    );
    assert_eq!(git(&w.repo, &["status", "--porcelain"]), "");
    git(&w.repo, &["fsck", "--strict", "--no-progress"]);
    let detail = server.result("lulu/session", json!({"id": id}));
    check(
        &mut w.n,
        &json!({"baseBranch": detail["baseBranch"], "ahead": detail["ahead"],
                "behind": detail["behind"], "landed": detail["landed"]}),
        json!({"baseBranch": "main", "ahead": 2, "behind": 1,
               "landed": {"into": "main", "commit": "<commit>", "strategy": "squash", "at": "<time>"}}),
    );
    assert_eq!(detail["landed"]["commit"], landed["commit"]);

    let again = server.call("lulu/land", json!({"id": id}));
    check(
        &mut w.n,
        &error_of(&again),
        json!({"code": -32016, "message": "nothing to land: \"main\" already has every change of \"lulu/notes-<tail1>\""}),
    );

    // Landed: removing it with its branch needs no force.
    let branch = detail["branch"].as_str().expect("branch").to_owned();
    assert_eq!(
        server.result("lulu/remove", json!({"id": id, "deleteBranch": true})),
        json!({})
    );
    assert_eq!(git(&w.repo, &["branch", "--list", &branch]), "");
    assert_eq!(server.shutdown().code(), Some(0));
}

#[test]
fn land_refuses_a_dirty_path_and_conflicts_with_the_files_named() {
    let mut w = world();
    let mut server = server(&w, &[]);
    let id = completed_session(&mut server, "rewrite [write src/lib.txt]", "rewrite");
    w.n.id(&id);

    // The user's own edit to the file the landing changes: refused, nothing touched.
    std::fs::write(w.repo.join("src/lib.txt"), "my work in progress\n").expect("write");
    let main_before = git(&w.repo, &["rev-parse", "main"]);
    let refused = server.call("lulu/land", json!({"id": id, "strategy": "merge"}));
    check(
        &mut w.n,
        &error_of(&refused),
        json!({"code": -32011,
               "message": "\"main\" is checked out in <tmp>/repo with uncommitted changes to src/lib.txt, which the landing changes; commit or stash them first",
               "data": {"files": ["src/lib.txt"]}}),
    );
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), main_before);
    assert_eq!(
        std::fs::read_to_string(w.repo.join("src/lib.txt")).expect("read"),
        "my work in progress\n"
    );

    // The user commits it instead: now the landing conflicts.
    git(&w.repo, &["commit", "-qam", "mine"]);
    let main_before = git(&w.repo, &["rev-parse", "main"]);
    let conflict = server.call("lulu/land", json!({"id": id, "strategy": "rebase"}));
    check(
        &mut w.n,
        &error_of(&conflict),
        json!({"code": -32015,
               "message": "landing \"lulu/rewrite-<tail1>\" into \"main\" conflicts in src/lib.txt",
               "data": {"files": ["src/lib.txt"]}}),
    );
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), main_before);
    assert_eq!(git(&w.repo, &["status", "--porcelain"]), "");
    assert_eq!(server.shutdown().code(), Some(0));
}

#[test]
fn sync_conflicts_go_back_to_the_agent_which_resolves_and_commits() {
    let mut w = world();
    let mut server = server(&w, &[]);
    let id = completed_session(&mut server, "rewrite [write src/lib.txt]", "rewrite");
    w.n.id(&id);
    let worktree = PathBuf::from(
        server.result("lulu/session", json!({"id": id}))["worktreePath"]
            .as_str()
            .expect("worktree"),
    );
    let up_to_date = server.result("lulu/sync", json!({"id": id}));
    check(
        &mut w.n,
        &json!({"result": up_to_date["result"], "files": up_to_date["files"]}),
        json!({"result": "upToDate", "files": []}),
    );

    std::fs::write(w.repo.join("src/lib.txt"), "main's version\n").expect("write");
    git(&w.repo, &["commit", "-qam", "main: rewrite"]);
    let synced = server.result("lulu/sync", json!({"id": id}));
    check(
        &mut w.n,
        &synced,
        json!({"result": "conflicts", "files": ["src/lib.txt"],
               "session": {"id": "<id1>", "name": "rewrite", "repo": "<tmp>/repo", "status": "starting",
                           "createdAt": "<time>", "lastActivityAt": "<time>"}}),
    );
    // The agent was asked with the files named, resolved, and committed the merge.
    let done = server.wait_status(&id, "completed");
    assert_eq!(done["status"], "completed", "{done}");
    let transcript = server.result("lulu/transcript", json!({"id": id}));
    let texts: Vec<&str> = transcript["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["text"].as_str())
        .collect();
    assert!(
        texts
            .iter()
            .any(|text| text.contains("left conflicts in:\n- src/lib.txt")),
        "{texts:#?}"
    );
    assert!(texts.contains(&"resolved: src/lib.txt"), "{texts:#?}");
    let parents = git(&worktree, &["rev-list", "--parents", "-n1", "HEAD"]);
    assert_eq!(parents.split_whitespace().count(), 3, "a merge commit");
    assert_eq!(git(&worktree, &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(worktree.join("src/lib.txt")).expect("read"),
        "src/lib.txt, as the agent wrote it\nmain's version\n"
    );
    let detail = server.result("lulu/session", json!({"id": id}));
    assert_eq!(
        (detail["ahead"].clone(), detail["behind"].clone()),
        (json!(2), json!(0))
    );
    // And now it lands cleanly.
    let landed = server.result("lulu/land", json!({"id": id}));
    assert_eq!(landed["files"], 1);
    assert_eq!(git(&w.repo, &["status", "--porcelain"]), "");

    // --no-agent: the merge stays in the worktree for the user; land refuses meanwhile.
    std::fs::write(w.repo.join("src/lib.txt"), "main again\n").expect("write");
    git(&w.repo, &["commit", "-qam", "main: again"]);
    std::fs::write(worktree.join("src/lib.txt"), "the session again\n").expect("write");
    let synced = server.result("lulu/sync", json!({"id": id, "agentResolves": false}));
    assert_eq!(synced["result"], "conflicts");
    assert_eq!(synced["session"]["status"], "completed");
    assert_eq!(
        git(&worktree, &["status", "--porcelain"]),
        "UU src/lib.txt\n"
    );
    let refused = server.call("lulu/land", json!({"id": id}));
    check(
        &mut w.n,
        &error_of(&refused),
        json!({"code": -32015,
               "message": "the worktree <tmp>/repo/.lulu/worktrees/rewrite-<tail1> has unresolved conflicts in src/lib.txt",
               "data": {"files": ["src/lib.txt"]}}),
    );
    assert_eq!(server.shutdown().code(), Some(0));
}

fn gh_stand_in(root: &Path) -> (PathBuf, PathBuf) {
    let bin = root.join("gh-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let record = root.join("gh-arguments");
    let script = format!(
        "#!/bin/sh\nfor argument in \"$@\"; do printf '%s\\n' \"$argument\" >> {}; done\necho 'Creating pull request'\necho https://github.com/me/project/pull/7\n",
        record.display()
    );
    let gh = bin.join("gh");
    std::fs::write(&gh, script).expect("gh");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (bin, record)
}

#[test]
fn push_to_a_bare_repository_and_open_a_pull_request_through_gh() {
    let mut w = world();
    let bare = make_repo(&w.root.join("remote.git"), "bare");
    git(
        &w.repo,
        &[
            "remote",
            "add",
            "origin",
            &format!("file://{}", bare.display()),
        ],
    );
    let (gh_bin, record) = gh_stand_in(&w.root);
    let plain_path = std::env::var("PATH").unwrap_or_default();
    assert!(
        std::env::split_paths(&plain_path).all(|dir| !dir.join("gh").exists()),
        "this test wants a machine without gh"
    );
    let mut server = server(&w, &[]);
    let nothing = completed_session(&mut server, "look around", "nothing");
    w.n.id(&nothing);
    let id = completed_session(&mut server, "take notes [edit]", "notes");
    w.n.id(&id);

    check(
        &mut w.n,
        &error_of(&server.call("lulu/push", json!({"id": nothing}))),
        json!({"code": -32016, "message": "nothing to push: the branch \"lulu/nothing-<tail1>\" has no commit beyond its base"}),
    );
    check(
        &mut w.n,
        &error_of(&server.call("lulu/push", json!({"id": id, "pullRequest": {}}))),
        json!({"code": -32017, "message": "`gh` is not installed (not on PATH); lulu needs it to open a pull request"}),
    );
    let failed = error_of(&server.call("lulu/push", json!({"id": id, "remote": "nowhere"})));
    check(
        &mut w.n,
        &json!({"code": failed["code"], "message": failed["message"]}),
        json!({"code": -32018, "message": "`git push` failed: and the repository exists."}),
    );
    let pushed = server.result("lulu/push", json!({"id": id}));
    check(
        &mut w.n,
        &pushed,
        json!({"remote": "origin", "branch": "lulu/notes-<tail2>", "url": null}),
    );
    let branch = pushed["branch"].as_str().expect("branch");
    assert_eq!(
        git(&bare, &["rev-parse", branch]),
        git(&w.repo, &["rev-parse", branch])
    );
    assert_eq!(server.shutdown().code(), Some(0));

    // With a `gh` on PATH (a stand-in that records its arguments: no forge is reachable here).
    let path = format!("{}:{plain_path}", gh_bin.display());
    let mut server = self::server(&w, &[("PATH", Path::new(&path))]);
    let pushed = server.result(
        "lulu/push",
        json!({"id": id, "pullRequest": {"title": "Take notes", "draft": true}}),
    );
    check(
        &mut w.n,
        &pushed,
        json!({"remote": "origin", "branch": "lulu/notes-<tail2>", "url": "https://github.com/me/project/pull/7"}),
    );
    let arguments = std::fs::read_to_string(&record).expect("gh ran");
    check(
        &mut w.n,
        &json!(arguments.lines().collect::<Vec<_>>()),
        json!([
            "pr",
            "create",
            "--head",
            "lulu/notes-<tail2>",
            "--base",
            "main",
            "--title",
            "Take notes",
            "--body",
            "take notes [edit]",
            "--draft"
        ]),
    );
    assert_eq!(server.shutdown().code(), Some(0));
}

fn lulu(world: &World, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lulu"))
        .args(args)
        .arg("--state-dir")
        .arg(&world.state)
        .current_dir(&world.repo)
        .output()
        .expect("lulu");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_lands_syncs_pushes_and_shows_where_the_branch_stands() {
    let mut w = world();
    let mut server = server(&w, &[]);
    let id = completed_session(&mut server, "take notes [edit]", "notes");
    assert_eq!(server.shutdown().code(), Some(0));
    w.n.id(&id);
    let short = &id[..13];

    let (ok, out, _) = lulu(&w, &["show", short]);
    assert!(ok);
    assert!(
        out.contains("base branch:  main\nahead/behind: 1 ahead, 0 behind\nlanded:       no\n"),
        "{out}"
    );
    let (ok, out, err) = lulu(&w, &["sync", short, "--no-agent"]);
    assert!(ok, "{err}");
    assert_eq!(out, "up to date\n");
    let (ok, _, err) = lulu(&w, &["land", short, "--strategy", "octopus"]);
    assert!(!ok);
    assert!(
        err.contains("invalid value 'octopus' for '--strategy"),
        "{err}"
    );
    let (ok, out, err) = lulu(
        &w,
        &["land", short, "--strategy", "merge", "-m", "Notes, merged"],
    );
    assert!(ok, "{err}");
    let head = git(&w.repo, &["rev-parse", "main"]);
    assert_eq!(out, format!("landed into main (merge, 1 file): {head}"));
    assert_eq!(
        git(&w.repo, &["log", "-1", "--format=%s", "main"]),
        "Notes, merged\n"
    );
    let (ok, out, _) = lulu(&w, &["show", short]);
    assert!(ok);
    assert!(
        out.contains(&format!(
            "landed:       into main (merge) as {}",
            head.trim()
        )),
        "{out}"
    );
    let (ok, _, err) = lulu(&w, &["land", short]);
    assert!(!ok);
    assert_eq!(
        w.n.apply(&json!(err)),
        json!(
            "lulu: nothing to land: \"main\" already has every change of \"lulu/notes-<tail1>\"\n"
        )
    );
    let (ok, _, err) = lulu(&w, &["push", short]);
    assert!(!ok);
    assert!(err.contains("`git push` failed: "), "{err}");
}
