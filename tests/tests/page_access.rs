//! Who may see and change the settings page: signed-out visitors get a 401
//! page that says how to sign in, non-admins a 403 page without the menu, and
//! forged or cross-origin posts change nothing. Every answer carries the
//! security headers and none answers cross-origin.

mod page_common;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use page_common::{
    admin_link, api_opted_out, bounded, cli, current_page, navigated, open_link, page_path,
    put_user, session_cookie, signed_in, WAIT,
};
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use support::server::TestServer;
use support::webdriver::{Browser, BrowserOptions};
use tokio::net::TcpListener;

fn assert_secured(headers: &HeaderMap, what: &str) {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name} header"))
            .to_owned()
    };
    let csp = value("content-security-policy");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{what}: CSP {csp} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: CSP {csp}");
    assert_eq!(value("x-frame-options"), "DENY", "{what}");
    assert_eq!(value("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(value("referrer-policy"), "same-origin", "{what}");
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{what} answers cross-origin"
    );
}

/// The page as the browser shows it must be the 403 page, without the menu.
async fn assert_forbidden_page(browser: &Browser, server: &TestServer, org: &str) {
    browser
        .goto(&server.url(&page_path(org)))
        .await
        .expect("open page");
    let heading = browser.wait_for("h1", WAIT).await.expect("h1");
    assert_eq!(
        heading.text().await.expect("text"),
        "You cannot open this page"
    );
    let text = browser
        .find("body")
        .await
        .expect("body")
        .text()
        .await
        .expect("text");
    assert!(!text.contains("Product Usage"), "a menu entry: {text}");
    assert!(browser.find("nav.menu").await.is_err(), "a menu");
    assert!(browser.find("#opt-out-user").await.is_err(), "the settings");
    let response = server
        .client()
        .get(server.url(&page_path(org)))
        .header(header::COOKIE, session_cookie(browser).await)
        .send()
        .await
        .expect("GET page");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_secured(response.headers(), "the 403 page");
}

