//! `TrackerBuilder::build` in the browser.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use wasm_bindgen::JsValue;

use usage_protocol::is_valid_id;

use super::clock::{seed, BrowserClock, BrowserTimer};
use super::storage::BrowserStorage;
use super::transport::FetchTransport;
use super::{page, signals, tabs};
use crate::builder::TrackerBuilder;
use crate::core::engine::Engine;
use crate::driver::{Backlog, Driver};
use crate::error::Error;
use crate::platform::{Clock, Storage};
use crate::shared::Shared;
use crate::tracker::{Inner, Tracker};

/// The SDK name batches carry from the browser.
const SDK_NAME: &str = "usage-sdk-wasm";

impl TrackerBuilder {
    /// Starts the tracker: reads the cached login from `localStorage`, and
    /// starts the delivery loop on the page's event loop, which sends what
    /// earlier visits left unsent. Call it where `wasm-bindgen-futures` can
    /// run tasks (a page or a worker).
    ///
    /// With `do_not_track(true)` nothing is stored or sent: every event is
    /// dropped and only the debugger log shows it. Without a `do_not_track`
    /// call, the browser's signals decide: `navigator.doNotTrack === "1"` or
    /// Global Privacy Control turn the tracker off; `do_not_track(false)`
    /// tracks whatever the browser says.
    pub fn build(self) -> Result<Tracker, Error> {
        if !is_valid_id(&self.app_name) {
            return Err(Error::InvalidAppName);
        }
        let clock: Arc<dyn Clock> = Arc::new(BrowserClock::new());
        let dnt = self
            .do_not_track
            .unwrap_or_else(signals::browser_asks_not_to_track);
        let shared = Arc::new(Shared::new(&self, dnt, seed()));
        let backlog = Arc::new(Backlog::default());
        let inner = |tasks, session_id, page| Inner {
            shared: shared.clone(),
            clock: clock.clone(),
            tasks,
            backlog: backlog.clone(),
            channel_capacity: self.channel_capacity,
            session_id: RwLock::new(session_id),
            page,
        };
        if dnt {
            return Ok(Tracker {
                inner: Arc::new(inner(None, None, None)),
            });
        }

        // With Web Locks each tab keeps a journal of its own (see `tabs.rs`).
        let locks = tabs::lock_manager();
        let journal_key = match &locks {
            Some(_) => tabs::tab_journal_key(&self.app_name, shared.ids.next_u64()),
            None => tabs::shared_journal_key(&self.app_name),
        };
        let mut storage = BrowserStorage::open(&self.app_name, journal_key.clone());
        let cached = storage.load_session().unwrap_or_else(|error| {
            tracing::warn!(%error, "ignoring the cached login");
            None
        });
        let login = cached.and_then(|cached| cached.resume(&shared.gate));
        let session_id = login.as_ref().map(|l| l.session_id.clone());

        let leaving = Arc::new(AtomicBool::new(false));
        let transport = FetchTransport::new(&self.endpoint, self.request_timeout, leaving.clone());
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let mut engine = self.engine.clone();
        engine.sdk.name = SDK_NAME.to_owned();
        let mut driver = Driver {
            engine: Engine::new(engine),
            transport,
            storage,
            timer: BrowserTimer,
            clock: clock.clone(),
            shared: shared.clone(),
            backlog: backlog.clone(),
            tasks: receiver,
        };
        driver.restore(login);
        // This tab's journal lock is held while its delivery loop runs. It
        // is asked for before the journal is first written, so no other tab
        // can take the journal for one left behind.
        let (released, release) = tabs::promise_with_resolve();
        let adopter = locks.map(|locks| {
            tabs::hold(&locks, &journal_key, released);
            tabs::Adopter::new(locks, &self.app_name, &journal_key, sender.downgrade())
        });
        wasm_bindgen_futures::spawn_local(async move {
            driver.run().await;
            // Resolving cannot fail: `release` is the promise's own resolver.
            let _ = release.call0(&JsValue::UNDEFINED);
        });
        let tracker = Arc::new_cyclic(|weak| {
            let on_storage = tabs::listener(&self.app_name, weak.clone(), adopter.clone());
            let hooks = page::install(sender.downgrade(), clock.clone(), leaving, on_storage);
            inner(Some(sender), session_id, hooks)
        });
        if let Some(adopter) = adopter {
            adopter.watch_existing();
        }
        Ok(Tracker { inner: tracker })
    }
}
