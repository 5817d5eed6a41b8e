//! An app using the native SDK is killed with SIGKILL while the real
//! `usage-server` is down and the SDK is retrying; after both come back,
//! every event tracked before the kill is stored, once. The app is this test
//! binary run again with `USAGE_E2E_CHILD` set.

mod api;

use std::io::{BufRead, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use api::*;
use support::server::TestServer;
use usage_sdk::{Tracked, Tracker};

const CHILD: &str = "USAGE_E2E_CHILD";
const EVENTS: usize = 20;
/// Delivery attempts the app has made (and failed) when it is killed: the
/// kill lands while the SDK retries, not before it ever tried.
const ATTEMPTS_BEFORE_KILL: u64 = 2;

/// The app side of the crash test, which runs it as a child process; ignored
/// in a normal run, where it has nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the app of events_tracked_before_kill_9_are_stored_once_after_restart, run by it"]
async fn child() {
    let role = std::env::var(CHILD).unwrap_or_else(|_| panic!("{CHILD} names the child's role"));
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} for the child"));
    let tracker = Tracker::builder(var("USAGE_E2E_URL"))
        .data_dir(var("USAGE_E2E_DIR"))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(300))
        .build()
        .expect("tracker");
    match role.as_str() {
        "track-then-hang" => {
            tracker.login(&var("USAGE_E2E_TOKEN")).expect("login");
            for n in 0..EVENTS {
                match tracker.track("before.crash", serde_json::json!({"n": n})) {
                    Tracked::Queued(id) => println!("ID {id}"),
                    other => panic!("not queued: {other:?}"),
                }
            }
            let attempts = support::wait::until(
                "the SDK to try delivering to the stopped server",
                Duration::from_secs(30),
                || async {
                    let status = tracker.status();
                    let taken_up = status.unprocessed == 0 && status.queued == EVENTS;
                    let tried = status.counters.attempts >= ATTEMPTS_BEFORE_KILL;
                    (taken_up && tried).then_some(status.counters.attempts)
                },
            )
            .await
            .expect("delivery attempts while the server is down");
            println!("RETRYING after {attempts} attempts");
            // The app runs on until the test kills it; should the test die
            // first, its end of stdin closes and the app ends too.
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
        }
        "resume" => {
            let delivered =
                tokio::task::spawn_blocking(move || tracker.flush(Duration::from_secs(30)))
                    .await
                    .expect("flush");
            println!("DELIVERED {delivered}");
        }
        other => panic!("unknown child role {other}"),
    }
}

fn spawn(role: &str, url: &str, dir: &std::path::Path, token: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, role)
        .env("USAGE_E2E_URL", url)
        .env("USAGE_E2E_DIR", dir)
        .env("USAGE_E2E_TOKEN", token)
        .env_remove("DO_NOT_TRACK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the app")
}

/// The child's stdout lines up to and including the one holding `marker`, within 60 s.
fn lines_until(child: &mut Child, marker: &str) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match receive.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(marker);
                lines.push(line);
                if done {
                    return lines;
                }
            }
            Err(_) => break,
        }
    }
    panic!("the app never printed {marker}; it printed {lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_tracked_before_kill_9_are_stored_once_after_restart() {
    let mut server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let token = token_str(&server, &key, "acme", "erin").await;
    let url = server.base_url();
    let dir = tempfile::tempdir().expect("tempdir");
    server.stop().await;

    let (app_url, app_dir, app_token) = (url.clone(), dir.path().to_owned(), token.clone());
    let ids = tokio::task::spawn_blocking(move || {
        let mut app = spawn("track-then-hang", &app_url, &app_dir, &app_token);
        let lines = lines_until(&mut app, "RETRYING");
        app.kill().expect("SIGKILL the app");
        app.wait().expect("reap the app");
        lines
            .iter()
            .filter_map(|l| l.split_once("ID ").map(|(_, id)| id.trim().to_owned()))
            .collect::<Vec<_>>()
    })
    .await
    .expect("first run");
    assert_eq!(ids.len(), EVENTS);

    server.restart().await;
    let (app_url, app_dir) = (url.clone(), dir.path().to_owned());
    let last = tokio::task::spawn_blocking(move || {
        let mut app = spawn("resume", &app_url, &app_dir, "");
        let lines = lines_until(&mut app, "DELIVERED");
        app.wait().expect("the app exits");
        lines.last().cloned().unwrap_or_default()
    })
    .await
    .expect("second run");
    assert!(last.ends_with("DELIVERED true"), "{last}");
    let stored = stored_ids(&server.data_dir());
    for id in &ids {
        assert_eq!(
            stored.iter().filter(|s| *s == id).count(),
            1,
            "{id} stored exactly once"
        );
    }
    assert_eq!(stored.len(), EVENTS);
}