#[tokio::test]
async fn signed_out_visitors_are_told_how_to_sign_in() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let client = server.client();
        let response = client
            .get(server.url(&page_path("acme")))
            .header(header::ORIGIN, "http://evil.example")
            .send()
            .await
            .expect("GET page");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_secured(response.headers(), "the 401 page");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-store",
            "the page is never cached"
        );
        let html = response.text().await.expect("body");
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("Sign in to continue"));
        assert!(html.contains("usage-server admin-link --org acme --user"));
        assert!(!html.contains("Product Usage"), "no menu when signed out");

        let swedish = client
            .get(server.url(&format!("{}?lang=sv", page_path("acme"))))
            .send()
            .await
            .expect("GET page");
        assert_eq!(swedish.status(), StatusCode::UNAUTHORIZED);
        let html = swedish.text().await.expect("body");
        assert!(html.contains("<html lang=\"sv\">") && html.contains("Logga in"));

        let forged = client
            .post(server.url(&format!("{}/opt-out", page_path("acme"))))
            .form(&[("user", "bob")])
            .send()
            .await
            .expect("POST opt-out");
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        assert!(api_opted_out(&server).await.is_empty());

        let preflight = client
            .request(
                reqwest::Method::OPTIONS,
                server.url(&format!("{}/opt-out", page_path("acme"))),
            )
            .header(header::ORIGIN, "http://evil.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
            .await
            .expect("OPTIONS");
        assert!(preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn the_stylesheet_and_script_are_cacheable_files() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let Some(browser) = signed_in(&server, BrowserOptions::default()).await else {
            return;
        };
        let urls = browser
            .execute(
                "return [document.querySelector('link[rel=stylesheet]').href, \
                 document.querySelector('script[src]').src, \
                 document.querySelectorAll('script:not([src]), style, [style]').length];",
                Vec::new(),
            )
            .await
            .expect("asset urls");
        assert_eq!(urls[2], 0, "inline script or style");
        for (index, kind) in [(0, "text/css"), (1, "text/javascript")] {
            let url = urls[index].as_str().expect("url");
            let response = server.client().get(url).send().await.expect("GET asset");
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers();
            assert!(headers[header::CONTENT_TYPE]
                .to_str()
                .is_ok_and(|v| v.starts_with(kind)));
            assert!(headers[header::CACHE_CONTROL]
                .to_str()
                .is_ok_and(|v| v.contains("immutable")));
            assert_secured(headers, url);
        }
        let stale = server
            .client()
            .get(server.url("/assets/opt-out-settings/page.0000.js"))
            .send()
            .await
            .expect("GET");
        assert_eq!(stale.status(), StatusCode::NOT_FOUND);

        let response = server
            .client()
            .get(server.url(&page_path("acme")))
            .header(header::COOKIE, session_cookie(&browser).await)
            .send()
            .await
            .expect("GET page");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_secured(response.headers(), "the page");
        browser.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn a_demoted_admin_gets_a_403_page_without_the_menu() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let key = server.demo().service_key;
        put_user(&server, &key, "acme", "ivan", "Ivan Isaksson", "admin").await;
        let link = admin_link(&server, "acme", "ivan");
        let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
            return;
        };
        open_link(&browser, &link).await;
        assert!(
            browser.find("#opt-out-user").await.is_ok(),
            "an admin sees it"
        );
        put_user(&server, &key, "acme", "ivan", "Ivan Isaksson", "user").await;
        assert_forbidden_page(&browser, &server, "acme").await;
        browser.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn an_admin_of_another_org_gets_a_403_page() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let other_key = cli(&server, &["keys", "create", "--org", "other"])
            .trim()
            .to_owned();
        put_user(
            &server,
            &other_key,
            "other",
            "oscar",
            "Oscar Olsson",
            "admin",
        )
        .await;
        let link = admin_link(&server, "other", "oscar");
        let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
            return;
        };
        open_link(&browser, &link).await;
        assert!(browser
            .current_url()
            .await
            .expect("url")
            .ends_with(&page_path("other")));
        assert!(
            browser.find("#list-empty").await.is_ok(),
            "oscar sees his own org's page"
        );
        assert_forbidden_page(&browser, &server, "acme").await;

        let changed = server
            .client()
            .post(server.url(&format!("{}/opt-out", page_path("acme"))))
            .header(header::COOKIE, session_cookie(&browser).await)
            .form(&[("user", "bob")])
            .send()
            .await
            .expect("POST");
        assert_eq!(changed.status(), StatusCode::FORBIDDEN);
        assert!(api_opted_out(&server).await.is_empty());
        browser.close().await.expect("close");
    })
    .await;
}

/// A page on another loopback port (another origin, same site) with a form
/// that posts to the settings page without the CSRF token.
async fn serve_attacker(target: String) -> String {
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head>
<body><main><h1>Win a prize</h1>
<form method="post" action="{target}">
<input type="hidden" name="user" value="bob">
<input type="hidden" name="csrf" value="guessed">
<button id="claim" type="submit">Claim</button>
</form></main></body></html>"#
    );
    let app = Router::new().route("/", get(move || async move { Html(page) }));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
}

#[tokio::test]
async fn a_forged_cross_site_post_changes_nothing() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let Some(browser) = signed_in(&server, BrowserOptions::default()).await else {
            return;
        };
        let target = server.url(&format!("{}/opt-out", page_path("acme")));
        browser
            .goto(&serve_attacker(target.clone()).await)
            .await
            .expect("attacker page");
        let before = current_page(&browser).await;
        browser
            .find("#claim")
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        navigated(&browser, &before).await;
        let heading = browser.find("h1").await.expect("h1");
        assert_eq!(
            heading.text().await.expect("text"),
            "The form could not be accepted"
        );
        assert!(api_opted_out(&server).await.is_empty());

        // The session cookie alone, even from the same origin, is not enough.
        let cookie = session_cookie(&browser).await;
        let without_token = server
            .client()
            .post(&target)
            .header(header::COOKIE, &cookie)
            .form(&[("user", "bob")])
            .send()
            .await
            .expect("POST");
        assert_eq!(without_token.status(), StatusCode::FORBIDDEN);
        assert_secured(without_token.headers(), "a refused post");
        assert!(api_opted_out(&server).await.is_empty());
        browser.close().await.expect("close");
    })
    .await;
}
