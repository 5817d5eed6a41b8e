//! `TrackerBuilder::build` in the browser.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use usage_protocol::is_valid_id;

use super::clock::{seed, BrowserClock, BrowserTimer};
use super::page;
use super::storage::BrowserStorage;
use super::transport::FetchTransport;
use crate::builder::TrackerBuilder;
use crate::core::engine::Engine;
use crate::driver::{Backlog, Driver};
use crate::error::Error;
use crate::platform::{Clock, Storage};
use crate::shared::Shared;
use crate::tracker::{CurrentLogin, Inner, Tracker};

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
        if !is_valid_id(&self.app_name) {
            return Err(Error::InvalidAppName);
        }
        let clock: Arc<dyn Clock> = Arc::new(BrowserClock::new());
        let dnt = self.do_not_track.unwrap_or(false);
        let shared = Arc::new(Shared::new(
            self.debug_capacity,
            dnt,
            seed(),
            self.callbacks.clone(),
        ));
        let backlog = Arc::new(Backlog::default());
        let inner = |tasks, login: Option<CurrentLogin>, page| Tracker {
            inner: Arc::new(Inner {
                shared: shared.clone(),
                clock: clock.clone(),
                tasks,
                appender: None,
                backlog: backlog.clone(),
                channel_capacity: self.channel_capacity,
                login: RwLock::new(login.map(Arc::new)),
                page,
            }),
        };
        if dnt {
            return Ok(inner(None, None, None));
        }

        let mut storage = BrowserStorage::open(&self.app_name);
        let cached = storage.load_session().unwrap_or_else(|error| {
            tracing::warn!(%error, "ignoring the cached login");
            None
        });
        let login = cached.and_then(|cached| cached.resume(&shared.gate));
        let current = login.as_ref().map(|l| CurrentLogin {
            user: l.user.clone(),
            session_id: l.session_id.clone(),
        });

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
        wasm_bindgen_futures::spawn_local(driver.run());
        let hooks = page::install(sender.downgrade(), clock.clone(), leaving);
        Ok(inner(Some(sender), current, hooks))
    }
}
