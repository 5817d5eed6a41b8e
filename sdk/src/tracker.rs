//! The app-facing tracker: decides at once from the cached flag, hands
//! everything else to the delivery worker. Shared by every platform.

use std::sync::{Arc, RwLock};

use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use usage_protocol::{read_claims, Claims, RejectCode};
use uuid::Uuid;

use crate::builder::TrackerBuilder;
use crate::core::debugger::{DebugEntry, DropReason, Fate};
use crate::core::event::build_event;
use crate::core::gate::Mode;
use crate::core::session::{user_key, Login};
use crate::driver::{Backlog, Task};
use crate::error::Error;
use crate::platform::Clock;
use crate::shared::{lock, Shared, Status};

/// What `track()` did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracked {
    /// Queued for sending, with this id.
    Queued(Uuid),
    /// Held until the next login, with this id.
    Held(Uuid),
    /// Dropped on the device, for this reason.
    Dropped(DropReason),
    /// Not tracked: the collector would refuse it for this reason.
    Invalid(RejectCode),
}

/// Records usage events and delivers them to the collector. Cheap to clone;
/// clones share one queue.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) clock: Arc<dyn Clock>,
    /// `None` when nothing may be recorded (`DO_NOT_TRACK`).
    pub(crate) tasks: Option<UnboundedSender<Task>>,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) channel_capacity: usize,
    pub(crate) session_id: RwLock<Option<String>>,
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) worker: std::sync::Mutex<Option<crate::imp::Worker>>,
    /// The page listeners that send the last batch when the page is hidden;
    /// held for its `Drop`, which removes them.
    #[cfg(target_arch = "wasm32")]
    #[allow(dead_code)]
    pub(crate) page: Option<crate::imp::PageHooks>,
}

impl Tracker {
    /// Starts configuring a tracker that sends to `endpoint`, the collector's
    /// base URL (`POST {endpoint}/v1/batch`).
    pub fn builder(endpoint: impl Into<String>) -> TrackerBuilder {
        TrackerBuilder::new(endpoint)
    }

    /// Records that `name` happened, with `props` (anything that serializes to
    /// a JSON object; `()` for none). Never waits for the network or the disk.
    pub fn track(&self, name: &str, props: impl Serialize) -> Tracked {
        let shared = &self.inner.shared;
        let mode = shared.gate.mode();
        let reason = match mode {
            Mode::OptedOut => Some(DropReason::OptedOut),
            Mode::DoNotTrack => Some(DropReason::DoNotTrack),
            Mode::Closed => Some(DropReason::ShutDown),
            Mode::Active | Mode::NoSession => None,
        };
        if let Some(reason) = reason {
            lock(&shared.debugger).record(None, name, Fate::Dropped { reason });
            return Tracked::Dropped(reason);
        }
        let wall_ms = self.inner.clock.wall_ms();
        let id = shared.ids.uuid_v7(u64::try_from(wall_ms).unwrap_or(0));
        let session = match mode {
            Mode::Active => self
                .inner
                .session_id
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            _ => None,
        };
        let event = match build_event(id, name, wall_ms, &props, session) {
            Ok(event) => event,
            Err(code) => {
                lock(&shared.debugger).record(Some(id), name, Fate::Invalid { code });
                return Tracked::Invalid(code);
            }
        };
        let (fate, tracked) = match mode {
            Mode::Active => (Fate::Queued, Tracked::Queued(id)),
            _ => (Fate::Held, Tracked::Held(id)),
        };
        lock(&shared.debugger).record(Some(id), name, fate);
        let refused = match &self.inner.tasks {
            Some(tasks) if self.inner.backlog.admit(self.inner.channel_capacity) => tasks
                .send(Task::Track(event))
                .err()
                .map(|_| DropReason::ShutDown),
            Some(_) => Some(DropReason::QueueFull),
            None => Some(DropReason::DoNotTrack),
        };
        match refused {
            None => tracked,
            Some(reason) => {
                lock(&shared.debugger).update(id, Fate::Dropped { reason });
                Tracked::Dropped(reason)
            }
        }
    }

    /// Logs a user in with their status token: caches it, and takes the
    /// opt-out flag from it (no key needed). Events held since the last logout
    /// go to this user, or are dropped if the token says opted out.
    pub fn login(&self, token: &str) -> Result<Claims, Error> {
        let claims = read_claims(token)?;
        let Some(tasks) = &self.inner.tasks else {
            return Ok(claims);
        };
        let mode = if claims.opt_out {
            Mode::OptedOut
        } else {
            Mode::Active
        };
        let shared = &self.inner.shared;
        let session_id = shared
            .ids
            .uuid_v7(u64::try_from(self.inner.clock.wall_ms()).unwrap_or(0))
            .to_string();
        *self
            .inner
            .session_id
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(session_id.clone());
        let generation = shared.gate.advance(mode);
        let login = Login {
            user: user_key(&claims),
            token: token.to_owned(),
            opted_out: claims.opt_out,
            generation,
            session_id,
        };
        tasks
            .send(Task::Login(login))
            .map_err(|_| Error::ShutDown)?;
        Ok(claims)
    }

    /// Logs the user out: what they tracked is sent at once (with their token),
    /// and the cached login is cleared. Events tracked afterwards are held
    /// until the next login. Returns at once; use `flush` to wait.
    pub fn logout(&self) {
        let Some(tasks) = &self.inner.tasks else {
            return;
        };
        self.inner.shared.gate.advance(Mode::NoSession);
        *self
            .inner
            .session_id
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        if tasks.send(Task::Logout).is_err() {
            tracing::debug!("logout after shutdown");
        }
    }

    /// Whether events are dropped at once now (opted out, `DO_NOT_TRACK`, shut down).
    pub fn is_dropping(&self) -> bool {
        !matches!(
            self.inner.shared.gate.mode(),
            Mode::Active | Mode::NoSession
        )
    }

    /// The debugger log: the most recent events and what became of each, oldest first.
    pub fn debug_events(&self) -> Vec<DebugEntry> {
        lock(&self.inner.shared.debugger).entries()
    }

    /// How delivery stands: backlog and totals.
    pub fn status(&self) -> Status {
        Status {
            unprocessed: self.inner.backlog.len(),
            ..*lock(&self.inner.shared.status)
        }
    }
}
