//! The opt-out settings page (Tools > Product Usage > Opt-out settings).
//!
//! Server-rendered from askama templates, with plain forms that post and
//! redirect back (post-redirect-get), so it works without JavaScript; a small
//! script adds live search of the drop-down and a select-all. Every response
//! carries a strict Content-Security-Policy, so the stylesheet and script are
//! files served by the `assets` module, never inline.
//!
//! | route | what |
//! | --- | --- |
//! | `GET  /orgs/{org}/tools/product-usage/opt-out-settings?lang=&q=&list_q=&cursor=&p=&audit_user=&audit_cursor=` | the page |
//! | `POST /orgs/{org}/tools/product-usage/opt-out-settings/opt-out` | form: `csrf`, `view`, `user` |
//! | `POST /orgs/{org}/tools/product-usage/opt-out-settings/opt-in` | form: `csrf`, `view`, `user`... |
//!
//! `q` searches the drop-down; `list_q`, `cursor` and `p` search and page the
//! opted-out table; `audit_user` and `audit_cursor` filter and page the
//! audit section (see `listing`).
//! | `GET  /assets/opt-out-settings/{file}` | stylesheet and script, content-hashed |

mod assets;
mod audit_view;
mod change;
mod flash;
pub mod i18n;
mod listing;
mod refusal;
mod security;
mod show;
mod view;

use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::{middleware, Router};

use self::i18n::{negotiate, Lang, Strings};
use super::auth::{self, Caller};
use super::AppState;
use refusal::Refusal;
use usage_validator::credentials::Session;
use usage_validator::model::User;

/// Where the page of every org lives, with `{org}` for axum's router.
const PAGE_ROUTE: &str = "/orgs/{org}/tools/product-usage/opt-out-settings";

/// The page's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE_ROUTE, get(show::page))
        .route(&format!("{PAGE_ROUTE}/opt-out"), post(change::opt_out))
        .route(&format!("{PAGE_ROUTE}/opt-in"), post(change::opt_in))
        .route(assets::ROUTE, get(assets::serve))
        .layer(middleware::map_response(security::headers))
}

/// The language a response is in, and whether the visitor chose it with
/// `?lang=` (then links and redirects carry it on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Language {
    lang: Lang,
    chosen: bool,
}

impl Language {
    /// From a `lang` query or form value and the request's `Accept-Language`.
    fn of(chosen: Option<&str>, headers: &HeaderMap) -> Self {
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let (lang, chosen) = negotiate(chosen, accept);
        Self { lang, chosen }
    }

    /// The words of this language.
    fn strings(self) -> &'static Strings {
        self.lang.strings()
    }

    /// The `lang` value to carry on, if the visitor chose one.
    fn param(self) -> Option<&'static str> {
        self.chosen.then(|| self.strings().code)
    }

    /// `?lang=..` to append to the page's path, or nothing.
    fn suffix(self) -> &'static str {
        match (self.chosen, self.lang) {
            (false, _) => "",
            (true, Lang::En) => "?lang=en",
            (true, Lang::Sv) => "?lang=sv",
        }
    }
}

/// The page's path for `org`.
fn page_path(org: &str) -> String {
    super::settings_path(org)
}

/// What a request to the page does, which decides the checks it needs.
#[derive(Debug, Clone, Copy)]
enum Intent<'a> {
    /// Reads the page.
    View,
    /// Changes state: the form must echo the session's CSRF token.
    Change {
        /// The token the form sent, if any.
        csrf: Option<&'a str>,
    },
}

/// The signed-in product admin of `org`, or the refusal to answer with.
/// A change is checked for the CSRF token before the directory is read.
async fn admin(
    state: &AppState,
    headers: &HeaderMap,
    org: &str,
    intent: Intent<'_>,
) -> Result<(User, Session), Refusal> {
    let Some(session) = auth::session(state, headers) else {
        return Err(Refusal::SignedOut);
    };
    if let Intent::Change { csrf } = intent {
        auth::check_csrf(headers, &session, csrf).map_err(|_| Refusal::StaleForm)?;
    }
    match auth::require_admin_session(state, session, org).await {
        Ok(Caller::Admin { user, session }) => Ok((user, session)),
        Ok(Caller::Service { .. }) => Err(Refusal::Forbidden),
        Err(err) => Err(Refusal::from_status(err.status())),
    }
}
