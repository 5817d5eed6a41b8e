//! Event ingestion: `POST /v1/batch` from clients and `POST /v1/server-events`
//! from back ends. Both end in the same authoritative check.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use tower_http::cors::{AllowOrigin, CorsLayer};
use usage_protocol::limits::MAX_BODY_BYTES;
use usage_protocol::{BatchResponse, Claims, Event, RejectCode};

use super::auth::{bearer, require_scope};
use super::{ApiError, AppState, BodyTimeout, ErrorCode};
use usage_validator::batch::{self, BatchError};
use usage_validator::check::{check_batch, Subject};
use usage_validator::model::Scope;
use usage_validator::sink::{Accepted, Source};
use usage_validator::token;

pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let origins = if state.config.cors_origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            state
                .config
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    let cors = CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(86_400));
    Router::new()
        .route("/v1/batch", post(batch).layer(cors))
        .route("/v1/server-events", post(server_events))
}

/// Reads a request body of at most 1 MiB; 413 beyond, 408 when it does not
/// arrive within the body timeout.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(BatchError::TooLarge.into());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|err| {
            let timed_out =
                std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<BodyTimeout>());
            if timed_out {
                ApiError::new(
                    ErrorCode::RequestTimeout,
                    "the request body did not arrive in time",
                )
            } else {
                BatchError::TooLarge.into()
            }
        })
}

/// The media type without parameters, lowercased.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn unsupported(expected: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        format!("send the body as {expected}"),
    )
}

/// Checks a batch and stores what it accepts; shared by both routes. The
/// caller has made sure the registry is fresh (`Registry::ensure_fresh`)
/// since the batch arrived.
async fn ingest(
    state: &AppState,
    subject: Subject<'_>,
    source: Source,
    sdk: Option<&str>,
    events: Vec<Result<Event, RejectCode>>,
) -> Result<BatchResponse, ApiError> {
    let verdict = check_batch(&state.registry, &state.dedupe, subject, events);
    if !verdict.accepted.is_empty() {
        let accepted = Accepted {
            org: subject.org,
            user: subject.user,
            source,
            sdk,
            received_at: OffsetDateTime::now_utc(),
            events: &verdict.accepted,
        };
        // Not stored, so not acknowledged: returning drops the reservation,
        // and the retry is not taken for a duplicate.
        state.sink.write(accepted).await?;
    }
    verdict.reservation.commit();
    state.metrics.record_events(&verdict.response);
    Ok(verdict.response)
}

/// The token's claims once verified and within the user's batch rate.
fn verified(state: &AppState, token: &str, now: i64) -> Result<Claims, ApiError> {
    let claims = state.with_keys(|ring| token::verify(ring, token, now))?;
    state
        .limiter
        .check(&(claims.org.as_str(), claims.sub.as_str()))
        .map_err(|secs| {
            ApiError::new(ErrorCode::RateLimited, "too many batches; slow down").retry_after(secs)
        })?;
    Ok(claims)
}

/// `POST /v1/batch`: a client's events, authenticated by its status token.
#[utoipa::path(
    post,
    path = "/v1/batch",
    tag = "ingestion",
    request_body(content = usage_protocol::Batch, description = "JSON, or the same JSON as text/plain (sendBeacon)"),
    responses(
        (status = 200, description = "Checked; see the counts", body = BatchResponse),
        (status = 400, description = "Malformed batch", body = super::ErrorBody),
        (status = 401, description = "invalid_token, token_expired or unknown_key", body = super::ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = super::ErrorBody),
        (status = 415, description = "Not JSON or text/plain", body = super::ErrorBody),
        (status = 429, description = "rate_limited, with Retry-After", body = super::ErrorBody),
        (status = 503, description = "registry_unavailable, with Retry-After", body = super::ErrorBody),
    ),
    security(("status_token" = []))
)]
pub(super) async fn batch(State(state): State<AppState>, request: Request) -> Response {
    let result = batch_inner(&state, request).await;
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(err) => err.status(),
    };
    state.metrics.record_batch(status.as_u16());
    match result {
        Ok(response) => Json(response).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn batch_inner(state: &AppState, request: Request) -> Result<BatchResponse, ApiError> {
    let (parts, body) = request.into_parts();
    match media_type(&parts.headers).as_deref() {
        Some("application/json" | "text/plain") => {}
        _ => return Err(unsupported("application/json or text/plain")),
    }
    // A token in the header is checked before the body is read, so a bad one
    // costs a look at the header only.
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let early = match bearer(&parts.headers) {
        Some(token) => Some(verified(state, token, now)?),
        None => None,
    };
    // The registry's head read (on a shared registry, a round trip to it)
    // starts now, after the batch arrived, and runs while the body is read
    // and parsed, so its wait overlaps work the batch needs anyway. A bad
    // body is answered as such whatever the registry said.
    let (fresh, parsed) = tokio::join!(state.registry.ensure_fresh(), async {
        let body = read_body(&parts.headers, body).await?;
        batch::parse(&body).map_err(ApiError::from)
    });
    let parsed = parsed?;
    fresh?;
    let claims = match early {
        Some(claims) => claims,
        None => {
            let token = parsed.token.as_deref().ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidToken,
                    "send the status token as `Authorization: Bearer <token>` or in the body's `token` field",
                )
            })?;
            verified(state, token, now)?
        }
    };
    let sdk = format!("{}/{}", parsed.sdk.name, parsed.sdk.version);
    let subject = Subject {
        org: &claims.org,
        user: &claims.sub,
    };
    ingest(state, subject, Source::Client, Some(&sdk), parsed.events).await
}

/// The body of `POST /v1/server-events`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct ServerEvents {
    /// The org; must be the service key's.
    org: String,
    /// The user the events are about.
    user: String,
    /// The events, in the same form as in a batch.
    #[schema(value_type = Vec<usage_protocol::Event>)]
    events: Vec<Box<RawValue>>,
}

/// `POST /v1/server-events`: a back end tracks on behalf of a user.
#[utoipa::path(
    post,
    path = "/v1/server-events",
    tag = "ingestion",
    request_body = ServerEvents,
    responses(
        (status = 200, description = "Checked; see the counts", body = BatchResponse),
        (status = 400, description = "Malformed request", body = super::ErrorBody),
        (status = 401, description = "No, unknown, revoked or expired (`key_expired`) service key", body = super::ErrorBody),
        (status = 403, description = "Key of another org, or without the `tokens` scope (`missing_scope`)", body = super::ErrorBody),
        (status = 503, description = "registry_unavailable, with Retry-After", body = super::ErrorBody),
    ),
    security(("service_key" = []))
)]
pub(super) async fn server_events(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<BatchResponse>, ApiError> {
    let (parts, body) = request.into_parts();
    if media_type(&parts.headers).as_deref() != Some("application/json") {
        return Err(unsupported("application/json"));
    }
    let body = read_body(&parts.headers, body).await?;
    let request: ServerEvents = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, e.to_string()))?;
    require_scope(&state, &parts.headers, &request.org, Scope::Tokens).await?;
    usage_validator::registry::check_id(&request.user)?;
    let events = batch::parse_events(&request.events)?;
    state.registry.ensure_fresh().await?;
    let subject = Subject {
        org: &request.org,
        user: &request.user,
    };
    Ok(Json(
        ingest(&state, subject, Source::Server, None, events).await?,
    ))
}
