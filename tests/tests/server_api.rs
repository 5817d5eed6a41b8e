//! The server as its users meet it, over real HTTP on loopback: the opt-out
//! flow end to end, who may do what, restarts and the command line.

mod api;

use api::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::{ServerOptions, TestServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[tokio::test]
async fn an_opted_out_users_events_are_discarded_whatever_their_token_says() {
    let server = TestServer::start_demo().await;
    let demo = server.demo();
    let key = demo.service_key.as_str();

    let bob = token(&server, key, "acme", "bob").await;
    assert_eq!(bob["opt_out"], false);
    let bob_token = bob["token"].as_str().expect("token").to_owned();
    let carol_token = token_str(&server, key, "acme", "carol").await;

    let first = event("report.opened");
    let (status, body) = send_batch(&server, &bob_token, vec![first.clone()]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["opted_out"], false);
    assert_eq!(
        stored_ids(&server.data_dir()),
        [first["id"].as_str().expect("id")]
    );

    let (status, changed) =
        post_users(&server, bearer(key), "/api/orgs/acme/opt-outs", &["bob"]).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["changed"], json!(["bob"]));

    // The still-valid token says "not opted out"; the registry wins.
    let (status, body) = send_batch(&server, &bob_token, vec![event("a"), event("b")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["accepted"].clone(), body["discarded"].clone()),
        (json!(0), json!(2))
    );
    assert_eq!(body["opted_out"], true);
    assert_eq!(
        stored_ids(&server.data_dir()).len(),
        1,
        "nothing reached the sink"
    );

    // Another user of the same org is not affected.
    let (_, body) = send_batch(&server, &carol_token, vec![event("c")]).await;
    assert_eq!(body["accepted"], 1);

    // The next login carries the new flag.
    assert_eq!(token(&server, key, "acme", "bob").await["opt_out"], true);

    let (status, _) = post_users(&server, bearer(key), "/api/orgs/acme/opt-ins", &["bob"]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = send_batch(&server, &bob_token, vec![event("d")]).await;
    assert_eq!(
        (body["accepted"].clone(), body["opted_out"].clone()),
        (json!(1), json!(false))
    );
    assert_eq!(token(&server, key, "acme", "bob").await["opt_out"], false);

    // The audit trail names the key as the actor.
    let audit: Value = get_json(&server, key, "/api/orgs/acme/audit").await;
    let first_entry = &audit["entries"][0];
    assert_eq!(first_entry["action"], "opt_in");
    assert!(first_entry["actor"]
        .as_str()
        .expect("actor")
        .starts_with("key:sk_"));
}

#[tokio::test]
async fn retried_events_are_stored_once_and_server_side_events_pass_the_same_check() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let token = token_str(&server, &key, "acme", "dave").await;
    let e = event("report.exported");
    let (_, first) = send_batch(&server, &token, vec![e.clone(), e.clone()]).await;
    assert_eq!(
        (first["accepted"].clone(), first["duplicates"].clone()),
        (json!(1), json!(1))
    );
    let (_, again) = send_batch(&server, &token, vec![e.clone()]).await;
    assert_eq!(
        (again["accepted"].clone(), again["duplicates"].clone()),
        (json!(0), json!(1))
    );

    let server_events =
        |user: &str| json!({"org": "acme", "user": user, "events": [event("job.finished")]});
    let response = server
        .client()
        .post(server.url("/v1/server-events"))
        .bearer_auth(&key)
        .json(&server_events("dave"))
        .send()
        .await
        .expect("post");
    let (status, body) = status_json(response).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::OK, json!(1))
    );

    post_users(&server, bearer(&key), "/api/orgs/acme/opt-outs", &["dave"]).await;
    let response = server
        .client()
        .post(server.url("/v1/server-events"))
        .bearer_auth(&key)
        .json(&server_events("dave"))
        .send()
        .await
        .expect("post");
    let (_, body) = status_json(response).await;
    assert_eq!(
        (body["discarded"].clone(), body["opted_out"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(stored_ids(&server.data_dir()).len(), 2);
}

#[tokio::test]
async fn opt_outs_and_dedupe_survive_a_restart_and_sigterm_loses_nothing() {
    let mut server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let token = token_str(&server, &key, "acme", "erin").await;
    post_users(&server, bearer(&key), "/api/orgs/acme/opt-outs", &["grace"]).await;
    let e = event("before.restart");
    assert_eq!(
        send_batch(&server, &token, vec![e.clone()]).await.1["accepted"],
        1
    );

    // Batches in flight while SIGTERM arrives are answered and stored: each
    // is sent in two halves, SIGTERM coming between them.
    let mut sent = Vec::new();
    let mut in_flight = Vec::new();
    for _ in 0..10 {
        let events: Vec<Value> = (0..50).map(|_| event("burst")).collect();
        sent.extend(
            events
                .iter()
                .map(|e| e["id"].as_str().expect("id").to_owned()),
        );
        let body = serde_json::to_vec(&batch_body(events)).expect("body");
        let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
        // `Expect: 100-continue`: the server says "100 Continue" once its
        // handler reads the body, so the request is surely in flight.
        let head = format!(
            "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.expect("head");
        let mut interim = Vec::new();
        while !interim.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let n = stream.read(&mut byte).await.expect("100 Continue");
            assert_eq!(n, 1, "the server closed before 100 Continue");
            interim.push(byte[0]);
        }
        assert!(
            interim.starts_with(b"HTTP/1.1 100"),
            "{}",
            String::from_utf8_lossy(&interim)
        );
        stream.write_all(first).await.expect("first half");
        in_flight.push((stream, rest.to_vec()));
    }
    let pid = server.pid().expect("running");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).expect("pid"),
        rustix::process::Signal::TERM,
    )
    .expect("SIGTERM");
    let mut acknowledged = 0;
    for (mut stream, rest) in in_flight {
        stream
            .write_all(&rest)
            .await
            .expect("second half after SIGTERM");
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).await.expect("answer");
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "answered after SIGTERM: {answer}"
        );
        acknowledged += 1;
    }
    assert_eq!(acknowledged, 10, "every batch in flight was answered");
    let status = server.stop().await.expect("was running");
    assert!(status.success(), "graceful exit: {status}");
    let stored = stored_ids(&server.data_dir());
    assert_eq!(
        stored.iter().filter(|id| sent.contains(id)).count(),
        acknowledged * 50,
        "every acknowledged event is stored"
    );

    server.restart().await;
    let grace = token_str(&server, &key, "acme", "grace").await;
    assert_eq!(
        send_batch(&server, &grace, vec![event("x")]).await.1["opted_out"],
        true,
        "opt-out survived"
    );
    let (_, body) = send_batch(&server, &token, vec![e]).await;
    assert_eq!(
        (body["accepted"].clone(), body["duplicates"].clone()),
        (json!(0), json!(1)),
        "dedupe survived"
    );
}

