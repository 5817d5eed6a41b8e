//! `/api/orgs/{org}/keys`: an org's service keys over the API: list, create,
//! revoke. Product admins (session) and `admin`-scoped keys may call it; a key
//! may only make keys holding scopes it holds itself.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::{require_org_access, Caller};
use super::extract::JsonBody;
use super::{ApiError, AppState, ErrorCode};
use usage_validator::credentials::{self, MAX_KEY_LIFETIME_SECS};
use usage_validator::model::{Scope, ServiceKeyInfo};
use usage_validator::registry::check_id;

/// The longest label a key may carry.
const MAX_LABEL_CHARS: usize = 128;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/orgs/{org}/keys", get(list).post(create))
        .route("/api/orgs/{org}/keys/{id}", delete(revoke))
}

/// The org's service keys, secrets never included.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyList {
    /// Oldest first, revoked and expired keys included. Each has `id`,
    /// `label`, `scopes`, `created_at`, `expires_at`, `last_used_at`, `revoked`.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<ServiceKeyInfo>,
}

/// Lists the org's service keys.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/keys",
    tag = "keys",
    params(("org" = String, Path)),
    responses(
        (status = 200, body = KeyList),
        (status = 401, body = super::ErrorBody),
        (status = 403, description = "Another org, or a key without the `admin` scope", body = super::ErrorBody),
    ),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<KeyList>, ApiError> {
    require_org_access(&state, &headers, &org, false).await?;
    Ok(Json(KeyList {
        keys: state.registry.store().service_keys(&org).await?,
    }))
}

/// A key to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewKey {
    /// What the key may do: `tokens`, `admin` or both (a full key).
    #[schema(value_type = Vec<String>, example = json!(["tokens"]))]
    scopes: Vec<Scope>,
    /// A label to recognise the key by (default `service`).
    label: Option<String>,
    /// Seconds until the key stops working (1 to ten years); without it,
    /// it works until revoked.
    expires_in: Option<i64>,
}

/// A key just made: the secret, shown this once, and its record.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key to send as `Authorization: Bearer`; stored only hashed.
    pub key: String,
    /// The key's record, as listed.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub info: ServiceKeyInfo,
}

/// Makes a service key for the org.
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/keys",
    tag = "keys",
    request_body = NewKey,
    params(("org" = String, Path)),
    responses(
        (status = 201, body = CreatedKey),
        (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody),
        (status = 403, description = "Another org, a key without the `admin` scope, or scopes the calling key lacks", body = super::ErrorBody),
    ),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    check_id(&org)?;
    let caller = require_org_access(&state, &headers, &org, true).await?;
    if body.scopes.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "name at least one scope: `tokens`, `admin`",
        ));
    }
    let label = body.label.unwrap_or_else(|| "service".into());
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "label must be at most {MAX_LABEL_CHARS} characters, without control characters"
            ),
        ));
    }
    let expires_at = match body.expires_in {
        None => None,
        Some(secs) if (1..=MAX_KEY_LIFETIME_SECS).contains(&secs) => {
            Some(OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        }
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "expires_in must be 1 second to ten years",
            ))
        }
    };
    if let Caller::Service { key_id } = &caller {
        let own = state
            .registry
            .store()
            .service_keys(&org)
            .await?
            .into_iter()
            .find(|key| &key.id == key_id);
        let allowed = own.is_some_and(|own| body.scopes.iter().all(|s| own.allows(*s)));
        if !allowed {
            return Err(ApiError::new(
                ErrorCode::MissingScope,
                "a key can only make keys with scopes it holds itself",
            ));
        }
    }
    let key = credentials::new_service_key(&org, &label, &body.scopes, expires_at);
    let store = state.registry.store();
    store.add_service_key(&key.info, &key.hash).await?;
    store
        .record_audit(
            &org,
            &super::admin::author_of(&state, &org, &caller, usage_validator::model::Via::Api).await,
            "service_key_create",
            &key.info.id,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: key.secret,
            info: key.info,
        }),
    ))
}

/// Revokes one of the org's service keys; it stops working at once.
#[utoipa::path(
    delete,
    path = "/api/orgs/{org}/keys/{id}",
    tag = "keys",
    params(("org" = String, Path), ("id" = String, Path, description = "The key id, `sk_...`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
        (status = 404, description = "`key_not_found`: no active key with that id in this org", body = super::ErrorBody),
    ),
    security(("service_key" = []), ("admin_session" = []))
)]
pub(super) async fn revoke(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let caller = require_org_access(&state, &headers, &org, true).await?;
    let store = state.registry.store();
    if !store.revoke_service_key(&org, &id).await? {
        return Err(ApiError::new(
            ErrorCode::KeyNotFound,
            "no active key with that id in this org",
        ));
    }
    store
        .record_audit(
            &org,
            &super::admin::author_of(&state, &org, &caller, usage_validator::model::Via::Api).await,
            "service_key_revoke",
            &id,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
