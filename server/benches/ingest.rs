//! Ingest throughput of the real service over loopback HTTP, beside a
//! baseline axum app that only parses the same JSON and answers 200.
//!
//! Both run in this process on the same runtime; a reqwest client sends
//! 100-event batches over 8 concurrent connections. The real service verifies
//! the token, checks the registry and dedupe window, and appends to NDJSON.
//!
//! Run with `cargo bench -p usage-server --bench ingest`.

#![allow(missing_docs)]

#[path = "../../validator/benches/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use time::OffsetDateTime;
use tokio::runtime::Runtime;
use usage_protocol::{Batch, Claims};
use usage_server::{app, AppState, ServerConfig};
use usage_validator::model::{Author, Role, User};
use usage_validator::sink::NdjsonSink;
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::Store as _;
use usage_validator::Registry;

const EVENTS_PER_BATCH: usize = 100;
const BATCHES_PER_ROUND: usize = 64;
const CONCURRENCY: usize = 8;

fn body() -> Vec<u8> {
    serde_json::to_vec(&common::batch_of(EVENTS_PER_BATCH)).expect("body")
}

async fn listen(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn baseline() -> SocketAddr {
    async fn parse_only(body: Bytes) -> axum::Json<serde_json::Value> {
        let batch: Batch = serde_json::from_slice(&body).expect("the bench sends valid JSON");
        axum::Json(
            serde_json::json!({"accepted": batch.events.len(), "discarded": 0, "duplicates": 0, "opted_out": false, "rejected": []}),
        )
    }
    listen(Router::new().route("/v1/batch", post(parse_only))).await
}

async fn real(dir: &std::path::Path) -> (SocketAddr, String) {
    let store = SqliteStore::open(&dir.join("registry.db"))
        .await
        .expect("store");
    store.ensure_org("acme").await.expect("org");
    let user = User {
        id: "bob".into(),
        name: "Bob".into(),
        email: String::new(),
        role: Role::User,
    };
    store
        .upsert_users("acme", &[user], &Author::system())
        .await
        .expect("user");
    let registry = Arc::new(Registry::open(Arc::new(store)).await.expect("registry"));
    let sink = Arc::new(NdjsonSink::new(dir.join("events")).expect("sink"));
    let config = ServerConfig {
        rate_limit: 0,
        ..ServerConfig::default()
    };
    let state = AppState::new(registry, sink, config).await.expect("state");
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        org: "acme".into(),
        sub: "bob".into(),
        opt_out: false,
        rev: 0,
        iat: now,
        exp: now + 3600,
    };
    let token = state.with_keys(|ring| usage_validator::token::issue(ring, &claims));
    // As `serve` does: keeps the registry confirmed current and the sink flushed.
    usage_server::spawn_background(state.clone());
    (listen(app(state)).await, token)
}

/// Sends one round of batches and returns how long the sending took.
async fn round(client: &reqwest::Client, url: &str, token: &str, bodies: Vec<Vec<u8>>) -> Duration {
    let started = Instant::now();
    let mut chunks: Vec<Vec<Vec<u8>>> = (0..CONCURRENCY).map(|_| Vec::new()).collect();
    for (i, body) in bodies.into_iter().enumerate() {
        chunks[i % CONCURRENCY].push(body);
    }
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
            tokio::spawn(async move {
                for body in chunk {
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("loopback request");
                    assert!(
                        response.status().is_success(),
                        "status {}",
                        response.status()
                    );
                    response.bytes().await.expect("body");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    started.elapsed()
}

fn ingest(c: &mut Criterion) {
    let runtime = Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let base = runtime.block_on(baseline());
    let (real_addr, token) = runtime.block_on(real(dir.path()));
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");

    let mut group = c.benchmark_group("ingest_loopback");
    group.throughput(Throughput::Elements(
        (EVENTS_PER_BATCH * BATCHES_PER_ROUND) as u64,
    ));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    for (name, addr) in [("baseline_parse_only", base), ("usage_server", real_addr)] {
        let url = format!("http://{addr}/v1/batch");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // Fresh ids every round, made outside the timed part.
                    let bodies: Vec<Vec<u8>> = (0..BATCHES_PER_ROUND).map(|_| body()).collect();
                    total += runtime.block_on(round(&client, &url, &token, bodies));
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
