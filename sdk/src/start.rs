//! Starting a tracker: the steps every platform takes, written once. A
//! platform supplies its parts through [`Platform`]; `native/build.rs` and
//! `wasm/build.rs` only say which.

use std::sync::{Arc, Mutex, RwLock, Weak};

use tokio::sync::mpsc::UnboundedSender;
use usage_protocol::is_valid_id;

use crate::builder::TrackerBuilder;
use crate::core::engine::{Engine, EngineConfig};
use crate::core::session::Login;
use crate::driver::{Backlog, Driver, Task};
use crate::error::Error;
use crate::platform::{Appender, Clock, Storage, Timer, Transport};
use crate::shared::Shared;
use crate::tracker::{CurrentLogin, Inner, Tracker};

/// The delivery loop of a platform's parts.
pub(crate) type PlatformDriver<P> =
    Driver<<P as Platform>::Transport, <P as Platform>::Storage, <P as Platform>::Timer>;

/// A platform's storage, and the journal `track()` appends to itself, if it may.
pub(crate) type Opened<S> = (S, Option<Arc<dyn Appender>>);

/// What a platform supplies to start a tracker.
pub(crate) trait Platform: Sized {
    type Transport: Transport;
    type Storage: Storage;
    type Timer: Timer;

    /// The clock the tracker and its loop read.
    fn clock(&self) -> Arc<dyn Clock>;
    /// A seed for event ids.
    fn seed(&self) -> u64;
    /// Whether to track nothing when the builder does not say.
    fn do_not_track_default(&self) -> bool;
    /// The storage, and the journal `track()` appends to itself, if it may.
    fn open(&mut self, builder: &TrackerBuilder) -> Result<Opened<Self::Storage>, Error>;
    /// The way batches go out.
    fn transport(&mut self, builder: &TrackerBuilder) -> Result<Self::Transport, Error>;
    fn timer(&self) -> Self::Timer;
    /// The core's settings; by default the builder's.
    fn engine(&self, builder: &TrackerBuilder) -> EngineConfig {
        builder.engine.clone()
    }
    /// Starts the loop, which first restores the journal and `login`.
    /// `tracker` is the tracker being made, for listeners that act on it
    /// later (it cannot be upgraded before `start` returns).
    fn run(
        self,
        driver: PlatformDriver<Self>,
        login: Option<Login>,
        tasks: &UnboundedSender<Task>,
        tracker: Weak<Inner>,
    ) -> Result<Option<crate::imp::Running>, Error>;
}

impl TrackerBuilder {
    /// Starts a tracker on `platform`: checks the options, reads the cached
    /// login, and starts the delivery loop, which sends what earlier runs
    /// left unsent. With do-not-track nothing is opened, written or started.
    pub(crate) fn start<P: Platform>(self, mut platform: P) -> Result<Tracker, Error> {
        if !is_valid_id(&self.app_name) {
            return Err(Error::InvalidAppName);
        }
        let clock = platform.clock();
        let dnt = self
            .do_not_track
            .unwrap_or_else(|| platform.do_not_track_default());
        let shared = Arc::new(Shared::new(
            self.debug_capacity,
            dnt,
            platform.seed(),
            self.callbacks.clone(),
        ));
        let backlog = Arc::new(Backlog::default());
        let inner = |tasks, appender, login: Option<CurrentLogin>, running| Inner {
            shared: shared.clone(),
            clock: clock.clone(),
            tasks,
            appender,
            backlog: backlog.clone(),
            channel_capacity: self.channel_capacity,
            login: RwLock::new(login.map(Arc::new)),
            running: Mutex::new(running),
        };
        if dnt {
            return Ok(Tracker {
                inner: Arc::new(inner(None, None, None, None)),
            });
        }

        let (mut storage, appender) = platform.open(&self)?;
        let cached = storage.load_session().unwrap_or_else(|error| {
            tracing::warn!(%error, "ignoring the cached login");
            None
        });
        let login = cached.and_then(|cached| cached.resume(&shared.gate));
        let current = login.as_ref().map(|l| CurrentLogin {
            user: l.user.clone(),
            session_id: l.session_id.clone(),
        });
        let transport = platform.transport(&self)?;
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let driver = Driver {
            engine: Engine::new(platform.engine(&self)),
            transport,
            storage,
            timer: platform.timer(),
            clock: clock.clone(),
            shared: shared.clone(),
            backlog: backlog.clone(),
            tasks: receiver,
            wake_window_ends: None,
        };
        let mut failed = None;
        let tracker = Arc::new_cyclic(|weak| {
            let running = platform
                .run(driver, login, &sender, weak.clone())
                .unwrap_or_else(|error| {
                    failed = Some(error);
                    None
                });
            inner(Some(sender), appender, current, running)
        });
        match failed {
            Some(error) => Err(error),
            None => Ok(Tracker { inner: tracker }),
        }
    }
}
