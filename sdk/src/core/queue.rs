//! The bounded queue of unsent events, each tagged with the user it belongs to
//! (or none yet: held until a login).
//!
//! Events sit in tracking order in a ring of slots; an id index finds an
//! event's slot, so acknowledging a batch or marking it on the wire costs the
//! size of the batch, not the size of the queue. A removed event leaves an
//! empty slot that is dropped once it reaches the front; the ring is packed
//! again when holes outnumber the events, which keeps that cost amortised.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use uuid::Uuid;

use super::encoded::EncodedEvent;

use super::id_hash::IdHash;

/// Who an event belongs to: `org/sub` of the login it was tracked under.
pub type UserKey = Arc<str>;

/// Default bound of the queue held in memory, in events.
pub const DEFAULT_MAX_QUEUED: usize = 10_000;
/// Default bound of events held before the first login.
pub const DEFAULT_MAX_HELD: usize = 1_000;

/// Holes allowed beyond the number of events before the ring is packed.
const HOLE_SLACK: usize = 64;

/// One unsent event.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its user, or `None` while held for a login.
    pub user: Option<UserKey>,
    /// The event as it will be sent.
    pub event: EncodedEvent,
    /// Its size in a batch body, in bytes.
    pub size: usize,
    /// When it became ready to send (monotonic milliseconds).
    pub ready_at: u64,
    /// Whether it is in a batch on the wire now.
    pub in_flight: bool,
}

#[cfg(test)]
impl Pending {
    /// An event `n` (its id) of `user`, `size` bytes in a body, ready at
    /// `ready_at`, not on the wire: for tests of what keeps events.
    pub(crate) fn sample(n: u128, user: Option<&str>, size: usize, ready_at: u64) -> Self {
        let event = usage_protocol::Event::new(
            Uuid::from_u128(n),
            "e",
            time::OffsetDateTime::UNIX_EPOCH,
            None,
            None,
        )
        .expect("valid");
        Self {
            user: user.map(UserKey::from),
            event: EncodedEvent::new(&event),
            size,
            ready_at,
            in_flight: false,
        }
    }
}

/// Unsent events in tracking order.
#[derive(Debug)]
pub struct Queue {
    slots: VecDeque<Option<Pending>>,
    /// Position number of `slots[0]`; positions only grow, so they stay valid
    /// while slots are popped from the front.
    base: u64,
    index: HashMap<Uuid, u64, IdHash>,
    /// Positions of held events, oldest first; entries whose event has since
    /// left or been given a user are skipped when met.
    held_order: VecDeque<u64>,
    /// Events per user (held events not counted).
    per_user: HashMap<UserKey, usize>,
    len: usize,
    held: usize,
    bytes: usize,
    max_queued: usize,
    max_held: usize,
}

impl Queue {
    /// An empty queue bounded to `max_queued` events, of which at most
    /// `max_held` may wait for a login.
    pub fn new(max_queued: usize, max_held: usize) -> Self {
        Self {
            slots: VecDeque::new(),
            base: 0,
            index: HashMap::default(),
            held_order: VecDeque::new(),
            per_user: HashMap::new(),
            len: 0,
            held: 0,
            bytes: 0,
            max_queued: max_queued.max(1),
            max_held: max_held.min(max_queued).max(1),
        }
    }

    /// Adds an event; when a bound is reached the oldest event not on the wire
    /// (of the same kind, held or not) makes room and is returned.
    pub fn push(&mut self, pending: Pending) -> Option<Pending> {
        let evicted = if pending.user.is_none() && self.held >= self.max_held {
            self.oldest_held().and_then(|id| self.remove(&id))
        } else if self.len >= self.max_queued {
            let id = self.iter().find(|p| !p.in_flight).map(|p| p.event.id);
            id.and_then(|id| self.remove(&id))
        } else {
            None
        };
        let position = self.base + self.slots.len() as u64;
        match &pending.user {
            Some(user) => *self.per_user.entry(user.clone()).or_insert(0) += 1,
            None => {
                self.held += 1;
                self.held_order.push_back(position);
            }
        }
        self.len += 1;
        self.bytes += pending.size;
        self.index.insert(pending.event.id, position);
        self.slots.push_back(Some(pending));
        evicted
    }

    fn oldest_held(&mut self) -> Option<Uuid> {
        while let Some(&position) = self.held_order.front() {
            match self.at(position) {
                Some(p) if p.user.is_none() => return Some(p.event.id),
                _ => {
                    self.held_order.pop_front();
                }
            }
        }
        None
    }

    fn at(&self, position: u64) -> Option<&Pending> {
        let slot = usize::try_from(position.checked_sub(self.base)?).ok()?;
        self.slots.get(slot)?.as_ref()
    }

