//! The bounded queue of unsent events, each tagged with the user it belongs to
//! (or none yet: held until a login).

use std::collections::VecDeque;
use std::sync::Arc;

use usage_protocol::Event;
use uuid::Uuid;

/// Who an event belongs to: `org/sub` of the login it was tracked under.
pub type UserKey = Arc<str>;

/// Default bound of the queue, in events.
pub const DEFAULT_MAX_QUEUED: usize = 10_000;
/// Default bound of events held before the first login.
pub const DEFAULT_MAX_HELD: usize = 1_000;

/// One unsent event.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its user, or `None` while held for a login.
    pub user: Option<UserKey>,
    /// The event as it will be sent.
    pub event: Event,
    /// Its size in a batch body, in bytes.
    pub size: usize,
    /// When it became ready to send (monotonic milliseconds).
    pub ready_at: u64,
    /// Whether it is in the batch on the wire now.
    pub in_flight: bool,
}

/// Unsent events in tracking order.
#[derive(Debug)]
pub struct Queue {
    items: VecDeque<Pending>,
    max_queued: usize,
    max_held: usize,
    held: usize,
}

impl Queue {
    /// An empty queue bounded to `max_queued` events, of which at most
    /// `max_held` may wait for a login.
    pub fn new(max_queued: usize, max_held: usize) -> Self {
        Self {
            items: VecDeque::new(),
            max_queued: max_queued.max(1),
            max_held: max_held.min(max_queued).max(1),
            held: 0,
        }
    }

    /// Adds an event; when a bound is reached the oldest event not on the wire
    /// (of the same kind, held or not) makes room and is returned.
    pub fn push(&mut self, pending: Pending) -> Option<Pending> {
        let is_held = pending.user.is_none();
        let evicted = if is_held && self.held >= self.max_held {
            self.remove_first(|p| p.user.is_none())
        } else if self.items.len() >= self.max_queued {
            self.remove_first(|p| !p.in_flight)
        } else {
            None
        };
        if is_held {
            self.held += 1;
        }
        self.items.push_back(pending);
        evicted
    }

    fn remove_first(&mut self, matches: impl Fn(&Pending) -> bool) -> Option<Pending> {
        let index = self.items.iter().position(matches)?;
        let removed = self.items.remove(index)?;
        if removed.user.is_none() {
            self.held -= 1;
        }
        Some(removed)
    }

    /// Removes and returns every event that `matches`.
    pub fn remove_where(&mut self, mut matches: impl FnMut(&Pending) -> bool) -> Vec<Pending> {
        let mut removed = Vec::new();
        let mut kept = VecDeque::with_capacity(self.items.len());
        for pending in self.items.drain(..) {
            if matches(&pending) {
                removed.push(pending);
            } else {
                kept.push_back(pending);
            }
        }
        self.items = kept;
        self.held = self.items.iter().filter(|p| p.user.is_none()).count();
        removed
    }

    /// Gives every held event to `user`, ready from `now`; returns their ids.
    pub fn release_held(&mut self, user: &UserKey, now: u64) -> Vec<Uuid> {
        let mut released = Vec::new();
        for pending in self.items.iter_mut().filter(|p| p.user.is_none()) {
            pending.user = Some(user.clone());
            pending.ready_at = now;
            released.push(pending.event.id);
        }
        self.held = 0;
        released
    }

    /// Events in tracking order.
    pub fn iter(&self) -> impl Iterator<Item = &Pending> {
        self.items.iter()
    }

    /// Marks the events with these ids as on the wire, or back in the queue.
    pub fn set_in_flight(&mut self, ids: &[Uuid], in_flight: bool) {
        for pending in self.items.iter_mut().filter(|p| ids.contains(&p.event.id)) {
            pending.in_flight = in_flight;
        }
    }

    /// Events waiting for a login.
    pub fn held(&self) -> usize {
        self.held
    }

    /// All events, held or not.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn pending(n: u128, user: Option<&str>) -> Pending {
        Pending {
            user: user.map(Arc::from),
            event: Event::new(
                Uuid::from_u128(n),
                "e",
                OffsetDateTime::UNIX_EPOCH,
                None,
                None,
            )
            .expect("valid"),
            size: 10,
            ready_at: 0,
            in_flight: false,
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_event_not_on_the_wire() {
        let mut queue = Queue::new(2, 2);
        queue.push(pending(1, Some("a/b")));
        queue.set_in_flight(&[Uuid::from_u128(1)], true);
        queue.push(pending(2, Some("a/b")));
        let evicted = queue.push(pending(3, Some("a/b"))).expect("evicts");
        assert_eq!(evicted.event.id, Uuid::from_u128(2));
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn held_events_have_their_own_bound_and_go_to_the_next_login() {
        let mut queue = Queue::new(10, 1);
        queue.push(pending(1, None));
        let evicted = queue.push(pending(2, None)).expect("evicts");
        assert_eq!(evicted.event.id, Uuid::from_u128(1));
        let released = queue.release_held(&Arc::from("a/b"), 5);
        assert_eq!(released, [Uuid::from_u128(2)]);
        assert_eq!(queue.held(), 0);
    }
}
