//! A user gets an opted-out token (a new login) while a batch of theirs is on
//! the wire. What the SDK does, as a user of it would expect:
//!
//! * the batch on the wire is not recalled: the collector decides by its
//!   registry at receipt, and stores nothing of an opted-out user anyway;
//! * whatever it answers, nothing of that user is sent again: an answer that
//!   would normally have the batch sent again (5xx, 429, 401, 413, a broken
//!   connection) drops its events as opted out instead;
//! * the user's events queued behind it are dropped at the login, and those
//!   tracked after it at once;
//! * none of them stays in the journal: a restart sends nothing of them;
//! * each event is counted once (accepted, discarded or dropped), and a
//!   flush returns `true` as soon as the batch is answered.

// The browser has its own tests (`tests/wasm*.rs`); these need sockets and threads.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use support::collector::{Collector, Scripted};
use support::{token, wait_until};
use usage_sdk::{DropReason, Fate, Tracked, Tracker};
use uuid::Uuid;

/// How the collector answers the batch that was on the wire.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// 503 `registry_unavailable`: normally retried.
    Unavailable,
    /// 401 `token_expired`: normally kept for the next login.
    Expired,
    /// Stored: the registry did not yet know at receipt.
    Stored,
    /// Discarded with the opted-out hint: the registry knew.
    Discarded,
}

struct Outcome {
    on_the_wire: Vec<Uuid>,
    queued: Vec<Uuid>,
    collector: Collector,
    tracker: Tracker,
    dir: tempfile::TempDir,
    flushed: bool,
}

fn fate_of(tracker: &Tracker, id: Uuid) -> Fate {
    tracker
        .debug_events()
        .into_iter()
        .find(|e| e.id == Some(id))
        .map(|e| e.fate)
        .unwrap_or_else(|| panic!("{id} is in the debugger"))
}

fn queued(tracker: &Tracker, n: usize) -> Uuid {
    match tracker.track("report.opened", serde_json::json!({ "n": n })) {
        Tracked::Queued(id) => id,
        other => panic!("event {n}: {other:?}"),
    }
}

fn opted_out_login_while_on_the_wire(answer: Answer) -> Outcome {
    let collector = Collector::start();
    collector.hold();
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = Tracker::builder(&collector.url)
        .data_dir(dir.path())
        .do_not_track(false)
        .batch_size(5)
        // One batch at a time, so that the events after the first five wait
        // in the queue while it is on the wire.
        .max_in_flight(1)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(50))
        .build()
        .expect("builds");
    tracker.login(&token("bob", false)).expect("login");
    let first: Vec<Uuid> = (0..5).map(|n| queued(&tracker, n)).collect();
    assert!(
        wait_until(Duration::from_secs(10), || collector.waiting() == 1),
        "the first batch is on the wire"
    );
    // The worker may have sent before all five were tracked: what is on the
    // wire is what the tracker marked sent, and the rest waits behind it.
    let (on_the_wire, mut waiting): (Vec<Uuid>, Vec<Uuid>) = first
        .into_iter()
        .partition(|id| matches!(fate_of(&tracker, *id), Fate::Sent { .. }));
    assert!(!on_the_wire.is_empty(), "a batch is on the wire");
    waiting.extend((5..8).map(|n| queued(&tracker, n)));
    let queued = waiting;

    let claims = tracker.login(&token("bob", true)).expect("login");
    assert!(claims.opt_out);
    assert_eq!(
        tracker.track("report.opened", serde_json::json!({ "n": 8 })),
        Tracked::Dropped(DropReason::OptedOut),
        "tracked after the login: dropped at once"
    );
    // Returns once the worker has taken the login (tasks go in order).
    tracker.flush(Duration::ZERO);

    match answer {
        Answer::Unavailable => collector.script([Scripted::new(503, "registry_unavailable")]),
        Answer::Expired => collector.script([Scripted::new(401, "token_expired")]),
        Answer::Stored => {}
        Answer::Discarded => collector.opt_out("bob"),
    }
    collector.release();
    let flushed = tracker.flush(Duration::from_secs(10));
    Outcome {
        on_the_wire,
        queued,
        collector,
        tracker,
        dir,
        flushed,
    }
}