#[tokio::test]
async fn browsers_may_send_batches_cross_origin_but_not_admin_calls() {
    let server = TestServer::start_with(
        ServerOptions::demo()
            .arg("--cors-origin")
            .arg("https://app.example"),
    )
    .await;
    let key = server.demo().service_key;
    let preflight = |path: &str, origin: &str| {
        server
            .client()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let ok = preflight("/v1/batch", "https://app.example")
        .await
        .expect("preflight");
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example")
    );
    let other = preflight("/v1/batch", "https://evil.example")
        .await
        .expect("preflight");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let admin = preflight("/api/orgs/acme/opt-outs", "https://app.example")
        .await
        .expect("preflight");
    assert!(admin.headers().get("access-control-allow-origin").is_none());

    // sendBeacon: text/plain body with the token inside.
    let token = token_str(&server, &key, "acme", "heidi").await;
    let mut body = batch_body(vec![event("page.hidden")]);
    body["token"] = json!(token);
    let response = server
        .client()
        .post(server.url("/v1/batch"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", "https://app.example")
        .body(body.to_string())
        .send()
        .await
        .expect("beacon");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example")
    );
    assert_eq!(status_json(response).await.1["accepted"], 1);
}

#[tokio::test]
async fn a_runaway_client_is_told_to_slow_down() {
    let server = TestServer::start_with(
        ServerOptions::demo()
            .arg("--rate-limit")
            .arg("1")
            .arg("--rate-burst")
            .arg("2"),
    )
    .await;
    let key = server.demo().service_key;
    let token = token_str(&server, &key, "acme", "bob").await;
    // A burst of 2 passes, then 1 a second: whatever the machine's speed, the
    // answers are some 200s (at least the burst, at most what the elapsed
    // time refilled) and then a 429.
    let started = std::time::Instant::now();
    let mut passed = 0u64;
    let mut limited = false;
    for _ in 0..20 {
        let response = server
            .client()
            .post(server.url("/v1/batch"))
            .bearer_auth(&token)
            .json(&batch_body(vec![event("x")]))
            .send()
            .await
            .expect("post");
        let retry = response.headers().get("retry-after").cloned();
        let (status, body) = status_json(response).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code(&body), "rate_limited");
            assert!(retry.is_some(), "Retry-After is set");
            limited = true;
            break;
        }
        assert_eq!(status, StatusCode::OK);
        passed += 1;
    }
    let refilled = started.elapsed().as_secs() + 1;
    assert!(limited, "the client was limited after {passed} batches");
    assert!(
        (2..=2 + refilled).contains(&passed),
        "{passed} batches passed in {:?} with a burst of 2 at 1/s",
        started.elapsed()
    );
}

