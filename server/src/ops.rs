//! Operations routes: liveness, readiness and metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The registry is loaded and confirmed current, and the sink can store.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Ready"), (status = 503, description = "registry_unavailable or sink_unavailable", body = super::ErrorBody)))]
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.registry.ensure_current()?;
    state.sink.ready().await?;
    Ok(Json(
        json!({"status": "ready", "revision": state.registry.revision()}),
    ))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render(&state.registry);
    state.sink.render_metrics(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
