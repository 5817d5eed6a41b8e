//! State-machine tests of the core with a fake clock: time is a number passed in.

use super::*;
use crate::core::reply::{HttpReply, TransportError};
use time::OffsetDateTime;
use usage_protocol::{Batch, BatchResponse, RejectCode, Rejection};

pub(super) const T0: u64 = 1_000_000;

pub(super) fn engine(size: usize) -> Engine {
    Engine::new(EngineConfig {
        batch: BatchPolicy {
            size,
            interval_ms: 5_000,
            drain_backlog: false,
        },
        max_queued: 100,
        max_held: 10,
        max_in_flight: 1,
        ..EngineConfig::default()
    })
}

pub(super) fn login(user: &str, token: &str, opted_out: bool) -> Login {
    Login {
        user: Arc::from(user),
        token: token.to_owned(),
        opted_out,
        generation: 1,
        session_id: "s1".to_owned(),
    }
}

pub(super) fn event(n: u128) -> Event {
    Event::new(
        Uuid::from_u128(n),
        "screen.opened",
        OffsetDateTime::UNIX_EPOCH,
        None,
        None,
    )
    .expect("valid")
}

pub(super) fn ok(response: BatchResponse) -> Result<HttpReply, TransportError> {
    Ok(HttpReply {
        status: 200,
        retry_after: None,
        body: serde_json::to_vec(&response).expect("serializes"),
    })
}

pub(super) fn accepted(n: u32) -> Result<HttpReply, TransportError> {
    ok(BatchResponse {
        accepted: n,
        ..BatchResponse::default()
    })
}

pub(super) fn status(
    code: u16,
    retry_after: Option<&str>,
    body: &str,
) -> Result<HttpReply, TransportError> {
    Ok(HttpReply {
        status: code,
        retry_after: retry_after.map(str::to_owned),
        body: body.as_bytes().to_vec(),
    })
}

/// Answers the oldest batch on the wire.
pub(super) fn reply(
    engine: &mut Engine,
    result: Result<HttpReply, TransportError>,
    now: u64,
    random: u64,
) {
    let flight = engine
        .in_flight
        .first()
        .expect("a batch on the wire")
        .flight;
    engine.on_reply(flight, result, now, random);
}

pub(super) fn sent_ids(out: &Outgoing) -> Vec<Uuid> {
    let batch: Batch = serde_json::from_slice(&out.body).expect("a batch");
    batch.events.iter().map(|e| e.id).collect()
}

pub(super) fn fates(engine: &mut Engine) -> Vec<(Uuid, Fate)> {
    engine
        .take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Fate { id, fate } => Some((id, fate)),
            _ => None,
        })
        .collect()
}

pub(super) fn logged_in(size: usize) -> Engine {
    let mut engine = engine(size);
    engine.login(login("acme/bob", "tok", false), T0);
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH);
    engine.take_effects();
    engine
}

#[test]
fn a_full_batch_goes_at_once_and_a_short_one_after_the_interval() {
    let mut engine = logged_in(3);
    engine.track(event(1), T0);
    engine.track(event(2), T0);
    assert!(engine.poll(T0 + 10, OffsetDateTime::UNIX_EPOCH).is_none());
    assert_eq!(engine.next_wakeup(T0 + 10), Some(T0 + 5_000));
    engine.track(event(3), T0 + 10);
    let out = engine
        .poll(T0 + 10, OffsetDateTime::UNIX_EPOCH)
        .expect("full batch");
    assert_eq!(out.token, "tok");
    assert_eq!(sent_ids(&out), [1, 2, 3].map(Uuid::from_u128));

    reply(&mut engine, accepted(3), T0 + 20, 0);
    engine.track(event(4), T0 + 30);
    assert!(engine
        .poll(T0 + 4_000, OffsetDateTime::UNIX_EPOCH)
        .is_none());
    let out = engine
        .poll(T0 + 5_030, OffsetDateTime::UNIX_EPOCH)
        .expect("interval passed");
    assert_eq!(out.events, 1);
}