#[tokio::test]
async fn operations_routes_answer_without_credentials() {
    let server = TestServer::start_demo().await;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let status = server
            .client()
            .get(server.url(path))
            .send()
            .await
            .expect("get")
            .status();
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let spec: Value = server
        .client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    for path in [
        "/v1/batch",
        "/v1/tokens",
        "/v1/server-events",
        "/api/orgs/{org}/opt-outs",
        "/api/orgs/{org}/users",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    let metrics = server
        .client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("usage_events_accepted_total 0"));
    assert!(metrics.contains("usage_registry_revision"));
}

#[tokio::test]
async fn users_import_reads_ten_thousand_rows_and_refuses_a_bad_file_whole() {
    let server = TestServer::start_demo().await;
    let data = server.data_dir();
    let csv = data.join("users.csv");
    let mut text = String::from("id,name,email,role\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "u{i:05},\"User, Number {i}\",u{i}@acme.example,user\n"
        ));
    }
    std::fs::write(&csv, &text).expect("csv");
    let out = cli(
        &data,
        &[
            "users",
            "import",
            "--org",
            "acme",
            csv.to_str().expect("path"),
        ],
    );
    assert!(out.contains("10000 added"), "{out}");
    let key = server.demo().service_key;
    let page: Value = get_json(&server, &key, "/api/orgs/acme/users?query=Number%209999").await;
    assert_eq!(page["users"][0]["name"], "User, Number 9999");

    let bad = data.join("bad.csv");
    std::fs::write(
        &bad,
        "id,name,email,role\nok1,Ok,,user\nbad id,Bad,,user\nok2,Ok,,boss\n",
    )
    .expect("csv");
    let output = std::process::Command::new(support::server::server_binary())
        .args(["users", "import", "--org", "acme"])
        .arg(&bad)
        .arg("--data")
        .arg(&data)
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("line 4"),
        "{stderr}"
    );
    let page: Value = get_json(&server, &key, "/api/orgs/acme/users?query=ok1").await;
    assert_eq!(
        page["users"].as_array().map(Vec::len),
        Some(0),
        "nothing imported"
    );
}
