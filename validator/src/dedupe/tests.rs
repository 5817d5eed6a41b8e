use std::collections::{HashSet, VecDeque};

use proptest::prelude::*;

use super::*;

fn remembered(dedupe: &Dedupe, key: u128) -> bool {
    dedupe.inner.lock().expect("not poisoned").contains(key)
}

/// A key made at millisecond `at`, as a UUID v7's top bits carry it.
fn made_at(at: u64, low: u128) -> u128 {
    u128::from(at) << 80 | low
}

#[test]
fn recent_keys_are_found_after_their_slice_leaves_the_ring() {
    // Slices of 1 ms, a ring of 16: 2 ahead of now, 12 behind.
    let mut window = window::Window::with_slices(100, 0, 4);
    let mut fresh = Vec::new();
    let now = 1_000;
    let keys: Vec<u128> = (0..20).map(|i| made_at(now, i)).collect();
    window.insert_all(&keys, &mut fresh, now);
    assert!(fresh.iter().all(|&new| new));
    for later in [now + 5, now + 13, now + 500, now + 1_000_000] {
        window.insert_all(&keys, &mut fresh, later);
        assert!(fresh.iter().all(|&new| !new), "all remembered at {later}");
    }
    assert_eq!(window.len, 20);
}

#[test]
fn keys_from_ahead_of_the_ring_are_found_when_it_reaches_them() {
    let mut window = window::Window::with_slices(100, 0, 4);
    let mut fresh = Vec::new();
    let ahead = made_at(1_100, 7);
    window.insert_all(&[ahead, made_at(1_000, 1)], &mut fresh, 1_000);
    assert_eq!(fresh, [true, true]);
    for now in [1_050, 1_099, 1_100, 1_105, 1_200] {
        window.insert_all(&[ahead], &mut fresh, now);
        assert_eq!(fresh, [false], "remembered at {now}");
    }
}

#[test]
fn old_and_random_ids_are_remembered_beside_recent_ones() {
    let dedupe = Dedupe::with_capacity(1_000);
    let mut fresh = Vec::new();
    let recent = dedupe.key("acme", Uuid::now_v7());
    // Shaped as a UUID v4: its top bits read as a time some centuries ahead.
    let random = dedupe.key(
        "acme",
        Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
    );
    let old = dedupe.key("acme", Uuid::from_u128(made_at(1, 5)));
    dedupe.insert_all(&[recent, random, old], &mut fresh);
    assert_eq!(fresh, [true, true, true]);
    dedupe.insert_all(&[old, random, recent], &mut fresh);
    assert_eq!(fresh, [false, false, false]);
    dedupe.forget(&[random, recent]);
    dedupe.insert_all(&[old, random, recent], &mut fresh);
    assert_eq!(fresh, [false, true, true]);
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
    assert!(!dedupe.is_empty());
    dedupe.forget(&[key]);
    assert!(dedupe.is_empty());
    dedupe.insert_all(&[key], &mut fresh);
    assert_eq!(fresh, [true]);
}

