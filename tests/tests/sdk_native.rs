//! The native SDK against the real `usage-server` on loopback: the opt-out
//! story as an app lives it, an outage, and a collector that says "later".

mod api;

use std::time::{Duration, Instant};

use api::*;
use reqwest::StatusCode;
use serde_json::json;
use support::server::{ServerOptions, TestServer};
use usage_sdk::{DropReason, Fate, Tracked, Tracker};

/// Batch requests the server has answered, whatever the status.
async fn batches_seen(server: &TestServer) -> u64 {
    metric(server, "usage_batches_total{").await
}

async fn set_opt_out(server: &TestServer, key: &str, user: &str, out: bool) {
    let route = if out { "opt-outs" } else { "opt-ins" };
    let response = server
        .client()
        .post(server.url(&format!("/api/orgs/acme/{route}")))
        .bearer_auth(key)
        .json(&json!({"users": [user]}))
        .send()
        .await
        .expect("change");
    assert_eq!(response.status(), StatusCode::OK);
}

fn tracker(server: &TestServer, dir: &std::path::Path) -> Tracker {
    Tracker::builder(server.base_url())
        .data_dir(dir)
        .batch_interval(Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(200), Duration::from_secs(2))
        .build()
        .expect("tracker")
}

/// Runs the SDK's blocking flush off the async runtime.
async fn flush(tracker: &Tracker, secs: u64) -> bool {
    let tracker = tracker.clone();
    tokio::task::spawn_blocking(move || tracker.flush(Duration::from_secs(secs)))
        .await
        .expect("flush")
}

fn fate_of(tracker: &Tracker, tracked: Tracked) -> Fate {
    let Tracked::Queued(id) = tracked else {
        panic!("not queued: {tracked:?}")
    };
    tracker
        .debug_events()
        .into_iter()
        .rev()
        .find(|e| e.id == Some(id))
        .map(|e| e.fate)
        .expect("in the debugger")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opt_out_story_through_the_sdk() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = tracker(&server, dir.path());

    let claims = tracker
        .login(&token_str(&server, &key, "acme", "bob").await)
        .expect("login");
    assert!(!claims.opt_out);
    let first = tracker.track("report.opened", json!({"report": "sales"}));
    assert!(flush(&tracker, 10).await);
    assert_eq!(fate_of(&tracker, first), Fate::Accepted);
    assert_eq!(stored_ids(&server.data_dir()).len(), 1);

    // The admin opts bob out; his cached flag still says "tracked".
    set_opt_out(&server, &key, "bob", true).await;
    let stale = tracker.track("report.exported", ());
    assert!(
        matches!(stale, Tracked::Queued(_)),
        "the cached flag lets it through"
    );
    assert!(flush(&tracker, 10).await);
    let fate = fate_of(&tracker, stale);
    assert_eq!(fate, Fate::Discarded);
    assert_eq!(fate.to_string(), "discarded by server: opted out");
    assert_eq!(stored_ids(&server.data_dir()).len(), 1, "nothing stored");

    // The server's hint stops sending for the rest of the session.
    let seen = batches_seen(&server).await;
    assert_eq!(
        tracker.track("after.hint", ()),
        Tracked::Dropped(DropReason::OptedOut)
    );
    assert!(flush(&tracker, 5).await);
    // Logout, and the next login carries the new flag: dropped on the device.
    tracker.logout();
    assert!(flush(&tracker, 5).await);
    let claims = tracker
        .login(&token_str(&server, &key, "acme", "bob").await)
        .expect("login");
    assert!(claims.opt_out);
    for i in 0..5 {
        assert_eq!(
            tracker.track(&format!("while.out.{i}"), ()),
            Tracked::Dropped(DropReason::OptedOut)
        );
    }
    // Flushed means nothing is left to send, so no request can come later.
    assert!(flush(&tracker, 5).await);
    assert_eq!(
        batches_seen(&server).await,
        seen,
        "zero requests reached the server"
    );

    // Opted back in: the next login tracks again.
    set_opt_out(&server, &key, "bob", false).await;
    tracker.logout();
    tracker
        .login(&token_str(&server, &key, "acme", "bob").await)
        .expect("login");
    let back = tracker.track("back.again", ());
    assert!(flush(&tracker, 10).await);
    assert_eq!(fate_of(&tracker, back), Fate::Accepted);
    assert_eq!(stored_ids(&server.data_dir()).len(), 2);
    tracker.shutdown(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_seconds_of_outage_lose_nothing_and_duplicate_nothing() {
    let mut server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = tracker(&server, dir.path());
    tracker
        .login(&token_str(&server, &key, "acme", "carol").await)
        .expect("login");
    let mut ids = Vec::new();
    let mut track = |name: String| match tracker.track(&name, json!({"n": name})) {
        Tracked::Queued(id) => ids.push(id.to_string()),
        other => panic!("{other:?}"),
    };
    track("before.outage".into());
    assert!(flush(&tracker, 10).await);

    server.stop().await;
    let down = Instant::now();
    let mut i = 0;
    while down.elapsed() < Duration::from_secs(30) {
        track(format!("during.outage.{i}"));
        i += 1;
        // An app in use tracks now and then through the outage: the pause
        // paces it, it waits for nothing.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    server.restart().await;
    track("after.outage".into());
    assert!(flush(&tracker, 60).await, "delivered after the outage");
    let stored = stored_ids(&server.data_dir());
    for id in &ids {
        assert_eq!(
            stored.iter().filter(|s| *s == id).count(),
            1,
            "{id} stored exactly once"
        );
    }
    assert_eq!(stored.len(), ids.len());
    assert!(ids.len() > 50);
    tracker.shutdown(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_sdk_waits_as_told() {
    let server = TestServer::start_with(
        ServerOptions::demo()
            .arg("--rate-limit")
            .arg("1")
            .arg("--rate-burst")
            .arg("1"),
    )
    .await;
    let key = server.demo().service_key;
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = Tracker::builder(server.base_url())
        .data_dir(dir.path())
        .batch_size(1)
        .batch_interval(Duration::from_millis(10))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build()
        .expect("tracker");
    tracker
        .login(&token_str(&server, &key, "acme", "dave").await)
        .expect("login");
    let started = Instant::now();
    for i in 0..4 {
        tracker.track(&format!("burst.{i}"), ());
    }
    assert!(flush(&tracker, 30).await);
    assert_eq!(stored_ids(&server.data_dir()).len(), 4);
    // One batch a second is allowed: four batches take three seconds at least.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // With its own 10-50 ms backoff the SDK would have been refused dozens of
    // times; honouring Retry-After (1 s) keeps the refusals to a handful.
    let limited = metric(&server, "usage_batches_total{status=\"429\"}").await;
    assert!(limited <= 6, "{limited} refusals");
    tracker.shutdown(Duration::from_secs(5));
}
