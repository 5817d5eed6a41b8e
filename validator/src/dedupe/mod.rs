//! Remembers accepted event ids so a retried event is not stored twice.
//!
//! The window is bounded: the newest `capacity` ids are kept (default one
//! million), oldest forgotten first. Clients retry within minutes, so a
//! window of that size covers every retry in practice. At startup the window
//! is refilled from the sink, which makes dedupe survive restarts.
//!
//! Ids are kept in arrival order, and two indexes find them there:
//!
//! * Recent ids, by the time a UUID v7 carries in its top 48 bits: a ring of
//!   small tables, one per 4 ms slice, covering the last hour and the next
//!   few minutes. Clients make ids just before they send them, so a batch's
//!   ids land in one or two slices whose tables are in cache.
//! * All other ids (older, far ahead, or not v7 at all) in a table of
//!   cache-line buckets, which slices also move their ids to when they leave
//!   the ring. Such ids cost a read of memory each, about twice the time.
//!
//! Answers are exact either way: a slot holds part of a key's hash and the
//! key's place in arrival order, and an id is a duplicate only if the key at
//! that place is equal to it.
//!
//! Memory is bounded whatever ids clients choose: at most 112 bytes per id
//! of capacity (16 in arrival order, 16 to 32 of buckets, and a budget of 64
//! for the slices' tables, past which keys of further slices go to the
//! buckets), 8 bytes per slice of the ring (8 MiB for the default ring), and
//! 8 MiB of spare tables; at most 114 MB for the default million ids. Ids of
//! failed batches that are forgotten leave gaps, compacted once they
//! outnumber the capacity. The refill from the sink ([`Dedupe::refill`])
//! adds one piece of 4,096 keys.

use std::hash::BuildHasher;
use std::sync::Mutex;

use hashbrown::DefaultHashBuilder;
use uuid::Uuid;

/// Default number of ids remembered.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// Largest window; a larger capacity is lowered to this. Table slots address
/// the arrival order with 32 bits.
pub const MAX_CAPACITY: usize = 1 << 30;

/// A set of recently accepted `(org, event id)` pairs.
#[derive(Debug)]
pub struct Dedupe {
    // Both hashes are keyed with random seeds: event ids come from clients,
    // who could otherwise pick ids that all land in one place of the table.
    org_hasher: DefaultHashBuilder,
    inner: Mutex<Window>,
}

mod refill;
mod window;

use window::Window;

impl Default for Dedupe {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Dedupe {
    /// A window remembering at most `capacity` ids (1 to [`MAX_CAPACITY`]).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            org_hasher: DefaultHashBuilder::default(),
            inner: Mutex::new(Window::new(capacity.clamp(1, MAX_CAPACITY))),
        }
    }

    /// The key of an id within an org: ids of different orgs never collide.
    pub fn key(&self, org: &str, id: Uuid) -> u128 {
        self.org_bits(org) ^ id.as_u128()
    }

    /// The keys of `ids` within one org, as [`Dedupe::key`] gives them.
    pub fn keys(&self, org: &str, ids: impl IntoIterator<Item = Uuid>) -> Vec<u128> {
        let org_bits = self.org_bits(org);
        ids.into_iter().map(|id| org_bits ^ id.as_u128()).collect()
    }

    /// Mixed into an id's low 64 bits. The high bits are left as they are:
    /// in a UUID v7 they are its time, which the window uses to keep recent
    /// ids together.
    fn org_bits(&self, org: &str) -> u128 {
        u128::from(self.org_hasher.hash_one(org))
    }

    /// Records each key; returns, per key, whether it was new. A key repeated
    /// within `keys` is new only the first time.
    pub fn insert_all(&self, keys: &[u128], fresh: &mut Vec<bool>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        window.insert_all(keys, fresh, now);
    }

    /// Records the keys of a batch about to be stored, as
    /// [`Dedupe::insert_all`] does, and holds the new ones in a reservation:
    /// commit it once their events are stored. Dropped uncommitted (the
    /// store failed, or the request was abandoned), it forgets them, so the
    /// batch's retry is accepted rather than taken for a duplicate.
    pub fn reserve(&self, mut keys: Vec<u128>, fresh: &mut Vec<bool>) -> Reservation<'_> {
        self.insert_all(&keys, fresh);
        let mut new = fresh.iter();
        keys.retain(|_| new.next().is_some_and(|&new| new));
        Reservation { dedupe: self, keys }
    }

    /// Forgets keys recorded by [`Dedupe::insert_all`].
    fn forget(&self, keys: &[u128]) {
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for &key in keys {
            window.remove(key);
        }
        window.drop_gaps();
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).len
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Ids of one batch recorded in a [`Dedupe`] window before the batch is
/// stored: [`Reservation::commit`] once stored; dropping it forgets them.
#[derive(Debug)]
#[must_use = "dropping a reservation forgets its ids; commit it once the events are stored"]
pub struct Reservation<'a> {
    dedupe: &'a Dedupe,
    keys: Vec<u128>,
}

impl Reservation<'_> {
    /// The events are stored: their ids stay remembered.
    pub fn commit(mut self) {
        self.keys.clear();
    }

    /// How many new ids it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no id.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.keys.is_empty() {
            self.dedupe.forget(&self.keys);
        }
    }
}

#[cfg(test)]
mod tests;
