//! The admin hand-over over real HTTP: a product's back end asks
//! `POST /api/orgs/{org}/admin-links` for a one-time sign-in URL and sends
//! its admin there. Links sign in once, live two minutes, stay in their org,
//! land only on the org's settings page, and are refused for non-admins.

mod api;

use std::process::Command;

use api::*;
use base64::Engine as _;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::{server_binary, TestServer};

const PAGE: &str = "/orgs/acme/tools/product-usage/opt-out-settings";

async fn ask(server: &TestServer, key: &str, org: &str, body: Value) -> (StatusCode, Value) {
    let response = server
        .client()
        .post(server.url(&format!("/api/orgs/{org}/admin-links")))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("POST admin-links");
    status_json(response).await
}

/// Follows a sign-in URL without following its redirect: status, where it
/// sends the browser, and whether it set a session cookie.
async fn follow(url: &str) -> (StatusCode, Option<String>, bool) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client.get(url).send().await.expect("GET /signin");
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("usage_session=") && !v.starts_with("usage_session=;"));
    (response.status(), location, cookie)
}

/// The expiry the link's signed payload carries, unix seconds.
fn link_expiry(url: &str) -> i64 {
    let signed = url.split_once("t=").expect("a t= parameter").1;
    let payload = signed.split('.').nth(1).expect("kid.payload.tag");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    let value: Value = serde_json::from_slice(&json).expect("JSON payload");
    value["exp"].as_i64().expect("exp")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

#[tokio::test]
async fn a_hand_over_link_signs_the_admin_in_once_within_two_minutes() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let asked_at = now();
    let (status, link) = ask(&server, &key, "acme", json!({"user": "alice"})).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let url = link["url"].as_str().expect("url");
    assert!(url.starts_with(&server.url("/signin?t=")), "{url}");
    let exp = link_expiry(url);
    assert!(
        (asked_at + 100..=now() + 125).contains(&exp),
        "lives about two minutes: exp {exp}, asked at {asked_at}"
    );
    assert!(
        link["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{link}"
    );

    let (status, location, cookie) = follow(url).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(PAGE));
    assert!(cookie, "the admin is signed in");

    let (status, _, cookie) = follow(url).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a link signs in once");
    assert!(!cookie);
}

#[tokio::test]
async fn a_hand_over_lands_on_the_page_path_asked_for_and_nowhere_else() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let swedish = format!("{PAGE}?lang=sv");
    let (status, link) = ask(
        &server,
        &key,
        "acme",
        json!({"user": "alice", "return_to": swedish}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let (status, location, _) = follow(link["url"].as_str().expect("url")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(swedish.as_str()));

    for off_site in [
        "https://evil.example/".to_owned(),
        "//evil.example/".to_owned(),
        format!("//evil.example{PAGE}"),
        "/orgs/other/tools/product-usage/opt-out-settings".to_owned(),
        "/healthz".to_owned(),
        format!("{PAGE}/../../../../signout"),
        format!("{PAGE}evil"),
        format!("{PAGE}?next=//evil.example"),
    ] {
        let (status, body) = ask(
            &server,
            &key,
            "acme",
            json!({"user": "alice", "return_to": off_site}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{off_site}: {body}");
        assert_eq!(code(&body), "invalid_input", "{off_site}");
    }
}

#[tokio::test]
async fn hand_over_links_are_only_for_admins_of_the_keys_own_org() {
    let server = TestServer::start_demo().await;
    let data = server.data_dir();
    let key = server.demo().service_key;
    let other_key = cli(&data, &["keys", "create", "--org", "other"])
        .trim()
        .to_owned();
    let response = server
        .client()
        .put(server.url("/api/orgs/other/users/oscar"))
        .bearer_auth(&other_key)
        .json(&json!({"name": "Oscar", "email": "", "role": "admin"}))
        .send()
        .await
        .expect("PUT oscar");
    assert_eq!(response.status(), StatusCode::OK);

    for (user, why) in [("bob", "a plain user"), ("nobody", "an unknown user")] {
        let (status, body) = ask(&server, &key, "acme", json!({"user": user})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{why}: {body}");
        assert_eq!(code(&body), "not_an_admin", "{why}");
    }
    // acme's key cannot hand over other's admin, nor acme's admin via other.
    let (status, _) = ask(&server, &key, "other", json!({"user": "oscar"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = ask(&server, &other_key, "acme", json!({"user": "alice"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Oscar's link signs him in to his own org, whose page is all it opens.
    let (status, link) = ask(&server, &other_key, "other", json!({"user": "oscar"})).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let oscar = admin_session(&server, link["url"].as_str().expect("url")).await;
    let page = |org: &str| {
        server
            .client()
            .get(server.url(&format!("/api/orgs/{org}/opt-outs")))
            .headers(oscar.cookie_only())
            .send()
    };
    assert_eq!(page("other").await.expect("GET").status(), StatusCode::OK);
    assert_eq!(
        page("acme").await.expect("GET").status(),
        StatusCode::FORBIDDEN
    );

    // A tokens-only key cannot hand anyone over.
    let tokens = cli(
        &data,
        &["keys", "create", "--org", "acme", "--scope", "tokens"],
    )
    .trim()
    .to_owned();
    let (status, body) = ask(&server, &tokens, "acme", json!({"user": "alice"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "missing_scope");
}

#[tokio::test]
async fn the_admin_link_command_takes_a_return_path_of_the_page_only() {
    let server = TestServer::start_demo().await;
    let data = server.data_dir();
    let base = server.base_url();
    let landing = format!("{PAGE}?lang=sv");
    let link = cli(
        &data,
        &[
            "admin-link",
            "--org",
            "acme",
            "--user",
            "alice",
            "--public-url",
            &base,
            "--return-to",
            &landing,
        ],
    );
    let (status, location, _) = follow(link.trim()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(landing.as_str()));

    let refused = Command::new(server_binary())
        .args(["admin-link", "--org", "acme", "--user", "alice", "--data"])
        .arg(&data)
        .env_remove("USAGE_DATABASE_URL")
        .env("USAGE_RETURN_TO", "https://evil.example/")
        .output()
        .expect("run usage-server");
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty(), "no link printed");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("return_to"), "{stderr}");
}
