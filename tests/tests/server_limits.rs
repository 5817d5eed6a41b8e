//! The server under hostile load, over real sockets: slow and idle clients
//! are cut off in time, connections are capped, a bad token costs no body
//! read, failed authentication is rate-limited, SIGTERM ends the process
//! within its deadline, and every response carries the security headers.

mod api;

use std::time::{Duration, Instant};

use api::*;
use reqwest::StatusCode;
use serde_json::json;
use support::server::{ServerOptions, TestServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Reads until the server answers or closes; the text read and when.
async fn answer(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                read.extend_from_slice(&buf[..n]);
                if read.windows(4).any(|w| w == b"\r\n\r\n") {
                    // Headers are in; the bodies here are small and follow at once.
                    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf))
                        .await
                        .map(|r| r.map(|n| read.extend_from_slice(&buf[..n])));
                    break;
                }
            }
            Err(_) => panic!("the server neither answered nor closed within {within:?}"),
        }
    }
    (
        String::from_utf8_lossy(&read).into_owned(),
        started.elapsed(),
    )
}

fn limited_server() -> ServerOptions {
    ServerOptions::demo()
        .arg("--header-timeout")
        .arg("1")
        .arg("--body-timeout")
        .arg("2")
        .arg("--idle-timeout")
        .arg("3")
        .arg("--max-connections")
        .arg("20")
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off_in_time() {
    let server = TestServer::start_with(limited_server()).await;
    let addr = server.addr();

    // A connection that never sends anything.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    // Headers sent halfway, then nothing.
    let mut half = TcpStream::connect(addr).await.expect("connect");
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let (text, took) = answer(&mut idle, Duration::from_secs(10)).await;
    assert!(
        text.is_empty(),
        "an idle socket is closed, not answered: {text}"
    );
    assert!(
        took < Duration::from_secs(5),
        "idle socket closed after {took:?}"
    );
    let (_, took) = answer(&mut half, Duration::from_secs(10)).await;
    assert!(
        took < Duration::from_secs(5),
        "half-sent headers cut after {took:?}"
    );

    // A body that stops arriving: 408 with the JSON error shape.
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"events\":["
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    let (text, took) = answer(&mut slow, Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 408"), "slow body: {text}");
    assert!(text.contains("request_timeout"), "slow body: {text}");
    assert!(
        took < Duration::from_secs(6),
        "slow body cut after {took:?}"
    );

    // The server still serves everyone else.
    let health = server
        .client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_over_the_cap_are_told_to_come_back() {
    let server = TestServer::start_with(limited_server()).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(server.addr()).await.expect("connect"));
    }
    // The accept loop takes each held socket in turn; the next one is over.
    let over = support::wait::until(
        "a connection over the cap",
        Duration::from_secs(5),
        || async {
            let mut extra = TcpStream::connect(server.addr()).await.ok()?;
            let (text, _) = answer(&mut extra, Duration::from_secs(5)).await;
            text.starts_with("HTTP/1.1 503").then_some(text)
        },
    )
    .await
    .expect("503 over the cap");
    assert!(
        over.to_ascii_lowercase().contains("retry-after: 1"),
        "{over}"
    );
    assert!(over.contains("too_many_connections"), "{over}");
    drop(held);
    // Once the held sockets are gone, new clients are served again.
    support::wait::until("service after the cap", Duration::from_secs(5), || async {
        let response = server
            .client()
            .get(server.url("/healthz"))
            .send()
            .await
            .ok()?;
        (response.status() == StatusCode::OK).then_some(())
    })
    .await
    .expect("served again");
}

#[tokio::test]
async fn a_bad_token_in_the_header_is_refused_before_the_body_is_read() {
    let server = TestServer::start_with(limited_server()).await;
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    // A 1 MiB body is announced and never sent: the answer cannot wait for it.
    stream
        .write_all(
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer v1.nokey.e30.AAAA\r\n\
              Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n",
        )
        .await
        .expect("write");
    let (text, took) = answer(&mut stream, Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(
        took < Duration::from_secs(1),
        "answered after {took:?}, before the body timeout"
    );
}

#[tokio::test]
async fn failed_authentication_is_rate_limited_per_address() {
    let server = TestServer::start_with(
        ServerOptions::demo()
            .arg("--auth-failure-rate")
            .arg("1")
            .arg("--auth-failure-burst")
            .arg("5"),
    )
    .await;
    let key = server.demo().service_key.clone();
    let token = token_str(&server, &key, "acme", "bob").await;
    // A burst of 5 failures, then 1 a second: however slow the machine, at
    // most 5 plus the elapsed seconds are answered 401 before a 429.
    let started = Instant::now();
    let mut failures = 0u32;
    let mut limited = false;
    for _ in 0..50 {
        let response = server
            .client()
            .get(server.url("/api/orgs/acme/opt-outs"))
            .bearer_auth("usk_guess_guess")
            .send()
            .await
            .expect("request");
        match response.status() {
            StatusCode::UNAUTHORIZED => failures += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let retry = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                assert!(retry.is_some_and(|s| s >= 1), "429 says when to retry");
                let (_, body) = status_json(response).await;
                assert_eq!(code(&body), "rate_limited");
                limited = true;
                break;
            }
            other => panic!("a guessed key answered {other}"),
        }
    }
    let refilled = started.elapsed().as_secs();
    assert!(limited, "never limited after {failures} failures");
    assert!(
        (5..=5 + refilled).contains(&u64::from(failures)),
        "{failures} failures answered 401 in {:?}, with a burst of 5 at 1/s",
        started.elapsed()
    );
    // The address waits before it may try again, whatever credential it
    // sends: its bucket holds at most 5 + elapsed seconds - failures, and
    // while that is under 1 the answer is 429.
    let response = send_batch(&server, &token, vec![event("a.b")]).await;
    if started.elapsed().as_secs_f64() < f64::from(failures - 4) {
        assert_eq!(response.0, StatusCode::TOO_MANY_REQUESTS, "{}", response.1);
    }
    // After the wait, good credentials work again.
    support::wait::until(
        "the address to be let in again",
        Duration::from_secs(10),
        || async {
            let (status, _) = send_batch(&server, &token, vec![event("a.b")]).await;
            (status == StatusCode::OK).then_some(())
        },
    )
    .await
    .expect("let in again");
}

#[tokio::test]
async fn sigterm_ends_the_process_within_its_deadline_despite_a_stalled_client() {
    let mut server = TestServer::start_with(
        ServerOptions::demo()
            .arg("--shutdown-deadline")
            .arg("1")
            .arg("--body-timeout")
            .arg("60"),
    )
    .await;
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    // A request in flight whose body never completes.
    let mut stalled = TcpStream::connect(server.addr()).await.expect("connect");
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
    );
    stalled.write_all(head.as_bytes()).await.expect("write");
    // And a batch that completes, so the sink has something to flush.
    let sent = event("report.opened");
    let (status, _) = send_batch(&server, &token, vec![sent.clone()]).await;
    assert_eq!(status, StatusCode::OK);

    let started = Instant::now();
    let status = server.stop().await.expect("the server was running");
    let took = started.elapsed();
    assert!(status.success(), "a clean exit: {status:?}");
    assert!(
        took < Duration::from_secs(4),
        "stopped {took:?} after SIGTERM with a 1 s deadline"
    );
    let stored = stored_ids(&server.data_dir());
    assert_eq!(
        stored,
        vec![sent["id"].as_str().expect("id").to_owned()],
        "the accepted event was flushed before exit"
    );
}

