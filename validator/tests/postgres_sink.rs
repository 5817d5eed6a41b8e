//! The PostgreSQL sink stores every event the batch reader accepts, props
//! that PostgreSQL's `jsonb` is strict about included, and a batch holding
//! an event it could not store loses only that event. Runs against the
//! database named by `USAGE_TEST_DATABASE_URL` (skipped without it, outside CI).

#![cfg(feature = "postgres")]

use std::str::FromStr as _;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, Row as _};
use time::OffsetDateTime;
use usage_validator::batch;
use usage_validator::dedupe::Dedupe;
use usage_validator::sink::{Accepted, PostgresSink, Sink as _, Source};

#[path = "support/skip.rs"]
mod skip;

fn body(events: &[String]) -> String {
    format!(
        r#"{{"sent_at":"2026-11-29T08:00:00Z","sdk":{{"name":"t","version":"1"}},"events":[{}]}}"#,
        events.join(",")
    )
}

fn event(i: usize, props: &str, session: &str) -> String {
    format!(
        r#"{{"id":"0190b6b2-7a1e-7c3a-9d2e-{i:012}","name":"e","ts":"2026-11-29T08:00:00Z","props":{props},"session":{session}}}"#
    )
}

#[tokio::test]
async fn every_accepted_event_is_stored_and_reads_back_as_itself() {
    let Some(url) = skip::database_url() else {
        return;
    };
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("schema");
    let options = PgConnectOptions::from_str(&url)
        .expect("a PostgreSQL URL")
        .options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("pool");
    let sink = PostgresSink::with_pool(pool.clone()).await.expect("sink");

    let deep = format!("{}1{}", "{\"a\":".repeat(32), "}".repeat(32));
    let wide = format!("{{\"n\":0.{}}}", "9".repeat(999));
    let events = [
        event(0, r#"{"a":"\u0000"}"#, "null"),
        event(
            1,
            r#"{ "s" : "\u00e5\ud83d\ude00 \u0001 \\u0000", "":[ ] }"#,
            r#""s\u0041""#,
        ),
        event(2, &deep, "null"),
        event(3, r#"{"a":"\udfff"}"#, "null"),
        event(4, r#"{"big":9.9e307,"small":-1e-1000,"x":1.50}"#, "null"),
        event(5, &wide, "null"),
        event(6, "{}", r#""s\u0000""#),
    ];
    let parsed = batch::parse(body(&events).as_bytes()).expect("a batch");
    let refused: Vec<usize> = (0..events.len())
        .filter(|&i| parsed.events[i].is_err())
        .collect();
    assert_eq!(refused, [0, 3, 6]);
    let accepted: Vec<_> = parsed.events.into_iter().flatten().collect();
    let batch = Accepted {
        org: "acme",
        user: "bob",
        source: Source::Client,
        sdk: Some("t/1"),
        received_at: OffsetDateTime::now_utc(),
        events: &accepted,
    };
    sink.write(batch)
        .await
        .expect("PostgreSQL stores every accepted event");
    assert_eq!(sink.count("acme").await.expect("count"), 4);

    let rows = sqlx::query(
        "SELECT id::text AS id, props::text AS props, session FROM usage_events ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    for (row, event) in rows.iter().zip(&accepted) {
        assert_eq!(row.get::<String, _>("id"), event.id.to_string());
        assert_eq!(row.get::<Option<String>, _>("session"), event.session);
        let stored: String = row.get("props");
        let sent = event.props.as_ref().expect("props").get();
        // jsonb keeps values, not spelling: compare as JSON values.
        let stored: Value = serde_json::from_str(&stored).expect("stored props read back");
        let sent: Value = serde_json::from_str(sent).expect("accepted props are JSON");
        assert_eq!(stored, sent);
    }
    // The refill streams the newest ids back in the order stored.
    let dedupe = Dedupe::with_capacity(3);
    assert_eq!(dedupe.refill(&sink).await.expect("refill"), 3);
    let mut fresh = Vec::new();
    // Newest first: the window is full, so the one new id (the oldest) is
    // asked last, when its insert can no longer push another out.
    let newest_first = accepted.iter().rev().map(|e| e.id);
    let _held = dedupe.reserve(dedupe.keys("acme", newest_first), &mut fresh);
    assert_eq!(
        fresh,
        [false, false, false, true],
        "the newest three are remembered"
    );

    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .expect("drop schema");
}
