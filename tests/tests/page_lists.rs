//! In headless Chromium: an admin pages to page 3 of a 10,000-row opted-out
//! list, opts a user out and one of that page back in, stays on page 3, and
//! sees the audit entries naming the page and themselves, in English and in
//! Swedish.

mod page_common;

use page_common::{bounded, current_page, listed, navigated, outcome, pick, signed_in, tick};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::TestServer;
use support::webdriver::{Browser, BrowserOptions};

const OPTED_OUT: usize = 10_000;

fn user_id(n: usize) -> String {
    format!("p{n:05}")
}

/// Adds `OPTED_OUT` users plus a few extra ones, and opts the first out.
async fn ten_thousand_opted_out(server: &TestServer) {
    let key = server.demo().service_key;
    let users: Vec<Value> = (0..OPTED_OUT + 5)
        .map(|n| json!({"id": user_id(n), "name": format!("Person {n:05}")}))
        .collect();
    let response = server
        .client()
        .post(server.url("/api/orgs/acme/users"))
        .bearer_auth(&key)
        .json(&json!({ "users": users }))
        .send()
        .await
        .expect("import");
    assert_eq!(response.status(), StatusCode::OK);
    let ids: Vec<String> = (0..OPTED_OUT).map(user_id).collect();
    for chunk in ids.chunks(1000) {
        let response = server
            .client()
            .post(server.url("/api/orgs/acme/opt-outs"))
            .bearer_auth(&key)
            .json(&json!({ "users": chunk }))
            .send()
            .await
            .expect("opt out");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

async fn text(browser: &Browser, css: &str) -> String {
    browser
        .find(css)
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn follow(browser: &Browser, css: &str) {
    let before = current_page(browser).await;
    browser
        .find(css)
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .expect("click");
    navigated(browser, &before).await;
}

/// The cells of the audit section's newest row.
async fn newest_audit_row(browser: &Browser) -> Vec<String> {
    let value = browser
        .execute(
            "const row = document.querySelector('#audit-list tbody tr');\
             return Array.from(row.children).map(cell => cell.textContent.trim());",
            Vec::new(),
        )
        .await
        .expect("read the audit section");
    serde_json::from_value(value).expect("cells")
}

async fn on_page_three(options: BrowserOptions) {
    let server = TestServer::start_demo().await;
    ten_thousand_opted_out(&server).await;
    let Some(browser) = signed_in(&server, options).await else {
        return;
    };
    assert_eq!(
        text(&browser, "#list-position").await,
        "Page 1: 1 to 50 of 10000 opted-out users, newest first."
    );
    follow(&browser, "#list-next").await;
    follow(&browser, "#list-next").await;
    assert_eq!(
        text(&browser, "#list-position").await,
        "Page 3: 101 to 150 of 10000 opted-out users, newest first."
    );
    let page_three = listed(&browser).await;
    assert_eq!(page_three.len(), 50);

    // Opt out someone from the drop-down while on page 3.
    let extra = user_id(OPTED_OUT + 2);
    pick(&browser, &extra).await;
    let before = current_page(&browser).await;
    browser
        .find("#opt-out-button")
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let message = outcome(&browser, &before).await;
    assert!(message.contains("is now opted out"), "{message}");
    assert!(
        text(&browser, "#list-position")
            .await
            .starts_with("Page 3: 101 to 150 of 10001"),
        "the admin stays on page 3"
    );
    let audit = newest_audit_row(&browser).await;
    assert_eq!(
        audit[1..],
        [
            "Opted out".to_owned(),
            format!("Person {:05} ({extra})", OPTED_OUT + 2),
            "Alice Andersson".to_owned(),
            "this page".to_owned(),
        ],
        "the audit entry names the page and the admin"
    );

    // Opt one of page 3's users back in.
    let back_in = page_three[7].clone();
    tick(&browser, &back_in).await;
    let before = current_page(&browser).await;
    browser
        .find("#opt-in-button")
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let message = outcome(&browser, &before).await;
    assert!(message.contains("opted in again"), "{message}");
    assert!(!listed(&browser).await.contains(&back_in));
    let audit = newest_audit_row(&browser).await;
    assert_eq!(audit[1], "Opted in");
    assert!(audit[2].ends_with(&format!("({back_in})")), "{audit:?}");
    assert_eq!(audit[3..], ["Alice Andersson", "this page"]);

    // Filtered by user, in Swedish: that user's whole history.
    browser
        .goto(&server.url(&format!(
            "/orgs/acme/tools/product-usage/opt-out-settings?lang=sv&audit_user={back_in}"
        )))
        .await
        .expect("open the filtered view");
    browser
        .wait_for("#audit-list", page_common::WAIT)
        .await
        .expect("audit");
    let rows = browser
        .find_all("#audit-list tbody tr")
        .await
        .expect("rows");
    assert_eq!(rows.len(), 3, "created, opted out, opted in");
    let audit = newest_audit_row(&browser).await;
    assert_eq!(audit[1], "Spåras igen");
    assert_eq!(audit[4], "den här sidan");
    let older = &rows[1].text().await.expect("row");
    assert!(
        older.contains("Undantogs") && older.contains("API:t"),
        "{older}"
    );
    browser.close().await.expect("close");
}

#[tokio::test]
async fn an_admin_opts_out_on_page_three_and_sees_the_audit_entry() {
    bounded(on_page_three(BrowserOptions::default())).await;
}

#[tokio::test]
async fn the_same_works_without_javascript() {
    bounded(on_page_three(
        BrowserOptions::default().without_javascript(),
    ))
    .await;
}
