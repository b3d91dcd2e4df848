//! `cargo bench -p lulu --bench provision`: what provisioning costs a spawn. Spawn request →
//! `running` notification through the real `lulu serve`, on two copies of the 5,000-file
//! fixture side by side: one plain, one whose `lulu.toml` includes 20 ignored files (4 KiB each)
//! and runs a trivial setup (`true`). Rounds alternate between the two; the report is each
//! median and the overhead ratio provisioned / plain.
//!
//! Not a test: it asserts nothing, it reports. `LULU_BENCH_ROUNDS` (default 10) per side,
//! `LULU_BENCH_FILES` (default 5000).
#![allow(clippy::print_stdout)]

#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;
// Counting and timing, shared by the benchmarks.
mod common;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::{env_number, median, ms};
use serde_json::json;
use support::{Server, init_options, make_repo};

const INCLUDED_FILES: usize = 20;

/// Writes the ignored files and the lulu.toml that lists them one by one.
fn provision(repo: &Path) {
    let mut include = Vec::new();
    for index in 0..INCLUDED_FILES {
        let relative = format!("local/config-{index:02}.env");
        let path = repo.join(&relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("folder");
        std::fs::write(&path, "X".repeat(4096)).expect("write");
        include.push(format!("{relative:?}"));
    }
    std::fs::write(repo.join(".git/info/exclude"), "local/\n").expect("exclude");
    std::fs::write(
        repo.join("lulu.toml"),
        format!(
            "[worktree]\ninclude = [{}]\nsetup = \"true\"\n",
            include.join(", ")
        ),
    )
    .expect("lulu.toml");
}

fn spawn_to_running(server: &mut Server, repo: &Path, round: usize) -> Duration {
    // Each round writes 5,000 files: flush the previous round's before timing this one.
    Command::new("sync").status().expect("sync");
    let started = Instant::now();
    let row = server.result(
        "lulu/spawn",
        json!({"prompt": "[sleep 30]", "name": format!("bench {round}"), "repo": repo}),
    );
    let id = row["id"].as_str().expect("id").to_owned();
    server.wait_status(&id, "running");
    let elapsed = started.elapsed();
    server.result("lulu/cancel", json!({"id": id}));
    elapsed
}

fn main() {
    let rounds = env_number("LULU_BENCH_ROUNDS", 10);
    let files = env_number("LULU_BENCH_FILES", 5000);
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().canonicalize().expect("canonical");
    let plain = make_repo(&root.join("plain"), &format!("files:{files}"));
    let provisioned = make_repo(&root.join("provisioned"), &format!("files:{files}"));
    provision(&provisioned);

    let mut server = Server::start(&root.join("logs"));
    let mut options = init_options(&root.join("state"));
    options["maxRunning"] = json!(100);
    server.initialize(&[&plain, &provisioned], options);
    let refused = server.call("lulu/spawn", json!({"prompt": "x", "repo": provisioned}));
    let setup_hash = refused["error"]["data"]["setupHash"].clone();
    server.result(
        "lulu/trust",
        json!({"repo": provisioned, "setupHash": setup_hash}),
    );

    let mut without = Vec::new();
    let mut with = Vec::new();
    for round in 0..rounds {
        // Alternate who goes first, so neither side always follows the other's writeback.
        if round % 2 == 0 {
            without.push(spawn_to_running(&mut server, &plain, round));
            with.push(spawn_to_running(&mut server, &provisioned, round));
        } else {
            with.push(spawn_to_running(&mut server, &provisioned, round));
            without.push(spawn_to_running(&mut server, &plain, round));
        }
    }
    server.shutdown();
    let (without, with) = (median(&mut without), median(&mut with));
    println!("spawn → running, {files}-file repository, median of {rounds} rounds each:");
    println!(
        "  without provisioning:                              {}",
        ms(without)
    );
    println!(
        "  with {INCLUDED_FILES} included files (4 KiB each) + setup `true`: {}",
        ms(with)
    );
    println!(
        "  overhead ratio (with / without):                  {:.2}",
        with.as_secs_f64() / without.as_secs_f64()
    );
}
