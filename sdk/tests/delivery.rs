//! Delivery to a stand-in collector on 127.0.0.1: batching, retries, limits,
//! and what the collector's answers do to the queue.

// The browser has its own tests (`tests/wasm*.rs`); these need sockets and threads.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::collector::{Collector, Scripted};
use support::{closed_port, token, wait_until};
use usage_sdk::{DropReason, Fate, Tracked, Tracker, TrackerBuilder};
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(10);

fn builder(url: &str, dir: &tempfile::TempDir) -> TrackerBuilder {
    Tracker::builder(url)
        .data_dir(dir.path())
        .do_not_track(false)
        .batch_interval(Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
}

fn queued(tracked: Tracked) -> Uuid {
    match tracked {
        Tracked::Queued(id) | Tracked::Held(id) => id,
        other => panic!("expected the event to be kept, got {other:?}"),
    }
}

fn fate_of(tracker: &Tracker, id: Uuid) -> Option<Fate> {
    tracker
        .debug_events()
        .into_iter()
        .find(|e| e.id == Some(id))
        .map(|e| e.fate)
}

#[test]
fn events_arrive_once_in_batches_of_the_configured_size() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir)
        .batch_size(3)
        .batch_interval(Duration::from_secs(60))
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let ids: Vec<Uuid> = (0..7)
        .map(|n| queued(tracker.track("screen.opened", json!({"n": n}))))
        .collect();
    assert!(
        wait_until(PATIENCE, || collector.stored().len() == 6),
        "two full batches go at once"
    );
    assert!(tracker.flush(PATIENCE), "the last event goes on flush");
    let sizes: Vec<usize> = collector.arrivals().iter().map(|a| a.ids.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert!(ids.iter().all(|id| collector.stored().get(id) == Some(&1)));
    assert!(ids
        .iter()
        .all(|&id| fate_of(&tracker, id) == Some(Fate::Accepted)));
    assert_eq!(tracker.status().counters.accepted, 7);
}

#[test]
fn a_backlog_drains_in_batches_as_large_as_the_collector_takes() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // One batch in flight at a time: what is tracked meanwhile waits.
    let tracker = builder(&collector.url, &dir)
        .batch_size(3)
        .max_in_flight(1)
        .batch_interval(Duration::from_secs(60))
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let ids: Vec<Uuid> = (0..1_200)
        .map(|n| queued(tracker.track("screen.opened", json!({"n": n}))))
        .collect();
    assert!(tracker.flush(PATIENCE), "everything is delivered");
    let sizes: Vec<usize> = collector.arrivals().iter().map(|a| a.ids.len()).collect();
    assert!(
        sizes.iter().all(|&n| n <= 500),
        "the collector's limit holds: {sizes:?}"
    );
    assert!(
        sizes.iter().any(|&n| n > 3) && sizes.len() < 1_200 / 3,
        "the backlog went in batches larger than batch_size: {sizes:?}"
    );
    assert!(ids.iter().all(|id| collector.stored().get(id) == Some(&1)));
}

#[test]
fn a_short_batch_goes_after_the_interval() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir).build().expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let id = queued(tracker.track("app.started", ()));
    assert!(wait_until(PATIENCE, || collector
        .stored()
        .contains_key(&id)));
}

#[test]
fn events_tracked_while_the_collector_is_down_arrive_once_when_it_is_back() {
    let port = closed_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&format!("http://127.0.0.1:{port}"), &dir)
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let ids: Vec<Uuid> = (0..20)
        .map(|_| queued(tracker.track("offline.work", ())))
        .collect();
    assert!(
        !tracker.flush(Duration::from_millis(300)),
        "nothing can be delivered yet"
    );
    assert!(tracker.status().counters.attempts >= 2, "it kept trying");

    let collector = Collector::start_on(port).expect("the port is still free");
    assert!(tracker.flush(PATIENCE));
    let stored = collector.stored();
    assert_eq!(stored.len(), 20);
    assert!(ids.iter().all(|id| stored.get(id) == Some(&1)));
}

