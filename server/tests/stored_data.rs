//! What a client sends cannot forge, corrupt or lose stored data: batches
//! over real HTTP on 127.0.0.1 into the NDJSON sink, read back line by line.

use std::sync::Arc;

use serde_json::{json, Value};
use time::OffsetDateTime;
use usage_protocol::Claims;
use usage_server::{app, AppState, ServerConfig};
use usage_validator::model::{Author, Role, User};
use usage_validator::sink::NdjsonSink;
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::Store as _;
use usage_validator::Registry;

/// A server on a free port of 127.0.0.1 storing into NDJSON files in `dir`.
struct Server {
    url: String,
    state: AppState,
    dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = SqliteStore::in_memory().await.expect("store");
        for org in ["acme", "globex"] {
            store.ensure_org(org).await.expect("org");
        }
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
        let sink = Arc::new(NdjsonSink::new(dir.path().join("events")).expect("sink"));
        let state = AppState::new(registry, sink, ServerConfig::default())
            .await
            .expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let router = app(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, state, dir }
    }

    fn token(&self, org: &str, user: &str) -> String {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            org: org.into(),
            sub: user.into(),
            opt_out: false,
            rev: 0,
            iat: now,
            exp: now + 3600,
        };
        self.state
            .with_keys(|ring| usage_validator::token::issue(ring, &claims))
    }

    /// Sends a raw body as `POST /v1/batch`: status and JSON answer.
    async fn send(&self, token: &str, body: String) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/batch", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Every line of every event file, each parsed as JSON (a line that does
    /// not parse fails the test).
    fn stored_lines(&self) -> Vec<Value> {
        let mut lines = Vec::new();
        let events = self.dir.path().join("events");
        let mut files: Vec<_> = std::fs::read_dir(&events)
            .expect("events folder")
            .map(|entry| entry.expect("entry").path())
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            for line in text.lines() {
                let parsed = serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("stored line does not parse ({err}): {line:?}"));
                lines.push(parsed);
            }
        }
        lines
    }
}

const ID: &str = "0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e";

/// A batch body with the events given as raw JSON text.
fn body(events: &[String]) -> String {
    format!(
        r#"{{"sent_at":"2026-11-29T08:00:00Z","sdk":{{"name":"t","version":"1"}},"events":[{}]}}"#,
        events.join(",")
    )
}

fn event(id: &str, props: &str) -> String {
    format!(r#"{{"id":"{id}","name":"e","ts":"2026-11-29T08:00:00Z","props":{props}}}"#)
}

#[tokio::test]
async fn props_with_raw_newlines_cannot_forge_another_orgs_line() {
    let server = Server::start().await;
    let bob = server.token("acme", "bob");
    let forged = "{\"k\":\n{\"org\":\"globex\",\"user\":\"ceo\",\"source\":\"server\",\"id\":\"0190b6b2-7a1e-7c3a-9d2e-000000000000\",\"name\":\"x\",\"ts\":\"2026-11-29T08:00:00Z\",\"received_at\":\"2026-11-29T08:00:00Z\"}\n}";
    let (status, answer) = server.send(&bob, body(&[event(ID, forged)])).await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(1)), "{answer}");
    let lines = server.stored_lines();
    assert_eq!(lines.len(), 1, "one event, one line: {lines:?}");
    assert_eq!(
        (&lines[0]["org"], &lines[0]["user"], &lines[0]["source"]),
        (&json!("acme"), &json!("bob"), &json!("client"))
    );
    assert_eq!(
        lines[0]["props"]["k"]["org"], "globex",
        "kept as bob's props"
    );
}

#[tokio::test]
async fn an_event_no_sink_can_store_is_refused_alone() {
    let server = Server::start().await;
    let bob = server.token("acme", "bob");
    let ids: Vec<String> = (0..5)
        .map(|i| format!("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d7{i}"))
        .collect();
    let deep = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let events = [
        event(&ids[0], r#"{"a":"\u0000"}"#),
        event(&ids[1], r#"{"a":"\ud800"}"#),
        event(&ids[2], &deep),
        event(&ids[3], r#"{"fine":[1,2,{"x":"\ud83d\ude00"}]}"#),
        event(&ids[4], r#"{"a":1e99999}"#),
    ];
    let (status, answer) = server.send(&bob, body(&events)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1);
    assert_eq!(
        answer["rejected"],
        json!([
            {"index": 0, "code": "invalid_props"},
            {"index": 1, "code": "invalid_props"},
            {"index": 2, "code": "invalid_props"},
            {"index": 4, "code": "invalid_props"},
        ])
    );
    let lines = server.stored_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], ids[3].as_str());
}
