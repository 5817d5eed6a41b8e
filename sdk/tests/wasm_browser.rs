//! The browser platform in headless Chromium: what survives a reload, what an
//! opted-out user sends (nothing), where events held before a login go, and
//! how batches leave a page that is being hidden.
//!
//! `fetch` is replaced by a stub that counts and records every request, so
//! "no request" is checked at the browser's own API. Each test uses its own
//! app name, so their `localStorage` keys do not meet.
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test -p usage-sdk --target wasm32-unknown-unknown
//! ```

#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use gloo_timers::future::TimeoutFuture;
use serde::Deserialize;
use usage_sdk::protocol::Claims;
use usage_sdk::{DropReason, Fate, Tracked, Tracker, TrackerBuilder};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
let state = { calls: 0, requests: [] };
export function stub_fetch(answer) {
  // Each stub records into its own state: a request an earlier test started
  // and that finishes late is not counted in the next test.
  const mine = { calls: 0, requests: [] };
  state = mine;
  globalThis.fetch = async (request) => {
    mine.calls += 1;
    const body = await request.clone().text();
    mine.requests.push({
      keepalive: request.keepalive,
      content_type: request.headers.get("content-type"),
      authorization: request.headers.get("authorization"),
      body,
    });
    if (!answer) {
      throw new TypeError("Failed to fetch (stub: no collector here)");
    }
    const events = JSON.parse(body).events.length;
    const reply = { accepted: events, discarded: 0, duplicates: 0, opted_out: false, rejected: [] };
    return new Response(JSON.stringify(reply), { status: 200, headers: { "content-type": "application/json" } });
  };
}
export function fetch_calls() { return state.calls; }
export function requests() { return JSON.stringify(state.requests); }
function journal_keys(app) {
  const shared = `usage-sdk/${app}/journal`;
  return Object.keys(localStorage).filter((key) => key === shared || key.startsWith(`${shared}/`));
}
export function journal_lines(app) {
  return journal_keys(app)
    .map((key) => (localStorage.getItem(key) || "").split("\n").filter((line) => line.length > 0).length)
    .reduce((sum, lines) => sum + lines, 0);
}
export function journal_count(app) { return journal_keys(app).length; }
export function leave_page() { window.dispatchEvent(new Event("pagehide")); }
export function set_privacy_signals(do_not_track, global_privacy_control) {
  for (const [name, value] of [["doNotTrack", do_not_track], ["globalPrivacyControl", global_privacy_control]]) {
    if (value === undefined) {
      delete navigator[name];
    } else {
      Object.defineProperty(navigator, name, { value, configurable: true });
    }
  }
}
"#)]
extern "C" {
    /// Replaces `fetch`: it records each request, then answers like the
    /// collector (`answer`) or fails like an unreachable one.
    fn stub_fetch(answer: bool);
    /// Requests made since the stub was installed.
    fn fetch_calls() -> u32;
    /// The recorded requests, as JSON.
    fn requests() -> String;
    /// Lines in the journals of `app` in localStorage, every tab's together.
    fn journal_lines(app: &str) -> u32;
    /// How many journals of `app` localStorage holds.
    fn journal_count(app: &str) -> u32;
    /// Makes `navigator.doNotTrack` and `navigator.globalPrivacyControl`
    /// read these values; `undefined` puts the browser's own back.
    fn set_privacy_signals(do_not_track: JsValue, global_privacy_control: JsValue);
    /// Fires `pagehide`, as the browser does when the page is left.
    fn leave_page();
}

#[derive(Debug, Deserialize)]
struct Recorded {
    keepalive: bool,
    content_type: Option<String>,
    authorization: Option<String>,
    body: String,
}

/// No collector listens here; the fetch stub stands in front of it anyway.
const UNREACHABLE: &str = "http://127.0.0.1:9";

fn token(sub: &str, opt_out: bool) -> String {
    let claims = Claims {
        org: "acme".into(),
        sub: sub.into(),
        opt_out,
        rev: 1,
        iat: 1_700_000_000,
        exp: 4_000_000_000,
    };
    format!("v1.test.{}.c2ln", claims.encode_payload())
}

/// A tracker that sends only when asked (`flush`, logout, a restored backlog).
fn quiet(app: &str) -> TrackerBuilder {
    Tracker::builder(UNREACHABLE)
        .app_name(app)
        .batch_interval(Duration::from_secs(600))
        .retry_backoff(Duration::from_secs(600), Duration::from_secs(600))
}

/// Waits, yielding to the page's event loop (where the delivery loop runs),
/// until `condition` holds; fails after 5 s.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = js_sys::Date::now() + 5_000.0;
    while !condition() {
        assert!(js_sys::Date::now() < deadline, "within 5 s: {what}");
        TimeoutFuture::new(5).await;
    }
}