#[test]
fn retry_after_is_honoured() {
    let collector = Collector::start();
    collector.script([Scripted::new(503, "registry_unavailable").retry_after(1)]);
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir).build().expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let id = queued(tracker.track("screen.opened", ()));
    assert!(tracker.flush(PATIENCE));
    let arrivals = collector.arrivals();
    assert_eq!(arrivals.len(), 2);
    let waited = arrivals[1].at - arrivals[0].at;
    assert!(
        waited >= Duration::from_millis(1_000),
        "waited only {waited:?}"
    );
    assert_eq!(collector.stored().get(&id), Some(&1));
}

#[test]
fn payload_too_large_splits_the_batch_in_halves() {
    let collector = Collector::start();
    collector.script([Scripted::new(413, "payload_too_large")]);
    let dir = tempfile::tempdir().expect("temp dir");
    // No timer sends a part of the four while they are tracked (a slow
    // machine once sent the first alone): the full batch goes.
    let tracker = builder(&collector.url, &dir)
        .batch_size(4)
        .batch_interval(Duration::from_secs(600))
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    for _ in 0..4 {
        queued(tracker.track("big.thing", ()));
    }
    assert!(tracker.flush(PATIENCE));
    let sizes: Vec<usize> = collector.arrivals().iter().map(|a| a.ids.len()).collect();
    assert_eq!(sizes, [4, 2, 2]);
    assert_eq!(collector.stored().len(), 4);
}

#[test]
fn other_client_errors_drop_the_batch_and_the_debugger_says_why() {
    let collector = Collector::start();
    collector.script([Scripted::new(422, "unprocessable")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir).build().expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let id = queued(tracker.track("screen.opened", ()));
    assert!(tracker.flush(PATIENCE), "nothing is left to send");
    assert_eq!(
        fate_of(&tracker, id),
        Some(Fate::Refused {
            status: 422,
            code: Some("unprocessable".into())
        })
    );
    assert_eq!(collector.arrivals().len(), 1, "not retried");
}

#[test]
fn the_opted_out_hint_stops_sending_for_the_session() {
    let collector = Collector::start();
    collector.opt_out("bob");
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir).build().expect("builds");
    tracker
        .login(&token("bob", false))
        .expect("the token still says opted in");
    let sent = queued(tracker.track("screen.opened", ()));
    assert!(tracker.flush(PATIENCE));
    assert_eq!(fate_of(&tracker, sent), Some(Fate::Discarded));
    assert!(wait_until(PATIENCE, || tracker.is_dropping()));
    assert_eq!(
        tracker.track("screen.closed", ()),
        Tracked::Dropped(DropReason::OptedOut)
    );

    // The next user's event goes through the same single worker: once it has
    // arrived, anything of bob's would have arrived before it.
    tracker.login(&token("carol", false)).expect("next login");
    let next = queued(tracker.track("screen.opened", ()));
    assert!(tracker.flush(PATIENCE));
    let arrivals = collector.arrivals();
    let ids: Vec<&[Uuid]> = arrivals.iter().map(|a| a.ids.as_slice()).collect();
    assert_eq!(
        ids,
        [&[sent][..], &[next][..]],
        "nothing more of bob's is sent"
    );
}

