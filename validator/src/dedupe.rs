//! Remembers accepted event ids so a retried event is not stored twice.
//!
//! The window is bounded: the newest `capacity` ids are kept (default one
//! million, about 32 MB: 16 bytes per id in arrival order plus two 8-byte
//! table slots), oldest forgotten first. Clients retry within minutes, so a
//! window of that size covers every retry in practice. At startup the window
//! is refilled from the sink, which makes dedupe survive restarts.
//!
//! Answers are exact: a table slot holds part of a key's hash and the key's
//! place in arrival order, and an id is a duplicate only if the key at that
//! place is equal to it.

use std::collections::VecDeque;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Mutex;

use hashbrown::{DefaultHashBuilder, HashSet};
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

/// The remembered keys, oldest first, and an open-addressing table (linear
/// probing) that finds a key's place in that order.
///
/// Evicting the oldest key only drops it from the front of `order`: its slot
/// expires with it (its sequence number falls out of the window) and a sweep
/// frees expired slots a few at a time, in slot order. An eviction thus costs
/// no random access into a table far larger than the core's caches.
struct Window {
    hasher: DefaultHashBuilder,
    /// `order[i]` was given sequence number `first_seq + i` (wrapping).
    order: VecDeque<u128>,
    first_seq: u32,
    /// Sequence numbers of forgotten keys that are still in `order`: their
    /// slots are freed at once, their places in `order` when they reach
    /// either end or the window is compacted.
    gaps: HashSet<u32, DefaultHashBuilder>,
    /// [`FREE`], or a key's hash in the high 31 bits, [`USED`], and the key's
    /// sequence number in the low 32 bits. Remembered keys fill at most half.
    slots: Vec<u64>,
    /// A key's first slot is its hash shifted right by this much.
    shift: u32,
    /// The next slot the sweep looks at.
    sweep: usize,
    len: usize,
    capacity: usize,
}

const FREE: u64 = 0;
const USED: u64 = 1 << 32;
const SEQ_BITS: u64 = 0xffff_ffff;

