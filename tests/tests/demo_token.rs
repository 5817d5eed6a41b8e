//! `POST /demo/token`: under `usage-server demo` only, status tokens for the
//! demo org's users, so the web example signs in without holding any key.

mod api;

use api::*;
use reqwest::StatusCode;
use serde_json::json;
use support::server::TestServer;

async fn demo_token(server: &TestServer, user: &str) -> (StatusCode, serde_json::Value) {
    let response = server
        .client()
        .post(server.url("/demo/token"))
        .json(&json!({"user": user}))
        .send()
        .await
        .expect("POST /demo/token");
    status_json(response).await
}

#[tokio::test]
async fn the_demo_mints_tokens_for_its_own_users_only() {
    let server = TestServer::start_demo().await;
    let (status, body) = demo_token(&server, "bob").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().expect("token");
    assert_eq!(body["opt_out"], false);
    let (status, answer) = send_batch(&server, token, vec![event("demo.clicked")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["accepted"], 1);

    // Not a way to grow the directory.
    let (status, body) = demo_token(&server, "mallory").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let users = get_json(
        &server,
        &server.demo().service_key,
        "/api/orgs/acme/users?query=mallory",
    )
    .await;
    assert_eq!(users["users"], json!([]));

    // The flag follows the registry.
    let (status, _) = post_users(
        &server,
        bearer(&server.demo().service_key),
        "/api/orgs/acme/opt-outs",
        &["bob"],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(demo_token(&server, "bob").await.1["opt_out"], true);
}

#[tokio::test]
async fn a_served_instance_has_no_demo_token_route() {
    let server = TestServer::start().await;
    let (status, _) = demo_token(&server, "bob").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_web_example_holds_no_key() {
    let root = support::server::workspace_root().join("examples/web-app");
    for file in ["index.html", "app.js"] {
        let text = std::fs::read_to_string(root.join(file)).expect("web example file");
        for secret_shaped in ["usk_", "Bearer", "authorization", "#key"] {
            assert!(
                !text.contains(secret_shaped),
                "{file} mentions `{secret_shaped}`"
            );
        }
    }
}
