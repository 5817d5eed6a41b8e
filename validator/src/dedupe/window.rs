//! The window behind [`super::Dedupe`]: keys in arrival order, and two
//! indexes that find them there.

use std::collections::VecDeque;
use std::fmt;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashSet};

/// The remembered keys, oldest first, with a ring of per-slice tables for
/// keys of recent times and a table of cache-line buckets for the others.
///
/// Every key has a sequence number in arrival order, and every slot names
/// its key by that number. Evicting the oldest key only drops it from the
/// front of `order`: every slot pointing before the front is expired at once
/// and counts as free.
///
/// * A key whose time (its top 48 bits: a UUID v7's milliseconds) falls in
///   the ring goes to its slice's table: open addressing, sized from the
///   slice before it, so a batch of keys made together touches one or two
///   small tables that stay in cache. The ring moves with the clock; a
///   slice that falls behind it gives its keys to the buckets, and a slice
///   whose keys have all left is dropped.
/// * Other keys live in the buckets: a key in its home bucket, or, when that
///   bucket was full, in the first bucket after it with room. An insert
///   touches one line of this table (rarely two). A key that came ahead of
///   the ring stays there when the ring reaches its time, so searches in
///   the ring also look in the buckets while such keys are remembered.
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
    /// Recent keys, by the time in their top 48 bits: a ring of small
    /// tables, one per slice of `1 << slice_shift` milliseconds, indexed by
    /// slice number. Slices from `past` before `now_slice` to `future` after
    /// it are kept there; keys of other times go to `buckets`.
    slices: Vec<Option<Box<Slice>>>,
    slice_shift: u32,
    now_slice: u64,
    past: u64,
    future: u64,
    /// While `buckets` may hold a key whose slice had no table when it came
    /// (it was ahead of the ring, or the slice tables were at their budget):
    /// the lowest slice of such keys, and the newest one's sequence number.
    /// A search in the ring for a slice from there on also looks in
    /// `buckets`.
    far_future: Option<(u64, u64)>,
    /// Slots the slice tables hold in all, each table's own record counted
    /// as [`TABLE_SLOTS`]; at most `slice_budget`.
    slice_slots: usize,
    slice_budget: usize,
    /// Tables of slices that are gone, kept for new ones: fresh memory
    /// costs a page fault per page.
    spares: Vec<Vec<u64>>,
    pub(super) len: usize,
    pub(super) capacity: usize,
}

/// The keys of one slice of time: open addressing, slots as in [`Bucket`],
/// [`TOMB`] for a forgotten key. Grows when half full.
struct Slice {
    number: u64,
    slots: Vec<u64>,
    /// Slots not free (tombstones included).
    used: usize,
    /// The newest sequence number among its keys and those it spilled.
    last_seq: u64,
    /// One more than the newest sequence number of a key of this slice that
    /// went to the buckets because the table could not grow; 0 for none.
    spilled: u64,
}

/// A forgotten key's slot in a slice: not free, never a match.
const TOMB: u64 = 1;
/// The default slice: 4 ms.
const SLICE_SHIFT: u32 = 2;
/// The default ring: 2^20 slices, about 70 minutes.
const RING_BITS: u32 = 20;
/// Slots the slice tables may hold in all, per id of capacity. A table holds
/// up to eight slots per key (it grows to four times its keys, rounded up
/// to a power of two), so this leaves ids made together untouched; ids
/// spread one to a slice, which a client can choose, go to the buckets once
/// it is reached.
const SLICE_SLOTS_PER_ID: usize = 8;
/// What a table's own record (its box, its header, the allocator's share)
/// costs, counted in slots.
const TABLE_SLOTS: usize = 8;
/// Spare tables kept for new slices, and the largest kept, in slots.
const SPARES_KEPT: usize = 8;
const LARGEST_SPARE: usize = 1 << 17;

