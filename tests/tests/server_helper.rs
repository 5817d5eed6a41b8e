//! Proves the `usage-server` helper's process handling against a stand-in
//! server (`fixtures/fake-usage-server`) that speaks the same CLI.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use support::server::{ServerOptions, TestServer};

fn fake_server() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-usage-server")
}

async fn get(server: &TestServer, path: &str) -> String {
    let response = server
        .client()
        .get(server.url(path))
        .send()
        .await
        .expect("request");
    response.text().await.expect("body")
}

#[tokio::test]
async fn a_server_answers_on_loopback_and_stops_gracefully() {
    let mut server = TestServer::start_binary(&fake_server(), ServerOptions::serve())
        .await
        .expect("the fake server starts");
    assert!(server.addr().ip().is_loopback());
    assert_eq!(get(&server, "/healthz").await, "ok");
    assert!(server.is_running());

    let status = server.stop().await.expect("it was running");
    assert!(
        status.success(),
        "SIGTERM should end it cleanly, got {status}"
    );
    assert!(!server.is_running());
    assert!(server.stderr().contains("stopping on SIGTERM"));
    assert!(server
        .client()
        .get(server.url("/healthz"))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_restart_keeps_the_port_and_the_data_folder() {
    let mut server = TestServer::start_binary(&fake_server(), ServerOptions::serve())
        .await
        .expect("the fake server starts");
    let base_url = server.base_url();
    assert_eq!(get(&server, "/starts").await, "1");

    server.restart().await;
    assert_eq!(server.base_url(), base_url);
    assert_eq!(get(&server, "/starts").await, "2");

    let status = server.kill().expect("it was running");
    assert_eq!(status.signal(), Some(9), "kill is a SIGKILL, got {status}");
    server.restart().await;
    assert_eq!(get(&server, "/starts").await, "3");
}

#[tokio::test]
async fn demo_mode_waits_for_and_reads_demo_json() {
    let server = TestServer::start_binary(&fake_server(), ServerOptions::demo())
        .await
        .expect("the fake server starts");
    let demo = server.demo();
    assert_eq!(demo.url, server.base_url());
    assert_eq!(demo.admin().map(|user| user.id.as_str()), Some("alice"));
}

#[tokio::test]
async fn the_server_sees_only_the_usage_variables_a_test_gives_it() {
    // Stands for a developer's own USAGE_* settings, which must not leak in.
    std::env::set_var("USAGE_LEAKED_FROM_TEST", "1");
    let options = ServerOptions::serve().env("USAGE_GIVEN", "yes");
    let server = TestServer::start_binary(&fake_server(), options)
        .await
        .expect("the fake server starts");
    let seen: serde_json::Value = serde_json::from_str(&get(&server, "/env").await).expect("JSON");
    assert_eq!(seen, serde_json::json!({"USAGE_GIVEN": "yes"}));
}

#[tokio::test]
async fn a_server_that_fails_to_start_reports_its_stderr() {
    let options = ServerOptions::serve().arg("--fail");
    let error = TestServer::start_binary(&fake_server(), options)
        .await
        .expect_err("the fake server refuses to start");
    let message = error.to_string();
    assert!(message.contains("exited early"), "{message}");
    assert!(message.contains("refusing to start as asked"), "{message}");
}

#[test]
fn the_flags_the_helper_passes_are_the_real_commands() {
    let options = ServerOptions::serve()
        .database_url("postgres://u@127.0.0.1/db")
        .sink("ndjson");
    let given: Vec<&str> = options
        .args()
        .iter()
        .map(String::as_str)
        .filter(|arg| arg.starts_with("--"))
        .collect();
    assert_eq!(given.len(), 2, "each option is passed as a flag: {given:?}");
    for mode in ["serve", "demo"] {
        let output = std::process::Command::new(support::server::server_binary())
            .args([mode, "--help"])
            .output()
            .expect("run usage-server --help");
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in given.iter().chain(&["--addr", "--data"]) {
            assert!(
                help.contains(&format!("{flag} ")),
                "`usage-server {mode}` has no {flag}:\n{help}"
            );
        }
    }
}
