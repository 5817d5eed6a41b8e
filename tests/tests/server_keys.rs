//! Service keys with scopes, over real HTTP against the real binary: every
//! key-authenticated route with a `tokens` key, an `admin` key, a full key,
//! an expired key, a revoked key and another org's key; keys made, listed and
//! revoked over the CLI and the API; the last use recorded.

mod api;

use std::time::Duration;

use api::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::server::TestServer;

/// Makes a key with the CLI; returns the secret.
fn create_key(server: &TestServer, org: &str, extra: &[&str]) -> String {
    let mut args = vec!["keys", "create", "--org", org];
    args.extend_from_slice(extra);
    cli(&server.data_dir(), &args).trim().to_owned()
}

/// One route a service key may call, with a body that succeeds when allowed.
struct Route {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    /// `tokens` or `admin`: the scope it needs.
    scope: &'static str,
}

fn routes() -> Vec<Route> {
    let event = || event("report.opened");
    vec![
        Route {
            method: Method::POST,
            path: "/v1/tokens",
            body: Some(json!({"org": "acme", "user": "bob"})),
            scope: "tokens",
        },
        Route {
            method: Method::POST,
            path: "/v1/server-events",
            body: Some(json!({"org": "acme", "user": "bob", "events": [event()]})),
            scope: "tokens",
        },
        Route {
            method: Method::PUT,
            path: "/api/orgs/acme/users/zed",
            body: Some(json!({"name": "Zed", "email": "zed@acme.example", "role": "user"})),
            scope: "admin",
        },
        Route {
            method: Method::GET,
            path: "/api/orgs/acme/users",
            body: None,
            scope: "admin",
        },
        Route {
            method: Method::GET,
            path: "/api/orgs/acme/opt-outs",
            body: None,
            scope: "admin",
        },
        Route {
            method: Method::POST,
            path: "/api/orgs/acme/opt-outs",
            body: Some(json!({"users": ["carol"]})),
            scope: "admin",
        },
        Route {
            method: Method::POST,
            path: "/api/orgs/acme/opt-ins",
            body: Some(json!({"users": ["carol"]})),
            scope: "admin",
        },
        Route {
            method: Method::GET,
            path: "/api/orgs/acme/audit",
            body: None,
            scope: "admin",
        },
        Route {
            method: Method::POST,
            path: "/api/orgs/acme/users",
            body: Some(json!({"users": [{"id": "yan", "name": "Yan"}]})),
            scope: "admin",
        },
        Route {
            method: Method::GET,
            path: "/api/orgs/acme/keys",
            body: None,
            scope: "admin",
        },
        Route {
            method: Method::POST,
            path: "/api/orgs/acme/admin-links",
            body: Some(json!({"user": "alice"})),
            scope: "admin",
        },
    ]
}

async fn call(server: &TestServer, route: &Route, key: &str) -> (StatusCode, Value) {
    let mut request = server
        .client()
        .request(route.method.clone(), server.url(route.path))
        .bearer_auth(key);
    if let Some(body) = &route.body {
        request = request.json(body);
    }
    status_json(request.send().await.expect("request")).await
}

#[tokio::test]
async fn each_key_reaches_exactly_the_routes_of_its_scopes_and_org() {
    let server = TestServer::start_demo().await;
    let tokens = create_key(&server, "acme", &["--scope", "tokens", "--label", "login"]);
    let admin = create_key(&server, "acme", &["--scope", "admin"]);
    // Both scopes, comma-separated, is a full key, as is a key without --scope.
    let full = create_key(&server, "acme", &["--scope", "tokens,admin"]);
    let default = create_key(&server, "acme", &[]);
    let other_org = create_key(&server, "other", &[]);
    let expiring = create_key(&server, "acme", &["--expires-in", "1"]);
    let revoked = create_key(&server, "acme", &["--label", "to-revoke"]);
    let listed = cli(&server.data_dir(), &["keys", "list", "--org", "acme"]);
    let revoked_id = listed
        .lines()
        .find(|line| line.ends_with("\tto-revoke"))
        .and_then(|line| line.split('\t').next())
        .expect("the key to revoke is listed")
        .to_owned();
    cli(
        &server.data_dir(),
        &["keys", "revoke", "--org", "acme", "--id", &revoked_id],
    );
    // The shortest lifetime a key can have is a second: wait, bounded, until
    // the server says so, rather than a fixed time that assumes when it does.
    support::wait::until(
        "the key made to live one second to expire",
        Duration::from_secs(10),
        || async {
            let (status, body) = status_json(
                server
                    .client()
                    .get(server.url("/api/orgs/acme/keys"))
                    .bearer_auth(&expiring)
                    .send()
                    .await
                    .expect("GET keys"),
            )
            .await;
            (status == StatusCode::UNAUTHORIZED && code(&body) == "key_expired").then_some(())
        },
    )
    .await
    .expect("the key expires");

    for route in routes() {
        let what = format!("{} {}", route.method, route.path);
        for (name, key) in [("full", &full), ("default", &default)] {
            let (status, body) = call(&server, &route, key).await;
            assert!(
                status.is_success(),
                "{what} with a {name} key: {status} {body}"
            );
        }
        let (with_tokens, tokens_body) = call(&server, &route, &tokens).await;
        let (with_admin, admin_body) = call(&server, &route, &admin).await;
        let (allowed, allowed_body, refused, refused_body) = if route.scope == "tokens" {
            (with_tokens, tokens_body, with_admin, admin_body)
        } else {
            (with_admin, admin_body, with_tokens, tokens_body)
        };
        assert!(
            allowed.is_success(),
            "{what} with its scope: {allowed} {allowed_body}"
        );
        assert_eq!(refused, StatusCode::FORBIDDEN, "{what} without its scope");
        assert_eq!(code(&refused_body), "missing_scope", "{what}");

        let (status, body) = call(&server, &route, &other_org).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{what} with another org's key"
        );
        assert_eq!(code(&body), "forbidden", "{what}");
        let (status, body) = call(&server, &route, &expiring).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{what} with an expired key"
        );
        assert_eq!(code(&body), "key_expired", "{what}");
        let (status, body) = call(&server, &route, &revoked).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{what} with a revoked key"
        );
        assert_eq!(code(&body), "invalid_credentials", "{what}");
    }
}

