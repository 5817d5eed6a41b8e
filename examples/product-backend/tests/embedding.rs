//! The example product against the real `usage-server demo`, over loopback
//! HTTP: an admin reaches the settings page through the product's menu, a
//! plain user gets no such entry, and server-side events count until the
//! user is opted out.

use std::path::Path;

mod common;

use common::start_product;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::TestServer;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The `name=value` part of a response's cookie.
fn set_cookie(response: &reqwest::Response) -> Option<String> {
    let value = response.headers().get(SET_COOKIE)?.to_str().ok()?;
    Some(value.split(';').next()?.to_owned())
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_owned()
}

/// Signs in to the product; its session cookie.
async fn sign_in(product: &str, user: &str) -> String {
    let response = client()
        .post(format!("{product}/login"))
        .form(&[("user", user)])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    set_cookie(&response).expect("a product session")
}

async fn get(url: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(url)
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("GET")
}

/// Names of the events in the server's NDJSON sink.
fn stored_names(data: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data.join("events")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter_map(|v| v["name"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn an_admin_reaches_the_settings_page_through_the_products_menu() {
    let server = TestServer::start_demo().await;
    let product = start_product(&server).await;
    let alice = sign_in(&product, "alice").await;

    let home = get(&format!("{product}/"), &alice)
        .await
        .text()
        .await
        .expect("page");
    assert!(
        home.contains("id=\"opt-out-settings\""),
        "the admin sees the menu entry"
    );

    let hand_over = get(
        &format!("{product}/tools/product-usage/opt-out-settings?lang=sv"),
        &alice,
    )
    .await;
    assert_eq!(hand_over.status(), StatusCode::SEE_OTHER);
    let link = location(&hand_over);
    assert!(link.starts_with(&server.url("/signin?t=")), "{link}");

    let signed_in = client().get(&link).send().await.expect("GET /signin");
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let page_path = location(&signed_in);
    assert_eq!(
        page_path,
        "/orgs/acme/tools/product-usage/opt-out-settings?lang=sv"
    );
    let session = set_cookie(&signed_in).expect("an admin session on the page");
    let page = get(&server.url(&page_path), &session).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page");
    assert!(html.contains("lang=\"sv\""), "the page is in Swedish");

    // The link was for one use only.
    let again = client().get(&link).send().await.expect("GET /signin");
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_plain_user_gets_no_menu_entry_and_no_hand_over() {
    let server = TestServer::start_demo().await;
    let product = start_product(&server).await;
    let bob = sign_in(&product, "bob").await;
    let home = get(&format!("{product}/"), &bob)
        .await
        .text()
        .await
        .expect("page");
    assert!(!home.contains("opt-out-settings"), "no menu entry for bob");
    let refused = get(
        &format!("{product}/tools/product-usage/opt-out-settings"),
        &bob,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_back_end_tracks_a_user_until_an_admin_opts_them_out() {
    let server = TestServer::start_demo().await;
    let product = start_product(&server).await;
    let carol = sign_in(&product, "carol").await;
    let home = get(&format!("{product}/"), &carol)
        .await
        .text()
        .await
        .expect("page");
    assert!(
        home.contains("data-token=\"v1."),
        "a status token for the front end"
    );

    let export = || async {
        let response = client()
            .post(format!("{product}/reports/export"))
            .header(COOKIE, &carol)
            .send()
            .await
            .expect("POST export");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        location(&response)
    };
    assert_eq!(export().await, "/?exported=accepted");
    let count = |names: Vec<String>| names.iter().filter(|n| *n == "report.exported").count();
    assert_eq!(count(stored_names(&server.data_dir())), 1);

    let opted_out = server
        .client()
        .post(server.url("/api/orgs/acme/opt-outs"))
        .bearer_auth(server.demo().service_key)
        .json(&json!({"users": ["carol"]}))
        .send()
        .await
        .expect("POST opt-outs");
    assert_eq!(opted_out.status(), StatusCode::OK);
    assert_eq!(export().await, "/?exported=discarded");
    assert_eq!(
        count(stored_names(&server.data_dir())),
        1,
        "nothing stored after the opt-out"
    );
}