#[tokio::test]
async fn the_data_folder_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = TestServer::start_demo().await;
    let token = token_str(&server, &server.demo().service_key, "acme", "bob").await;
    let (status, _) = send_batch(&server, &token, vec![event("a.b")]).await;
    assert_eq!(status, StatusCode::OK);
    let data = server.data_dir();
    let mut seen = 0;
    let mut pending = vec![data.clone()];
    while let Some(folder) = pending.pop() {
        let mode = std::fs::metadata(&folder)
            .expect("folder")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", folder.display());
        for entry in std::fs::read_dir(&folder).expect("read_dir") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_dir() {
                pending.push(entry.path());
            } else {
                let mode = entry.metadata().expect("meta").permissions().mode() & 0o777;
                assert_eq!(mode & 0o077, 0, "{} is {mode:o}", entry.path().display());
                seen += 1;
            }
        }
    }
    assert!(data.join("registry.db").is_file() && data.join("demo.json").is_file());
    assert!(
        seen >= 3,
        "registry, demo.json and an event file were looked at"
    );
}

#[tokio::test]
async fn a_signed_out_or_demoted_session_stays_ended() {
    let server = TestServer::start_demo().await;
    let demo = server.demo();
    let alice = admin_session(&server, &demo.admin_signin_url).await;
    let get = |headers: reqwest::header::HeaderMap| {
        server
            .client()
            .get(server.url("/api/orgs/acme/opt-outs"))
            .headers(headers)
            .send()
    };
    assert_eq!(
        get(alice.headers()).await.expect("get").status(),
        StatusCode::OK
    );
    let signout = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(server.url("/signout"))
        .headers(alice.cookie_only())
        .form(&[("csrf", alice.csrf.as_str())])
        .send()
        .await
        .expect("sign out");
    assert_eq!(
        signout.status(),
        StatusCode::SEE_OTHER,
        "sign-out lands on the page"
    );
    // A copy of the cookie kept from before sign-out opens nothing.
    let (status, body) = status_json(get(alice.headers()).await.expect("get")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "invalid_session");

    // Bob is promoted, signs in, is demoted, then promoted again: his old
    // session does not come back.
    let key = demo.service_key.clone();
    let role = |role: &'static str| {
        server
            .client()
            .put(server.url("/api/orgs/acme/users/bob"))
            .bearer_auth(&key)
            .json(&json!({"name": "Bob", "email": "bob@x.example", "role": role}))
            .send()
    };
    assert_eq!(role("admin").await.expect("put").status(), StatusCode::OK);
    let link = cli(
        &server.data_dir(),
        &[
            "admin-link",
            "--org",
            "acme",
            "--user",
            "bob",
            "--public-url",
            &server.base_url(),
        ],
    );
    let bob = admin_session(&server, link.trim()).await;
    assert_eq!(
        get(bob.headers()).await.expect("get").status(),
        StatusCode::OK
    );
    assert_eq!(role("user").await.expect("put").status(), StatusCode::OK);
    assert_eq!(
        get(bob.headers()).await.expect("get").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(role("admin").await.expect("put").status(), StatusCode::OK);
    assert_eq!(
        get(bob.headers()).await.expect("get").status(),
        StatusCode::UNAUTHORIZED,
        "the demotion ended the session"
    );
}

