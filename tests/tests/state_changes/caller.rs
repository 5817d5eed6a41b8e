//! The callers of the matrix, and how each one's request is sent.

use reqwest::header::{HeaderMap, HeaderValue, COOKIE, ORIGIN};
use serde_json::{json, Value};
use support::server::TestServer;

use super::{Guard, Kind, Route, RouteBody};
use crate::api::Session;

/// One caller of the matrix: who it is and what it sends.
pub struct Caller {
    pub kind: Kind,
    pub who: String,
    pub bearer: Option<String>,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub origin: Option<String>,
}

impl Caller {
    pub fn new(kind: Kind, who: &str) -> Self {
        Caller {
            kind,
            who: who.to_owned(),
            bearer: None,
            cookie: None,
            csrf: None,
            origin: None,
        }
    }

    pub fn bearer(mut self, value: &str) -> Self {
        self.bearer = Some(value.to_owned());
        self
    }

    pub fn session(mut self, session: &Session, csrf: Option<&str>) -> Self {
        self.cookie = Some(session.cookie.clone());
        self.csrf = csrf.map(str::to_owned);
        self
    }

    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_owned());
        self
    }
}

/// Sends `route`'s request as `caller`, following no redirect; the CSRF
/// token goes where a browser would put it: the form's `csrf` field, or the
/// `x-csrf-token` header of a script.
pub async fn send(
    client: &reqwest::Client,
    server: &TestServer,
    route: &Route,
    path: &str,
    caller: &Caller,
) -> reqwest::Response {
    let mut headers = HeaderMap::new();
    if let Some(cookie) = &caller.cookie {
        headers.insert(COOKIE, HeaderValue::from_str(cookie).expect("cookie"));
    }
    if let Some(origin) = &caller.origin {
        headers.insert(ORIGIN, HeaderValue::from_str(origin).expect("origin"));
    }
    let mut request = client
        .request(route.method.clone(), server.url(path))
        .headers(headers);
    if let Some(bearer) = &caller.bearer {
        request = request.bearer_auth(bearer);
    }
    request = match &route.body {
        RouteBody::Json(body) => request.json(body),
        RouteBody::Scim(body) => request
            .header("content-type", "application/scim+json")
            .body(body.to_string()),
        RouteBody::Form(fields) => {
            let mut fields = fields.clone();
            if let Some(csrf) = &caller.csrf {
                fields.push(("csrf", csrf));
            }
            request.form(&fields)
        }
        RouteBody::Empty => request,
    };
    if let (Some(csrf), false) = (&caller.csrf, matches!(route.body, RouteBody::Form(_))) {
        request = request.header("x-csrf-token", csrf);
    }
    request.send().await.expect("request")
}

/// Whether a refusal reads as the route's kind of client expects: the JSON
/// error of the API, RFC 7644's error of SCIM, an HTML page of the settings
/// page; the body, when it does not.
pub async fn refusal_shape(guard: Guard, response: reqwest::Response) -> Result<(), String> {
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let api_error = media.starts_with("application/json") && json["error"]["code"].is_string();
    let fits = match guard {
        // A browser shows the answer to a form: a page, never raw JSON.
        Guard::PageForm | Guard::SignOut => media.starts_with("text/html"),
        Guard::Scim => {
            media.starts_with("application/scim+json")
                && json["schemas"] == json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        }
        Guard::StatusToken | Guard::Key(_) | Guard::AdminOrKey | Guard::DemoOpen => api_error,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("{media}: {text}"))
    }
}
