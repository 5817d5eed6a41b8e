//! The settings page with 50,000 users in the org and 10,000 of them opted
//! out: the drop-down stays bounded and searchable, the table pages by cursor,
//! and the server's render time is measured and printed (not asserted: the
//! machine may be busy; run against a release binary for the figures, see
//! docs/lists-and-audit.md).
//!
//! `cargo test -p usage-e2e --test page_scale -- --nocapture` shows the figures.

mod page_common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use page_common::{admin_link, bounded, cli, offered, open_link, page_path, WAIT};
use reqwest::header;
use reqwest::StatusCode;
use serde_json::json;
use support::server::TestServer;
use support::webdriver::{Browser, BrowserOptions};

const USERS: usize = 50_000;
const OPTED_OUT: usize = 10_000;
/// Rows of the opted-out table per page.
const ROWS_PER_PAGE: usize = 50;
const SAMPLES: usize = 20;

const FIRST: [&str; 10] = [
    "Anna", "Björn", "Cecilia", "David", "Elin", "Fredrik", "Greta", "Hugo", "Ida", "Johan",
];
const LAST: [&str; 10] = [
    "Lind", "Berg", "Ek", "Holm", "Nyström", "Sjöberg", "Åkesson", "Lund", "Strand", "Wall",
];

fn user_id(n: usize) -> String {
    format!("u{n:05}")
}

/// A CSV of `USERS` users with Swedish-looking names.
fn directory_csv() -> String {
    let mut csv = String::from("id,name,email,role\n");
    for n in 0..USERS {
        let name = format!("{} {} {n:05}", FIRST[n % 10], LAST[(n / 10) % 10]);
        let id = user_id(n);
        writeln!(csv, "{id},{name},{id}@big.example,user").expect("write to a String");
    }
    csv
}

/// Signs in over HTTP and returns the session cookie.
async fn session(server: &TestServer) -> String {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client
        .get(admin_link(server, "acme", "alice"))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned()
}

/// Times `SAMPLES` GETs of `path` after two warm-ups; returns the sorted
/// durations and the last body.
async fn time_gets(server: &TestServer, cookie: &str, path: &str) -> (Vec<Duration>, String) {
    let mut times = Vec::with_capacity(SAMPLES);
    let mut body = String::new();
    for round in 0..SAMPLES + 2 {
        let started = Instant::now();
        let response = server
            .client()
            .get(server.url(path))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .expect("GET page");
        assert_eq!(response.status(), StatusCode::OK);
        body = response.text().await.expect("body");
        if round >= 2 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    (times, body)
}

fn report(what: &str, times: &[Duration], bytes: usize) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "settings page render, {what}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} GETs ({} KiB of HTML)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len(),
        bytes / 1024
    );
}

#[tokio::test]
async fn fifty_thousand_users_and_ten_thousand_opted_out_render_quickly_and_page() {
    bounded(async {
        let server = TestServer::start_demo().await;
        let file = server.data_dir().join("directory.csv");
        std::fs::write(&file, directory_csv()).expect("write CSV");
        let file = file.to_str().expect("utf-8 path").to_owned();
        let imported = cli(&server, &["users", "import", "--org", "acme", &file]);
        assert!(imported.contains("imported 50000 users"), "{imported}");

        let cookie = session(&server).await;
        let (times, body) = time_gets(&server, &cookie, &page_path("acme")).await;
        report("50,008 users, none opted out", &times, body.len());
        assert_eq!(body.matches("<option value=").count(), 1 + 200);
        assert!(body.contains("Showing the first 200 tracked users"));

        let ids: Vec<String> = (0..OPTED_OUT).map(|n| user_id(n * 5)).collect();
        for chunk in ids.chunks(1000) {
            let response = server
                .client()
                .post(server.url("/api/orgs/acme/opt-outs"))
                .bearer_auth(server.demo().service_key)
                .json(&json!({ "users": chunk }))
                .send()
                .await
                .expect("opt out");
            assert_eq!(response.status(), StatusCode::OK);
        }
        let (times, body) = time_gets(&server, &cookie, &page_path("acme")).await;
        report("50,008 users, 10,000 opted out, page 1", &times, body.len());
        assert_eq!(body.matches("name=\"user\" value=").count(), ROWS_PER_PAGE);
        assert!(body.contains("Page 1: 1 to 50 of 10000 opted-out users"));
        assert!(
            body.contains("<td>service key sk_"),
            "a service key is named as the actor"
        );

        // Page 3, by following the links a visitor would.
        let mut path = page_path("acme");
        for _ in 0..2 {
            path = next_link(&body_of(&server, &cookie, &path).await);
        }
        let (times, body) = time_gets(&server, &cookie, &path).await;
        report("50,008 users, 10,000 opted out, page 3", &times, body.len());
        assert!(
            body.contains("Page 3: 101 to 150 of 10000 opted-out users"),
            "{path}"
        );
        assert_eq!(body.matches("name=\"user\" value=").count(), ROWS_PER_PAGE);

        let search = format!("{}?list_q=u49995", page_path("acme"));
        let (times, body) = time_gets(&server, &cookie, &search).await;
        report("a search of the 10,000 opted out", &times, body.len());
        assert_eq!(body.matches("name=\"user\" value=").count(), 1);

        let search = format!("{}?q=Johan%20Wall%2049999", page_path("acme"));
        let (times, body) = time_gets(&server, &cookie, &search).await;
        report("a search over 50,008 users", &times, body.len());
        assert!(
            body.contains("<option value=\"u49999\">"),
            "the match is offered"
        );
        assert!(body.contains("One tracked user to choose from."));

        let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
            return;
        };
        open_link(&browser, &admin_link(&server, "acme", "alice")).await;
        live_search(&browser).await;
        browser.close().await.expect("close");
    })
    .await;
}

/// The page at `path` for the admin with `cookie`.
async fn body_of(server: &TestServer, cookie: &str, path: &str) -> String {
    let response = server
        .client()
        .get(server.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("GET page");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("body")
}

/// The table's "Next page" link in `html`, unescaped.
fn next_link(html: &str) -> String {
    let (before, _) = html
        .split_once("id=\"list-next\"")
        .expect("a next page link");
    let (_, href) = before.rsplit_once("href=\"").expect("its href");
    let href = href.split('"').next().expect("a quoted href");
    href.replace("&#38;", "&").replace("&amp;", "&")
}

/// Types a name into the search box and times how long the drop-down takes to
/// offer exactly that user.
async fn live_search(browser: &Browser) {
    let input = browser.wait_for("#user-search", WAIT).await.expect("box");
    let started = Instant::now();
    input.send_keys("Greta Wall 49996").await.expect("type");
    support::wait::until("the live search to find one user", WAIT, || async {
        (offered(browser).await == ["u49996"]).then_some(())
    })
    .await
    .expect("the drop-down follows the search");
    println!(
        "live search in the browser: one user of 50,008 offered {:.0} ms after typing began",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
