//! Helpers for tests that talk to a real `usage-server` over loopback HTTP
//! as its users would: a back end with a service key, a client with a status
//! token, an admin with a session cookie.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use support::server::{server_binary, TestServer};

/// A status token for `user` of `org`, issued at "login" with `key`.
pub async fn token(server: &TestServer, key: &str, org: &str, user: &str) -> Value {
    let response = server
        .client()
        .post(server.url("/v1/tokens"))
        .bearer_auth(key)
        .json(&json!({"org": org, "user": user}))
        .send()
        .await
        .expect("POST /v1/tokens");
    assert_eq!(response.status(), StatusCode::OK, "token for {user}");
    response.json().await.expect("token JSON")
}

/// The token string of [`token`].
pub async fn token_str(server: &TestServer, key: &str, org: &str, user: &str) -> String {
    token(server, key, org, user).await["token"]
        .as_str()
        .expect("token field")
        .to_owned()
}

/// One valid event with a fresh id.
pub fn event(name: &str) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "name": name,
        "ts": "2026-11-29T08:00:00Z",
        "props": {"screen": "reports"},
    })
}

/// A batch body around `events`.
pub fn batch_body(events: Vec<Value>) -> Value {
    json!({
        "sent_at": "2026-11-29T08:00:01Z",
        "sdk": {"name": "e2e", "version": "1"},
        "events": events,
    })
}

/// Sends a batch with the token in the header; returns status and JSON.
pub async fn send_batch(
    server: &TestServer,
    token: &str,
    events: Vec<Value>,
) -> (StatusCode, Value) {
    let response = server
        .client()
        .post(server.url("/v1/batch"))
        .bearer_auth(token)
        .json(&batch_body(events))
        .send()
        .await
        .expect("POST /v1/batch");
    status_json(response).await
}

/// Status and JSON body (Null when the body is not JSON).
pub async fn status_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

/// Ids of every event in the server's NDJSON sink.
pub fn stored_ids(data: &Path) -> Vec<String> {
    let dir = data.join("events");
    let mut ids = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return ids;
    };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("sink file");
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).expect("each line is JSON");
            ids.push(value["id"].as_str().expect("id").to_owned());
        }
    }
    ids
}

/// Runs the `usage-server` CLI against a data folder; returns stdout, panics on failure.
pub fn cli(data: &Path, args: &[&str]) -> String {
    let output = Command::new(server_binary())
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("USAGE_DATABASE_URL")
        .output()
        .expect("run usage-server");
    assert!(
        output.status.success(),
        "usage-server {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Signs in with a one-time link and returns the session cookie and CSRF-ready headers.
pub async fn admin_session(server: &TestServer, link: &str) -> Session {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client.get(link).send().await.expect("GET /signin");
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "sign-in redirects"
    );
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    Session::new(server, cookie).await
}

/// A signed-in admin's browser-like credentials.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    async fn new(server: &TestServer, cookie: String) -> Self {
        // The CSRF token is in the session cookie's signed payload.
        let payload = cookie
            .split_once('=')
            .and_then(|(_, v)| v.split('.').nth(1))
            .expect("cookie payload");
        use base64::Engine as _;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64 payload");
        let value: Value = serde_json::from_slice(&json).expect("session JSON");
        let _ = server;
        Self {
            cookie,
            csrf: value["csrf"].as_str().expect("csrf").to_owned(),
        }
    }

    /// Headers that authenticate as this admin, with the CSRF token.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&self.cookie).expect("cookie header"),
        );
        headers.insert(
            "x-csrf-token",
            HeaderValue::from_str(&self.csrf).expect("csrf header"),
        );
        headers
    }

    /// Headers with the cookie only (no CSRF token).
    pub fn cookie_only(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&self.cookie).expect("cookie header"),
        );
        headers
    }
}

/// A bearer header map.
pub fn bearer(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {value}")).expect("header"),
    );
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

/// `GET path` with a bearer value; the JSON answer (panics if not 2xx JSON).
pub async fn get_json(server: &TestServer, bearer: &str, path: &str) -> Value {
    let response = server
        .client()
        .get(server.url(path))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("GET");
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.expect("JSON answer")
}

/// The sum of a Prometheus counter's samples whose line starts with `prefix`.
pub async fn metric(server: &TestServer, prefix: &str) -> u64 {
    let text = server
        .client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// POSTs `{"users": [...]}` to `route` with `headers`; status and JSON.
pub async fn post_users(
    server: &TestServer,
    headers: reqwest::header::HeaderMap,
    route: &str,
    users: &[&str],
) -> (StatusCode, Value) {
    let response = server
        .client()
        .post(server.url(route))
        .headers(headers)
        .json(&json!({"users": users}))
        .send()
        .await
        .expect("POST");
    status_json(response).await
}
