//! An opt-out the core learns while batches are on the wire: from a login's
//! token, from the server's hint, or from a token left by an earlier run.

use super::tests::{accepted, engine, event, fates, login, ok, reply, status, T0};
use super::*;
use crate::core::journal::Replayed;
use time::OffsetDateTime;
use usage_protocol::BatchResponse;

fn dropped_opted_out() -> Fate {
    Fate::Dropped {
        reason: DropReason::OptedOut,
    }
}

/// Bob logged in, `batches` batches of two of his events on the wire, and
/// `waiting` more of his events queued behind them.
fn on_the_wire(batches: usize, waiting: u128) -> Engine {
    let mut engine = Engine::new(EngineConfig {
        max_in_flight: batches,
        ..engine(2).config
    });
    engine.login(login("acme/bob", "tok", false), T0);
    let sent = 2 * batches as u128;
    for n in 1..=sent + waiting {
        engine.track(event(n), T0);
    }
    for _ in 0..batches {
        engine
            .poll(T0, OffsetDateTime::UNIX_EPOCH)
            .expect("a batch");
    }
    assert!(engine.poll(T0, OffsetDateTime::UNIX_EPOCH).is_none());
    engine.take_effects();
    engine
}

#[test]
fn a_batch_that_fails_after_an_opted_out_login_is_dropped_not_retried() {
    let mut engine = on_the_wire(1, 1);
    engine.login(login("acme/bob", "tok2", true), T0 + 1);
    assert_eq!(
        fates(&mut engine),
        [(Uuid::from_u128(3), dropped_opted_out())],
        "the queued one at once"
    );
    reply(&mut engine, status(503, None, ""), T0 + 2, 0);
    assert_eq!(
        fates(&mut engine),
        [1, 2].map(|n| (Uuid::from_u128(n), dropped_opted_out())),
        "the ones on the wire once answered"
    );
    assert!(engine
        .poll(T0 + 600_000, OffsetDateTime::UNIX_EPOCH)
        .is_none());
    assert_eq!(engine.settled(), Some(true));
    assert_eq!(engine.counters().dropped, 3);
    assert!(engine.snapshot().is_empty(), "nothing left to journal");
}

#[test]
fn a_batch_answered_after_an_opted_out_login_keeps_the_collectors_answer() {
    let mut engine = on_the_wire(1, 0);
    engine.login(login("acme/bob", "tok2", true), T0 + 1);
    reply(&mut engine, accepted(2), T0 + 2, 0);
    assert_eq!(
        fates(&mut engine),
        [1, 2].map(|n| (Uuid::from_u128(n), Fate::Accepted))
    );
    assert_eq!(engine.counters().accepted, 2);
}

#[test]
fn a_batch_refused_after_an_opted_out_login_shows_the_refusal() {
    let mut engine = on_the_wire(1, 0);
    engine.login(login("acme/bob", "tok2", true), T0 + 1);
    reply(
        &mut engine,
        status(
            422,
            None,
            r#"{"error":{"code":"unprocessable","message":"no"}}"#,
        ),
        T0 + 2,
        0,
    );
    let refused = Fate::Refused {
        status: 422,
        code: Some("unprocessable".into()),
    };
    assert_eq!(
        fates(&mut engine),
        [1, 2].map(|n| (Uuid::from_u128(n), refused.clone())),
        "what the collector said, not a drop"
    );
    assert_eq!(engine.counters().refused, 2);
}

#[test]
fn the_servers_hint_leaves_other_batches_on_the_wire_to_their_own_answers() {
    let mut engine = on_the_wire(2, 1);
    let hint = BatchResponse {
        discarded: 2,
        opted_out: true,
        ..BatchResponse::default()
    };
    reply(&mut engine, ok(hint.clone()), T0 + 1, 0);
    let first = fates(&mut engine);
    assert!(first.contains(&(Uuid::from_u128(5), dropped_opted_out())));
    assert!(
        !first
            .iter()
            .any(|(id, _)| [3, 4].map(Uuid::from_u128).contains(id)),
        "the second batch is still on the wire: {first:?}"
    );
    reply(&mut engine, ok(hint), T0 + 2, 0);
    assert_eq!(
        fates(&mut engine),
        [3, 4].map(|n| (Uuid::from_u128(n), Fate::Discarded))
    );
    let counters = engine.counters();
    assert_eq!(
        (counters.discarded, counters.dropped),
        (4, 1),
        "each event counted once"
    );
}

#[test]
fn events_left_under_an_opted_out_token_are_not_restored() {
    let claims = usage_protocol::Claims {
        org: "acme".into(),
        sub: "bob".into(),
        opt_out: true,
        rev: 1,
        iat: 1_700_000_000,
        exp: 4_000_000_000,
    };
    let token = format!("v1.test.{}.c2ln", claims.encode_payload());
    let mut engine = engine(1);
    engine.restore(Replayed {
        tokens: [("acme/bob".to_owned(), token)].into(),
        events: vec![(Some("acme/bob".to_owned()), event(1))],
        damaged: 0,
    });
    assert_eq!(engine.backlog(), (0, 0));
    assert!(engine.poll(T0, OffsetDateTime::UNIX_EPOCH).is_none());
}