#[tokio::test]
async fn the_demo_prints_a_full_key_and_a_tokens_key() {
    let server = TestServer::start_demo().await;
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(server.data_dir().join("demo.json")).expect("demo.json"),
    )
    .expect("demo.json is JSON");
    let full = file["service_key"].as_str().expect("service_key");
    let tokens = file["tokens_key"].as_str().expect("tokens_key");
    let stdout = server.stdout();
    assert!(stdout.contains(full) && stdout.contains(tokens), "{stdout}");

    let keys = get_json(&server, full, "/api/orgs/acme/keys").await;
    let mut scopes: Vec<Value> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["scopes"].clone())
        .collect();
    scopes.sort_by_key(|s| s.to_string());
    assert_eq!(scopes, [json!(["tokens", "admin"]), json!(["tokens"])]);
    assert_eq!(
        token(&server, tokens, "acme", "bob").await["opt_out"],
        false
    );
    let (status, _) =
        post_users(&server, bearer(tokens), "/api/orgs/acme/opt-outs", &["bob"]).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the tokens key cannot opt out"
    );
}

#[tokio::test]
async fn keys_are_made_listed_and_revoked_over_the_api() {
    let server = TestServer::start_demo().await;
    let full = server.demo().service_key;
    let admin = create_key(&server, "acme", &["--scope", "admin"]);

    // An admin key cannot mint a key holding a scope it lacks.
    let make = |key: &str, body: Value| {
        server
            .client()
            .post(server.url("/api/orgs/acme/keys"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let (status, body) = status_json(
        make(&admin, json!({"scopes": ["tokens"]}))
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "missing_scope");
    let (status, _) = status_json(
        make(&full, json!({"scopes": ["root"]}))
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown scope");
    let (status, _) = status_json(make(&full, json!({"scopes": []})).await.expect("POST")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no scope");

    let (status, made) = status_json(
        make(
            &full,
            json!({"scopes": ["tokens"], "label": "checkout", "expires_in": 3600}),
        )
        .await
        .expect("POST"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["key"].as_str().expect("key").to_owned();
    let id = made["id"].as_str().expect("id").to_owned();
    assert_eq!(made["scopes"], json!(["tokens"]));
    assert!(made["expires_at"].is_string());

    // Unused so far; one use records the time.
    let listed = get_json(&server, &admin, "/api/orgs/acme/keys").await;
    let entry = |listed: &Value| {
        listed["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|key| key["id"] == id.as_str())
            .cloned()
            .expect("the new key is listed")
    };
    assert_eq!(entry(&listed)["last_used_at"], Value::Null);
    assert!(
        !listed.to_string().contains(&secret),
        "a listing never shows a secret"
    );
    token(&server, &secret, "acme", "bob").await;
    let used = support::wait::until(
        "the key's use to be recorded",
        Duration::from_secs(5),
        || async {
            let listed = get_json(&server, &admin, "/api/orgs/acme/keys").await;
            let found = entry(&listed);
            found["last_used_at"].is_string().then_some(found)
        },
    )
    .await
    .expect("last use recorded");
    assert_eq!(used["label"], "checkout");

    // Revoked over the API, it stops working at once; a second revoke is 404.
    let revoke = || {
        server
            .client()
            .delete(server.url(&format!("/api/orgs/acme/keys/{id}")))
            .bearer_auth(&admin)
            .send()
    };
    assert_eq!(
        revoke().await.expect("DELETE").status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        revoke().await.expect("DELETE").status(),
        StatusCode::NOT_FOUND
    );
    let response = server
        .client()
        .post(server.url("/v1/tokens"))
        .bearer_auth(&secret)
        .json(&json!({"org": "acme", "user": "bob"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let listed = get_json(&server, &admin, "/api/orgs/acme/keys").await;
    assert_eq!(entry(&listed)["revoked"], true);

    // The audit trail names the key that made and revoked it.
    let audit = get_json(&server, &admin, "/api/orgs/acme/audit").await;
    let actions: Vec<(String, String)> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["target"] == id.as_str())
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["actor"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(actions.len(), 2, "{audit}");
    assert!(actions.iter().any(|(a, _)| a == "service_key_create"));
    assert!(actions.iter().any(|(a, _)| a == "service_key_revoke"));
    assert!(actions
        .iter()
        .all(|(_, actor)| actor.starts_with("key:sk_")));
}

#[tokio::test]
async fn key_flags_also_read_their_environment_variables() {
    let server = TestServer::start_demo().await;
    let output = std::process::Command::new(support::server::server_binary())
        .args(["keys", "create", "--data"])
        .arg(server.data_dir())
        .env_remove("USAGE_DATABASE_URL")
        .env("USAGE_ORG", "acme")
        .env("USAGE_KEY_SCOPE", "tokens")
        .env("USAGE_KEY_EXPIRES_IN", "600")
        .env("USAGE_KEY_LABEL", "from-env")
        .output()
        .expect("run usage-server");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = cli(&server.data_dir(), &["keys", "list", "--org", "acme"]);
    let line = listed
        .lines()
        .find(|line| line.ends_with("\tfrom-env"))
        .unwrap_or_else(|| panic!("the key is listed:\n{listed}"));
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields[1], "active");
    assert_eq!(fields[2], "tokens");
    assert_ne!(fields[4], "never", "it expires: {line}");
}

#[tokio::test]
async fn the_openapi_document_covers_keys_and_hand_over() {
    let server = TestServer::start().await;
    let spec: Value = server
        .client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("JSON");
    for (path, method) in [
        ("/api/orgs/{org}/keys", "get"),
        ("/api/orgs/{org}/keys", "post"),
        ("/api/orgs/{org}/keys/{id}", "delete"),
        ("/api/orgs/{org}/admin-links", "post"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} documented"
        );
    }
    let scheme = spec["components"]["securitySchemes"]["service_key"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        scheme.contains("`tokens`") && scheme.contains("`admin`"),
        "the key scheme names its scopes: {scheme}"
    );
}

#[tokio::test]
async fn a_signed_in_product_admin_manages_keys_with_the_csrf_token() {
    let server = TestServer::start_demo().await;
    let alice = admin_session(&server, &server.demo().admin_signin_url).await;
    let listed = server
        .client()
        .get(server.url("/api/orgs/acme/keys"))
        .headers(alice.cookie_only())
        .send()
        .await
        .expect("GET keys");
    assert_eq!(listed.status(), StatusCode::OK);

    let make = |headers: reqwest::header::HeaderMap| {
        server
            .client()
            .post(server.url("/api/orgs/acme/keys"))
            .headers(headers)
            .json(&json!({"scopes": ["tokens", "admin"], "label": "made on the page"}))
            .send()
    };
    let (status, body) = status_json(make(alice.cookie_only()).await.expect("POST")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "csrf_failed");
    let (status, made) = status_json(make(alice.headers()).await.expect("POST")).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let key = made["key"].as_str().expect("key");
    assert_eq!(token(&server, key, "acme", "bob").await["opt_out"], false);
    let audit = get_json(&server, key, "/api/orgs/acme/audit").await;
    assert!(
        audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["action"] == "service_key_create" && e["actor"] == "user:alice"),
        "{audit}"
    );
}

#[tokio::test]
async fn scim_needs_the_admin_scope() {
    let server = TestServer::start_demo().await;
    let tokens = create_key(&server, "acme", &["--scope", "tokens"]);
    let admin = create_key(&server, "acme", &["--scope", "admin"]);
    let list = |key: String| {
        server
            .client()
            .get(server.url("/scim/v2/Users"))
            .bearer_auth(key)
            .send()
    };
    let refused = list(tokens).await.expect("scim");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, body) = status_json(refused).await;
    assert_eq!(body["status"], "403", "the RFC 7644 error shape: {body}");
    let allowed = list(admin).await.expect("scim");
    assert_eq!(allowed.status(), StatusCode::OK);
    let wrong = list("usk_nope_nope".into()).await.expect("scim");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}
