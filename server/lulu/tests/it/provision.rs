//! Worktrees ready to work in (issue 14), end to end through the real binary: `lulu.toml` and
//! `.worktreeinclude` in real repositories, the setup command in a real shell, trust, port
//! leases, and gc of old worktrees with `continue` bringing one back.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{self, PATIENCE, Server, fixture};

/// A repository with ignored files to copy, a state dir whose `text` agent is the fake one.
struct World {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    state_dir: PathBuf,
}

impl World {
    fn new(lulu_toml: &str) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let repo = support::make_repo(&root.join("repo"), "basic");
        let state_dir = root.join("state");
        std::fs::create_dir_all(&state_dir).expect("state dir");
        std::fs::write(
            state_dir.join("config.toml"),
            format!(
                "default_agent = \"text\"\n[agents.text]\ncommand = [{:?}, \"{{prompt}}\"]\nformat = \"text\"\n",
                fixture("agents/fake-text").display().to_string()
            ),
        )
        .expect("config.toml");
        let world = World {
            _dir: dir,
            root,
            repo,
            state_dir,
        };
        world.write("lulu.toml", lulu_toml);
        world
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.repo.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("folders");
        std::fs::write(path, text).expect("write");
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lulu"));
        command
            .args(args)
            .current_dir(&self.repo)
            .env("LULU_HOME", &self.state_dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("LULU_CANCEL_GRACE_MS", "1000")
            .env_remove("XDG_STATE_HOME")
            .stdin(std::process::Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run lulu")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "lulu {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    /// The one line lulu prints on stderr when it fails, with the temp dir as `<tmp>`.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "lulu {args:?} should have failed");
        let stderr = String::from_utf8(output.stderr).expect("utf-8 stderr");
        assert_eq!(stderr.lines().count(), 1, "one line of error: {stderr}");
        stderr
            .trim_end()
            .replace(&self.root.display().to_string(), "<tmp>")
    }

    fn spawn(&self, args: &[&str]) -> String {
        let mut full = vec!["spawn", "--json"];
        full.extend_from_slice(args);
        let row: Value = serde_json::from_str(&self.ok(&full)).expect("json row");
        row["id"].as_str().expect("id").to_owned()
    }

    fn detail(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["show", id, "--json"])).expect("json detail")
    }

    fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let detail = self.detail(id);
            if done(&detail) {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "session {id} never {what}: {detail}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_ended(&self, id: &str) -> Value {
        self.wait_for(id, "ended", |detail| {
            detail["status"] == "completed" || detail["status"] == "failed"
        })
    }

