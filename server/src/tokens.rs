//! `POST /v1/tokens`: a back end asks for a user's status token at login.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use usage_protocol::Claims;

use super::auth::require_scope;
use super::extract::JsonBody;
use super::{ApiError, AppState};
use usage_validator::model::Scope;
use usage_validator::token;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/tokens", post(issue))
}

/// Who is logging in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct TokenRequest {
    /// The org; must be the service key's.
    org: String,
    /// The user id; added to the directory as a plain user if unknown.
    user: String,
    /// Display name, stored in the directory when given.
    name: Option<String>,
    /// Email, stored in the directory when given.
    email: Option<String>,
}

/// The status token and the flag it carries.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The signed token for the client SDK's `login`.
    pub token: String,
    /// Whether the user is opted out now.
    pub opt_out: bool,
    /// Expiry, unix seconds.
    pub exp: i64,
}

/// Issues a status token for a user at login.
#[utoipa::path(
    post,
    path = "/v1/tokens",
    tag = "tokens",
    request_body = TokenRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "Bad ids or fields", body = super::ErrorBody),
        (status = 401, description = "No, unknown, revoked or expired (`key_expired`) service key", body = super::ErrorBody),
        (status = 403, description = "Key of another org, or without the `tokens` scope (`missing_scope`)", body = super::ErrorBody),
        (status = 503, description = "registry_unavailable", body = super::ErrorBody),
    ),
    security(("service_key" = []))
)]
pub(super) async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    require_scope(&state, &headers, &request.org, Scope::Tokens).await?;
    state
        .registry
        .ensure_user(
            &request.org,
            &request.user,
            request.name.as_deref(),
            request.email.as_deref(),
        )
        .await?;
    Ok(Json(status_token(&state, request.org, request.user).await?))
}

/// A status token for `user` of `org`, carrying the flag as the registry
/// stands now.
pub(super) async fn status_token(
    state: &AppState,
    org: String,
    user: String,
) -> Result<TokenResponse, ApiError> {
    state.registry.ensure_fresh().await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        opt_out: state.registry.is_opted_out(&org, &user),
        rev: state.registry.revision(),
        org,
        sub: user,
        iat: now,
        exp: now + state.config.token_lifetime_secs,
    };
    let token = state.with_keys(|ring| token::issue(ring, &claims));
    Ok(TokenResponse {
        token,
        opt_out: claims.opt_out,
        exp: claims.exp,
    })
}