#[test]
fn an_expired_token_keeps_the_events_and_tells_the_app() {
    let collector = Collector::start();
    collector.script([Scripted::new(401, "token_expired")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let expired = Arc::new(AtomicUsize::new(0));
    let seen = expired.clone();
    let tracker = builder(&collector.url, &dir)
        .on_token_expired(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let id = queued(tracker.track("screen.opened", ()));
    assert!(
        !tracker.flush(Duration::from_secs(2)),
        "kept, waiting for a new token"
    );
    assert_eq!(expired.load(Ordering::SeqCst), 1);
    assert_eq!(
        fate_of(&tracker, id),
        Some(Fate::AwaitingLogin {
            code: "token_expired".into()
        })
    );

    let fresh = token("bob", false).replace(".c2ln", ".ZnJlc2g");
    tracker.login(&fresh).expect("fresh login");
    assert!(tracker.flush(PATIENCE));
    assert_eq!(collector.stored().get(&id), Some(&1));
    assert_eq!(
        collector.arrivals().last().map(|a| a.token.clone()),
        Some(fresh)
    );
}

#[test]
fn other_token_refusals_keep_the_events_and_are_reported() {
    let collector = Collector::start();
    collector.script([Scripted::new(401, "unknown_key")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let codes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = codes.clone();
    let tracker = builder(&collector.url, &dir)
        .on_auth_error(move |code| seen.lock().expect("codes").push(code.to_owned()))
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    queued(tracker.track("screen.opened", ()));
    assert!(!tracker.flush(Duration::from_secs(2)));
    assert_eq!(*codes.lock().expect("codes"), ["unknown_key"]);
    assert_eq!(tracker.status().queued, 1);
}

#[test]
fn events_before_login_are_held_then_released() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir).build().expect("builds");
    let Tracked::Held(id) = tracker.track("app.started", ()) else {
        panic!("held before login")
    };
    assert!(
        tracker.flush(Duration::from_millis(300)),
        "held events wait for a login"
    );
    assert!(collector.arrivals().is_empty());
    tracker.login(&token("bob", false)).expect("login");
    assert!(tracker.flush(PATIENCE));
    assert_eq!(collector.stored().get(&id), Some(&1));
}

#[test]
fn events_before_an_opted_out_login_are_dropped() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir).build().expect("builds");
    let Tracked::Held(id) = tracker.track("app.started", ()) else {
        panic!("held before login")
    };
    let claims = tracker.login(&token("carol", true)).expect("login");
    assert!(claims.opt_out);
    assert_eq!(
        tracker.track("x", ()),
        Tracked::Dropped(DropReason::OptedOut)
    );
    assert!(tracker.flush(PATIENCE));
    assert_eq!(
        fate_of(&tracker, id),
        Some(Fate::Dropped {
            reason: DropReason::OptedOut
        })
    );
    assert!(collector.arrivals().is_empty());
}

#[test]
fn logout_sends_that_sessions_events_and_forgets_the_login() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir)
        .batch_interval(Duration::from_secs(60))
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let id = queued(tracker.track("screen.opened", ()));
    tracker.logout();
    assert!(
        wait_until(PATIENCE, || collector.stored().contains_key(&id)),
        "sent without waiting"
    );
    assert!(matches!(
        tracker.track("after.logout", ()),
        Tracked::Held(_)
    ));
    drop(tracker);

    let restarted = builder(&collector.url, &dir).build().expect("builds");
    assert!(
        matches!(restarted.track("next.run", ()), Tracked::Held(_)),
        "no cached login"
    );
}

#[test]
fn do_not_track_records_nothing() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = Tracker::builder(&collector.url)
        .data_dir(dir.path().join("app"))
        .do_not_track(true)
        .build()
        .expect("builds");
    tracker
        .login(&token("bob", false))
        .expect("login still reads the token");
    assert_eq!(
        tracker.track("a", ()),
        Tracked::Dropped(DropReason::DoNotTrack)
    );
    assert!(tracker.flush(Duration::from_millis(100)));
    assert!(!dir.path().join("app").exists(), "nothing written");
    assert!(collector.arrivals().is_empty());
    assert_eq!(
        tracker.debug_events()[0].fate,
        Fate::Dropped {
            reason: DropReason::DoNotTrack
        }
    );
}

#[test]
fn unsent_events_and_the_login_survive_a_restart() {
    let port = closed_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("http://127.0.0.1:{port}");
    let first = builder(&url, &dir).build().expect("builds");
    first.login(&token("bob", false)).expect("login");
    let ids: Vec<Uuid> = (0..5)
        .map(|_| queued(first.track("before.restart", ())))
        .collect();
    assert!(!first.shutdown(Duration::from_millis(200)));

    let collector = Collector::start_on(port).expect("the port is still free");
    let second = builder(&url, &dir).build().expect("builds");
    let later = queued(second.track("after.restart", ()));
    assert!(
        matches!(second.track("x", ()), Tracked::Queued(_)),
        "the cached login is back"
    );
    assert!(second.flush(PATIENCE));
    let stored = collector.stored();
    assert!(ids
        .iter()
        .chain([&later])
        .all(|id| stored.get(id) == Some(&1)));
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_tokio_app() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = builder(&collector.url, &dir)
        .build()
        .expect("builds inside a runtime");
    tracker.login(&token("bob", false)).expect("login");
    let id = queued(tracker.track("async.app", ()));
    let flusher = tracker.clone();
    let delivered = tokio::task::spawn_blocking(move || flusher.flush(PATIENCE))
        .await
        .expect("joins");
    assert!(delivered);
    assert_eq!(collector.stored().get(&id), Some(&1));
    drop(tracker);
}