#[test]
fn accepted_events_leave_the_queue_and_the_journal() {
    let mut engine = logged_in(1);
    engine.track(event(1), T0);
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH).expect("batch");
    engine.take_effects();
    reply(&mut engine, accepted(1), T0, 0);
    let effects = engine.take_effects();
    assert!(effects.contains(&Effect::Fate {
        id: Uuid::from_u128(1),
        fate: Fate::Accepted
    }));
    assert!(effects.contains(&Effect::Journal(Record::Done {
        ids: vec![Uuid::from_u128(1)]
    })));
    assert_eq!(engine.settled(), Some(true));
}

#[test]
fn failures_back_off_with_full_jitter_and_a_success_resets() {
    let mut engine = logged_in(1);
    engine.track(event(1), T0);
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH).expect("batch");
    let down = Err(TransportError("connection refused".into()));
    reply(&mut engine, down.clone(), T0, 1_000);
    assert_eq!(
        engine.next_wakeup(T0),
        Some(T0 + 1_000),
        "first ceiling is 1 s"
    );
    assert!(engine.poll(T0 + 999, OffsetDateTime::UNIX_EPOCH).is_none());
    engine
        .poll(T0 + 1_000, OffsetDateTime::UNIX_EPOCH)
        .expect("retry");
    reply(&mut engine, down, T0 + 1_000, 2_000);
    assert_eq!(
        engine.next_wakeup(T0 + 1_000),
        Some(T0 + 3_000),
        "second ceiling is 2 s"
    );
    let out = engine
        .poll(T0 + 3_000, OffsetDateTime::UNIX_EPOCH)
        .expect("retry");
    assert_eq!(
        sent_ids(&out),
        [Uuid::from_u128(1)],
        "the same id goes again"
    );
    reply(&mut engine, accepted(1), T0 + 3_000, 0);
    engine.track(event(2), T0 + 3_000);
    engine
        .poll(T0 + 3_000, OffsetDateTime::UNIX_EPOCH)
        .expect("next");
    reply(
        &mut engine,
        Err(TransportError("down".into())),
        T0 + 3_000,
        1_001,
    );
    assert_eq!(
        engine.next_wakeup(T0 + 3_000),
        Some(T0 + 3_000),
        "back to a 1 s ceiling"
    );
}

#[test]
fn retry_after_is_honoured_even_by_a_flush() {
    let mut engine = logged_in(1);
    engine.track(event(1), T0);
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH).expect("batch");
    reply(
        &mut engine,
        status(
            429,
            Some("7"),
            r#"{"error":{"code":"rate_limited","message":"m"}}"#,
        ),
        T0,
        0,
    );
    engine.expedite(T0 + 1);
    assert!(engine
        .poll(T0 + 6_999, OffsetDateTime::UNIX_EPOCH)
        .is_none());
    assert!(engine
        .poll(T0 + 7_000, OffsetDateTime::UNIX_EPOCH)
        .is_some());
}

#[test]
fn payload_too_large_sends_the_batch_in_halves() {
    let mut engine = logged_in(4);
    for n in 1..=4 {
        engine.track(event(n), T0);
    }
    engine
        .poll(T0, OffsetDateTime::UNIX_EPOCH)
        .expect("4 events");
    reply(&mut engine, status(413, None, ""), T0, 0);
    let first = engine
        .poll(T0, OffsetDateTime::UNIX_EPOCH)
        .expect("first half");
    assert_eq!(sent_ids(&first), [1, 2].map(Uuid::from_u128));
    reply(&mut engine, status(413, None, ""), T0, 0);
    let quarter = engine
        .poll(T0, OffsetDateTime::UNIX_EPOCH)
        .expect("a quarter");
    assert_eq!(sent_ids(&quarter), [Uuid::from_u128(1)]);
    reply(&mut engine, accepted(1), T0, 0);
    let second_quarter = engine
        .poll(T0, OffsetDateTime::UNIX_EPOCH)
        .expect("2nd quarter");
    assert_eq!(sent_ids(&second_quarter), [Uuid::from_u128(2)]);
    reply(&mut engine, accepted(1), T0, 0);
    let second_half = engine
        .poll(T0, OffsetDateTime::UNIX_EPOCH)
        .expect("second half");
    assert_eq!(sent_ids(&second_half), [3, 4].map(Uuid::from_u128));
}

