//! An admin opts users out and back in on the settings page, with and without
//! JavaScript, and the admin API and the validator agree at once.

mod page_common;

use page_common::{
    api_opted_out, bounded, current_page, listed, navigated, offered, outcome, pick, send_event,
    signed_in, tick, token, wait_for_offered,
};
use support::server::{workspace_root, TestServer};
use support::webdriver::{Browser, BrowserOptions};

const EVERYONE: [&str; 8] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];

fn everyone_but(gone: &[&str]) -> Vec<&'static str> {
    EVERYONE
        .into_iter()
        .filter(|id| !gone.contains(id))
        .collect()
}

/// Narrows the drop-down to `text`: live as the admin types with JavaScript,
/// by the Search button (a page load) without.
async fn search(browser: &Browser, text: &str) {
    let input = browser.find("#user-search").await.expect("search box");
    input.clear().await.expect("clear search");
    input.send_keys(text).await.expect("type search");
    if !browser.has_javascript() {
        let before = current_page(browser).await;
        browser
            .find("form.search button[type=submit]")
            .await
            .expect("search button")
            .click()
            .await
            .expect("search");
        navigated(browser, &before).await;
    }
}

async fn click(browser: &Browser, css: &str) {
    browser
        .find(css)
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"))
        .click()
        .await
        .unwrap_or_else(|error| panic!("click {css}: {error}"));
}

/// The whole story of the issue, in whichever browser is given.
async fn opt_out_then_in(server: &TestServer, browser: &Browser, screenshot: bool) {
    wait_for_offered(browser, &EVERYONE).await;
    assert!(listed(browser).await.is_empty());
    assert!(browser.find("#list-empty").await.is_ok(), "an empty state");
    // Bob's app logged in before the change: its token still says "tracked".
    let bobs_old_token = token(server, "bob").await;

    search(browser, "berg").await;
    wait_for_offered(browser, &["bob"]).await;
    pick(browser, "bob").await;
    let before = current_page(browser).await;
    click(browser, "#opt-out-button").await;
    let message = outcome(browser, &before).await;
    assert!(
        message.contains("Bob Berg is now opted out"),
        "message: {message}"
    );
    assert_eq!(listed(browser).await, ["bob"]);
    assert!(!offered(browser).await.contains(&"bob".to_owned()));
    assert_eq!(api_opted_out(server).await, ["bob"]);
    let verdict = send_event(server, &bobs_old_token).await;
    assert_eq!(verdict["opted_out"], true, "{verdict}");
    assert_eq!(verdict["discarded"], 1, "{verdict}");
    assert_eq!(verdict["accepted"], 0, "{verdict}");

    pick(browser, "carol").await;
    let before = current_page(browser).await;
    click(browser, "#opt-out-button").await;
    assert!(outcome(browser, &before)
        .await
        .contains("Carol Carlsson is now opted out"));
    assert_eq!(listed(browser).await, ["carol", "bob"], "newest first");
    wait_for_offered(browser, &everyone_but(&["bob", "carol"])).await;
    let mut api = api_opted_out(server).await;
    api.sort();
    assert_eq!(api, ["bob", "carol"]);
    let by = browser
        .find("#opt-out-list tbody tr td:last-child")
        .await
        .expect("by column")
        .text()
        .await
        .expect("by text");
    assert_eq!(by, "Alice Andersson", "the actor is shown by name");
    let select_all = browser.find("#select-all").await.expect("select-all");
    assert_eq!(
        select_all.is_displayed().await.expect("displayed"),
        browser.has_javascript(),
        "select-all needs the script, and is hidden without it"
    );

    if screenshot {
        save_screenshot(browser).await;
    }

    tick(browser, "bob").await;
    tick(browser, "carol").await;
    let before = current_page(browser).await;
    click(browser, "#opt-in-button").await;
    let message = outcome(browser, &before).await;
    assert!(
        message.contains("Carol Carlsson and Bob Berg are opted in again"),
        "message: {message}"
    );
    assert!(listed(browser).await.is_empty());
    assert!(browser.find("#list-empty").await.is_ok());
    wait_for_offered(browser, &EVERYONE).await;
    assert!(api_opted_out(server).await.is_empty());
    for user in ["bob", "carol"] {
        let verdict = send_event(server, &token(server, user).await).await;
        assert_eq!(verdict["opted_out"], false, "{user}: {verdict}");
        assert_eq!(verdict["accepted"], 1, "{user}: {verdict}");
    }
    let verdict = send_event(server, &bobs_old_token).await;
    assert_eq!(
        verdict["accepted"], 1,
        "the old token counts again: {verdict}"
    );

    let before = current_page(browser).await;
    browser.refresh().await.expect("reload");
    navigated(browser, &before).await;
    assert!(
        browser.find("#flash").await.is_err(),
        "the message is shown once, not on reload"
    );
}

/// The README's picture of the page: two users opted out, the message shown.
/// Written into the source tree only when `USAGE_SCREENSHOT_DIR` asks for it
/// (`docs/screenshots/refresh` does); a plain test run leaves the tree alone.
async fn save_screenshot(browser: &Browser) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let folder = match std::env::var_os("USAGE_SCREENSHOT_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => scratch.path().to_path_buf(),
    };
    std::fs::create_dir_all(&folder).expect("create the screenshot folder");
    let path = folder.join("opt-out-settings.png");
    browser.screenshot(&path).await.expect("screenshot");
    let png = std::fs::read(&path).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test]
async fn an_admin_opts_users_out_and_back_in_with_javascript() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let options = BrowserOptions::default().window_size(1280, 1250);
        let Some(browser) = signed_in(&server, options).await else {
            return;
        };
        assert!(browser
            .current_url()
            .await
            .expect("url")
            .ends_with("/orgs/acme/tools/product-usage/opt-out-settings"));
        opt_out_then_in(&server, &browser, true).await;
        browser.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn an_admin_opts_users_out_and_back_in_without_javascript() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let options = BrowserOptions::default().without_javascript();
        let Some(browser) = signed_in(&server, options).await else {
            return;
        };
        opt_out_then_in(&server, &browser, false).await;
        browser.close().await.expect("close");
    })
    .await;
}
