//! A burst far beyond the in-memory queue, with the default settings: the
//! journal on disk holds what memory does not, and nothing is dropped.

// The browser has its own tests (`tests/wasm*.rs`); these need sockets and threads.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::collector::Collector;
use support::{closed_port, token};
use usage_sdk::{Tracked, Tracker};

const BURST: usize = 200_000;
/// The default in-memory bound of the queue.
const MAX_QUEUED: usize = 10_000;

#[test]
fn a_burst_of_200_000_events_with_default_settings_loses_nothing() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = Tracker::builder(&collector.url)
        .data_dir(dir.path())
        .do_not_track(false)
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");

    // Watches the queue in memory while the burst is delivered.
    let most_in_memory = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (tracker, most, done) = (tracker.clone(), most_in_memory.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                let status = tracker.status();
                most.fetch_max(status.queued + status.held, Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    let mut queued = Vec::with_capacity(BURST);
    for n in 0..BURST {
        match tracker.track("burst.event", serde_json::json!({ "n": n })) {
            Tracked::Queued(id) => queued.push(id),
            other => panic!("event {n} was not queued: {other:?}"),
        }
    }
    assert!(
        tracker.status().unprocessed > 0,
        "the burst outran the worker"
    );
    assert!(
        tracker.flush(Duration::from_secs(300)),
        "everything delivered"
    );
    done.store(true, Ordering::Release);
    watcher.join().expect("watcher");

    let stored = collector.stored();
    assert_eq!(stored.len(), BURST);
    assert!(queued.iter().all(|id| stored.get(id) == Some(&1)));
    let counters = tracker.status().counters;
    assert_eq!((counters.accepted, counters.dropped), (BURST as u64, 0));
    let most = most_in_memory.load(Ordering::Acquire);
    assert!(
        most <= MAX_QUEUED,
        "{most} events in memory at once, more than the bound"
    );
}

#[test]
fn a_full_journal_drops_its_oldest_events_and_says_so() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = Tracker::builder(&url)
        .data_dir(dir.path())
        .do_not_track(false)
        .max_queued_events(10)
        .max_journal_bytes(64 * 1024)
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    // About ten times what the journal holds (64 KiB, some 280 lines), while
    // the collector is down.
    let mut queued = Vec::new();
    for n in 0..3_000 {
        if let Tracked::Queued(id) = tracker.track("offline.work", serde_json::json!({ "n": n })) {
            queued.push(id);
        }
        if n % 20 == 19 {
            // An app that pauses lets the worker compact. A flush that waits
            // for nothing returns once the worker has gone through its work
            // (compacting if due), so the journal never fills under the loop
            // (which would then see `QueueFull`).
            assert!(!tracker.flush(Duration::ZERO), "the collector is down");
        }
    }
    assert_eq!(queued.len(), 3_000, "every event queued");
    let dropped = tracker.status().counters.dropped;
    assert!(dropped > 0, "the journal had to drop");

    let collector = Collector::start_on(port).expect("the port is still free");
    assert!(tracker.flush(Duration::from_secs(60)));
    let stored = collector.stored();
    let last = *queued.last().expect("some queued");
    assert_eq!(stored.get(&last), Some(&1), "the newest event arrives");
    // Beyond the ten in memory, what arrived is the newest part: the oldest
    // of those waiting on disk were dropped.
    let arrived: Vec<bool> = queued[10..]
        .iter()
        .map(|id| stored.contains_key(id))
        .collect();
    let first_kept = arrived.iter().position(|&a| a).expect("some arrived");
    assert!(first_kept > 0, "the oldest on disk were dropped");
    assert!(
        arrived[first_kept..].iter().all(|&a| a),
        "the newest all arrived"
    );
    assert!(stored.keys().all(|id| queued.contains(id)));
    let counters = tracker.status().counters;
    assert_eq!(
        counters.accepted + counters.dropped,
        queued.len() as u64,
        "every queued event is either stored or counted as dropped"
    );
}

#[test]
fn bursts_from_four_threads_at_once_lose_nothing() {
    const PER_THREAD: usize = 20_000;
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = Tracker::builder(&collector.url)
        .data_dir(dir.path())
        .do_not_track(false)
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let tracker = tracker.clone();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|n| {
                        match tracker.track("thread.event", serde_json::json!({"t": t, "n": n})) {
                            Tracked::Queued(id) => id,
                            other => panic!("thread {t} event {n}: {other:?}"),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let queued: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("tracking thread"))
        .collect();
    assert!(
        tracker.flush(Duration::from_secs(300)),
        "everything delivered"
    );
    let stored = collector.stored();
    assert_eq!(stored.len(), 4 * PER_THREAD);
    assert!(queued.iter().all(|id| stored.get(id) == Some(&1)));
}
