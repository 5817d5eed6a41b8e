//! Several `usage-server` processes sharing one PostgreSQL registry: what one
//! instance issues works on the others, an opt-out through one stops events
//! on all, a lost change listener never lets an opted-out user's batch
//! through, and an instance that cannot reach the registry refuses (503)
//! until it can, without losing the SDK's events.

mod api;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::postgres::TestDatabase;
use support::server::{ServerOptions, TestServer};
use tokio::net::{TcpListener, TcpStream};

async fn pair(db: &TestDatabase, extra: &[&str]) -> (TestServer, TestServer) {
    let mut a = ServerOptions::demo().database_url(db.url());
    let mut b = ServerOptions::serve().database_url(db.url());
    for arg in extra {
        a = a.arg(*arg);
        b = b.arg(*arg);
    }
    let a = TestServer::start_with(a).await;
    let b = TestServer::start_with(b).await;
    (a, b)
}

async fn change(server: &TestServer, key: &str, route: &str, user: &str) -> u64 {
    let response = server
        .client()
        .post(server.url(route))
        .bearer_auth(key)
        .json(&json!({"users": [user]}))
        .send()
        .await
        .expect("change");
    let (status, body) = status_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["rev"].as_u64().expect("rev")
}

#[tokio::test]
async fn instances_share_credentials_and_opt_outs() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let (a, b) = pair(&db, &[]).await;
    let demo = a.demo();
    let key = demo.service_key.as_str();

    // A token issued by A verifies on B; B's tokens on A.
    let bob_from_a = token_str(&a, key, "acme", "bob").await;
    let bob_from_b = token_str(&b, key, "acme", "bob").await;
    assert_eq!(
        send_batch(&b, &bob_from_a, vec![event("x")]).await.1["accepted"],
        1
    );
    assert_eq!(
        send_batch(&a, &bob_from_b, vec![event("x")]).await.1["accepted"],
        1
    );

    // An admin session made by A works on B.
    let alice = admin_session(&a, &demo.admin_signin_url).await;
    let status = b
        .client()
        .get(b.url("/api/orgs/acme/opt-outs"))
        .headers(alice.headers())
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(status, StatusCode::OK);

    // Opt out through A: B discards bob's very next batch; carol is untouched.
    change(&a, key, "/api/orgs/acme/opt-outs", "bob").await;
    let (_, body) = send_batch(&b, &bob_from_a, vec![event("after")]).await;
    assert_eq!(
        (body["discarded"].clone(), body["opted_out"].clone()),
        (json!(1), json!(true))
    );
    let carol = token_str(&b, key, "acme", "carol").await;
    assert_eq!(
        send_batch(&b, &carol, vec![event("x")]).await.1["accepted"],
        1
    );
    // Tokens issued anywhere now carry the flag.
    assert_eq!(token(&b, key, "acme", "bob").await["opt_out"], true);

    // Opt in through B (as the admin, with the session A issued).
    let response = b
        .client()
        .post(b.url("/api/orgs/acme/opt-ins"))
        .headers(alice.headers())
        .json(&json!({"users": ["bob"]}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        send_batch(&a, &bob_from_b, vec![event("back")]).await.1["accepted"],
        1
    );

    // Both instances answer ready at the same revision soon after.
    let readyz = |server: &TestServer| {
        let request = server.client().get(server.url("/readyz")).send();
        async move {
            let response = request.await.expect("GET /readyz");
            response.json::<Value>().await.expect("readyz JSON")
        }
    };
    support::wait::until(
        "both instances at the same revision",
        Duration::from_secs(5),
        || async {
            let (ra, rb) = (readyz(&a).await, readyz(&b).await);
            (ra["revision"] == rb["revision"]).then_some(())
        },
    )
    .await
    .expect("the revisions meet");
}

/// Kills every LISTEN connection to the test database, as a network blip or
/// an operator would.
async fn kill_listeners(admin_url: &str, database: &str) -> u64 {
    let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await else {
        return 0;
    };
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(database)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    killed.len() as u64
}

