//! `TrackerBuilder::build` in the browser.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};

use tokio::sync::mpsc::UnboundedSender;
use wasm_bindgen::JsValue;

use super::clock::{seed, BrowserClock, BrowserTimer};
use super::page::{self, PageHooks};
use super::signals;
use super::storage::BrowserStorage;
use super::tabs::{self, LockManager};
use super::transport::FetchTransport;
use crate::builder::TrackerBuilder;
use crate::core::engine::EngineConfig;
use crate::core::session::Login;
use crate::driver::Task;
use crate::error::Error;
use crate::platform::Clock;
use crate::start::{Opened, Platform, PlatformDriver};
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
        let locks = tabs::lock_manager();
        // With Web Locks each tab keeps a journal of its own (see `tabs.rs`).
        let journal_key = match &locks {
            Some(_) => tabs::tab_journal_key(&self.app_name, seed()),
            None => tabs::shared_journal_key(&self.app_name),
        };
        let app_name = self.app_name.clone();
        self.start(Browser {
            clock: Arc::new(BrowserClock::new()),
            leaving: Arc::new(AtomicBool::new(false)),
            locks,
            journal_key,
            app_name,
        })
    }
}

struct Browser {
    clock: Arc<BrowserClock>,
    /// Set by the page hooks while the page is hidden or unloading.
    leaving: Arc<AtomicBool>,
    /// The Web Locks API, where the browser has it.
    locks: Option<LockManager>,
    /// Where this tab's journal lives in `localStorage`.
    journal_key: String,
    app_name: String,
}

impl Platform for Browser {
    type Transport = FetchTransport;
    type Storage = BrowserStorage;
    type Timer = BrowserTimer;

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn seed(&self) -> u64 {
        seed()
    }

    fn do_not_track_default(&self) -> bool {
        signals::browser_asks_not_to_track()
    }

    fn open(&mut self, builder: &TrackerBuilder) -> Result<Opened<BrowserStorage>, Error> {
        Ok((
            BrowserStorage::open(&builder.app_name, self.journal_key.clone()),
            None,
        ))
    }

    fn transport(&mut self, builder: &TrackerBuilder) -> Result<FetchTransport, Error> {
        Ok(FetchTransport::new(
            &builder.endpoint,
            builder.request_timeout,
            self.leaving.clone(),
        ))
    }

    fn timer(&self) -> BrowserTimer {
        BrowserTimer
    }

    fn engine(&self, builder: &TrackerBuilder) -> EngineConfig {
        let mut engine = builder.engine.clone();
        engine.sdk.name = SDK_NAME.to_owned();
        engine
    }

    fn run(
        self,
        mut driver: PlatformDriver<Self>,
        login: Option<Login>,
        tasks: &UnboundedSender<Task>,
        tracker: Weak<Inner>,
    ) -> Result<Option<PageHooks>, Error> {
        driver.restore(login);
        // This tab's journal lock is held while its delivery loop runs. It
        // is asked for before the journal is first written, so no other tab
        // can take the journal for one left behind.
        let (released, release) = tabs::promise_with_resolve();
        let adopter = self.locks.map(|locks| {
            tabs::hold(&locks, &self.journal_key, released);
            tabs::Adopter::new(locks, &self.app_name, &self.journal_key, tasks.downgrade())
        });
        wasm_bindgen_futures::spawn_local(async move {
            driver.run().await;
            // Resolving cannot fail: `release` is the promise's own resolver.
            let _ = release.call0(&JsValue::UNDEFINED);
        });
        let on_storage = tabs::listener(&self.app_name, tracker, adopter.clone());
        let hooks = page::install(tasks.downgrade(), self.clock, self.leaving, on_storage);
        if let Some(adopter) = adopter {
            adopter.watch_existing();
        }
        Ok(hooks)
    }
}
