//! The broker stopped for 10 s while an SDK keeps sending: batches are
//! refused (503, `Retry-After`) and `/readyz` says not ready meanwhile; once
//! the broker is back the instance recovers by itself, the SDK delivers
//! everything, the stream holds each event once, and the pipeline consumer
//! ends with the same set.

mod api;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use api::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::nats::TestNats;
use support::server::{ServerOptions, TestServer};

async fn ready(server: &TestServer) -> (StatusCode, Value) {
    let response = server
        .client()
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    status_json(response).await
}

// Multi-threaded: the test keeps polling while the SDK's blocking `flush` waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_is_refused_then_recovered_from_with_nothing_lost_or_doubled() {
    let Some(mut nats) = TestNats::start().await else {
        return;
    };
    let server = TestServer::start_with(
        ServerOptions::demo()
            .sink("nats")
            .arg("--nats-url")
            .arg(nats.url())
            .arg("--nats-timeout-ms")
            .arg("500")
            .arg("--rate-limit")
            .arg("0"),
    )
    .await;
    assert_eq!(ready(&server).await.0, StatusCode::OK);
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    let sdk_dir = tempfile::tempdir().expect("tempdir");
    let tracker = usage_sdk::Tracker::builder(server.base_url())
        .data_dir(sdk_dir.path())
        .batch_size(10)
        .batch_interval(Duration::from_millis(50))
        .retry_backoff(Duration::from_millis(100), Duration::from_millis(1_000))
        .build()
        .expect("tracker");
    tracker.login(&token).expect("login");
    let mut ids = Vec::new();
    let mut track = |n: usize| {
        for _ in 0..n {
            match tracker.track("outage.run", json!({"n": ids.len()})) {
                usage_sdk::Tracked::Queued(id) => ids.push(id.to_string()),
                other => panic!("event not queued: {other:?}"),
            }
        }
    };

    track(50);
    // The run starts with events that went through before the outage.
    support::wait::until(
        "the first 50 events to be accepted",
        Duration::from_secs(10),
        || async { (tracker.status().counters.accepted >= 50).then_some(()) },
    )
    .await
    .expect("delivery before the outage");
    nats.stop();
    let stopped = Instant::now();
    // Within the bounded wait, batches are refused with Retry-After and the
    // instance reports itself not ready.
    let (status, body) = support::wait::until(
        "a batch refused while the broker is down",
        Duration::from_secs(5),
        || async {
            let answer = send_batch(&server, &token, vec![event("during")]).await;
            (answer.0 != StatusCode::OK).then_some(answer)
        },
    )
    .await
    .expect("batches refused within 5 s of the broker stopping");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code(&body), "sink_unavailable");
    let response = server
        .client()
        .post(server.url("/v1/batch"))
        .bearer_auth(&token)
        .json(&batch_body(vec![event("during")]))
        .send()
        .await
        .expect("post");
    assert!(response.headers().get("retry-after").is_some());
    let (status, body) = ready(&server).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code(&body), "sink_unavailable");
    // The SDK goes on tracking during the outage, as an app in use would:
    // the pause paces the app, it waits for nothing.
    while stopped.elapsed() < Duration::from_secs(10) {
        track(10);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(metric(&server, "usage_sink_publish_failures_total").await > 0);

    nats.resume().await;
    // The instance finds the broker again by itself.
    support::wait::until(
        "the instance to be ready again",
        Duration::from_secs(10),
        || async { (ready(&server).await.0 == StatusCode::OK).then_some(()) },
    )
    .await
    .unwrap_or_else(|error| panic!("{error}; server stderr:\n{}", server.stderr()));
    track(50);
    let flusher = tracker.clone();
    let delivered = tokio::task::spawn_blocking(move || flusher.flush(Duration::from_secs(30)))
        .await
        .expect("flush");
    assert!(
        delivered,
        "the SDK delivered after the outage; its log: {:#?}\nserver:\n{}",
        tracker.debug_events(),
        server.stderr()
    );
    tracker.shutdown(Duration::from_secs(5));

    let mut in_stream: HashMap<String, usize> = HashMap::new();
    for message in nats.messages("USAGE_EVENTS").await {
        if message.payload["name"] == "outage.run" {
            let id = message.payload["id"].as_str().expect("id").to_owned();
            *in_stream.entry(id).or_default() += 1;
        }
    }
    for id in &ids {
        assert_eq!(in_stream.get(id), Some(&1), "event {id} is stored once");
    }
    assert_eq!(in_stream.len(), ids.len());

    // The consumer writes the same set, once each.
    let out = tempfile::tempdir().expect("out");
    let config = pipeline_consumer::Config {
        idle: Some(Duration::from_secs(2)),
        ..pipeline_consumer::Config::new(&nats.url(), out.path())
    };
    let written = tokio::time::timeout(
        Duration::from_secs(60),
        pipeline_consumer::run(&config, std::future::pending()),
    )
    .await
    .expect("the consumer caught up within 60 s")
    .expect("the consumer ran");
    let mut in_files: HashMap<String, usize> = HashMap::new();
    for day in std::fs::read_dir(out.path().join("acme")).expect("acme's folder") {
        let text = std::fs::read_to_string(day.expect("day").path()).expect("day file");
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).expect("a JSON line");
            assert_eq!(record["org"], "acme");
            if record["name"] == "outage.run" {
                let id = record["id"].as_str().expect("id").to_owned();
                *in_files.entry(id).or_default() += 1;
            }
        }
    }
    assert_eq!(
        in_files, in_stream,
        "the consumer's files hold the stream's set"
    );
    assert!(written >= ids.len() as u64);
}