/// Slots the sweep looks at per insert. Each insert expires at most one slot
/// and a pass over the table takes `slots / SWEEP` inserts, so expired slots
/// fill about an eighth of it at most.
const SWEEP: usize = 8;

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

    fn org_bits(&self, org: &str) -> u128 {
        u128::from(self.org_hasher.hash_one(org)) << 64
    }

    /// Records each key; returns, per key, whether it was new. A key repeated
    /// within `keys` is new only the first time.
    pub fn insert_all(&self, keys: &[u128], fresh: &mut Vec<bool>) {
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        fresh.clear();
        fresh.reserve(keys.len());
        let hashes: Vec<u64> = keys.iter().map(|&key| window.hash(key)).collect();
        window.warm(&hashes);
        for (&key, &hash) in keys.iter().zip(&hashes) {
            fresh.push(window.insert(key, hash));
        }
    }

    /// Forgets keys recorded by [`Dedupe::insert_all`] whose events could not be
    /// stored, so their retry is accepted.
    pub fn forget(&self, keys: &[u128]) {
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

impl Window {
    fn new(capacity: usize) -> Self {
        let size = (2 * capacity).next_power_of_two().max(8);
        Self {
            hasher: DefaultHashBuilder::default(),
            order: VecDeque::with_capacity(capacity),
            first_seq: 0,
            gaps: HashSet::default(),
            slots: vec![FREE; size],
            shift: 64 - size.trailing_zeros(),
            sweep: 0,
            len: 0,
            capacity,
        }
    }

    fn hash(&self, key: u128) -> u64 {
        self.hasher.hash_one(key)
    }

    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    fn next(&self, pos: usize) -> usize {
        (pos + 1) & (self.slots.len() - 1)
    }

    fn seq_of(&self, index: usize) -> u32 {
        self.first_seq.wrapping_add(index as u32)
    }

    /// Where in `order` the key of a used slot is; `None` once it has left
    /// the window. (Expired slots are freed long before sequence numbers
    /// wrap around to theirs.)
    fn index_of(&self, slot: u64) -> Option<usize> {
        let index = (slot as u32).wrapping_sub(self.first_seq) as usize;
        (index < self.order.len()).then_some(index)
    }

    /// `Ok` with the slot holding `key` if it is remembered, else `Err` with
    /// the slot it should take: the first expired one on its way, or the
    /// free one that ends it.
    fn probe(&self, key: u128, hash: u64) -> Result<usize, usize> {
        let mut pos = self.home(hash);
        let mut expired = None;
        loop {
            let slot = self.slots[pos];
            if slot == FREE {
                return Err(expired.unwrap_or(pos));
            }
            match self.index_of(slot) {
                Some(index) if (slot ^ hash) >> 33 == 0 && self.order[index] == key => {
                    return Ok(pos)
                }
                Some(_) => {}
                None => {
                    expired.get_or_insert(pos);
                }
            }
            pos = self.next(pos);
        }
    }

    /// Loads the first slot of every key about to be inserted before any is
    /// used. A window of a million ids is far larger than the core's caches:
    /// one after another, each load would wait for memory in turn; issued
    /// together they overlap, and the inserts then find their slots in cache.
    fn warm(&self, hashes: &[u64]) {
        let loaded = hashes
            .iter()
            .fold(0, |acc, &hash| acc ^ self.slots[self.home(hash)]);
        // The value is of no use; this keeps the loads from being optimised away.
        std::hint::black_box(loaded);
    }

    /// Remembers `key`, whose hash is `hash`, unless it is; returns whether
    /// it was new.
    fn insert(&mut self, key: u128, hash: u64) -> bool {
        let Err(pos) = self.probe(key, hash) else {
            return false;
        };
        let seq = self.seq_of(self.order.len());
        self.slots[pos] = (hash & !SEQ_BITS) | USED | u64::from(seq);
        self.order.push_back(key);
        self.len += 1;
        if self.len > self.capacity {
            self.evict_oldest();
        }
        self.sweep();
        true
    }

    /// Forgets the oldest remembered key, dropping the gaps before it.
    fn evict_oldest(&mut self) {
        while self.order.pop_front().is_some() {
            let seq = self.first_seq;
            self.first_seq = seq.wrapping_add(1);
            // Gaps are rare: skip hashing when there are none.
            let gap = !self.gaps.is_empty() && self.gaps.remove(&seq);
            if !gap {
                self.len -= 1;
                return;
            }
        }
    }

    /// Whether a slot holds a key that has left the window.
    fn is_expired(&self, slot: u64) -> bool {
        // `&`, not `&&`: no branch to mispredict on half-full slots.
        (slot != FREE) & ((slot as u32).wrapping_sub(self.first_seq) as usize >= self.order.len())
    }

    /// Frees the expired slots among the next [`SWEEP`] slots.
    fn sweep(&mut self) {
        let start = self.sweep;
        let expired = (0..SWEEP).fold(0u32, |mask, i| {
            mask | u32::from(self.is_expired(self.slots[start + i])) << i
        });
        let mut rest = expired;
        while rest != 0 {
            let pos = start + rest.trailing_zeros() as usize;
            rest &= rest - 1;
            // Freeing moves later slots back: a slot moved here may be expired too.
            while self.is_expired(self.slots[pos]) {
                self.free(pos);
            }
        }
        self.sweep = (start + SWEEP) & (self.slots.len() - 1);
    }

    /// Forgets `key` if it is remembered, leaving a gap in the order.
    fn remove(&mut self, key: u128) {
        if let Ok(pos) = self.probe(key, self.hash(key)) {
            self.gaps.insert(self.slots[pos] as u32);
            self.free(pos);
            self.len -= 1;
        }
    }

    /// Empties slot `hole`, moving later slots of its run back so that every
    /// key stays reachable from its first slot without crossing a free one.
    fn free(&mut self, mut hole: usize) {
        let mask = self.slots.len() - 1;
        let mut pos = hole;
        loop {
            pos = self.next(pos);
            let slot = self.slots[pos];
            if slot == FREE {
                break;
            }
            let home = (slot >> self.shift) as usize;
            if pos.wrapping_sub(home) & mask >= pos.wrapping_sub(hole) & mask {
                self.slots[hole] = slot;
                hole = pos;
            }
        }
        self.slots[hole] = FREE;
    }

    /// Drops the gaps at the newest end (a batch forgotten right after it was
    /// recorded leaves no others); compacts when the gaps left behind newer
    /// keys outnumber the capacity, so memory stays bounded.
    fn drop_gaps(&mut self) {
        while let Some(index) = self.order.len().checked_sub(1) {
            if !self.gaps.remove(&self.seq_of(index)) {
                break;
            }
            self.order.pop_back();
        }
        if self.gaps.len() > self.capacity {
            let mut compact = Window::new(self.capacity);
            for (index, &key) in self.order.iter().enumerate() {
                if !self.gaps.contains(&self.seq_of(index)) {
                    compact.insert(key, compact.hash(key));
                }
            }
            *self = compact;
        }
    }
}

impl fmt::Debug for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Window")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn remembered(dedupe: &Dedupe, key: u128) -> bool {
        let window = dedupe.inner.lock().expect("not poisoned");
        window.probe(key, window.hash(key)).is_ok()
    }

    #[test]
    fn a_repeated_id_is_new_once_per_org() {
        let dedupe = Dedupe::with_capacity(10);
        let id = Uuid::now_v7();
        let keys = [
            dedupe.key("acme", id),
            dedupe.key("acme", id),
            dedupe.key("other", id),
        ];
        assert_eq!(dedupe.keys("acme", [id, id]), keys[..2]);
        let mut fresh = Vec::new();
        dedupe.insert_all(&keys, &mut fresh);
        assert_eq!(fresh, [true, false, true]);
        dedupe.insert_all(&keys[..1], &mut fresh);
        assert_eq!(fresh, [false]);
    }

    #[test]
    fn the_oldest_ids_leave_a_full_window() {
        let dedupe = Dedupe::with_capacity(3);
        let keys: Vec<u128> = (0..5).map(|_| dedupe.key("acme", Uuid::now_v7())).collect();
        let mut fresh = Vec::new();
        dedupe.insert_all(&keys, &mut fresh);
        assert_eq!(dedupe.len(), 3);
        let kept: Vec<bool> = keys.iter().map(|&k| remembered(&dedupe, k)).collect();
        assert_eq!(kept, [false, false, true, true, true], "oldest first");
        dedupe.insert_all(&keys[..1], &mut fresh);
        assert_eq!(fresh, [true], "forgotten after eviction");
    }

    #[test]
    fn forgotten_ids_are_accepted_again() {
        let dedupe = Dedupe::with_capacity(10);
        let key = dedupe.key("acme", Uuid::now_v7());
        let mut fresh = Vec::new();
        dedupe.insert_all(&[key], &mut fresh);
        dedupe.forget(&[key]);
        assert!(dedupe.is_empty());
        dedupe.insert_all(&[key], &mut fresh);
        assert_eq!(fresh, [true]);
    }

    #[test]
    fn a_forgotten_id_frees_its_place_and_is_skipped_by_eviction() {
        let dedupe = Dedupe::with_capacity(3);
        let mut fresh = Vec::new();
        dedupe.insert_all(&[1, 2, 3], &mut fresh);
        dedupe.forget(&[2]);
        dedupe.insert_all(&[4], &mut fresh);
        assert_eq!(dedupe.len(), 3, "nothing evicted: 2 made room");
        dedupe.insert_all(&[5, 6], &mut fresh);
        let kept: Vec<u128> = (1..=6).filter(|&k| remembered(&dedupe, k)).collect();
        assert_eq!(kept, [4, 5, 6]);
    }

    #[test]
    fn gaps_left_by_failed_batches_stay_bounded() {
        let dedupe = Dedupe::with_capacity(4);
        let mut fresh = Vec::new();
        for batch in 0..1000u128 {
            // A failed batch, then a stored one that lands after it.
            dedupe.insert_all(&[2 * batch], &mut fresh);
            dedupe.insert_all(&[2 * batch + 1], &mut fresh);
            dedupe.forget(&[2 * batch]);
            let window = dedupe.inner.lock().expect("not poisoned");
            assert!(window.order.len() <= 2 * window.capacity + 1);
        }
        // 1998 evicted 1991 and 1999 evicted 1993 before 1998 was forgotten.
        let kept: Vec<u128> = (1990..2000).filter(|&k| remembered(&dedupe, k)).collect();
        assert_eq!(kept, [1995, 1997, 1999]);
    }

    #[test]
    fn a_large_window_fills_to_its_bound() {
        let dedupe = Dedupe::with_capacity(50_000);
        let mut fresh = Vec::new();
        let keys: Vec<u128> = (0..120_000).map(|_| Uuid::now_v7().as_u128()).collect();
        for batch in keys.chunks(500) {
            dedupe.insert_all(batch, &mut fresh);
            assert!(fresh.iter().all(|&new| new));
        }
        assert_eq!(dedupe.len(), 50_000);
        assert!(!remembered(&dedupe, keys[69_999]));
        assert!(remembered(&dedupe, keys[70_000]));
        dedupe.insert_all(&keys[70_000..], &mut fresh);
        assert!(
            fresh.iter().all(|&new| !new),
            "the newest are all duplicates"
        );
    }

    #[test]
    fn the_sweep_keeps_expired_slots_few() {
        let dedupe = Dedupe::with_capacity(1000);
        let mut fresh = Vec::new();
        for batch in 0..100u128 {
            let keys: Vec<u128> = (0..100).map(|i| batch * 100 + i).collect();
            dedupe.insert_all(&keys, &mut fresh);
        }
        let window = dedupe.inner.lock().expect("not poisoned");
        assert_eq!(window.len, 1000);
        let used = window.slots.iter().filter(|&&slot| slot != FREE).count();
        let expired_bound = window.slots.len() / (SWEEP - 1);
        assert!(used <= window.len + expired_bound, "{used} slots used");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u128>),
        Forget(Vec<u128>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let keys = || prop::collection::vec(0..24u128, 0..8);
        prop_oneof![keys().prop_map(Op::Insert), keys().prop_map(Op::Forget)]
    }

    /// The window as it was first written: a set and a queue of its keys.
    #[derive(Default)]
    struct Model {
        ids: HashSet<u128>,
        order: VecDeque<u128>,
    }

    proptest! {
        #[test]
        fn the_window_matches_a_plain_set_and_queue(
            capacity in 1..8usize,
            ops in prop::collection::vec(op(), 1..60),
        ) {
            let dedupe = Dedupe::with_capacity(capacity);
            let mut model = Model::default();
            let mut fresh = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(keys) => {
                        dedupe.insert_all(&keys, &mut fresh);
                        let mut expected = Vec::new();
                        for key in keys {
                            let new = model.ids.insert(key);
                            if new {
                                model.order.push_back(key);
                                if model.order.len() > capacity {
                                    let oldest = model.order.pop_front().expect("over capacity");
                                    model.ids.remove(&oldest);
                                }
                            }
                            expected.push(new);
                        }
                        prop_assert_eq!(&fresh, &expected);
                    }
                    Op::Forget(keys) => {
                        dedupe.forget(&keys);
                        for key in keys {
                            model.ids.remove(&key);
                        }
                        model.order.retain(|k| model.ids.contains(k));
                    }
                }
                prop_assert_eq!(dedupe.len(), model.ids.len());
                for key in 0..24 {
                    prop_assert_eq!(remembered(&dedupe, key), model.ids.contains(&key));
                }
            }
        }
    }
}
