//! A burst of 200,000 events, tracked as fast as a loop can with the native
//! SDK's default settings, into a real `usage-server` (NDJSON sink): every
//! event is stored exactly once, and the app's memory stays within the SDK's
//! in-memory bound plus a small constant, since what memory does not hold
//! waits in the journal on disk. The app is this test binary run again with
//! `USAGE_E2E_BURST_CHILD` set, so that its memory is measured on its own.

// Memory is read from `/proc/self/status`.
#![cfg(target_os = "linux")]

mod api;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use api::*;
use support::server::{ServerOptions, TestServer};
use usage_sdk::{Tracked, Tracker};

const CHILD: &str = "USAGE_E2E_BURST_CHILD";
const BURST: usize = 200_000;
/// The SDK's default in-memory bound, in events.
const MAX_QUEUED: u64 = 10_000;
/// Generous memory per event held in memory: the event, its place in the
/// queue's indexes, and its share of the batches on the wire.
const PER_EVENT: u64 = 1024;
/// Memory that does not grow with the burst: journal read buffers,
/// connections and their buffers, the debugger's log, allocator slack.
/// (Measured: the app grows by about 12 MiB in all, for 50,000 events as for
/// 200,000; reading the backlog on disk into memory had cost 50 MiB more.)
const CONSTANT: u64 = 8 * 1024 * 1024;
/// How long the app may take, debug build on a loaded machine included.
const DEADLINE: Duration = Duration::from_secs(600);

/// The largest resident memory of this process so far (`VmHWM`), in bytes.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reads /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM in KiB");
    kib * 1024
}

/// Child side: run by the test below (with `--ignored`), so a normal run
/// lists it as ignored rather than as a test that passed.
#[test]
#[ignore = "the app process of the burst test, started by it"]
fn child() {
    let role = std::env::var(CHILD).expect("run by the burst test, which sets its role");
    assert_eq!(role, "burst", "unknown child role");
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} for the child"));
    // Default settings: only the folder is chosen.
    let tracker = Tracker::builder(var("USAGE_E2E_URL"))
        .data_dir(var("USAGE_E2E_DIR"))
        .build()
        .expect("tracker");
    tracker.login(&var("USAGE_E2E_TOKEN")).expect("login");
    println!("BASELINE {}", peak_memory());
    let started = Instant::now();
    for n in 0..BURST {
        match tracker.track("burst.event", serde_json::json!({ "n": n })) {
            Tracked::Queued(_) => {}
            other => panic!("event {n} was not queued: {other:?}"),
        }
    }
    println!("TRACKED {}", started.elapsed().as_millis());
    let delivered = tracker.flush(DEADLINE);
    let counters = tracker.status().counters;
    println!(
        "DELIVERED {delivered} {} {} {}",
        counters.accepted,
        counters.dropped,
        started.elapsed().as_millis()
    );
    println!("PEAK {}", peak_memory());
}

fn spawn(url: &str, dir: &std::path::Path, token: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "burst")
        .env("USAGE_E2E_URL", url)
        .env("USAGE_E2E_DIR", dir)
        .env("USAGE_E2E_TOKEN", token)
        .env_remove("DO_NOT_TRACK")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the app")
}

/// The words that start the app's report lines.
const KEYS: [&str; 4] = ["BASELINE", "TRACKED", "DELIVERED", "PEAK"];

/// The app's report lines, keyed by their first word, once it printed `PEAK`.
fn report(child: &mut Child) -> HashMap<String, Vec<String>> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Reads to the end even once nobody listens: a pipe closed early
        // makes the app's last writes (the harness's summary) fail, and the
        // app exit with an error.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let deadline = Instant::now() + DEADLINE + Duration::from_secs(60);
    let mut report = HashMap::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = receive.recv_timeout(left) else {
            break;
        };
        // The test harness may print its own words ahead on the same line.
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let Some(at) = words.iter().position(|w| KEYS.contains(&w.as_str())) else {
            continue;
        };
        report.insert(words[at].clone(), words[at + 1..].to_vec());
        if words[at] == "PEAK" {
            return report;
        }
    }
    panic!("the app never reported its peak memory; it printed {report:?}");
}

fn number(report: &HashMap<String, Vec<String>>, key: &str, at: usize) -> u64 {
    report[key][at]
        .parse()
        .unwrap_or_else(|_| panic!("{key} line: {:?}", report[key]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_200_000_events_with_default_settings_is_stored_once_in_bounded_memory() {
    // The server's own per-user rate limit is lifted: the burst tests the SDK.
    let server = TestServer::start_with(ServerOptions::demo().arg("--rate-limit").arg("0")).await;
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    let url = server.base_url();
    let dir = tempfile::tempdir().expect("tempdir");

    let app_dir = dir.path().to_owned();
    let report = tokio::task::spawn_blocking(move || {
        let mut app = spawn(&url, &app_dir, &token);
        let report = report(&mut app);
        assert!(
            app.wait().expect("the app exits").success(),
            "the app succeeded"
        );
        report
    })
    .await
    .expect("the app");

    assert_eq!(
        report["DELIVERED"][0], "true",
        "the flush saw everything delivered"
    );
    assert_eq!(number(&report, "DELIVERED", 1), BURST as u64, "accepted");
    assert_eq!(number(&report, "DELIVERED", 2), 0, "dropped");
    eprintln!(
        "{BURST} events tracked in {} ms, delivered in {} ms",
        number(&report, "TRACKED", 0),
        number(&report, "DELIVERED", 3)
    );

    // Every event is in the sink once: ids unique, and each `n` once.
    let mut times_stored: HashMap<u64, usize> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for entry in std::fs::read_dir(server.data_dir().join("events")).expect("sink folder") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("sink file");
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            assert!(
                ids.insert(event["id"].as_str().expect("id").to_owned()),
                "an id stored twice"
            );
            let n = event["props"]["n"].as_u64().expect("props.n");
            *times_stored.entry(n).or_default() += 1;
        }
    }
    let missing = (0..BURST as u64)
        .filter(|n| !times_stored.contains_key(n))
        .count();
    assert_eq!(missing, 0, "events never stored");
    assert!(
        times_stored.values().all(|&times| times == 1),
        "each stored once"
    );
    assert_eq!(ids.len(), BURST);

    let (baseline, peak) = (number(&report, "BASELINE", 0), number(&report, "PEAK", 0));
    let bound = MAX_QUEUED * PER_EVENT + CONSTANT;
    eprintln!(
        "app memory: {} MiB before the burst, {} MiB at its peak (bound: +{} MiB)",
        baseline >> 20,
        peak >> 20,
        bound >> 20
    );
    assert!(
        peak.saturating_sub(baseline) <= bound,
        "the app grew by {} MiB during the burst, more than the in-memory bound allows ({} MiB)",
        (peak - baseline) >> 20,
        bound >> 20
    );
}
