//! `cargo bench -p lulu --bench serve`: how fast `lulu serve` is, measured on the real binary
//! over real stdio, each figure beside its target and, where the target is relative, beside the
//! thing it is compared with in the same run.
//!
//! 1. spawn request → `running` notification, against `git worktree add` alone on the same
//!    repository (target: no slower);
//! 2. `lulu/list` first page with 100,000 sessions in the database (target: under 5 ms);
//! 3. process start → `initialize` response with that database (target: under 100 ms);
//! 4. `sessionChanged` latency of one session while another prints 200,000 lines as fast as it
//!    can, watched (target: p99 under 100 ms).
//!
//! Not a test: it asserts nothing, it reports. Set `LULU_BENCH_SESSIONS` to change 100,000.
#![allow(clippy::print_stdout)]

// The integration tests' client, shared; the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::{
    collections::BTreeMap,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use lulu_core::{
    config::{Settings, SettingsOverrides},
    model::{OutputFormat, SessionId},
    sessions::{ReconcileOptions, Sessions},
    store::{NewSession, Store},
};
use serde_json::json;
use support::{Server, init_options, make_repo};

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at.min(samples.len() - 1)]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets target" } else { "MISSES target" }
}

/// `git worktree add` alone, the same work lulu's spawn does before the agent starts.
fn git_worktree_add(repo: &Path, at: &Path, branch: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["worktree", "add", "-q", "-b", branch])
        .arg(at)
        .arg("HEAD")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .expect("git worktree add");
    let took = started.elapsed();
    assert!(status.success());
    took
}

fn spawn_to_running(root: &Path) -> (Duration, Duration) {
    let repo = make_repo(&root.join("spawn-repo"), "files:2000");
    let state = root.join("spawn-state");
    let mut server = Server::start(&root.join("logs"));
    let mut options = init_options(&state);
    options["maxRunning"] = json!(100);
    server.initialize(&[&repo], options);
    let rounds = 15;
    let mut lulu = Vec::new();
    let mut git = Vec::new();
    for round in 0..rounds {
        let started = Instant::now();
        let row = server.result(
            "lulu/spawn",
            json!({"prompt": "[sleep 30]", "name": format!("bench {round}")}),
        );
        let id = row["id"].as_str().expect("id").to_owned();
        server.wait_status(&id, "running");
        lulu.push(started.elapsed());
        server.result("lulu/cancel", json!({"id": id}));
        git.push(git_worktree_add(
            &repo,
            &root.join(format!("git-worktrees/w{round}")),
            &format!("bench-{round}"),
        ));
    }
    server.shutdown();
    (median(&mut lulu), median(&mut git))
}

/// A state dir holding `count` ended sessions (inserted through the store, then settled by
/// reconciliation as a crash would leave them).
fn big_state(root: &Path, count: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let repo = make_repo(&root.join("big-repo"), "basic");
    let state = root.join("big-state");
    let mut store = Store::open(&state).expect("store");
    let started = Instant::now();
    let base: DateTime<Utc> = Utc::now() - chrono::Duration::days(30);
    for at in 0..count {
        store
            .insert_session(&NewSession {
                id: SessionId::new(),
                created_at: base + chrono::Duration::seconds(at as i64),
                name: format!("session {at}"),
                repo: repo.clone(),
                prompt: format!("do thing {at}"),
                agent: "text".to_owned(),
                command: vec!["true".to_owned()],
                format: OutputFormat::Text,
                env: BTreeMap::new(),
                base_ref: "HEAD".to_owned(),
                base_commit: "0".repeat(40),
                max_running: 6,
                limits: Default::default(),
            })
            .expect("insert");
    }
    drop(store);
    let settings = Settings::resolve(SettingsOverrides {
        state_dir: Some(state.clone()),
        ..SettingsOverrides::default()
    })
    .expect("settings");
    Sessions::new(settings)
        .expect("sessions")
        .reconcile(ReconcileOptions::default())
        .expect("reconcile");
    eprintln!(
        "(set up {count} sessions in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    (repo, state)
}

fn big_database(root: &Path, count: usize) -> (Duration, Duration) {
    let (repo, state) = big_state(root, count);
    let mut starts = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let mut server = Server::start(&root.join("logs"));
        let response = server.initialize(&[&repo], init_options(&state));
        assert!(response.get("result").is_some(), "{response}");
        starts.push(started.elapsed());
        server.shutdown();
    }
    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state));
    let first = server.result("lulu/list", json!({}));
    assert_eq!(first["sessions"].as_array().map(Vec::len), Some(200));
    let mut lists = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let page = server.result("lulu/list", json!({}));
        lists.push(started.elapsed());
        assert_eq!(page["sessions"].as_array().map(Vec::len), Some(200));
    }
    server.shutdown();
    (median(&mut lists), median(&mut starts))
}

