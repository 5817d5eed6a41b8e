//! Directory changes over the admin API: add or update a user (and
//! deactivate or reactivate them), remove a user, and bulk imports of up to
//! 100,000 users in one transaction (`POST /api/orgs/{org}/users`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::admin::author_of;
use super::auth::require_service;
use super::extract::JsonBody;
use super::user_rows::{self, RowError, RowsError};
use super::{ApiError, AppState, ErrorCode};
use usage_validator::model::{Role, UpsertSummary, User, UserStatus, Via};
use usage_validator::registry::{check_id, check_user};

/// Largest bulk import body: 100,000 rows of generous length.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/orgs/{org}/users/{user}",
            put(upsert_user).delete(remove_user),
        )
        .route(
            "/api/orgs/{org}/users",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
}

/// A directory record as sent to `PUT .../users/{user}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct UserBody {
    /// Display name.
    name: String,
    /// Email; may be empty.
    #[serde(default)]
    email: String,
    /// `admin` or `user`.
    #[schema(value_type = String, example = "user")]
    role: Role,
    /// `false` deactivates the user (they leave the page's drop-down and are
    /// refused status tokens), `true` reactivates them; absent keeps it.
    active: Option<bool>,
}

/// A directory record as stored.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRecord {
    /// The user.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub user: User,
    /// Whether the user is active.
    pub active: bool,
}

/// Adds or updates a directory user; `active` deactivates or reactivates them.
#[utoipa::path(
    put,
    path = "/api/orgs/{org}/users/{user}",
    tag = "admin",
    request_body = UserBody,
    params(("org" = String, Path), ("user" = String, Path)),
    responses((status = 200, body = UserRecord, description = "The stored record"), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)),
    security(("service_key" = []))
)]
pub(super) async fn upsert_user(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Json<UserRecord>, ApiError> {
    let caller = require_service(&state, &headers, &org).await?;
    let author = author_of(&state, &org, &caller, Via::Api).await;
    let user = User {
        id,
        name: body.name,
        email: body.email,
        role: body.role,
    };
    check_user(&user)?;
    state.registry.upsert_user(&org, &user, &author).await?;
    if let Some(active) = body.active {
        let status = if active {
            UserStatus::Active
        } else {
            UserStatus::Deactivated
        };
        state
            .registry
            .set_user_status(&org, std::slice::from_ref(&user.id), status, &author)
            .await?;
    }
    let active = match state
        .registry
        .store()
        .user_with_status(&org, &user.id)
        .await?
    {
        Some((_, status)) => status == UserStatus::Active,
        None => false,
    };
    Ok(Json(UserRecord { user, active }))
}

/// Removes a user from the directory: they leave every list and are refused
/// status tokens; their opt-out state stands and their history stays in the
/// audit trail. Adding them again brings them back.
#[utoipa::path(
    delete,
    path = "/api/orgs/{org}/users/{user}",
    tag = "admin",
    params(("org" = String, Path), ("user" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody), (status = 404, description = "unknown_user: not in the directory, or removed already", body = super::ErrorBody)),
    security(("service_key" = []))
)]
pub(super) async fn remove_user(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let caller = require_service(&state, &headers, &org).await?;
    check_id(&id)?;
    let author = author_of(&state, &org, &caller, Via::Api).await;
    state
        .registry
        .set_user_status(&org, &[id], UserStatus::Removed, author)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of a refused import: the API's error shape, with the rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportRefusal {
    /// `{"code": "invalid_rows", "message", "rows": [{"row", "message"}], "total"}`.
    error: ImportRefusalDetail,
}

/// Code, message and the rows to fix.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ImportRefusalDetail {
    code: ErrorCode,
    message: String,
    /// The first 100 rows with errors.
    rows: Vec<RowError>,
    /// How many rows have errors.
    total: usize,
}

/// Adds or updates up to 100,000 users in one transaction: all or nothing.
/// `Content-Type: text/csv` (header `id,name,email,role`) or
/// `application/json` (`{"users": [{"id", "name", "email", "role"}]}`).
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/users",
    tag = "admin",
    params(("org" = String, Path)),
    request_body(content = String, description = "CSV with the header id,name,email,role; or JSON {\"users\": [...]}", content_type = "text/csv"),
    responses(
        (status = 200, description = "How many users were added, updated, unchanged"),
        (status = 400, body = ImportRefusal, description = "invalid_rows: nothing was imported"),
        (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 413, body = super::ErrorBody, description = "too_many_rows or payload_too_large"),
        (status = 415, body = super::ErrorBody)),
    security(("service_key" = []))
)]
pub(super) async fn import(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = require_service(&state, &headers, &org).await?;
    let body = body.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("an import body is at most {} MiB", MAX_IMPORT_BYTES >> 20),
        )
    })?;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let rows = match media.as_deref() {
        Some("text/csv") => user_rows::from_csv(&body),
        Some("application/json") => user_rows::from_json(&body),
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the users as text/csv or application/json",
            ))
        }
    };
    let users = match rows {
        Ok(users) => users,
        Err(RowsError::TooMany) => {
            return Err(ApiError::new(
                ErrorCode::TooManyRows,
                RowsError::TooMany.to_string(),
            ))
        }
        Err(RowsError::Unreadable(message)) => {
            return Err(ApiError::new(ErrorCode::InvalidDocument, message))
        }
        Err(RowsError::Rows { errors, total }) => {
            let message = format!("nothing was imported: {total} rows have errors; fix them and send the whole document again");
            let refusal = ImportRefusal {
                error: ImportRefusalDetail {
                    code: ErrorCode::InvalidRows,
                    message,
                    rows: errors,
                    total,
                },
            };
            return Ok((ErrorCode::InvalidRows.status(), Json(refusal)).into_response());
        }
    };
    let author = author_of(&state, &org, &caller, Via::Api).await;
    let summary: UpsertSummary = state
        .registry
        .store()
        .upsert_users(&org, &users, &author)
        .await?;
    Ok(Json(summary).into_response())
}
