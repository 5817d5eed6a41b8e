//! Signing keys rotated and retired on the command line while the server
//! runs: new tokens use the new key, old ones keep working until their key
//! is retired, and then they, and the sessions and links signed with it,
//! stop; through a restart, and on every instance sharing a PostgreSQL
//! registry.

mod api;

use std::time::Duration;

use api::*;
use reqwest::StatusCode;
use support::server::{ServerOptions, TestServer};

/// The key id a status token names (`v1.<kid>.<payload>.<tag>`).
fn kid(token: &str) -> String {
    token.split('.').nth(1).expect("a kid").to_owned()
}

#[tokio::test]
async fn rotation_keeps_old_tokens_working_until_their_key_is_retired() {
    let server = TestServer::start_demo().await;
    let data = server.data_dir();
    let key = server.demo().service_key;
    let old_token = token_str(&server, &key, "acme", "bob").await;
    let old_kid = kid(&old_token);
    let admin = admin_session(&server, &server.demo().admin_signin_url).await;

    let printed = cli(&data, &["keys", "rotate"]);
    assert!(printed.contains("now signing with"), "{printed}");
    // The running server picks the new key up from the store by itself.
    let new_token = support::wait::until(
        "tokens signed with the new key",
        Duration::from_secs(10),
        || async {
            let token = token_str(&server, &key, "acme", "bob").await;
            (kid(&token) != old_kid).then_some(token)
        },
    )
    .await
    .expect("the server signs with the rotated key");
    let listed = cli(&data, &["keys", "signing"]);
    assert!(
        listed.contains(&format!("{}\tcurrent", kid(&new_token))),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("{old_kid}\tverify-only")),
        "{listed}"
    );

    // Old and new tokens both verify; the admin's session still opens the API.
    for token in [&old_token, &new_token] {
        let (status, body) = send_batch(&server, token, vec![event("a.b")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let audit = |headers| {
        server
            .client()
            .get(server.url("/api/orgs/acme/audit"))
            .headers(headers)
            .send()
    };
    assert_eq!(
        audit(admin.headers()).await.expect("audit").status(),
        StatusCode::OK
    );

    // The current key cannot be retired; the old one can.
    let refused = std::process::Command::new(support::server::server_binary())
        .args(["keys", "retire", "--kid", &kid(&new_token), "--data"])
        .arg(&data)
        .output()
        .expect("run keys retire");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("is the current key"),
        "the current key stays: {said}"
    );
    let retired = cli(&data, &["keys", "retire", "--kid", &old_kid]);
    assert!(retired.contains(&old_kid), "{retired}");

    // Once the server has reloaded its keys, the old token is unknown...
    support::wait::until(
        "the old key to be forgotten",
        Duration::from_secs(10),
        || async {
            let (status, body) = send_batch(&server, &old_token, vec![event("a.b")]).await;
            (status == StatusCode::UNAUTHORIZED && code(&body) == "unknown_key").then_some(())
        },
    )
    .await
    .expect("old tokens refused after retirement");
    // ... the session signed with it ends, and the new token still works.
    assert_eq!(
        audit(admin.headers()).await.expect("audit").status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = send_batch(&server, &new_token, vec![event("a.b")]).await;
    assert_eq!(status, StatusCode::OK);
}

/// Runs `usage-server keys ...` on a data folder, and on a PostgreSQL
/// registry when `database_url` is given; returns stdout.
fn keys(data: &std::path::Path, database_url: Option<&str>, args: &[&str]) -> String {
    let mut command = std::process::Command::new(support::server::server_binary());
    command
        .arg("keys")
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("USAGE_DATABASE_URL");
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    let output = command.output().expect("run usage-server keys");
    assert!(
        output.status.success(),
        "usage-server keys {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Waits until `server` issues tokens signed with another key than `old_kid`; returns one.
async fn token_after_rotation(server: &TestServer, key: &str, old_kid: &str) -> String {
    support::wait::until(
        "tokens signed with the new key",
        Duration::from_secs(10),
        || async {
            let token = token_str(server, key, "acme", "bob").await;
            (kid(&token) != old_kid).then_some(token)
        },
    )
    .await
    .expect("the server signs with the rotated key")
}

/// Waits until `server` refuses `token` as signed with an unknown key.
async fn until_unknown(server: &TestServer, token: &str) {
    support::wait::until(
        "the retired key to be forgotten",
        Duration::from_secs(10),
        || async {
            let (status, body) = send_batch(server, token, vec![event("a.b")]).await;
            (status == StatusCode::UNAUTHORIZED && code(&body) == "unknown_key").then_some(())
        },
    )
    .await
    .expect("tokens of the retired key refused");
}

#[tokio::test]
async fn a_restart_keeps_the_rotation_and_what_the_retired_key_signed_stays_refused() {
    let mut server = TestServer::start_demo().await;
    let data = server.data_dir();
    let key = server.demo().service_key;
    let base = server.base_url();
    let link = || {
        cli(
            &data,
            &[
                "admin-link",
                "--org",
                "acme",
                "--user",
                "alice",
                "--public-url",
                &base,
            ],
        )
        .trim()
        .to_owned()
    };
    let old_token = token_str(&server, &key, "acme", "bob").await;
    let old_kid = kid(&old_token);
    let old_link = link();

    keys(&data, None, &["rotate"]);
    let new_token = token_after_rotation(&server, &key, &old_kid).await;
    let new_kid = kid(&new_token);
    // Signed in after the rotation: the session is signed with the new key.
    let session = admin_session(&server, &link()).await;
    keys(&data, None, &["retire", "--kid", &old_kid]);
    until_unknown(&server, &old_token).await;

    server.restart().await;
    assert_eq!(
        kid(&token_str(&server, &key, "acme", "bob").await),
        new_kid,
        "after a restart the server signs with the rotated key"
    );
    let (status, body) = send_batch(&server, &old_token, vec![event("a.b")]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unknown_key"),
        "a token of the retired key, after a restart"
    );
    let (status, body) = send_batch(&server, &new_token, vec![event("a.b")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let signin = server
        .client()
        .get(&old_link)
        .send()
        .await
        .expect("GET /signin");
    assert_eq!(
        signin.status(),
        StatusCode::UNAUTHORIZED,
        "an unused sign-in link of the retired key"
    );
    let audit = server
        .client()
        .get(server.url("/api/orgs/acme/audit"))
        .headers(session.headers())
        .send()
        .await
        .expect("GET audit");
    assert_eq!(
        audit.status(),
        StatusCode::OK,
        "a session signed with the current key outlives the retirement and the restart"
    );
    let listed = keys(&data, None, &["signing"]);
    assert!(!listed.contains(&old_kid), "{listed}");
    assert!(listed.contains(&format!("{new_kid}\tcurrent")), "{listed}");
}

#[tokio::test]
async fn every_instance_follows_a_rotation_and_a_retirement() {
    let Some(db) = support::postgres::TestDatabase::create().await else {
        return;
    };
    let a = TestServer::start_with(ServerOptions::demo().database_url(db.url())).await;
    let b = TestServer::start_with(ServerOptions::serve().database_url(db.url())).await;
    let key = a.demo().service_key;
    let old_token = token_str(&a, &key, "acme", "bob").await;
    let old_kid = kid(&old_token);

    keys(&a.data_dir(), Some(db.url()), &["rotate"]);
    let from_a = token_after_rotation(&a, &key, &old_kid).await;
    let from_b = token_after_rotation(&b, &key, &old_kid).await;
    assert_eq!(kid(&from_a), kid(&from_b), "both sign with the one new key");
    // Until the retirement, the old key verifies everywhere.
    for server in [&a, &b] {
        let (status, body) = send_batch(server, &old_token, vec![event("a.b")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    keys(
        &a.data_dir(),
        Some(db.url()),
        &["retire", "--kid", &old_kid],
    );
    for server in [&a, &b] {
        until_unknown(server, &old_token).await;
    }
    for (server, token) in [(&a, &from_b), (&b, &from_a)] {
        let (status, body) = send_batch(server, token, vec![event("a.b")]).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a token of the other instance: {body}"
        );
    }
}
