//! SCIM 2.0 directory sync at `/scim/v2/Users` (RFC 7643, 7644), so an
//! identity provider can provision and deprovision an org's users.
//!
//! The org is the one of the service key sent as `Authorization: Bearer`.
//! `userName` is the user id; `displayName` (or `name`) the name; the primary
//! email the email; `active: false` deactivates. DELETE removes the user:
//! they leave every list and are refused tokens, their history stays in the
//! audit trail. Every change is recorded as made through `scim` by the key.

mod resource;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use self::resource::{
    boolean, scim_json, user_name_filter, user_resource, ScimError, UserInput, LIST_SCHEMA,
    PATCH_SCHEMA,
};
use super::auth::{bearer, service_key};
use super::extract::QueryParams;
use super::AppState;
use usage_validator::model::{Actor, Author, Role, Scope, User, UserQuery, UserStatus, Via};
use usage_validator::registry::check_id;
use usage_validator::store::MAX_PAGE;

/// Most resources one list response holds.
const MAX_COUNT: usize = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/scim/v2/Users", get(list).post(create))
        .route(
            "/scim/v2/Users/{id}",
            get(read).put(replace).patch(patch).delete(remove),
        )
}

/// The org of the service key, and who acts in the audit trail.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<(String, Author), ScimError> {
    let Some(key) = bearer(headers) else {
        return Err(ScimError::new(
            StatusCode::UNAUTHORIZED,
            "send a service key as `Authorization: Bearer <key>`",
        ));
    };
    let info = service_key(state, key).await?;
    if !info.allows(Scope::Admin) {
        // Provisioning changes the directory: the admin scope's job.
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            "this service key lacks the `admin` scope SCIM needs",
        ));
    }
    let author = Author::new(Actor::ServiceKey(info.id), Via::Scim).named(info.label);
    Ok((info.org, author))
}

/// A JSON body of a SCIM request (`application/scim+json` or `application/json`).
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, ScimError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}"))
            .typed("invalidSyntax")
    })
}

fn status_of(active: bool) -> UserStatus {
    if active {
        UserStatus::Active
    } else {
        UserStatus::Deactivated
    }
}

/// The user `id`, unless absent or removed.
async fn existing(state: &AppState, org: &str, id: &str) -> Result<(User, UserStatus), ScimError> {
    match state.registry.store().user_with_status(org, id).await? {
        Some((_, UserStatus::Removed)) | None => Err(ScimError::no_user(id)),
        Some(found) => Ok(found),
    }
}

/// Writes `user` with `status` and answers with the resource as stored.
async fn write(
    state: &AppState,
    org: &str,
    user: &User,
    status: UserStatus,
    author: &Author,
    code: StatusCode,
) -> Result<Response, ScimError> {
    state.registry.upsert_user(org, user, author).await?;
    state
        .registry
        .set_user_status(org, std::slice::from_ref(&user.id), status, author)
        .await?;
    let (stored, status) = existing(state, org, &user.id).await?;
    Ok(scim_json(code, &user_resource(&stored, status)))
}

/// Provisions a user (SCIM 2.0).
#[utoipa::path(
    post,
    path = "/scim/v2/Users",
    tag = "scim",
    request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 201, description = "The User resource", content_type = "application/scim+json"), (status = 400, description = "RFC 7644 error: invalidValue"), (status = 401, description = "RFC 7644 error"), (status = 409, description = "RFC 7644 error: uniqueness")),
    security(("service_key" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ScimError> {
    let (org, author) = caller(&state, &headers).await?;
    let input: UserInput = body(&bytes)?;
    let Some(id) = input.user_name.clone() else {
        return Err(ScimError::invalid_value("`userName` is required"));
    };
    check_id(&id)?;
    if let Some((_, UserStatus::Active | UserStatus::Deactivated)) =
        state.registry.store().user_with_status(&org, &id).await?
    {
        return Err(
            ScimError::new(StatusCode::CONFLICT, format!("user `{id}` exists already"))
                .typed("uniqueness"),
        );
    }
    let user = User {
        name: input.display_name(&id),
        email: input.email(),
        role: Role::User,
        id,
    };
    write(
        &state,
        &org,
        &user,
        status_of(input.active()?),
        &author,
        StatusCode::CREATED,
    )
    .await
}

/// One user (SCIM 2.0).
#[utoipa::path(
    get,
    path = "/scim/v2/Users/{id}",
    tag = "scim",
    params(("id" = String, Path)),
    responses((status = 200, description = "The User resource", content_type = "application/scim+json"), (status = 401, description = "RFC 7644 error"), (status = 404, description = "RFC 7644 error")),
    security(("service_key" = []))
)]
pub(super) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let (org, _) = caller(&state, &headers).await?;
    let (user, status) = existing(&state, &org, &id).await?;
    Ok(scim_json(StatusCode::OK, &user_resource(&user, status)))
}

/// Replaces a user's name, email and `active` (SCIM 2.0).
#[utoipa::path(
    put,
    path = "/scim/v2/Users/{id}",
    tag = "scim",
    params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 200, description = "The User resource", content_type = "application/scim+json"), (status = 400, description = "RFC 7644 error"), (status = 404, description = "RFC 7644 error")),
    security(("service_key" = []))
)]
pub(super) async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ScimError> {
    let (org, author) = caller(&state, &headers).await?;
    let input: UserInput = body(&bytes)?;
    let (old, _) = existing(&state, &org, &id).await?;
    if input.user_name.as_deref().is_some_and(|name| name != id) {
        return Err(
            ScimError::new(StatusCode::BAD_REQUEST, "`userName` cannot change").typed("mutability"),
        );
    }
    // The role is this directory's own: SCIM does not carry it.
    let user = User {
        name: input.display_name(&id),
        email: input.email(),
        role: old.role,
        id,
    };
    write(
        &state,
        &org,
        &user,
        status_of(input.active()?),
        &author,
        StatusCode::OK,
    )
    .await
}

