use std::collections::{HashSet, VecDeque};

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
fn searches_rarely_go_past_the_home_bucket() {
    let dedupe = Dedupe::with_capacity(50_000);
    let mut fresh = Vec::new();
    for batch in 0..400u128 {
        let keys: Vec<u128> = (0..500).map(|i| batch * 500 + i).collect();
        dedupe.insert_all(&keys, &mut fresh);
    }
    let window = dedupe.inner.lock().expect("not poisoned");
    assert_eq!(window.len, 50_000);
    let overflowed = (0..window.buckets.len())
        .filter(|&b| window.overflowed(b))
        .count();
    // A bucket holds 3.8 keys on average; about one in twenty is full.
    assert!(
        overflowed * 10 < window.buckets.len(),
        "{overflowed} of {} buckets overflowed",
        window.buckets.len()
    );
}

#[test]
fn slots_freed_by_forgetting_are_found_again() {
    // Keep the first key that lands in each bucket and forget every later
    // one: each bucket's cursor comes round to its kept key, remembered,
    // while its other slots are free. Inserting must still find those slots
    // (it once went round the buckets for ever looking for room).
    let dedupe = std::sync::Arc::new(Dedupe::with_capacity(8));
    let worker = std::sync::Arc::clone(&dedupe);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let bucket_of = |key: u128| {
            let window = worker.inner.lock().expect("not poisoned");
            window.probe(key, window.hash(key)).expect("remembered").0
        };
        let mut kept = HashSet::new();
        let mut fresh = Vec::new();
        for key in 0..200u128 {
            worker.insert_all(&[key], &mut fresh);
            assert_eq!(fresh, [true], "key {key} is new");
            if !kept.insert(bucket_of(key)) {
                worker.forget(&[key]);
            }
        }
        done.send(kept.len()).expect("test waiting");
    });
    let buckets = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("inserting finishes");
    assert_eq!(dedupe.len(), buckets);
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
