//! The settings page in Swedish: chosen by `?lang=sv` (which wins, and is kept
//! across the post-redirect-get of a change) or by the browser's language.

mod page_common;

use page_common::{bounded, current_page, navigated, outcome, page_path, pick, signed_in, WAIT};
use support::server::TestServer;
use support::webdriver::{Browser, BrowserOptions};

async fn text(browser: &Browser, css: &str) -> String {
    browser
        .find(css)
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"))
        .text()
        .await
        .expect("text")
}

/// The text content of every element matching `css`, trimmed.
async fn texts(browser: &Browser, css: &str) -> Vec<String> {
    let value = browser
        .execute(
            "return Array.from(document.querySelectorAll(arguments[0]))\
             .map(e => e.textContent.trim());",
            vec![css.into()],
        )
        .await
        .expect("texts");
    serde_json::from_value(value).expect("strings")
}

async fn html_lang(browser: &Browser) -> String {
    browser
        .find("html")
        .await
        .expect("html")
        .attribute("lang")
        .await
        .expect("lang")
        .unwrap_or_default()
}

async fn assert_swedish(browser: &Browser) {
    assert_eq!(html_lang(browser).await, "sv");
    assert_eq!(text(browser, "h1").await, "Undantag från spårning");
    assert_eq!(
        text(browser, "#opt-out-heading").await,
        "Undanta en användare"
    );
    assert_eq!(text(browser, "#opt-out-button").await, "Undanta");
    assert_eq!(
        texts(browser, ".breadcrumb li").await,
        ["Verktyg", "Produktanvändning", "Undantag från spårning"]
    );
    let help = browser.find("#opt-out-help").await.expect("help toggle");
    help.click().await.expect("open help");
    let shown = text(browser, "#opt-out-help + p").await;
    assert!(
        shown.contains("Välj någon som spåras i dag"),
        "help: {shown}"
    );
    assert_eq!(
        text(browser, "#opt-out-button-hint").await,
        "Personens händelser kastas från det ögonblick du trycker."
    );
}

#[tokio::test]
async fn lang_sv_shows_swedish_labels_and_help_and_survives_a_change() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let Some(browser) = signed_in(&server, BrowserOptions::default()).await else {
            return;
        };
        assert_eq!(html_lang(&browser).await, "en");
        browser
            .goto(&server.url(&format!("{}?lang=sv", page_path("acme"))))
            .await
            .expect("open");
        browser.wait_for("h1", WAIT).await.expect("page");
        assert_swedish(&browser).await;

        pick(&browser, "dave").await;
        let before = current_page(&browser).await;
        browser
            .find("#opt-out-button")
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        let message = outcome(&browser, &before).await;
        assert!(
            message.contains("Dave Dahl är nu undantagen"),
            "message: {message}"
        );
        assert!(browser
            .current_url()
            .await
            .expect("url")
            .ends_with("?lang=sv"));
        assert_eq!(text(&browser, "#opt-in-button").await, "Spåra igen");
        assert_eq!(
            text(&browser, "label[for=select-all]").await,
            "Markera alla"
        );
        assert_eq!(
            texts(&browser, "#opt-out-list thead th").await,
            ["Välj", "Namn", "E-post", "Undantagen", "Av"]
        );
        let before = current_page(&browser).await;
        browser
            .find("a.lang-switch")
            .await
            .expect("switch")
            .click()
            .await
            .expect("to English");
        navigated(&browser, &before).await;
        assert_eq!(text(&browser, "h1").await, "Opt-out settings");
        browser.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn a_swedish_browser_gets_swedish_unless_the_url_says_otherwise() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let options = BrowserOptions::default().language("sv");
        let Some(browser) = signed_in(&server, options).await else {
            return;
        };
        assert_swedish(&browser).await;
        browser
            .goto(&server.url(&format!("{}?lang=en", page_path("acme"))))
            .await
            .expect("open");
        browser.wait_for("h1", WAIT).await.expect("page");
        assert_eq!(html_lang(&browser).await, "en");
        assert_eq!(text(&browser, "h1").await, "Opt-out settings");
        browser.close().await.expect("close");
    })
    .await;
}
