//! `cargo bench -p lulu --bench approvals`: the latency of the agent host channel (issue 12),
//! measured on the real binary over real stdio with the scripted fake-claude, p50/p99 over 50
//! requests (target: p99 under 100 ms each way), each beside a baseline run in the same process:
//!
//! 1. the agent writes a `control_request` → `lulu/approvalRequested` at the client, beside the
//!    same trip for an ordinary output line: the agent writes a line → `lulu/output` at a client
//!    watching the session (runner, database, change feed: the path every event takes);
//! 2. `lulu/approve` sent → the `control_response` read on the agent's stdin, beside the
//!    `lulu/approve` request's own round trip (client → server → database → response).
//!
//! Times on the agent's side are its wall clock (`time.time()`), the client's `SystemTime`: the
//! same clock, one machine. Not a test: it asserts nothing, it reports.
#![allow(clippy::print_stdout)]

// The integration tests' client, shared; the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::{
    path::Path,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use support::{Server, fixture, init_options, make_repo};

const REQUESTS: usize = 50;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at.min(samples.len() - 1)]
}

fn ms(duration: Duration) -> String {
    format!("{:7.2} ms", duration.as_secs_f64() * 1000.0)
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

fn since(earlier: f64, later: f64) -> Duration {
    Duration::from_secs_f64((later - earlier).max(0.0))
}

/// The time logged for `word KEY` in the agent's log, waiting for it to appear.
fn logged(log: &Path, word: &str, key: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            if parts.next() == Some(word) && parts.next() == Some(key) {
                return parts
                    .next()
                    .and_then(|time| time.parse().ok())
                    .expect("a time");
            }
        }
        assert!(
            Instant::now() < deadline,
            "no `{word} {key}` in {}",
            log.display()
        );
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn report(what: &str, samples: &mut [Duration], baseline_what: &str, baseline: &mut [Duration]) {
    let (p50, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
    let (b50, b99) = (percentile(baseline, 0.5), percentile(baseline, 0.99));
    println!("{what}");
    println!(
        "    lulu:     p50 {}  p99 {}  ({})",
        ms(p50),
        ms(p99),
        if p99 < Duration::from_millis(100) {
            "meets the p99 < 100 ms target"
        } else {
            "MISSES the p99 < 100 ms target"
        }
    );
    println!(
        "    baseline: p50 {}  p99 {}  ({baseline_what})",
        ms(b50),
        ms(b99)
    );
    println!(
        "    ratio:    p50 {:.2}x  p99 {:.2}x of the baseline",
        p50.as_secs_f64() / b50.as_secs_f64(),
        p99.as_secs_f64() / b99.as_secs_f64()
    );
}

const TICKER: &str = "import sys, time\nfor i in range(int(sys.argv[2])):\n    time.sleep(0.1)\n    with open(sys.argv[1], 'a') as f:\n        f.write(f'tick {i} {time.time():.6f}\\n')\n    print(f'tick {i}', flush=True)\n";

fn main() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().canonicalize().expect("canonical");
    let repo = make_repo(&root.join("repo"), "basic");
    let state = root.join("state");
    let ask_log = root.join("asks.log");
    let tick_log = root.join("ticks.log");
    let mut options = init_options(&state);
    options["agents"]["host"] = json!({
        "command": [fixture("agents/fake-claude"), "-p", "--input-format", "stream-json",
                    "--output-format", "stream-json", "--verbose", "--replay-user-messages"],
        "format": "claude-stream-json", "input": "stream-json", "approvalTimeout": "none",
    });
    options["agents"]["ticker"] = json!({
        "command": ["python3", "-c", TICKER, tick_log, REQUESTS.to_string()],
        "format": "text",
    });
    let mut server =
        Server::start_with_env(&root.join("logs"), &[("FAKE_AGENT_LATENCY_LOG", &ask_log)]);
    server.initialize(&[&repo], options);

    // Baseline 1: output lines to a watching client.
    let ticker = server.result("lulu/spawn", json!({"prompt": "tick", "agent": "ticker"}))["id"]
        .as_str()
        .expect("id")
        .to_owned();
    server.result("lulu/watch", json!({"id": ticker}));
    let mut output_latency = Vec::new();
    while output_latency.len() < REQUESTS {
        let message = server.notification("lulu/output", |message: &Value| {
            message["method"] == "lulu/output" && message["params"]["id"] == ticker
        });
        let received = now_epoch();
        for event in message["params"]["events"].as_array().expect("events") {
            if let Some(tick) = event["text"].as_str().and_then(|t| t.strip_prefix("tick ")) {
                output_latency.push(since(logged(&tick_log, "tick", tick), received));
            }
        }
    }

    // The host channel: 50 requests in turn, each answered at once.
    let host = server.result(
        "lulu/spawn",
        json!({"prompt": format!("bench [ask {REQUESTS}]"), "agent": "host"}),
    )["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut requested = Vec::new();
    let mut answered = Vec::new();
    let mut approve_round_trip = Vec::new();
    for index in 0..REQUESTS {
        let message = server.notification("lulu/approvalRequested", |message: &Value| {
            message["method"] == "lulu/approvalRequested"
                && message["params"]["approval"]["sessionId"] == host
        });
        let received = now_epoch();
        let approval = &message["params"]["approval"];
        let asked_log = std::fs::read_to_string(&ask_log).expect("ask log");
        let request_id = asked_log
            .lines()
            .filter(|line| line.starts_with("asked "))
            .nth(index)
            .and_then(|line| line.split_whitespace().nth(1))
            .expect("the agent logged its request")
            .to_owned();
        requested.push(since(logged(&ask_log, "asked", &request_id), received));
        let sent = now_epoch();
        let started = Instant::now();
        server.result(
            "lulu/approve",
            json!({"approvalId": approval["approvalId"], "allow": true}),
        );
        approve_round_trip.push(started.elapsed());
        answered.push(since(sent, logged(&ask_log, "answered", &request_id)));
    }
    server.wait_status(&host, "completed");

    println!("agent host channel latency, {REQUESTS} requests (fake-claude, real lulu serve)\n");
    report(
        "1. control_request written → lulu/approvalRequested at the client",
        &mut requested,
        "an output line written → lulu/output at a watching client",
        &mut output_latency,
    );
    report(
        "2. lulu/approve sent → control_response read on the agent's stdin",
        &mut answered,
        "the lulu/approve request's own round trip",
        &mut approve_round_trip,
    );
}
