//! A journal left torn by a killed process (a line reserved but never
//! written, and a last line cut short), then new events tracked after the
//! restart: every whole event arrives once, and no fragment glues onto a new line.

// The browser has its own tests (`tests/wasm*.rs`); these need files and sockets.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::collector::Collector;
use support::{closed_port, token};
use usage_sdk::{Tracked, Tracker};
use uuid::Uuid;

const BEFORE: usize = 50;
const AFTER: usize = 20;

fn tracker(url: &str, dir: &Path) -> Tracker {
    Tracker::builder(url)
        .data_dir(dir)
        .do_not_track(false)
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .expect("builds")
}

fn track(tracker: &Tracker, name: &str, n: usize) -> Uuid {
    match tracker.track(name, serde_json::json!({ "n": n })) {
        Tracked::Queued(id) => id,
        other => panic!("{name} {n} was not queued: {other:?}"),
    }
}

/// The journal file holding the events' lines.
fn journal_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = ["journal.0.ndjson", "journal.1.ndjson"]
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| std::fs::metadata(path).is_ok_and(|m| m.len() > 0))
        .collect();
    assert_eq!(files.len(), 1, "one journal file in use: {files:?}");
    files[0].clone()
}

/// The byte range of the line that holds `id`.
fn line_of(bytes: &[u8], id: Uuid) -> std::ops::Range<usize> {
    let needle = id.to_string();
    let mut start = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let end = start + line.len();
        if String::from_utf8_lossy(line).contains(&needle) {
            return start..end;
        }
        start = end;
    }
    panic!("no line holds {id}");
}

#[test]
fn a_torn_journal_then_new_events_delivers_every_whole_event_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");

    // A first run tracks while the collector is down.
    let first = tracker(&url, dir.path());
    first.login(&token("bob", false)).expect("login");
    let before: Vec<Uuid> = (0..BEFORE)
        .map(|n| track(&first, "before.kill", n))
        .collect();
    assert!(!first.shutdown(Duration::ZERO), "the collector is down");
    drop(first);

    // What a kill leaves: one thread had reserved its line and not yet
    // written it (zeros, with later lines whole), and another was killed in
    // the middle of writing the last line.
    let path = journal_file(dir.path());
    let mut bytes = std::fs::read(&path).expect("reads the journal");
    let never_written = before[30];
    let reserved = line_of(&bytes, never_written);
    bytes[reserved].fill(0);
    let cut_short = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);
    let template = &bytes[line_of(&bytes, before[0])];
    let torn =
        String::from_utf8_lossy(template).replace(&before[0].to_string(), &cut_short.to_string());
    assert!(torn.ends_with('\n'));
    bytes.extend_from_slice(&torn.as_bytes()[..torn.len() / 2]);
    std::fs::write(&path, &bytes).expect("writes the torn journal");

    // The next run tracks more, then the collector comes back.
    let second = tracker(&url, dir.path());
    let after: Vec<Uuid> = (0..AFTER)
        .map(|n| track(&second, "after.restart", n))
        .collect();
    let collector = Collector::start_on(port).expect("the port is still free");
    assert!(
        second.flush(Duration::from_secs(30)),
        "everything delivered"
    );

    let stored = collector.stored();
    let whole: Vec<Uuid> = before
        .iter()
        .copied()
        .filter(|id| *id != never_written)
        .chain(after.iter().copied())
        .collect();
    let missing: Vec<&Uuid> = whole.iter().filter(|id| !stored.contains_key(id)).collect();
    assert_eq!(missing, Vec::<&Uuid>::new(), "every whole event arrives");
    let twice: Vec<(&Uuid, &usize)> = stored.iter().filter(|(_, n)| **n != 1).collect();
    assert_eq!(twice, vec![], "each once");
    assert!(
        !stored.contains_key(&never_written) && !stored.contains_key(&cut_short),
        "the torn events were never whole"
    );
    assert_eq!(stored.len(), whole.len(), "nothing else arrives");

    // Every line on disk is whole JSON: no fragment glued onto a new line.
    // (A NUL ends a line too: a file grown ahead of its writers ends in zeros.)
    second.shutdown(Duration::from_secs(5));
    drop(second);
    for name in ["journal.0.ndjson", "journal.1.ndjson"] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap_or_default();
        for line in bytes
            .split(|&b| b == b'\n' || b == 0)
            .filter(|l| !l.is_empty())
        {
            assert!(
                serde_json::from_slice::<serde_json::Value>(line).is_ok(),
                "{name} holds a line that is not JSON: {}",
                String::from_utf8_lossy(line)
            );
        }
    }

    // A third run sends nothing again.
    let third = tracker(&url, dir.path());
    assert!(third.flush(Duration::from_secs(10)));
    assert_eq!(collector.stored(), stored, "nothing delivered twice");
    assert_eq!(
        collector
            .arrivals()
            .iter()
            .map(|a| a.ids.len())
            .sum::<usize>(),
        whole.len(),
        "no event sent again after it was accepted"
    );
}