    /// The transcript as `stream kind: text` lines, lulu's own lines with their text only.
    fn transcript(&self, id: &str) -> Vec<String> {
        self.ok(&["logs", id, "--json"])
            .lines()
            .map(|line| {
                let event: Value = serde_json::from_str(line).expect("json event");
                format!(
                    "{} {}: {}",
                    event["stream"].as_str().expect("stream"),
                    event["kind"].as_str().expect("kind"),
                    event["text"].as_str().expect("text")
                )
                .replace(&self.root.display().to_string(), "<tmp>")
            })
            .collect()
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
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

    /// `git commit` in the repository, with `args`, as a fixed committer.
    fn commit(&self, args: &[&str]) -> String {
        let identity = ["-c", "user.name=t", "-c", "user.email=t@t", "commit"];
        self.git(&self.repo, &[identity.as_slice(), args].concat())
    }

    fn worktree_of(detail: &Value) -> PathBuf {
        PathBuf::from(detail["worktreePath"].as_str().expect("a worktree path"))
    }
}

/// Lines of `lines` that start with one of `prefixes`, in order.
fn only(lines: &[String], prefixes: &[&str]) -> Vec<String> {
    lines
        .iter()
        .filter(|line| prefixes.iter().any(|prefix| line.starts_with(prefix)))
        .cloned()
        .collect()
}

#[test]
fn includes_are_copied_and_setup_runs_before_the_agent() {
    let world = World::new(
        "[worktree]\ninclude = [\".env\", \"config/local/\", \"README.md\", \"link-out\", \"bin/*.sh\", \"notes.txt\"]\n\
         setup = \"echo first; echo second >&2; echo third; touch setup.marker\"\n",
    );
    world.write(".worktreeinclude", "# more\ndeep/**/secret.json\n");
    world.write(
        ".gitignore",
        "target/\n*.log\n.env\nconfig/local/\nlink-out\nbin/\ndeep/\nsetup.marker\n",
    );
    world.git(&world.repo, &["add", ".gitignore"]);
    world.commit(&["-qm", "ignore"]);
    world.write(".env", "API_KEY=local\n");
    std::fs::set_permissions(
        world.repo.join(".env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    world.write("config/local/db.json", "{\"port\": 5432}\n");
    world.write("deep/a/b/secret.json", "{}\n");
    world.write("bin/tool.sh", "#!/bin/sh\n");
    std::fs::set_permissions(
        world.repo.join("bin/tool.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    // A tracked file edited in the main checkout: the worktree keeps the committed one.
    world.write("README.md", "edited in the main checkout\n");
    // Untracked but not ignored: the user's work, not a file to copy.
    world.write("notes.txt", "mine\n");
    // A symlink that points out of the repository is copied as a link, never followed.
    world.write("../outside/secret.txt", "outside\n");
    std::os::unix::fs::symlink(
        world.root.join("outside/secret.txt"),
        world.repo.join("link-out"),
    )
    .expect("symlink");

    world.ok(&["trust", "--yes"]);
    let id = world.spawn(&["work [env]"]);
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], "completed", "{detail}");
    let worktree = World::worktree_of(&detail);
    let read = |path: &str| {
        std::fs::read_to_string(worktree.join(path)).unwrap_or_else(|_| format!("<missing {path}>"))
    };
    let mode = |path: &str| {
        std::fs::metadata(worktree.join(path))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(
        (
            read(".env"),
            mode(".env"),
            read("config/local/db.json"),
            read("deep/a/b/secret.json"),
            mode("bin/tool.sh")
        ),
        (
            "API_KEY=local\n".to_owned(),
            0o600,
            "{\"port\": 5432}\n".to_owned(),
            "{}\n".to_owned(),
            0o755
        )
    );
    assert_eq!(
        read("README.md"),
        "# Fixture project\n\nA small repository for lulu tests.\n"
    );
    assert!(
        !worktree.join("notes.txt").exists(),
        "an untracked file that git does not ignore is not copied"
    );
    let link = worktree.join("link-out");
    assert!(
        link.symlink_metadata()
            .expect("the link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&link).expect("read link"),
        world.root.join("outside/secret.txt")
    );
    assert!(
        worktree.join("setup.marker").exists(),
        "the setup ran in the worktree"
    );
    assert_eq!(
        world.git(&worktree, &["status", "--porcelain"]),
        "",
        "copied files are ignored there too"
    );

    let transcript = world.transcript(&id);
    // Lines of one stream keep their order; the two pipes are read side by side.
    assert!(
        transcript.contains(&"stderr setup: second".to_owned()),
        "{transcript:#?}"
    );
    assert_eq!(
        only(&transcript, &["lulu status: copied", "lulu status: running", "stdout setup", "lulu status: setup", "stdout text: starting"]),
        vec![
            "lulu status: copied 5 ignored files (42 bytes) from the main checkout: .env, bin/tool.sh, config/local/db.json, deep/a/b/secret.json, link-out".to_owned(),
            "lulu status: running setup: echo first; echo second >&2; echo third; touch setup.marker".to_owned(),
            "stdout setup: first".to_owned(),
            "stdout setup: third".to_owned(),
            "lulu status: setup finished".to_owned(),
            format!("lulu status: running {} 'work [env]'", fixture("agents/fake-text").display()),
            "stdout text: starting: work [env]".to_owned(),
        ]
    );
}

#[test]
fn a_failing_setup_fails_the_session_and_keeps_the_worktree() {
    let world = World::new(
        "[worktree]\nsetup = \"echo preparing; echo 'npm ERR! missing script' >&2; exit 3\"\n",
    );
    let id = world.spawn(&["--trust-setup", "never runs"]);
    let detail = world.wait_ended(&id);
    assert_eq!(
        (
            &detail["status"],
            &detail["outcome"],
            &detail["exitCode"],
            &detail["failureReason"]
        ),
        (
            &json!("failed"),
            &json!("setup_failed"),
            &json!(3),
            &json!(
                "setup failed: `echo preparing; echo 'npm ERR! missing script' >&2; exit 3` exited with code 3"
            )
        )
    );
    assert!(
        detail["failureDetail"]
            .as_str()
            .expect("detail")
            .contains("last stderr line: npm ERR! missing script")
    );
    assert!(World::worktree_of(&detail).is_dir(), "the worktree is kept");
    let transcript = world.transcript(&id);
    assert!(
        transcript.contains(&"stdout setup: preparing".to_owned()),
        "{transcript:#?}"
    );
    assert!(
        !transcript
            .iter()
            .any(|line| line.contains("starting: never runs")),
        "the agent never ran: {transcript:#?}"
    );
}

#[test]
fn a_setup_that_never_ends_is_cancelled_with_its_whole_group() {
    let world =
        World::new("[worktree]\nsetup = \"echo $$ > setup.pid; echo started; sleep 300 & wait\"\n");
    let id = world.spawn(&["--trust-setup", "never runs"]);
    let detail = world.wait_for(&id, "printed from its setup", |_| {
        world
            .transcript(&id)
            .contains(&"stdout setup: started".to_owned())
    });
    assert_eq!(
        detail["status"], "starting",
        "the session is starting while its setup runs"
    );
    let pid: i32 = std::fs::read_to_string(World::worktree_of(&detail).join("setup.pid"))
        .expect("setup.pid")
        .trim()
        .parse()
        .expect("a pid");
    world.ok(&["cancel", &id]);
    let detail = world.wait_ended(&id);
    assert_eq!(
        (&detail["status"], &detail["outcome"]),
        (&json!("failed"), &json!("cancelled"))
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lulu_group_gone(pid) {
        assert!(
            Instant::now() < deadline,
            "the setup's process group {pid} outlived the cancel"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn lulu_group_gone(group: i32) -> bool {
    // SAFETY: signal 0 only asks whether the group exists.
    unsafe { libc::kill(-group, 0) == -1 }
}

#[test]
fn setup_runs_only_once_its_exact_command_is_trusted() {
    let world = World::new("[worktree]\nsetup = \"touch trusted.marker\"\n");
    assert_eq!(
        world.fails(&["spawn", "task"]),
        "lulu: the setup command of <tmp>/repo is not trusted yet: `touch trusted.marker`; trust it with `lulu trust` (or lulu/trust), then spawn again"
    );
    assert_eq!(
        world.fails(&["trust"]),
        "lulu: not trusting the setup command of <tmp>/repo without a terminal to ask on; run `lulu trust --yes` to trust it as shown"
    );

    let mut server = Server::start(&world.root.join("logs"));
    server.initialize(&[&world.repo], support::init_options(&world.state_dir));
    let repo = world.repo.display().to_string();
    let refused = server.call("lulu/spawn", json!({ "prompt": "task" }));
    let setup_hash = refused["error"]["data"]["setupHash"]
        .as_str()
        .expect("setupHash")
        .to_owned();
    assert_eq!(
        refused["error"],
        json!({
            "code": -32021,
            "message": format!("the setup command of {repo} is not trusted yet: `touch trusted.marker`; trust it with `lulu trust` (or lulu/trust), then spawn again"),
            "data": { "repo": repo, "setup": "touch trusted.marker", "setupHash": git_hash("touch trusted.marker") },
        })
    );
    assert_eq!(
        server.result(
            "lulu/trust",
            json!({ "repo": repo, "setupHash": setup_hash })
        ),
        json!({})
    );
    let row = server.result("lulu/spawn", json!({ "prompt": "task" }));
    let id = row["id"].as_str().expect("id").to_owned();
    let detail = world.wait_ended(&id);
    assert_eq!(detail["status"], "completed", "{detail}");
    assert!(World::worktree_of(&detail).join("trusted.marker").exists());

    // A changed command asks again; the old hash no longer trusts it.
    world.write(
        "lulu.toml",
        "[worktree]\nsetup = \"touch trusted.marker; curl evil.invalid\"\n",
    );
    let refused = server.call("lulu/spawn", json!({ "prompt": "task" }));
    assert_eq!(refused["error"]["code"], -32021);
    assert_eq!(
        refused["error"]["data"]["setupHash"],
        json!(git_hash("touch trusted.marker; curl evil.invalid"))
    );
    let stale = server.call(
        "lulu/trust",
        json!({ "repo": repo, "setupHash": setup_hash }),
    );
    assert_eq!(
        stale["error"],
        json!({
            "code": -32602,
            "message": format!("the setup command of {repo} has changed since it was shown (its hash is now {}, not {setup_hash}); show it again before trusting it", git_hash("touch trusted.marker; curl evil.invalid")),
        })
    );
    server.shutdown();
}

/// What `git hash-object --stdin` prints for `text`: the oracle for setupHash.
fn git_hash(text: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("git")
        .args(["hash-object", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git hash-object");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("git hash-object");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

#[test]
fn concurrent_sessions_lease_disjoint_ports_that_are_free_afterwards() {
    let world = World::new("[worktree]\nports = 2\n");
    let first = world.spawn(&["one [ports] [sleep 3]"]);
    let second = world.spawn(&["two [ports] [sleep 3]"]);
    let ports_of = |id: &str| -> Vec<u16> {
        let detail = world.wait_for(id, "ran with its ports", |detail| {
            detail["status"] == "running"
                && detail["ports"].as_array().is_some_and(|p| p.len() == 2)
        });
        serde_json::from_value(detail["ports"].clone()).expect("ports")
    };
    let (one, two) = (ports_of(&first), ports_of(&second));
    assert!(
        one.iter().all(|port| !two.contains(port)),
        "disjoint: {one:?} {two:?}"
    );
    for (id, ports) in [(&first, &one), (&second, &two)] {
        let detail = world.wait_ended(id);
        assert_eq!(
            (&detail["status"], &detail["ports"]),
            (&json!("completed"), &json!([]))
        );
        let line = format!(
            "stdout text: port: {} ports: {},{}",
            ports[0], ports[0], ports[1]
        );
        assert!(
            world.transcript(id).contains(&line),
            "the agent got LULU_PORT and LULU_PORTS"
        );
        for port in ports {
            std::net::TcpListener::bind(("0.0.0.0", *port)).expect("the port is free again");
        }
    }
}

#[test]
fn gc_removes_only_clean_worktrees_of_old_ended_sessions_and_continue_restores_one() {
    let world = World::new("[worktree]\ninclude = [\".env\"]\n");
    world.write(".env", "KEY=1\n");
    world.write(".gitignore", "target/\n*.log\n.env\n");
    world.commit(&["-qam", "ignore .env"]);
    let clean = world.spawn(&["clean [edit]"]);
    let dirty = world.spawn(&["dirty [dirty]"]);
    let edited = world.spawn(&["edited"]);
    let running = world.spawn(&["running [sleep 30]"]);
    let clean_detail = world.wait_ended(&clean);
    let dirty_detail = world.wait_ended(&dirty);
    world.wait_for(&running, "ran", |detail| detail["status"] == "running");
    // An included copy edited in the worktree is ignored by git, yet it is work: kept.
    let edited_path = World::worktree_of(&world.wait_ended(&edited));
    std::fs::write(edited_path.join(".env"), "KEY=changed\n").expect("edit .env");
    let clean_path = World::worktree_of(&clean_detail);
    let dirty_path = World::worktree_of(&dirty_detail);

    assert_eq!(
        world.ok(&["gc", "--older-than", "1d"]).lines().last(),
        Some("no ended session's worktree is that old")
    );
    assert!(clean_path.is_dir());
    let report = world.ok(&["gc", "--older-than", "0s"]);
    assert!(
        report.contains(&format!(
            "removed worktree {}  ({clean};",
            clean_path.display()
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "kept    {dirty}  (uncommitted work: untracked.txt)"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "kept    {edited}  (1 ignored file not in a commit: .env; --include-ignored removes it)"
        )),
        "{report}"
    );
    assert!(!clean_path.exists(), "the clean worktree is gone");
    assert!(edited_path.join(".env").exists());
    assert!(
        dirty_path.join("untracked.txt").exists(),
        "uncommitted work is never removed"
    );
    let branch = clean_detail["branch"].as_str().expect("branch");
    assert!(
        world
            .git(&world.repo, &["branch", "--list", branch])
            .contains(branch),
        "the branch is kept"
    );
    assert!(
        !world
            .git(&world.repo, &["worktree", "list"])
            .contains(&clean_path.display().to_string())
    );
    let gone = world.detail(&clean);
    assert_eq!(
        (
            &gone["worktreePath"],
            &gone["worktreeGone"],
            &gone["branch"]
        ),
        (&json!(null), &json!(true), &json!(branch))
    );
    assert!(
        world
            .ok(&["ls"])
            .contains("clean [edit] (worktree removed)")
    );

    world.ok(&["continue", &clean, "again"]);
    let back = world.wait_ended(&clean);
    assert_eq!(
        (&back["status"], &back["worktreeGone"]),
        (&json!("completed"), &json!(false))
    );
    assert_eq!(World::worktree_of(&back), clean_path);
    assert_eq!(
        world.git(&clean_path, &["log", "--format=%s", "-1"]).trim(),
        "text: add notes",
        "its commits are back"
    );
    assert_eq!(
        std::fs::read_to_string(clean_path.join(".env")).expect(".env again"),
        "KEY=1\n"
    );
    world.ok(&["cancel", &running]);
}

/// The last line `lulu gc` printed about `id`, with the temp dir as `<tmp>`.
fn gc_line(world: &World, report: &str, id: &str) -> String {
    report
        .lines()
        .rfind(|line| line.contains(id))
        .unwrap_or_else(|| panic!("gc said nothing about {id}: {report}"))
        .replace(&world.root.display().to_string(), "<tmp>")
        .replace(id, "ID")
}

/// Ignored files are not in any commit: gc removes a worktree only when each of them is the
/// main checkout's file at the same path (a copy of an include), unless `--include-ignored`.
#[test]
fn gc_keeps_ignored_files_that_are_not_in_a_commit_unless_told_to_remove_them() {
    let world = World::new("[worktree]\ninclude = [\".env\"]\n");
    world.write(".env", "KEY=1\n");
    world.write(".gitignore", "target/\n*.log\n.env\n");
    world.git(&world.repo, &["add", ".gitignore"]);
    world.commit(&["-qm", "ignore .env"]);
    let outside = world.root.join("outside");
    std::fs::create_dir_all(&outside).expect("outside folder");
    std::fs::write(outside.join("precious"), "not lulu's\n").expect("precious");
    let copied = world.spawn(&["copied [edit]"]);
    let built = world.spawn(&["built [edit]"]);
    let edited = world.spawn(&["edited"]);
    let by_hand = world.spawn(&["by hand"]);
    let copied_path = World::worktree_of(&world.wait_ended(&copied));
    let built_path = World::worktree_of(&world.wait_ended(&built));
    let edited_path = World::worktree_of(&world.wait_ended(&edited));
    let by_hand_path = World::worktree_of(&world.wait_ended(&by_hand));
    // Build output and logs: ignored, in no commit, not in the main checkout.
    std::fs::create_dir_all(built_path.join("target/debug")).expect("target/");
    std::fs::write(built_path.join("target/debug/app"), "binary").expect("app");
    std::os::unix::fs::symlink(&outside, built_path.join("target/outside")).expect("symlink");
    for log in ["a.log", "b.log", "c.log"] {
        std::fs::write(built_path.join(log), "log").expect("log");
    }
    std::fs::write(edited_path.join(".env"), "KEY=changed\n").expect("edit .env");
    std::fs::remove_dir_all(&by_hand_path).expect("remove by hand");

    let report = world.ok(&["gc", "--older-than", "0s"]);
    assert_eq!(
        [
            gc_line(&world, &report, &copied),
            gc_line(&world, &report, &built),
            gc_line(&world, &report, &edited),
            gc_line(&world, &report, &by_hand),
        ],
        [
            format!("removed worktree {}  (ID; branch kept, `lulu continue` re-creates it)", copied_path.display()).replace(&world.root.display().to_string(), "<tmp>"),
            "kept    ID  (more than 3 ignored files not in a commit: a.log, b.log, c.log, …; --include-ignored removes them)".to_owned(),
            "kept    ID  (1 ignored file not in a commit: .env; --include-ignored removes it)".to_owned(),
            format!("removed worktree {}  (ID; branch kept, `lulu continue` re-creates it)", by_hand_path.display()).replace(&world.root.display().to_string(), "<tmp>"),
        ],
        "{report}"
    );
    assert!(
        !copied_path.exists(),
        "the copy of .env is in the main checkout: removed"
    );
    assert!(built_path.join("target/debug/app").exists());
    assert_eq!(
        std::fs::read_to_string(edited_path.join(".env")).expect(".env kept"),
        "KEY=changed\n"
    );
    assert_eq!(world.detail(&by_hand)["worktreeGone"], json!(true));

    let dry = world.ok(&["gc", "--older-than", "0s", "--include-ignored", "--dry-run"]);
    assert!(
        built_path.join("target/debug/app").exists(),
        "a dry run removes nothing: {dry}"
    );
    let report = world.ok(&["gc", "--older-than", "0s", "--include-ignored"]);
    for (id, path) in [(&built, &built_path), (&edited, &edited_path)] {
        assert!(
            gc_line(&world, &report, id).starts_with("removed worktree"),
            "{report}"
        );
        assert!(!path.exists());
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("precious")).expect("the link's target stays"),
        "not lulu's\n"
    );
    assert_eq!(
        std::fs::read_to_string(world.repo.join(".env")).expect("main checkout's .env"),
        "KEY=1\n"
    );
}

/// A folder gc cannot read might hold anything: the worktree stays, with or without
/// `--include-ignored`, and nothing in it is removed.
#[test]
fn gc_keeps_a_worktree_with_a_folder_it_cannot_read() {
    let world = World::new("");
    world.write("target/cache/blob", "cached\n");
    world.write("target/locked/secret", "secret\n");
    let id = world.spawn(&["locked [edit]"]);
    let path = World::worktree_of(&world.wait_ended(&id));
    for file in ["target/cache/blob", "target/locked/secret"] {
        std::fs::create_dir_all(path.join(file).parent().expect("parent")).expect("folder");
        std::fs::copy(world.repo.join(file), path.join(file)).expect("copy");
    }
    let locked = path.join("target/locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let gc = |extra: &[&str]| {
        let mut args = vec!["gc", "--older-than", "0s"];
        args.extend_from_slice(extra);
        // root reads anything: drop its power to bypass permissions for this run.
        let output = if is_root() {
            let mut command = Command::new("setpriv");
            command
                .args(["--bounding-set", "-dac_override,-dac_read_search"])
                .arg(env!("CARGO_BIN_EXE_lulu"))
                .args(&args)
                .current_dir(&world.repo)
                .env("LULU_HOME", &world.state_dir)
                .env_remove("XDG_STATE_HOME")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1");
            command.output().expect("run setpriv lulu gc")
        } else {
            world.run(&args)
        };
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        gc_line(
            &world,
            &String::from_utf8(output.stdout).expect("utf-8"),
            &id,
        )
    };
    let expected = "kept    ID  (could not read target/locked: Permission denied (os error 13))";
    assert_eq!(gc(&[]), expected);
    assert_eq!(gc(&["--include-ignored"]), expected);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert!(
        path.join("target/cache/blob").exists(),
        "nothing was removed"
    );
    assert!(path.join("README.md").exists(), "nothing was removed");
    assert!(
        path.join("target/locked/secret").exists(),
        "nothing was removed"
    );
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}

#[test]
fn a_broken_lulu_toml_or_an_include_out_of_the_repository_is_refused_by_name() {
    let world = World::new("[worktree]\nsetup = \"make\nports = 1\n");
    assert_eq!(
        world.fails(&["spawn", "task"]),
        "lulu: <tmp>/repo/lulu.toml: line 2, column 14: invalid basic string, expected `\"`"
    );
    world.write(
        "lulu.toml",
        "[worktree]\ninclude = [\"../../etc/passwd\"]\n",
    );
    assert_eq!(
        world.fails(&["spawn", "task"]),
        "lulu: <tmp>/repo/lulu.toml: the include pattern \"../../etc/passwd\" reaches outside the repository (`..`); patterns are relative to its top level"
    );
    world.write("lulu.toml", "");
    world.write(".worktreeinclude", ".env\nsub/../../x\n");
    assert_eq!(
        world.fails(&["spawn", "task"]),
        "lulu: <tmp>/repo/.worktreeinclude: line 2: the include pattern \"sub/../../x\" reaches outside the repository (`..`); patterns are relative to its top level"
    );
    let listed = world.ok(&["ls", "--json"]);
    assert_eq!(listed.trim(), "[]", "nothing was spawned");
}

#[test]
fn gc_through_the_protocol() {
    let world = World::new("");
    let mut server = Server::start(&world.root.join("logs"));
    server.initialize(&[&world.repo], support::init_options(&world.state_dir));
    let id = server.result("lulu/spawn", json!({ "prompt": "notes [edit]" }))["id"]
        .as_str()
        .expect("id")
        .to_owned();
    server.wait_status(&id, "completed");
    let path = World::worktree_of(&world.detail(&id)).display().to_string();
    std::fs::write(Path::new(&path).join("build.log"), "built\n").expect("an ignored file");
    assert_eq!(
        server.result("lulu/gc", json!({ "olderThan": "0s" })),
        json!({ "removed": [], "kept": [{ "id": id, "reason": "1 ignored file not in a commit: build.log" }] })
    );
    let removed = json!({ "removed": [{ "id": id, "worktreePath": path }], "kept": [] });
    assert_eq!(
        server.result(
            "lulu/gc",
            json!({ "olderThan": "0s", "dryRun": true, "includeIgnored": true })
        ),
        removed
    );
    assert!(Path::new(&path).is_dir(), "a dry run removes nothing");
    assert_eq!(
        server.result(
            "lulu/gc",
            json!({ "olderThan": "0s", "includeIgnored": true })
        ),
        removed
    );
    assert!(!Path::new(&path).exists());
    let detail = server.result("lulu/session", json!({ "id": id }));
    assert_eq!(
        (
            &detail["worktreePath"],
            &detail["worktreeGone"],
            &detail["ports"]
        ),
        (&json!(null), &json!(true), &json!([]))
    );
    assert_eq!(
        server.call("lulu/gc", json!({ "olderThan": "a week" }))["error"],
        json!({ "code": -32602, "message": "`olderThan`: \"a week\" is not an age like 7d, 12h, 30m or 45s" })
    );
    server.shutdown();
}
