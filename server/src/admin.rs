//! The admin API under `/api/orgs/{org}`: directory, opt-outs, audit trail.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::{require_org_access, require_service};
use super::extract::{JsonBody, QueryParams};
use super::{ApiError, AppState};
use usage_validator::model::{AuditEntry, OptOutEntry, Role, User, UserPage, UserQuery};
use usage_validator::registry::{check_id, check_user};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/orgs/{org}/users", get(list_users))
        .route("/api/orgs/{org}/users/{user}", put(upsert_user))
        .route("/api/orgs/{org}/opt-outs", get(list_opt_outs).post(opt_out))
        .route("/api/orgs/{org}/opt-ins", post(opt_in))
        .route("/api/orgs/{org}/audit", get(audit))
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
}

/// Adds or updates a directory user.
#[utoipa::path(
    put,
    path = "/api/orgs/{org}/users/{user}",
    tag = "admin",
    request_body = UserBody,
    params(("org" = String, Path), ("user" = String, Path)),
    responses((status = 200, description = "The stored record"), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)),
    security(("service_key" = []))
)]
pub(super) async fn upsert_user(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Json<User>, ApiError> {
    let caller = require_service(&state, &headers, &org).await?;
    let user = User {
        id,
        name: body.name,
        email: body.email,
        role: body.role,
    };
    check_user(&user)?;
    state
        .registry
        .upsert_user(&org, &user, &caller.actor())
        .await?;
    Ok(Json(user))
}

/// Query of `GET .../users`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct UsersQuery {
    /// Case-insensitive substring of id, name or email.
    query: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only users with this opt-out status.
    opted_out: Option<bool>,
}

/// Lists the org's users with their opt-out status.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/users",
    tag = "admin",
    params(("org" = String, Path), UsersQuery),
    responses((status = 200, description = "A page of users"), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn list_users(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<UsersQuery>,
) -> Result<Json<UserPage>, ApiError> {
    require_org_access(&state, &headers, &org, false).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1 to 1000",
        ));
    }
    if q.query.as_ref().is_some_and(|s| s.len() > 256) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "query must be at most 256 bytes",
        ));
    }
    let query = UserQuery {
        query: q.query,
        opted_out: q.opted_out,
        limit,
        cursor: q.cursor,
    };
    Ok(Json(state.registry.store().list_users(&org, &query).await?))
}

/// The org's opted-out users.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OptOutList {
    /// Newest first, with when and by whom.
    #[schema(value_type = Vec<Object>)]
    pub opt_outs: Vec<OptOutEntry>,
}

/// Lists opted-out users with when and by whom.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/opt-outs",
    tag = "admin",
    params(("org" = String, Path)),
    responses((status = 200, body = OptOutList), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn list_opt_outs(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<OptOutList>, ApiError> {
    require_org_access(&state, &headers, &org, false).await?;
    Ok(Json(OptOutList {
        opt_outs: state.registry.store().opt_outs(&org).await?,
    }))
}

/// Users to opt out or in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct UsersBody {
    /// User ids of the org, 1 to 1000.
    users: Vec<String>,
}

/// What an opt-out or opt-in call did.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangeResult {
    /// Users whose state changed.
    pub changed: Vec<String>,
    /// Users that were already in that state.
    pub unchanged: Vec<String>,
    /// The registry revision after the call.
    pub rev: u64,
}

async fn change(
    state: &AppState,
    org: &str,
    headers: &HeaderMap,
    users: Vec<String>,
    opted_out: bool,
) -> Result<Json<ChangeResult>, ApiError> {
    check_id(org)?;
    let caller = require_org_access(state, headers, org, true).await?;
    if users.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_input",
            "name at least one user",
        ));
    }
    let actor = caller.actor();
    let summary = if opted_out {
        state.registry.opt_out(org, &users, &actor).await?
    } else {
        state.registry.opt_in(org, &users, &actor).await?
    };
    let changed: Vec<String> = summary.changes.into_iter().map(|c| c.user).collect();
    let mut unchanged: Vec<String> = users.into_iter().filter(|u| !changed.contains(u)).collect();
    unchanged.dedup();
    Ok(Json(ChangeResult {
        changed,
        unchanged,
        rev: summary.rev,
    }))
}

/// Opts users out of tracking (idempotent).
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/opt-outs",
    tag = "admin",
    request_body = UsersBody,
    params(("org" = String, Path)),
    responses((status = 200, body = ChangeResult), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody), (status = 404, description = "unknown_user: nothing changed", body = super::ErrorBody)),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn opt_out(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UsersBody>,
) -> Result<Json<ChangeResult>, ApiError> {
    change(&state, &org, &headers, body.users, true).await
}

/// Opts users back in (idempotent).
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/opt-ins",
    tag = "admin",
    request_body = UsersBody,
    params(("org" = String, Path)),
    responses((status = 200, body = ChangeResult), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody), (status = 404, description = "unknown_user: nothing changed", body = super::ErrorBody)),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn opt_in(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UsersBody>,
) -> Result<Json<ChangeResult>, ApiError> {
    change(&state, &org, &headers, body.users, false).await
}

/// Query of `GET .../audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct AuditQuery {
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// Entries older than this id (from a previous page's `next_before`).
    before: Option<u64>,
}

/// One page of the audit trail.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Newest first.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<u64>,
}

/// Who changed what, when.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/audit",
    tag = "admin",
    params(("org" = String, Path), AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn audit(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    require_org_access(&state, &headers, &org, false).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1 to 1000",
        ));
    }
    let entries = state.registry.store().audit(&org, limit, q.before).await?;
    let next_before = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries,
        next_before,
    }))
}
