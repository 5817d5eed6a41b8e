//! The delivery loop: runs the core against a platform's transport, storage and
//! timer. Native runs it on a worker thread; the browser will run it as a task.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedReceiver;
use usage_protocol::Event;

use crate::core::engine::{Effect, Engine};
use crate::core::journal::{encode, replay};
use crate::core::reply::{HttpReply, TransportError};
use crate::core::session::Login;
use crate::platform::{Clock, Storage, Timer, Transport};
use crate::shared::{lock, Shared};

/// Longest idle sleep; the loop wakes earlier for any task.
const IDLE_SLEEP_MS: u64 = 60 * 60 * 1_000;

/// Answers a flush or shutdown: `true` when nothing sendable is left.
pub(crate) type Reply = Box<dyn FnOnce(bool) + Send>;

/// Work for the delivery loop, in the order the app asked for it.
pub(crate) enum Task {
    Track(Event),
    Login(Login),
    Logout,
    Flush {
        deadline_ms: u64,
        reply: Reply,
    },
    Shutdown {
        deadline_ms: u64,
        reply: Reply,
    },
    /// Takes over the journal another tracker left (a browser tab that was
    /// closed); `reply(true)` once this tracker's own journal holds its events.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    Adopt {
        journal: Vec<u8>,
        reply: Reply,
    },
}

/// Track tasks waiting in the channel. The channel itself is unbounded so that
/// a login or flush is never refused; `track()` bounds it by refusing events
/// once this many are waiting.
#[derive(Debug, Default)]
pub(crate) struct Backlog(AtomicUsize);

