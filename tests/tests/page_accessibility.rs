//! The settings page is usable by keyboard and screen reader: axe-core finds
//! no serious or critical violation in any of its states, and every control
//! works with Tab, Space, Enter and the arrow keys alone.

mod page_common;

use page_common::{
    bounded, current_page, listed, offered, outcome, page_path, signed_in, tab_to, WAIT,
};
use serde_json::json;
use support::axe::assert_accessible;
use support::server::TestServer;
use support::webdriver::{keys, Browser, BrowserOptions};

async fn focused_id(browser: &Browser) -> Option<String> {
    browser
        .active_element()
        .await
        .expect("focused element")
        .attribute("id")
        .await
        .expect("id")
}

async fn checked(browser: &Browser) -> Vec<bool> {
    let value = browser
        .execute(
            "return Array.from(document.querySelectorAll('#opt-out-list tbody input')).map(b => b.checked);",
            Vec::new(),
        )
        .await
        .expect("check boxes");
    serde_json::from_value(value).expect("booleans")
}

#[tokio::test]
async fn every_control_works_from_the_keyboard() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let Some(browser) = signed_in(&server, BrowserOptions::default()).await else {
            return;
        };
        assert_accessible(&browser, "the settings page with nobody opted out").await;

        // Help opens with Enter.
        tab_to(&browser, "opt-out-help").await;
        browser.press_keys(keys::ENTER).await.expect("Enter");
        let help = browser.find("details.help").await.expect("details");
        assert_eq!(help.property("open").await.expect("open"), json!(true));

        // Type a search, move to the drop-down, choose with an arrow, act with Enter.
        tab_to(&browser, "user-search").await;
        browser.press_keys("dahl").await.expect("type");
        page_common::wait_for_offered(&browser, &["dave"]).await;
        tab_to(&browser, "opt-out-user").await;
        browser.press_keys(keys::ARROW_DOWN).await.expect("arrow");
        let select = browser.find("#opt-out-user").await.expect("select");
        assert_eq!(
            select.property("value").await.expect("value"),
            json!("dave")
        );
        tab_to(&browser, "opt-out-button").await;
        let before = current_page(&browser).await;
        browser.press_keys(keys::ENTER).await.expect("Enter");
        assert!(outcome(&browser, &before)
            .await
            .contains("Dave Dahl is now opted out"));
        support::wait::until("the message to take focus", WAIT, || async {
            (focused_id(&browser).await.as_deref() == Some("flash")).then_some(())
        })
        .await
        .expect("the script focuses the message");

        // A second user by typing the first letters of the name at the closed drop-down.
        tab_to(&browser, "opt-out-user").await;
        browser.press_keys("Erin").await.expect("type-ahead");
        assert_eq!(
            browser
                .find("#opt-out-user")
                .await
                .expect("select")
                .property("value")
                .await
                .expect("value"),
            json!("erin")
        );
        tab_to(&browser, "opt-out-button").await;
        let before = current_page(&browser).await;
        browser.press_keys(keys::SPACE).await.expect("Space");
        assert!(outcome(&browser, &before)
            .await
            .contains("Erin Ek is now opted out"));
        assert_eq!(listed(&browser).await, ["erin", "dave"]);
        assert_accessible(&browser, "the settings page with two users opted out").await;

        // Select-all and a row check box toggle with Space.
        tab_to(&browser, "select-all").await;
        browser.press_keys(keys::SPACE).await.expect("Space");
        assert_eq!(checked(&browser).await, [true, true]);
        browser.press_keys(keys::SPACE).await.expect("Space");
        assert_eq!(checked(&browser).await, [false, false]);
        tab_to(&browser, "pick-2").await;
        browser.press_keys(keys::SPACE).await.expect("Space");
        assert_eq!(checked(&browser).await, [false, true]);
        let all = browser.find("#select-all").await.expect("select-all");
        assert_eq!(
            all.property("indeterminate").await.expect("mixed"),
            json!(true)
        );
        tab_to(&browser, "opt-in-button").await;
        let before = current_page(&browser).await;
        browser.press_keys(keys::ENTER).await.expect("Enter");
        assert!(outcome(&browser, &before)
            .await
            .contains("Dave Dahl is opted in again"));
        assert_eq!(listed(&browser).await, ["erin"]);
        assert!(offered(&browser).await.contains(&"dave".to_owned()));
        browser.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn axe_finds_no_serious_violation_in_any_state_or_language() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let Some(browser) = signed_in(&server, BrowserOptions::default()).await else {
            return;
        };
        let page = server.url(&page_path("acme"));

        browser.goto(&format!("{page}?lang=sv")).await.expect("open");
        browser.wait_for("h1", WAIT).await.expect("page");
        page_common::pick(&browser, "bob").await;
        let before = current_page(&browser).await;
        browser
            .find("#opt-out-button")
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        outcome(&browser, &before).await;
        for toggle in ["opt-out-help", "list-help"] {
            browser
                .find(&format!("#{toggle}"))
                .await
                .expect("help")
                .click()
                .await
                .expect("open help");
        }
        assert_accessible(&browser, "the Swedish page with a message and open help").await;

        browser.goto(&format!("{page}?q=nobody-matches")).await.expect("open");
        browser.wait_for("h1", WAIT).await.expect("page");
        browser.find("#opt-in-button").await.expect("opt-in");
        browser
            .execute(
                "document.querySelectorAll('#opt-out-list tbody input').forEach(b => b.checked = false);",
                Vec::new(),
            )
            .await
            .expect("untick");
        let before = current_page(&browser).await;
        browser
            .find("#opt-in-button")
            .await
            .expect("opt-in")
            .click()
            .await
            .expect("click");
        let message = outcome(&browser, &before).await;
        assert!(message.contains("Tick at least one user"), "message: {message}");
        assert_eq!(
            browser
                .find("#flash")
                .await
                .expect("flash")
                .attribute("role")
                .await
                .expect("role")
                .as_deref(),
            Some("alert")
        );
        assert_accessible(&browser, "the page with an error message").await;

        browser.delete_cookies().await.expect("sign out");
        browser.goto(&page).await.expect("open");
        browser.wait_for("h1", WAIT).await.expect("page");
        assert_accessible(&browser, "the 401 page").await;
        browser.close().await.expect("close");
    })
    .await;
}
