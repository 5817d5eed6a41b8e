//! The router driven in-process (no socket) where a test needs control a
//! client never has: token clocks, a stale registry, a failing sink.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;
use tower::ServiceExt as _;
use usage_protocol::Claims;
use usage_server::{app, AppState, ServerConfig};
use usage_validator::model::{Author, Role, User};
use usage_validator::sink::{Accepted, MemorySink, Sink};
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::{BoxFuture, Store as _};
use usage_validator::{Error, Registry};

/// A sink that fails while `broken` is set: a stand-in for a full disk.
#[derive(Debug, Default)]
struct FlakySink {
    broken: AtomicBool,
    inner: MemorySink,
}

impl Sink for FlakySink {
    fn write<'a>(&'a self, batch: Accepted<'a>) -> BoxFuture<'a, usage_validator::Result<()>> {
        if self.broken.load(Ordering::SeqCst) {
            return Box::pin(async { Err(Error::Sink(std::io::Error::other("disk full"))) });
        }
        self.inner.write(batch)
    }

    fn flush(&self) -> BoxFuture<'_, usage_validator::Result<()>> {
        self.inner.flush()
    }

    fn recent_ids(
        &self,
        limit: usize,
    ) -> BoxFuture<'_, usage_validator::Result<Vec<(String, uuid::Uuid)>>> {
        self.inner.recent_ids(limit)
    }
}

async fn state(sink: Arc<FlakySink>) -> AppState {
    let store = SqliteStore::in_memory().await.expect("store");
    store.ensure_org("acme").await.expect("org");
    let bob = User {
        id: "bob".into(),
        name: "Bob".into(),
        email: String::new(),
        role: Role::User,
    };
    store
        .upsert_users("acme", &[bob], &Author::system())
        .await
        .expect("user");
    let registry = Arc::new(Registry::open(Arc::new(store)).await.expect("registry"));
    AppState::new(registry, sink, ServerConfig::default())
        .await
        .expect("state")
}

fn token(state: &AppState, iat: i64, exp: i64) -> String {
    let claims = Claims {
        org: "acme".into(),
        sub: "bob".into(),
        opt_out: false,
        rev: 0,
        iat,
        exp,
    };
    state.with_keys(|ring| usage_validator::token::issue(ring, &claims))
}

fn batch(id: &str) -> String {
    json!({
        "sent_at": "2026-11-29T08:00:00Z",
        "sdk": {"name": "t", "version": "1"},
        "events": [{"id": id, "name": "e", "ts": "2026-11-29T08:00:00Z"}]
    })
    .to_string()
}

async fn send(state: &AppState, token: &str, body: String) -> (StatusCode, Option<String>, Value) {
    let request = Request::post("/v1/batch")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = app(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        retry,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn token_clock_errors_have_their_codes() {
    let state = state(Arc::default()).await;
    let expired = token(&state, now() - 7200, now() - 3600);
    let (status, _, body) = send(
        &state,
        &expired,
        batch("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );
    let future = token(&state, now() + 3600, now() + 7200);
    let (status, _, body) = send(
        &state,
        &future,
        batch("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
}

#[tokio::test]
async fn a_stale_registry_refuses_events_until_it_syncs() {
    let state = state(Arc::default()).await;
    let token = token(&state, now(), now() + 3600);
    state.registry.mark_stale();
    let (status, retry, body) = send(
        &state,
        &token,
        batch("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "registry_unavailable");
    assert_eq!(retry.as_deref(), Some("1"));
    state.refresh().await.expect("sync");
    let (status, _, body) = send(
        &state,
        &token,
        batch("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e"),
    )
    .await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::OK, json!(1))
    );
}

#[tokio::test]
async fn events_the_sink_could_not_store_are_accepted_on_retry() {
    let sink = Arc::new(FlakySink::default());
    let state = state(sink.clone()).await;
    let token = token(&state, now(), now() + 3600);
    sink.broken.store(true, Ordering::SeqCst);
    let (status, retry, _) = send(
        &state,
        &token,
        batch("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e"),
    )
    .await;
    assert_eq!(
        (status, retry.as_deref()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("1"))
    );
    sink.broken.store(false, Ordering::SeqCst);
    let (status, _, body) = send(
        &state,
        &token,
        batch("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e"),
    )
    .await;
    assert_eq!(
        (status, body["accepted"].clone(), body["duplicates"].clone()),
        (StatusCode::OK, json!(1), json!(0))
    );
    assert_eq!(sink.inner.events().len(), 1);
}

#[tokio::test]
async fn a_retired_signing_key_stops_its_tokens() {
    let state = state(Arc::default()).await;
    let old = token(&state, now(), now() + 3600);
    let store = state.registry.store().clone();
    let old_kid = state.key_ring().current().kid().to_owned();
    let new_key = usage_validator::token::SigningKey::generate("k-next").expect("key");
    store.add_signing_key(&new_key, true).await.expect("rotate");
    state.refresh().await.expect("reload keys");
    assert_eq!(
        send(&state, &old, batch("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e"))
            .await
            .0,
        StatusCode::OK,
        "old key still verifies"
    );
    assert!(store.remove_signing_key(&old_kid).await.expect("retire"));
    state.refresh().await.expect("reload keys");
    let (status, _, body) = send(&state, &old, batch("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6f")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unknown_key"))
    );
    let new = token(&state, now(), now() + 3600);
    assert!(new.starts_with("v1.k-next."));
}
