//! Which batch goes on the wire next, and when.

use time::OffsetDateTime;

use super::{Effect, Engine, InFlight, Outgoing};
use crate::core::batcher::{due_at, select};
use crate::core::debugger::Fate;
use crate::core::encoded::{encode_batch, EncodedEvent};
use crate::core::queue::UserKey;

impl Engine {
    /// Whether a batch goes without waiting to fill up: after a flush or a
    /// logout, until all is sent; and while events wait on disk, since
    /// delivery is behind then and a batch may never fill in memory.
    fn send_now(&self) -> bool {
        self.urgent || self.disk_backlog
    }

    /// Whether another batch may go on the wire now.
    fn can_send(&self) -> bool {
        self.in_flight.len() < self.config.max_in_flight.max(1)
    }

    /// The next batch to put on the wire, if one is due at `now`; call again
    /// for more while batches may be pipelined.
    pub fn poll(&mut self, now: u64, sent_at: OffsetDateTime) -> Option<Outgoing> {
        if !self.can_send() || now < self.not_before {
            return None;
        }
        let cap = self.splits.last().copied().unwrap_or(usize::MAX);
        let sessions = &self.sessions;
        let Some(selection) = select(
            self.queue.iter(),
            |u| sessions.sendable(u),
            &self.config.batch,
            cap,
            now,
            self.send_now(),
        ) else {
            if self.sendable_count() == 0 && !self.disk_backlog {
                self.urgent = false;
            }
            return None;
        };
        let token = self.sessions.get(&selection.user)?.token.clone();
        let ids = selection.ids;
        let events: Vec<&EncodedEvent> = ids
            .iter()
            .filter_map(|id| self.queue.get(id))
            .map(|p| &p.event)
            .collect();
        let body = encode_batch(sent_at, &self.config.sdk, &events);
        self.queue.set_in_flight(&ids, true);
        let attempt = self.backoff.failures() + 1;
        for &id in &ids {
            self.effects.push(Effect::Fate {
                id,
                fate: Fate::Sent { attempt },
            });
        }
        self.counters.attempts += 1;
        let events = ids.len();
        let flight = self.next_flight;
        self.next_flight += 1;
        self.in_flight.push(InFlight {
            flight,
            user: selection.user,
            ids,
            used_split: cap != usize::MAX,
        });
        Some(Outgoing {
            flight,
            token,
            body,
            events,
        })
    }

    /// When [`Engine::poll`] may next have a batch, if nothing else happens first.
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        if !self.can_send() {
            return None;
        }
        let sendable = |u: &UserKey| self.sessions.sendable(u);
        let cap = self.splits.last().copied().unwrap_or(usize::MAX);
        let due = if select(
            self.queue.iter(),
            sendable,
            &self.config.batch,
            cap,
            now,
            self.send_now(),
        )
        .is_some()
        {
            now
        } else {
            due_at(self.queue.iter(), sendable, &self.config.batch)?
        };
        Some(due.max(self.not_before))
    }
}
