//! The NATS JetStream sink against a real `nats-server -js` on loopback: one
//! message per accepted event with the NDJSON record and its headers, stored
//! once however often it is written, the stream's settings checked at
//! start, and a broker that goes away refused with an error, never waited
//! on. Skipped (loudly) where Debian's `nats-server` is not installed; never
//! under CI.

#![cfg(feature = "nats")]

#[path = "support/nats.rs"]
mod nats;

use std::time::{Duration, Instant};

use async_nats::jetstream::stream;
use nats::Broker;
use time::OffsetDateTime;
use usage_validator::batch;
use usage_validator::sink::{Accepted, NatsConfig, NatsSink, Sink as _, Source, StoredEvent};

fn config(broker: &Broker, stream: &str) -> NatsConfig {
    NatsConfig {
        url: broker.url(),
        stream: stream.to_owned(),
        timeout: Duration::from_secs(2),
        ..NatsConfig::default()
    }
}

/// Events as the batch reader accepts them: `n` of them, ids ending in
/// `first..first + n`.
fn events(first: usize, n: usize) -> Vec<usage_protocol::Event> {
    let events: Vec<String> = (first..first + n)
        .map(|i| {
            format!(
                r#"{{"id":"0190b6b2-7a1e-7c3a-9d2e-{i:012}","name":"report.opened","ts":"2026-11-29T08:00:00.5Z","props":{{"n":{i},"s":"a.b"}},"session":"s-{i}"}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"sent_at":"2026-11-29T08:00:01Z","sdk":{{"name":"usage-sdk-rust","version":"0.3.0"}},"events":[{}]}}"#,
        events.join(",")
    );
    batch::parse(body.as_bytes())
        .expect("a batch")
        .events
        .into_iter()
        .map(|event| event.expect("a valid event"))
        .collect()
}

fn accepted<'a>(org: &'a str, user: &'a str, events: &'a [usage_protocol::Event]) -> Accepted<'a> {
    Accepted {
        org,
        user,
        source: Source::Server,
        sdk: Some("usage-sdk-rust/0.3.0"),
        received_at: OffsetDateTime::from_unix_timestamp(1_764_403_201).expect("a time"),
        events,
    }
}

#[tokio::test]
async fn every_event_is_one_message_holding_its_record_with_headers_for_routing() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let sink = NatsSink::connect(config(&broker, "USAGE"))
        .await
        .expect("connects, creating the stream");
    assert!(sink.ready().await.is_ok());
    let batch = events(1, 3);
    // An org id with a dot: one subject token all the same.
    sink.write(accepted("acme.eu", "ada", &batch))
        .await
        .expect("acknowledged");
    sink.write(accepted("acme.eu", "ada", &[]))
        .await
        .expect("an empty batch publishes nothing");

    let messages = broker.messages("USAGE").await;
    assert_eq!(messages.len(), 3);
    for ((subject, headers, payload), event) in messages.iter().zip(&batch) {
        assert_eq!(subject, "usage.events.acme%2Eeu");
        assert_eq!(subject, &sink.subject("acme.eu"));
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("Nats-Msg-Id"),
            Some(format!("acme.eu:{}", event.id).as_str())
        );
        assert_eq!(header("Usage-Org"), Some("acme.eu"));
        assert_eq!(header("Usage-User"), Some("ada"));
        assert_eq!(header("Usage-Source"), Some("server"));
        // The same record the NDJSON sink writes as a line.
        let record =
            serde_json::to_value(StoredEvent::new(&accepted("acme.eu", "ada", &batch), event))
                .expect("a record");
        assert_eq!(payload, &record);
        assert_eq!(payload["source"], "server");
        assert_eq!(payload["props"]["s"], "a.b");
    }

    let mut metrics = String::new();
    sink.render_metrics(&mut metrics);
    assert!(
        metrics.contains("usage_sink_publish_seconds_count 1\n"),
        "one batch acknowledged (the empty one publishes nothing): {metrics}"
    );
}

