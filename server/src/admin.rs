//! The admin API under `/api/orgs/{org}`: the lists (users, opt-outs,
//! audit trail; paged by cursor, searchable, opt-outs and audit also as CSV)
//! and opting users out and in. Directory changes live in `directory`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::{require_org_access, Caller};
use super::export::{wants_csv, CsvTable};
use super::extract::{JsonBody, QueryParams};
use super::{ApiError, AppState, ErrorCode};
use usage_validator::model::{
    AuditEntry, AuditQuery, Author, OptOutEntry, OptOutQuery, UserPage, UserQuery, Via,
};
use usage_validator::registry::{check_id, MAX_TEXT_LEN};
use usage_validator::store::MAX_PAGE;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/orgs/{org}/users", get(list_users))
        .route("/api/orgs/{org}/opt-outs", get(list_opt_outs).post(opt_out))
        .route("/api/orgs/{org}/opt-ins", post(opt_in))
        .route("/api/orgs/{org}/audit", get(audit))
}

/// Most rows a CSV export holds.
pub const MAX_EXPORT_ROWS: usize = 1_000_000;

/// How `caller` is named in the audit trail when acting through `via`: an
/// admin by id and name, a service key by id and label.
pub(crate) async fn author_of(state: &AppState, org: &str, caller: &Caller, via: Via) -> Author {
    let author = Author::new(caller.actor(), via);
    match caller {
        Caller::Admin { user, .. } => author.named(user.name.clone()),
        Caller::Service { key_id, .. } => {
            // The label is looked up for the record only: a key that cannot be
            // named is still named by its id.
            let keys = state.registry.store().service_keys(org).await;
            match keys
                .ok()
                .and_then(|keys| keys.into_iter().find(|k| &k.id == key_id))
            {
                Some(key) => author.named(key.label),
                None => author,
            }
        }
    }
}

/// The page size asked for: 1 to 1000, default 100.
fn page_size(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(100);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit must be 1 to {MAX_PAGE}"),
        ))
    }
}

/// The search text asked for, at most 256 bytes.
fn search_text(query: Option<String>) -> Result<Option<String>, ApiError> {
    if query.as_ref().is_some_and(|s| s.len() > MAX_TEXT_LEN) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("query must be at most {MAX_TEXT_LEN} bytes"),
        ));
    }
    Ok(query)
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
    /// Only active (`true`) or deactivated (`false`) users; removed users
    /// are never listed.
    active: Option<bool>,
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
    let query = UserQuery {
        query: search_text(q.query)?,
        opted_out: q.opted_out,
        active: q.active,
        limit: page_size(q.limit)?,
        cursor: q.cursor,
    };
    Ok(Json(state.registry.store().list_users(&org, &query).await?))
}

/// Query of `GET .../opt-outs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct OptOutsQuery {
    /// Case-insensitive substring of id, name or email.
    query: Option<String>,
    /// Page size, 1 to 1000 (default 100); a CSV export holds every match.
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
}

/// One page of the org's opted-out users.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OptOutList {
    /// Newest first, with when and by whom.
    #[schema(value_type = Vec<Object>)]
    pub opt_outs: Vec<OptOutEntry>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// How many opted-out users match the query, over all pages.
    pub total: u64,
}