/// What the checks below share: nothing sent after the opted-out login, the
/// queued events dropped, and a restart that sends nothing of them.
fn check_common(outcome: Outcome, fate_on_the_wire: &Fate) {
    let Outcome {
        on_the_wire,
        queued,
        collector,
        tracker,
        dir,
        flushed,
    } = outcome;
    assert!(
        flushed,
        "nothing sendable is left once the batch is answered"
    );
    let arrivals = collector.arrivals();
    assert_eq!(
        arrivals.len(),
        1,
        "one request, never sent again: {arrivals:?}"
    );
    assert_eq!(arrivals[0].ids, on_the_wire);
    for id in &on_the_wire {
        assert_eq!(&fate_of(&tracker, *id), fate_on_the_wire, "on the wire");
    }
    let dropped = Fate::Dropped {
        reason: DropReason::OptedOut,
    };
    for id in &queued {
        assert_eq!(fate_of(&tracker, *id), dropped, "queued behind it");
    }
    let counters = tracker.status().counters;
    assert_eq!(
        counters.accepted + counters.discarded + counters.dropped,
        8,
        "each event counted once: {counters:?}"
    );

    // The journal keeps none of them: each line that holds one is followed
    // by a line that ends it.
    tracker.logout();
    assert!(tracker.shutdown(Duration::from_secs(5)));
    drop(tracker);
    let kept = kept_in_journal(dir.path());
    let bobs: Vec<&Uuid> = on_the_wire
        .iter()
        .chain(&queued)
        .filter(|id| kept.contains(id))
        .collect();
    assert_eq!(bobs, Vec::<&Uuid>::new(), "kept in the journal");

    // And after a restart with no login to resume, nothing of bob's is
    // sent, even to a collector that would store it.
    let fresh = Collector::start();
    let restarted = Tracker::builder(&fresh.url)
        .data_dir(dir.path())
        .do_not_track(false)
        .build()
        .expect("builds again");
    restarted.login(&token("carol", false)).expect("login");
    let carols = queued_one(&restarted);
    assert!(restarted.flush(Duration::from_secs(10)));
    let stored = fresh.stored();
    assert_eq!(
        stored.keys().copied().collect::<Vec<_>>(),
        [carols],
        "only carol's event after the restart"
    );
}

/// Events the journal files still hold unfinished: in an `add` or `kept`
/// line and in no `done` line (the on-disk format a restart reads).
fn kept_in_journal(dir: &std::path::Path) -> Vec<Uuid> {
    let mut held: Vec<Uuid> = Vec::new();
    let mut done: Vec<Uuid> = Vec::new();
    for name in ["journal.0.ndjson", "journal.1.ndjson"] {
        let bytes = std::fs::read(dir.join(name)).unwrap_or_default();
        for line in bytes.split(|&b| b == b'\n' || b == 0) {
            let Ok(record) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            for kind in ["add", "kept"] {
                if let Some(id) = record[kind]["event"]["id"].as_str() {
                    held.push(id.parse().expect("a uuid"));
                }
            }
            if let Some(ids) = record["done"]["ids"].as_array() {
                done.extend(
                    ids.iter()
                        .filter_map(|id| id.as_str()?.parse::<Uuid>().ok()),
                );
            }
        }
    }
    held.retain(|id| !done.contains(id));
    held
}

fn queued_one(tracker: &Tracker) -> Uuid {
    queued(tracker, 100)
}

#[test]
fn a_batch_on_the_wire_that_fails_after_an_opted_out_login_is_dropped_not_retried() {
    let outcome = opted_out_login_while_on_the_wire(Answer::Unavailable);
    assert!(outcome.collector.stored().is_empty());
    assert_eq!(outcome.tracker.status().counters.dropped, 8);
    check_common(
        outcome,
        &Fate::Dropped {
            reason: DropReason::OptedOut,
        },
    );
}

#[test]
fn a_batch_on_the_wire_refused_as_expired_after_an_opted_out_login_is_dropped() {
    let outcome = opted_out_login_while_on_the_wire(Answer::Expired);
    assert!(outcome.collector.stored().is_empty());
    check_common(
        outcome,
        &Fate::Dropped {
            reason: DropReason::OptedOut,
        },
    );
}

#[test]
fn a_batch_on_the_wire_keeps_the_collectors_answer_when_it_stored_it() {
    let outcome = opted_out_login_while_on_the_wire(Answer::Stored);
    let sent = outcome.on_the_wire.len();
    assert_eq!(
        outcome.collector.stored().len(),
        sent,
        "the registry decides at receipt"
    );
    let sent = sent as u64;
    let counters = outcome.tracker.status().counters;
    assert_eq!((counters.accepted, counters.dropped), (sent, 8 - sent));
    check_common(outcome, &Fate::Accepted);
}

#[test]
fn a_batch_on_the_wire_keeps_the_collectors_answer_when_it_discarded_it() {
    let outcome = opted_out_login_while_on_the_wire(Answer::Discarded);
    assert!(outcome.collector.stored().is_empty());
    let sent = outcome.on_the_wire.len() as u64;
    let counters = outcome.tracker.status().counters;
    assert_eq!((counters.discarded, counters.dropped), (sent, 8 - sent));
    check_common(outcome, &Fate::Discarded);
}
