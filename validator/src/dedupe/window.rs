//! The window behind [`super::Dedupe`]: keys in arrival order and a table to find them.

use std::collections::VecDeque;
use std::fmt;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashSet};

/// The remembered keys, oldest first, and an open-addressing table (linear
/// probing) that finds a key's place in that order.
///
/// Evicting the oldest key only drops it from the front of `order`: its slot
/// expires with it (its sequence number falls out of the window) and a sweep
/// frees expired slots a few at a time, in slot order. An eviction thus costs
/// no random access into a table far larger than the core's caches.
pub(super) struct Window {
    hasher: DefaultHashBuilder,
    /// `order[i]` was given sequence number `first_seq + i` (wrapping).
    pub(super) order: VecDeque<u128>,
    first_seq: u32,
    /// Sequence numbers of forgotten keys that are still in `order`: their
    /// slots are freed at once, their places in `order` when they reach
    /// either end or the window is compacted.
    gaps: HashSet<u32, DefaultHashBuilder>,
    /// [`FREE`], or a key's hash in the high 31 bits, [`USED`], and the key's
    /// sequence number in the low 32 bits. Remembered keys fill at most half.
    pub(super) slots: Vec<u64>,
    /// A key's first slot is its hash shifted right by this much.
    shift: u32,
    /// The next slot the sweep looks at.
    sweep: usize,
    pub(super) len: usize,
    pub(super) capacity: usize,
}

pub(super) const FREE: u64 = 0;
const USED: u64 = 1 << 32;
const SEQ_BITS: u64 = 0xffff_ffff;

/// Slots the sweep looks at per insert. Each insert expires at most one slot
/// and a pass over the table takes `slots / SWEEP` inserts, so expired slots
/// fill about an eighth of it at most.
pub(super) const SWEEP: usize = 8;

impl Window {
    pub(super) fn new(capacity: usize) -> Self {
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

    pub(super) fn hash(&self, key: u128) -> u64 {
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
    pub(super) fn probe(&self, key: u128, hash: u64) -> Result<usize, usize> {
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
    pub(super) fn warm(&self, hashes: &[u64]) {
        let loaded = hashes
            .iter()
            .fold(0, |acc, &hash| acc ^ self.slots[self.home(hash)]);
        // The value is of no use; this keeps the loads from being optimised away.
        std::hint::black_box(loaded);
    }

    /// Remembers `key`, whose hash is `hash`, unless it is; returns whether
    /// it was new.
    pub(super) fn insert(&mut self, key: u128, hash: u64) -> bool {
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
    pub(super) fn remove(&mut self, key: u128) {
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
    pub(super) fn drop_gaps(&mut self) {
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
