//! Proves the WebDriver and axe helpers against a tiny page served on loopback,
//! so that failures in product browser tests point at the product.

use std::time::Duration;

use axum::extract::RawQuery;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use support::axe;
use support::webdriver::{keys, Browser, BrowserOptions, Cookie};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(5);

const HOME: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Smoke page</title></head>
<body>
<main>
  <h1>WebDriver smoke page</h1>
  <p id="js-state">JavaScript is off</p>
  <button id="press" type="button">Press</button>
  <p id="out">not pressed</p>
  <form action="/echo" method="get">
    <label for="q">Query</label>
    <input id="q" name="q">
    <button id="go" type="submit">Go</button>
  </form>
  <label><input type="checkbox" id="agree"> Agree</label>
</main>
<script>
  document.getElementById("js-state").textContent = "JavaScript is on";
  document.getElementById("press").addEventListener("click", () => {
    document.getElementById("out").textContent = "pressed";
  });
  setTimeout(() => {
    const late = document.createElement("p");
    late.id = "late";
    late.textContent = "arrived late";
    document.querySelector("main").append(late);
  }, 300);
</script>
</body>
</html>"#;

/// Two violations axe rates serious or worse: no `lang`, and an image without `alt`.
/// Served under a strict Content-Security-Policy, as the settings page is.
const INACCESSIBLE: &str = r#"<!doctype html>
<html><head><title>Bad page</title></head>
<body><main><img src="/missing.png"></main></body></html>"#;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head><body><main>{body}</main></body></html>"#
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn inaccessible() -> impl IntoResponse {
    (
        [(header::CONTENT_SECURITY_POLICY, "default-src 'self'")],
        Html(INACCESSIBLE),
    )
}