#[test]
fn a_single_event_too_large_is_dropped_with_the_reason() {
    let mut engine = logged_in(1);
    engine.track(event(1), T0);
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH).expect("batch");
    engine.take_effects();
    reply(&mut engine, status(413, None, ""), T0, 0);
    let refused = Fate::Refused {
        status: 413,
        code: Some("payload_too_large".into()),
    };
    assert_eq!(fates(&mut engine), [(Uuid::from_u128(1), refused)]);
    assert_eq!(engine.settled(), Some(true));
}

#[test]
fn the_opted_out_hint_drops_that_users_queue_and_stops_sending() {
    let mut engine = logged_in(2);
    for n in 1..=5 {
        engine.track(event(n), T0);
    }
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH).expect("batch");
    engine.take_effects();
    let hint = BatchResponse {
        discarded: 2,
        opted_out: true,
        ..BatchResponse::default()
    };
    reply(&mut engine, ok(hint), T0, 0);
    let effects = engine.take_effects();
    assert!(effects.contains(&Effect::ServerOptedOut { generation: 1 }));
    let dropped = effects
        .iter()
        .filter(|e| {
            matches!(
                e,
                Effect::Fate {
                    fate: Fate::Dropped {
                        reason: DropReason::OptedOut
                    },
                    ..
                }
            )
        })
        .count();
    assert_eq!(dropped, 3);
    assert!(effects.contains(&Effect::Fate {
        id: Uuid::from_u128(1),
        fate: Fate::Discarded
    }));
    engine.track(event(6), T0);
    assert!(engine
        .poll(T0 + 60_000, OffsetDateTime::UNIX_EPOCH)
        .is_none());
    assert_eq!(engine.counters().discarded, 2);
}

#[test]
fn an_expired_token_keeps_events_until_the_next_login() {
    let mut engine = logged_in(1);
    engine.track(event(1), T0);
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH).expect("batch");
    engine.take_effects();
    reply(
        &mut engine,
        status(
            401,
            None,
            r#"{"error":{"code":"token_expired","message":"m"}}"#,
        ),
        T0,
        0,
    );
    let effects = engine.take_effects();
    assert!(effects.contains(&Effect::Unauthorized {
        code: "token_expired".into()
    }));
    assert!(engine
        .poll(T0 + 600_000, OffsetDateTime::UNIX_EPOCH)
        .is_none());
    assert_eq!(engine.settled(), Some(false), "kept, but cannot go yet");

    engine.login(login("acme/bob", "fresh", false), T0 + 1);
    let out = engine
        .poll(T0 + 1, OffsetDateTime::UNIX_EPOCH)
        .expect("sent with the new token");
    assert_eq!(
        (out.token.as_str(), sent_ids(&out)),
        ("fresh", vec![Uuid::from_u128(1)])
    );
}

#[test]
fn other_client_errors_drop_the_batch_and_record_why() {
    let mut engine = logged_in(1);
    engine.track(event(1), T0);
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH).expect("batch");
    engine.take_effects();
    reply(
        &mut engine,
        status(
            400,
            None,
            r#"{"error":{"code":"malformed_batch","message":"m"}}"#,
        ),
        T0,
        0,
    );
    let refused = Fate::Refused {
        status: 400,
        code: Some("malformed_batch".into()),
    };
    assert_eq!(fates(&mut engine), [(Uuid::from_u128(1), refused)]);
}

