//! Admin hand-over links driven in-process where a test needs a clock a
//! client never has: a link past its lifetime signs no one in.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt as _;
use usage_server::{admin_link, app, AppState, ServerConfig};
use usage_validator::model::{Author, Role, User};
use usage_validator::sink::MemorySink;
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::Store as _;
use usage_validator::Registry;

async fn state() -> AppState {
    let store = SqliteStore::in_memory().await.expect("store");
    store.ensure_org("acme").await.expect("org");
    let alice = User {
        id: "alice".into(),
        name: "Alice".into(),
        email: String::new(),
        role: Role::Admin,
    };
    store
        .upsert_users("acme", &[alice], &Author::system())
        .await
        .expect("admin");
    let registry = Arc::new(Registry::open(Arc::new(store)).await.expect("registry"));
    AppState::new(
        registry,
        Arc::new(MemorySink::default()),
        ServerConfig::default(),
    )
    .await
    .expect("state")
}

async fn sign_in(state: &AppState, url: &str) -> (StatusCode, bool) {
    let path = url
        .strip_prefix(&state.config.public_url)
        .expect("a link to this server");
    let response = app(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let cookie = response.headers().contains_key(header::SET_COOKIE);
    (response.status(), cookie)
}

#[tokio::test]
async fn a_link_past_its_lifetime_signs_no_one_in() {
    let state = state().await;
    let base = state.config.public_url.clone();
    let expired = state
        .with_keys(|ring| admin_link(ring, &base, "acme", "alice", -1, None))
        .expect("link");
    assert_eq!(
        sign_in(&state, &expired).await,
        (StatusCode::UNAUTHORIZED, false)
    );

    let fresh = state
        .with_keys(|ring| admin_link(ring, &base, "acme", "alice", 120, None))
        .expect("link");
    assert_eq!(sign_in(&state, &fresh).await, (StatusCode::SEE_OTHER, true));
}
