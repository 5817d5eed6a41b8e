//! The JavaScript API of the package in headless Chromium: every entry point
//! of `Tracker` called with JavaScript values, every error code it throws,
//! and the callbacks the collector's answers trigger.
//!
//! `fetch` is replaced by a stub that answers like the collector would (or
//! refuses the token), so no network is involved.
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test -p usage-wasm --target wasm32-unknown-unknown
//! ```

#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Object, Reflect};
use usage_sdk::protocol::Claims;
use usage_wasm::Tracker;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
const state = { calls: 0 };
export function stub_fetch(answer) {
  state.calls = 0;
  globalThis.fetch = async (request) => {
    state.calls += 1;
    const body = JSON.parse(await request.clone().text());
    if (answer === "accept") {
      const reply = { accepted: body.events.length, discarded: 0, duplicates: 0, opted_out: false, rejected: [] };
      return new Response(JSON.stringify(reply), { status: 200 });
    }
    const reply = { error: { code: answer, message: "refused by the stub" } };
    return new Response(JSON.stringify(reply), { status: 401 });
  };
}
export function fetch_calls() { return state.calls; }
export function options(fields) { return Object.assign({ endpoint: "http://127.0.0.1:9" }, fields); }
export function recorder() {
  const calls = [];
  const record = (...args) => { calls.push(args); };
  record.calls = calls;
  return record;
}
export function thrower() { return () => { throw new Error("a callback that throws"); }; }
"#)]
extern "C" {
    fn stub_fetch(answer: &str);
    fn fetch_calls() -> u32;
    /// `{ endpoint: <unreachable>, ...fields }`.
    fn options(fields: &JsValue) -> JsValue;
    /// A function that records the arguments of each call in `.calls`.
    fn recorder() -> Function;
    fn thrower() -> Function;
}

/// What a call that must fail threw.
fn thrown<T>(result: Result<T, usage_wasm::BindingError>) -> JsValue {
    match result {
        Ok(_) => panic!("the call succeeded; it should have thrown"),
        Err(error) => error.into(),
    }
}

