//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, admin_links, ingest, keys_api, ops, tokens};

#[derive(OpenApi)]
#[openapi(
    info(title = "usage-server", description = "Product usage tracking with per-user opt-out."),
    paths(
        ingest::batch,
        ingest::server_events,
        tokens::issue,
        admin::upsert_user,
        admin::list_users,
        admin::list_opt_outs,
        admin::opt_out,
        admin::opt_in,
        admin::audit,
        // Service keys with scopes, and the admin hand-over.
        keys_api::list,
        keys_api::create,
        keys_api::revoke,
        admin_links::create,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
    ),
    modifiers(&Security)
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

/// The service's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
