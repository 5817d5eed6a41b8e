//! Two `usage-server` instances on one PostgreSQL registry publishing to one
//! JetStream: an SDK's events, with one instance killed mid-run and the SDK
//! retrying through the other, are in the stream exactly once each.

mod api;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use api::*;
use serde_json::json;
use support::nats::TestNats;
use support::postgres::TestDatabase;
use support::server::{ServerOptions, TestServer};
use tokio::net::{TcpListener, TcpStream};

/// A loopback TCP front that sends each new connection to the first
/// instance that accepts it, as a load balancer with health checks would.
async fn failover(ports: [u16; 2]) -> (u16, Arc<AtomicU16>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let served_by = Arc::new(AtomicU16::new(0));
    let last = served_by.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let last = last.clone();
            tokio::spawn(async move {
                for port in ports {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", port)).await {
                        last.store(port, Ordering::SeqCst);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    (port, served_by)
}

// Multi-threaded: the front must keep running while the SDK's blocking
// `flush` waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_retried_through_another_instance_after_a_crash_are_in_the_stream_once() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let Some(nats) = TestNats::start().await else {
        return;
    };
    let options = |mode: ServerOptions| {
        mode.database_url(db.url())
            .sink("nats")
            .arg("--nats-url")
            .arg(nats.url())
            .arg("--rate-limit")
            .arg("0")
    };
    let mut a = TestServer::start_with(options(ServerOptions::demo())).await;
    let b = TestServer::start_with(options(ServerOptions::serve())).await;
    let token = token_str(&a, &a.demo().service_key, "acme", "bob").await;
    // A batch A stored whose answer was lost, retried through B (whose own
    // dedupe window never saw it): stored once, by its Nats-Msg-Id.
    let retried = event("answer.lost");
    for instance in [&a, &b] {
        let (status, _) = send_batch(instance, &token, vec![retried.clone()]).await;
        assert_eq!(status, reqwest::StatusCode::OK);
    }
    let (front, served_by) = failover([a.addr().port(), b.addr().port()]).await;

    let sdk_dir = tempfile::tempdir().expect("tempdir");
    let tracker = usage_sdk::Tracker::builder(format!("http://127.0.0.1:{front}"))
        .data_dir(sdk_dir.path())
        .batch_size(10)
        .batch_interval(Duration::from_millis(20))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(300))
        .build()
        .expect("tracker");
    tracker.login(&token).expect("login");
    let mut ids = Vec::new();
    for i in 0..400 {
        match tracker.track("crash.run", json!({"i": i})) {
            usage_sdk::Tracked::Queued(id) => ids.push(id.to_string()),
            other => panic!("event {i} not queued: {other:?}"),
        }
        if i == 200 {
            // Mid-run, with batches in flight to A.
            assert_eq!(served_by.load(Ordering::SeqCst), a.addr().port());
            a.kill();
        }
        // Paces the app so batches are in flight when A is killed; it
        // waits for nothing.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let flusher = tracker.clone();
    let delivered = tokio::task::spawn_blocking(move || flusher.flush(Duration::from_secs(30)))
        .await
        .expect("flush");
    assert!(
        delivered,
        "the SDK delivered everything through B; its log: {:#?}\nB:\n{}",
        tracker.debug_events(),
        b.stderr()
    );
    assert_eq!(served_by.load(Ordering::SeqCst), b.addr().port());
    tracker.shutdown(Duration::from_secs(5));

    let mut counts: HashMap<String, usize> = HashMap::new();
    for message in nats.messages("USAGE_EVENTS").await {
        let id = message.payload["id"].as_str().expect("id").to_owned();
        *counts.entry(id).or_default() += 1;
    }
    assert_eq!(counts.remove(retried["id"].as_str().expect("id")), Some(1));
    for id in &ids {
        assert_eq!(
            counts.get(id),
            Some(&1),
            "event {id} is stored exactly once"
        );
    }
    assert_eq!(counts.len(), ids.len(), "nothing else is in the stream");
}