fn get(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn text(value: &JsValue, name: &str) -> Option<String> {
    get(value, name).as_string()
}

/// A JavaScript object from JSON text.
fn object(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

fn token(sub: &str, opt_out: bool) -> String {
    let claims = Claims {
        org: "acme".into(),
        sub: sub.into(),
        opt_out,
        rev: 7,
        iat: 1_700_000_000,
        exp: 4_000_000_000,
    };
    format!("v1.test.{}.c2ln", claims.encode_payload())
}

/// A unique app name per test, so their `localStorage` keys do not meet.
fn app(name: &str) -> String {
    format!("js-{name}-{}", js_sys::Date::now() as u64)
}

/// A tracker that sends only when asked, and never retries within a test.
fn tracker(name: &str, fields: &str) -> Tracker {
    let options = options(&object(fields));
    let _ = Reflect::set(&options, &"appName".into(), &app(name).into());
    let _ = Reflect::set(&options, &"batchIntervalMs".into(), &600_000.into());
    let _ = Reflect::set(&options, &"retryBaseMs".into(), &600_000.into());
    Tracker::create(options.unchecked_into()).expect("starts")
}

/// The `code` of a thrown JavaScript `Error`.
fn code(thrown: JsValue) -> String {
    assert!(
        thrown.is_instance_of::<js_sys::Error>(),
        "an Error is thrown"
    );
    text(&thrown, "code").expect("the Error has a code")
}

async fn resolved(promise: JsValue) -> JsValue {
    JsFuture::from(js_sys::Promise::from(promise))
        .await
        .expect("the promise resolves")
}

#[wasm_bindgen_test]
async fn a_tracker_tracks_sends_and_reports_with_plain_objects() {
    stub_fetch("accept");
    let tracker = tracker("plain", "{}");
    let held = tracker.track("before.login", None);
    assert_eq!(text(&held, "outcome").as_deref(), Some("held"));

    let claims: JsValue = tracker.login(&token("bob", false)).expect("login").into();
    assert_eq!(text(&claims, "org").as_deref(), Some("acme"));
    assert_eq!(text(&claims, "sub").as_deref(), Some("bob"));
    assert_eq!(get(&claims, "optOut"), JsValue::FALSE);
    assert_eq!(get(&claims, "rev").as_f64(), Some(7.0));
    assert_eq!(get(&claims, "exp").as_f64(), Some(4_000_000_000.0));

    let queued: JsValue = tracker
        .track("report.opened", Some(object(r#"{"report":"sales"}"#)))
        .into();
    assert_eq!(text(&queued, "outcome").as_deref(), Some("queued"));
    assert_eq!(text(&queued, "id").map(|id| id.len()), Some(36));
    assert!(!tracker.is_dropping());

    assert_eq!(
        resolved(tracker.flush(Some(2_000)).into()).await,
        JsValue::TRUE
    );
    let status: JsValue = tracker.status().into();
    assert_eq!(get(&status, "queued").as_f64(), Some(0.0));
    assert_eq!(get(&status, "held").as_f64(), Some(0.0));
    assert_eq!(
        get(&get(&status, "counters"), "accepted").as_f64(),
        Some(2.0)
    );
    assert_eq!(
        get(&get(&status, "counters"), "attempts").as_f64(),
        Some(1.0)
    );

    let entries: Array = JsValue::from(tracker.debug_events()).unchecked_into();
    assert_eq!(entries.length(), 2);
    let last = entries.get(1);
    assert_eq!(text(&last, "name").as_deref(), Some("report.opened"));
    assert_eq!(text(&last, "fate").as_deref(), Some("accepted"));
    assert_eq!(text(&last, "text").as_deref(), Some("accepted"));
    assert_eq!(text(&last, "id"), text(&queued, "id"));
}

#[wasm_bindgen_test]
async fn track_answers_invalid_and_dropped_without_throwing() {
    stub_fetch("accept");
    let tracker = tracker("outcomes", "{}");
    tracker.login(&token("carol", false)).expect("login");
    let bad_name: JsValue = tracker.track("no spaces", None).into();
    assert_eq!(text(&bad_name, "outcome").as_deref(), Some("invalid"));
    assert_eq!(text(&bad_name, "code").as_deref(), Some("invalid_name"));
    let not_object: JsValue = tracker.track("a", Some(object("[1, 2]"))).into();
    assert_eq!(text(&not_object, "code").as_deref(), Some("invalid_props"));
    let cyclic = Object::new();
    let _ = Reflect::set(&cyclic, &"self".into(), &cyclic);
    let unwritable: JsValue = tracker.track("a", Some(cyclic.into())).into();
    assert_eq!(text(&unwritable, "code").as_deref(), Some("invalid_props"));

    tracker.login(&token("carol", true)).expect("login");
    assert!(tracker.is_dropping());
    let dropped: JsValue = tracker.track("a", None).into();
    assert_eq!(text(&dropped, "outcome").as_deref(), Some("dropped"));
    assert_eq!(text(&dropped, "reason").as_deref(), Some("opted_out"));
    let entries: Array = JsValue::from(tracker.debug_events()).unchecked_into();
    let last = entries.get(entries.length() - 1);
    assert_eq!(text(&last, "reason").as_deref(), Some("opted_out"));
    assert_eq!(get(&last, "id"), JsValue::NULL);
    assert_eq!(
        text(&last, "text").as_deref(),
        Some("dropped locally: opted out")
    );
}

#[wasm_bindgen_test]
async fn logout_holds_later_events_until_the_next_login() {
    stub_fetch("accept");
    let tracker = tracker("logout", "{}");
    tracker.login(&token("dave", false)).expect("login");
    tracker.track("a", None);
    tracker.logout();
    let held: JsValue = tracker.track("b", None).into();
    assert_eq!(text(&held, "outcome").as_deref(), Some("held"));
    assert_eq!(
        resolved(tracker.flush(Some(2_000)).into()).await,
        JsValue::TRUE
    );
    let status: JsValue = tracker.status().into();
    assert_eq!(get(&status, "held").as_f64(), Some(1.0));
    assert_eq!(
        get(&get(&status, "counters"), "accepted").as_f64(),
        Some(1.0)
    );
}

#[wasm_bindgen_test]
async fn an_expired_token_calls_on_token_expired_and_keeps_the_events() {
    stub_fetch("token_expired");
    let tracker = tracker("expired", "{}");
    let expired = recorder();
    tracker.on_token_expired(Some(expired.clone()));
    tracker.login(&token("erin", false)).expect("login");
    tracker.track("a", None);
    assert_eq!(
        resolved(tracker.flush(Some(500)).into()).await,
        JsValue::FALSE
    );
    let calls: Array = get(&expired, "calls").unchecked_into();
    assert_eq!(calls.length(), 1, "called once, with no arguments");
    assert_eq!(Array::from(&calls.get(0)).length(), 0);
    let status: JsValue = tracker.status().into();
    assert_eq!(
        get(&status, "queued").as_f64(),
        Some(1.0),
        "the event is kept"
    );
}

#[wasm_bindgen_test]
async fn another_refusal_calls_on_auth_error_with_its_code() {
    stub_fetch("unknown_key");
    let on_auth_error = recorder();
    let options = options(&object("{}"));
    let _ = Reflect::set(&options, &"appName".into(), &app("auth").into());
    let _ = Reflect::set(&options, &"onAuthError".into(), &on_auth_error);
    let tracker = Tracker::new(options.unchecked_into()).expect("starts");
    tracker.login(&token("fay", false)).expect("login");
    tracker.track("a", None);
    resolved(tracker.flush(Some(500)).into()).await;
    let calls: Array = get(&on_auth_error, "calls").unchecked_into();
    assert_eq!(calls.length(), 1);
    assert_eq!(
        Array::from(&calls.get(0)).get(0).as_string().as_deref(),
        Some("unknown_key")
    );

    // Cleared with null: the next refusal calls nothing.
    tracker.on_auth_error(None);
    tracker.track("b", None);
    resolved(tracker.flush(Some(500)).into()).await;
    assert_eq!(calls.length(), 1);
}

#[wasm_bindgen_test]
async fn a_callback_that_throws_does_not_stop_delivery() {
    stub_fetch("token_expired");
    let tracker = tracker("throws", "{}");
    tracker.on_token_expired(Some(thrower()));
    tracker.login(&token("gus", false)).expect("login");
    tracker.track("a", None);
    resolved(tracker.flush(Some(500)).into()).await;
    stub_fetch("accept");
    tracker.login(&token("gus", false)).expect("login again");
    assert_eq!(
        resolved(tracker.flush(Some(2_000)).into()).await,
        JsValue::TRUE
    );
    assert_eq!(fetch_calls(), 1);
}

#[wasm_bindgen_test]
async fn shutdown_delivers_then_drops_and_refuses_a_login() {
    stub_fetch("accept");
    let tracker = tracker("shutdown", "{}");
    tracker.login(&token("hal", false)).expect("login");
    tracker.track("a", None);
    assert_eq!(resolved(tracker.shutdown(None).into()).await, JsValue::TRUE);
    assert!(tracker.is_dropping());
    let dropped: JsValue = tracker.track("b", None).into();
    assert_eq!(text(&dropped, "reason").as_deref(), Some("shut_down"));
    assert_eq!(
        code(thrown(tracker.login(&token("hal", false)))),
        "shut_down"
    );
    assert_eq!(
        resolved(tracker.shutdown(Some(10)).into()).await,
        JsValue::FALSE
    );
}

#[wasm_bindgen_test]
fn an_unreadable_token_throws_invalid_token() {
    let tracker = tracker("bad-token", "{}");
    assert_eq!(
        code(thrown(tracker.login("v1.k1.not-base64!.tag"))),
        "invalid_token"
    );
}

#[wasm_bindgen_test]
fn options_are_checked_and_name_what_is_wrong() {
    for (fields, says) in [
        (r#"{"endpoint": null}"#, "`endpoint` is required"),
        (r#"{"endpoint": 5}"#, "`endpoint` must be a string"),
        (r#"{"batchSize": -1}"#, "`batchSize` must be a whole number"),
        (
            r#"{"batchSize": 1.5}"#,
            "`batchSize` must be a whole number",
        ),
        (
            r#"{"doNotTrack": "yes"}"#,
            "`doNotTrack` must be true or false",
        ),
        (r#"{"onAuthError": 1}"#, "`onAuthError` must be a function"),
        (r#"{"batchsize": 10}"#, "unknown option `batchsize`"),
    ] {
        let thrown = Tracker::create(options(&object(fields)).unchecked_into()).expect_err(fields);
        let thrown: JsValue = thrown.into();
        let message = text(&thrown, "message").unwrap_or_default();
        assert!(message.contains(says), "{fields}: {message}");
        assert_eq!(code(thrown), "invalid_options");
    }
    let thrown = Tracker::create(JsValue::from_str("https://usage.example.com").unchecked_into())
        .expect_err("not an object");
    assert_eq!(code(thrown.into()), "invalid_options");
}

#[wasm_bindgen_test]
fn an_app_name_outside_the_allowed_characters_throws_invalid_app_name() {
    let options = options(&object(r#"{"appName": "has space"}"#));
    let thrown = Tracker::create(options.unchecked_into()).expect_err("refused");
    assert_eq!(code(thrown.into()), "invalid_app_name");
}

#[wasm_bindgen_test]
fn do_not_track_true_drops_everything_and_stores_nothing() {
    let tracker = tracker("dnt", r#"{"doNotTrack": true}"#);
    assert!(tracker.is_dropping());
    tracker
        .login(&token("ivy", false))
        .expect("login reads the token");
    let dropped: JsValue = tracker.track("a", None).into();
    assert_eq!(text(&dropped, "reason").as_deref(), Some("do_not_track"));
}
