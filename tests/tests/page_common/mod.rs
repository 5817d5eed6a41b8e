//! Helpers for the browser tests of the opt-out settings page: the page's
//! elements, the API and validator as a back end sees them, the CLI.

#![allow(dead_code)]

use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::{server_binary, TestServer};
use support::webdriver::{keys, Browser, BrowserOptions, Element};

/// How long one element or page may take to appear.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long one whole browser test may take.
pub const TEST_BUDGET: Duration = Duration::from_secs(180);

/// Runs a test body, failing it if it takes longer than [`TEST_BUDGET`].
pub async fn bounded<T>(body: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_BUDGET, body).await {
        Ok(value) => value,
        Err(_) => panic!("the test took longer than {TEST_BUDGET:?}"),
    }
}

/// The settings page of `org`.
pub fn page_path(org: &str) -> String {
    format!("/orgs/{org}/tools/product-usage/opt-out-settings")
}

/// A browser signed in as the demo admin, on the settings page; `None` when
/// browser tests are skipped on this machine.
pub async fn signed_in(server: &TestServer, options: BrowserOptions) -> Option<Browser> {
    let browser = Browser::start_or_skip(options).await?;
    open_link(&browser, &server.demo().admin_signin_url).await;
    Some(browser)
}

/// Opens a sign-in link and waits for the page it leads to.
pub async fn open_link(browser: &Browser, link: &str) {
    browser.goto(link).await.expect("open the sign-in link");
    browser
        .wait_for("h1", WAIT)
        .await
        .expect("a page after sign-in");
}

/// The user ids the drop-down offers, without its empty first choice.
pub async fn offered(browser: &Browser) -> Vec<String> {
    let value = browser
        .execute(
            "return Array.from(document.querySelectorAll('#opt-out-user option'))\
             .map(o => o.value).filter(v => v !== '');",
            Vec::new(),
        )
        .await
        .expect("read the drop-down");
    serde_json::from_value(value).expect("a list of ids")
}

/// The user ids listed in the opt-out table, top to bottom.
pub async fn listed(browser: &Browser) -> Vec<String> {
    let value = browser
        .execute(
            "return Array.from(document.querySelectorAll('#opt-out-list tbody input[type=checkbox]'))\
             .map(box => box.value);",
            Vec::new(),
        )
        .await
        .expect("read the table");
    serde_json::from_value(value).expect("a list of ids")
}

/// Waits until the drop-down offers exactly `ids` (in any order).
pub async fn wait_for_offered(browser: &Browser, ids: &[&str]) {
    let mut wanted: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    wanted.sort();
    support::wait::until("the drop-down to offer the expected users", WAIT, || {
        let wanted = wanted.clone();
        async move {
            let mut now = offered(browser).await;
            now.sort();
            (now == wanted).then_some(())
        }
    })
    .await
    .unwrap_or_else(|error| {
        panic!("{error}: wanted {wanted:?}");
    });
}

/// The current document, to tell later when the browser has left it.
pub async fn current_page(browser: &Browser) -> Element {
    browser.find("html").await.expect("a document")
}

/// Waits until the browser has left the document `before` and shows a new page.
pub async fn navigated(browser: &Browser, before: &Element) {
    // A click or key press may return before the next page replaces this one:
    // only once the old document is gone can the new one be read.
    support::wait::until("the next page", WAIT, || async {
        before.attribute("lang").await.is_err().then_some(())
    })
    .await
    .expect("the browser leaves the page");
    browser.wait_for("h1", WAIT).await.expect("the next page");
}

/// Waits for the page after a form post, left from `before`, and returns its
/// outcome message.
pub async fn outcome(browser: &Browser, before: &Element) -> String {
    navigated(browser, before).await;
    browser
        .wait_for("#flash", WAIT)
        .await
        .expect("an outcome message after the change")
        .text()
        .await
        .expect("message text")
}

/// Picks `user` in the drop-down, as a mouse user would.
pub async fn pick(browser: &Browser, user: &str) {
    browser
        .find(&format!("#opt-out-user option[value=\"{user}\"]"))
        .await
        .expect("the user is offered")
        .click()
        .await
        .expect("choose the user");
}

/// Ticks the table row of `user`.
pub async fn tick(browser: &Browser, user: &str) {
    browser
        .find(&format!("#opt-out-list input[value=\"{user}\"]"))
        .await
        .expect("the user is listed")
        .click()
        .await
        .expect("tick the row");
}

