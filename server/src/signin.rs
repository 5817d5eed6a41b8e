//! Admin sign-in by signed one-time link, and sign-out.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use time::OffsetDateTime;

use super::auth::{check_csrf, session, session_cookie};
use super::extract::QueryParams;
use super::AppState;
use usage_validator::credentials::{
    self, Session, SignIn, SESSION_PURPOSE, SESSION_SECS, SIGNIN_PURPOSE,
};
use usage_validator::model::Role;
use usage_validator::token::KeyRing;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/signin", get(signin))
        .route("/signout", post(signout))
}

/// Where an org's settings page lives.
pub fn settings_path(org: &str) -> String {
    format!("/orgs/{org}/tools/product-usage/opt-out-settings")
}

/// Makes a one-time sign-in link for `user` of `org` at server `base`, valid for `secs`.
pub fn signin_link(ring: &KeyRing, base: &str, org: &str, user: &str, secs: i64) -> String {
    let link = SignIn::new(org, user, secs);
    let signed = credentials::sign(ring, SIGNIN_PURPOSE, &link);
    format!("{}/signin?t={signed}", base.trim_end_matches('/'))
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInQuery {
    t: Option<String>,
}

fn refusal(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\
         <body><main><h1>Sign-in failed</h1><p>{message}</p>\
         <p>Ask for a new sign-in link: <code>usage-server admin-link --org ORG --user USER</code>.</p></main></body></html>"
    );
    (status, Html(body)).into_response()
}

/// The answer to a sign-out form without this session's CSRF token (a page
/// kept open from an earlier session, or a post from another site).
fn stale_signout() -> Response {
    let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not signed out</title></head>\
         <body><main><h1>Not signed out</h1><p>This sign-out form is out of date or came from another site. \
         Reload the settings page and sign out from there.</p></main></body></html>";
    (StatusCode::FORBIDDEN, Html(body)).into_response()
}

async fn signin(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<SignInQuery>,
) -> Response {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let Some(link) = query.t.as_deref().and_then(|t| {
        state.with_keys(|ring| credentials::open::<SignIn>(ring, SIGNIN_PURPOSE, t, now))
    }) else {
        return refusal(
            StatusCode::UNAUTHORIZED,
            "This sign-in link is not valid or has expired.",
        );
    };
    let expires = OffsetDateTime::from_unix_timestamp(link.exp)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
        + time::Duration::seconds(credentials::USED_LINK_MEMORY_SECS);
    match state
        .registry
        .store()
        .consume_nonce(&link.nonce, expires)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return refusal(
                StatusCode::UNAUTHORIZED,
                "This sign-in link was already used.",
            )
        }
        Err(err) => {
            tracing::error!(error = %err, "could not record sign-in nonce");
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable right now; try again shortly.",
            );
        }
    }
    match state.registry.store().user(&link.org, &link.user).await {
        Ok(Some(user)) if user.role == Role::Admin => {}
        Ok(_) => {
            return refusal(
                StatusCode::FORBIDDEN,
                "Only product admins can sign in here.",
            )
        }
        Err(_) => {
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable right now; try again shortly.",
            )
        }
    }
    let session = Session::new(&link.org, &link.user);
    let value = state.with_keys(|ring| credentials::sign(ring, SESSION_PURPOSE, &session));
    let secure = if state.config.insecure_cookies {
        ""
    } else {
        "; Secure"
    };
    let name = session_cookie(&state);
    let cookie =
        format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={SESSION_SECS}{secure}");
    let mut response = Redirect::to(&super::admin_links::landing(&link)).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(super) struct SignOutForm {
    csrf: Option<String>,
    lang: Option<String>,
}

/// Ends the session on the server (its cookie no longer opens anything,
/// even if a copy was kept) and clears the cookie. A signed-in admin lands on
/// the settings page, which now says, in their language, how to sign in again.
async fn signout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    let current = session(&state, &headers);
    if let Some(current) = &current {
        if check_csrf(&headers, current, form.csrf.as_deref()).is_err() {
            // A form post: the browser shows this answer, so it is a page.
            return stale_signout();
        }
    }
    if let Some(current) = &current {
        if let Err(err) = state
            .registry
            .store()
            .consume_nonce(&current.ended_key(), current.expires_at())
            .await
        {
            tracing::error!(error = %err, "could not end the session");
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing out is unavailable right now; try again shortly.",
            );
        }
    }
    let mut response = match current {
        Some(current) => {
            let lang = match form.lang.as_deref() {
                Some("sv") => "sv",
                _ => "en",
            };
            Redirect::to(&format!("{}?lang={lang}", settings_path(&current.org))).into_response()
        }
        None => Html(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title></head>\
             <body><main><h1>Signed out</h1><p>You are signed out.</p></main></body></html>",
        )
        .into_response(),
    };
    let secure = if state.config.insecure_cookies {
        ""
    } else {
        "; Secure"
    };
    let name = session_cookie(&state);
    let clear = format!("{name}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}");
    if let Ok(clear) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, clear);
    }
    response
}
