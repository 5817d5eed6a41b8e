//! In headless Chromium: a product admin signs in to the example product,
//! follows its menu entry Tools > Product Usage > Opt-out settings, lands on
//! the settings page already signed in, and opts a user out there.

mod common;

use std::time::Duration;

use common::start_product;
use serde_json::Value;
use support::server::TestServer;
use support::webdriver::{Browser, BrowserOptions};

/// Longest wait for a page to show something.
const PATIENCE: Duration = Duration::from_secs(15);

async fn click(browser: &Browser, css: &str) {
    browser
        .find(css)
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"))
        .click()
        .await
        .unwrap_or_else(|error| panic!("click {css}: {error}"));
}

#[tokio::test]
async fn an_admin_follows_the_products_menu_to_the_page_and_opts_a_user_out() {
    let server = TestServer::start_demo().await;
    let product = start_product(&server).await;
    let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
        return;
    };
    let story = async {
        browser
            .goto(&format!("{product}/"))
            .await
            .expect("open the product");
        browser
            .execute(
                "document.querySelector('select[name=user]').value = 'alice';",
                vec![],
            )
            .await
            .expect("pick alice");
        click(&browser, "form[action='/login'] button").await;
        browser
            .wait_for("#opt-out-settings", PATIENCE)
            .await
            .expect("the admin's menu entry");

        click(&browser, "#opt-out-settings").await;
        browser
            .wait_for("#opt-out-user", PATIENCE)
            .await
            .expect("the settings page, signed in");
        let url = browser.current_url().await.expect("url");
        assert_eq!(
            url,
            server.url("/orgs/acme/tools/product-usage/opt-out-settings"),
            "landed on the org's settings page"
        );

        click(&browser, "#opt-out-user option[value=\"carol\"]").await;
        click(&browser, "#opt-out-button").await;
        let flash = browser
            .wait_for("#flash", PATIENCE)
            .await
            .expect("an outcome message")
            .text()
            .await
            .expect("message text");
        assert!(flash.contains("Carol Carlsson"), "{flash}");
    };
    if tokio::time::timeout(Duration::from_secs(120), story)
        .await
        .is_err()
    {
        panic!("the story took longer than two minutes");
    }
    browser.close().await.expect("close the browser");

    let opt_outs: Value = server
        .client()
        .get(server.url("/api/orgs/acme/opt-outs"))
        .bearer_auth(server.demo().service_key)
        .send()
        .await
        .expect("GET opt-outs")
        .json()
        .await
        .expect("JSON");
    let carol = opt_outs["opt_outs"]
        .as_array()
        .expect("opt_outs")
        .iter()
        .find(|entry| entry["id"] == "carol")
        .cloned()
        .unwrap_or_else(|| panic!("carol is opted out: {opt_outs}"));
    assert!(
        carol["opted_out_by"]
            .as_str()
            .is_some_and(|by| by.contains("alice")),
        "the change is alice's: {carol}"
    );
}
