//! The mapped writer against the plain `pwrite` one, and the app's memory.

use std::fs::File;

use super::{AHEAD, KEEP, PREFAULT, RELEASE_STEP};
use crate::core::journal::{encode_add, replay};
use crate::native::journal::{read_at, JournalFiles};

fn files(dir: &tempfile::TempDir) -> [File; 2] {
    let open = |name: &str| {
        File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join(name))
            .expect("opens")
    };
    [open("a"), open("b")]
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A line of `1..=max` bytes of text ending in a newline, multi-byte
    /// characters included.
    fn line(&mut self, max: u64) -> Vec<u8> {
        let len = 1 + self.next() % max;
        let mut line = String::new();
        while (line.len() as u64) < len {
            match self.next() % 8 {
                0 => line.push('é'),
                1 => line.push('\u{1F600}'),
                n => line.push(char::from(b'a' + n as u8)),
            }
        }
        line.push('\n');
        line.into_bytes()
    }
}

/// The bytes of file `side` up to `end`, and whether all after it are zeros.
fn contents(journal: &JournalFiles, side: usize, end: u64) -> (Vec<u8>, bool) {
    let file = journal.file(side);
    let size = file.metadata().expect("metadata").len();
    let mut bytes = vec![0; usize::try_from(size.max(end)).expect("small")];
    let read = read_at(file, &mut bytes, 0).expect("reads");
    bytes.truncate(read.max(usize::try_from(end).expect("small")));
    let rest = bytes.split_off(usize::try_from(end).expect("small"));
    (bytes, rest.iter().all(|&b| b == 0))
}

#[test]
fn the_mapped_writer_leaves_the_same_bytes_as_pwrite_over_random_lines() {
    for seed in [1, 7, 12_345] {
        let (mapped_dir, plain_dir) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        let limit = 1 << 30;
        let mapped = JournalFiles::new(files(&mapped_dir), 0, 0, limit);
        let plain = JournalFiles::unmapped(files(&plain_dir), 0, 0, limit);
        assert!(
            mapped.maps.iter().all(Option::is_some),
            "both files are mapped on this platform"
        );
        let mut random = Random(seed);
        // Short lines, and now and then one long enough to cross the part
        // made ready at once, so the file is grown many times and from
        // several places; a switch to the other file and back in the middle.
        let write = |journal_side: Option<usize>, random: &mut Random| {
            for _ in 0..3_000 {
                let max = if random.next() % 50 == 0 {
                    AHEAD / 3
                } else {
                    600
                };
                let line = random.line(max);
                mapped.append(&line).expect("mapped append");
                plain.append(&line).expect("plain append");
            }
            if let Some(to) = journal_side {
                for journal in [&mapped, &plain] {
                    let (from, end) = journal.active();
                    let (_, tail) = journal.switch(to, 0, end);
                    drop(tail);
                    journal.empty(from).expect("empties the old file");
                }
            }
        };
        write(Some(1), &mut random);
        write(Some(0), &mut random);
        write(None, &mut random);
        let (side, end) = mapped.active();
        assert_eq!(plain.active(), (side, end));
        let (mapped_bytes, zeros_after) = contents(&mapped, side, end);
        let (plain_bytes, _) = contents(&plain, side, end);
        assert!(mapped_bytes == plain_bytes, "seed {seed}: the files differ");
        assert!(
            zeros_after,
            "seed {seed}: only zeros past the end of the lines"
        );
        assert!(end > 2 * AHEAD, "the file was grown several times");
    }
}

#[test]
fn events_written_through_the_mapping_read_back_as_tracked() {
    let dir = tempfile::tempdir().expect("dir");
    let journal = JournalFiles::new(files(&dir), 0, 0, 1 << 30);
    let events: Vec<_> = (0..20_000u128)
        .map(|n| {
            let props = serde_json::value::to_raw_value(&serde_json::json!({"n": n as u64}))
                .expect("props");
            usage_protocol::Event::new(
                uuid::Uuid::from_u128(n + 1),
                "screen.opened",
                time::OffsetDateTime::UNIX_EPOCH,
                Some(props),
                Some("s".into()),
            )
            .expect("valid")
        })
        .collect();
    let mut line = Vec::new();
    for event in &events {
        line.clear();
        encode_add(Some("acme/bob"), event, &mut line);
        journal.append(&line).expect("appends");
    }
    let bytes = std::fs::read(dir.path().join("a")).expect("reads the file");
    let replayed = replay(&bytes);
    assert_eq!(replayed.damaged, 0);
    let read: Vec<_> = replayed.events.into_iter().map(|(_, e)| e).collect();
    assert_eq!(read, events);
}

/// Resident bytes of this process's mappings of `path`, from `/proc/self/smaps`.
fn resident_bytes_of(path: &std::path::Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let name = path.to_str().expect("utf-8 path");
    let mut inside = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            inside = line.ends_with(name);
        } else if inside && first == "Rss:" {
            let kib: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .expect("Rss in kB");
            total += kib * 1024;
        }
    }
    total
}

#[test]
fn pages_written_through_the_mapping_leave_the_apps_memory() {
    let dir = tempfile::tempdir().expect("dir");
    let journal = JournalFiles::new(files(&dir), 0, 0, 1 << 30);
    let line = [b"x".repeat(229), b"\n".to_vec()].concat();
    let written = 40 << 20;
    for _ in 0..written / line.len() {
        journal.append(&line).expect("appends");
    }
    let resident = resident_bytes_of(&dir.path().join("a"));
    assert!(resident > 0, "the file is mapped and written through it");
    assert!(
        resident <= AHEAD + PREFAULT + KEEP + RELEASE_STEP,
        "{resident} bytes of {written} written stay in memory"
    );
}

/// Minor page faults this thread has taken, from `/proc/thread-self/stat`.
fn page_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
    let after_name = &stat[stat.rfind(')').expect("name in parentheses") + 1..];
    // Fields from the third on: state, ppid, pgrp, session, tty, tpgid, flags, minflt.
    after_name
        .split_whitespace()
        .nth(7)
        .and_then(|n| n.parse().ok())
        .expect("minflt")
}

#[test]
fn after_the_worker_prepares_the_file_writers_take_no_page_faults() {
    let line = [b"y".repeat(229), b"\n".to_vec()].concat();
    // Half a mebibyte: less than what is prepared ahead.
    let lines = (512 << 10) / line.len();
    let faults = |prepare: bool| {
        let dir = tempfile::tempdir().expect("dir");
        let journal = JournalFiles::new(files(&dir), 0, 0, 1 << 30);
        journal.append(&line).expect("first line");
        if prepare {
            journal.prepare();
        }
        let before = page_faults();
        for _ in 0..lines {
            journal.append(&line).expect("appends");
        }
        page_faults() - before
    };
    let unprepared = faults(false);
    let prepared = faults(true);
    assert!(
        unprepared >= 100,
        "writing fresh pages faults ({unprepared} faults)"
    );
    assert!(
        prepared <= 4,
        "{prepared} page faults after preparing, {unprepared} without"
    );
}
