//! Signing keys rotated and retired on the command line while the server
//! runs: new tokens use the new key, old ones keep working until their key
//! is retired, and then they, and the sessions signed with it, stop.

mod api;

use std::time::Duration;

use api::*;
use reqwest::StatusCode;
use support::server::TestServer;

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