/// Presses Tab until the element with id `id` has focus (at most 60 times).
pub async fn tab_to(browser: &Browser, id: &str) {
    for _ in 0..60 {
        let focused = browser.active_element().await.expect("focused element");
        if focused.attribute("id").await.expect("id").as_deref() == Some(id) {
            return;
        }
        browser.press_keys(keys::TAB).await.expect("press Tab");
    }
    panic!("Tab never reached #{id}");
}

/// The user ids the API lists as opted out, asked with the service key.
pub async fn api_opted_out(server: &TestServer) -> Vec<String> {
    let response = server
        .client()
        .get(server.url("/api/orgs/acme/opt-outs"))
        .bearer_auth(server.demo().service_key)
        .send()
        .await
        .expect("GET opt-outs");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("opt-outs JSON");
    body["opt_outs"]
        .as_array()
        .expect("opt_outs array")
        .iter()
        .map(|entry| entry["id"].as_str().expect("user id").to_owned())
        .collect()
}

/// A status token for `user` of the demo org, as a back end gets it at login.
pub async fn token(server: &TestServer, user: &str) -> String {
    let response = server
        .client()
        .post(server.url("/v1/tokens"))
        .bearer_auth(server.demo().service_key)
        .json(&json!({"org": "acme", "user": user}))
        .send()
        .await
        .expect("POST /v1/tokens");
    assert_eq!(response.status(), StatusCode::OK, "token for {user}");
    let body: Value = response.json().await.expect("token JSON");
    body["token"].as_str().expect("token").to_owned()
}

/// Sends one event with `token` and returns the validator's answer.
pub async fn send_event(server: &TestServer, token: &str) -> Value {
    let body = json!({
        "sent_at": "2026-11-29T08:00:01Z",
        "sdk": {"name": "page-e2e", "version": "1"},
        "events": [{"id": fresh_uuid(), "name": "report.opened", "ts": "2026-11-29T08:00:00Z"}],
    });
    let response = server
        .client()
        .post(server.url("/v1/batch"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST /v1/batch");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("batch JSON")
}

/// A random-enough version 4 UUID for event ids.
pub fn fresh_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = nanos ^ (u64::from(std::process::id()) << 32);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (high >> 32) as u32,
        (high >> 16) as u16,
        high & 0xfff,
        count & 0xfff,
        count.wrapping_mul(0x9e37_79b9_7f4a) & 0xffff_ffff_ffff
    )
}

/// Adds or updates a user of `org` with the org's service key `key`.
pub async fn put_user(server: &TestServer, key: &str, org: &str, id: &str, name: &str, role: &str) {
    let response = server
        .client()
        .put(server.url(&format!("/api/orgs/{org}/users/{id}")))
        .bearer_auth(key)
        .json(&json!({"name": name, "email": format!("{id}@{org}.example"), "role": role}))
        .send()
        .await
        .expect("PUT user");
    assert_eq!(response.status(), StatusCode::OK, "PUT {org}/{id}");
}

/// Runs the `usage-server` CLI on the server's data folder; returns stdout.
pub fn cli(server: &TestServer, args: &[&str]) -> String {
    let mut command = Command::new(server_binary());
    command.args(args).arg("--data").arg(server.data_dir());
    // The shell's own settings must not reach the CLI, as with the server.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("USAGE_") {
            command.env_remove(name);
        }
    }
    let output = command.output().expect("run usage-server");
    assert!(
        output.status.success(),
        "usage-server {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// A one-time sign-in link for `user` of `org`, made with the CLI.
pub fn admin_link(server: &TestServer, org: &str, user: &str) -> String {
    cli(
        server,
        &[
            "admin-link",
            "--org",
            org,
            "--user",
            user,
            "--public-url",
            &server.base_url(),
        ],
    )
    .trim()
    .to_owned()
}

/// The browser's session cookie, as a `Cookie` header value for reqwest.
pub async fn session_cookie(browser: &Browser) -> String {
    let cookie = browser
        .cookies()
        .await
        .expect("cookies")
        .into_iter()
        .find(|cookie| cookie.name == "usage_session")
        .expect("a session cookie");
    format!("usage_session={}", cookie.value)
}
