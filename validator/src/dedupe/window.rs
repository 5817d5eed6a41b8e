//! The window behind [`super::Dedupe`]: keys in arrival order and a table to find them.

use std::collections::VecDeque;
use std::fmt;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashSet};

/// The remembered keys, oldest first, and a table of cache-line buckets that
/// finds a key's place in that order.
///
/// A key lives in its home bucket, or, when that bucket was full, in the
/// first bucket after it with room. A slot names its key's place in the
/// order by sequence number, so evicting the oldest key only drops it from
/// the front of `order`: every slot pointing before the front is expired at
/// once and counts as free. Nothing is swept and nothing moves, so an insert
/// touches one line of the table (rarely two) and the two ends of `order`,
/// which are read and written in sequence.
pub(super) struct Window {
    hasher: DefaultHashBuilder,
    /// `order[i]` was given sequence number `ring_seq + i`.
    pub(super) order: VecDeque<u128>,
    /// The keys a batch adds, in order after `order`. They join it in one
    /// copy when the batch is done, which costs far less than a write per
    /// key into lines of `order` that have left the cache.
    pending: Vec<u128>,
    ring_seq: u64,
    /// The oldest sequence number in the window. Only while a batch is
    /// inserted can it be ahead of `ring_seq`: the places it passed leave
    /// `order` with the batch's copy.
    first_seq: u64,
    /// Sequence numbers of forgotten keys that are still in `order`: their
    /// slots are freed at once, their places in `order` when they reach
    /// either end or the window is compacted.
    gaps: HashSet<u64, DefaultHashBuilder>,
    pub(super) buckets: Vec<Bucket>,
    /// A key's home bucket is its hash shifted right by this much.
    shift: u32,
    pub(super) len: usize,
    pub(super) capacity: usize,
}

/// One cache line: an overflow mark, a cursor and [`SLOTS`] slots.
///
/// A slot is [`FREE`], or [`USED`] with part of the key's hash above bit 48
/// and the low 48 bits of its sequence number below. (Sequence numbers
/// repeat after 2^48 ids, some nine years at a million ids a second; a slot
/// left untouched that long could look remembered again, and its key is then
/// still compared in full.)
///
/// Slots are filled in turn, from the cursor on, so the slot under the
/// cursor usually holds the bucket's oldest key: when that key is still
/// remembered, the bucket is full unless a forgotten key left a slot free,
/// which a look over the other slots finds.
///
/// The mark is one more than the newest sequence number of a key that found
/// this bucket full and went on to the next; a search goes on past the
/// bucket only while that key may still be in the window.
#[derive(Clone, Copy)]
#[repr(align(64))]
pub(super) struct Bucket {
    overflow: u64,
    pub(super) slots: [u64; SLOTS],
}

pub(super) const SLOTS: usize = 7;
pub(super) const FREE: u64 = 0;
const USED: u64 = 1 << 63;
const SEQ_BITS: u64 = (1 << 48) - 1;
const TAG_BITS: u64 = 0x7fff << 48;
/// The cursor sits in the top bits of the overflow mark.
const CURSOR_SHIFT: u32 = 61;
const MARK_BITS: u64 = (1 << CURSOR_SHIFT) - 1;

impl Bucket {
    fn cursor(&self) -> usize {
        (self.overflow >> CURSOR_SHIFT) as usize
    }

    fn mark(&self) -> u64 {
        self.overflow & MARK_BITS
    }

    /// The word holding both a cursor and a mark.
    fn meta(cursor: usize, mark: u64) -> u64 {
        (cursor as u64) << CURSOR_SHIFT | mark
    }
}