    fn at_mut(&mut self, position: u64) -> Option<&mut Pending> {
        let slot = usize::try_from(position.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(slot)?.as_mut()
    }

    /// The event with this id, if it is queued.
    pub fn get(&self, id: &Uuid) -> Option<&Pending> {
        self.at(*self.index.get(id)?)
    }

    /// Removes the event with this id.
    pub fn remove(&mut self, id: &Uuid) -> Option<Pending> {
        let position = self.index.remove(id)?;
        let slot = usize::try_from(position - self.base).ok()?;
        let removed = self.slots.get_mut(slot)?.take()?;
        self.len -= 1;
        self.bytes -= removed.size;
        match &removed.user {
            Some(user) => self.uncount(user),
            None => self.held -= 1,
        }
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        if self.slots.len() > 2 * self.len + HOLE_SLACK {
            self.pack();
        }
        Some(removed)
    }

    fn uncount(&mut self, user: &UserKey) {
        if let Some(count) = self.per_user.get_mut(user) {
            *count -= 1;
            if *count == 0 {
                self.per_user.remove(user);
            }
        }
    }

    /// Drops the holes and numbers the events again from the current base.
    fn pack(&mut self) {
        let events: Vec<Pending> = self.slots.drain(..).flatten().collect();
        self.index.clear();
        self.held_order.clear();
        for (n, pending) in events.into_iter().enumerate() {
            let position = self.base + n as u64;
            self.index.insert(pending.event.id, position);
            if pending.user.is_none() {
                self.held_order.push_back(position);
            }
            self.slots.push_back(Some(pending));
        }
    }

    /// Removes these events; returns those that were queued, in the given order.
    pub fn remove_ids(&mut self, ids: &[Uuid]) -> Vec<Pending> {
        ids.iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Removes and returns every event that `matches` (a walk over the whole
    /// queue: for rare events such as an opt-out).
    pub fn remove_where(&mut self, mut matches: impl FnMut(&Pending) -> bool) -> Vec<Pending> {
        let ids: Vec<Uuid> = self
            .iter()
            .filter(|p| matches(p))
            .map(|p| p.event.id)
            .collect();
        self.remove_ids(&ids)
    }

    /// Gives every held event to `user`, ready from `now`; returns them.
    pub fn release_held(&mut self, user: &UserKey, now: u64) -> Vec<EncodedEvent> {
        let mut released = Vec::new();
        for position in std::mem::take(&mut self.held_order) {
            if let Some(pending) = self.at_mut(position).filter(|p| p.user.is_none()) {
                pending.user = Some(user.clone());
                pending.ready_at = now;
                released.push(pending.event.clone());
            }
        }
        *self.per_user.entry(user.clone()).or_insert(0) += released.len();
        self.held = 0;
        released
    }

    /// Events in tracking order.
    pub fn iter(&self) -> impl Iterator<Item = &Pending> {
        self.slots.iter().flatten()
    }

    /// Marks the events with these ids as on the wire, or back in the queue.
    pub fn set_in_flight(&mut self, ids: &[Uuid], in_flight: bool) {
        for id in ids {
            if let Some(&position) = self.index.get(id) {
                if let Some(pending) = self.at_mut(position) {
                    pending.in_flight = in_flight;
                }
            }
        }
    }

    /// Users with events in the queue, and how many each.
    pub fn users(&self) -> impl Iterator<Item = (&UserKey, usize)> {
        self.per_user.iter().map(|(user, &n)| (user, n))
    }

    /// Whether `user` has events in the queue.
    pub fn has_user(&self, user: &str) -> bool {
        self.per_user.contains_key(user)
    }

    /// Events waiting for a login.
    pub fn held(&self) -> usize {
        self.held
    }

    /// All events, held or not.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Free places below the bound.
    pub fn room(&self) -> usize {
        self.max_queued.saturating_sub(self.len)
    }

    /// The encoded size of all events, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: u128, user: Option<&str>) -> Pending {
        Pending::sample(n, user, 10, 0)
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
        assert_eq!(released[0].id, Uuid::from_u128(2));
        assert_eq!(queue.held(), 0);
        assert!(queue.has_user("a/b"));
    }

    /// The indexed queue against a plain list: same events, same order, same
    /// counts, whatever mix of pushes, removals and releases.
    #[test]
    fn the_indexed_queue_matches_a_plain_list() {
        let mut queue = Queue::new(10_000, 50);
        let mut model: Vec<(u128, Option<&str>)> = Vec::new();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in 0..5_000u128 {
            match next() % 10 {
                0..=5 => {
                    let user = [None, Some("a/b"), Some("a/c")][(next() % 3) as usize];
                    let evicted = queue.push(pending(n, user));
                    assert!(
                        evicted.is_none(),
                        "held events are released before their bound"
                    );
                    model.push((n, user));
                }
                6..=8 if !model.is_empty() => {
                    let at = (next() as usize) % model.len();
                    let (id, _) = model.remove(at);
                    assert!(queue.remove(&Uuid::from_u128(id)).is_some());
                }
                _ => {
                    queue.release_held(&Arc::from("a/b"), 0);
                    for entry in &mut model {
                        entry.1 = entry.1.or(Some("a/b"));
                    }
                }
            }
            if model.iter().filter(|(_, u)| u.is_none()).count() == 50 {
                queue.release_held(&Arc::from("a/c"), 0);
                for entry in &mut model {
                    entry.1 = entry.1.or(Some("a/c"));
                }
            }
            let ids: Vec<u128> = queue.iter().map(|p| p.event.id.as_u128()).collect();
            let expected: Vec<u128> = model.iter().map(|(id, _)| *id).collect();
            assert_eq!(ids, expected);
            assert_eq!(queue.len(), model.len());
            assert_eq!(
                queue.held(),
                model.iter().filter(|(_, u)| u.is_none()).count()
            );
            for user in ["a/b", "a/c"] {
                let count = model.iter().filter(|(_, u)| *u == Some(user)).count();
                assert_eq!(queue.has_user(user), count > 0);
            }
        }
        assert!(queue.slots.len() <= 2 * queue.len() + HOLE_SLACK);
    }
}
