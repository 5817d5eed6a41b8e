//! The browser's own privacy signals: `navigator.doNotTrack === "1"` and
//! Global Privacy Control (`navigator.globalPrivacyControl === true`). They
//! turn the tracker off by default, as `DO_NOT_TRACK=1` does natively;
//! `TrackerBuilder::do_not_track` overrides them either way.

use wasm_bindgen::JsValue;

/// Whether the browser asks not to be tracked. Read through `Reflect`, not
/// web-sys getters: `globalPrivacyControl` is newer than web-sys, and a
/// worker's `navigator` has neither property.
pub(crate) fn browser_asks_not_to_track() -> bool {
    let navigator =
        js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    if !navigator.is_object() {
        return false;
    }
    let read = |name: &str| js_sys::Reflect::get(&navigator, &name.into()).ok();
    let do_not_track = read("doNotTrack").and_then(|v| v.as_string()).as_deref() == Some("1");
    let privacy_control = read("globalPrivacyControl").and_then(|v| v.as_bool()) == Some(true);
    do_not_track || privacy_control
}
