//! Tracker options, the same on every platform.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::core::batcher::BatchPolicy;
use crate::core::debugger::DEFAULT_DEBUG_CAPACITY;
use crate::core::engine::EngineConfig;
use crate::platform::millis;
use crate::shared::Callbacks;

/// Default most `track()` calls waiting for the worker before new ones are dropped.
pub const DEFAULT_CHANNEL_CAPACITY: usize = 4_096;

/// Builds a [`Tracker`](crate::Tracker); start with [`Tracker::builder`](crate::Tracker::builder).
#[must_use]
pub struct TrackerBuilder {
    pub(crate) endpoint: String,
    pub(crate) app_name: String,
    pub(crate) engine: EngineConfig,
    pub(crate) debug_capacity: usize,
    pub(crate) channel_capacity: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) do_not_track: Option<bool>,
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) data_dir: Option<std::path::PathBuf>,
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) max_journal_bytes: u64,
    #[cfg(all(feature = "gzip", not(target_arch = "wasm32")))]
    pub(crate) gzip: bool,
    pub(crate) callbacks: Callbacks,
}

impl fmt::Debug for TrackerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackerBuilder")
            .field("endpoint", &self.endpoint)
            .field("app_name", &self.app_name)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl TrackerBuilder {
    pub(crate) fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into().trim_end_matches('/').to_owned(),
            app_name: "default".to_owned(),
            engine: EngineConfig::default(),
            debug_capacity: DEFAULT_DEBUG_CAPACITY,
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
            request_timeout: Duration::from_secs(30),
            do_not_track: None,
            #[cfg(not(target_arch = "wasm32"))]
            data_dir: None,
            #[cfg(not(target_arch = "wasm32"))]
            max_journal_bytes: crate::imp::DEFAULT_MAX_JOURNAL_BYTES,
            #[cfg(all(feature = "gzip", not(target_arch = "wasm32")))]
            gzip: false,
            callbacks: Callbacks::default(),
        }
    }

    /// Names the app; its data lives under its own folder. Default `default`.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }

    /// Events that trigger a send (1 to 500), and the most per batch unless
    /// a backlog is drained (see [`TrackerBuilder::drain_backlog`]). Default 50.
    pub fn batch_size(mut self, events: usize) -> Self {
        self.engine.batch.size = BatchPolicy {
            size: events,
            ..self.engine.batch
        }
        .max_events();
        self
    }

    /// Whether, when ten batches' worth of events or more wait (a burst, or
    /// a backlog after an outage), a batch carries as many as the collector
    /// takes (500 events and 1 MiB) instead of `batch_size`: a backlog then
    /// drains in far fewer requests. Fewer waiting events go in batches of
    /// `batch_size`. Default: on natively; off in the browser, whose last
    /// batches before a page closes must stay within the 64 KiB that
    /// `keepalive` requests may carry.
    pub fn drain_backlog(mut self, on: bool) -> Self {
        self.engine.batch.drain_backlog = on;
        self
    }

    /// Longest wait of a tracked event before it is sent. Default 5 s.
    pub fn batch_interval(mut self, interval: Duration) -> Self {
        self.engine.batch.interval_ms = millis(interval);
        self
    }

    /// Most unsent events kept in memory. Default 10,000. Native: more wait
    /// in the journal on disk (see `max_journal_bytes`); browser: the oldest
    /// are dropped beyond it.
    pub fn max_queued_events(mut self, events: usize) -> Self {
        self.engine.max_queued = events.max(1);
        self
    }

    /// Most events held while no one is logged in. Default 1,000.
    pub fn max_held_events(mut self, events: usize) -> Self {
        self.engine.max_held = events.max(1);
        self
    }

    /// First retry delay and longest delay of the backoff. Default 1 s and 5 min.
    pub fn retry_backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.engine.retry_base_ms = millis(base).max(1);
        self.engine.retry_cap_ms = millis(cap).max(self.engine.retry_base_ms);
        self
    }

    /// Most batches on the wire at once, each on its own keep-alive
    /// connection; batches leave in queue order. Default 4.
    pub fn max_in_flight(mut self, batches: usize) -> Self {
        self.engine.max_in_flight = batches.max(1);
        self
    }

    /// Longest wait for the collector's answer to one batch. Default 30 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many recent events the debugger remembers. Default 200.
    pub fn debug_capacity(mut self, events: usize) -> Self {
        self.debug_capacity = events;
        self
    }

    /// Browser: most `track()` calls waiting for the delivery loop; beyond it
    /// events are dropped rather than block the page. Default 4,096. (Native
    /// `track()` writes to the journal instead, bounded by `max_journal_bytes`.)
    pub fn channel_capacity(mut self, tasks: usize) -> Self {
        self.channel_capacity = tasks.max(1);
        self
    }

    /// Overrides the `DO_NOT_TRACK` environment variable.
    pub fn do_not_track(mut self, on: bool) -> Self {
        self.do_not_track = Some(on);
        self
    }

    /// Called (on the worker) when the collector says the token expired; log
    /// in again with a fresh token and the kept events go out with it.
    pub fn on_token_expired(mut self, callback: impl Fn() + Send + Sync + 'static) -> Self {
        self.callbacks.on_token_expired = Some(Arc::new(callback));
        self
    }

    /// Called (on the worker) with the code when the collector refuses the
    /// token otherwise (`invalid_token`, `unknown_key`); events are kept.
    pub fn on_auth_error(mut self, callback: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.callbacks.on_auth_error = Some(Arc::new(callback));
        self
    }
}