impl Window {
    pub(super) fn new(capacity: usize) -> Self {
        // About twice as many slots as keys: a bucket holds 3.8 keys on
        // average and one in twenty overflows into the next.
        let buckets = ((2 * capacity).next_power_of_two() / 8).max(2);
        Self {
            hasher: DefaultHashBuilder::default(),
            order: VecDeque::with_capacity(capacity + 1),
            pending: Vec::new(),
            ring_seq: 0,
            first_seq: 0,
            gaps: HashSet::default(),
            buckets: vec![
                Bucket {
                    overflow: 0,
                    slots: [FREE; SLOTS]
                };
                buckets
            ],
            shift: 64 - buckets.trailing_zeros(),
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

    fn next(&self, bucket: usize) -> usize {
        (bucket + 1) & (self.buckets.len() - 1)
    }

    /// The tag of a hash, in place in a slot, with [`USED`].
    fn tag(hash: u64) -> u64 {
        USED | (hash << 48 & TAG_BITS)
    }

    /// The slot a key with this hash and sequence number takes.
    fn slot(hash: u64, seq: u64) -> u64 {
        Self::tag(hash) | (seq & SEQ_BITS)
    }

    /// The sequence number after the newest key.
    fn end_seq(&self) -> u64 {
        self.ring_seq + (self.order.len() + self.pending.len()) as u64
    }

    /// The sequence number of a slot's key; `None` for a free slot or one
    /// whose key has left the window.
    fn seq_of(&self, slot: u64) -> Option<u64> {
        let age = slot.wrapping_sub(self.first_seq) & SEQ_BITS;
        (slot != FREE && age < self.end_seq() - self.first_seq).then_some(self.first_seq + age)
    }

    /// The key given sequence number `seq`, which is in the window.
    fn key_at(&self, seq: u64) -> u128 {
        let index = (seq - self.ring_seq) as usize;
        match index.checked_sub(self.order.len()) {
            None => self.order[index],
            Some(index) => self.pending[index],
        }
    }

    /// Whether a search for a key must go on past `bucket`.
    pub(super) fn overflowed(&self, bucket: usize) -> bool {
        self.buckets[bucket].mark() > self.first_seq
    }

    /// Whether a slot holds a key that is in the window.
    fn is_live(&self, slot: u64) -> bool {
        self.seq_of(slot).is_some()
    }

    /// `Ok` with the bucket and slot holding `key` if it is remembered.
    pub(super) fn probe(&self, key: u128, hash: u64) -> Result<(usize, usize), ()> {
        let wanted = Self::tag(hash);
        let mut bucket = self.home(hash);
        for _ in 0..self.buckets.len() {
            let slots = &self.buckets[bucket].slots;
            // Without branches: one bit per slot whose tag matches. A tag is
            // 15 bits, so one slot in 32,768 carries it by chance.
            let mut hits = slots.iter().enumerate().fold(0u32, |hits, (i, &slot)| {
                hits | u32::from(slot & (USED | TAG_BITS) == wanted) << i
            });
            while hits != 0 {
                let i = hits.trailing_zeros() as usize;
                hits &= hits - 1;
                if let Some(seq) = self.seq_of(slots[i]) {
                    if self.key_at(seq) == key {
                        return Ok((bucket, i));
                    }
                }
            }
            if !self.overflowed(bucket) {
                break;
            }
            bucket = self.next(bucket);
        }
        Err(())
    }

    /// Loads the home bucket of every key about to be inserted before any is
    /// used. A window of a million ids is far larger than the core's caches:
    /// one after another, each load would wait for memory in turn; issued
    /// together they overlap, and the inserts then find their buckets in cache.
    fn warm(&self, hashes: &[u64]) {
        let loaded = hashes
            .iter()
            .fold(0, |acc, &hash| acc ^ self.buckets[self.home(hash)].overflow);
        // The value is of no use; this keeps the loads from being optimised away.
        std::hint::black_box(loaded);
    }

    /// Records each key; sets, per key, whether it was new. A key repeated
    /// within `keys` is new only the first time.
    pub(super) fn insert_all(&mut self, keys: &[u128], fresh: &mut Vec<bool>) {
        let hashes: Vec<u64> = keys.iter().map(|&key| self.hash(key)).collect();
        self.warm(&hashes);
        fresh.clear();
        fresh.reserve(keys.len());
        for (&key, &hash) in keys.iter().zip(&hashes) {
            fresh.push(self.insert(key, hash));
        }
        self.settle();
    }

    /// Remembers `key`, whose hash is `hash`, unless it is; returns whether
    /// it was new. The key waits in `pending` until [`Window::settle`].
    fn insert(&mut self, key: u128, hash: u64) -> bool {
        if self.probe(key, hash).is_ok() {
            return false;
        }
        if self.len == self.capacity {
            self.evict_oldest();
        }
        let seq = self.end_seq();
        let mut bucket = self.home(hash);
        loop {
            let cursor = self.buckets[bucket].cursor();
            let slots = &self.buckets[bucket].slots;
            // The cursor's slot is free unless the bucket is full, or a key
            // was forgotten and left a free slot elsewhere: then look on.
            let free = if self.is_live(slots[cursor]) {
                (0..SLOTS).find(|&i| !self.is_live(slots[i]))
            } else {
                Some(cursor)
            };
            if let Some(i) = free {
                let entry = &mut self.buckets[bucket];
                entry.slots[i] = Self::slot(hash, seq);
                entry.overflow = Bucket::meta((i + 1) % SLOTS, entry.mark());
                break;
            }
            // Full of remembered keys: the key goes on to the next bucket,
            // and searches must follow it there while it is remembered.
            let entry = &mut self.buckets[bucket];
            entry.overflow = Bucket::meta(entry.cursor(), seq + 1);
            bucket = self.next(bucket);
        }
        self.pending.push(key);
        self.len += 1;
        true
    }

    /// Forgets the oldest remembered key, passing the gaps before it. Its
    /// place leaves `order` at the next [`Window::settle`].
    fn evict_oldest(&mut self) {
        while self.first_seq < self.end_seq() {
            let seq = self.first_seq;
            self.first_seq += 1;
            // Gaps are rare: skip hashing when there are none.
            let gap = !self.gaps.is_empty() && self.gaps.remove(&seq);
            if !gap {
                self.len -= 1;
                return;
            }
        }
    }

    /// Drops the places eviction passed from the front of `order` and
    /// appends the keys of the batch.
    fn settle(&mut self) {
        let passed = (self.first_seq - self.ring_seq) as usize;
        let from_order = passed.min(self.order.len());
        self.order.drain(..from_order);
        // From a slice, `extend` copies in one go.
        self.order.extend(&self.pending[passed - from_order..]);
        self.pending.clear();
        self.ring_seq = self.first_seq;
    }

    /// Forgets `key` if it is remembered, leaving a gap in the order.
    pub(super) fn remove(&mut self, key: u128) {
        if let Ok((bucket, i)) = self.probe(key, self.hash(key)) {
            let slot = self.buckets[bucket].slots[i];
            let seq = self.seq_of(slot).expect("a found slot is in the window");
            self.gaps.insert(seq);
            self.buckets[bucket].slots[i] = FREE;
            self.len -= 1;
        }
    }

    /// Drops the gaps at the newest end (a batch forgotten right after it was
    /// recorded leaves no others); compacts when the gaps left behind newer
    /// keys outnumber the capacity, so memory stays bounded.
    pub(super) fn drop_gaps(&mut self) {
        while let Some(index) = self.order.len().checked_sub(1) {
            if !self.gaps.remove(&(self.first_seq + index as u64)) {
                break;
            }
            self.order.pop_back();
        }
        if self.gaps.len() > self.capacity {
            let keys: Vec<u128> = (self.first_seq..)
                .zip(&self.order)
                .filter(|(seq, _)| !self.gaps.contains(seq))
                .map(|(_, &key)| key)
                .collect();
            let mut compact = Window::new(self.capacity);
            compact.insert_all(&keys, &mut Vec::new());
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
