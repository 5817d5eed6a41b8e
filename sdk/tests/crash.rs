//! Events survive `kill -9`, and `DO_NOT_TRACK=1` from the environment turns
//! the tracker off. The child process is this test binary run again with
//! `USAGE_SDK_CHILD` set, so no other binary has to be built first.

// The browser has its own tests (`tests/wasm*.rs`); these need sockets and threads.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::collector::Collector;
use support::{closed_port, token};
use usage_sdk::{Tracked, Tracker};

const CHILD: &str = "USAGE_SDK_CHILD";
const EVENTS: usize = 20;
const BURST: usize = 5_000;

/// Child side: run by the parent tests below (with `--ignored`), so a normal
/// run lists it as ignored rather than as a test that passed.
#[test]
#[ignore = "the child process of the crash tests, started by them"]
fn child() {
    let role = std::env::var(CHILD).expect("run by the crash tests, which set USAGE_SDK_CHILD");
    let url = std::env::var("USAGE_SDK_URL").expect("url for the child");
    let dir = std::env::var("USAGE_SDK_DIR").expect("dir for the child");
    let tracker = Tracker::builder(url)
        .data_dir(dir)
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .expect("builds");
    match role.as_str() {
        "track-then-hang" => {
            tracker.login(&token("bob", false)).expect("login");
            for n in 0..EVENTS {
                let tracked = tracker.track("before.crash", serde_json::json!({"n": n}));
                assert!(matches!(tracked, Tracked::Queued(_)));
            }
            println!("TRACKED");
            // Stays alive until the test kills it: the kill is what is tested.
            std::thread::sleep(Duration::from_secs(60));
        }
        "burst-then-deliver" => {
            tracker.login(&token("bob", false)).expect("login");
            for n in 0..BURST {
                let tracked = tracker.track("burst.event", serde_json::json!({"n": n}));
                assert!(matches!(tracked, Tracked::Queued(_)), "{tracked:?}");
            }
            println!("TRACKED");
            // Killed while delivering.
            tracker.flush(Duration::from_secs(60));
        }
        "resume" => {
            let delivered = tracker.flush(Duration::from_secs(10));
            println!("DELIVERED {delivered}");
        }
        "track-once" => {
            tracker.login(&token("bob", false)).expect("login");
            let tracked = tracker.track("with.dnt", ());
            println!("TRACKED {tracked:?}");
            println!("DELIVERED {}", tracker.flush(Duration::from_millis(500)));
        }
        other => panic!("unknown child role {other}"),
    }
}

fn spawn(role: &str, url: &str, dir: &std::path::Path, extra_env: &[(&str, &str)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, role)
        .env("USAGE_SDK_URL", url)
        .env("USAGE_SDK_DIR", dir)
        .env_remove("DO_NOT_TRACK")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    command.spawn().expect("spawn the child")
}

/// Reads the child's stdout until a line holds `marker`, within 30 s; returns
/// the line from the marker on. Waits on the pipe, so it returns as soon as
/// the child has printed the line.
fn read_until(child: &mut Child, marker: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match received.recv_timeout(left) {
            // The harness prints "test child ... " before the child's own output.
            Ok(line) => match line.find(marker) {
                Some(at) => return line[at..].to_owned(),
                None => continue,
            },
            Err(_) => break,
        }
    }
    panic!("the child never printed {marker}");
}

#[test]
fn events_tracked_while_the_collector_is_down_arrive_once_after_kill_9_and_restart() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temp dir");

    // Killed as soon as its last track() returned: no wait for the worker.
    let mut first = spawn("track-then-hang", &url, dir.path(), &[]);
    read_until(&mut first, "TRACKED");
    first.kill().expect("SIGKILL the child");
    first.wait().expect("reap the child");

    let collector = Collector::start_on(port).expect("the port is still free");
    let mut second = spawn("resume", &url, dir.path(), &[]);
    let line = read_until(&mut second, "DELIVERED");
    second.wait().expect("child exits");
    assert_eq!(line, "DELIVERED true");
    let stored = collector.stored();
    assert_eq!(stored.len(), EVENTS);
    assert!(stored.values().all(|&n| n == 1));
}

#[test]
fn do_not_track_in_the_environment_turns_tracking_off() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("app");
    let mut child = spawn(
        "track-once",
        &collector.url,
        &data,
        &[("DO_NOT_TRACK", "1")],
    );
    let line = read_until(&mut child, "TRACKED");
    child.wait().expect("child exits");
    assert_eq!(line, "TRACKED Dropped(DoNotTrack)");
    assert!(!data.exists(), "nothing written to disk");
    assert!(collector.arrivals().is_empty(), "nothing sent");
}

#[test]
fn every_queued_event_of_a_burst_arrives_once_whenever_kill_9_comes() {
    for delay_ms in [0, 1, 10] {
        let collector = Collector::start();
        let dir = tempfile::tempdir().expect("temp dir");

        let mut first = spawn("burst-then-deliver", &collector.url, dir.path(), &[]);
        read_until(&mut first, "TRACKED");
        std::thread::sleep(Duration::from_millis(delay_ms));
        first.kill().expect("SIGKILL the child");
        first.wait().expect("reap the child");
        let before_restart = collector.stored().len();

        let mut second = spawn("resume", &collector.url, dir.path(), &[]);
        let line = read_until(&mut second, "DELIVERED");
        second.wait().expect("child exits");
        assert_eq!(line, "DELIVERED true", "killed after {delay_ms} ms");
        let stored = collector.stored();
        assert_eq!(
            stored.len(),
            BURST,
            "killed {delay_ms} ms after the burst, {before_restart} stored before the restart"
        );
        assert!(stored.values().all(|&n| n == 1));
    }
}