/// A unique app name per run, so nothing is left from an earlier one.
fn app(name: &str) -> String {
    format!("{name}-{}", js_sys::Date::now() as u64)
}

fn fates(tracker: &Tracker) -> Vec<Fate> {
    tracker.debug_events().into_iter().map(|e| e.fate).collect()
}

#[wasm_bindgen_test]
async fn a_reload_keeps_the_cached_login_and_the_unsent_queue() {
    stub_fetch(false);
    let app = app("reload");
    let first = quiet(&app).build().expect("builds");
    first.login(&token("bob", false)).expect("reads the token");
    for name in ["a", "b", "c"] {
        assert!(matches!(first.track(name, ()), Tracked::Queued(_)));
    }
    until("three events queued", || first.status().queued == 3).await;
    assert!(
        journal_lines(&app) >= 4,
        "a token line and three events are in localStorage"
    );
    drop(first);
    // Had dropping it sent anything, the exact count below would be 2.
    assert_eq!(fetch_calls(), 0, "nothing was due, so nothing was sent");

    // The page is loaded again: a new tracker on the same storage.
    let second = quiet(&app).build().expect("builds again");
    assert!(
        matches!(second.track("d", ()), Tracked::Queued(_)),
        "the cached login is back, so events are queued, not held"
    );
    until("the backlog sent once", || requests() != "[]").await;
    assert_eq!(
        second.status().queued,
        4,
        "the three unsent events came back"
    );
    assert_eq!(
        fetch_calls(),
        1,
        "the backlog of the last visit is sent at once (and fails here)"
    );
    assert_eq!(second.status().queued, 4, "a failed send keeps every event");
}

#[wasm_bindgen_test]
async fn an_opted_out_user_sends_nothing_even_after_a_reload() {
    stub_fetch(true);
    let app = app("opted-out");
    let tracker = quiet(&app).build().expect("builds");
    assert!(matches!(
        tracker.track("before.login", ()),
        Tracked::Held(_)
    ));
    let claims = tracker
        .login(&token("carol", true))
        .expect("reads the token");
    assert!(claims.opt_out);
    for name in ["a", "b", "c"] {
        assert_eq!(
            tracker.track(name, ()),
            Tracked::Dropped(DropReason::OptedOut)
        );
    }
    assert!(tracker.flush(Duration::from_millis(500)).await);
    let dropped = Fate::Dropped {
        reason: DropReason::OptedOut,
    };
    assert_eq!(
        fates(&tracker),
        vec![dropped.clone(); 4],
        "the held event and the three new ones"
    );
    assert_eq!(tracker.status().counters.attempts, 0);
    drop(tracker);

    let reloaded = quiet(&app).build().expect("builds again");
    assert!(
        reloaded.is_dropping(),
        "the cached flag survives the reload"
    );
    assert_eq!(
        reloaded.track("after.reload", ()),
        Tracked::Dropped(DropReason::OptedOut)
    );
    assert!(reloaded.flush(Duration::from_millis(500)).await);
    assert_eq!(fetch_calls(), 0, "not one request left the page");
}

#[wasm_bindgen_test]
async fn events_held_before_a_login_go_to_that_user() {
    stub_fetch(true);
    let tracker = quiet(&app("held")).build().expect("builds");
    for name in ["a", "b"] {
        assert!(matches!(tracker.track(name, ()), Tracked::Held(_)));
    }
    until("two events held", || tracker.status().held == 2).await;
    // Anything sent now would make more than the one batch counted below.
    assert_eq!(fetch_calls(), 0, "held events wait for a login");

    tracker
        .login(&token("dave", false))
        .expect("reads the token");
    assert!(tracker.flush(Duration::from_secs(5)).await);
    assert_eq!(fates(&tracker), vec![Fate::Accepted; 2]);
    let sent: Vec<Recorded> = serde_json::from_str(&requests()).expect("recorded requests");
    assert_eq!(sent.len(), 1, "one batch");
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some(format!("Bearer {}", token("dave", false)).as_str())
    );
    assert_eq!(sent[0].content_type.as_deref(), Some("application/json"));
    assert!(!sent[0].keepalive);
}

