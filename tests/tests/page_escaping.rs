//! Text from the directory and the URL shows as text on the settings page and
//! never runs: a user named like an HTML tag, a search for one.

mod page_common;

use page_common::{
    bounded, current_page, listed, outcome, page_path, pick, put_user, signed_in, WAIT,
};
use serde_json::Value;
use support::server::TestServer;
use support::webdriver::{Browser, BrowserOptions};

const EVIL_NAME: &str = "<img src=x onerror=alert(1)>";

/// Elements an injection would have made. A WebDriver script call fails while
/// an alert is open, so a successful answer also shows no alert ran.
async fn injected_elements(browser: &Browser) -> Value {
    browser
        .execute(
            "return document.querySelectorAll('img, script:not([src]), [onerror]').length;",
            Vec::new(),
        )
        .await
        .expect("no alert is open")
}

#[tokio::test]
async fn a_user_named_like_markup_shows_as_text() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let key = server.demo().service_key;
        put_user(&server, &key, "acme", "mallory", EVIL_NAME, "user").await;
        let Some(browser) = signed_in(&server, BrowserOptions::default()).await else {
            return;
        };
        let option = browser
            .find("#opt-out-user option[value=\"mallory\"]")
            .await
            .expect("mallory is offered");
        assert_eq!(
            option.text().await.expect("text"),
            format!("{EVIL_NAME} (mallory@acme.example)")
        );
        assert_eq!(injected_elements(&browser).await, 0);

        // The live search builds its options from the API's JSON, as text too.
        let search = browser.find("#user-search").await.expect("search box");
        search.send_keys("mal").await.expect("type");
        page_common::wait_for_offered(&browser, &["mallory"]).await;
        let option = browser
            .find("#opt-out-user option[value=\"mallory\"]")
            .await
            .expect("mallory is offered");
        assert_eq!(
            option.text().await.expect("text"),
            format!("{EVIL_NAME} (mallory@acme.example)")
        );
        assert_eq!(injected_elements(&browser).await, 0);

        pick(&browser, "mallory").await;
        let before = current_page(&browser).await;
        browser
            .find("#opt-out-button")
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        let message = outcome(&browser, &before).await;
        assert!(message.contains(EVIL_NAME), "message: {message}");
        assert_eq!(listed(&browser).await, ["mallory"]);
        let cell = browser
            .find("#opt-out-list tbody th")
            .await
            .expect("name cell");
        assert_eq!(cell.text().await.expect("text"), EVIL_NAME);
        assert!(cell.is_displayed().await.expect("displayed"));
        let check_box = browser
            .find("#opt-out-list input[value=\"mallory\"]")
            .await
            .expect("check box");
        assert_eq!(
            check_box.attribute("aria-label").await.expect("label"),
            Some(format!("Select {EVIL_NAME}"))
        );
        assert_eq!(injected_elements(&browser).await, 0);
        browser.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn a_search_for_markup_is_echoed_as_text() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let Some(browser) = signed_in(&server, BrowserOptions::default()).await else {
            return;
        };
        let query = "\"><img src=x onerror=alert(1)><script>alert(2)</script>";
        let url = server.url(&format!(
            "{}?q={}",
            page_path("acme"),
            query
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
        ));
        browser.goto(&url).await.expect("open");
        let input = browser.wait_for("#user-search", WAIT).await.expect("box");
        assert_eq!(input.property("value").await.expect("value"), query);
        assert_eq!(injected_elements(&browser).await, 0);
        assert_eq!(
            browser
                .find("#candidates-note")
                .await
                .expect("note")
                .text()
                .await
                .expect("text"),
            "No tracked user matches your search."
        );
        browser.close().await.expect("close");
    })
    .await;
}
