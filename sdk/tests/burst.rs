//! A burst far beyond the in-memory queue, with the default settings: the
//! journal on disk holds what memory does not, and nothing is dropped.

// The browser has its own tests (`tests/wasm*.rs`); these need sockets and threads.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::collector::Collector;
use support::token;
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