#[test]
fn a_reservation_holds_the_new_ids_until_committed_or_dropped() {
    let dedupe = Dedupe::with_capacity(10);
    let seen = dedupe.key("acme", Uuid::now_v7());
    dedupe.insert_all(&[seen], &mut Vec::new());
    let new = [Uuid::now_v7(), Uuid::now_v7()].map(|id| dedupe.key("acme", id));
    let mut fresh = Vec::new();
    let dropped = dedupe.reserve(vec![seen, new[0], new[1]], &mut fresh);
    assert_eq!(fresh, [false, true, true]);
    assert_eq!((dropped.len(), dropped.is_empty()), (2, false));
    assert_eq!(dedupe.len(), 3);
    drop(dropped);
    assert_eq!(
        dedupe.len(),
        1,
        "a dropped reservation forgets its new ids only"
    );

    let mut fresh = Vec::new();
    let kept = dedupe.reserve(new.to_vec(), &mut fresh);
    assert_eq!(fresh, [true, true]);
    kept.commit();
    assert_eq!(dedupe.len(), 3, "a committed reservation's ids stay");
    let none = dedupe.reserve(vec![seen], &mut Vec::new());
    assert_eq!((none.len(), none.is_empty()), (0, true));
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
fn gaps_behind_kept_ids_are_compacted_away() {
    // Far from full, so nothing is evicted: each round a batch of seven
    // fails behind one that is kept. The gaps left in the order are
    // compacted away once they outnumber the capacity.
    let capacity = 1_000;
    let dedupe = Dedupe::with_capacity(capacity);
    let mut fresh = Vec::new();
    for round in 0..300u128 {
        let failed: Vec<u128> = (0..7).map(|i| round * 8 + i).collect();
        dedupe.insert_all(&failed, &mut fresh);
        dedupe.insert_all(&[round * 8 + 7], &mut fresh);
        dedupe.forget(&failed);
        let window = dedupe.inner.lock().expect("not poisoned");
        assert!(
            window.order.len() <= 2 * capacity + 8,
            "{} places in the order for {} ids",
            window.order.len(),
            window.len
        );
        window.check();
    }
    assert_eq!(dedupe.len(), 300);
    assert!(remembered(&dedupe, 7) && !remembered(&dedupe, 6));
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

impl Model {
    fn insert(&mut self, keys: &[u128], capacity: usize) -> Vec<bool> {
        let mut fresh = Vec::new();
        for &key in keys {
            let new = self.ids.insert(key);
            if new {
                self.order.push_back(key);
                if self.order.len() > capacity {
                    let oldest = self.order.pop_front().expect("over capacity");
                    self.ids.remove(&oldest);
                }
            }
            fresh.push(new);
        }
        fresh
    }

    fn forget(&mut self, keys: impl IntoIterator<Item = u128>) {
        for key in keys {
            self.ids.remove(&key);
        }
        self.order.retain(|k| self.ids.contains(k));
    }
}

/// Runs `ops` on `window` and on the model, the clock starting at `now` and
/// moving on by each op's step; keys `0..keys` are made by `at`. After every
/// op the window's bookkeeping is checked and it must remember what the
/// model does.
fn run_against_model(
    mut window: window::Window,
    mut now: u64,
    ops: Vec<(Op, u64)>,
    at: impl Fn(u128) -> u128,
    keys: u128,
) -> Result<(), TestCaseError> {
    let capacity = window.capacity;
    let mut model = Model::default();
    let mut fresh = Vec::new();
    for (op, step) in ops {
        now += step;
        match op {
            Op::Insert(keys) => {
                let keys: Vec<u128> = keys.into_iter().map(&at).collect();
                window.insert_all(&keys, &mut fresh, now);
                prop_assert_eq!(&fresh, &model.insert(&keys, capacity));
            }
            Op::Forget(keys) => {
                for &key in &keys {
                    window.remove(at(key));
                }
                window.drop_gaps();
                model.forget(keys.into_iter().map(&at));
            }
        }
        window.check();
        prop_assert_eq!(window.len, model.ids.len());
        for key in 0..keys {
            prop_assert_eq!(
                window.contains(at(key)),
                model.ids.contains(&at(key)),
                "key {}",
                key
            );
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_window_matches_the_model_as_time_goes_on(
        capacity in 1..12usize,
        ops in prop::collection::vec(
            (op(), 0..8u64),
            1..60,
        ),
    ) {
        // Keys 0..24 become keys made at 24 different milliseconds around
        // the clock: behind the ring, in it, and ahead of it.
        let at = |key: u128| made_at(1_000 + (key as u64 % 12) * 3, key);
        let window = window::Window::with_slices(capacity, 0, 4);
        run_against_model(window, 1_010, ops, at, 24)?;
    }

    /// Many keys spread over many small slices, a slice budget the tables
    /// reach, slices that fill and grow, time that jumps: every path a key
    /// can take (ring, buckets, overflow to the next bucket, spilled and
    /// unplaced keys) against the model, with the window's own bookkeeping
    /// checked after every step.
    #[test]
    fn the_window_matches_the_model_with_full_tables_and_spilled_keys(
        capacity in 1..120usize,
        ring_bits in 3..8u32,
        ops in prop::collection::vec(
            (
                prop_oneof![
                    3 => prop::collection::vec(0..400u128, 0..48).prop_map(Op::Insert),
                    1 => prop::collection::vec(0..400u128, 0..6).prop_map(Op::Forget),
                ],
                prop_oneof![4 => 0..4u64, 1 => 0..300u64],
            ),
            1..50,
        ),
    ) {
        // Keys 0..400: 300 in consecutive milliseconds (one slice each,
        // more slices than the budget holds tables for), 100 in four busy
        // milliseconds whose tables fill and grow.
        let at = |key: u128| {
            let ms = if key < 300 { 1_000 + key as u64 } else { 1_100 + (key as u64 % 4) * 50 };
            made_at(ms, key)
        };
        let window = window::Window::with_slices(capacity, 0, ring_bits);
        run_against_model(window, 1_000, ops, at, 400)?;
    }

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
                    prop_assert_eq!(&fresh, &model.insert(&keys, capacity));
                }
                Op::Forget(keys) => {
                    dedupe.forget(&keys);
                    model.forget(keys);
                }
            }
            prop_assert_eq!(dedupe.len(), model.ids.len());
            for key in 0..24 {
                prop_assert_eq!(remembered(&dedupe, key), model.ids.contains(&key));
            }
        }
    }
}

