//! State the app-facing tracker and the delivery worker share.
//!
//! None of it is locked on `track()`'s path by both sides: the gate and the
//! id generator are atomics, the debugger's event log is written by the app's
//! threads only, and the fates the worker learns have their own log.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

use crate::core::debugger::{DebugLog, FateLog};
use crate::core::engine::Counters;
use crate::core::gate::{Gate, Mode};
use crate::core::ids::IdGen;

/// Called when the collector answers `401 token_expired`.
pub(crate) type ExpiredCallback = Arc<dyn Fn() + Send + Sync>;
/// Called with the code when the collector refuses a token otherwise.
pub(crate) type AuthCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// How delivery stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Unsent events of logged-in (or logged-out) users, in memory.
    pub queued: usize,
    /// Events held until a login.
    pub held: usize,
    /// Events tracked but not yet taken up by the delivery worker (native:
    /// waiting in the journal on disk).
    pub unprocessed: usize,
    /// Totals since the tracker started.
    pub counters: Counters,
}

/// The host app's callbacks.
#[derive(Clone, Default)]
pub(crate) struct Callbacks {
    pub(crate) on_token_expired: Option<ExpiredCallback>,
    pub(crate) on_auth_error: Option<AuthCallback>,
}

pub(crate) struct Shared {
    pub(crate) gate: Gate,
    /// Events as tracked, written by the app's threads.
    pub(crate) debugger: Mutex<DebugLog>,
    /// What became of them, written by the worker.
    pub(crate) fates: Mutex<FateLog>,
    pub(crate) ids: IdGen,
    pub(crate) status: Mutex<Status>,
    /// A wake-up for the worker is on its way or was just handled:
    /// `track()` sends one only when this is clear; the worker clears it a
    /// moment after a wake-up (`WAKE_WINDOW_MS`), before reading the journal.
    pub(crate) wake_pending: AtomicBool,
    pub(crate) callbacks: Callbacks,
}

impl Shared {
    /// The state of a new tracker whose debugger remembers `debug_capacity`
    /// events; with `do_not_track` its gate drops every event.
    pub(crate) fn new(
        debug_capacity: usize,
        do_not_track: bool,
        seed: u64,
        callbacks: Callbacks,
    ) -> Self {
        Self {
            gate: Gate::new(if do_not_track {
                Mode::DoNotTrack
            } else {
                Mode::NoSession
            }),
            debugger: Mutex::new(DebugLog::new(debug_capacity)),
            fates: Mutex::new(FateLog::new(debug_capacity)),
            ids: IdGen::new(seed),
            status: Mutex::new(Status::default()),
            wake_pending: AtomicBool::new(false),
            callbacks,
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("gate", &self.gate)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex; a panic elsewhere while holding it leaves data that is
/// still consistent for our use (plain counters and a ring of entries).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