/// Where a remembered key was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// Bucket and slot in the table of other keys.
    Far(usize, usize),
    /// Ring place and slot of a slice.
    Recent(usize, usize),
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
        // A small window has no use for a long ring.
        let ring_bits = capacity
            .next_power_of_two()
            .trailing_zeros()
            .clamp(4, RING_BITS);
        Self::with_slices(capacity, SLICE_SHIFT, ring_bits)
    }

    /// A window whose ring has `1 << ring_bits` slices of `1 << slice_shift`
    /// milliseconds; an eighth of them ahead of the present.
    pub(super) fn with_slices(capacity: usize, slice_shift: u32, ring_bits: u32) -> Self {
        let ring = 1u64 << ring_bits.max(3);
        let future = ring / 8;
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
            slices: (0..ring).map(|_| None).collect(),
            slice_shift,
            now_slice: 0,
            past: ring - future - 2,
            future,
            far_future: None,
            slice_slots: 0,
            slice_budget: (SLICE_SLOTS_PER_ID * capacity).max(64 * TABLE_SLOTS),
            spares: Vec::new(),
            len: 0,
            capacity,
        }
    }

    /// The slice of a key: the milliseconds in its top 48 bits, sliced.
    fn slice_of(&self, key: u128) -> u64 {
        ((key >> 80) as u64) >> self.slice_shift
    }

    /// Whether keys of `slice` live in the ring now.
    fn in_ring(&self, slice: u64) -> bool {
        slice + self.past >= self.now_slice && slice <= self.now_slice + self.future
    }

    fn ring_place(&self, slice: u64) -> usize {
        slice as usize & (self.slices.len() - 1)
    }

    pub(super) fn hash(&self, key: u128) -> u64 {
        // The table takes its buckets from the top bits. The hasher is built
        // for speed, and with some seeds its top bits for keys that differ
        // only in a few low bits bunch up (a test saw a quarter of the
        // buckets overflow); one more multiply spreads every bit upwards.
        let hash = self.hasher.hash_one(key);
        (hash ^ hash >> 32).wrapping_mul(0x9e37_79b9_7f4a_7c15)
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
        (slot & USED != 0 && age < self.end_seq() - self.first_seq).then_some(self.first_seq + age)
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

    /// How many slices have a table.
    #[cfg(test)]
    pub(super) fn slice_count(&self) -> usize {
        self.slices.iter().flatten().count()
    }

    /// Whether `key` is remembered.
    #[cfg(test)]
    pub(super) fn contains(&self, key: u128) -> bool {
        self.find(key, self.hash(key)).is_ok()
    }

    /// Where `key` is, and its sequence number, if it is remembered.
    fn find(&self, key: u128, hash: u64) -> Result<(Place, u64), ()> {
        let slice = self.slice_of(key);
        if !self.in_ring(slice) {
            return self.probe_far(key, hash);
        }
        if let Some(found) = self.probe_recent(slice, key, hash) {
            return Ok(found);
        }
        let spilled = self.slices[self.ring_place(slice)]
            .as_ref()
            .is_some_and(|t| t.number == slice && t.spilled > self.first_seq);
        let unplaced = self
            .far_future
            .is_some_and(|(lowest, newest)| slice >= lowest && newest >= self.first_seq);
        if spilled || unplaced {
            self.probe_far(key, hash)
        } else {
            Err(())
        }
    }

    fn probe_far(&self, key: u128, hash: u64) -> Result<(Place, u64), ()> {
        let (bucket, i, seq) = self.probe(key, hash)?;
        Ok((Place::Far(bucket, i), seq))
    }

    /// Where a key's search in a slice starts: other bits than the tag's.
    fn slice_start(hash: u64, slots: usize) -> usize {
        (hash >> 32) as usize & (slots - 1)
    }

    /// The free slot a key with this hash takes in a slice's slots.
    fn open_slot(slots: &[u64], hash: u64) -> usize {
        let mask = slots.len() - 1;
        let mut i = Self::slice_start(hash, slots.len());
        while slots[i] != FREE {
            i = (i + 1) & mask;
        }
        i
    }

    fn probe_recent(&self, slice: u64, key: u128, hash: u64) -> Option<(Place, u64)> {
        let at = self.ring_place(slice);
        let table = self.slices[at].as_ref().filter(|t| t.number == slice)?;
        let wanted = Self::tag(hash);
        let mask = table.slots.len() - 1;
        let mut i = Self::slice_start(hash, table.slots.len());
        loop {
            let slot = table.slots[i];
            if slot == FREE {
                return None;
            }
            if slot & (USED | TAG_BITS) == wanted {
                if let Some(seq) = self.seq_of(slot) {
                    if self.key_at(seq) == key {
                        return Some((Place::Recent(at, i), seq));
                    }
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// `Ok` with the bucket, slot and sequence number of `key` if the table
    /// of other keys remembers it.
    pub(super) fn probe(&self, key: u128, hash: u64) -> Result<(usize, usize, u64), ()> {
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
                        return Ok((bucket, i, seq));
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
    fn warm<'a>(&self, hashes: impl Iterator<Item = (u128, &'a u64)>) {
        let loaded = hashes.fold(0, |acc, (key, &hash)| {
            let slice = self.slice_of(key);
            if !self.in_ring(slice) {
                return acc ^ self.buckets[self.home(hash)].overflow;
            }
            match &self.slices[self.ring_place(slice)] {
                Some(table) if table.number == slice => {
                    acc ^ table.slots[Self::slice_start(hash, table.slots.len())]
                }
                _ => acc,
            }
        });
        // The value is of no use; this keeps the loads from being optimised away.
        std::hint::black_box(loaded);
    }

    /// Records each key; sets, per key, whether it was new. A key repeated
    /// within `keys` is new only the first time.
    /// `now` is the time in milliseconds since 1970; it only moves the ring
    /// forward.
    pub(super) fn insert_all(&mut self, keys: &[u128], fresh: &mut Vec<bool>, now: u64) {
        self.advance(now);
        let hashes: Vec<u64> = keys.iter().map(|&key| self.hash(key)).collect();
        self.warm(keys.iter().copied().zip(&hashes));
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
        if self.find(key, hash).is_ok() {
            return false;
        }
        if self.len == self.capacity {
            self.evict_oldest();
        }
        let seq = self.end_seq();
        let slice = self.slice_of(key);
        let placed = self.in_ring(slice) && self.place_recent(slice, hash, seq);
        if !placed {
            let has_table = self.slices[self.ring_place(slice)]
                .as_ref()
                .is_some_and(|t| t.number == slice);
            if slice >= self.now_slice.saturating_sub(self.past) && !has_table {
                let lowest = self
                    .far_future
                    .map_or(slice, |(lowest, _)| lowest.min(slice));
                self.far_future = Some((lowest, seq));
            }
            self.place_far(hash, seq);
        }
        self.pending.push(key);
        self.len += 1;
        true
    }

    /// Puts a key with this hash and sequence number in its slice's table;
    /// false, placing nothing, when the table would take the slice tables
    /// past their budget.
    fn place_recent(&mut self, slice: u64, hash: u64, seq: u64) -> bool {
        let at = self.ring_place(slice);
        if self.slices[at].as_ref().is_none_or(|t| t.number != slice) {
            // Sized for as many keys as the slice before took, so that a
            // steady stream of keys seldom makes a table grow.
            let before = self.slices[self.ring_place(slice.wrapping_sub(1))]
                .as_ref()
                .filter(|t| t.number == slice.wrapping_sub(1))
                .map_or(0, |t| t.used);
            let len = (3 * before).next_power_of_two().max(8);
            self.retire(at);
            if self.slice_slots + len + TABLE_SLOTS > self.slice_budget {
                return false;
            }
            let slots = self.take_slots(len);
            self.slice_slots += len + TABLE_SLOTS;
            self.slices[at] = Some(Box::new(Slice {
                number: slice,
                slots,
                used: 0,
                last_seq: seq,
                spilled: 0,
            }));
        }
        let table = self.slices[at].as_mut().expect("made above");
        if (table.used + 1) * 2 > table.slots.len() {
            // It grows to four times its remembered keys at most.
            let grown = (table.used * 4).next_power_of_two();
            if self.slice_slots + grown - table.slots.len() > self.slice_budget {
                table.spilled = seq + 1;
                // The table is the only sign that searches must go on into
                // the buckets: it stays until this key leaves too.
                table.last_seq = seq;
                return false;
            }
            self.regrow(at);
        }
        let table = self.slices[at].as_mut().expect("made above");
        let i = Self::open_slot(&table.slots, hash);
        table.slots[i] = Self::slot(hash, seq);
        table.used += 1;
        table.last_seq = seq;
        true
    }

    /// Rebuilds a slice's table from its remembered keys, with room for as
    /// many again.
    fn regrow(&mut self, at: usize) {
        let old = std::mem::take(&mut self.slices[at].as_mut().expect("a slice").slots);
        let live: Vec<u64> = old.iter().filter_map(|&slot| self.seq_of(slot)).collect();
        let len = (live.len() * 4).next_power_of_two().max(8);
        let mut slots = self.take_slots(len);
        for &seq in &live {
            let hash = self.hash(self.key_at(seq));
            let i = Self::open_slot(&slots, hash);
            slots[i] = Self::slot(hash, seq);
        }
        self.slice_slots = self.slice_slots + slots.len() - old.len();
        let table = self.slices[at].as_mut().expect("a slice");
        table.slots = slots;
        table.used = live.len();
        self.put_slots(old);
    }

    /// `len` free slots, from a spare table when there is one.
    fn take_slots(&mut self, len: usize) -> Vec<u64> {
        let mut slots = self.spares.pop().unwrap_or_default();
        slots.clear();
        slots.resize(len, FREE);
        slots
    }

    /// Keeps a table for reuse: a few, none over 1 MB, so that a burst of
    /// keys in one slice does not pin its memory.
    fn put_slots(&mut self, slots: Vec<u64>) {
        if self.spares.len() < SPARES_KEPT && slots.capacity() <= LARGEST_SPARE {
            self.spares.push(slots);
        }
    }

    /// Moves the ring forward to `now` (milliseconds); the keys of slices
    /// that leave it go to the table of other keys.
    fn advance(&mut self, now: u64) {
        let now_slice = (now >> self.slice_shift).max(self.now_slice);
        if now_slice == self.now_slice {
            return;
        }
        let old_low = self.now_slice.saturating_sub(self.past);
        self.now_slice = now_slice;
        let low = now_slice.saturating_sub(self.past);
        // The last ring's length of slices passed covers every place once.
        let ring = self.slices.len() as u64;
        for slice in old_low.max(low.saturating_sub(ring))..low {
            let at = self.ring_place(slice);
            if self.slices[at].as_ref().is_some_and(|t| t.number < low) {
                self.retire(at);
            }
        }
    }

    /// Takes the slice at ring place `at` out of the ring; its remembered
    /// keys go to the table of other keys.
    fn retire(&mut self, at: usize) {
        let Some(table) = self.slices[at].take() else {
            return;
        };
        self.slice_slots -= table.slots.len() + TABLE_SLOTS;
        let live: Vec<u64> = table
            .slots
            .iter()
            .filter_map(|&slot| self.seq_of(slot))
            .collect();
        for seq in live {
            let hash = self.hash(self.key_at(seq));
            self.place_far(hash, seq);
        }
        self.put_slots(table.slots);
    }

    /// Puts a key with this hash and sequence number in the table of other keys.
    fn place_far(&mut self, hash: u64, seq: u64) {
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
            // (Keys leaving the ring come with older sequence numbers.)
            let entry = &mut self.buckets[bucket];
            entry.overflow = Bucket::meta(entry.cursor(), entry.mark().max(seq + 1));
            bucket = self.next(bucket);
        }
    }

    /// Forgets the oldest remembered key, passing the gaps before it. Its
    /// place leaves `order` at the next [`Window::settle`].
    fn evict_oldest(&mut self) {
        while self.first_seq < self.end_seq() {
            let seq = self.first_seq;
            self.first_seq += 1;
            self.left(seq);
            // Gaps are rare: skip hashing when there are none.
            let gap = !self.gaps.is_empty() && self.gaps.remove(&seq);
            if !gap {
                self.len -= 1;
                return;
            }
        }
    }

    /// Drops the table of the slice of the key at `seq`, which just left the
    /// window, if that was the slice's newest key: every slice is dropped
    /// when its last key leaves, for one look per key.
    fn left(&mut self, seq: u64) {
        let slice = self.slice_of(self.key_at(seq));
        let at = self.ring_place(slice);
        if self.slices[at]
            .as_ref()
            .is_some_and(|t| t.number == slice && t.last_seq <= seq)
        {
            let table = self.slices[at].take().expect("checked");
            self.slice_slots -= table.slots.len() + TABLE_SLOTS;
            self.put_slots(table.slots);
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
        if self
            .far_future
            .is_some_and(|(_, newest)| newest < self.first_seq)
        {
            self.far_future = None;
        }
    }

    /// Forgets `key` if it is remembered, leaving a gap in the order.
    pub(super) fn remove(&mut self, key: u128) {
        if let Ok((place, seq)) = self.find(key, self.hash(key)) {
            match place {
                Place::Far(bucket, i) => self.buckets[bucket].slots[i] = FREE,
                Place::Recent(at, i) => {
                    self.slices[at].as_mut().expect("found there").slots[i] = TOMB;
                }
            }
            self.gaps.insert(seq);
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
            let ring_bits = self.slices.len().trailing_zeros();
            let mut compact = Window::with_slices(self.capacity, self.slice_shift, ring_bits);
            let now = self.now_slice << self.slice_shift;
            compact.insert_all(&keys, &mut Vec::new(), now);
            *self = compact;
        }
    }
}

#[cfg(test)]
impl Window {
    /// Panics unless the window's parts agree with one another: the
    /// accounting of the slice tables and their budget, each table's load,
    /// every remembered key in exactly one slot and found there, and no key
    /// counted twice.
    pub(super) fn check(&self) {
        let mut slots = 0;
        let mut live = std::collections::HashMap::new();
        for (at, table) in self.slices.iter().enumerate() {
            let Some(table) = table else { continue };
            assert_eq!(at, self.ring_place(table.number), "table at its place");
            assert!(
                self.in_ring(table.number),
                "table {} out of the ring",
                table.number
            );
            assert!(table.slots.len().is_power_of_two());
            let taken = table.slots.iter().filter(|&&slot| slot != FREE).count();
            assert_eq!(table.used, taken, "slice {} counts its slots", table.number);
            assert!(
                2 * table.used <= table.slots.len(),
                "slice {} over half full",
                table.number
            );
            slots += table.slots.len() + TABLE_SLOTS;
            for (i, &slot) in table.slots.iter().enumerate() {
                if let Some(seq) = self.seq_of(slot) {
                    assert_eq!(self.slice_of(self.key_at(seq)), table.number);
                    let before = live.insert(seq, Place::Recent(at, i));
                    assert!(before.is_none(), "key {seq} in two slots");
                }
            }
        }
        assert_eq!(self.slice_slots, slots, "slots of the slice tables");
        assert!(self.spares.len() <= SPARES_KEPT, "spare tables kept");
        assert!(self.spares.iter().all(|s| s.capacity() <= LARGEST_SPARE));
        assert!(
            self.slice_slots <= self.slice_budget,
            "slice tables over budget"
        );
        for (bucket, entry) in self.buckets.iter().enumerate() {
            assert!(entry.cursor() < SLOTS);
            for (i, &slot) in entry.slots.iter().enumerate() {
                if let Some(seq) = self.seq_of(slot) {
                    let before = live.insert(seq, Place::Far(bucket, i));
                    assert!(before.is_none(), "key {seq} in two slots");
                }
            }
        }
        assert!(self.pending.is_empty(), "checked between batches");
        assert!(self
            .gaps
            .iter()
            .all(|&gap| (self.first_seq..self.end_seq()).contains(&gap)));
        let remembered = (self.first_seq..self.end_seq()).filter(|seq| !self.gaps.contains(seq));
        let mut count = 0;
        for seq in remembered {
            count += 1;
            let key = self.key_at(seq);
            let place = live
                .get(&seq)
                .unwrap_or_else(|| panic!("key {seq} in no slot"));
            assert_eq!(
                self.find(key, self.hash(key)),
                Ok((*place, seq)),
                "key {seq} found"
            );
        }
        assert_eq!(live.len(), count, "slots of keys no longer remembered");
        assert_eq!(self.len, count, "keys counted");
        assert!(self.len <= self.capacity);
    }

    /// The bytes the window holds on the heap, as allocated, but for the
    /// spare tables (bounded on their own: 8 of at most 1 MiB).
    pub(super) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let tables: usize = self
            .slices
            .iter()
            .flatten()
            .map(|t| size_of::<Slice>() + t.slots.capacity() * size_of::<u64>())
            .sum();
        (self.order.capacity() + self.pending.capacity()) * size_of::<u128>()
            + self.gaps.capacity() * size_of::<u64>()
            + self.buckets.capacity() * size_of::<Bucket>()
            + self.slices.capacity() * size_of::<Option<Box<Slice>>>()
            + tables
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
