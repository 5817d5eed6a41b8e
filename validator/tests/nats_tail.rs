//! What the JetStream sink reads back at start to refill the collector's
//! dedupe window: the ids of the newest events within the stream's duplicate
//! window, oldest first, and nothing else the stream holds. Against a real
//! `nats-server -js` on loopback (skipped loudly where it is not installed,
//! never under CI).

#![cfg(feature = "nats")]

#[path = "support/nats.rs"]
mod nats;

use std::time::Duration;

use nats::Broker;
use serde_json::{json, Value};
use usage_validator::sink::{Accepted, NatsConfig, NatsSink, Sink, Source};

/// `n` valid events of fresh ids, as a batch's JSON.
fn events(n: usize) -> Value {
    (0..n)
        .map(|i| json!({"id": uuid::Uuid::now_v7(), "name": format!("event.{i}"), "ts": "2026-11-29T08:00:00Z"}))
        .collect()
}

/// Stores `batch` for `org` through `sink` and returns its `(org, id)`s.
async fn store(sink: &NatsSink, org: &str, batch: Value) -> Vec<(String, uuid::Uuid)> {
    let events: Vec<_> = serde_json::from_value(batch).expect("valid events");
    sink.write(Accepted {
        org,
        user: "bob",
        source: Source::Client,
        sdk: None,
        received_at: time::OffsetDateTime::now_utc(),
        events: &events,
    })
    .await
    .expect("stored");
    events.iter().map(|e| (org.to_owned(), e.id)).collect()
}

async fn oldest_first(sink: &NatsSink, limit: usize) -> Vec<(String, uuid::Uuid)> {
    let mut ids = Vec::new();
    sink.each_recent_id(limit, &mut |org, id| ids.push((org.to_owned(), id)))
        .await
        .expect("read back");
    ids
}

fn config(broker: &Broker, window: Duration) -> NatsConfig {
    NatsConfig {
        url: broker.url(),
        duplicate_window: window,
        ..NatsConfig::default()
    }
}

#[tokio::test]
async fn the_newest_ids_within_the_limit_come_back_oldest_first_and_foreign_messages_are_skipped() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let sink = NatsSink::connect(config(&broker, Duration::from_secs(120)))
        .await
        .expect("connected");
    assert!(oldest_first(&sink, 10).await.is_empty(), "an empty stream");

    let mut stored = store(&sink, "acme", events(4)).await;
    // Published by someone else into the sink's subjects: no id of ours.
    let jetstream = broker.jetstream().await;
    for message_id in [None, Some("not-ours"), Some("acme:not-a-uuid")] {
        let mut publish =
            async_nats::jetstream::message::PublishMessage::build().payload("{}".into());
        if let Some(id) = message_id {
            publish = publish.message_id(id);
        }
        jetstream
            .send_publish("usage.events.acme", publish)
            .await
            .expect("publish")
            .await
            .expect("acknowledged");
    }
    stored.extend(store(&sink, "acme.eu", events(3)).await);
    stored.extend(store(&sink, "globex", events(2)).await);

    assert_eq!(oldest_first(&sink, 100).await, stored);
    assert_eq!(oldest_first(&sink, 4).await, stored[stored.len() - 4..]);
    assert!(oldest_first(&sink, 0).await.is_empty());
    let mut newest_first = stored.clone();
    newest_first.reverse();
    assert_eq!(sink.recent_ids(100).await.expect("ids"), newest_first);
    // A new sink, as after a restart, reads the same.
    let restarted = NatsSink::connect(config(&broker, Duration::from_secs(120)))
        .await
        .expect("connected again");
    assert_eq!(oldest_first(&restarted, 100).await, stored);
}

#[tokio::test]
async fn events_older_than_the_duplicate_window_are_not_read_back() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let window = Duration::from_secs(2);
    let sink = NatsSink::connect(config(&broker, window))
        .await
        .expect("connected");
    store(&sink, "acme", events(3)).await;
    // The events age out of the window: real time is the behaviour here.
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    assert!(
        oldest_first(&sink, 100).await.is_empty(),
        "all left the window"
    );
    let fresh = store(&sink, "acme", events(2)).await;
    assert_eq!(oldest_first(&sink, 100).await, fresh);
}

#[tokio::test]
async fn other_subjects_of_a_shared_stream_are_not_read_back() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    // The vendor's own stream, holding its orders beside the events.
    broker
        .jetstream()
        .await
        .create_stream(async_nats::jetstream::stream::Config {
            name: "SHARED".to_owned(),
            subjects: vec!["usage.events.>".to_owned(), "orders.>".to_owned()],
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .expect("a shared stream");
    let sink = NatsSink::connect(NatsConfig {
        stream: "SHARED".to_owned(),
        create_stream: false,
        ..config(&broker, Duration::from_secs(120))
    })
    .await
    .expect("connected");
    let stored = store(&sink, "acme", events(2)).await;
    // An order whose message id happens to look like one of ours.
    let lookalike = format!("acme:{}", uuid::Uuid::now_v7());
    broker
        .jetstream()
        .await
        .send_publish(
            "orders.new",
            async_nats::jetstream::message::PublishMessage::build()
                .payload("{}".into())
                .message_id(lookalike),
        )
        .await
        .expect("publish")
        .await
        .expect("acknowledged");
    assert_eq!(oldest_first(&sink, 100).await, stored);
}
