//! The delivery loop: runs the core against a platform's transport, storage and
//! timer. Native runs it on a worker thread; the browser will run it as a task.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedReceiver;
use usage_protocol::Event;

use crate::core::encoded::encode_kept;
use crate::core::engine::{Effect, Engine};
use crate::core::journal::{encode, replay};
use crate::core::queue::UserKey;
use crate::core::reply::{HttpReply, TransportError};
use crate::core::session::Login;
use crate::platform::{Clock, Storage, Timer, Transport};
use crate::shared::{lock, Shared};

/// Longest idle sleep; the loop wakes earlier for any task.
const IDLE_SLEEP_MS: u64 = 60 * 60 * 1_000;

/// How long after a wake-up from `track()` the loop lets further appends go
/// without one. Waking the loop is a system call on the app's thread, as
/// dear as the rest of `track()`; in a burst, one wake-up per window stands
/// for thousands. The loop reads the journal when the window ends, so an
/// event waits at most this long more (the batch interval is seconds).
const WAKE_WINDOW_MS: u64 = 1;

/// Answers a flush or shutdown: `true` when nothing sendable is left.
pub(crate) type Reply = Box<dyn FnOnce(bool) + Send>;

/// Work for the delivery loop, in the order the app asked for it.
pub(crate) enum Task {
    /// An event that only the loop can journal (the browser, or a native
    /// journal that refused the write).
    Track(Event),
    /// `track()` appended events to the journal: read them.
    Wake,
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

/// Events tracked but not yet taken up by the loop: track tasks waiting in
/// the channel, and events appended to the journal but not yet read. The
/// channel itself is unbounded so that a login or flush is never refused;
/// `track()` bounds it by refusing events once too many track tasks wait.
#[derive(Debug, Default)]
pub(crate) struct Backlog(AtomicUsize);

impl Backlog {
    /// Counts one more event, before it is appended to the journal.
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

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

    /// One event was taken up (or its append failed).
    pub(crate) fn taken(&self) {
        self.taken_many(1);
    }

    /// `count` events were taken up, counted down at once: the worker takes
    /// them a turn at a time, and `track()` counts each of its events up on
    /// the same word, so fewer writes from the worker mean fewer waits for
    /// that word on the app's side. Saturating: events an earlier run left in
    /// the journal are taken up without being counted in.
    pub(crate) fn taken_many(&self, count: usize) {
        if count == 0 {
            return;
        }
        // The closure always returns a value, so the update always succeeds.
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(count))
            });
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
    /// When the wake-up window ends: until then `track()` sends no wake-up
    /// (the flag it checks stays set), and the loop reads the journal then.
    pub(crate) wake_window_ends: Option<u64>,
}

struct Waiter {
    deadline_ms: u64,
    reply: Reply,
}

/// The user key of the last event read from the journal, reused while the
/// next events name the same user, so reading allocates no key per event.
#[derive(Default)]
struct LastUser(Option<UserKey>);

impl LastUser {
    fn key(&mut self, user: Option<String>) -> Option<UserKey> {
        let user = user?;
        match &self.0 {
            Some(key) if **key == *user => Some(key.clone()),
            _ => Some(self.0.insert(UserKey::from(user)).clone()),
        }
    }
}

impl<T: Transport, S: Storage, Ti: Timer> Driver<T, S, Ti> {
    /// Reads back the journal and resumes the cached login, before any task.
    pub(crate) fn restore(&mut self, login: Option<Login>) {
        match self.storage.restore_journal(self.engine.room()) {
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
        let mut in_flight: Vec<(u64, InFlight)> = Vec::new();
        let mut waiters: Vec<Waiter> = Vec::new();
        let mut stopping = false;
        let mut channel_open = true;
        let mut users = LastUser::default();
        loop {
            // Cleared before the mark: a line appended after it either is
            // read in this round or rings again.
            if let Some(ends) = self.wake_window_ends {
                if ends <= self.clock.mono_ms() {
                    self.shared.wake_pending.store(false, Ordering::SeqCst);
                    self.wake_window_ends = None;
                }
            }
            // Tasks sent before a line was appended are handled before the
            // line is read: a login comes before the events tracked under it.
            let mark = self.storage.appended_mark();
            while let Ok(task) = self.tasks.try_recv() {
                self.handle(task, &mut waiters, &mut stopping);
            }
            self.storage.prepare_appends();
            let now = self.clock.mono_ms();
            self.intake(now, mark, &mut users);
            while let Some(batch) = self.engine.poll(now, self.sent_at()) {
                let flight = batch.flight;
                in_flight.push((flight, Box::pin(self.transport.send(batch))));
            }
            self.apply_effects();
            // Unread journal lines are events not yet known, or the loop's own
            // lines: read them before saying anything is settled.
            let unread = self.storage.appended_waiting() && self.engine.room() > 0;
            let settled = if unread { None } else { self.engine.settled() };
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
                .chain([self.wake_window_ends])
                .flatten()
                .min();
            let sleep_ms = if unread {
                0
            } else {
                wake.map_or(IDLE_SLEEP_MS, |at| at.saturating_sub(now))
            };
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
                (flight, result) = next_reply(&mut in_flight) => {
                    let random = self.shared.ids.next_u64();
                    self.engine.on_reply(flight, result, self.clock.mono_ms(), random);
                }
                () = self.timer.sleep(sleep_ms) => {}
            }
        }
        self.apply_effects();
    }

