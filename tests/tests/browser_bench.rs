//! What the browser SDK costs the page, measured in headless Chromium with
//! the package as `bindings/build.sh` builds it (release, `wasm-opt -Oz`):
//!
//! * `track()` per call, for a logged-in user (the event is built, given an
//!   id and handed to the delivery loop) and for an opted-out user (dropped at
//!   once);
//! * delivering 10,000 events to the real `usage-server`, from the first
//!   `track()` until the server has stored the last one.
//!
//! Not a pass/fail test: it prints figures for the README. Run it with a
//! release server, each measurement repeated, and read the spread (the test
//! itself only drives the browser, so it needs no release build; the package
//! always is one):
//!
//! ```text
//! cargo build --release -p usage-server --bin usage-server
//! USAGE_TEST_SERVER_BIN=target/release/usage-server \
//!   cargo test -p usage-e2e --test browser_bench -- --ignored --nocapture
//! ```

mod browser_support;

use std::time::{Duration, Instant};

use browser_support::{open, run, Site};
use serde_json::json;
use support::webdriver::{Browser, BrowserOptions};

/// Times each measurement is taken.
const RUNS: usize = 5;
/// `track()` calls per timing.
const CALLS: usize = 20_000;
/// Events delivered per delivery run.
const DELIVERED: usize = 10_000;

/// Times `count` calls of `track()` in the page, in chunks that let the
/// delivery loop run between them (as a page's event loop would), and answers
/// nanoseconds per call. Only the calls are timed.
const TIME_TRACK: &str = r#"
const [count, expected] = arguments;
let spent = 0;
for (let done = 0; done < count; done += 1000) {
  const started = performance.now();
  for (let i = 0; i < 1000; i += 1) {
    const result = tracker.track("bench.clicked", { i, screen: "reports" });
    if (result.outcome !== expected) throw new Error(JSON.stringify(result));
  }
  spent += performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 0));
}
return (spent * 1e6) / count;
"#;

/// The median and the range of `values`, as "median (min to max)".
fn summary(mut values: Vec<f64>, unit: &str) -> String {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    format!(
        "{median:.0} {unit} (runs: {:.0} to {:.0} {unit}, n = {})",
        values[0],
        values[values.len() - 1],
        values.len()
    )
}

#[tokio::test]
#[ignore = "a benchmark: run it with --ignored --nocapture, see the module docs"]
async fn browser_sdk_costs() {
    let Some(site) = Site::start().await else {
        return;
    };
    let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
        return;
    };
    let tracked_token = site.token("bob").await;
    site.opt_out("carol").await;
    let opted_out_token = site.token("carol").await;

    let mut tracking = Vec::new();
    let mut opted_out = Vec::new();
    for run_index in 0..RUNS {
        // No collector listens here, so the timed events go nowhere; large
        // bounds and a long interval, so the timing is of track() alone.
        let options = json!({
            "endpoint": "http://127.0.0.1:9",
            "appName": format!("bench-track-{run_index}"),
            "batchSize": 500,
            "batchIntervalMs": 600000,
            "maxQueuedEvents": 1000000,
            "doNotTrack": false,
        });
        open(&browser, &site.page(&options)).await;
        let log_in = "tracker.login(arguments[0]);";
        run(&browser, "log in", log_in, vec![json!(tracked_token)]).await;
        let args = vec![json!(CALLS), json!("queued")];
        let ns = run(&browser, "time track()", TIME_TRACK, args).await;
        tracking.push(ns.as_f64().expect("a number"));

        run(&browser, "log in", log_in, vec![json!(opted_out_token)]).await;
        let args = vec![json!(CALLS), json!("dropped")];
        let ns = run(&browser, "time track(), opted out", TIME_TRACK, args).await;
        opted_out.push(ns.as_f64().expect("a number"));
    }

    let mut delivery = Vec::new();
    for run_index in 0..RUNS {
        let options = json!({
            "appName": format!("bench-deliver-{run_index}"),
            "batchSize": 500,
            "batchIntervalMs": 1000,
            "maxQueuedEvents": 100000,
            "doNotTrack": false,
        });
        let before = site.stored_ids().len();
        open(&browser, &site.page(&options)).await;
        let log_in = "tracker.login(arguments[0]);";
        run(&browser, "log in", log_in, vec![json!(tracked_token)]).await;
        let started = Instant::now();
        let args = vec![json!(DELIVERED), json!("queued")];
        run(&browser, "track", TIME_TRACK, args).await;
        run(&browser, "flush", "return tracker.flush(120000);", vec![]).await;
        let all = before + DELIVERED;
        let waited = support::wait::until(
            "the server to store the events",
            Duration::from_secs(120),
            || async { (site.stored_ids().len() >= all).then_some(()) },
        )
        .await;
        waited.unwrap_or_else(|error| panic!("{error}"));
        delivery.push(started.elapsed().as_secs_f64() * 1e3);
    }
    println!("track(), logged in: {}", summary(tracking, "ns/call"));
    println!("track(), opted out: {}", summary(opted_out, "ns/call"));
    println!(
        "{DELIVERED} events tracked and stored by usage-server: {}",
        summary(delivery, "ms")
    );
    browser.close().await.expect("close the browser");
}
