//! `usage-server --sink nats`: what reaches the stream, how each message is
//! addressed and labelled, and what the stream must be.

mod api;

use api::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::nats::TestNats;
use support::server::{ServerOptions, TestServer};

fn nats_server(nats: &TestNats) -> ServerOptions {
    ServerOptions::demo()
        .sink("nats")
        .arg("--nats-url")
        .arg(nats.url())
}

/// The record without the receipt time, which differs between two servers.
fn without_receipt(mut record: Value) -> Value {
    record
        .as_object_mut()
        .expect("a record is an object")
        .remove("received_at");
    record
}

#[tokio::test]
async fn each_accepted_event_is_one_message_holding_the_record_the_ndjson_sink_writes() {
    let Some(nats) = TestNats::start().await else {
        return;
    };
    let server = TestServer::start_with(nats_server(&nats)).await;
    let files = TestServer::start_demo().await;
    let events = vec![
        event("report.opened"),
        json!({"id": uuid::Uuid::new_v4().to_string(), "name": "plain", "ts": "2026-11-29T08:00:00.25+02:00", "session": "s \"1\""}),
    ];
    for target in [&server, &files] {
        let token = token_str(target, &target.demo().service_key, "acme", "bob").await;
        let (status, body) = send_batch(target, &token, events.clone()).await;
        assert_eq!(
            (status, body["accepted"].clone()),
            (StatusCode::OK, json!(2))
        );
    }

    let messages = nats.messages("USAGE_EVENTS").await;
    assert_eq!(messages.len(), 2, "one message per accepted event");
    let lines: Vec<Value> = std::fs::read_dir(files.data_dir().join("events"))
        .expect("event files")
        .flat_map(|entry| {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("file");
            text.lines()
                .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
                .collect::<Vec<_>>()
        })
        .collect();
    for (message, line) in messages.iter().zip(&lines) {
        assert_eq!(
            without_receipt(message.payload.clone()),
            without_receipt(line.clone()),
            "the message is the NDJSON record"
        );
        assert!(message.payload["received_at"].is_string());
        let id = message.payload["id"].as_str().expect("id");
        assert_eq!(message.subject, "usage.events.acme");
        assert_eq!(message.header("Nats-Msg-Id"), Some(&*format!("acme:{id}")));
        assert_eq!(message.header("Usage-Org"), Some("acme"));
        assert_eq!(message.header("Usage-User"), Some("bob"));
        assert_eq!(message.header("Usage-Source"), Some("client"));
    }

    // Server-side events carry their source too.
    let response = server
        .client()
        .post(server.url("/v1/server-events"))
        .bearer_auth(&server.demo().service_key)
        .json(&json!({"org": "acme", "user": "carol", "events": [event("invoice.sent")]}))
        .send()
        .await
        .expect("server events");
    assert_eq!(response.status(), StatusCode::OK);
    let messages = nats.messages("USAGE_EVENTS").await;
    let last = messages.last().expect("a third message");
    assert_eq!(
        (last.header("Usage-Source"), last.header("Usage-User")),
        (Some("server"), Some("carol"))
    );
    assert_eq!(last.payload["source"], "server");

    // Publish latency is measured.
    assert!(metric(&server, "usage_sink_publish_seconds_count").await >= 2);
}

/// The ids of the stream's messages, in stream order.
async fn stored_ids(nats: &TestNats, stream: &str) -> Vec<Value> {
    nats.messages(stream)
        .await
        .into_iter()
        .map(|m| m.payload["id"].clone())
        .collect()
}

