//! `usage-server --sink nats` against brokers that authenticate: it logs in
//! by nkey seed file, user and password in the URL, token, or `.creds` file
//! (user JWT, broker in operator mode), a broker refuses it without the right
//! credentials, and a missing or malformed credentials file stops the start
//! with an error naming the file.

#[path = "../api/mod.rs"]
mod api;
mod broker;
mod jwt;

use std::path::Path;
use std::time::{Duration, Instant};

use api::*;
use broker::AuthBroker;
use jwt::{claims, creds, jwt, seed_of};
use nkeys::KeyPair;
use pipeline_consumer::Login;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::{server_binary, ServerOptions, TestServer};

fn collector(url: &str) -> ServerOptions {
    ServerOptions::demo()
        .sink("nats")
        .arg("--nats-url")
        .arg(url)
}

fn with_file(options: ServerOptions, flag: &str, path: &Path) -> ServerOptions {
    options.arg(flag).arg(path.display().to_string())
}

/// Starts a collector that must be refused, and returns what it said.
async fn refused(options: ServerOptions) -> String {
    match TestServer::start_binary(server_binary(), options).await {
        Ok(_) => panic!("the collector started"),
        Err(error) => error.to_string(),
    }
}

/// Sends one event through `server` and returns its id, once answered 200
/// with the event accepted.
async fn send_one(server: &TestServer) -> String {
    let token = token_str(server, &server.demo().service_key, "acme", "bob").await;
    let e = event("signed.in");
    let (status, body) = send_batch(server, &token, vec![e.clone()]).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::OK, json!(1))
    );
    e["id"].as_str().expect("id").to_owned()
}

/// The event ids in the stream, read by a client logged in with `options`.
async fn stored_ids(url: &str, options: async_nats::ConnectOptions) -> Vec<String> {
    let client = options
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .expect("the reader logs in");
    let stream = async_nats::jetstream::new(client)
        .get_stream("USAGE_EVENTS")
        .await
        .expect("the stream");
    let total = stream.cached_info().state.messages;
    let mut ids = Vec::new();
    for sequence in 1..=total {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("a stored message");
        let record: Value = serde_json::from_slice(&message.payload).expect("a JSON payload");
        ids.push(record["id"].as_str().expect("id").to_owned());
    }
    ids
}

