//! Remembers accepted event ids so a retried event is not stored twice.
//!
//! The window is bounded: the newest `capacity` ids are kept (default one
//! million, about 40 MB), oldest forgotten first. Clients retry within minutes,
//! so a window of that size covers every retry in practice. At startup the
//! window is refilled from the sink, which makes dedupe survive restarts.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Mutex;

use uuid::Uuid;

/// Default number of ids remembered.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// A set of recently accepted `(org, event id)` pairs.
#[derive(Debug)]
pub struct Dedupe {
    org_hasher: RandomState,
    inner: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    ids: HashSet<u128, BuildHasherDefault<IdHasher>>,
    order: VecDeque<u128>,
    capacity: usize,
}

/// Event ids are already random in their low bits (UUIDv7 and v4), so hashing
/// them again is wasted work: fold the halves and spread them with one multiply.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u128(&mut self, key: u128) {
        let folded = (key as u64) ^ ((key >> 64) as u64);
        self.0 = folded.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Default for Dedupe {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Dedupe {
    /// A window remembering at most `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            org_hasher: RandomState::new(),
            inner: Mutex::new(Window {
                ids: HashSet::with_capacity_and_hasher(capacity.min(1 << 16), Default::default()),
                order: VecDeque::with_capacity(capacity.min(1 << 16)),
                capacity,
            }),
        }
    }

    /// The key of an id within an org: ids of different orgs never collide.
    pub fn key(&self, org: &str, id: Uuid) -> u128 {
        let org_bits = self.org_hasher.hash_one(org);
        id.as_u128() ^ (u128::from(org_bits) << 64)
    }

    /// Records each key; returns, per key, whether it was new. A key repeated
    /// within `keys` is new only the first time.
    pub fn insert_all(&self, keys: &[u128], fresh: &mut Vec<bool>) {
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        fresh.clear();
        fresh.reserve(keys.len());
        for &key in keys {
            let new = window.ids.insert(key);
            if new {
                window.order.push_back(key);
                if window.order.len() > window.capacity {
                    if let Some(oldest) = window.order.pop_front() {
                        window.ids.remove(&oldest);
                    }
                }
            }
            fresh.push(new);
        }
    }

    /// Forgets keys recorded by [`Dedupe::insert_all`] whose events could not be
    /// stored, so their retry is accepted.
    pub fn forget(&self, keys: &[u128]) {
        let mut window = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            window.ids.remove(key);
        }
        let Window { ids, order, .. } = &mut *window;
        order.retain(|k| ids.contains(k));
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ids
            .len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_is_new_once_per_org() {
        let dedupe = Dedupe::with_capacity(10);
        let id = Uuid::now_v7();
        let keys = [
            dedupe.key("acme", id),
            dedupe.key("acme", id),
            dedupe.key("other", id),
        ];
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
        dedupe.insert_all(&[key], &mut fresh);
        assert_eq!(fresh, [true]);
    }
}
