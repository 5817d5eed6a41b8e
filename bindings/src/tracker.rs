//! The JavaScript `Tracker` class.

use std::time::Duration;

use serde_json::value::RawValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::callbacks::{self, Slot};
use crate::convert;
use crate::error::BindingError;
use crate::options::Options;
use crate::types::{
    JsClaims as TsClaims, JsDebugEntries, JsPromiseBool, JsStatus, JsTrackResult, JsTrackerOptions,
};

/// How long `flush()` and `shutdown()` wait when no timeout is given.
const DEFAULT_WAIT_MS: u32 = 5_000;

/// Records usage events and delivers them to the collector in batches. It
/// decides at once, offline, from the opt-out flag cached at login; the
/// collector re-checks every event.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Tracker {
    inner: usage_sdk::Tracker,
    callbacks: Slot,
}

/// The promise of `flush()` (or of `shutdown()`): one future type for both,
/// so the package holds one copy of the code that drives it.
fn delivered(
    tracker: usage_sdk::Tracker,
    timeout_ms: Option<u32>,
    shutdown: bool,
) -> JsPromiseBool {
    let timeout = Duration::from_millis(u64::from(timeout_ms.unwrap_or(DEFAULT_WAIT_MS)));
    let promise = wasm_bindgen_futures::future_to_promise(async move {
        let delivered = if shutdown {
            tracker.shutdown(timeout).await
        } else {
            tracker.flush(timeout).await
        };
        Ok(JsValue::from_bool(delivered))
    });
    promise.unchecked_into()
}

#[wasm_bindgen]
impl Tracker {
    /// Starts a tracker: `new Tracker({ endpoint, ...options })`. Reads the
    /// cached login from `localStorage` and sends what earlier visits left.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsTrackerOptions) -> Result<Tracker, BindingError> {
        let options: &JsValue = options.unchecked_ref();
        let options = Options::from_js(options)?;
        let callbacks = Slot::new();
        callbacks.set_token_expired(options.callback("onTokenExpired")?);
        callbacks.set_auth_error(options.callback("onAuthError")?);
        let key = callbacks.key();
        let inner = options
            .builder()?
            .on_token_expired(move || callbacks::token_expired(key))
            .on_auth_error(move |code| callbacks::auth_error(key, code))
            .build()?;
        Ok(Tracker { inner, callbacks })
    }

    /// The same as `new Tracker(options)`.
    pub fn create(options: JsTrackerOptions) -> Result<Tracker, BindingError> {
        Tracker::new(options)
    }

    /// Logs a user in with their status token (from your back end's login):
    /// caches it in `localStorage` and takes the opt-out flag from it. Events
    /// held since the last logout go to this user, or are dropped if the token
    /// says opted out. Returns the token's claims; throws `invalid_token`.
    pub fn login(&self, token: &str) -> Result<TsClaims, BindingError> {
        let claims = self.inner.login(token)?;
        Ok(convert::claims(&claims))
    }

    /// Logs the user out: what they tracked is sent at once, and the cached
    /// login is cleared. Later events are held until the next login.
    pub fn logout(&self) {
        self.inner.logout();
    }

    /// Records that `name` happened, with `props` (an object; optional). Never
    /// waits for the network: returns at once what became of the event.
    pub fn track(
        &self,
        name: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "Record<string, unknown> | null")]
        props: Option<JsValue>,
    ) -> JsTrackResult {
        let props = props.unwrap_or(JsValue::UNDEFINED);
        // A dropped event's props are never read: not written as JSON either.
        let json = if props.is_undefined() || props.is_null() || self.inner.is_dropping() {
            None
        } else {
            Some(
                js_sys::JSON::stringify(&props)
                    .ok()
                    .and_then(|json| json.as_string())
                    .and_then(|json| usage_protocol::json::raw_value(&json)),
            )
        };
        // Always a `&RawValue`, so that the package holds one copy of `track()`.
        let tracked = match &json {
            None => self.inner.track(name, RawValue::NULL),
            Some(Some(raw)) => self.inner.track(name, &**raw),
            // JSON cannot express them (a cycle, a `BigInt`): `false` is not
            // an object, so the SDK records `invalid_props`, as the collector
            // would refuse them.
            Some(None) => self.inner.track(name, RawValue::FALSE),
        };
        convert::tracked(tracked)
    }

    /// Sends what is queued now and waits up to `timeoutMs` (default 5000).
    /// Resolves to whether nothing sendable is left unsent.
    pub fn flush(
        &self,
        #[wasm_bindgen(js_name = "timeoutMs")] timeout_ms: Option<u32>,
    ) -> JsPromiseBool {
        delivered(self.inner.clone(), timeout_ms, false)
    }

    /// Flushes for up to `timeoutMs` (default 5000), then stops; later events
    /// are dropped. Unsent events stay in `localStorage` for the next visit.
    pub fn shutdown(
        &self,
        #[wasm_bindgen(js_name = "timeoutMs")] timeout_ms: Option<u32>,
    ) -> JsPromiseBool {
        delivered(self.inner.clone(), timeout_ms, true)
    }

    /// The debugger log: the most recent events and what became of each,
    /// oldest first, with the fate also in words (`text`).
    #[wasm_bindgen(js_name = debugEvents)]
    pub fn debug_events(&self) -> JsDebugEntries {
        convert::debug_entries(&self.inner.debug_events())
    }

    /// Calls `callback` when the collector says the token expired (events are
    /// kept): log in again with a fresh token and they go out. `null` clears it.
    #[wasm_bindgen(js_name = onTokenExpired)]
    pub fn on_token_expired(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(() => void) | null")] callback: Option<
            js_sys::Function,
        >,
    ) {
        self.callbacks.set_token_expired(callback);
    }

    /// Calls `callback` with the code when the collector refuses the token
    /// otherwise (`invalid_token`, `unknown_key`); events are kept.
    #[wasm_bindgen(js_name = onAuthError)]
    pub fn on_auth_error(
        &self,
        #[wasm_bindgen(unchecked_param_type = "((code: string) => void) | null")] callback: Option<
            js_sys::Function,
        >,
    ) {
        self.callbacks.set_auth_error(callback);
    }

    /// How delivery stands: backlog and totals.
    pub fn status(&self) -> JsStatus {
        convert::status(&self.inner.status())
    }

    /// Whether events are dropped at once now (opted out, do-not-track, shut down).
    #[wasm_bindgen(getter, js_name = isDropping)]
    pub fn is_dropping(&self) -> bool {
        self.inner.is_dropping()
    }
}
