//! The app-facing tracker: decides at once from the cached flag, hands
//! everything else to the delivery worker. Shared by every platform.
//!
//! Where the platform offers a journal that `track()` may append to itself
//! (native), the event is written there before `track()` returns `Queued`, and
//! the worker reads it back from the file; otherwise it goes to the worker
//! through its task channel.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use usage_protocol::{read_claims, Claims, Event, RejectCode};
use uuid::Uuid;

use crate::builder::TrackerBuilder;
use crate::core::debugger::{DebugEntry, DropReason, Fate};
use crate::core::event::build_event;
use crate::core::gate::Mode;
use crate::core::journal::{encode, encode_tracked, Record};
use crate::core::queue::UserKey;
use crate::core::session::{user_key, Login};
use crate::driver::{Backlog, Reply, Task};
use crate::error::Error;
use crate::platform::{millis, AppendError, Appender, Clock};
use crate::shared::{lock, Shared, Status};

thread_local! {
    /// The journal line being written by this thread's `track()`, reused.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The login `track()` stamps events with.
#[derive(Debug)]
pub(crate) struct CurrentLogin {
    pub(crate) user: UserKey,
    pub(crate) session_id: String,
}

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
    /// The journal `track()` writes to itself, where the platform has one.
    pub(crate) appender: Option<Arc<dyn Appender>>,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) channel_capacity: usize,
    pub(crate) login: RwLock<Option<Arc<CurrentLogin>>>,
    /// The running delivery loop: the worker thread (native), or the page
    /// listeners that send the last batch when the page is hidden (browser),
    /// held there for their `Drop`, which removes them.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) running: std::sync::Mutex<Option<crate::imp::Running>>,
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
        // Read under the lock, not cloned: a login or logout waits for this
        // call, which waits for nothing.
        let current = match mode {
            Mode::Active => Some(
                self.inner
                    .login
                    .read()
                    .unwrap_or_else(PoisonError::into_inner),
            ),
            _ => None,
        };
        let login = current.as_ref().and_then(|guard| guard.as_deref());
        let logged_in = login.is_some();
        // The browser has no journal `track()` appends to: leaving the
        // branch out there keeps its writer out of the package.
        #[cfg(not(target_arch = "wasm32"))]
        let appender = self.inner.appender.as_ref();
        #[cfg(target_arch = "wasm32")]
        let appender: Option<&Arc<dyn Appender>> = None;
        let handed = match appender {
            Some(appender) => self
                .inner
                .append(appender, id, name, wall_ms, &props, login),
            None => {
                let session = login.map(|l| l.session_id.clone());
                build_event(id, name, wall_ms, &props, session).map(|event| self.inner.send(event))
            }
        };
        drop(current);
        let (fate, tracked) = match handed {
            Err(code) => {
                lock(&shared.debugger).record(Some(id), name, Fate::Invalid { code });
                return Tracked::Invalid(code);
            }
            Ok(Some(reason)) => (Fate::Dropped { reason }, Tracked::Dropped(reason)),
            Ok(None) if logged_in => (Fate::Queued, Tracked::Queued(id)),
            Ok(None) => (Fate::Held, Tracked::Held(id)),
        };
        lock(&shared.debugger).record(Some(id), name, fate);
        tracked
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
        let user = user_key(&claims);
        if let Some(appender) = &self.inner.appender {
            // Journaled here, not by the worker: events tracked next are
            // journaled by `track()` itself, and must find their token after a crash.
            let line = encode(&[Record::Token {
                user: user.to_string(),
                token: token.to_owned(),
            }]);
            if let Err(error) = appender.append(&line) {
                tracing::warn!(?error, "could not journal the login");
            }
        }
        // Set before the gate opens, so a `track()` that sees the new mode
        // also sees the new login.
        *self
            .inner
            .login
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(CurrentLogin {
            user: user.clone(),
            session_id: session_id.clone(),
        }));
        let generation = shared.gate.advance(mode);
        let login = Login {
            user,
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
            .login
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
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
        let shared = &self.inner.shared;
        let fates = lock(&shared.fates);
        lock(&shared.debugger).entries(&fates)
    }

    /// How delivery stands: backlog and totals.
    pub fn status(&self) -> Status {
        Status {
            unprocessed: self.inner.backlog.len(),
            ..*lock(&self.inner.shared.status)
        }
    }
}

/// What became of a request to flush or shut down.
pub(crate) enum Asked {
    /// No loop runs (do-not-track): there is nothing to deliver.
    NoLoop,
    /// The loop is gone.
    Gone,
    /// The loop got it and will answer by the deadline.
    Sent,
}

impl Inner {
    /// Asks the delivery loop to deliver for up to `timeout` (then, with
    /// `shutdown`, to stop); `reply` gets whether nothing sendable is left.
    pub(crate) fn ask(&self, timeout: Duration, shutdown: bool, reply: Reply) -> Asked {
        let Some(tasks) = &self.tasks else {
            return Asked::NoLoop;
        };
        let deadline_ms = self.clock.mono_ms().saturating_add(millis(timeout));
        let task = if shutdown {
            Task::Shutdown { deadline_ms, reply }
        } else {
            Task::Flush { deadline_ms, reply }
        };
        match tasks.send(task) {
            Ok(()) => Asked::Sent,
            Err(_) => Asked::Gone,
        }
    }

    /// Writes a new event to the journal `track()` appends to, straight
    /// from `track()`'s arguments, and wakes the worker to read it. Returns
    /// why the event is refused as invalid, or why it was dropped.
    fn append<P: Serialize + ?Sized>(
        &self,
        appender: &Arc<dyn Appender>,
        id: Uuid,
        name: &str,
        wall_ms: i64,
        props: &P,
        login: Option<&CurrentLogin>,
    ) -> Result<Option<DropReason>, RejectCode> {
        let Some(tasks) = &self.tasks else {
            return Ok(Some(DropReason::DoNotTrack));
        };
        let user = login.map(|l| &*l.user);
        let session = login.map(|l| l.session_id.as_str());
        let appended = LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.clear();
            encode_tracked(user, id, name, wall_ms, props, session, &mut line)?;
            self.backlog.add();
            Ok(appender.append(&line))
        })?;
        match appended {
            Ok(()) => {
                self.ring(tasks);
                Ok(None)
            }
            Err(AppendError::Full) => {
                self.backlog.taken();
                Ok(Some(DropReason::QueueFull))
            }
            Err(AppendError::Failed(error)) => {
                // Kept in memory by the worker, which tries the journal again.
                self.backlog.taken();
                tracing::warn!(%error, "could not append to the journal");
                let session = session.map(str::to_owned);
                let event = build_event(id, name, wall_ms, props, session)?;
                Ok(self.send(event))
            }
        }
    }

    /// Gives a new event to the worker through its task channel. Returns why
    /// it was dropped, if it was.
    fn send(&self, event: Event) -> Option<DropReason> {
        let Some(tasks) = &self.tasks else {
            return Some(DropReason::DoNotTrack);
        };
        if !self.backlog.admit(self.channel_capacity) {
            return Some(DropReason::QueueFull);
        }
        tasks
            .send(Task::Track(event))
            .err()
            .map(|_| DropReason::ShutDown)
    }

    /// Wakes the worker to read the journal, unless a wake-up is on its way.
    fn ring(&self, tasks: &UnboundedSender<Task>) {
        let pending = &self.shared.wake_pending;
        if !pending.load(Ordering::SeqCst) && !pending.swap(true, Ordering::SeqCst) {
            // After shutdown nobody reads; the event stays in the journal.
            let _ = tasks.send(Task::Wake);
        }
    }
}
