//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, directory, ingest, ops, scim, tokens};

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
