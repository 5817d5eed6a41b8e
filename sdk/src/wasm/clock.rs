//! Time from JavaScript's `Date`, waiting with `setTimeout`, and a seed from
//! `crypto.getRandomValues`.

use std::sync::atomic::{AtomicU64, Ordering};

use gloo_timers::future::TimeoutFuture;

use crate::platform::{Clock, Timer};

/// `Date.now()`, and a monotonic reading derived from it that never goes back
/// even when the user's clock does.
#[derive(Debug)]
pub(crate) struct BrowserClock {
    // Integers, not the f64 JavaScript gives: a float's `Debug` would pull
    // float formatting into the package.
    start_ms: u64,
    latest: AtomicU64,
}

/// `Date.now()` in whole milliseconds; before 1970 reads as 0.
fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

impl BrowserClock {
    pub(crate) fn new() -> Self {
        Self {
            start_ms: now_ms(),
            latest: AtomicU64::new(0),
        }
    }
}

impl Clock for BrowserClock {
    fn wall_ms(&self) -> i64 {
        i64::try_from(now_ms()).unwrap_or(i64::MAX)
    }

    fn mono_ms(&self) -> u64 {
        let now = now_ms().saturating_sub(self.start_ms);
        self.latest.fetch_max(now, Ordering::Relaxed).max(now)
    }
}

/// Longest single `setTimeout`: browsers fire longer ones at once.
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

/// Sleeps with `setTimeout`; dropping the sleep clears the timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BrowserTimer;

impl Timer for BrowserTimer {
    fn sleep(&self, ms: u64) -> impl std::future::Future<Output = ()> {
        let ms = u32::try_from(ms.min(MAX_TIMEOUT_MS)).unwrap_or(u32::MAX);
        TimeoutFuture::new(ms)
    }
}

/// A seed for event ids from the browser's cryptographic random source, or
/// from the time and `Math.random()` where that is missing.
pub(crate) fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => (js_sys::Math::random() * 2f64.powi(53)) as u64 ^ js_sys::Date::now() as u64,
    }
}