/// A PATCH request body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PatchRequest {
    #[serde(default, rename = "schemas")]
    schemas: Vec<String>,
    operations: Vec<Operation>,
}

/// One PATCH operation.
#[derive(Debug, Deserialize)]
struct Operation {
    op: String,
    path: Option<String>,
    value: Option<Value>,
}

/// Patches `active` or `displayName` (SCIM 2.0 PatchOp).
#[utoipa::path(
    patch,
    path = "/scim/v2/Users/{id}",
    tag = "scim",
    params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 200, description = "The User resource", content_type = "application/scim+json"), (status = 400, description = "RFC 7644 error: invalidPath, invalidValue"), (status = 404, description = "RFC 7644 error")),
    security(("service_key" = []))
)]
pub(super) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ScimError> {
    let (org, author) = caller(&state, &headers).await?;
    let request: PatchRequest = body(&bytes)?;
    if !request.schemas.is_empty() && !request.schemas.iter().any(|s| s == PATCH_SCHEMA) {
        return Err(ScimError::invalid_value(format!(
            "a PATCH request has the schema {PATCH_SCHEMA}"
        )));
    }
    let (mut user, mut status) = existing(&state, &org, &id).await?;
    for op in &request.operations {
        if !op.op.eq_ignore_ascii_case("replace") && !op.op.eq_ignore_ascii_case("add") {
            return Err(ScimError::invalid_value(format!(
                "operation `{}` is not supported; use `replace`",
                op.op
            )));
        }
        let value = op
            .value
            .as_ref()
            .ok_or_else(|| ScimError::invalid_value("`value` is required"))?;
        // Either `path` names the attribute, or `value` is an object of them.
        let pairs: Vec<(String, &Value)> = match (&op.path, value) {
            (Some(path), value) => vec![(path.clone(), value)],
            (None, Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            (None, _) => {
                return Err(ScimError::invalid_value(
                    "`value` must be an object without `path`",
                ))
            }
        };
        for (path, value) in pairs {
            match path.as_str() {
                p if p.eq_ignore_ascii_case("active") => status = status_of(boolean(value)?),
                p if p.eq_ignore_ascii_case("displayName") => {
                    user.name = value
                        .as_str()
                        .ok_or_else(|| ScimError::invalid_value("`displayName` must be a string"))?
                        .to_owned();
                }
                other => {
                    return Err(ScimError::new(
                        StatusCode::BAD_REQUEST,
                        format!(
                        "attribute `{other}` cannot be patched here; use `active` or `displayName`"
                    ),
                    )
                    .typed("invalidPath"))
                }
            }
        }
    }
    write(&state, &org, &user, status, &author, StatusCode::OK).await
}

/// Deprovisions a user: removed from the directory, history kept (SCIM 2.0).
#[utoipa::path(
    delete,
    path = "/scim/v2/Users/{id}",
    tag = "scim",
    params(("id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "RFC 7644 error")),
    security(("service_key" = []))
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ScimError> {
    let (org, author) = caller(&state, &headers).await?;
    existing(&state, &org, &id).await?;
    state
        .registry
        .set_user_status(&org, &[id], UserStatus::Removed, author)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of a list request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    filter: Option<String>,
    /// 1-based index of the first result.
    start_index: Option<usize>,
    count: Option<usize>,
}

/// Lists users, or finds one with `filter=userName eq "..."` (SCIM 2.0).
#[utoipa::path(
    get,
    path = "/scim/v2/Users",
    tag = "scim",
    params(("filter" = Option<String>, Query), ("startIndex" = Option<usize>, Query), ("count" = Option<usize>, Query)),
    responses((status = 200, description = "A ListResponse", content_type = "application/scim+json"), (status = 400, description = "RFC 7644 error: invalidFilter")),
    security(("service_key" = []))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<QueryParams<ListQuery>, crate::ApiError>,
) -> Result<Response, ScimError> {
    let (org, _) = caller(&state, &headers).await?;
    let QueryParams(query) = query?;
    let start = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(100).min(MAX_COUNT);
    let mut matches: Vec<Value> = Vec::new();
    let total;
    if let Some(filter) = &query.filter {
        let name = user_name_filter(filter)?;
        let found = match state.registry.store().user_with_status(&org, &name).await? {
            Some((user, status)) if status != UserStatus::Removed => {
                Some(user_resource(&user, status))
            }
            _ => None,
        };
        total = usize::from(found.is_some());
        matches.extend(found.filter(|_| start == 1 && count > 0));
    } else {
        // The directory in its listing order; the page asked for is cut out
        // while counting the rest.
        let mut q = UserQuery {
            limit: MAX_PAGE,
            ..Default::default()
        };
        let mut seen = 0;
        loop {
            let page = state.registry.store().list_users(&org, &q).await?;
            for entry in page.users {
                seen += 1;
                if seen >= start && matches.len() < count {
                    let status = status_of(entry.active);
                    matches.push(user_resource(&entry.user, status));
                }
            }
            match page.next_cursor {
                Some(next) => q.cursor = Some(next),
                None => break,
            }
        }
        total = seen;
    }
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": matches.len(),
        "Resources": matches,
    });
    Ok(scim_json(StatusCode::OK, &body))
}