async fn echo(RawQuery(query): RawQuery) -> Html<String> {
    let query = escape(&query.unwrap_or_default());
    page("Echo", &format!(r#"<p id="echo">{query}</p>"#))
}

async fn set_cookie() -> impl IntoResponse {
    (
        [(
            header::SET_COOKIE,
            "flavour=oat; Path=/; HttpOnly; SameSite=Strict",
        )],
        page("Cookie", "<p>cookie set</p>"),
    )
}

async fn echo_cookies(headers: HeaderMap) -> Html<String> {
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    page(
        "Cookies",
        &format!(r#"<p id="cookies">{}</p>"#, escape(cookies)),
    )
}

/// Serves the smoke pages on a free loopback port; returns the base URL.
async fn serve_pages() -> String {
    let app = Router::new()
        .route("/", get(|| async { Html(HOME) }))
        .route("/inaccessible", get(inaccessible))
        .route("/echo", get(echo))
        .route("/cookie", get(set_cookie))
        .route("/cookies", get(echo_cookies));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn clicks_typing_and_the_keyboard_drive_the_page() -> support::Result<()> {
    let base = serve_pages().await;
    let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
        return Ok(());
    };
    browser.goto(&format!("{base}/")).await?;
    assert_eq!(browser.title().await?, "Smoke page");
    assert_eq!(
        browser.find("#js-state").await?.text().await?,
        "JavaScript is on"
    );

    browser.find("#press").await?.click().await?;
    assert_eq!(browser.find("#out").await?.text().await?, "pressed");
    assert_eq!(
        browser.wait_for("#late", WAIT).await?.text().await?,
        "arrived late"
    );

    let query = browser.find("#q").await?;
    query.send_keys("hello").await?;
    assert_eq!(query.property("value").await?, json!("hello"));
    assert_eq!(query.attribute("name").await?.as_deref(), Some("q"));
    assert_eq!(query.attribute("placeholder").await?, None);

    browser.press_keys(keys::TAB).await?;
    assert_eq!(
        browser
            .active_element()
            .await?
            .attribute("id")
            .await?
            .as_deref(),
        Some("go")
    );
    browser.press_chord(&[keys::SHIFT, keys::TAB]).await?;
    assert_eq!(
        browser
            .active_element()
            .await?
            .attribute("id")
            .await?
            .as_deref(),
        Some("q")
    );
    browser.press_keys(keys::ENTER).await?;
    let echoed = browser.wait_for("#echo", WAIT).await?;
    assert_eq!(echoed.text().await?, "q=hello");
    assert!(browser.current_url().await?.ends_with("/echo?q=hello"));

    browser.back().await?;
    let agree = browser.wait_for("#agree", WAIT).await?;
    browser
        .execute("arguments[0].focus();", vec![agree.as_arg()])
        .await?;
    browser.press_keys(keys::SPACE).await?;
    assert!(agree.is_selected().await?);
    assert!(agree.is_displayed().await?);

    let sum = browser
        .execute(
            "return arguments[0] + arguments[1];",
            vec![json!(40), json!(2)],
        )
        .await?;
    assert_eq!(sum, json!(42));
    let labels = browser
        .find("form")
        .await?
        .find_all("label, button")
        .await?;
    assert_eq!(labels.len(), 2);
    assert!(browser
        .find("#nothing-here")
        .await
        .is_err_and(|error| error.is_no_such_element()));
    browser.close().await
}

#[tokio::test]
async fn a_browser_without_javascript_still_submits_forms() -> support::Result<()> {
    let base = serve_pages().await;
    let options = BrowserOptions::default().without_javascript();
    let Some(browser) = Browser::start_or_skip(options).await else {
        return Ok(());
    };
    browser.goto(&format!("{base}/")).await?;
    assert_eq!(
        browser.find("#js-state").await?.text().await?,
        "JavaScript is off"
    );
    browser.find("#press").await?.click().await?;
    assert_eq!(browser.find("#out").await?.text().await?, "not pressed");
    let late = browser.wait_for("#late", Duration::from_millis(800)).await;
    assert!(
        matches!(late, Err(support::Error::Timeout { .. })),
        "page scripts ran: {late:?}"
    );

    browser.find("#q").await?.send_keys("no script").await?;
    browser.find("#go").await?.click().await?;
    assert_eq!(
        browser.wait_for("#echo", WAIT).await?.text().await?,
        "q=no+script"
    );

    // axe-core needs timers, which never fire here: the audit says so at once.
    let audit = axe::serious_violations(&browser).await;
    assert!(audit.is_err_and(|error| error.to_string().contains("JavaScript is off")));
    browser.close().await
}

#[tokio::test]
async fn screenshots_and_cookies() -> support::Result<()> {
    let base = serve_pages().await;
    let Some(browser) =
        Browser::start_or_skip(BrowserOptions::default().window_size(800, 600)).await
    else {
        return Ok(());
    };
    browser.goto(&format!("{base}/cookie")).await?;
    let cookies = browser.cookies().await?;
    let flavour = cookies
        .iter()
        .find(|cookie| cookie.name == "flavour")
        .expect("cookie set by the page");
    assert_eq!(flavour.value, "oat");
    assert_eq!(flavour.http_only, Some(true));

    browser.add_cookie(&Cookie::new("lang", "sv")).await?;
    browser.goto(&format!("{base}/cookies")).await?;
    let sent = browser.find("#cookies").await?.text().await?;
    assert!(
        sent.contains("flavour=oat") && sent.contains("lang=sv"),
        "cookies sent: {sent}"
    );
    browser.delete_cookies().await?;
    assert!(browser.cookies().await?.is_empty());

    browser.goto(&format!("{base}/")).await?;
    let path = browser.scratch_dir().join("home.png");
    browser.screenshot(&path).await?;
    let png = std::fs::read(&path).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().expect("IHDR width"));
    assert!((600..=800).contains(&width), "screenshot {width} px wide");
    assert!(browser.source().await?.contains("WebDriver smoke page"));
    browser.close().await
}

#[tokio::test]
async fn axe_reports_serious_violations_only_where_they_are() -> support::Result<()> {
    let base = serve_pages().await;
    let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
        return Ok(());
    };
    browser.goto(&format!("{base}/inaccessible")).await?;
    let violations = axe::serious_violations(&browser).await?;
    let rules: Vec<&str> = violations
        .iter()
        .map(|violation| violation.id.as_str())
        .collect();
    assert!(rules.contains(&"image-alt"), "found {rules:?}");
    assert!(rules.contains(&"html-has-lang"), "found {rules:?}");
    assert!(axe::report(&violations).contains("<img src=\"/missing.png\">"));

    browser.goto(&format!("{base}/")).await?;
    axe::assert_accessible(&browser, "the smoke page").await;
    browser.close().await
}
