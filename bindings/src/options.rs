//! `Tracker.create({ endpoint, ...options })`: the options object, read into
//! the SDK's builder.

use std::time::Duration;

use serde::Deserialize;
use usage_sdk::{Tracker, TrackerBuilder};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::BindingError;

/// The options object; see `TrackerOptions` in the TypeScript types.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Options {
    endpoint: String,
    app_name: Option<String>,
    batch_size: Option<usize>,
    batch_interval_ms: Option<u64>,
    max_queued_events: Option<usize>,
    max_held_events: Option<usize>,
    retry_base_ms: Option<u64>,
    retry_cap_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    debug_capacity: Option<usize>,
    do_not_track: Option<bool>,
}

/// Options that hold functions, read by [`callback`] rather than serde.
pub(crate) const CALLBACKS: [&str; 2] = ["onTokenExpired", "onAuthError"];

impl Options {
    /// Reads the options object given to JavaScript's `Tracker.create`.
    pub(crate) fn from_js(value: &JsValue) -> Result<Self, BindingError> {
        if !value.is_object() {
            return Err(BindingError::InvalidOptions(
                "expected an object such as { endpoint: \"https://usage.example.com\" }".into(),
            ));
        }
        // A shallow copy without the functions, which serde cannot read.
        let plain = js_sys::Object::assign(&js_sys::Object::new(), value.unchecked_ref());
        for name in CALLBACKS {
            // Deleting a property of a plain object cannot fail.
            let _ = js_sys::Reflect::delete_property(&plain, &name.into());
        }
        let json = js_sys::JSON::stringify(&plain)
            .ok()
            .and_then(|j| j.as_string())
            .unwrap_or_default();
        serde_json::from_str(&json).map_err(|e| BindingError::InvalidOptions(e.to_string()))
    }

    /// The SDK builder these options describe.
    pub(crate) fn builder(&self) -> TrackerBuilder {
        let mut builder = Tracker::builder(self.endpoint.clone());
        if let Some(name) = &self.app_name {
            builder = builder.app_name(name.clone());
        }
        if let Some(size) = self.batch_size {
            builder = builder.batch_size(size);
        }
        if let Some(ms) = self.batch_interval_ms {
            builder = builder.batch_interval(Duration::from_millis(ms));
        }
        if let Some(events) = self.max_queued_events {
            builder = builder.max_queued_events(events);
        }
        if let Some(events) = self.max_held_events {
            builder = builder.max_held_events(events);
        }
        if self.retry_base_ms.is_some() || self.retry_cap_ms.is_some() {
            let base = self.retry_base_ms.unwrap_or(1_000);
            let cap = self.retry_cap_ms.unwrap_or(300_000);
            builder =
                builder.retry_backoff(Duration::from_millis(base), Duration::from_millis(cap));
        }
        if let Some(ms) = self.request_timeout_ms {
            builder = builder.request_timeout(Duration::from_millis(ms));
        }
        if let Some(events) = self.debug_capacity {
            builder = builder.debug_capacity(events);
        }
        if let Some(on) = self.do_not_track {
            builder = builder.do_not_track(on);
        }
        builder
    }
}

/// The function under `name` in the options object, if it holds one.
pub(crate) fn callback(
    options: &JsValue,
    name: &str,
) -> Result<Option<js_sys::Function>, BindingError> {
    let value = js_sys::Reflect::get(options, &name.into()).unwrap_or(JsValue::UNDEFINED);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .dyn_into::<js_sys::Function>()
        .map(Some)
        .map_err(|_| BindingError::InvalidOptions(format!("`{name}` must be a function")))
}
