//! Delivery throughput of the native SDK to a local `usage-server`: how fast
//! a burst of tracked events reaches the server's sink, with the SDK's
//! default settings and with batches of 500.
//!
//! Run with a release server for meaningful figures:
//! `cargo build --release --bin usage-server && USAGE_TEST_SERVER_BIN=target/release/usage-server cargo bench -p usage-e2e --bench sdk_delivery`
//! (optional arguments: event counts, default `100000 1000000`).

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::server::{ServerOptions, TestServer};
use usage_sdk::{Tracked, Tracker};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![100_000, 1_000_000];
    }
    let server = TestServer::start_with(ServerOptions::demo().arg("--rate-limit").arg("0")).await;
    let key = server.demo().service_key;
    let answer: Value = server
        .client()
        .post(server.url("/v1/tokens"))
        .bearer_auth(&key)
        .json(&json!({"org": "acme", "user": "bob"}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = answer["token"].as_str().expect("token").to_owned();
    for events in sizes {
        for batch in [None, Some(500)] {
            let url = server.base_url();
            let token = token.clone();
            tokio::task::spawn_blocking(move || burst(&url, &token, events, batch))
                .await
                .expect("burst");
        }
    }
}

/// Tracks `events` as fast as a loop can, then waits for the last acknowledgement.
fn burst(url: &str, token: &str, events: usize, batch: Option<usize>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut builder = Tracker::builder(url).data_dir(dir.path());
    if let Some(batch) = batch {
        builder = builder.batch_size(batch);
    }
    let tracker = builder.build().expect("tracker");
    tracker.login(token).expect("login");
    let started = Instant::now();
    let mut dropped = 0;
    for i in 0..events {
        if !matches!(
            tracker.track("bench.event", json!({"i": i})),
            Tracked::Queued(_)
        ) {
            dropped += 1;
        }
    }
    let tracked = started.elapsed();
    let delivered = tracker.flush(Duration::from_secs(600));
    let total = started.elapsed();
    assert!(delivered, "everything delivered");
    println!(
        "sdk delivery, batch {}: {events} events tracked in {:.0} ms ({dropped} dropped), \
         delivered in {:.2} s: {:.0} events/s",
        batch.map_or("default".to_owned(), |b| b.to_string()),
        tracked.as_secs_f64() * 1000.0,
        total.as_secs_f64(),
        events as f64 / total.as_secs_f64()
    );
    tracker.shutdown(Duration::from_secs(10));
}
