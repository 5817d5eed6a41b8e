//! `TrackerBuilder::build` for native targets.

use std::sync::{Arc, Mutex, RwLock};

use usage_protocol::is_valid_id;

use super::clock::{seed, SystemClock, TokioTimer};
use super::dirs::{default_data_dir, do_not_track};
use super::storage::FileStorage;
use super::transport::HttpTransport;
use super::worker::Worker;
use crate::builder::TrackerBuilder;
use crate::core::engine::Engine;
use crate::driver::{Backlog, Driver};
use crate::error::Error;
use crate::platform::{Appender, Clock, Storage};
use crate::shared::Shared;
use crate::tracker::{CurrentLogin, Inner, Tracker};

impl TrackerBuilder {
    /// Folder for the cached login and unsent events. Default
    /// `$XDG_DATA_HOME/usage-sdk/<app>` (or `~/.local/share/usage-sdk/<app>`;
    /// `~/Library/Application Support/...` on macOS, `%LOCALAPPDATA%\...` on Windows).
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Sends batch bodies gzip-compressed (`Content-Encoding: gzip`), for a
    /// collector that accepts them; a batch shrinks to about a fifth. Default off.
    #[cfg(feature = "gzip")]
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Most bytes of the journal on disk, where events beyond the in-memory
    /// queue wait; past it `track()` drops new events (`QueueFull`). Default 256 MiB.
    pub fn max_journal_bytes(mut self, bytes: u64) -> Self {
        self.max_journal_bytes = bytes;
        self
    }

    /// Starts the tracker: reads the cached login, starts the delivery worker,
    /// which sends what earlier runs left unsent.
    ///
    /// With `DO_NOT_TRACK=1` (or `do_not_track(true)`) no worker starts and no
    /// file is read or written: every event is dropped and only the debugger
    /// log shows it.
    pub fn build(self) -> Result<Tracker, Error> {
        if !is_valid_id(&self.app_name) {
            return Err(Error::InvalidAppName);
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        let dnt = self
            .do_not_track
            .unwrap_or_else(|| do_not_track(std::env::var_os("DO_NOT_TRACK")));
        let shared = Arc::new(Shared::new(
            self.debug_capacity,
            dnt,
            seed(),
            self.callbacks.clone(),
        ));
        let backlog = Arc::new(Backlog::default());
        if dnt {
            return Ok(tracker(
                shared, clock, None, None, backlog, &self, None, None,
            ));
        }

        let dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => default_data_dir(&self.app_name).ok_or(Error::NoDataDir)?,
        };
        let mut storage = FileStorage::open(dir, self.engine.max_queued, self.max_journal_bytes)?;
        let appender: Arc<dyn Appender> = storage.appender();
        let cached = storage.load_session().unwrap_or_else(|error| {
            tracing::warn!(%error, "ignoring the cached login");
            None
        });
        let login = cached.and_then(|cached| cached.resume(&shared.gate));
        let current = login.as_ref().map(|l| CurrentLogin {
            user: l.user.clone(),
            session_id: l.session_id.clone(),
        });

        #[cfg(feature = "gzip")]
        let gzip = self.gzip;
        #[cfg(not(feature = "gzip"))]
        let gzip = false;
        let transport = HttpTransport::new(&self.endpoint, self.request_timeout, gzip)
            .map_err(|e| Error::Transport(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let mut driver = Driver {
            engine: Engine::new(self.engine.clone()),
            transport,
            storage,
            timer: TokioTimer,
            clock: clock.clone(),
            shared: shared.clone(),
            backlog: backlog.clone(),
            tasks: receiver,
        };
        let worker = Worker::spawn(move || {
            driver.restore(login);
            runtime.block_on(driver.run());
        })
        .map_err(|e| Error::Transport(format!("cannot start the worker thread: {e}")))?;
        Ok(tracker(
            shared,
            clock,
            Some(sender),
            Some(appender),
            backlog,
            &self,
            current,
            Some(worker),
        ))
    }
}

#[allow(clippy::too_many_arguments)]
fn tracker(
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    tasks: Option<tokio::sync::mpsc::UnboundedSender<crate::driver::Task>>,
    appender: Option<Arc<dyn Appender>>,
    backlog: Arc<Backlog>,
    builder: &TrackerBuilder,
    login: Option<CurrentLogin>,
    worker: Option<Worker>,
) -> Tracker {
    Tracker {
        inner: Arc::new(Inner {
            shared,
            clock,
            tasks,
            appender,
            backlog,
            channel_capacity: builder.channel_capacity,
            login: RwLock::new(login.map(Arc::new)),
            worker: Mutex::new(worker),
        }),
    }
}
