//! The folder's files: the journal as a queue on disk, its compaction, the
//! lock, and what a restart reads back.

use super::*;
use crate::core::journal::{encode, encode_add, replay, Record};
use crate::native::journal::write_at;
use time::OffsetDateTime;
use usage_protocol::Event;
use uuid::Uuid;

const LIMIT: u64 = 1 << 30;

pub(super) fn event(n: u128) -> Event {
    Event::new(
        Uuid::from_u128(n),
        "e",
        OffsetDateTime::UNIX_EPOCH,
        None,
        None,
    )
    .expect("valid")
}

/// What `track()` does: one Add line per event, appended with one write.
pub(super) fn track(storage: &FileStorage, n: u128) {
    let mut line = Vec::new();
    encode_add(Some("acme/bob"), &event(n), &mut line);
    storage.appender().append(&line).expect("appends");
}

pub(super) fn take_all(storage: &mut FileStorage, room: usize) -> Vec<u128> {
    let mut taken = Vec::new();
    storage
        .take_appended(room, u64::MAX, &mut taken)
        .expect("reads");
    taken.iter().map(|(_, e, _)| e.id.as_u128()).collect()
}

#[test]
fn appended_events_are_taken_in_order_as_room_allows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().join("app"), 10, LIMIT).expect("opens");
    for n in 0..5 {
        track(&storage, n);
    }
    assert!(storage.appended_waiting());
    assert_eq!(take_all(&mut storage, 3), [0, 1, 2]);
    assert_eq!(take_all(&mut storage, 3), [3, 4]);
    assert!(!storage.appended_waiting());
}

#[test]
fn the_loops_own_lines_are_not_taken_as_new_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().join("app"), 10, LIMIT).expect("opens");
    track(&storage, 1);
    let kept = encode(&[
        Record::Kept {
            user: Some("acme/bob".into()),
            event: event(2),
        },
        Record::Done { ids: vec![] },
    ]);
    storage.append_journal(&kept).expect("appends");
    track(&storage, 3);
    assert_eq!(take_all(&mut storage, 10), [1, 3]);
}

#[test]
fn a_write_under_way_stops_reading_until_it_is_done() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().join("app"), 10, LIMIT).expect("opens");
    let journal = storage.appender();
    let mut line = Vec::new();
    encode_add(None, &event(1), &mut line);
    let slow = journal.reserve(line.len() as u64).expect("reserves");
    track(&storage, 2);
    assert_eq!(
        take_all(&mut storage, 10),
        Vec::<u128>::new(),
        "event 1 comes first"
    );
    write_at(journal.file(slow.side), &line, slow.offset).expect("writes");
    drop(slow);
    assert_eq!(take_all(&mut storage, 10), [1, 2]);
}

#[test]
fn a_write_under_way_behind_a_full_queue_is_read_once_it_is_done() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().join("app"), 10, LIMIT).expect("opens");
    let journal = storage.appender();
    track(&storage, 1);
    let mut line = Vec::new();
    encode_add(None, &event(2), &mut line);
    let slow = journal.reserve(line.len() as u64).expect("reserves");
    track(&storage, 3);
    // Room for one: reading stops before the write under way.
    assert_eq!(take_all(&mut storage, 1), [1]);
    write_at(journal.file(slow.side), &line, slow.offset).expect("writes");
    drop(slow);
    assert_eq!(take_all(&mut storage, 10), [2, 3]);
}

#[test]
fn a_write_that_failed_is_skipped_once_no_write_is_under_way() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().join("app"), 10, LIMIT).expect("opens");
    let journal = storage.appender();
    drop(journal.reserve(40).expect("reserves, then never writes"));
    track(&storage, 2);
    assert_eq!(take_all(&mut storage, 10), [2]);
}