#[test]
fn ids_made_together_share_one_small_table_of_the_ring() {
    // The default window: slices of 4 ms. Ids made in one slice, now or a
    // little ahead of the server's clock, go to that slice's table, not to
    // the large table of other keys.
    let mut window = window::Window::new(1_000);
    let now = 1_764_403_200_000;
    let mut fresh = Vec::new();
    for (batch, made) in [(0, now), (1, now + 1), (2, now + 40)] {
        let keys: Vec<u128> = (0..50).map(|i| made_at(made, batch * 100 + i)).collect();
        window.insert_all(&keys, &mut fresh, now);
        assert!(fresh.iter().all(|&new| new));
    }
    assert_eq!(
        window.slice_count(),
        2,
        "one table for now, one 40 ms ahead"
    );
    assert!(
        window
            .buckets
            .iter()
            .all(|b| b.slots == [window::FREE; window::SLOTS]),
        "no id went to the table of other keys"
    );
    window.check();
}

#[test]
fn keys_of_a_table_that_may_not_grow_are_found_in_the_buckets() {
    // Slices of 1 ms, a ring of 1,024; a capacity of 100 gives the slice
    // tables 800 slots. 45 keys each in a slice of its own take 720 of
    // them; one busy slice then grows until its next growth would pass the
    // budget, and its later keys go to the buckets.
    let mut window = window::Window::with_slices(100, 0, 10);
    let now = 100_000;
    let mut fresh = Vec::new();
    let spread: Vec<u128> = (0..45).map(|i| made_at(now - 100 + i, 1)).collect();
    window.insert_all(&spread, &mut fresh, now);
    let busy: Vec<u128> = (0..50).map(|i| made_at(now, 100 + i)).collect();
    for key in &busy {
        window.insert_all(&[*key], &mut fresh, now);
        assert_eq!(fresh, [true]);
    }
    window.check();
    assert!(
        window
            .buckets
            .iter()
            .any(|b| b.slots != [window::FREE; window::SLOTS]),
        "some keys of the busy slice went to the buckets"
    );
    window.insert_all(&busy, &mut fresh, now);
    assert!(fresh.iter().all(|&new| !new), "every key is remembered");
    window.insert_all(&spread, &mut fresh, now);
    assert!(fresh.iter().all(|&new| !new), "every key is remembered");
}

#[test]
fn a_spilled_key_is_found_after_the_keys_of_its_table_have_left() {
    // As above: 45 keys in slices of their own, then 50 in one busy slice,
    // whose table takes 32 of them; the last 18 go to the buckets.
    let mut window = window::Window::with_slices(100, 0, 10);
    let now = 100_000;
    let mut fresh = Vec::new();
    let spread: Vec<u128> = (0..45).map(|i| made_at(now - 100 + i, 1)).collect();
    window.insert_all(&spread, &mut fresh, now);
    let busy: Vec<u128> = (0..50).map(|i| made_at(now, 100 + i)).collect();
    for key in &busy {
        window.insert_all(&[*key], &mut fresh, now);
    }
    let in_buckets = |window: &window::Window| {
        window
            .buckets
            .iter()
            .flat_map(|b| b.slots)
            .filter(|&slot| slot != window::FREE)
            .count()
    };
    assert_eq!(
        in_buckets(&window),
        18,
        "the busy table stopped at 64 slots"
    );
    // Old keys push out everything but the newest spilled key.
    let old: Vec<u128> = (0..99).map(|i| made_at(1_000 + i, 7)).collect();
    window.insert_all(&old, &mut fresh, now);
    window.check();
    window.insert_all(&busy[49..], &mut fresh, now);
    assert_eq!(fresh, [false], "the newest spilled key is remembered");
    window.insert_all(&busy[48..49], &mut fresh, now);
    assert_eq!(fresh, [true], "the key before it has left");
}

#[test]
fn a_key_from_ahead_whose_ring_place_held_another_slice_is_found() {
    // A ring of 16 slices of 1 ms, 2 ahead of now: a key made 16 ms ahead
    // has the ring place of now's slice, which holds a table. When the ring
    // reaches the key's time, that table has gone, and the key is in the
    // buckets.
    let mut window = window::Window::with_slices(100, 0, 4);
    let mut fresh = Vec::new();
    window.insert_all(&[made_at(1_000, 1)], &mut fresh, 1_000);
    window.insert_all(&[made_at(1_016, 2)], &mut fresh, 1_000);
    assert_eq!(fresh, [true]);
    window.insert_all(&[made_at(1_016, 2), made_at(1_000, 1)], &mut fresh, 1_015);
    assert_eq!(fresh, [false, false]);
    window.check();
}

