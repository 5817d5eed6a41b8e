//! The server helper against the real `usage-server`: the demo comes up on a
//! free loopback port, and what an admin changed survives a restart on the
//! same data folder.

use serde_json::{json, Value};
use support::server::TestServer;

async fn opted_out_ids(server: &TestServer) -> Vec<String> {
    let demo = server.demo();
    let response = server
        .client()
        .get(server.url(&format!("/api/orgs/{}/opt-outs", demo.org)))
        .bearer_auth(&demo.service_key)
        .send()
        .await
        .expect("GET opt-outs");
    assert!(
        response.status().is_success(),
        "GET opt-outs answered {}",
        response.status()
    );
    let body: Value = response.json().await.expect("JSON list of opt-outs");
    let text = body.to_string();
    ["alice", "bob", "carol"]
        .into_iter()
        .filter(|id| text.contains(&format!("\"{id}\"")))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn an_opt_out_survives_a_graceful_restart() {
    let mut server = TestServer::start_demo().await;
    let demo = server.demo();
    assert_eq!(demo.org, "acme");
    assert_eq!(demo.url, server.base_url());
    assert_eq!(demo.admin().map(|user| user.id.as_str()), Some("alice"));
    assert!(demo.user("bob").is_some() && demo.user("carol").is_some());
    assert!(opted_out_ids(&server).await.is_empty());

    let response = server
        .client()
        .post(server.url("/api/orgs/acme/opt-outs"))
        .bearer_auth(&demo.service_key)
        .json(&json!({ "users": ["bob"] }))
        .send()
        .await
        .expect("POST opt-outs");
    assert!(
        response.status().is_success(),
        "POST opt-outs answered {}",
        response.status()
    );
    assert_eq!(opted_out_ids(&server).await, ["bob"]);

    let status = server.stop().await.expect("the server was running");
    assert!(
        status.success(),
        "SIGTERM should stop the server cleanly, got {status}"
    );
    server.restart().await;
    assert_eq!(opted_out_ids(&server).await, ["bob"]);
}
