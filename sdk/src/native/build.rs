//! `TrackerBuilder::build` for native targets: a worker thread with its own
//! tokio runtime, reqwest, and files in the data folder.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::clock::{seed, SystemClock, TokioTimer};
use super::dirs::{default_data_dir, do_not_track};
use super::storage::FileStorage;
use super::transport::HttpTransport;
use super::worker::Worker;
use crate::builder::TrackerBuilder;
use crate::core::session::Login;
use crate::driver::Task;
use crate::error::Error;
use crate::platform::{Appender, Clock};
use crate::start::{Opened, Platform, PlatformDriver};
use crate::tracker::Tracker;

impl TrackerBuilder {
    /// Folder for the cached login and unsent events. Default
    /// `$XDG_DATA_HOME/usage-sdk/<app>` (or `~/.local/share/usage-sdk/<app>`;
    /// `~/Library/Application Support/...` on macOS, `%LOCALAPPDATA%\...` on Windows).
    /// One tracker at a time may use a folder.
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
    /// queue wait. Past three quarters of it the oldest events waiting on
    /// disk are dropped (`QueueFull`) to bring it back to half; only a
    /// `track()` that outruns that gets its own event refused. Default 512 MiB
    /// (about two million events of 200 bytes before any is dropped).
    pub fn max_journal_bytes(mut self, bytes: u64) -> Self {
        self.max_journal_bytes = bytes;
        self
    }

    /// Starts the tracker: reads the cached login, starts the delivery worker,
    /// which sends what earlier runs left unsent.
    ///
    /// With `DO_NOT_TRACK=1` (or `do_not_track(true)`) no worker starts and no
    /// file is read or written: every event is dropped and only the debugger
    /// log shows it. Another tracker using the same data folder is refused
    /// with [`Error::FolderInUse`].
    pub fn build(self) -> Result<Tracker, Error> {
        self.start(Native {
            clock: Arc::new(SystemClock::new()),
        })
    }
}

struct Native {
    clock: Arc<SystemClock>,
}

impl Platform for Native {
    type Transport = HttpTransport;
    type Storage = FileStorage;
    type Timer = TokioTimer;

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn seed(&self) -> u64 {
        seed()
    }

    fn do_not_track_default(&self) -> bool {
        do_not_track(std::env::var_os("DO_NOT_TRACK"))
    }

    fn open(&mut self, builder: &TrackerBuilder) -> Result<Opened<FileStorage>, Error> {
        let dir = match &builder.data_dir {
            Some(dir) => dir.clone(),
            None => default_data_dir(&builder.app_name).ok_or(Error::NoDataDir)?,
        };
        let storage = FileStorage::open(dir, builder.engine.max_queued, builder.max_journal_bytes)?;
        let appender: Arc<dyn Appender> = storage.appender();
        Ok((storage, Some(appender)))
    }

    fn transport(&mut self, builder: &TrackerBuilder) -> Result<HttpTransport, Error> {
        #[cfg(feature = "gzip")]
        let gzip = builder.gzip;
        #[cfg(not(feature = "gzip"))]
        let gzip = false;
        HttpTransport::new(&builder.endpoint, builder.request_timeout, gzip)
            .map_err(|e| Error::Transport(e.to_string()))
    }

    fn timer(&self) -> TokioTimer {
        TokioTimer
    }

    fn run(
        self,
        mut driver: PlatformDriver<Self>,
        login: Option<Login>,
        _tasks: &UnboundedSender<Task>,
        _tracker: std::sync::Weak<crate::tracker::Inner>,
    ) -> Result<Option<Worker>, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        let worker = Worker::spawn(move || {
            driver.restore(login);
            runtime.block_on(driver.run());
        })
        .map_err(|e| Error::Transport(format!("cannot start the worker thread: {e}")))?;
        Ok(Some(worker))
    }
}
