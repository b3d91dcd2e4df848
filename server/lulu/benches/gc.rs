//! `cargo bench -p lulu --bench gc`: how long `lulu gc --older-than 0s --dry-run` takes to decide
//! on the worktrees of ended sessions of the 5,000-file fixture, each holding an included `.env`
//! (the main checkout's bytes) and a `node_modules/` of many files the main checkout lacks.
//! With `LULU_BENCH_BASELINE=/path/to/another/lulu` it times that binary too, rounds alternating,
//! and reports the ratio this / baseline.
//!
//! Not a test: it asserts nothing, it reports. `LULU_BENCH_ROUNDS` (default 10),
//! `LULU_BENCH_FILES` (default 5000), `LULU_BENCH_SESSIONS` (default 5),
//! `LULU_BENCH_MODULES` (files in each worktree's node_modules, default 10000).
#![allow(clippy::print_stdout)]

#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;
// Counting and timing, shared by the benchmarks.
mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use common::{env_number, median, ms};
use serde_json::json;
use support::{Server, init_options, make_repo};

/// One `gc --older-than 0s --dry-run` with `binary`; its time and its output.
fn gc(binary: &Path, repo: &Path, state_dir: &Path) -> (Duration, String) {
    let started = Instant::now();
    let output = Command::new(binary)
        .args(["gc", "--older-than", "0s", "--dry-run"])
        .current_dir(repo)
        .env("LULU_HOME", state_dir)
        .env_remove("XDG_STATE_HOME")
        .output()
        .expect("run lulu gc");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        elapsed,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn main() {
    let rounds = env_number("LULU_BENCH_ROUNDS", 10);
    let files = env_number("LULU_BENCH_FILES", 5000);
    let sessions = env_number("LULU_BENCH_SESSIONS", 5);
    let modules = env_number("LULU_BENCH_MODULES", 10_000);
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().canonicalize().expect("canonical");
    let repo = make_repo(&root.join("repo"), &format!("files:{files}"));
    std::fs::write(repo.join(".git/info/exclude"), ".env\nnode_modules/\n").expect("exclude");
    std::fs::write(repo.join(".env"), "KEY=1\n").expect(".env");
    std::fs::write(repo.join("lulu.toml"), "[worktree]\ninclude = [\".env\"]\n").expect("toml");
    let state_dir = root.join("state");

    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state_dir));
    for index in 0..sessions {
        let row = server.result(
            "lulu/spawn",
            json!({"prompt": "quick", "name": format!("bench {index}"), "repo": repo}),
        );
        let id = row["id"].as_str().expect("id").to_owned();
        server.wait_status(&id, "completed");
        let detail = server.result("lulu/session", json!({"id": id}));
        let worktree = PathBuf::from(detail["worktreePath"].as_str().expect("worktree"));
        for module in 0..modules {
            let folder = worktree.join(format!("node_modules/pkg{:03}", module / 100));
            std::fs::create_dir_all(&folder).expect("node_modules");
            std::fs::write(
                folder.join(format!("index{module}.js")),
                "module.exports = 1;\n",
            )
            .expect("module file");
        }
    }
    server.shutdown();
    Command::new("sync").status().expect("sync");

    let this = PathBuf::from(env!("CARGO_BIN_EXE_lulu"));
    let baseline = std::env::var_os("LULU_BENCH_BASELINE").map(PathBuf::from);
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    let (_, mine_said) = gc(&this, &repo, &state_dir); // warm the caches
    let mut theirs_said = String::new();
    for round in 0..rounds {
        let mut time_baseline = || {
            if let Some(baseline) = &baseline {
                let (elapsed, said) = gc(baseline, &repo, &state_dir);
                theirs.push(elapsed);
                theirs_said = said;
            }
        };
        if round % 2 == 0 {
            time_baseline();
            mine.push(gc(&this, &repo, &state_dir).0);
        } else {
            mine.push(gc(&this, &repo, &state_dir).0);
            time_baseline();
        }
    }
    let kept = |said: &str| said.lines().filter(|line| line.starts_with("kept")).count();
    println!(
        "lulu gc --older-than 0s --dry-run, {files}-file repository, {sessions} ended sessions with {modules} files in node_modules/ each, median of {rounds} rounds:"
    );
    let mine = median(&mut mine);
    println!("  this lulu:     {}  ({} kept)", ms(mine), kept(&mine_said));
    if !theirs.is_empty() {
        let theirs = median(&mut theirs);
        println!(
            "  baseline lulu: {}  ({} kept)",
            ms(theirs),
            kept(&theirs_said)
        );
        println!(
            "  ratio (this / baseline): {:.2}",
            mine.as_secs_f64() / theirs.as_secs_f64()
        );
    }
}
