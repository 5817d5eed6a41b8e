//! The PostgreSQL sink across a crash: the dedupe window is refilled from
//! the events table, so a client's retry after the server comes back, or
//! through an instance started later, is answered as a duplicate, not
//! accepted again, and the table holds each event once.

mod api;

use api::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection as _;
use support::postgres::TestDatabase;
use support::server::{ServerOptions, TestServer};

/// How many rows of `usage_events` hold each of `events`' ids, summed.
async fn rows_of(db: &TestDatabase, events: &[Value]) -> i64 {
    let ids: Vec<String> = events
        .iter()
        .map(|event| event["id"].as_str().expect("an event id").to_owned())
        .collect();
    let mut connection = sqlx::PgConnection::connect(db.url())
        .await
        .expect("connect to the test database");
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM usage_events WHERE id::text = ANY($1)")
            .bind(&ids)
            .fetch_one(&mut connection)
            .await
            .expect("count the stored events");
    connection.close().await.expect("close");
    count
}

#[tokio::test]
async fn a_retry_after_a_crash_is_a_duplicate_on_the_postgres_sink() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let options = |mode: ServerOptions| mode.database_url(db.url()).sink("postgres");
    let mut server = TestServer::start_with(options(ServerOptions::demo())).await;
    let key = server.demo().service_key;
    let token = token_str(&server, &key, "acme", "bob").await;
    let events: Vec<_> = (0..20).map(|_| event("before.crash")).collect();
    let (status, body) = send_batch(&server, &token, events.clone()).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::OK, json!(20))
    );
    assert_eq!(rows_of(&db, &events).await, 20);

    // Killed, not stopped: nothing of the window can have been saved on the
    // way out; what the new process knows it read from the table.
    server.kill();
    server.restart().await;
    let (status, body) = send_batch(&server, &token, events.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["accepted"].clone(), body["duplicates"].clone()),
        (json!(0), json!(20)),
        "the window was refilled from the events table"
    );

    // An instance that never saw the batch, started now, knows it too.
    let later = TestServer::start_with(options(ServerOptions::serve())).await;
    let (status, body) = send_batch(&later, &token, events.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["accepted"].clone(), body["duplicates"].clone()),
        (json!(0), json!(20)),
        "a second instance's window was refilled from the same table"
    );
    assert_eq!(rows_of(&db, &events).await, 20, "each event is stored once");
}
