//! How fast an opt-out made through one instance reaches another's snapshot.
//!
//! Starts two `usage-server` processes on one PostgreSQL registry, makes 1,000
//! changes through instance A (opt-out and opt-in in turn), and for each
//! measures the time from the request to A until instance B reports that
//! revision on `/readyz`: the LISTEN/NOTIFY path, with the poll as backstop.
//! A answers 50 ms after its commit (the settle time of a shared registry),
//! so it also counts how often B still lacked the change when A answered.
//! (B's ingestion decisions do not wait for its snapshot: they rest on head
//! reads, so they are right from the moment A answers.)
//!
//! Run with `USAGE_TEST_DATABASE_URL=... cargo bench -p usage-e2e --bench propagation`.

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::postgres::TestDatabase;
use support::server::{ServerOptions, TestServer};

const CHANGES: usize = 1000;

async fn revision(b: &TestServer) -> u64 {
    let ready: Value = match b.client().get(b.url("/readyz")).send().await {
        Ok(response) => response.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    ready["revision"].as_u64().unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let a = TestServer::start_with(ServerOptions::demo().database_url(db.url())).await;
    let b = TestServer::start_with(ServerOptions::serve().database_url(db.url())).await;
    let key = a.demo().service_key;
    let mut delays = Vec::with_capacity(CHANGES);
    let mut behind_at_answer = 0;
    for i in 0..CHANGES {
        let route = if i % 2 == 0 { "opt-outs" } else { "opt-ins" };
        let sent = Instant::now();
        let answer: Value = a
            .client()
            .post(a.url(&format!("/api/orgs/acme/{route}")))
            .bearer_auth(&key)
            .json(&json!({"users": ["bob"]}))
            .send()
            .await
            .expect("change")
            .json()
            .await
            .expect("json");
        let answered = Instant::now();
        let rev = answer["rev"].as_u64().expect("rev");
        let deadline = answered + Duration::from_secs(10);
        if revision(&b).await < rev {
            behind_at_answer += 1;
        }
        while revision(&b).await < rev {
            assert!(Instant::now() < deadline, "B never reached revision {rev}");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        delays.push(sent.elapsed());
    }
    delays.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "propagation over {CHANGES} changes, from the request to A until B had it: \
         p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         B lacked the change when A answered {behind_at_answer} times",
        ms(percentile(&delays, 0.50)),
        ms(percentile(&delays, 0.90)),
        ms(percentile(&delays, 0.99)),
        ms(delays[delays.len() - 1]),
    );
}
