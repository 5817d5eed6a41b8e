//! `POST /api/orgs/{org}/admin-links`: how a product hands its signed-in admin
//! over to the settings page. Its back end, holding an `admin`-scoped key,
//! asks for a one-time sign-in URL and redirects the admin's browser to it.
//!
//! A link lives [`ADMIN_LINK_SECS`] (two minutes), signs in once, only to the
//! org it was made for, and only for a product admin of that org. The
//! optional `return_to` must be a path of that org's settings page: anything
//! else (another site, another org, another part of this server) is refused,
//! so the link can never redirect elsewhere.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::require_service;
use super::extract::JsonBody;
use super::signin::settings_path;
use super::{ApiError, AppState, ErrorCode};
use usage_validator::credentials::{self, SignIn, ADMIN_LINK_SECS, SIGNIN_PURPOSE};
use usage_validator::model::Role;
use usage_validator::token::KeyRing;

/// The longest `return_to` accepted.
const MAX_RETURN_TO: usize = 512;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/orgs/{org}/admin-links", post(create))
}

/// `return_to` if it is a path of `org`'s settings page (the page itself,
/// or it with a query or fragment); `None` otherwise.
pub fn page_path<'a>(org: &str, return_to: &'a str) -> Option<&'a str> {
    let page = settings_path(org);
    let rest = return_to.strip_prefix(page.as_str())?;
    let plain = return_to.len() <= MAX_RETURN_TO
        && return_to.bytes().all(|b| b.is_ascii_graphic())
        && !return_to.contains('\\')
        && !return_to.contains("//")
        && !return_to.contains("/.");
    (plain && (rest.is_empty() || rest.starts_with('?') || rest.starts_with('#')))
        .then_some(return_to)
}

/// Makes a one-time sign-in URL for `user` of `org` at server `base`, valid
/// for `secs` and landing on `return_to` (which must pass [`page_path`]).
pub fn admin_link(
    ring: &KeyRing,
    base: &str,
    org: &str,
    user: &str,
    secs: i64,
    return_to: Option<&str>,
) -> Result<String, usage_validator::Error> {
    let landing = match return_to {
        None => None,
        Some(path) => Some(
            page_path(org, path)
                .ok_or_else(|| {
                    usage_validator::Error::InvalidInput(format!(
                        "return_to must be a path of this org's settings page, starting with {}",
                        settings_path(org)
                    ))
                })?
                .to_owned(),
        ),
    };
    let link = SignIn::new(org, user, secs).landing_on(landing);
    let signed = credentials::sign(ring, SIGNIN_PURPOSE, &link);
    Ok(format!("{}/signin?t={signed}", base.trim_end_matches('/')))
}

/// Whom to hand over.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkRequest {
    /// The admin's user id; must be a product admin of the org.
    user: String,
    /// A path of the org's settings page to land on, such as
    /// `/orgs/acme/tools/product-usage/opt-out-settings?lang=sv`.
    return_to: Option<String>,
}

/// A one-time sign-in URL.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdminLink {
    /// Redirect the admin's browser here; it signs in once.
    pub url: String,
    /// When the URL stops working (RFC 3339), two minutes from now.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// Makes a one-time sign-in URL for a product admin of the org.
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/admin-links",
    tag = "admin",
    request_body = LinkRequest,
    params(("org" = String, Path)),
    responses(
        (status = 200, body = AdminLink),
        (status = 400, description = "`invalid_input`: return_to is not a path of the org's settings page", body = super::ErrorBody),
        (status = 401, body = super::ErrorBody),
        (status = 403, description = "Another org's key, a key without the `admin` scope, or `not_an_admin`: the user is not a product admin of the org (unknown users alike)", body = super::ErrorBody),
    ),
    security(("service_key" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<LinkRequest>,
) -> Result<Json<AdminLink>, ApiError> {
    let caller = require_service(&state, &headers, &org).await?;
    let store = state.registry.store();
    // Unknown users get the same answer as plain users, so the route does not
    // tell who is in the directory.
    match store.user(&org, &request.user).await? {
        Some(user) if user.role == Role::Admin => {}
        _ => {
            return Err(ApiError::new(
                ErrorCode::NotAnAdmin,
                "that user is not a product admin of this org",
            ))
        }
    }
    let url = state.with_keys(|ring| {
        admin_link(
            ring,
            &state.config.public_url,
            &org,
            &request.user,
            ADMIN_LINK_SECS,
            request.return_to.as_deref(),
        )
    })?;
    store
        .record_audit(
            &org,
            &super::admin::author_of(&state, &org, &caller, usage_validator::model::Via::Api).await,
            "admin_link",
            &request.user,
        )
        .await?;
    Ok(Json(AdminLink {
        url,
        expires_at: OffsetDateTime::now_utc() + time::Duration::seconds(ADMIN_LINK_SECS),
    }))
}

/// Where a sign-in with `link` lands: its `return_to` when that is still a
/// path of its org's page, else the page itself.
pub(super) fn landing(link: &SignIn) -> String {
    link.return_to
        .as_deref()
        .and_then(|path| page_path(&link.org, path))
        .map_or_else(|| settings_path(&link.org), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_the_orgs_page_are_landing_places() {
        let page = "/orgs/acme/tools/product-usage/opt-out-settings";
        for good in [
            page.to_owned(),
            format!("{page}?lang=sv"),
            format!("{page}?cursor=abc&lang=en"),
            format!("{page}#opted-out"),
        ] {
            assert_eq!(page_path("acme", &good), Some(good.as_str()), "{good}");
        }
        for bad in [
            "https://evil.example/".to_owned(),
            "//evil.example/orgs/acme/tools/product-usage/opt-out-settings".to_owned(),
            "/orgs/other/tools/product-usage/opt-out-settings".to_owned(),
            format!("{page}/../../../../signout"),
            format!("{page}extra"),
            format!("{page}?next=//evil.example"),
            format!("{page}?x=\\evil"),
            format!("{page}?x=a b"),
            format!("{page}?x={}", "a".repeat(600)),
            "/healthz".to_owned(),
            String::new(),
        ] {
            assert_eq!(page_path("acme", &bad), None, "{bad}");
        }
    }

    #[test]
    fn a_link_lands_on_its_return_to_only_while_it_is_a_page_path() {
        let mut link = SignIn::new("acme", "alice", 60);
        assert_eq!(landing(&link), settings_path("acme"));
        link.return_to = Some(format!("{}?lang=sv", settings_path("acme")));
        assert_eq!(landing(&link), format!("{}?lang=sv", settings_path("acme")));
        link.return_to = Some("https://evil.example/".into());
        assert_eq!(landing(&link), settings_path("acme"));
    }
}
