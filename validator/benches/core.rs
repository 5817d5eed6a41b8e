//! The validator's hot paths: token verification, the opt-out lookup, the
//! batch check and, alongside, JSON parsing of a full batch.
//!
//! Run with `cargo bench -p usage-validator --bench core`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use time::OffsetDateTime;
use usage_protocol::Claims;
use usage_validator::batch;
use usage_validator::check::{check_batch, Subject};
use usage_validator::dedupe::{Dedupe, DEFAULT_CAPACITY};
use usage_validator::registry::Snapshot;
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::OptOutState;
use usage_validator::token::{self, KeyRing, SigningKey};
use usage_validator::Registry;
use uuid::Uuid;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn token_verify(c: &mut Criterion) {
    let ring = KeyRing::new(SigningKey::new("k1", vec![7; 32]).expect("key"));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        org: "acme".into(),
        sub: "bob.smith@example.com".into(),
        opt_out: false,
        rev: 123_456,
        iat: now,
        exp: now + 43_200,
    };
    let token = token::issue(&ring, &claims);
    c.bench_function("token_verify", |b| {
        b.iter(|| token::verify(&ring, black_box(&token), now).expect("valid"))
    });
}

/// 1,000,000 opted-out users spread over 10,000 orgs.
fn big_registry() -> Registry {
    let mut opted_out = Vec::with_capacity(1_000_000);
    for org in 0..10_000 {
        for user in 0..100 {
            opted_out.push((
                format!("org-{org}"),
                format!("user-{user}@org-{org}.example"),
            ));
        }
    }
    let rt = runtime();
    let store = rt.block_on(SqliteStore::in_memory()).expect("store");
    Registry::with_snapshot(
        Arc::new(store),
        Snapshot::from_state(OptOutState { rev: 1, opted_out }),
    )
}

fn is_opted_out(c: &mut Criterion) {
    let registry = big_registry();
    assert_eq!(registry.opted_out_count(), 1_000_000);
    // Lookups spread over the whole table, half of them hits.
    let probes: Vec<(String, String)> = (0..4096u64)
        .map(|i| {
            let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let org = (x >> 20) % 10_000;
            let user = (x >> 8) % 200;
            (
                format!("org-{org}"),
                format!("user-{user}@org-{org}.example"),
            )
        })
        .collect();
    let mut i = 0;
    c.bench_function("is_opted_out_1m_users_10k_orgs", |b| {
        b.iter(|| {
            let (org, user) = &probes[i & 4095];
            i += 1;
            registry.is_opted_out(black_box(org), black_box(user))
        })
    });
}

/// UUID v7 ids: the current millisecond, then bits from xorshift.
struct IdSource(u64);

impl Default for IdSource {
    fn default() -> Self {
        Self(0x9e37_79b9_7f4a_7c15 ^ Uuid::now_v7().as_u128() as u64)
    }
}

impl IdSource {
    fn next(&mut self) -> Uuid {
        let mut bits = [0u8; 10];
        for chunk in bits.chunks_mut(5) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..5]);
        }
        let millis = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        uuid::Builder::from_unix_timestamp_millis(millis as u64, &bits).into_uuid()
    }
}

fn check_and_parse(c: &mut Criterion) {
    let rt = runtime();
    let store = rt.block_on(SqliteStore::in_memory()).expect("store");
    let registry = rt
        .block_on(Registry::open(Arc::new(store)))
        .expect("registry");
    let body = serde_json::to_vec(&common::batch_of(500)).expect("body");
    let subject = Subject {
        org: "acme",
        user: "bob",
    };

    c.bench_function("parse_batch_500_events", |b| {
        b.iter(|| batch::parse(black_box(&body)).expect("parses"))
    });

    // Fresh ids every iteration (all accepted) into a window already at its
    // bound, as after the refill from the sink at startup: every accepted id
    // also evicts the oldest. The ids are shaped as clients make them (UUID
    // v7), from a generator that makes no system call: `Uuid::now_v7` asks
    // the kernel for its random bits, which would disturb the caches between
    // iterations in a way the server's own work does not. The default window
    // (1,000,000 ids) is the figure that counts; the smaller ones show what
    // the window's size costs.
    let mut ids = IdSource::default();
    let mut group = c.benchmark_group("check_batch_500_events");
    for capacity in [10_000, 100_000, DEFAULT_CAPACITY] {
        let dedupe = Dedupe::with_capacity(capacity);
        let refill = dedupe.keys("acme", (0..capacity).map(|_| ids.next()));
        dedupe.insert_all(&refill, &mut Vec::new());
        assert_eq!(dedupe.len(), capacity);
        group.bench_function(format!("window_{capacity}"), |b| {
            b.iter_batched(
                || {
                    let mut parsed = batch::parse(&body).expect("parses");
                    for event in parsed.events.iter_mut().flatten() {
                        event.id = ids.next();
                    }
                    parsed.events
                },
                |events| {
                    let verdict = check_batch(&registry, &dedupe, subject, events);
                    // As the server does once the sink has stored the batch.
                    // The events are handed back, as the verdict was before,
                    // so that freeing them is not timed.
                    verdict.reservation.commit();
                    (verdict.accepted, verdict.response)
                },
                // The server checks a batch right after parsing it: each
                // input is made just before its run, as warm in the cache
                // as there.
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, token_verify, is_opted_out, check_and_parse);
criterion_main!(benches);