#[tokio::test]
async fn the_collector_logs_in_by_nkey_or_by_user_and_password_and_is_refused_with_wrong_ones() {
    let nkey = KeyPair::new_user();
    let Some(broker) = AuthBroker::start(&format!(
        "authorization {{ users = [ {{ nkey: \"{}\" }}, {{ user: \"collector\", password: \"s3cret\" }}, {{ user: \"loader\", password: \"p@ss word/1\" }} ] }}",
        nkey.public_key()
    )) else {
        return;
    };

    let message = refused(collector(&broker.url())).await;
    assert!(
        message.to_lowercase().contains("authoriz"),
        "no credentials: {message}"
    );
    let stranger = broker.file("stranger.nk", &seed_of(&KeyPair::new_user()));
    let message = refused(with_file(
        collector(&broker.url()),
        "--nats-nkey",
        &stranger,
    ))
    .await;
    assert!(
        message.to_lowercase().contains("authoriz"),
        "an nkey the broker does not list: {message}"
    );

    // The seed file as `nk -gen user -pubout` writes it: seed, then public key.
    let seed_file = broker.file(
        "collector.nk",
        &format!("{}\n{}\n", seed_of(&nkey), nkey.public_key()),
    );
    let by_nkey = TestServer::start_with(with_file(
        collector(&broker.url()),
        "--nats-nkey",
        &seed_file,
    ))
    .await;
    let first = send_one(&by_nkey).await;

    let wrong = format!("nats://collector:wrong@{}", broker.addr);
    let message = refused(collector(&wrong)).await;
    assert!(
        message.to_lowercase().contains("authoriz"),
        "a wrong password: {message}"
    );
    // Two brokers listed, the first one down; the password in the URL is
    // percent-encoded, as URLs are.
    let in_url = format!(
        "nats://loader:p%40ss%20word%2F1@127.0.0.1:1, nats://loader:p%40ss%20word%2F1@{}",
        broker.addr
    );
    let by_url = TestServer::start_with(collector(&in_url)).await;
    let second = send_one(&by_url).await;
    let by_variables = TestServer::start_with(
        collector(&broker.url())
            .env("USAGE_NATS_USER", "loader")
            .env("USAGE_NATS_PASSWORD", "p@ss word/1"),
    )
    .await;
    let third = send_one(&by_variables).await;
    let message = refused(
        collector(&broker.url())
            .arg("--nats-user")
            .arg("loader")
            .arg("--nats-password")
            .arg("p@ss word/2"),
    )
    .await;
    assert!(
        message.to_lowercase().contains("authoriz"),
        "a wrong password by flag: {message}"
    );

    let reader = async_nats::ConnectOptions::with_user_and_password(
        "collector".to_owned(),
        "s3cret".to_owned(),
    );
    let ids = vec![first, second, third];
    assert_eq!(stored_ids(&broker.url(), reader).await, ids);

    // The pipeline consumer logs in the same ways, and refuses a wrong
    // login at once instead of retrying it.
    let out = tempfile::tempdir().expect("out");
    let consume = |login: Login| pipeline_consumer::Config {
        login,
        idle: Some(Duration::from_secs(1)),
        ..pipeline_consumer::Config::new(&broker.url(), out.path())
    };
    let wrong = Login::UserPassword("loader".to_owned(), "wrong".to_owned());
    let refused = pipeline_consumer::run(&consume(wrong), std::future::pending()).await;
    assert!(
        matches!(refused, Err(pipeline_consumer::Error::Config(_))),
        "{refused:?}"
    );
    let written = tokio::time::timeout(
        Duration::from_secs(30),
        pipeline_consumer::run(&consume(Login::Nkey(seed_file)), std::future::pending()),
    )
    .await
    .expect("caught up within 30 s")
    .expect("the consumer ran");
    assert_eq!(written, 3);
    let mut in_files = Vec::new();
    for day in std::fs::read_dir(out.path().join("acme")).expect("acme's folder") {
        let text = std::fs::read_to_string(day.expect("day").path()).expect("day file");
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).expect("a JSON line");
            in_files.push(record["id"].as_str().expect("id").to_owned());
        }
    }
    assert_eq!(in_files, ids);
}

#[tokio::test]
async fn the_collector_logs_in_by_token_from_the_flag_the_environment_or_the_url() {
    let Some(broker) = AuthBroker::start("authorization { token: \"t0ken-for-usage\" }") else {
        return;
    };
    let message = refused(collector(&broker.url())).await;
    assert!(
        message.to_lowercase().contains("authoriz"),
        "no token: {message}"
    );
    let message = refused(collector(&broker.url()).arg("--nats-token").arg("other")).await;
    assert!(
        message.to_lowercase().contains("authoriz"),
        "a wrong token: {message}"
    );

    let by_flag = TestServer::start_with(
        collector(&broker.url())
            .arg("--nats-token")
            .arg("t0ken-for-usage"),
    )
    .await;
    let first = send_one(&by_flag).await;
    let by_env =
        TestServer::start_with(collector(&broker.url()).env("USAGE_NATS_TOKEN", "t0ken-for-usage"))
            .await;
    let second = send_one(&by_env).await;
    // As other NATS clients read it: a user part without password is a token.
    let by_url = TestServer::start_with(collector(&format!(
        "nats://t0ken-for-usage@{}",
        broker.addr
    )))
    .await;
    let third = send_one(&by_url).await;

    let reader = async_nats::ConnectOptions::with_token("t0ken-for-usage".to_owned());
    assert_eq!(
        stored_ids(&broker.url(), reader).await,
        vec![first, second, third]
    );
}

