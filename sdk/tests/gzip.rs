//! Batch bodies compressed with gzip, for collectors that accept them.

// The browser has its own tests (`tests/wasm*.rs`); these need sockets and threads.
#![cfg(all(feature = "gzip", not(target_arch = "wasm32")))]

mod support;

use std::time::Duration;

use support::collector::Collector;
use support::token;
use usage_sdk::{Tracked, Tracker};

#[test]
fn gzip_bodies_arrive_whole() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = Tracker::builder(&collector.url)
        .data_dir(dir.path())
        .do_not_track(false)
        .gzip(true)
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let ids: Vec<_> = (0..120)
        .map(
            |n| match tracker.track("zipped", serde_json::json!({ "n": n })) {
                Tracked::Queued(id) => id,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert!(tracker.flush(Duration::from_secs(10)));
    let stored = collector.stored();
    assert!(ids.iter().all(|id| stored.get(id) == Some(&1)));
    let arrivals = collector.arrivals();
    assert!(!arrivals.is_empty() && arrivals.iter().all(|a| a.gzip));
}