#[tokio::test]
async fn a_killed_change_listener_never_lets_an_opted_out_batch_through() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let admin_url = support::postgres::database_url().expect("set when a database was created");
    let (a, b) = pair(&db, &["--rate-limit", "0"]).await;
    let key = a.demo().service_key;
    let token = token_str(&a, &key, "acme", "bob").await;

    // Hammer B with bob's batches the whole time, recording when each was sent.
    let stop = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Vec<(Instant, Instant, Value)>>> = Arc::default();
    let hammer = {
        let (client, url, token, stop, log) = (
            b.client().clone(),
            b.url("/v1/batch"),
            token.clone(),
            stop.clone(),
            log.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&batch_body(vec![event("hammer")]))
                    .send()
                    .await;
                if let Ok(response) = response {
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    log.lock().expect("log").push((sent, Instant::now(), body));
                }
            }
        })
    };
    // Keep killing B's (and A's) listener connections.
    let killer = {
        let (stop, name) = (stop.clone(), db.name().to_owned());
        tokio::spawn(async move {
            let mut killed = 0;
            while !stop.load(Ordering::SeqCst) {
                killed += kill_listeners(&admin_url, &name).await;
                // The outage under test: a blip every 100 ms.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            killed
        })
    };

    // Opt bob out and in through A, 20 times; note when each opt-out returned
    // and when the following opt-in was sent.
    let mut out_windows = Vec::new();
    for _ in 0..20 {
        change(&a, &key, "/api/orgs/acme/opt-outs", "bob").await;
        let out_at = Instant::now();
        // Bob stays opted out this long: the window whose batches are checked.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let in_sent = Instant::now();
        change(&a, &key, "/api/orgs/acme/opt-ins", "bob").await;
        out_windows.push((out_at, in_sent));
        // And opted in this long before the next round.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    hammer.await.expect("hammer");
    let killed = killer.await.expect("killer");
    assert!(killed > 0, "listener connections were killed");

    let log = log.lock().expect("log");
    let mut checked = 0;
    for (sent, answered, body) in log.iter() {
        let inside = out_windows
            .iter()
            .any(|(out_at, in_sent)| sent > out_at && answered < in_sent);
        if inside {
            assert_eq!(
                body["accepted"].as_u64().unwrap_or(0),
                0,
                "a batch sent after the opt-out returned was accepted: {body}"
            );
            if body["opted_out"] == true {
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} batches fell inside opt-out windows"
    );
    assert!(
        b.stderr().contains("change listener"),
        "B noticed its listener die:\n{}",
        b.stderr()
    );
}

/// A loopback TCP proxy in front of PostgreSQL that a test can cut and
/// restore: the registry becomes unreachable for the instances behind it only.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: connection closed at once
                }
                let target = target.clone();
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().expect("conns").push(handle);
            }
        });
        Proxy { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for conn in self.conns.lock().expect("conns").drain(..) {
            conn.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

// Multi-threaded: the proxy must keep running while the SDK's blocking
// `flush` waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_cannot_reach_the_registry_refuses_and_the_sdk_loses_nothing() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let a = TestServer::start_with(ServerOptions::demo().database_url(db.url())).await;
    let url = reqwest::Url::parse(db.url()).expect("url");
    let proxy = Proxy::start(format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    ))
    .await;
    let mut via_proxy = url.clone();
    via_proxy.set_port(Some(proxy.port)).expect("port");
    let b = TestServer::start_with(
        ServerOptions::serve()
            .database_url(via_proxy.as_str())
            .arg("--staleness-bound-ms")
            .arg("1000"),
    )
    .await;
    let key = a.demo().service_key;
    let token = token_str(&a, &key, "acme", "erin").await;
    assert_eq!(
        send_batch(&b, &token, vec![event("before")]).await.0,
        StatusCode::OK
    );

    proxy.cut();
    // Within a couple of seconds of losing the registry, B refuses with 503.
    let refused = support::wait::until(
        "B to refuse without its registry",
        Duration::from_secs(10),
        || async {
            let response = b
                .client()
                .post(b.url("/v1/batch"))
                .bearer_auth(&token)
                .json(&batch_body(vec![]))
                .send()
                .await
                .expect("post");
            (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
        },
    )
    .await
    .expect("B kept accepting without its registry");
    assert!(refused.headers().get("retry-after").is_some());
    assert_eq!(code(&status_json(refused).await.1), "registry_unavailable");
    let not_ready = b
        .client()
        .get(b.url("/readyz"))
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(not_ready, StatusCode::SERVICE_UNAVAILABLE);

    // An SDK keeps tracking against B meanwhile; its events wait.
    let sdk_dir = tempfile::tempdir().expect("tempdir");
    let tracker = usage_sdk::Tracker::builder(b.base_url())
        .data_dir(sdk_dir.path())
        .batch_size(5)
        .batch_interval(Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(100), Duration::from_millis(500))
        .build()
        .expect("tracker");
    tracker.login(&token).expect("login");
    let refused_before = metric(&b, "usage_batches_total{status=\"503\"}").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        match tracker.track(&format!("offline.{i}"), json!({"i": i})) {
            usage_sdk::Tracked::Queued(id) => ids.push(id.to_string()),
            other => panic!("event {i} not queued: {other:?}"),
        }
    }
    // The SDK has tried at least twice (a first send and a retry), and B refused.
    support::wait::until(
        "the SDK's batches to be refused",
        Duration::from_secs(10),
        || async {
            let refused = metric(&b, "usage_batches_total{status=\"503\"}").await;
            (refused >= refused_before + 2).then_some(())
        },
    )
    .await
    .expect("B refused the SDK's batches");
    let before = stored_ids(&b.data_dir());
    assert!(
        ids.iter().all(|id| !before.contains(id)),
        "nothing stored while refused"
    );

    proxy.restore();
    let flusher = tracker.clone();
    let delivered = tokio::task::spawn_blocking(move || flusher.flush(Duration::from_secs(20)))
        .await
        .expect("flush");
    assert!(
        delivered,
        "the SDK delivered after the registry came back; its log: {:#?}\nserver:\n{}",
        tracker.debug_events(),
        b.stderr()
    );
    let stored = stored_ids(&b.data_dir());
    for id in &ids {
        assert_eq!(
            stored.iter().filter(|s| *s == id).count(),
            1,
            "event {id} stored exactly once"
        );
    }
    assert_eq!(ids.len(), 20);
    tracker.shutdown(Duration::from_secs(5));
}

#[tokio::test]
async fn the_postgres_sink_stores_a_retried_event_once_across_instances() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let (a, b) = pair(&db, &["--sink", "postgres"]).await;
    let key = a.demo().service_key;
    let token = token_str(&a, &key, "acme", "frank").await;
    let e = event("stored.once");
    // The first delivery goes to A; the client's retry lands on B, whose
    // dedupe window never saw it.
    assert_eq!(
        send_batch(&a, &token, vec![e.clone()]).await.1["accepted"],
        1
    );
    assert_eq!(
        send_batch(&b, &token, vec![e.clone(), event("other")])
            .await
            .0,
        StatusCode::OK
    );

    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db.url())
        .await
        .expect("connect");
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id::text, user_id, name FROM usage_events WHERE org = 'acme' ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .expect("rows");
    let id = e["id"].as_str().expect("id");
    assert_eq!(
        rows.iter().filter(|(stored, _, _)| stored == id).count(),
        1,
        "{rows:?}"
    );
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|(_, user, _)| user == "frank"));
    assert!(
        stored_ids(&a.data_dir()).is_empty() && stored_ids(&b.data_dir()).is_empty(),
        "nothing in NDJSON files"
    );
}