#[test]
fn no_more_slice_tables_than_the_budget_holds() {
    // A capacity of 100 gives the slice tables 800 slots: 50 of the
    // smallest tables (8 slots and 8 for the table itself).
    let mut window = window::Window::with_slices(100, 0, 10);
    let now = 100_000;
    let keys: Vec<u128> = (0..100).map(|i| made_at(now - 500 + i, 1)).collect();
    let mut fresh = Vec::new();
    window.insert_all(&keys, &mut fresh, now);
    assert_eq!(window.slice_count(), 50);
    window.check();
    window.insert_all(&keys, &mut fresh, now);
    assert!(fresh.iter().all(|&new| !new), "every key is remembered");
}

#[test]
fn tables_of_slices_whose_keys_have_left_are_dropped() {
    // Slices of 1 ms, a ring of 1,024.
    let mut window = window::Window::with_slices(100, 0, 10);
    let mut fresh = Vec::new();
    let now = 100_000;
    // Thirty keys, each in a slice of its own (as many tables as the slice
    // budget of so small a window allows).
    let spread: Vec<u128> = (0..30).map(|i| made_at(now - 500 + i, 1)).collect();
    window.insert_all(&spread, &mut fresh, now);
    assert_eq!(window.slice_count(), 30);
    // One of those slices keeps getting late keys; the others' keys leave.
    for batch in 0..20u128 {
        let mut keys: Vec<u128> = (0..50).map(|i| made_at(now, 2 + batch * 50 + i)).collect();
        keys.push(made_at(now - 500, 10_000 + batch));
        window.insert_all(&keys, &mut fresh, now);
    }
    assert_eq!(window.len, 100);
    assert!(
        window.slice_count() <= 2,
        "{} slices left",
        window.slice_count()
    );
}

#[test]
fn ids_each_in_a_slice_of_their_own_stay_within_the_memory_bound() {
    // Ids chosen so that each lands in its own 4 ms slice of the ring: the
    // most slice tables a client can make the window keep.
    let capacity = 50_000;
    let mut window = window::Window::new(capacity);
    let now = 10_000_000_000;
    let keys: Vec<u128> = (0..capacity as u64)
        .map(|i| made_at(now - 4 * i, u128::from(i)))
        .collect();
    let mut fresh = Vec::new();
    for piece in keys.chunks(500) {
        window.insert_all(piece, &mut fresh, now);
        assert!(fresh.iter().all(|&new| new));
    }
    // The bound the module states: 112 bytes per id of capacity and 8 per
    // slice of the ring (which has capacity.next_power_of_two() slices up
    // to 2^20); spare tables aside.
    let bound = 112 * capacity + 8 * capacity.next_power_of_two();
    assert!(
        window.heap_bytes() <= bound,
        "{} bytes held, bound {bound}",
        window.heap_bytes(),
    );
    for piece in keys.chunks(500) {
        window.insert_all(piece, &mut fresh, now + 1);
        assert!(
            fresh.iter().all(|&new| !new),
            "every id is still remembered"
        );
    }
}

#[tokio::test]
async fn the_refill_remembers_the_newest_ids_the_sink_stored() {
    use crate::sink::{Accepted, NdjsonSink, Sink as _, Source};
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = NdjsonSink::new(dir.path()).expect("sink");
    let day = |d: u8| {
        time::Date::from_calendar_date(2026, time::Month::November, d)
            .expect("a date")
            .midnight()
            .assume_utc()
    };
    // Three days' files of 300 events each, ids in the order stored.
    let ids: Vec<Uuid> = (0..900u128)
        .map(|i| Uuid::from_u128(made_at(1, i)))
        .collect();
    for (d, piece) in (1..=3).zip(ids.chunks(300)) {
        let events: Vec<usage_protocol::Event> = piece
            .iter()
            .map(|&id| usage_protocol::Event::new(id, "e", day(d), None, None).expect("valid"))
            .collect();
        let batch = Accepted {
            org: "acme",
            user: "bob",
            source: Source::Client,
            sdk: None,
            received_at: day(d),
            events: &events,
        };
        sink.write(batch).await.expect("write");
    }
    let dedupe = Dedupe::with_capacity(500);
    assert_eq!(dedupe.refill(&sink).await.expect("refill"), 500);
    let remembered_ids = |range: std::ops::Range<usize>| {
        ids[range]
            .iter()
            .filter(|&&id| remembered(&dedupe, dedupe.key("acme", id)))
            .count()
    };
    assert_eq!(remembered_ids(400..900), 500, "the newest 500");
    assert_eq!(remembered_ids(0..400), 0);
}
