//! The page's callbacks (`onTokenExpired`, `onAuthError`). The SDK calls its
//! callbacks from the delivery loop and wants them `Send + Sync`; JavaScript
//! functions are neither, so they wait in a per-thread table (the page has one
//! thread) and the SDK's callbacks carry only the tracker's key into it.

use std::cell::{Cell, RefCell};

use js_sys::Function;
use wasm_bindgen::JsValue;

/// One tracker's callbacks.
#[derive(Debug, Default, Clone)]
struct Registered {
    token_expired: Option<Function>,
    auth_error: Option<Function>,
}

thread_local! {
    // A list, not a map: a page has a tracker or two, and a map's code
    // weighs more in the package than the search.
    static TABLE: RefCell<Vec<(u64, Registered)>> = const { RefCell::new(Vec::new()) };
    static NEXT_KEY: Cell<u64> = const { Cell::new(0) };
}

/// A tracker's place in the table; dropping it forgets its callbacks.
#[derive(Debug)]
pub(crate) struct Slot(u64);

impl Slot {
    /// A new, empty place.
    pub(crate) fn new() -> Self {
        let key = NEXT_KEY.with(|next| {
            let key = next.get();
            next.set(key + 1);
            key
        });
        Self(key)
    }

    /// The key the SDK's callbacks carry.
    pub(crate) fn key(&self) -> u64 {
        self.0
    }

    /// Changes this tracker's entry, adding it when missing.
    fn update(&self, change: impl FnOnce(&mut Registered)) {
        TABLE.with(|table| {
            let mut table = table.borrow_mut();
            match table.iter_mut().find(|(key, _)| *key == self.0) {
                Some((_, registered)) => change(registered),
                None => {
                    let mut registered = Registered::default();
                    change(&mut registered);
                    table.push((self.0, registered));
                }
            }
        });
    }

    /// Sets (or with `None` clears) the function called when the token expired.
    pub(crate) fn set_token_expired(&self, function: Option<Function>) {
        self.update(|registered| registered.token_expired = function);
    }

    /// Sets (or with `None` clears) the function called with other token refusals.
    pub(crate) fn set_auth_error(&self, function: Option<Function>) {
        self.update(|registered| registered.auth_error = function);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The table is gone only while the thread ends.
        let _ = TABLE.try_with(|table| table.borrow_mut().retain(|(key, _)| *key != self.0));
    }
}

/// The callbacks of tracker `key`, copied out so none is borrowed while it runs.
fn registered(key: u64) -> Registered {
    TABLE.with(|table| {
        table
            .borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, registered)| registered.clone())
            .unwrap_or_default()
    })
}

/// Calls `function` with `argument`, or with none; a callback that throws
/// is reported on the console, so it cannot stop delivery.
fn call(function: Option<Function>, argument: Option<&JsValue>) {
    if let Some(function) = function {
        let called = match argument {
            Some(argument) => function.call1(&JsValue::NULL, argument),
            None => function.call0(&JsValue::NULL),
        };
        if let Err(error) = called {
            web_sys::console::error_2(&"usage-sdk: a callback threw".into(), &error);
        }
    }
}

/// The collector said the token of tracker `key` expired.
pub(crate) fn token_expired(key: u64) {
    call(registered(key).token_expired, None);
}

/// The collector refused the token of tracker `key` with `code`.
pub(crate) fn auth_error(key: u64, code: &str) {
    call(registered(key).auth_error, Some(&code.into()));
}