#[tokio::test]
async fn a_retry_after_a_restart_is_answered_as_duplicates_and_stored_once() {
    let Some(nats) = TestNats::start().await else {
        return;
    };
    let mut server = TestServer::start_with(nats_server(&nats)).await;
    let other = TestServer::start_with(nats_server(&nats)).await;
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    let (first, second, elsewhere) = (event("one"), event("two"), event("elsewhere"));
    let (status, body) = send_batch(&server, &token, vec![first.clone(), second.clone()]).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::OK, json!(2))
    );
    // Stored through another instance: the same stream, the same org id.
    let other_token = token_str(&other, &other.demo().service_key, "acme", "bob").await;
    let (status, _) = send_batch(&other, &other_token, vec![elsewhere.clone()]).await;
    assert_eq!(status, StatusCode::OK);

    // The restart empties the server's memory; it reads the stream's
    // duplicate window back before it answers again.
    server.restart().await;
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    let new = event("new");
    let (status, body) = send_batch(
        &server,
        &token,
        vec![
            first.clone(),
            new.clone(),
            second.clone(),
            elsewhere.clone(),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["accepted"].clone(), body["duplicates"].clone()),
        (json!(1), json!(3)),
        "{body}"
    );
    assert_eq!(
        stored_ids(&nats, "USAGE_EVENTS").await,
        vec![
            first["id"].clone(),
            second["id"].clone(),
            elsewhere["id"].clone(),
            new["id"].clone()
        ]
    );
}

#[tokio::test]
async fn only_the_streams_duplicate_window_is_read_back_at_start() {
    let Some(nats) = TestNats::start().await else {
        return;
    };
    // Long enough for a restart to fit in it on a loaded machine.
    let window = std::time::Duration::from_secs(8);
    let mut server = TestServer::start_with(
        nats_server(&nats)
            .arg("--nats-duplicate-window")
            .arg(window.as_secs().to_string()),
    )
    .await;
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    let old = event("old");
    assert_eq!(
        send_batch(&server, &token, vec![old.clone()]).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(window + std::time::Duration::from_millis(500)).await;
    let fresh = event("fresh");
    assert_eq!(
        send_batch(&server, &token, vec![fresh.clone()]).await.0,
        StatusCode::OK
    );
    server.restart().await;
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    // `old` left both windows: JetStream stores it again, and the answer
    // says so; `fresh` is within them.
    let (status, body) = send_batch(&server, &token, vec![old.clone(), fresh.clone()]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["accepted"].clone(), body["duplicates"].clone()),
        (json!(1), json!(1)),
        "{body}"
    );
    assert_eq!(
        stored_ids(&nats, "USAGE_EVENTS").await,
        vec![old["id"].clone(), fresh["id"].clone(), old["id"].clone()]
    );
}

#[tokio::test]
async fn the_stream_is_created_with_file_storage_and_its_window_or_required_by_flag() {
    let Some(nats) = TestNats::start().await else {
        return;
    };
    let refused = TestServer::start_binary(
        support::server::server_binary(),
        nats_server(&nats).arg("--nats-require-stream"),
    )
    .await
    .expect_err("no stream yet, and it may not be created");
    assert!(
        refused.to_string().contains("USAGE_EVENTS"),
        "the error names the stream: {refused}"
    );

    let _server =
        TestServer::start_with(nats_server(&nats).arg("--nats-duplicate-window").arg("300")).await;
    let client = nats.connect().await.expect("connect");
    let mut stream = async_nats::jetstream::new(client)
        .get_stream("USAGE_EVENTS")
        .await
        .expect("created");
    let config = stream.info().await.expect("info").config.clone();
    assert_eq!(config.subjects, vec!["usage.events.>".to_owned()]);
    assert_eq!(
        config.storage,
        async_nats::jetstream::stream::StorageType::File
    );
    assert_eq!(config.num_replicas, 1);
    assert_eq!(config.duplicate_window.as_secs(), 300);

    // Now that it exists, a server that requires it starts; configured
    // through the environment alone this time.
    let from_env = TestServer::start_with(
        ServerOptions::demo()
            .env("USAGE_SINK", "nats")
            .env("USAGE_NATS_URL", nats.url())
            .env("USAGE_NATS_REQUIRE_STREAM", "true"),
    )
    .await;
    let token = token_str(&from_env, &from_env.demo().service_key, "acme", "bob").await;
    assert_eq!(
        send_batch(&from_env, &token, vec![event("via.env")])
            .await
            .0,
        StatusCode::OK
    );
    let messages = nats.messages("USAGE_EVENTS").await;
    assert_eq!(messages.len(), 1, "published to the stream, not to files");
}
