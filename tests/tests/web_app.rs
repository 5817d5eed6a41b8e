//! The web example (`examples/web-app`, served by `usage-server demo` at
//! `/demo/web-app/`) in headless Chromium, with the npm package built by
//! `bindings/build.sh`: a user tracks and is accepted; an admin opts them
//! out; the page's stale flag keeps sending until the server's answer says
//! "opted out", then nothing more is sent, across a reload and a new login.
//!
//! Batch requests are counted by the server (`usage_batches_total` in
//! `/metrics`) and stored events by the NDJSON lines under `events/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::json;
use support::server::{workspace_root, TestServer};
use support::skip::{in_ci, skip_suite};
use support::webdriver::{Browser, BrowserOptions};

/// The whole story must fit in this, page loads and the browser start included.
const TEST_BUDGET: Duration = Duration::from_secs(180);
/// Longest wait for the page to show something.
const PATIENCE: Duration = Duration::from_secs(15);

/// The newest modification time of the files under `dirs` (recursively).
fn newest(dirs: &[PathBuf]) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let entries = std::fs::read_dir(&path).into_iter().flatten().flatten();
            stack.extend(entries.map(|entry| entry.path()));
        } else if let Ok(modified) = meta.modified() {
            newest = newest.max(Some(modified));
        }
    }
    newest
}

/// Builds the npm package when it is missing or older than its sources;
/// false (after a loud skip notice, or a panic under CI) when it cannot be
/// built here.
fn package_ready() -> bool {
    let root = workspace_root();
    let wasm = root.join("bindings/pkg/usage_sdk_bg.wasm");
    let sources: Vec<PathBuf> = ["sdk/src", "bindings/src", "protocol/src", "Cargo.lock"]
        .iter()
        .map(|path| root.join(path))
        .collect();
    let built_at = std::fs::metadata(&wasm).and_then(|m| m.modified()).ok();
    if built_at.is_some() && built_at >= newest(&sources) {
        return true;
    }
    eprintln!(
        "web_app: bindings/pkg is missing or older than its sources; running bindings/build.sh"
    );
    let built = Command::new(root.join("bindings/build.sh"))
        .current_dir(root)
        .status()
        .is_ok_and(|status| status.success());
    if built && wasm.is_file() {
        return true;
    }
    let reason = "bindings/build.sh could not build the npm package (see its output above)";
    assert!(
        !in_ci(),
        "the web example test cannot run under CI: {reason}"
    );
    skip_suite("web example tests", reason);
    false
}