#[wasm_bindgen_test]
async fn a_page_being_left_sends_with_keepalive_and_the_token_in_the_body() {
    stub_fetch(true);
    let tracker = quiet(&app("leave")).build().expect("builds");
    tracker
        .login(&token("erin", false))
        .expect("reads the token");
    tracker.track("report.opened", serde_json::json!({"report": "sales"}));
    // A send now would empty the queue, and leaving would send no
    // keepalive request: the checks below would fail.
    assert_eq!(fetch_calls(), 0, "the batch interval has not passed");

    leave_page();
    let recorded =
        || -> Vec<Recorded> { serde_json::from_str(&requests()).expect("recorded requests") };
    until("a request as the page is left", || !recorded().is_empty()).await;
    let sent = recorded();
    assert_eq!(
        sent.len(),
        1,
        "the queue went out as the page was left: {sent:?}"
    );
    assert!(sent[0].keepalive, "the request outlives the page");
    assert_eq!(
        sent[0].authorization, None,
        "no header, so no CORS preflight"
    );
    assert_eq!(
        sent[0].content_type.as_deref(),
        Some("text/plain;charset=UTF-8")
    );
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).expect("JSON body");
    assert_eq!(body["token"].as_str(), Some(token("erin", false).as_str()));
    assert_eq!(body["events"][0]["name"], "report.opened");
    until("the answer applied", || {
        !matches!(fates(&tracker)[..], [Fate::Queued | Fate::Sent { .. }])
    })
    .await;
    assert_eq!(fates(&tracker), vec![Fate::Accepted]);
}

/// Puts the browser's own privacy signals back when a test ends, even a failed one.
struct PrivacySignals;

impl PrivacySignals {
    fn set(do_not_track: JsValue, global_privacy_control: JsValue) -> Self {
        set_privacy_signals(do_not_track, global_privacy_control);
        Self
    }
}

impl Drop for PrivacySignals {
    fn drop(&mut self) {
        set_privacy_signals(JsValue::UNDEFINED, JsValue::UNDEFINED);
    }
}

/// Tracks one event for `sub` and says what became of it, after a flush.
async fn one_event(tracker: &Tracker) -> Tracked {
    tracker
        .login(&token("frank", false))
        .expect("reads the token");
    let tracked = tracker.track("report.opened", ());
    tracker.flush(Duration::from_millis(500)).await;
    tracked
}

#[wasm_bindgen_test]
async fn do_not_track_in_the_browser_turns_tracking_off() {
    stub_fetch(true);
    let _signals = PrivacySignals::set("1".into(), JsValue::UNDEFINED);
    let app = app("dnt");
    let tracker = quiet(&app).build().expect("builds");
    assert!(tracker.is_dropping());
    assert_eq!(
        one_event(&tracker).await,
        Tracked::Dropped(DropReason::DoNotTrack)
    );
    assert_eq!(fetch_calls(), 0, "not one request left the page");
    assert_eq!(journal_count(&app), 0, "nothing was stored either");
}

#[wasm_bindgen_test]
async fn global_privacy_control_turns_tracking_off() {
    stub_fetch(true);
    let _signals = PrivacySignals::set("0".into(), JsValue::TRUE);
    let tracker = quiet(&app("gpc")).build().expect("builds");
    assert_eq!(
        one_event(&tracker).await,
        Tracked::Dropped(DropReason::DoNotTrack)
    );
    assert_eq!(fetch_calls(), 0);
}

#[wasm_bindgen_test]
async fn other_values_of_the_signals_leave_tracking_on() {
    stub_fetch(true);
    // Browsers without a preference say "unspecified" or null; GPC off is false.
    let _signals = PrivacySignals::set("unspecified".into(), JsValue::FALSE);
    let tracker = quiet(&app("no-signal")).build().expect("builds");
    assert!(matches!(one_event(&tracker).await, Tracked::Queued(_)));
    assert_eq!(fates(&tracker), vec![Fate::Accepted]);
}

#[wasm_bindgen_test]
async fn an_app_can_choose_to_track_despite_the_signals() {
    stub_fetch(true);
    let _signals = PrivacySignals::set("1".into(), JsValue::TRUE);
    let tracker = quiet(&app("override"))
        .do_not_track(false)
        .build()
        .expect("builds");
    assert!(matches!(one_event(&tracker).await, Tracked::Queued(_)));
    assert_eq!(fetch_calls(), 1);
}

#[wasm_bindgen_test]
async fn trackers_running_at_once_keep_separate_journals_and_a_later_one_takes_them_over() {
    stub_fetch(false);
    let app = app("tabs");
    let first = quiet(&app).build().expect("builds");
    let second = quiet(&app).build().expect("builds");
    first.login(&token("gina", false)).expect("reads the token");
    second
        .login(&token("gina", false))
        .expect("reads the token");
    for tracker in [&first, &second] {
        for name in ["a", "b"] {
            assert!(matches!(tracker.track(name, ()), Tracked::Queued(_)));
        }
    }
    until("one journal per running tracker", || {
        journal_count(&app) == 2
    })
    .await;

    drop(first);
    drop(second);
    let third = quiet(&app).build().expect("builds");
    until("both journals taken over", || {
        journal_count(&app) == 1 && third.status().queued >= 4
    })
    .await;
    assert_eq!(
        third.status().queued,
        4,
        "the events of both are queued again, each once"
    );
    assert_eq!(
        journal_count(&app),
        1,
        "the journals left behind were deleted once taken over"
    );
}