    /// Takes up the events `track()` appended to the journal, as many as the
    /// queue has room for; the others wait on disk.
    fn intake(&mut self, now: u64, mark: u64, users: &mut LastUser) {
        let room = self.engine.room();
        if room > 0 && self.storage.appended_waiting() {
            let mut taken = Vec::new();
            if let Err(error) = self.storage.take_appended(room, mark, &mut taken) {
                tracing::warn!(%error, "could not read the journal of unsent events");
            }
            self.backlog.taken_many(taken.len());
            for (user, event, size) in taken {
                self.engine.take(users.key(user), event, size, now);
            }
        }
        self.engine
            .set_disk_backlog(self.storage.appended_waiting());
    }

    fn handle(&mut self, task: Task, waiters: &mut Vec<Waiter>, stopping: &mut bool) {
        let now = self.clock.mono_ms();
        match task {
            Task::Track(event) => {
                self.backlog.taken();
                self.engine.track(event, now);
            }
            Task::Wake => {
                self.wake_window_ends.get_or_insert(now + WAKE_WINDOW_MS);
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
            let mut fates = lock(&self.shared.fates);
            for effect in effects {
                match effect {
                    Effect::Fate { id, fate } => fates.update(id, fate),
                    Effect::Journal(record) => journal.extend(encode(&[record])),
                    Effect::JournalKept { user, event } => {
                        encode_kept(user.as_deref(), &event, &mut journal);
                    }
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
        // Lines first: storage may put off a replacement until it frees
        // enough space, and the lines must not be lost meanwhile.
        let mut written = Ok(());
        if !journal.is_empty() {
            written = self.storage.append_journal(&journal);
        }
        let live_bytes = self.engine.live_bytes();
        if (rewrite || self.storage.nearly_full(live_bytes))
            && written.is_ok()
            && self.storage.wants_replacement(live_bytes)
        {
            let snapshot = self.engine.snapshot();
            written = self.storage.replace_journal(&snapshot);
            let dropped = self.storage.take_dropped();
            if !dropped.is_empty() {
                self.backlog.taken_many(dropped.len());
                self.engine.dropped_unread(dropped);
                // Their fates are effects of their own.
                let mut fates = lock(&self.shared.fates);
                for effect in self.engine.take_effects() {
                    if let Effect::Fate { id, fate } = effect {
                        fates.update(id, fate);
                    }
                }
            }
        }
        if let Err(error) = written {
            tracing::warn!(%error, "could not write the journal of unsent events");
        }
        for code in unauthorized {
            tracing::warn!(%code, "the collector refused the status token; events are kept");
            match (
                code.as_str(),
                &self.shared.callbacks.on_token_expired,
                &self.shared.callbacks.on_auth_error,
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

/// The first answer of the batches on the wire, with the batch it answers;
/// never completes while none is on the wire.
async fn next_reply(
    in_flight: &mut Vec<(u64, InFlight)>,
) -> (u64, Result<HttpReply, TransportError>) {
    std::future::poll_fn(|cx| {
        for at in 0..in_flight.len() {
            if let Poll::Ready(result) = in_flight[at].1.as_mut().poll(cx) {
                let (flight, _) = in_flight.remove(at);
                return Poll::Ready((flight, result));
            }
        }
        Poll::Pending
    })
    .await
}
