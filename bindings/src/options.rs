//! `Tracker.create({ endpoint, ...options })`: the options object, read into
//! the SDK's builder property by property (serde would add a deserializer to
//! the package for one small object).

use std::time::Duration;

use js_sys::{Function, Object, Reflect};
use usage_sdk::{Tracker, TrackerBuilder};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::BindingError;

/// Every option `TrackerOptions` in the TypeScript types names; any other
/// property is refused, so a misspelt option does not pass unnoticed.
const KNOWN: [&str; 13] = [
    "endpoint",
    "appName",
    "batchSize",
    "batchIntervalMs",
    "maxQueuedEvents",
    "maxHeldEvents",
    "retryBaseMs",
    "retryCapMs",
    "requestTimeoutMs",
    "debugCapacity",
    "doNotTrack",
    "onTokenExpired",
    "onAuthError",
];

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn invalid(message: String) -> BindingError {
    BindingError::InvalidOptions(message)
}

/// The options object given to `Tracker.create`.
#[derive(Debug)]
pub(crate) struct Options(Object);

impl Options {
    /// Checks that `value` is an object with only known options.
    pub(crate) fn from_js(value: &JsValue) -> Result<Self, BindingError> {
        let Some(object) = value.dyn_ref::<Object>().filter(|_| !value.is_function()) else {
            return Err(invalid(
                "expected an object such as { endpoint: \"https://usage.example.com\" }".into(),
            ));
        };
        for key in Object::keys(object) {
            let key = key.as_string().unwrap_or_default();
            if !KNOWN.contains(&key.as_str()) {
                return Err(invalid(format!("unknown option `{key}`")));
            }
        }
        Ok(Self(object.clone()))
    }

    /// The value under `name`; `None` when absent, `undefined` or `null`.
    fn get(&self, name: &str) -> Option<JsValue> {
        Reflect::get(&self.0, &name.into())
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<String>, BindingError> {
        self.get(name)
            .map(|value| {
                value
                    .as_string()
                    .ok_or_else(|| invalid(format!("`{name}` must be a string")))
            })
            .transpose()
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, BindingError> {
        self.get(name)
            .map(|value| {
                value
                    .as_bool()
                    .ok_or_else(|| invalid(format!("`{name}` must be true or false")))
            })
            .transpose()
    }

    /// A whole number from 0 up to 2^53 - 1.
    fn count(&self, name: &str) -> Result<Option<u64>, BindingError> {
        self.get(name)
            .map(|value| match value.as_f64() {
                Some(n) if (0.0..=MAX_SAFE_INTEGER).contains(&n) && n.fract() == 0.0 => {
                    Ok(n as u64)
                }
                _ => Err(invalid(format!(
                    "`{name}` must be a whole number, 0 or more"
                ))),
            })
            .transpose()
    }

    fn size(&self, name: &str) -> Result<Option<usize>, BindingError> {
        self.count(name)
            .map(|n| n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)))
    }

    /// The function under `name`, if it holds one.
    pub(crate) fn callback(&self, name: &str) -> Result<Option<Function>, BindingError> {
        self.get(name)
            .map(|value| {
                value
                    .dyn_into::<Function>()
                    .map_err(|_| invalid(format!("`{name}` must be a function")))
            })
            .transpose()
    }

    /// The SDK builder these options describe.
    pub(crate) fn builder(&self) -> Result<TrackerBuilder, BindingError> {
        let endpoint = self
            .string("endpoint")?
            .ok_or_else(|| invalid("`endpoint` is required".into()))?;
        let mut builder = Tracker::builder(endpoint);
        if let Some(name) = self.string("appName")? {
            builder = builder.app_name(name);
        }
        if let Some(size) = self.size("batchSize")? {
            builder = builder.batch_size(size);
        }
        if let Some(ms) = self.count("batchIntervalMs")? {
            builder = builder.batch_interval(Duration::from_millis(ms));
        }
        if let Some(events) = self.size("maxQueuedEvents")? {
            builder = builder.max_queued_events(events);
        }
        if let Some(events) = self.size("maxHeldEvents")? {
            builder = builder.max_held_events(events);
        }
        let (base, cap) = (self.count("retryBaseMs")?, self.count("retryCapMs")?);
        if base.is_some() || cap.is_some() {
            builder = builder.retry_backoff(
                Duration::from_millis(base.unwrap_or(1_000)),
                Duration::from_millis(cap.unwrap_or(300_000)),
            );
        }
        if let Some(ms) = self.count("requestTimeoutMs")? {
            builder = builder.request_timeout(Duration::from_millis(ms));
        }
        if let Some(events) = self.size("debugCapacity")? {
            builder = builder.debug_capacity(events);
        }
        if let Some(on) = self.boolean("doNotTrack")? {
            builder = builder.do_not_track(on);
        }
        Ok(builder)
    }
}