#[test]
fn rejected_events_are_named_by_index() {
    let mut engine = logged_in(2);
    engine.track(event(1), T0);
    engine.track(event(2), T0);
    engine.poll(T0, OffsetDateTime::UNIX_EPOCH).expect("batch");
    engine.take_effects();
    let response = BatchResponse {
        accepted: 1,
        rejected: vec![Rejection {
            index: 1,
            code: RejectCode::InvalidProps,
        }],
        ..BatchResponse::default()
    };
    reply(&mut engine, ok(response), T0, 0);
    assert_eq!(
        fates(&mut engine),
        [
            (Uuid::from_u128(1), Fate::Accepted),
            (
                Uuid::from_u128(2),
                Fate::Rejected {
                    code: RejectCode::InvalidProps
                }
            )
        ]
    );
}

#[test]
fn events_before_login_are_held_then_released_or_dropped() {
    let mut engine = engine(10);
    engine.track(event(1), T0);
    assert_eq!(fates(&mut engine), [(Uuid::from_u128(1), Fate::Held)]);
    assert!(engine
        .poll(T0 + 60_000, OffsetDateTime::UNIX_EPOCH)
        .is_none());
    assert_eq!(
        engine.settled(),
        Some(true),
        "held events wait for a login, not a flush"
    );

    engine.login(login("acme/bob", "tok", false), T0 + 1);
    let out = engine
        .poll(T0 + 1, OffsetDateTime::UNIX_EPOCH)
        .expect("released at login");
    assert_eq!(sent_ids(&out), [Uuid::from_u128(1)]);

    let mut engine = self::engine(10);
    engine.track(event(2), T0);
    engine.take_effects();
    engine.login(login("acme/carol", "tok", true), T0 + 1);
    let dropped = Fate::Dropped {
        reason: DropReason::OptedOut,
    };
    assert_eq!(fates(&mut engine), [(Uuid::from_u128(2), dropped)]);
}

#[test]
fn held_events_past_the_bound_are_dropped_oldest_first() {
    let mut engine = engine(10);
    for n in 0..11 {
        engine.track(event(n), T0);
    }
    let effects = fates(&mut engine);
    let no_session = Fate::Dropped {
        reason: DropReason::NoSession,
    };
    assert!(effects.contains(&(Uuid::from_u128(0), no_session)));
    assert_eq!(engine.backlog(), (0, 10));
}

#[test]
fn a_full_queue_drops_the_oldest_and_counts_it() {
    let mut engine = Engine::new(EngineConfig {
        max_queued: 2,
        ..EngineConfig::default()
    });
    engine.login(login("acme/bob", "tok", false), T0);
    for n in 1..=3 {
        engine.track(event(n), T0);
    }
    let full = Fate::Dropped {
        reason: DropReason::QueueFull,
    };
    assert!(fates(&mut engine).contains(&(Uuid::from_u128(1), full)));
    assert_eq!(engine.counters().dropped, 1);
}

#[test]
fn logout_sends_that_sessions_events_without_waiting() {
    let mut engine = logged_in(50);
    engine.track(event(1), T0);
    engine.logout(T0 + 1);
    assert!(engine.take_effects().contains(&Effect::CacheSession(None)));
    let out = engine
        .poll(T0 + 1, OffsetDateTime::UNIX_EPOCH)
        .expect("flushed at logout");
    assert_eq!(out.token, "tok");
    reply(&mut engine, accepted(1), T0 + 2, 0);
    engine.track(event(2), T0 + 3);
    assert_eq!(
        fates(&mut engine).last(),
        Some(&(Uuid::from_u128(2), Fate::Held))
    );
}

#[test]
fn a_journal_snapshot_restores_the_queue_due_at_once() {
    let mut engine = logged_in(50);
    engine.track(event(1), T0);
    engine.track(event(2), T0);
    let snapshot = engine.snapshot();

    let mut restarted = self::engine(50);
    restarted.restore(crate::core::journal::replay(&snapshot));
    let out = restarted
        .poll(5, OffsetDateTime::UNIX_EPOCH)
        .expect("due after restart");
    assert_eq!(
        (out.token.as_str(), sent_ids(&out)),
        ("tok", vec![Uuid::from_u128(1), Uuid::from_u128(2)])
    );
}
