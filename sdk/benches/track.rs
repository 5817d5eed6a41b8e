//! `track()` cost: dropped at once while opted out, and queued (appended to
//! the journal) while a stand-in collector on loopback takes the batches.

// `criterion_group!` generates a public function without a doc comment.
#![allow(missing_docs)]

#[path = "../tests/support/collector.rs"]
#[allow(dead_code)] // the benchmarks use only part of the stand-in collector
mod collector;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use usage_sdk::protocol::Claims;
use usage_sdk::Tracker;

fn token(opt_out: bool) -> String {
    let claims = Claims {
        org: "acme".into(),
        sub: "bench".into(),
        opt_out,
        rev: 1,
        iat: 1_700_000_000,
        exp: 4_000_000_000,
    };
    format!("v1.bench.{}.c2ln", claims.encode_payload())
}

fn tracker(url: &str, dir: &tempfile::TempDir, opt_out: bool) -> Tracker {
    let tracker = Tracker::builder(url)
        .data_dir(dir.path())
        .do_not_track(false)
        .build()
        .expect("builds");
    tracker.login(&token(opt_out)).expect("login");
    tracker
}

fn track(c: &mut Criterion) {
    let collector = collector::Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let opted_out = tracker(&collector.url, &dir, true);
    c.bench_function("track/opted_out", |b| {
        b.iter(|| opted_out.track(black_box("screen.opened"), ()))
    });
    drop(opted_out);

    let dir = tempfile::tempdir().expect("temp dir");
    let active = tracker(&collector.url, &dir, false);
    let props = serde_json::json!({"screen": "reports", "tab": 3});
    c.bench_function("track/enqueue", |b| {
        // Only the calls are timed; between rounds the worker catches up, so
        // the measured calls do not compete with a backlog.
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            let mut left = iterations;
            while left > 0 {
                let round = left.min(1_000);
                let start = Instant::now();
                for _ in 0..round {
                    black_box(active.track(black_box("screen.opened"), &props));
                }
                timed += start.elapsed();
                left -= round;
                let deadline = Instant::now() + Duration::from_secs(10);
                while active.status().unprocessed > 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            timed
        })
    });
    active.shutdown(Duration::from_secs(10));
}

criterion_group!(benches, track);
criterion_main!(benches);
