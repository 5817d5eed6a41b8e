//! State the app-facing tracker and the delivery worker share.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

use crate::builder::TrackerBuilder;
use crate::core::debugger::DebugLog;
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
    /// Unsent events of logged-in (or logged-out) users.
    pub queued: usize,
    /// Events held until a login.
    pub held: usize,
    /// Events tracked but not yet taken up by the delivery worker.
    pub unprocessed: usize,
    /// Totals since the tracker started.
    pub counters: Counters,
}

pub(crate) struct Shared {
    pub(crate) gate: Gate,
    pub(crate) debugger: Mutex<DebugLog>,
    pub(crate) ids: IdGen,
    pub(crate) status: Mutex<Status>,
    pub(crate) on_token_expired: Option<ExpiredCallback>,
    pub(crate) on_auth_error: Option<AuthCallback>,
}

impl Shared {
    /// The state of a new tracker configured by `builder`; with `do_not_track`
    /// its gate drops every event.
    pub(crate) fn new(builder: &TrackerBuilder, do_not_track: bool, seed: u64) -> Self {
        Self {
            gate: Gate::new(if do_not_track {
                Mode::DoNotTrack
            } else {
                Mode::NoSession
            }),
            debugger: Mutex::new(DebugLog::new(builder.debug_capacity)),
            ids: IdGen::new(seed),
            status: Mutex::new(Status::default()),
            on_token_expired: builder.on_token_expired.clone(),
            on_auth_error: builder.on_auth_error.clone(),
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
