//! The tracker's state machine: sessions, queue, batches and retries, driven by
//! calls with the current time and answering with effects for the platform to
//! carry out. No I/O happens here.

use std::sync::Arc;

use usage_protocol::{Event, SdkInfo};
use uuid::Uuid;

use super::batcher::BatchPolicy;
use super::debugger::{DropReason, Fate};
use super::encoded::{encode_kept, EncodedEvent};
use super::journal::{encode, Record, Replayed};
use super::queue::{Pending, Queue, UserKey, DEFAULT_MAX_HELD, DEFAULT_MAX_QUEUED};
use super::retry::{Backoff, DEFAULT_RETRY_BASE_MS, DEFAULT_RETRY_CAP_MS};
use super::session::{CachedSession, Login, Sessions};

mod outcome;
mod sending;

/// Journal lines allowed beyond twice the live events before a rewrite.
const JOURNAL_SLACK: usize = 256;
/// Default most batches on the wire at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;

/// How the core batches, bounds and retries.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// When batches are cut.
    pub batch: BatchPolicy,
    /// Most unsent events kept.
    pub max_queued: usize,
    /// Most events held before a login.
    pub max_held: usize,
    /// First retry delay, in milliseconds.
    pub retry_base_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub retry_cap_ms: u64,
    /// Most batches on the wire at once (each on its own connection).
    pub max_in_flight: usize,
    /// Who is sending.
    pub sdk: SdkInfo,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            batch: BatchPolicy::default(),
            max_queued: DEFAULT_MAX_QUEUED,
            max_held: DEFAULT_MAX_HELD,
            retry_base_ms: DEFAULT_RETRY_BASE_MS,
            retry_cap_ms: DEFAULT_RETRY_CAP_MS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            sdk: SdkInfo {
                name: "usage-sdk-rust".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
        }
    }
}

/// Something the platform must do for the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Show a new fate in the debugger.
    Fate {
        /// The event.
        id: Uuid,
        /// Its fate now.
        fate: Fate,
    },
    /// Append a line to the journal.
    Journal(Record),
    /// Append a [`Record::Kept`] line for an event kept as its text.
    JournalKept {
        /// `org/sub`, or none yet.
        user: Option<String>,
        /// The event.
        event: EncodedEvent,
    },
    /// Replace the journal with [`Engine::snapshot`].
    RewriteJournal,
    /// Replace the cached login (`None`: clear it).
    CacheSession(Option<CachedSession>),
    /// The server says the user of this login generation is opted out.
    ServerOptedOut {
        /// The login generation.
        generation: u64,
    },
    /// The collector refused a token with `401` and this code.
    Unauthorized {
        /// `token_expired`, `invalid_token`, `unknown_key`, ...
        code: String,
    },
}

/// A batch ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Names the batch in [`Engine::on_reply`].
    pub flight: u64,
    /// The `Authorization: Bearer` value.
    pub token: String,
    /// The JSON body.
    pub body: Vec<u8>,
    /// How many events it carries.
    pub events: usize,
}

/// Running totals, for the host app and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Events the collector stored (or already had).
    pub accepted: u64,
    /// Events the collector discarded because their user is opted out.
    pub discarded: u64,
    /// Events dropped on the device: opted out, queue full, no session.
    pub dropped: u64,
    /// Events refused by the collector (invalid, or their batch refused).
    pub refused: u64,
    /// Batches sent, counting retries.
    pub attempts: u64,
}

#[derive(Debug)]
struct InFlight {
    flight: u64,
    user: UserKey,
    ids: Vec<Uuid>,
    used_split: bool,
}

/// The tracker core. See the module docs.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    queue: Queue,
    sessions: Sessions,
    backoff: Backoff,
    /// Batches on the wire, oldest first.
    in_flight: Vec<InFlight>,
    next_flight: u64,
    not_before: u64,
    server_named_wait: bool,
    splits: Vec<usize>,
    urgent: bool,
    journal_lines: usize,
    rewrite_asked: bool,
    /// More events wait in the journal on disk than the queue holds.
    disk_backlog: bool,
    counters: Counters,
    effects: Vec<Effect>,
}

