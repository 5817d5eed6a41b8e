//! The HTML pages shown instead of the settings: signed out (401), not a
//! product admin of the org (403), a form without this session's CSRF token
//! (403), an unreadable request (400), the registry unavailable (503).
//!
//! None of them shows the menu, so non-admins never see the Product Usage entry.

use askama::Template as _;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::view::{Chrome, RefusalPage};
use super::{page_path, Language};
use usage_protocol::is_valid_id;

/// Why the settings are not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No valid session: 401.
    SignedOut,
    /// Signed in, but not a product admin of this org: 403.
    Forbidden,
    /// A form post without this session's CSRF token, or from another origin: 403.
    StaleForm,
    /// A request the page cannot read: 400.
    BadRequest,
    /// The store failed: 503.
    Unavailable,
}

impl Refusal {
    /// The refusal matching an API error's status.
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::SignedOut,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => Self::BadRequest,
            _ => Self::Unavailable,
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::SignedOut => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::StaleForm => StatusCode::FORBIDDEN,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The page for `org`, in `language`.
    pub fn page(self, language: Language, org: &str) -> Response {
        let t = language.strings();
        let (title, body) = match self {
            Self::SignedOut => (t.signed_out_title, t.signed_out_body),
            Self::Forbidden => (t.forbidden_title, t.forbidden_body),
            Self::StaleForm => (t.stale_form_title, t.stale_form_body),
            Self::BadRequest => (t.bad_request_title, t.bad_request_body),
            Self::Unavailable => (t.unavailable_title, t.unavailable_body),
        };
        // The org comes from the URL: only a well-formed id goes into the command.
        let org = if is_valid_id(org) { org } else { "ORG" };
        let page = RefusalPage {
            chrome: Chrome::new(language, page_path(org), None),
            title,
            body,
            how: (self == Self::SignedOut).then_some(t.signed_out_how),
            command: format!(
                "usage-server admin-link --org {org} --user {}",
                t.user_id_placeholder
            ),
            back: matches!(self, Self::StaleForm | Self::BadRequest | Self::Unavailable),
        };
        match page.render() {
            Ok(html) => (self.status(), Html(html)).into_response(),
            Err(err) => {
                tracing::error!(error = %err, "refusal page failed to render");
                self.status().into_response()
            }
        }
    }
}
