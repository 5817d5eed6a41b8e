//! What the router tests share: the whole app on an in-memory registry and
//! sink, with the default configuration.

use std::sync::Arc;

use usage_server::{app, AppState, ServerConfig};
use usage_validator::sink::MemorySink;
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::Registry;

/// The app's router over an empty in-memory registry.
pub async fn router() -> axum::Router {
    let store = SqliteStore::in_memory().await.expect("store");
    let registry = Arc::new(Registry::open(Arc::new(store)).await.expect("registry"));
    let state = AppState::new(
        registry,
        Arc::new(MemorySink::default()),
        ServerConfig::default(),
    )
    .await
    .expect("state");
    app(state)
}
