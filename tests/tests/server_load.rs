//! The server under a hostile crowd while a real client works: 2,000 idle
//! connections and 200 clients sending their headers a byte at a time, while
//! the native SDK delivers 50,000 events. Every event is stored once, the
//! server's memory stays bounded, and SIGTERM ends it within its deadline.

mod api;

use std::time::{Duration, Instant};

use api::*;
use support::server::{ServerOptions, TestServer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use usage_sdk::{Tracked, Tracker};

const IDLE: usize = 2_000;
const SLOW: usize = 200;
const EVENTS: usize = 50_000;
const CHUNK: usize = 5_000;
/// What the server may hold at its peak. Its dedupe window alone takes up
/// to about 80 MB at its default size; the crowd must add little to that.
const MEMORY_BOUND: u64 = 256 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_idle_and_slow_clients_neither_stops_delivery_nor_shutdown() {
    let mut server = TestServer::start_with(
        ServerOptions::demo()
            .arg("--rate-limit")
            .arg("0")
            .arg("--shutdown-deadline")
            .arg("3"),
    )
    .await;
    let addr = server.addr();
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;

    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(addr).await.expect("idle connect"));
    }
    let slow: Vec<_> = (0..SLOW)
        .map(|_| {
            tokio::spawn(async move {
                let Ok(mut stream) = TcpStream::connect(addr).await else {
                    return;
                };
                let head = b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nX-Slow: ";
                for byte in head.iter().cycle().take(600) {
                    if stream.write_all(&[*byte]).await.is_err() {
                        return; // cut off by the header timeout
                    }
                    // A slow client is the load under test: one byte per 100 ms.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })
        .collect();

    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = Tracker::builder(server.base_url())
        .data_dir(dir.path())
        .batch_size(500)
        .batch_interval(Duration::from_millis(50))
        .max_queued_events(CHUNK * 2)
        .channel_capacity(CHUNK * 2)
        .retry_backoff(Duration::from_millis(100), Duration::from_secs(1))
        .build()
        .expect("tracker");
    tracker.login(&token).expect("login");
    let started = Instant::now();
    let mut queued = 0;
    for _ in 0..EVENTS / CHUNK {
        for i in 0..CHUNK {
            if let Tracked::Queued(_) = tracker.track("load.step", serde_json::json!({ "i": i })) {
                queued += 1;
            }
        }
        let flusher = tracker.clone();
        let flushed = tokio::task::spawn_blocking(move || flusher.flush(Duration::from_secs(60)))
            .await
            .expect("flush");
        assert!(flushed, "the SDK delivered its chunk");
    }
    let delivered_in = started.elapsed();
    assert_eq!(queued, EVENTS, "every track() was queued");

    let ids = stored_ids(&server.data_dir());
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), EVENTS, "every event stored");
    assert_eq!(unique.len(), EVENTS, "each event stored once");
    let peak = server.peak_memory().expect("the server's memory");
    eprintln!(
        "delivered {EVENTS} events in {delivered_in:?} beside {IDLE} idle and {SLOW} slow \
         connections; server peak memory {} MiB",
        peak / (1024 * 1024)
    );
    assert!(
        peak < MEMORY_BOUND,
        "the server peaked at {} MiB",
        peak / (1024 * 1024)
    );

    // Slow clients are still sending when SIGTERM arrives.
    let stopping = Instant::now();
    let status = server.stop().await.expect("running");
    let took = stopping.elapsed();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(
        took < Duration::from_secs(6),
        "stopped {took:?} after SIGTERM (deadline 3 s)"
    );
    for task in slow {
        task.abort();
    }
    drop(idle);
    let _ = tracker.shutdown(Duration::from_secs(1));
}
