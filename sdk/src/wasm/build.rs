//! `TrackerBuilder::build` in the browser.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::clock::{seed, BrowserClock, BrowserTimer};
use super::page::{self, PageHooks};
use super::storage::BrowserStorage;
use super::transport::FetchTransport;
use crate::builder::TrackerBuilder;
use crate::core::engine::EngineConfig;
use crate::core::session::Login;
use crate::driver::Task;
use crate::error::Error;
use crate::platform::Clock;
use crate::start::{Opened, Platform, PlatformDriver};
use crate::tracker::Tracker;

/// The SDK name batches carry from the browser.
const SDK_NAME: &str = "usage-sdk-wasm";

impl TrackerBuilder {
    /// Starts the tracker: reads the cached login from `localStorage`, and
    /// starts the delivery loop on the page's event loop, which sends what
    /// earlier visits left unsent. Call it where `wasm-bindgen-futures` can
    /// run tasks (a page or a worker).
    ///
    /// With `do_not_track(true)` nothing is stored or sent: every event is
    /// dropped and only the debugger log shows it.
    pub fn build(self) -> Result<Tracker, Error> {
        self.start(Browser {
            clock: Arc::new(BrowserClock::new()),
            leaving: Arc::new(AtomicBool::new(false)),
        })
    }
}

struct Browser {
    clock: Arc<BrowserClock>,
    /// Set by the page hooks while the page is hidden or unloading.
    leaving: Arc<AtomicBool>,
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
        false
    }

    fn open(&mut self, builder: &TrackerBuilder) -> Result<Opened<BrowserStorage>, Error> {
        Ok((BrowserStorage::open(&builder.app_name), None))
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
    ) -> Result<Option<PageHooks>, Error> {
        driver.restore(login);
        wasm_bindgen_futures::spawn_local(driver.run());
        Ok(page::install(tasks.downgrade(), self.clock, self.leaving))
    }
}
