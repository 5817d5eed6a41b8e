//! Delivery of a burst: `track()` as fast as a loop calls it, `n` times, then
//! `flush`; timed from the first `track()` to the last acknowledgement, against
//! the stand-in collector on loopback. Also the cost of each `track()` over
//! chunks of 1,000 calls while the burst is being delivered.
//!
//! `cargo bench -p usage-sdk --bench delivery` (optional arguments: event
//! counts, default `100000 1000000`; setups `defaults`, `batch500`, `raised`,
//! default all three).

#![allow(missing_docs)]

#[path = "../tests/support/collector.rs"]
#[allow(dead_code)] // the benchmark uses only part of the stand-in collector
mod collector;

use std::time::{Duration, Instant};

use usage_sdk::protocol::Claims;
use usage_sdk::{Tracked, Tracker};

const CHUNK: usize = 1_000;

fn token() -> String {
    let claims = Claims {
        org: "acme".into(),
        sub: "bench".into(),
        opt_out: false,
        rev: 1,
        iat: 1_700_000_000,
        exp: 4_000_000_000,
    };
    format!("v1.bench.{}.c2ln", claims.encode_payload())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

/// How the tracker is set up for a burst.
#[derive(Clone, Copy)]
enum Setup {
    /// The default settings.
    Defaults,
    /// Batches of 500.
    Batch500,
    /// Batches of 500, and the in-memory queue and channel raised to hold the
    /// whole burst (how earlier versions had to be set up not to drop), with
    /// the journal's bound raised to match.
    Raised,
}

fn burst(events: usize, setup: Setup) {
    let collector = collector::Collector::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut builder = Tracker::builder(&collector.url)
        .data_dir(dir.path())
        .do_not_track(false);
    builder = match setup {
        Setup::Defaults => builder,
        Setup::Batch500 => builder.batch_size(500),
        // The journal holds every event in memory too: its bound goes up with them.
        Setup::Raised => builder
            .batch_size(500)
            .max_queued_events(events)
            .channel_capacity(events)
            .max_journal_bytes(4 << 30),
    };
    let tracker = builder.build().expect("builds");
    tracker.login(&token()).expect("login");
    let props = serde_json::json!({"screen": "reports", "tab": 3});

    let mut chunks = Vec::with_capacity(events / CHUNK + 1);
    let mut dropped = 0usize;
    let started = Instant::now();
    let mut n = 0;
    while n < events {
        let round = CHUNK.min(events - n);
        let chunk = Instant::now();
        for _ in 0..round {
            if !matches!(tracker.track("bench.event", &props), Tracked::Queued(_)) {
                dropped += 1;
            }
        }
        chunks.push(chunk.elapsed().as_nanos() as f64 / round as f64);
        n += round;
    }
    let tracked = started.elapsed();
    let delivered = tracker.flush(Duration::from_secs(600));
    let total = started.elapsed();
    let stored = collector.stored().len();
    let counters = tracker.status().counters;
    chunks.sort_by(f64::total_cmp);
    println!(
        "{events} events, {}: tracked in {:.0} ms, last ack after {:.2} s = {:.0} events/s; \
         stored {stored}, refused by track() {dropped}, dropped later {}, all delivered: {delivered}; \
         track() per call over chunks of {CHUNK}: median {:.0} ns, p99 {:.0} ns, worst {:.0} ns",
        match setup {
            Setup::Defaults => "defaults",
            Setup::Batch500 => "batch 500",
            Setup::Raised => "batch 500, queue holds all",
        },
        tracked.as_secs_f64() * 1e3,
        total.as_secs_f64(),
        stored as f64 / total.as_secs_f64(),
        counters.dropped,
        percentile(&chunks, 0.5),
        percentile(&chunks, 0.99),
        chunks.last().copied().unwrap_or(0.0),
    );
    tracker.shutdown(Duration::from_secs(10));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![100_000, 1_000_000];
    }
    let named = |name: &str| args.iter().any(|a| a == name);
    let mut setups: Vec<Setup> = [
        ("defaults", Setup::Defaults),
        ("batch500", Setup::Batch500),
        ("raised", Setup::Raised),
    ]
    .into_iter()
    .filter(|(name, _)| named(name))
    .map(|(_, setup)| setup)
    .collect();
    if setups.is_empty() {
        setups = vec![Setup::Defaults, Setup::Batch500, Setup::Raised];
    }
    for events in sizes {
        for &setup in &setups {
            burst(events, setup);
        }
    }
}
