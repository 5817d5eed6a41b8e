//! The PostgreSQL sink across a restart: the dedupe window is refilled from
//! the events table, so a client's retry after the restart is answered as a
//! duplicate, not accepted again.

mod api;

use api::*;
use reqwest::StatusCode;
use serde_json::json;
use support::postgres::TestDatabase;
use support::server::{ServerOptions, TestServer};

#[tokio::test]
async fn a_retry_after_a_restart_is_a_duplicate_on_the_postgres_sink() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let mut server = TestServer::start_with(
        ServerOptions::demo()
            .database_url(db.url())
            .sink("postgres"),
    )
    .await;
    let key = server.demo().service_key;
    let token = token_str(&server, &key, "acme", "bob").await;
    let events: Vec<_> = (0..20).map(|_| event("before.restart")).collect();
    let (status, body) = send_batch(&server, &token, events.clone()).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::OK, json!(20))
    );

    server.restart().await;
    let (status, body) = send_batch(&server, &token, events).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["accepted"].clone(), body["duplicates"].clone()),
        (json!(0), json!(20)),
        "the window was refilled from the events table"
    );
}