/// `usage_batches_total{status="200"}` from the server's metrics.
async fn accepted_batches(server: &TestServer) -> u64 {
    let text = server
        .client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix("usage_batches_total{status=\"200\"} "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Events the server stored: lines of the NDJSON files under `events/`.
fn stored_events(data: &Path) -> usize {
    let Ok(files) = std::fs::read_dir(data.join("events")) else {
        return 0;
    };
    files
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .map(|text| text.lines().filter(|line| !line.trim().is_empty()).count())
        .sum()
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

/// The debugger rows, newest first, as (name, fate text).
async fn debugger_rows(browser: &Browser) -> Vec<(String, String)> {
    let rows = browser
        .execute(
            "return [...document.querySelectorAll('#debugger tbody tr')]
                .map((row) => [row.dataset.name, row.lastChild.textContent]);",
            vec![],
        )
        .await
        .expect("read the debugger panel");
    serde_json::from_value(rows).expect("rows of two strings")
}

/// Waits until the newest `count` rows of the panel all read `fate`.
async fn newest_rows_read(browser: &Browser, count: usize, fate: &str) {
    let waited = support::wait::until(
        &format!("the newest {count} debugger rows to read `{fate}`"),
        PATIENCE,
        || async {
            let rows = debugger_rows(browser).await;
            (rows.len() >= count && rows[..count].iter().all(|(_, text)| text == fate))
                .then_some(())
        },
    )
    .await;
    if let Err(error) = waited {
        panic!("{error}; panel: {:?}", debugger_rows(browser).await);
    }
}

/// Opens the page and waits until the package has loaded.
async fn open(browser: &Browser, url: &str) {
    browser.goto(url).await.expect("open the web example");
    ready(browser).await;
}

/// Waits until the page's package has loaded.
async fn ready(browser: &Browser) {
    browser
        .wait_for("body[data-ready=true]", PATIENCE)
        .await
        .unwrap_or_else(|error| panic!("the page did not get ready: {error}"));
}

async fn sign_in(browser: &Browser, user: &str) {
    browser
        .execute(
            "document.querySelector('#user').value = arguments[0];",
            vec![json!(user)],
        )
        .await
        .expect("pick the user");
    click(browser, "#sign-in").await;
    support::wait::until("the page to say who is signed in", PATIENCE, || async {
        let text = browser.find("#signed-in").await.ok()?.text().await.ok()?;
        (text == user).then_some(())
    })
    .await
    .expect("signed in");
}

/// Tracks `times` "Open sales report" events and presses "Send now".
async fn work(browser: &Browser, times: usize) {
    for _ in 0..times {
        click(browser, "button[data-event='report.opened']").await;
    }
    click(browser, "#flush").await;
}

async fn opt_out(server: &TestServer, key: &str, user: &str) {
    let response = server
        .client()
        .post(server.url("/api/orgs/acme/opt-outs"))
        .bearer_auth(key)
        .json(&json!({ "users": [user] }))
        .send()
        .await
        .expect("POST opt-outs");
    assert!(
        response.status().is_success(),
        "opt-out: {}",
        response.status()
    );
}

async fn dropping(browser: &Browser) -> bool {
    browser
        .find("#flag")
        .await
        .expect("the flag line")
        .attribute("data-dropping")
        .await
        .expect("read the flag")
        .as_deref()
        == Some("true")
}

#[tokio::test]
async fn an_opted_out_user_of_the_web_example_stops_sending() {
    if !package_ready() {
        return;
    }
    let server = TestServer::start_demo().await;
    let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
        return;
    };
    let demo = server.demo();
    // The page holds no key: it signs its users in through the demo's
    // `POST /demo/token`.
    let page = server.url("/demo/web-app/");
    let story = async {
        open(&browser, &page).await;
        sign_in(&browser, "bob").await;
        assert!(!dropping(&browser).await);

        // Bob works; his events are accepted and stored.
        work(&browser, 2).await;
        newest_rows_read(&browser, 2, "accepted").await;
        assert_eq!(stored_events(&server.data_dir()), 2);

        // An admin opts Bob out. His page still has the token that says
        // "tracked", so it sends, and the server discards.
        opt_out(&server, &demo.service_key, "bob").await;
        work(&browser, 1).await;
        newest_rows_read(&browser, 1, "discarded by server: opted out").await;
        let batches = accepted_batches(&server).await;
        assert_eq!(stored_events(&server.data_dir()), 2, "nothing more stored");

        // The server's answer turned the page's flag: nothing is sent now.
        assert!(dropping(&browser).await);
        work(&browser, 2).await;
        newest_rows_read(&browser, 2, "dropped locally: opted out").await;

        // A reload keeps the flag (it is cached in localStorage).
        browser.refresh().await.expect("reload");
        ready(&browser).await;
        assert!(
            dropping(&browser).await,
            "the cached flag survives a reload"
        );
        work(&browser, 1).await;
        newest_rows_read(&browser, 1, "dropped locally: opted out").await;

        // A new login brings a token that says "opted out".
        click(&browser, "#logout").await;
        sign_in(&browser, "bob").await;
        assert!(dropping(&browser).await);
        work(&browser, 2).await;
        newest_rows_read(&browser, 2, "dropped locally: opted out").await;

        assert_eq!(
            accepted_batches(&server).await,
            batches,
            "no batch reached the server after its opted-out answer"
        );
        assert_eq!(stored_events(&server.data_dir()), 2);
    };
    if tokio::time::timeout(TEST_BUDGET, story).await.is_err() {
        panic!("the story took longer than {TEST_BUDGET:?}");
    }
    browser.close().await.expect("close the browser");
}

#[tokio::test]
async fn the_demo_says_how_to_build_a_missing_package() {
    let server = TestServer::start_demo().await;
    let stdout = server.stdout();
    assert!(
        stdout.contains("/demo/web-app/\n"),
        "the demo prints the web example's link:\n{stdout}"
    );
    assert!(
        !stdout.contains("#key="),
        "the web example's link carries no key:\n{stdout}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), "<!doctype html>").expect("write index");
    let options = support::server::ServerOptions::demo()
        .arg("--web-app")
        .arg(dir.path().display().to_string());
    drop(server);
    let server = TestServer::start_with(options).await;
    let response = server
        .client()
        .get(server.url("/demo/web-app/"))
        .send()
        .await
        .expect("GET the web example");
    assert_eq!(response.status().as_u16(), 503);
    let text = response.text().await.expect("text");
    assert!(text.contains("bindings/build.sh"), "{text}");
    let traversal = server
        .client()
        .get(server.url("/demo/web-app/..%2FCargo.toml"))
        .send()
        .await
        .expect("GET outside the folder");
    assert_eq!(traversal.status().as_u16(), 404);
}
