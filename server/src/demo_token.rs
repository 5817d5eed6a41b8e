//! `POST /demo/token`, under `usage-server demo` only: status tokens for the
//! demo org's users, so the web example signs its users in without holding
//! any key. A real web app gets the token from its own back end at login
//! (`POST /v1/tokens` with a `tokens` key); this route stands in for that back
//! end and does not exist outside the demo.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::JsonBody;
use super::tokens::{status_token, TokenResponse};
use super::{ApiError, AppState, ErrorCode};

pub(super) fn routes(state: &AppState) -> Router<AppState> {
    match state.config.demo_org {
        Some(_) => Router::new().route("/demo/token", post(issue)),
        None => Router::new(),
    }
}

/// Which demo user signs in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoLogin {
    /// A user already in the demo org's directory.
    user: String,
}

async fn issue(
    State(state): State<AppState>,
    JsonBody(login): JsonBody<DemoLogin>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Some(org) = state.config.demo_org.clone() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "only the demo has this route",
        ));
    };
    // Only users the demo seeded (or an admin added): this route never grows
    // the directory.
    if state
        .registry
        .store()
        .user(&org, &login.user)
        .await?
        .is_none()
    {
        return Err(ApiError::new(
            ErrorCode::UnknownUser,
            format!("no user `{}` in the demo org", login.user),
        ));
    }
    Ok(Json(status_token(&state, org, login.user).await?))
}
