//! The journal's size bound: what a compaction near it drops, and what it
//! must never drop.

use super::tests::{event, take_all, track};
use super::*;
use crate::core::journal::{encode, encode_add, Record};
use crate::native::journal::write_at;
use std::time::{Duration, Instant};
use usage_protocol::Event;

/// Events the modelled worker holds in memory.
const ROOM: usize = 10;

fn line_len() -> u64 {
    let mut line = Vec::new();
    encode_add(Some("acme/bob"), &event(0), &mut line);
    line.len() as u64
}

/// The delivery worker as the driver runs it: on each turn, what the
/// collector acknowledged leaves memory, the queue takes what room allows
/// from the journal, a `done` line is written for the acknowledged events, and
/// the journal is compacted when the storage asks for it.
#[derive(Default)]
struct Worker {
    in_memory: Vec<Event>,
    delivered: Vec<u128>,
    dropped: Vec<u128>,
}

impl Worker {
    fn turn(&mut self, storage: &mut FileStorage, collector_up: bool) {
        let acknowledged: Vec<Event> = if collector_up {
            std::mem::take(&mut self.in_memory)
        } else {
            Vec::new()
        };
        let mut taken = Vec::new();
        storage
            .take_appended(ROOM - self.in_memory.len(), u64::MAX, &mut taken)
            .expect("reads");
        self.in_memory
            .extend(taken.into_iter().map(|(_, e, _)| e.decode()));
        if !acknowledged.is_empty() {
            let ids = acknowledged.iter().map(|e| e.id).collect();
            storage
                .append_journal(&encode(&[Record::Done { ids }]))
                .expect("appends");
            self.delivered
                .extend(acknowledged.iter().map(|e| e.id.as_u128()));
        }
        let mut records = vec![Record::Token {
            user: "acme/bob".into(),
            token: "t".into(),
        }];
        records.extend(self.in_memory.iter().map(|e| Record::Kept {
            user: Some("acme/bob".into()),
            event: e.clone(),
        }));
        let snapshot = encode(&records);
        if storage.nearly_full(snapshot.len()) && storage.wants_replacement(snapshot.len()) {
            storage.replace_journal(&snapshot).expect("compacts");
        }
        self.dropped
            .extend(storage.take_dropped().iter().map(|id| id.as_u128()));
    }
}

#[test]
fn a_journal_near_its_bound_drops_its_oldest_unread_events_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let limit = 400 * line_len();
    let mut storage = FileStorage::open(dir.path().join("app"), 10, limit).expect("opens");
    let mut tracked = 0;
    // Until the events waiting pass three quarters of the bound.
    while storage.journal.active().1 - storage.cursor <= limit / 4 * 3 {
        track(&storage, tracked);
        tracked += 1;
    }
    assert!(storage.nearly_full(0) && storage.wants_replacement(0));
    storage.replace_journal(b"").expect("compacts");
    let dropped: Vec<u128> = storage
        .take_dropped()
        .iter()
        .map(|id| id.as_u128())
        .collect();
    assert!(!dropped.is_empty());
    assert_eq!(
        dropped,
        (0..dropped.len() as u128).collect::<Vec<_>>(),
        "oldest first"
    );
    let (_, end) = storage.journal.active();
    assert!(
        end <= limit / 2,
        "within half the bound after: {end} of {limit}"
    );
    let kept = take_all(&mut storage, 1_000);
    assert_eq!(
        kept,
        (dropped.len() as u128..tracked).collect::<Vec<_>>(),
        "the newest are kept, in order, none lost"
    );
    assert!(!storage.nearly_full(0));
}

/// An app tracks `total` events while the collector is down (the worker
/// taking its turns every 20), then the collector comes back and the journal
/// drains with nothing new tracked.
fn outage_then_drain(total: u128) -> Worker {
    let dir = tempfile::tempdir().expect("temp dir");
    let limit = 400 * line_len();
    let mut storage = FileStorage::open(dir.path().join("app"), ROOM, limit).expect("opens");
    let mut worker = Worker::default();
    for n in 0..total {
        track(&storage, n);
        if n % 20 == 19 {
            worker.turn(&mut storage, false);
        }
    }
    worker.turn(&mut storage, false);
    while storage.appended_waiting() || !worker.in_memory.is_empty() {
        worker.turn(&mut storage, true);
    }
    worker
}

#[test]
fn a_journal_draining_after_an_outage_drops_nothing_more_whatever_its_fill() {
    // Every fill the outage can leave, from well below the bound to past it
    // (four threads, as each run mostly waits for the disk).
    std::thread::scope(|scope| {
        for first in 0..4 {
            scope.spawn(move || {
                for total in (250 + 4 * first..1_200).step_by(16) {
                    check_drain(total);
                }
            });
        }
    });
}

fn check_drain(total: u128) {
    let worker = outage_then_drain(total);
    let first_kept = worker.dropped.len() as u128 + ROOM as u128;
    let expected: Vec<u128> = (0..ROOM as u128).chain(first_kept..total).collect();
    let missing: Vec<u128> = expected
        .iter()
        .filter(|id| !worker.delivered.contains(id))
        .copied()
        .collect();
    assert_eq!(
        worker.delivered, expected,
        "{total} tracked: the {ROOM} in memory, then the newest on disk, none dropped while \
         draining; {missing:?} missing"
    );
    assert_eq!(
        worker.dropped,
        (ROOM as u128..first_kept).collect::<Vec<_>>(),
        "{total} tracked: the oldest on disk dropped, each counted once"
    );
}

#[test]
fn a_write_under_way_where_a_full_journal_drops_is_kept_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let limit = 400 * line_len();
    let mut storage = FileStorage::open(dir.path().join("app"), ROOM, limit).expect("opens");
    let journal = storage.appender();
    for n in 0..20 {
        track(&storage, n);
    }
    // A `track()` between its reservation and its write, among the oldest
    // lines, which the compaction drops.
    let mut line = Vec::new();
    encode_add(Some("acme/bob"), &event(7_777), &mut line);
    let slow = journal.reserve(line.len() as u64).expect("reserves");
    let mut tracked: Vec<u128> = (0..20).chain([7_777]).collect();
    let mut n = 20;
    while storage.journal.active().1 - storage.cursor <= limit / 4 * 3 {
        track(&storage, n);
        tracked.push(n);
        n += 1;
    }
    let (side, _) = journal.active();
    std::thread::scope(|scope| {
        let compaction = scope.spawn(|| storage.replace_journal(b"").expect("compacts"));
        // Written once the compaction has switched files and waits for it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while journal.active().0 == side {
            assert!(Instant::now() < deadline, "the compaction switches files");
            std::thread::yield_now();
        }
        write_at(journal.file(slow.side), &line, slow.offset).expect("writes");
        drop(slow);
        compaction.join().expect("compaction thread");
    });
    let dropped: Vec<u128> = storage
        .take_dropped()
        .iter()
        .map(|id| id.as_u128())
        .collect();
    let kept = take_all(&mut storage, 1_000);
    let lost: Vec<u128> = tracked
        .iter()
        .filter(|id| !dropped.contains(id) && !kept.contains(id))
        .copied()
        .collect();
    assert_eq!(lost, [], "lost without being counted as dropped");
    assert!(kept.contains(&7_777), "the event being written is kept");
    assert_eq!(
        dropped,
        (0..20).collect::<Vec<_>>(),
        "the oldest are dropped up to the write under way"
    );
    assert_eq!(
        dropped.len() + kept.len(),
        tracked.len(),
        "no event both kept and dropped"
    );
}