#[tokio::test]
async fn a_batch_written_again_through_another_instance_is_stored_once() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let first = NatsSink::connect(config(&broker, "USAGE"))
        .await
        .expect("connects");
    let second = NatsSink::connect(config(&broker, "USAGE"))
        .await
        .expect("finds the stream the first made");
    let batch = events(10, 4);
    first
        .write(accepted("acme", "ada", &batch))
        .await
        .expect("stored");
    first
        .write(accepted("acme", "ada", &batch))
        .await
        .expect("a retry");
    second
        .write(accepted("acme", "ada", &batch[1..]))
        .await
        .expect("a retry elsewhere");
    // The same event ids in another org are other events.
    second
        .write(accepted("globex", "bob", &batch[..2]))
        .await
        .expect("stored");

    let messages = broker.messages("USAGE").await;
    let ids: Vec<(String, String)> = messages
        .iter()
        .map(|(_, _, p)| (p["org"].to_string(), p["id"].to_string()))
        .collect();
    assert_eq!(ids.len(), 6, "{ids:?}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6, "{ids:?}");

    let info = broker
        .jetstream()
        .await
        .get_stream("USAGE")
        .await
        .expect("stream")
        .cached_info()
        .config
        .clone();
    assert_eq!(info.subjects, vec!["usage.events.>".to_owned()]);
    assert_eq!(info.storage, stream::StorageType::File);
    assert!(info.num_replicas <= 1, "one replica: {}", info.num_replicas);
    assert_eq!(
        info.max_messages, -1,
        "no limit: retention is the operator's"
    );
    assert_eq!(
        info.duplicate_window,
        NatsConfig::default().duplicate_window
    );
}

#[tokio::test]
async fn a_stream_that_must_exist_or_holds_other_subjects_stops_the_start() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let missing = NatsSink::connect(NatsConfig {
        create_stream: false,
        ..config(&broker, "ABSENT")
    })
    .await
    .expect_err("no stream, none made");
    assert!(
        missing.to_string().contains("`ABSENT` must exist"),
        "{missing}"
    );
    let js = broker.jetstream().await;
    assert!(
        js.get_stream("ABSENT").await.is_err(),
        "nothing was created"
    );

    js.create_stream(stream::Config {
        name: "OTHER".to_owned(),
        subjects: vec!["orders.>".to_owned()],
        ..stream::Config::default()
    })
    .await
    .expect("a stream of other subjects");
    let other = NatsSink::connect(config(&broker, "OTHER"))
        .await
        .expect_err("the stream does not hold the events' subjects");
    assert!(
        other.to_string().contains("not `usage.events.>`"),
        "{other}"
    );

    // A stream made beforehand that holds the subjects is used as it is.
    js.create_stream(stream::Config {
        name: "MINE".to_owned(),
        subjects: vec!["usage.events.>".to_owned()],
        ..stream::Config::default()
    })
    .await
    .expect("the vendor's own stream");
    let sink = NatsSink::connect(NatsConfig {
        create_stream: false,
        ..config(&broker, "MINE")
    })
    .await
    .expect("the existing stream");
    sink.write(accepted("acme", "ada", &events(1, 1)))
        .await
        .expect("stored");
    assert_eq!(broker.messages("MINE").await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_broker_fails_writes_at_once_and_is_found_again() {
    let Some(mut broker) = Broker::start().await else {
        return;
    };
    let sink = NatsSink::connect(config(&broker, "USAGE"))
        .await
        .expect("connects");
    sink.write(accepted("acme", "ada", &events(1, 2)))
        .await
        .expect("stored");

    broker.stop();
    // The client notices the lost connection within a moment; until the
    // broker is back, every write fails and the sink is not ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.ready().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still ready 10 s after the broker went"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let refused = sink
        .write(accepted("acme", "ada", &events(3, 2)))
        .await
        .expect_err("nothing acknowledged, nothing claimed");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the timeout"
    );
    assert!(refused.to_string().contains("JetStream"), "{refused}");
    let mut metrics = String::new();
    sink.render_metrics(&mut metrics);
    let failures: u64 = metrics
        .lines()
        .filter(|line| line.starts_with("usage_sink_publish_failures_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(failures, 1, "{metrics}");

    broker.resume().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while sink.ready().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "not ready 15 s after the broker came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sink.write(accepted("acme", "ada", &events(3, 2)))
        .await
        .expect("stored once the broker is back");
    let ids: Vec<String> = broker
        .messages("USAGE")
        .await
        .iter()
        .map(|(_, _, p)| p["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
}

#[tokio::test]
async fn a_login_in_the_url_is_used_and_may_not_be_given_twice() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    // A broker without authorization lets any login in: the URL's is sent.
    let in_url = broker.url().replace("nats://", "nats://ada:secret@");
    let sink = NatsSink::connect(NatsConfig {
        url: in_url.clone(),
        ..config(&broker, "USAGE")
    })
    .await
    .expect("a login in the URL alone");
    assert!(sink.ready().await.is_ok());
    for (token, user_password) in [
        (Some("t0ken".to_owned()), None),
        (None, Some(("bob".to_owned(), "pw".to_owned()))),
    ] {
        let twice = NatsSink::connect(NatsConfig {
            url: in_url.clone(),
            token,
            user_password,
            ..config(&broker, "USAGE")
        })
        .await
        .expect_err("a login in the URL and another apart");
        assert!(twice.to_string().contains("give them once"), "{twice}");
    }
}
