//! Delivery throughput of the native SDK to a local `usage-server`: how fast
//! a burst of tracked events reaches the server's sink.
//!
//! Run with a release server for meaningful figures:
//! `cargo build --release --bin usage-server && USAGE_TEST_SERVER_BIN=target/release/usage-server cargo bench -p usage-e2e --bench sdk_delivery`.

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::server::{ServerOptions, TestServer};
use usage_sdk::Tracker;

const EVENTS: usize = 50_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
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
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = Tracker::builder(server.base_url())
        .data_dir(dir.path())
        .batch_size(500)
        .max_queued_events(EVENTS)
        .channel_capacity(EVENTS)
        .build()
        .expect("tracker");
    tracker.login(&token).expect("login");
    let started = Instant::now();
    for i in 0..EVENTS {
        tracker.track("bench.event", json!({"i": i}));
    }
    let tracked = started.elapsed();
    let flusher = tracker.clone();
    let delivered = tokio::task::spawn_blocking(move || flusher.flush(Duration::from_secs(120)))
        .await
        .expect("flush");
    let total = started.elapsed();
    assert!(delivered, "everything delivered");
    println!(
        "sdk delivery: {EVENTS} events tracked in {:.0} ms, delivered in {:.2} s: {:.0} events/s",
        tracked.as_secs_f64() * 1000.0,
        total.as_secs_f64(),
        EVENTS as f64 / total.as_secs_f64()
    );
    tracker.shutdown(Duration::from_secs(10));
}