impl Engine {
    /// An empty core.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            queue: Queue::new(config.max_queued, config.max_held),
            backoff: Backoff::new(config.retry_base_ms, config.retry_cap_ms),
            config,
            sessions: Sessions::default(),
            in_flight: Vec::new(),
            next_flight: 0,
            not_before: 0,
            server_named_wait: false,
            splits: Vec::new(),
            urgent: false,
            journal_lines: 0,
            rewrite_asked: false,
            disk_backlog: false,
            counters: Counters::default(),
            effects: Vec::new(),
        }
    }

    /// Takes back what a journal held; those events are due at once.
    pub fn restore(&mut self, replayed: Replayed) {
        for (user, token) in replayed.tokens {
            self.sessions.remember(Arc::from(user), token);
        }
        for (user, event) in replayed.events {
            let user: Option<UserKey> = user.map(Arc::from);
            // Without a token nothing can send them; with one that says opted
            // out nothing may. The rewrite below leaves them out of the journal.
            if user
                .as_ref()
                .is_some_and(|u| self.sessions.get(u).is_none_or(|r| r.opted_out))
            {
                continue;
            }
            let event = EncodedEvent::new(&event);
            self.queue.push(Pending {
                user,
                size: event.json().len(),
                event,
                ready_at: 0,
                in_flight: false,
            });
        }
        self.rewrite_journal();
        // A backlog from an earlier run has waited long enough already.
        self.urgent = !self.queue.is_empty();
    }

    /// A user logs in: held events go to them, or are dropped if they are opted out.
    pub fn login(&mut self, login: Login, now: u64) {
        let user = login.user.clone();
        self.effects.push(Effect::Journal(Record::Token {
            user: user.to_string(),
            token: login.token.clone(),
        }));
        self.effects.push(Effect::CacheSession(Some(CachedSession {
            token: login.token.clone(),
            session_id: login.session_id.clone(),
            server_opted_out: false,
        })));
        let opted_out = login.opted_out;
        self.sessions.login(login);
        if opted_out {
            self.drop_where(|p| p.user.is_none() && !p.in_flight, DropReason::OptedOut);
            self.drop_where(
                |p| p.user.as_ref() == Some(&user) && !p.in_flight,
                DropReason::OptedOut,
            );
        } else if self.queue.held() > 0 {
            for event in self.queue.release_held(&user, now) {
                self.effects.push(Effect::Fate {
                    id: event.id,
                    fate: Fate::Queued,
                });
                self.journal_kept(Some(user.to_string()), event);
            }
        }
        if self.sendable_count() > 0 {
            self.expedite(now);
        }
    }

    /// The user logs out: what they tracked is sent without waiting for the interval.
    pub fn logout(&mut self, now: u64) {
        self.sessions.logout();
        self.effects.push(Effect::CacheSession(None));
        self.expedite(now);
    }

    /// A new event from `track()`, for whoever is logged in now; journals it.
    pub fn track(&mut self, event: Event, now: u64) {
        self.admit(None, EncodedEvent::new(&event), None, now);
    }

    /// An event `track()` already wrote to the journal, under `user` (`None`:
    /// held, unless someone has logged in since); `size` bounds its size in a
    /// batch (its journal line's length).
    pub fn take(&mut self, user: Option<UserKey>, event: EncodedEvent, size: usize, now: u64) {
        self.admit(user, event, Some(size), now);
    }

    /// `size` is known for events taken from the journal, which are journaled.
    fn admit(
        &mut self,
        tracked_as: Option<UserKey>,
        event: EncodedEvent,
        size: Option<usize>,
        now: u64,
    ) {
        let journaled = size.is_some();
        let id = event.id;
        let user = tracked_as
            .clone()
            .or_else(|| self.sessions.current().cloned());
        if let Some(user) = &user {
            if self.sessions.get(user).is_some_and(|r| r.opted_out) {
                self.counters.dropped += 1;
                let fate = Fate::Dropped {
                    reason: DropReason::OptedOut,
                };
                self.effects.push(Effect::Fate { id, fate });
                if journaled {
                    self.journal(Record::Done { ids: vec![id] });
                }
                return;
            }
        }
        let fate = if user.is_some() {
            Fate::Queued
        } else {
            Fate::Held
        };
        let user_text = || user.as_ref().map(|u| u.to_string());
        if !journaled || (tracked_as.is_none() && user.is_some()) {
            // Not journaled yet, or held when tracked but a login came first.
            self.journal_kept(user_text(), event.clone());
        } else {
            self.journal_lines += 1;
        }
        // `track()` showed an event it journaled as held or queued already;
        // only a held one that a login took since has news.
        let news = !journaled || (tracked_as.is_none() && user.is_some());
        let size = size.unwrap_or(event.json().len());
        let evicted = self.queue.push(Pending {
            user,
            event,
            size,
            ready_at: now,
            in_flight: false,
        });
        if news {
            self.effects.push(Effect::Fate { id, fate });
        }
        if self.journal_lines > 2 * self.queue.len() + JOURNAL_SLACK {
            self.rewrite_journal();
        }
        if let Some(evicted) = evicted {
            let reason = if evicted.user.is_none() {
                DropReason::NoSession
            } else {
                DropReason::QueueFull
            };
            self.counters.dropped += 1;
            self.finish(vec![evicted.event.id], |_| Fate::Dropped { reason });
        }
    }

    /// Sends what can be sent without waiting for the interval (flush, logout);
    /// a wait the server named still holds.
    pub fn expedite(&mut self, now: u64) {
        self.urgent = true;
        if !self.server_named_wait {
            self.not_before = now;
        }
    }

    fn drop_where(&mut self, matches: impl FnMut(&Pending) -> bool, reason: DropReason) {
        let removed = self.queue.remove_where(matches);
        if removed.is_empty() {
            return;
        }
        self.counters.dropped += removed.len() as u64;
        self.finish(removed.into_iter().map(|p| p.event.id).collect(), |_| {
            Fate::Dropped { reason }
        });
    }

    /// Removes events from the queue for good, journals it and shows their fates.
    fn finish(&mut self, ids: Vec<Uuid>, mut fate: impl FnMut(Uuid) -> Fate) {
        self.queue.remove_ids(&ids);
        for &id in &ids {
            self.effects.push(Effect::Fate { id, fate: fate(id) });
        }
        self.journal(Record::Done { ids });
    }

    /// Forgets tokens nobody needs, ends urgency once nothing is sendable, and
    /// keeps the journal short.
    fn tidy(&mut self) {
        // Events waiting on disk may belong to anyone: keep every token then.
        if !self.disk_backlog {
            let queue = &self.queue;
            self.sessions.forget_unless(|user| queue.has_user(user));
        }
        if self.sendable_count() == 0 && !self.disk_backlog {
            self.urgent = false;
        }
        if self.queue.is_empty() || self.journal_lines > 2 * self.queue.len() + JOURNAL_SLACK {
            self.rewrite_journal();
        }
    }

    fn sendable_count(&self) -> usize {
        self.queue
            .users()
            .filter(|(user, _)| self.sessions.sendable(user))
            .map(|(_, n)| n)
            .sum()
    }

    fn journal(&mut self, record: Record) {
        self.journal_lines += 1;
        self.effects.push(Effect::Journal(record));
    }

    fn journal_kept(&mut self, user: Option<String>, event: EncodedEvent) {
        self.journal_lines += 1;
        self.effects.push(Effect::JournalKept { user, event });
    }

    fn rewrite_journal(&mut self) {
        if !self.rewrite_asked {
            self.rewrite_asked = true;
            self.effects.push(Effect::RewriteJournal);
        }
    }

    /// The journal's full content now: the tokens still needed and every unsent event.
    pub fn snapshot(&mut self) -> Vec<u8> {
        let tokens: Vec<Record> = self
            .sessions
            .iter()
            .filter(|(user, _)| self.disk_backlog || self.queue.has_user(user))
            .map(|(user, record)| Record::Token {
                user: user.to_string(),
                token: record.token.clone(),
            })
            .collect();
        let mut snapshot = encode(&tokens);
        snapshot.reserve(self.live_bytes());
        for pending in self.queue.iter() {
            encode_kept(pending.user.as_deref(), &pending.event, &mut snapshot);
        }
        self.journal_lines = tokens.len() + self.queue.len();
        snapshot
    }

    /// Says whether more events wait in the journal on disk than the queue
    /// holds; their users' tokens are kept meanwhile.
    pub fn set_disk_backlog(&mut self, waiting: bool) {
        self.disk_backlog = waiting;
    }

    /// About the size of [`Engine::snapshot`] now, in bytes.
    pub fn live_bytes(&self) -> usize {
        // Each line wraps its event in `{"kept":{"user":...,"event":...}}`.
        self.queue.bytes() + self.queue.len() * 64
    }

    /// Events the journal dropped before they were read, oldest first, to
    /// stay within its bound: counted and shown as dropped for a full queue.
    pub fn dropped_unread(&mut self, ids: Vec<Uuid>) {
        self.counters.dropped += ids.len() as u64;
        let fate = Fate::Dropped {
            reason: DropReason::QueueFull,
        };
        for id in ids {
            self.effects.push(Effect::Fate {
                id,
                fate: fate.clone(),
            });
        }
    }

    /// Events the queue can take before it is full.
    pub fn room(&self) -> usize {
        self.queue.room()
    }

    /// Whether everything sendable is sent: `Some(true)` when nothing is left
    /// but held events, `Some(false)` when what is left cannot go until a login,
    /// `None` while work remains.
    pub fn settled(&self) -> Option<bool> {
        if !self.in_flight.is_empty() || self.sendable_count() > 0 {
            return None;
        }
        Some(self.queue.len() == self.queue.held())
    }

    /// Effects produced since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        self.rewrite_asked = false;
        std::mem::take(&mut self.effects)
    }

    /// Running totals.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Unsent events: (queued for a user, held for a login).
    pub fn backlog(&self) -> (usize, usize) {
        (self.queue.len() - self.queue.held(), self.queue.held())
    }
}

#[cfg(test)]
mod optout_tests;
#[cfg(test)]
mod tests;
