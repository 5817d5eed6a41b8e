//! A product's back end with usage tracking embedded: a small axum app
//! standing for the product ("Reports").
//!
//! * At login it asks `usage-server` for the user's status token
//!   (`POST /v1/tokens`, `tokens` key) and hands it to the front end, whose
//!   SDK calls `tracker.login(token)`.
//! * It tracks server-side through `POST /v1/server-events` (`tokens` key).
//! * Its menu entry Tools > Product Usage > Opt-out settings, shown to the
//!   product's admins only, hands the signed-in admin over to the settings
//!   page: `POST /api/orgs/{org}/admin-links` (`admin` key), then a redirect
//!   to the one-time URL it returns.
//!
//! The product's own login is a stand-in (pick a user); its sessions are
//! random ids kept in memory.

mod pages;
pub mod usage;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;

pub use usage::{Usage, UsageConfig};

/// The product's session cookie.
const SESSION_COOKIE: &str = "reports_session";

/// A user of the product, from its own user database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductUser {
    /// The id, also the user id in `usage-server`.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Whether the product makes them an admin (and so a product admin of
    /// the settings page).
    pub admin: bool,
}

/// The product's users (its own database, in a real product).
pub const USERS: [ProductUser; 3] = [
    ProductUser {
        id: "alice",
        name: "Alice Andersson",
        admin: true,
    },
    ProductUser {
        id: "bob",
        name: "Bob Berg",
        admin: false,
    },
    ProductUser {
        id: "carol",
        name: "Carol Carlsson",
        admin: false,
    },
];

fn product_user(id: &str) -> Option<ProductUser> {
    USERS.iter().copied().find(|u| u.id == id)
}

/// A signed-in user of the product and the status token issued at login.
#[derive(Debug, Clone)]
struct Session {
    user: ProductUser,
    token: String,
    opt_out: bool,
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct Product {
    usage: Usage,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

impl Product {
    /// The product, tracking through `usage`.
    pub fn new(usage: Usage) -> Self {
        Self {
            usage,
            sessions: Arc::default(),
        }
    }

    /// Pushes the product's users and their roles to `usage-server`'s
    /// directory, so the page knows who the admins are.
    pub async fn sync_directory(&self) -> Result<(), usage::UsageError> {
        for user in USERS {
            self.usage.sync_user(user.id, user.name, user.admin).await?;
        }
        Ok(())
    }

    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.get(id).cloned()
    }
}

/// The product's routes.
pub fn app(product: Product) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/reports/export", post(export))
        .route(
            "/tools/product-usage/opt-out-settings",
            get(opt_out_settings),
        )
        .with_state(product)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[derive(Debug, Deserialize)]
struct HomeQuery {
    exported: Option<String>,
}

async fn home(
    State(product): State<Product>,
    headers: HeaderMap,
    Query(query): Query<HomeQuery>,
) -> Html<String> {
    match product.session(&headers) {
        Some(session) => Html(pages::app(
            session.user,
            &session.token,
            session.opt_out,
            query.exported.as_deref(),
        )),
        None => Html(pages::sign_in(&USERS)),
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    user: String,
}

/// The product's login, and at login the status token for the front end.
async fn login(State(product): State<Product>, Form(form): Form<LoginForm>) -> Response {
    let Some(user) = product_user(&form.user) else {
        return (
            StatusCode::UNAUTHORIZED,
            Html(pages::message("No such user.")),
        )
            .into_response();
    };
    let issued = match product.usage.status_token(user.id, user.name).await {
        Ok(issued) => issued,
        Err(err) => return upstream_failure(&err),
    };
    // A login is worth knowing about; the server drops it if the user is
    // opted out, whatever this back end believes.
    if let Err(err) = product
        .usage
        .track(user.id, "product.login", json!({}))
        .await
    {
        eprintln!("warning: could not track the login: {err}");
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let session = Session {
        user,
        token: issued.token,
        opt_out: issued.opt_out,
    };
    product
        .sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), session);
    let mut response = Redirect::to("/").into_response();
    let cookie = format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn logout(State(product): State<Product>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        product
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
    let mut response = Redirect::to("/").into_response();
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0");
    if let Ok(clear) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, clear);
    }
    response
}

/// A server-side action, tracked by the back end itself.
async fn export(State(product): State<Product>, headers: HeaderMap) -> Response {
    let Some(session) = product.session(&headers) else {
        return Redirect::to("/").into_response();
    };
    let props = json!({"format": "csv"});
    match product
        .usage
        .track(session.user.id, "report.exported", props)
        .await
    {
        Ok(answer) => {
            let fate = if answer["accepted"].as_u64() == Some(1) {
                "accepted"
            } else {
                "discarded"
            };
            Redirect::to(&format!("/?exported={fate}")).into_response()
        }
        Err(err) => upstream_failure(&err),
    }
}

#[derive(Debug, Deserialize)]
struct SettingsQuery {
    lang: Option<String>,
}

/// The menu entry Tools > Product Usage > Opt-out settings: hands the
/// signed-in admin over to the page with a one-time link.
async fn opt_out_settings(
    State(product): State<Product>,
    headers: HeaderMap,
    Query(query): Query<SettingsQuery>,
) -> Response {
    let Some(session) = product.session(&headers) else {
        return Redirect::to("/").into_response();
    };
    if !session.user.admin {
        let text = "Only admins of this product can change who is tracked.";
        return (StatusCode::FORBIDDEN, Html(pages::message(text))).into_response();
    }
    let return_to = match query.lang.as_deref() {
        Some(lang @ ("en" | "sv")) => {
            Some(format!("{}?lang={lang}", product.usage.settings_path()))
        }
        _ => None,
    };
    match product
        .usage
        .admin_link(session.user.id, return_to.as_deref())
        .await
    {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(err) => upstream_failure(&err),
    }
}

fn upstream_failure(err: &usage::UsageError) -> Response {
    eprintln!("usage-server call failed: {err}");
    let text = "Usage tracking is unavailable right now; try again shortly.";
    (StatusCode::BAD_GATEWAY, Html(pages::message(text))).into_response()
}