#[test]
fn a_backlog_read_a_few_events_at_a_time_stays_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().join("app"), 10, LIMIT).expect("opens");
    let backlog: u128 = 60_000;
    for n in 0..backlog {
        track(&storage, n);
    }
    assert!(
        storage.journal.active().1 > 16 * READ_CHUNK as u64,
        "a backlog of many chunks"
    );
    let mut next = 0;
    let mut most = 0;
    while storage.appended_waiting() {
        let taken = take_all(&mut storage, 50);
        assert_eq!(
            taken,
            (next..next + taken.len() as u128).collect::<Vec<_>>()
        );
        next += taken.len() as u128;
        most = most.max(storage.unread.capacity());
    }
    assert_eq!(next, backlog, "every event read, in order");
    assert!(
        most <= 8 * READ_CHUNK,
        "at most a few chunks in memory, not the backlog: {most} bytes"
    );
}

#[test]
fn events_beyond_the_room_wait_on_disk_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app");
    let mut storage = FileStorage::open(path.clone(), 10, LIMIT).expect("opens");
    for n in 0..25 {
        track(&storage, n);
    }
    assert_eq!(take_all(&mut storage, 4), [0, 1, 2, 3]);
    drop(storage);

    let mut reopened = FileStorage::open(path, 10, LIMIT).expect("opens");
    let restored = replay(&reopened.restore_journal(10).expect("restores"));
    let in_memory: Vec<u128> = restored
        .events
        .iter()
        .map(|(_, e)| e.id.as_u128())
        .collect();
    assert_eq!(in_memory, (0..10).collect::<Vec<_>>());
    assert_eq!(take_all(&mut reopened, 100), (10..25).collect::<Vec<_>>());
}

#[test]
fn compaction_keeps_the_live_events_and_the_unread_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app");
    let mut storage = FileStorage::open(path.clone(), 100, LIMIT).expect("opens");
    // Enough dead lines to pass the compaction threshold.
    let padding = "x".repeat(4_000);
    for n in 0..2_000 {
        let mut line = Vec::new();
        let props =
            serde_json::value::to_raw_value(&serde_json::json!({ "p": padding })).expect("raw");
        let event = Event::new(
            Uuid::from_u128(n),
            "e",
            OffsetDateTime::UNIX_EPOCH,
            Some(props),
            None,
        )
        .expect("valid");
        encode_add(Some("acme/bob"), &event, &mut line);
        storage.appender().append(&line).expect("appends");
    }
    let mut taken = Vec::new();
    storage
        .take_appended(1_990, u64::MAX, &mut taken)
        .expect("reads");
    // Events 0..1990 were delivered except 5; the snapshot holds it.
    let snapshot = encode(&[
        Record::Token {
            user: "acme/bob".into(),
            token: "t".into(),
        },
        Record::Kept {
            user: Some("acme/bob".into()),
            event: event(5),
        },
    ]);
    let before = storage.journal.active();
    storage.replace_journal(&snapshot).expect("compacts");
    let after = storage.journal.active();
    assert_ne!(before.0, after.0, "the other file is active");
    assert!(after.1 < before.1 / 100, "dead lines are gone");
    track(&storage, 9_999);
    assert_eq!(
        take_all(&mut storage, 100),
        (1_990..2_000).chain([9_999]).collect::<Vec<_>>(),
        "unread lines moved across, before the new ones"
    );
    drop(storage);

    let mut reopened = FileStorage::open(path, 100, LIMIT).expect("opens");
    let restored = replay(&reopened.restore_journal(100).expect("restores"));
    let ids: Vec<u128> = restored
        .events
        .iter()
        .map(|(_, e)| e.id.as_u128())
        .collect();
    assert_eq!(
        ids,
        [5].into_iter()
            .chain(1_990..2_000)
            .chain([9_999])
            .collect::<Vec<_>>()
    );
    assert_eq!(restored.tokens["acme/bob"], "t");
}