#[tokio::test]
async fn the_collector_logs_in_with_a_creds_file_to_a_broker_in_operator_mode() {
    // Operator, account (JetStream allowed) and two users, each JWT signed
    // by the key above it, as `nsc` would make them.
    let operator = KeyPair::new_operator();
    let account = KeyPair::new_account();
    // JetStream in operator mode needs a system account.
    let system = KeyPair::new_account();
    let operator_jwt = jwt(
        &operator,
        claims(
            &operator,
            &operator,
            "test",
            json!({"type": "operator", "version": 2, "system_account": system.public_key()}),
        ),
    );
    let system_jwt = jwt(
        &operator,
        claims(
            &operator,
            &system,
            "SYS",
            json!({"type": "account", "version": 2}),
        ),
    );
    let unlimited = json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": true, "conn": -1, "leaf": -1,
        "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
    });
    let account_jwt = jwt(
        &operator,
        claims(
            &operator,
            &account,
            "usage",
            json!({"limits": unlimited, "default_permissions": {"pub": {}, "sub": {}},
                   "type": "account", "version": 2}),
        ),
    );
    let user_claims = json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                             "type": "user", "version": 2});
    let user = KeyPair::new_user();
    let user_jwt = jwt(
        &account,
        claims(&account, &user, "collector", user_claims.clone()),
    );
    let Some(broker) = AuthBroker::start(&format!(
        "operator: \"{operator_jwt}\"\nsystem_account: {}\nresolver: MEMORY\n\
         resolver_preload: {{ {}: \"{account_jwt}\", {}: \"{system_jwt}\" }}",
        system.public_key(),
        account.public_key(),
        system.public_key()
    )) else {
        return;
    };

    // A user JWT signed by a key the operator does not know.
    let outsider = KeyPair::new_account();
    let forged = jwt(
        &outsider,
        claims(&outsider, &user, "collector", user_claims),
    );
    let forged = broker.file("forged.creds", &creds(&forged, &user));
    let message = refused(with_file(collector(&broker.url()), "--nats-creds", &forged)).await;
    assert!(
        message.to_lowercase().contains("authoriz"),
        "a JWT of an unknown account: {message}"
    );

    let file = broker.file("collector.creds", &creds(&user_jwt, &user));
    let server =
        TestServer::start_with(with_file(collector(&broker.url()), "--nats-creds", &file)).await;
    let id = send_one(&server).await;
    let reader = async_nats::ConnectOptions::with_credentials_file(&file)
        .await
        .expect("the creds file reads");
    assert_eq!(stored_ids(&broker.url(), reader).await, vec![id]);
}

#[tokio::test]
async fn a_missing_unreadable_or_malformed_credentials_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("a folder");
    // No broker listens here: the files are checked before connecting.
    let nowhere = "nats://127.0.0.1:1";
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let seed = seed_of(&KeyPair::new_user());
    let public = KeyPair::from_seed(&seed).expect("valid").public_key();
    let cases = [
        ("--nats-nkey", dir.path().join("absent.nk"), "cannot read"),
        ("--nats-nkey", dir.path().to_path_buf(), "cannot read"),
        ("--nats-nkey", write("public.nk", &public), "no user seed"),
        (
            "--nats-nkey",
            write("garbled.nk", &format!("SU{}", &seed[3..])),
            "garbled.nk",
        ),
        (
            "--nats-creds",
            dir.path().join("absent.creds"),
            "cannot read",
        ),
        (
            "--nats-creds",
            write("plain.creds", &format!("{seed}\n")),
            "JWT",
        ),
    ];
    for (flag, path, says) in cases {
        let started = Instant::now();
        let message = refused(with_file(collector(nowhere), flag, &path)).await;
        let name = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        assert!(
            message.contains(&name) && message.contains(says),
            "{flag} {name}: says `{says}` and names the file: {message}"
        );
        assert!(
            !message.contains(&seed[2..]),
            "the seed is never shown: {message}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "refused at once, not after retrying"
        );
    }

    let both = with_file(
        with_file(collector(nowhere), "--nats-nkey", &write("a.nk", &seed)),
        "--nats-creds",
        &write("a.creds", "x"),
    );
    let message = refused(both).await;
    assert!(message.contains("--nats-creds"), "{message}");
}
