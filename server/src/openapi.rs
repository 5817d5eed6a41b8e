//! The OpenAPI document, generated from the handlers' annotations, and the
//! route that serves it.
//!
//! Answers that any route can give, whatever its handler (a rate limit on
//! the caller's address, the connection cap, a body that is not JSON or
//! arrives too slowly), are added to every operation in one place here.

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{
    admin, admin_links, directory, ingest, keys_api, ops, scim, tokens, AppState, ErrorCode,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1")))]
pub(super) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "usage-server", description = "Product usage tracking with per-user opt-out."),
    paths(
        ingest::batch,
        ingest::server_events,
        tokens::issue,
        // Lists, audit trail and directory sync.
        admin::list_users,
        admin::list_opt_outs,
        admin::opt_out,
        admin::opt_in,
        admin::audit,
        directory::upsert_user,
        directory::remove_user,
        directory::import,
        scim::list,
        scim::create,
        scim::read,
        scim::replace,
        scim::patch,
        scim::remove,
        // Service keys with scopes, and the admin hand-over.
        keys_api::list,
        keys_api::create,
        keys_api::revoke,
        admin_links::create,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        openapi,
    ),
    modifiers(&Security, &CommonAnswers)
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "status_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("v1 status token")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "service_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("usk_ service key")
                    .description(Some(
                        "A service key of the org. Scope `tokens`: POST /v1/tokens and \
                         /v1/server-events. Scope `admin`: everything under /api/orgs/{org}/ \
                         and admin links. Keys made before scopes existed are full keys.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                super::auth::SESSION_COOKIE,
            ))),
        );
    }
}

struct CommonAnswers;

/// An error answer: our JSON error body, or on SCIM routes the RFC 7644
/// error in `application/scim+json`.
fn error_answer(description: &str, scim: bool) -> RefOr<Response> {
    let content = if scim {
        ("application/scim+json", ContentBuilder::new().build())
    } else {
        (
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
    };
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(content.0, content.1)
            .build(),
    )
}

/// A summary followed by the codes that come with `status`, from the one
/// list of codes.
fn describe(status: StatusCode, summary: &str) -> String {
    let codes: Vec<String> = ErrorCode::with_status(status)
        .map(|code| format!("`{code}`"))
        .collect();
    format!("{summary}. Codes: {}", codes.join(", "))
}

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let scim_route = path.starts_with("/scim/");
            let operations: [&mut Option<Operation>; 5] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let mut common = vec![
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many requests, or too many failed authentications from this address; see Retry-After",
                    ),
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "At the connection limit, or the registry or sink is unavailable; see Retry-After",
                    ),
                ];
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    common.push((StatusCode::UNAUTHORIZED, "No or bad credentials"));
                }
                if operation.request_body.is_some() {
                    common.push((StatusCode::BAD_REQUEST, "The body is malformed"));
                    common.push((
                        StatusCode::REQUEST_TIMEOUT,
                        "The body did not arrive in time",
                    ));
                    common.push((StatusCode::PAYLOAD_TOO_LARGE, "The body is over its limit"));
                    common.push((
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "The body is not of a type this route takes",
                    ));
                }
                for (status, summary) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.as_str().to_owned())
                        .or_insert_with(|| {
                            // SCIM answers RFC 7644 errors, which carry no code of ours.
                            let description = if scim_route {
                                summary.to_owned()
                            } else {
                                describe(status, summary)
                            };
                            error_answer(&description, scim_route)
                        });
                }
            }
        }
    }
}

/// The service's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