impl Backlog {
    /// Counts one more track task unless `limit` are already waiting.
    pub(crate) fn admit(&self, limit: usize) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
    }

    /// Track tasks waiting now.
    pub(crate) fn len(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    fn taken(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type InFlight = Pin<Box<dyn Future<Output = Result<HttpReply, TransportError>>>>;

pub(crate) struct Driver<T, S, Ti> {
    pub(crate) engine: Engine,
    pub(crate) transport: T,
    pub(crate) storage: S,
    pub(crate) timer: Ti,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) tasks: UnboundedReceiver<Task>,
}

struct Waiter {
    deadline_ms: u64,
    reply: Reply,
}

impl<T: Transport, S: Storage, Ti: Timer> Driver<T, S, Ti> {
    /// Reads back the journal and resumes the cached login, before any task.
    pub(crate) fn restore(&mut self, login: Option<Login>) {
        match self.storage.load_journal() {
            Ok(bytes) => {
                let replayed = replay(&bytes);
                if replayed.damaged > 0 {
                    tracing::warn!(lines = replayed.damaged, "skipped unreadable journal lines");
                }
                self.engine.restore(replayed);
            }
            Err(error) => tracing::warn!(%error, "could not read the journal of unsent events"),
        }
        if let Some(login) = login {
            self.engine.login(login, self.clock.mono_ms());
        }
    }

    /// Runs until shut down, or until the tracker is gone and nothing waits.
    pub(crate) async fn run(mut self) {
        let mut in_flight: Option<InFlight> = None;
        let mut waiters: Vec<Waiter> = Vec::new();
        let mut stopping = false;
        let mut channel_open = true;
        loop {
            let now = self.clock.mono_ms();
            if in_flight.is_none() {
                if let Some(batch) = self.engine.poll(now, self.sent_at()) {
                    in_flight = Some(Box::pin(self.transport.send(batch)));
                }
            }
            self.apply_effects();
            let settled = self.engine.settled();
            let (done, waiting): (Vec<Waiter>, Vec<Waiter>) = waiters
                .into_iter()
                .partition(|w| settled.is_some() || w.deadline_ms <= now);
            waiters = waiting;
            for waiter in done {
                (waiter.reply)(settled == Some(true));
            }
            if (stopping || !channel_open) && waiters.is_empty() {
                break;
            }
            let wake = [self.engine.next_wakeup(now)]
                .into_iter()
                .chain(waiters.iter().map(|w| Some(w.deadline_ms)))
                .flatten()
                .min();
            let sleep_ms = wake.map_or(IDLE_SLEEP_MS, |at| at.saturating_sub(now));
            tokio::select! {
                biased;
                task = self.tasks.recv(), if channel_open => match task {
                    Some(task) => {
                        self.handle(task, &mut waiters, &mut stopping);
                        while let Ok(task) = self.tasks.try_recv() {
                            self.handle(task, &mut waiters, &mut stopping);
                        }
                    }
                    None => channel_open = false,
                },
                result = poll_in_flight(&mut in_flight) => {
                    in_flight = None;
                    let random = self.shared.ids.next_u64();
                    self.engine.on_reply(result, self.clock.mono_ms(), random);
                }
                () = self.timer.sleep(sleep_ms) => {}
            }
        }
        self.apply_effects();
    }

    fn handle(&mut self, task: Task, waiters: &mut Vec<Waiter>, stopping: &mut bool) {
        let now = self.clock.mono_ms();
        match task {
            Task::Track(event) => {
                self.backlog.taken();
                self.engine.track(event, now);
            }
            Task::Login(login) => self.engine.login(login, now),
            Task::Logout => self.engine.logout(now),
            Task::Flush { deadline_ms, reply } => {
                self.engine.expedite(now);
                waiters.push(Waiter { deadline_ms, reply });
            }
            Task::Shutdown { deadline_ms, reply } => {
                self.engine.expedite(now);
                waiters.push(Waiter { deadline_ms, reply });
                *stopping = true;
            }
            Task::Adopt { journal, reply } => {
                self.engine.restore(replay(&journal));
                // Written before the answer, so the other journal can go.
                self.apply_effects();
                reply(true);
            }
        }
    }

    fn sent_at(&self) -> OffsetDateTime {
        let nanos = i128::from(self.clock.wall_ms()) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Carries out what the core asked for: debugger, journal, cached login, callbacks.
    fn apply_effects(&mut self) {
        let effects = self.engine.take_effects();
        let mut journal = Vec::new();
        let mut rewrite = false;
        let mut unauthorized = Vec::new();
        {
            let mut debugger = lock(&self.shared.debugger);
            for effect in effects {
                match effect {
                    Effect::Fate { id, fate } => debugger.update(id, fate),
                    Effect::Journal(record) => journal.push(record),
                    Effect::RewriteJournal => rewrite = true,
                    Effect::CacheSession(session) => {
                        if let Err(error) = self.storage.save_session(session.as_ref()) {
                            tracing::warn!(%error, "could not write the cached login");
                        }
                    }
                    Effect::ServerOptedOut { generation } => {
                        self.shared.gate.server_opted_out(generation);
                    }
                    Effect::Unauthorized { code } => unauthorized.push(code),
                }
            }
        }
        let written = if rewrite {
            let snapshot = self.engine.snapshot();
            self.storage.replace_journal(&snapshot)
        } else if !journal.is_empty() {
            self.storage.append_journal(&encode(&journal))
        } else {
            Ok(())
        };
        if let Err(error) = written {
            tracing::warn!(%error, "could not write the journal of unsent events");
        }
        for code in unauthorized {
            tracing::warn!(%code, "the collector refused the status token; events are kept");
            match (
                code.as_str(),
                &self.shared.on_token_expired,
                &self.shared.on_auth_error,
            ) {
                ("token_expired", Some(callback), _) => callback(),
                (_, _, Some(callback)) => callback(&code),
                _ => {}
            }
        }
        let (queued, held) = self.engine.backlog();
        *lock(&self.shared.status) = crate::shared::Status {
            queued,
            held,
            unprocessed: 0,
            counters: self.engine.counters(),
        };
    }
}

async fn poll_in_flight(in_flight: &mut Option<InFlight>) -> Result<HttpReply, TransportError> {
    match in_flight {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}
