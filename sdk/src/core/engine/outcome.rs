//! What the collector's answer to a batch does to the queue, the sessions and
//! the retry schedule.

use usage_protocol::BatchResponse;
use uuid::Uuid;

use super::{Effect, Engine, InFlight};
use crate::core::debugger::{DropReason, Fate};
use crate::core::queue::UserKey;
use crate::core::reply::{judge, HttpReply, TransportError, Verdict};
use crate::core::session::CachedSession;

impl Engine {
    /// The outcome of the batch `flight`. `random` feeds the jitter.
    pub fn on_reply(
        &mut self,
        flight: u64,
        result: Result<HttpReply, TransportError>,
        now: u64,
        random: u64,
    ) {
        let Some(at) = self.in_flight.iter().position(|f| f.flight == flight) else {
            return;
        };
        let flight = self.in_flight.remove(at);
        let verdict = judge(result);
        let sent_again = match &verdict {
            Verdict::Retry { .. } | Verdict::Unauthorized { .. } => true,
            Verdict::Split => flight.ids.len() > 1,
            Verdict::Delivered(_) | Verdict::Refused { .. } => false,
        };
        if sent_again && self.opted_out(&flight.user) {
            // The user was found opted out while the batch was on the wire:
            // its events are not sent again, whatever kept them from arriving.
            self.drop_flight(flight);
            self.tidy();
            return;
        }
        match verdict {
            Verdict::Delivered(response) => self.delivered(flight, &response),
            Verdict::Retry { after_ms } => {
                let delay = match after_ms {
                    Some(wait) => self.backoff.fail_for(wait),
                    None => self.backoff.fail(random),
                };
                self.server_named_wait = after_ms.is_some();
                self.not_before = now.saturating_add(delay);
                self.requeue(&flight.ids, Fate::Queued);
            }
            Verdict::Split if flight.ids.len() > 1 => {
                if flight.used_split {
                    self.splits.pop();
                }
                let n = flight.ids.len();
                self.splits.push(n - n / 2);
                self.splits.push(n / 2);
                self.not_before = now;
                self.requeue(&flight.ids, Fate::Queued);
            }
            Verdict::Split => self.refused(flight, 413, Some("payload_too_large".to_owned())),
            Verdict::Unauthorized { code } => {
                if let Some(record) = self.sessions.get_mut(&flight.user) {
                    record.blocked = Some(code.clone());
                }
                self.requeue(&flight.ids, Fate::AwaitingLogin { code: code.clone() });
                self.effects.push(Effect::Unauthorized { code });
            }
            Verdict::Refused { status, code } => self.refused(flight, status, code),
        }
        self.tidy();
    }

    /// Whether the SDK knows `user` is opted out now (a login's token, or the server's hint).
    fn opted_out(&self, user: &UserKey) -> bool {
        self.sessions.get(user).is_some_and(|r| r.opted_out)
    }

    /// Ends a batch that would be sent again but whose user was found opted
    /// out meanwhile: its events are dropped as opted out.
    fn drop_flight(&mut self, flight: InFlight) {
        if flight.used_split {
            self.splits.pop();
        }
        self.counters.dropped += flight.ids.len() as u64;
        self.finish(flight.ids, |_| Fate::Dropped {
            reason: DropReason::OptedOut,
        });
    }

    fn delivered(&mut self, flight: InFlight, response: &BatchResponse) {
        self.backoff.reset();
        self.server_named_wait = false;
        if flight.used_split {
            self.splits.pop();
        }
        let fates: Vec<Fate> = (0..flight.ids.len())
            .map(|index| {
                let rejected = response
                    .rejected
                    .iter()
                    .find(|r| usize::try_from(r.index).ok() == Some(index));
                match rejected {
                    Some(r) => Fate::Rejected { code: r.code },
                    None if response.opted_out => Fate::Discarded,
                    None => Fate::Accepted,
                }
            })
            .collect();
        for fate in &fates {
            match fate {
                Fate::Rejected { .. } => self.counters.refused += 1,
                Fate::Discarded => self.counters.discarded += 1,
                _ => self.counters.accepted += 1,
            }
        }
        let mut fates = fates.into_iter();
        self.finish(flight.ids, |_| fates.next().unwrap_or(Fate::Accepted));
        if response.opted_out {
            self.server_opted_out(&flight.user);
        }
    }

    fn server_opted_out(&mut self, user: &UserKey) {
        let Some(record) = self.sessions.get_mut(user) else {
            return;
        };
        record.opted_out = true;
        let generation = record.generation;
        let cached = CachedSession {
            token: record.token.clone(),
            session_id: record.session_id.clone(),
            server_opted_out: true,
        };
        if self.sessions.current() == Some(user) {
            self.effects.push(Effect::ServerOptedOut { generation });
            self.effects.push(Effect::CacheSession(Some(cached)));
        }
        // Batches of this user still on the wire get their fates from their
        // own answers (or are dropped then, if those are failures).
        self.drop_where(
            |p| p.user.as_ref() == Some(user) && !p.in_flight,
            DropReason::OptedOut,
        );
    }

    fn refused(&mut self, flight: InFlight, status: u16, code: Option<String>) {
        self.backoff.reset();
        self.server_named_wait = false;
        if flight.used_split {
            self.splits.pop();
        }
        self.counters.refused += flight.ids.len() as u64;
        self.finish(flight.ids, |_| Fate::Refused {
            status,
            code: code.clone(),
        });
    }

    fn requeue(&mut self, ids: &[Uuid], fate: Fate) {
        self.queue.set_in_flight(ids, false);
        for &id in ids {
            self.effects.push(Effect::Fate {
                id,
                fate: fate.clone(),
            });
        }
    }
}