#[tokio::test]
async fn session_cookies_are_secure_and_host_bound_over_https() {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for (public_url, name) in [
        (None, "usage_session="),
        (Some("https://usage.example"), "__Host-usage_session="),
    ] {
        let mut options = ServerOptions::demo();
        if let Some(url) = public_url {
            options = options.arg("--public-url").arg(url);
        }
        let server = TestServer::start_with(options).await;
        let link = cli(
            &server.data_dir(),
            &[
                "admin-link",
                "--org",
                "acme",
                "--user",
                "alice",
                "--public-url",
                &server.base_url(),
            ],
        );
        let response = client.get(link.trim()).send().await.expect("sign in");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a cookie")
            .to_owned();
        assert!(cookie.starts_with(name), "{cookie}");
        for part in ["Secure", "HttpOnly", "Path=/", "SameSite=Lax"] {
            assert!(cookie.contains(part), "{part} in {cookie}");
        }
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
}

#[tokio::test]
async fn a_used_sign_in_link_is_remembered_well_past_its_expiry() {
    let server = TestServer::start_demo().await;
    let link = cli(
        &server.data_dir(),
        &[
            "admin-link",
            "--org",
            "acme",
            "--user",
            "alice",
            "--valid-for",
            "30",
            "--public-url",
            &server.base_url(),
        ],
    );
    let started = time::OffsetDateTime::now_utc().unix_timestamp();
    let _session = admin_session(&server, link.trim()).await;
    // What the registry keeps: the link's nonce, until a day after expiry.
    let url = format!(
        "sqlite://{}?mode=ro",
        server.data_dir().join("registry.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open registry read-only");
    let kept: i64 = sqlx::query_scalar("SELECT MAX(expires_at) FROM used_nonces")
        .fetch_one(&pool)
        .await
        .expect("used nonces");
    assert!(
        kept / 1000 >= started + 30 + 24 * 60 * 60 - 5,
        "the nonce is kept until {kept} ms, not a day past the link's expiry"
    );
    let again = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(link.trim())
        .send()
        .await
        .expect("second use");
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn responses_carrying_pages_or_credentials_are_never_cached_or_framed() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key.clone();
    let token = server
        .client()
        .post(server.url("/v1/tokens"))
        .bearer_auth(&key)
        .json(&json!({"org": "acme", "user": "bob"}))
        .send()
        .await
        .expect("token");
    let signin = server
        .client()
        .get(server.url("/signin?t=nonsense"))
        .send()
        .await
        .expect("signin");
    let api = server
        .client()
        .get(server.url("/api/orgs/acme/audit"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("audit");
    for (what, response) in [("tokens", token), ("signin", signin), ("audit", api)] {
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("cache-control"), "no-store", "{what}");
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn only_the_demo_serves_the_web_example() {
    let server = TestServer::start().await;
    let response = server
        .client()
        .get(server.url("/demo/web-app/"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