/// Lists opted-out users with when and by whom, newest first; as CSV with
/// `Accept: text/csv`.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/opt-outs",
    tag = "admin",
    params(("org" = String, Path), OptOutsQuery),
    responses(
        (status = 200, body = OptOutList, description = "A page of opted-out users"),
        (status = 200, content_type = "text/csv", description = "Every match, with `Accept: text/csv`: id,name,email,opted_out_at,opted_out_by,active"),
        (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn list_opt_outs(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<OptOutsQuery>,
) -> Result<Response, ApiError> {
    require_org_access(&state, &headers, &org, false).await?;
    let mut query = OptOutQuery {
        query: search_text(q.query)?,
        limit: page_size(q.limit)?,
        cursor: q.cursor,
    };
    let store = state.registry.store();
    if !wants_csv(&headers) {
        let page = store.opt_outs(&org, &query).await?;
        return Ok(Json(OptOutList {
            opt_outs: page.opt_outs,
            next_cursor: page.next_cursor,
            total: page.total,
        })
        .into_response());
    }
    query.limit = MAX_PAGE;
    query.cursor = None;
    let mut table = CsvTable::new(&[
        "id",
        "name",
        "email",
        "opted_out_at",
        "opted_out_by",
        "active",
    ]);
    let mut rows = 0;
    loop {
        let page = store.opt_outs(&org, &query).await?;
        for entry in &page.opt_outs {
            let at = rfc3339(entry.opted_out_at);
            table.row([
                entry.user.id.as_str(),
                &entry.user.name,
                &entry.user.email,
                &at,
                &entry.opted_out_by,
                if entry.active { "true" } else { "false" },
            ]);
        }
        rows += page.opt_outs.len();
        match page.next_cursor {
            Some(next) if rows < MAX_EXPORT_ROWS => query.cursor = Some(next),
            _ => break,
        }
    }
    Ok(table.into_response(&format!("opt-outs-{org}.csv")))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "name at least one user",
        ));
    }
    let author = author_of(state, org, &caller, Via::Api).await;
    let summary = if opted_out {
        state.registry.opt_out(org, &users, author).await?
    } else {
        state.registry.opt_in(org, &users, author).await?
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
pub(super) struct AuditParams {
    /// Only entries about this user id.
    user: Option<String>,
    /// Page size, 1 to 1000 (default 100); a CSV export holds every match.
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
}

/// One page of the audit trail.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditList {
    /// Newest first: who (`actor`, `actor_name`), through what (`via`), what
    /// (`action` on `target`), the state `before` and `after`, and when (`at`).
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Who changed what, through what, when, with the state before and after;
/// as CSV with `Accept: text/csv`.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/audit",
    tag = "admin",
    params(("org" = String, Path), AuditParams),
    responses(
        (status = 200, body = AuditList, description = "A page of the audit trail, newest first"),
        (status = 200, content_type = "text/csv", description = "Every match, with `Accept: text/csv`: id,at,action,target,via,actor,actor_name,before,after"),
        (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn audit(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<AuditParams>,
) -> Result<Response, ApiError> {
    require_org_access(&state, &headers, &org, false).await?;
    if let Some(user) = &q.user {
        check_id(user)?;
    }
    let mut query = AuditQuery {
        target: q.user,
        limit: page_size(q.limit)?,
        cursor: q.cursor,
    };
    let store = state.registry.store();
    if !wants_csv(&headers) {
        let page = store.audit(&org, &query).await?;
        return Ok(Json(AuditList {
            entries: page.entries,
            next_cursor: page.next_cursor,
        })
        .into_response());
    }
    query.limit = MAX_PAGE;
    query.cursor = None;
    let mut table = CsvTable::new(&[
        "id",
        "at",
        "action",
        "target",
        "via",
        "actor",
        "actor_name",
        "before",
        "after",
    ]);
    let mut rows = 0;
    loop {
        let page = store.audit(&org, &query).await?;
        for entry in &page.entries {
            let json = |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string);
            let (id, at) = (entry.id.to_string(), rfc3339(entry.at));
            let (before, after) = (json(&entry.before), json(&entry.after));
            table.row([
                id.as_str(),
                &at,
                &entry.action,
                &entry.target,
                &entry.via,
                &entry.actor,
                entry.actor_name.as_deref().unwrap_or(""),
                before.as_deref().unwrap_or(""),
                after.as_deref().unwrap_or(""),
            ]);
        }
        rows += page.entries.len();
        match page.next_cursor {
            Some(next) if rows < MAX_EXPORT_ROWS => query.cursor = Some(next),
            _ => break,
        }
    }
    Ok(table.into_response(&format!("audit-{org}.csv")))
}
