//! A full disk mid-batch: the server runs in a child process whose file
//! size limit (`RLIMIT_FSIZE`) this test lowers and raises, and a client
//! sends over real HTTP on 127.0.0.1. A batch that cannot be written whole
//! leaves nothing behind and is answered 503; once space returns, its retry
//! stores each event once.

#![cfg(target_os = "linux")]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rustix::process::{prlimit, Pid, Resource, Rlimit};
use serde_json::Value;
use time::OffsetDateTime;
use usage_protocol::Claims;
use usage_server::{app, AppState, ServerConfig};
use usage_validator::model::{Author, Role, User};
use usage_validator::sink::NdjsonSink;
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::Store as _;
use usage_validator::Registry;

/// Set in the child: the folder its sink writes to.
const CHILD_VAR: &str = "USAGE_DISK_FULL_CHILD_DIR";
const TEST_NAME: &str = "a_batch_that_does_not_fit_leaves_nothing_and_is_stored_once_on_retry";

/// The child: a server storing into the folder named by [`CHILD_VAR`]; it
/// prints its URL and a token for bob, then serves until killed.
async fn serve_as_child(dir: &Path) {
    let store = SqliteStore::in_memory().await.expect("store");
    store.ensure_org("acme").await.expect("org");
    let bob = User {
        id: "bob".into(),
        name: "Bob".into(),
        email: String::new(),
        role: Role::User,
    };
    store
        .upsert_users("acme", &[bob], &Author::system())
        .await
        .expect("user");
    let registry = Arc::new(Registry::open(Arc::new(store)).await.expect("registry"));
    let sink = Arc::new(NdjsonSink::new(dir).expect("sink"));
    let state = AppState::new(registry, sink, ServerConfig::default())
        .await
        .expect("state");
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    println!("READY http://{address} {token}");
    axum::serve(listener, app(state)).await.expect("serve");
}

/// Kills the child when the test ends, however it ends.
struct ChildServer(Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn body(ids: &[String]) -> String {
    let events: Vec<Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "name": "report.opened", "ts": "2026-11-29T08:00:00Z",
                "props": {"screen": "reports/overview", "pad": "x".repeat(200)}, "session": "s-1",
            })
        })
        .collect();
    serde_json::json!({"sent_at": "2026-11-29T08:00:00Z", "sdk": {"name": "t", "version": "1"}, "events": events})
        .to_string()
}

async fn send(url: &str, token: &str, body: &str) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/batch"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, retry, response.json().await.unwrap_or(Value::Null))
}

/// The size of the folder's one event file (0 before there is one).
fn stored_len(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("events folder")
        .map(|entry| entry.expect("entry").metadata().expect("metadata").len())
        .sum()
}

/// Every stored line, each parsed (a line that does not parse fails).
fn stored_ids(dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).expect("events folder") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        assert!(text.is_empty() || text.ends_with('\n'), "a torn last line");
        for line in text.lines() {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("stored line does not parse ({err}): {line:?}"));
            ids.push(event["id"].as_str().expect("an id").to_owned());
        }
    }
    ids
}

#[tokio::test]
async fn a_batch_that_does_not_fit_leaves_nothing_and_is_stored_once_on_retry() {
    if let Ok(dir) = std::env::var(CHILD_VAR) {
        return serve_as_child(Path::new(&dir)).await;
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    // The shell ignores SIGXFSZ, which the server then inherits: a write
    // past the limit fails with EFBIG instead of killing the process.
    let child = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().expect("test binary"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut child = ChildServer(child);
    let pid = Pid::from_child(&child.0);
    let stdout = child.0.stdout.take().expect("piped");
    let ready = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // The test harness may print the test's name on the same line.
            .find_map(|line| line.split_once("READY ").map(|(_, rest)| rest.to_owned()))
    })
    .await
    .expect("reader")
    .expect("the server process starts");
    let (url, token) = ready.split_once(' ').expect("url and token");
    let ids = |from: usize| -> Vec<String> {
        (from..from + 100)
            .map(|i| format!("0190b6b2-7a1e-7c3a-9d2e-{i:012}"))
            .collect()
    };
    let (first, second) = (body(&ids(0)), body(&ids(100)));

    let (status, _, answer) = send(url, token, &first).await;
    assert_eq!((status, &answer["accepted"]), (200, &Value::from(100)));
    let before = stored_len(dir.path());

    // Room for about a third of the next batch.
    let limit = |bytes: Option<u64>| Rlimit {
        current: bytes,
        maximum: None,
    };
    prlimit(Some(pid), Resource::Fsize, limit(Some(before + 10_000))).expect("lower the limit");
    for _ in 0..2 {
        let (status, retry, answer) = send(url, token, &second).await;
        assert_eq!((status, retry.as_deref()), (503, Some("1")), "{answer}");
        assert_eq!(answer["error"]["code"], "sink_unavailable");
        assert_eq!(stored_len(dir.path()), before, "nothing of the batch stays");
    }

    prlimit(Some(pid), Resource::Fsize, limit(None)).expect("raise the limit");
    let (status, _, answer) = send(url, token, &second).await;
    assert_eq!(
        (status, &answer["accepted"], &answer["duplicates"]),
        (200, &Value::from(100), &Value::from(0))
    );
    let (_, _, answer) = send(url, token, &second).await;
    assert_eq!(answer["duplicates"], 100, "stored once");

    let mut stored = stored_ids(dir.path());
    assert_eq!(stored.len(), 200);
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), 200, "each event once");
}