#[test]
fn a_line_half_written_during_compaction_arrives_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().join("app"), 100, LIMIT).expect("opens");
    let padding = "x".repeat(4_000);
    let props = serde_json::value::to_raw_value(&serde_json::json!({ "p": padding })).expect("raw");
    for n in 0..2_000 {
        let mut line = Vec::new();
        let event = Event::new(
            Uuid::from_u128(n),
            "e",
            OffsetDateTime::UNIX_EPOCH,
            Some(props.clone()),
            None,
        )
        .expect("valid");
        encode_add(Some("acme/bob"), &event, &mut line);
        storage.appender().append(&line).expect("appends");
    }
    let mut taken = Vec::new();
    storage
        .take_appended(2_000, u64::MAX, &mut taken)
        .expect("reads");
    // A `track()` between its reservation and the end of its write.
    let journal = storage.appender();
    let mut line = Vec::new();
    encode_add(Some("acme/bob"), &event(7_777), &mut line);
    let (first, second) = line.split_at(line.len() / 2);
    let second = second.to_vec();
    let slow = journal.reserve(line.len() as u64).expect("reserves");
    write_at(journal.file(slow.side), first, slow.offset).expect("writes half");
    let (side, offset, half) = (slow.side, slow.offset, first.len() as u64);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // Finished once the compaction has switched files and waits for it.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while journal.active().0 == side {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the compaction switches"
                );
                std::thread::yield_now();
            }
            write_at(journal.file(side), &second, offset + half).expect("writes the rest");
            drop(slow);
            // The next `track()` comes as the old file is let go.
            let mut next = Vec::new();
            encode_add(Some("acme/bob"), &event(6_666), &mut next);
            journal.append(&next).expect("appends");
        });
        track(&storage, 8_888);
        // Waits for the write under way before it empties the old file.
        storage.replace_journal(b"").expect("compacts");
    });
    track(&storage, 9_999);
    let mut ids = take_all(&mut storage, 100);
    ids.sort_unstable();
    assert_eq!(ids, [6_666, 7_777, 8_888, 9_999]);
}

#[test]
fn a_small_journal_is_not_compacted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().join("app"), 10, LIMIT).expect("opens");
    track(&storage, 1);
    let before = storage.journal.active();
    storage.replace_journal(b"").expect("declines");
    assert_eq!(storage.journal.active(), before);
}

#[test]
fn a_second_tracker_on_the_folder_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app");
    let first = FileStorage::open(path.clone(), 10, LIMIT).expect("opens");
    let second = FileStorage::open(path.clone(), 10, LIMIT);
    assert!(matches!(second, Err(Error::FolderInUse(ref p)) if *p == path));
    drop(first);
    FileStorage::open(path, 10, LIMIT).expect("free again");
}

#[test]
fn the_journal_of_an_earlier_version_is_read_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app");
    fs::create_dir_all(&path).expect("dir");
    let old = encode(&[
        Record::Token {
            user: "acme/bob".into(),
            token: "t".into(),
        },
        Record::Add {
            user: Some("acme/bob".into()),
            event: event(1),
        },
    ]);
    fs::write(path.join(OLD_JOURNAL_FILE), old).expect("writes");
    let mut storage = FileStorage::open(path.clone(), 10, LIMIT).expect("opens");
    let restored = replay(&storage.restore_journal(10).expect("restores"));
    assert_eq!(restored.events, vec![(Some("acme/bob".into()), event(1))]);
    assert!(!path.join(OLD_JOURNAL_FILE).exists());
}

#[test]
fn a_full_journal_refuses_new_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = FileStorage::open(dir.path().join("app"), 10, 300).expect("opens");
    let mut line = Vec::new();
    encode_add(Some("acme/bob"), &event(1), &mut line);
    let mut appended = 0;
    while storage.appender().append(&line).is_ok() {
        appended += 1;
    }
    assert!(appended >= 1);
    assert!(matches!(
        storage.appender().append(&line),
        Err(AppendError::Full)
    ));
}

#[test]
fn a_cleared_session_reads_as_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::open(dir.path().to_path_buf(), 10, LIMIT).expect("opens");
    let session = CachedSession {
        token: "t".into(),
        session_id: "s".into(),
        server_opted_out: false,
    };
    storage.save_session(Some(&session)).expect("saves");
    assert_eq!(storage.load_session().expect("reads"), Some(session));
    storage.save_session(None).expect("clears");
    storage.save_session(None).expect("clearing twice is fine");
    assert_eq!(storage.load_session().expect("reads"), None);
}