fn status_latency_under_flood(root: &Path) -> (Duration, Duration, usize, usize) {
    let repo = make_repo(&root.join("flood-repo"), "basic");
    let state = root.join("flood-state");
    let mut server = Server::start(&root.join("logs"));
    server.initialize(&[&repo], init_options(&state));
    let flood = server.result(
        "lulu/spawn",
        json!({"prompt": "[lines 200000]", "name": "flood"}),
    );
    let flood_id = flood["id"].as_str().expect("id").to_owned();
    server.result("lulu/watch", json!({"id": flood_id}));
    let mut latencies = Vec::new();
    let mut flood_done = false;
    let mut round = 0;
    let mut output_events = 0usize;
    while !flood_done || latencies.len() < 20 {
        round += 1;
        let probe = server.result(
            "lulu/spawn",
            json!({"prompt": "[sleep 0.2]", "name": format!("probe {round}")}),
        );
        let probe_id = probe["id"].as_str().expect("id").to_owned();
        let changed = server.wait_status(&probe_id, "completed");
        let arrived = Utc::now();
        let at: DateTime<Utc> = changed["lastActivityAt"]
            .as_str()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .expect("time")
            .with_timezone(&Utc);
        latencies.push((arrived - at).to_std().unwrap_or_default());
        for message in server.take_notifications() {
            if message["method"] == "lulu/output" {
                output_events += message["params"]["events"].as_array().map_or(0, Vec::len);
            }
            if message["method"] == "lulu/sessionChanged"
                && message["params"]["session"]["id"] == json!(flood_id)
                && message["params"]["session"]["status"] == json!("completed")
            {
                flood_done = true;
            }
        }
        if round > 400 {
            break;
        }
    }
    server.shutdown();
    let count = latencies.len();
    (
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        count,
        output_events,
    )
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let sessions: usize = std::env::var("LULU_BENCH_SESSIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().canonicalize().expect("canonical");

    let (spawn_running, worktree_add) = spawn_to_running(&root);
    let (list, initialize) = big_database(&root, sessions);
    let (p50, p99, samples, output_events) = status_latency_under_flood(&root);

    let ratio = spawn_running.as_secs_f64() / worktree_add.as_secs_f64();
    println!();
    println!("lulu serve benchmark (medians unless said)");
    println!("{:-<100}", "");
    println!(
        "spawn → running notification   {:>12}   git worktree add alone {:>12}   ratio {:.2}   target ≤ 1.00: {}",
        ms(spawn_running),
        ms(worktree_add),
        ratio,
        verdict(ratio <= 1.0)
    );
    println!(
        "lulu/list first page           {:>12}   with {sessions} sessions                  target < 5 ms: {}",
        ms(list),
        verdict(list < Duration::from_millis(5))
    );
    println!(
        "start → initialize response    {:>12}   with {sessions} sessions                  target < 100 ms: {}",
        ms(initialize),
        verdict(initialize < Duration::from_millis(100))
    );
    println!(
        "sessionChanged under a flood   p50 {:>8}   p99 {:>8} ({samples} samples; {output_events} flood lines streamed meanwhile)   target p99 < 100 ms: {}",
        ms(p50),
        ms(p99),
        verdict(p99 < Duration::from_millis(100))
    );
}
