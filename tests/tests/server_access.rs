//! Who may see and change what, over real HTTP: every admin and service route
//! against every kind of caller, CSRF, demotion, revocation, one-time links.

mod api;

use api::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::TestServer;

#[tokio::test]
async fn every_admin_route_checks_who_is_asking() {
    let server = TestServer::start_demo().await;
    let demo = server.demo();
    let key = demo.service_key.clone();
    let data = server.data_dir();
    let base = server.base_url();

    // A second org with its own key and admin.
    let other_key = cli(&data, &["keys", "create", "--org", "other"])
        .trim()
        .to_owned();
    let put = |org: &str, user: &str, role: &str, key: &str| {
        server
            .client()
            .put(server.url(&format!("/api/orgs/{org}/users/{user}")))
            .bearer_auth(key)
            .json(&json!({"name": user, "email": format!("{user}@x.example"), "role": role}))
            .send()
    };
    let oscar: Value = put("other", "oscar", "admin", &other_key)
        .await
        .expect("put")
        .json()
        .await
        .expect("the user as stored");
    assert_eq!(oscar["active"], true, "{oscar}");
    // Read back in a request of its own: the command line below reads the
    // same registry file from another process.
    let stored = get_json(&server, &other_key, "/api/orgs/other/users?query=oscar").await;
    assert_eq!(stored["users"][0]["role"], "admin", "{stored}");
    // Bob is promoted so he can sign in, then demoted again below.
    assert_eq!(
        put("acme", "bob", "admin", &key)
            .await
            .expect("put")
            .status(),
        StatusCode::OK
    );

    let alice = admin_session(&server, &demo.admin_signin_url).await;
    let link = |org: &str, user: &str| {
        cli(
            &data,
            &[
                "admin-link",
                "--org",
                org,
                "--user",
                user,
                "--public-url",
                &base,
            ],
        )
        .trim()
        .to_owned()
    };
    let oscar = admin_session(&server, &link("other", "oscar")).await;
    let bob = admin_session(&server, &link("acme", "bob")).await;
    assert_eq!(
        put("acme", "bob", "user", &key)
            .await
            .expect("put")
            .status(),
        StatusCode::OK
    );

    let reads = [
        "/api/orgs/acme/users",
        "/api/orgs/acme/opt-outs",
        "/api/orgs/acme/audit",
    ];
    let changes = ["/api/orgs/acme/opt-outs", "/api/orgs/acme/opt-ins"];
    let none = reqwest::header::HeaderMap::new();
    type Case<'a> = (&'a str, reqwest::header::HeaderMap, StatusCode);
    let callers: Vec<Case> = vec![
        ("no credential", none.clone(), StatusCode::UNAUTHORIZED),
        (
            "a garbage bearer",
            bearer("usk_nope_nope"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a status token as bearer",
            bearer(&token_str(&server, &key, "acme", "carol").await),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a demoted admin (plain user)",
            bob.headers(),
            StatusCode::FORBIDDEN,
        ),
        (
            "an admin of another org",
            oscar.headers(),
            StatusCode::FORBIDDEN,
        ),
        (
            "a service key of another org",
            bearer(&other_key),
            StatusCode::FORBIDDEN,
        ),
        ("the org's admin", alice.headers(), StatusCode::OK),
        ("the org's service key", bearer(&key), StatusCode::OK),
    ];
    for (who, headers, expected) in &callers {
        for route in reads {
            let status = server
                .client()
                .get(server.url(route))
                .headers(headers.clone())
                .send()
                .await
                .expect("get")
                .status();
            assert_eq!(status, *expected, "GET {route} as {who}");
        }
        for route in changes {
            let (status, body) = post_users(&server, headers.clone(), route, &["erin"]).await;
            assert_eq!(status, *expected, "POST {route} as {who}: {body}");
            if status != StatusCode::OK {
                assert!(
                    body["error"]["code"].is_string(),
                    "JSON error shape for {who}"
                );
            }
        }
    }
    // Directory upserts and token issuing take the org's service key only.
    let upsert = |headers: reqwest::header::HeaderMap| {
        server
            .client()
            .put(server.url("/api/orgs/acme/users/zed"))
            .headers(headers)
            .json(&json!({"name": "Zed", "email": "", "role": "user"}))
            .send()
    };
    assert_eq!(
        upsert(none.clone()).await.expect("put").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        upsert(bearer(&other_key)).await.expect("put").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        upsert(bearer(&key)).await.expect("put").status(),
        StatusCode::OK
    );
    let tokens = |k: &str| {
        server
            .client()
            .post(server.url("/v1/tokens"))
            .bearer_auth(k)
            .json(&json!({"org": "acme", "user": "zed"}))
            .send()
    };
    assert_eq!(
        tokens(&other_key).await.expect("post").status(),
        StatusCode::FORBIDDEN
    );

    // A cookie without the CSRF token, or from another origin, changes nothing.
    let (status, body) = post_users(
        &server,
        alice.cookie_only(),
        "/api/orgs/acme/opt-outs",
        &["frank"],
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "csrf_failed")
    );
    let mut cross = alice.headers();
    cross.insert("origin", "http://evil.example".parse().expect("header"));
    assert_eq!(
        post_users(&server, cross, "/api/orgs/acme/opt-outs", &["frank"])
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let frank = token(&server, &key, "acme", "frank").await;
    assert_eq!(frank["opt_out"], false, "frank was never opted out");

    // Demoting the admin takes effect on the next request.
    let before = server
        .client()
        .get(server.url("/api/orgs/acme/opt-outs"))
        .headers(alice.headers())
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(before, StatusCode::OK);
    assert_eq!(
        put("acme", "alice", "user", &key)
            .await
            .expect("put")
            .status(),
        StatusCode::OK
    );
    let after = server
        .client()
        .get(server.url("/api/orgs/acme/opt-outs"))
        .headers(alice.headers())
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(after, StatusCode::FORBIDDEN);

    // A revoked key stops working at once.
    let id = cli(&data, &["keys", "list", "--org", "other"])
        .split('\t')
        .next()
        .expect("id")
        .to_owned();
    cli(&data, &["keys", "revoke", "--org", "other", "--id", &id]);
    let status = server
        .client()
        .get(server.url("/api/orgs/other/users"))
        .bearer_auth(&other_key)
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_sign_in_link_works_once() {
    let server = TestServer::start_demo().await;
    let link = server.demo().admin_signin_url;
    admin_session(&server, &link).await;
    let again = server.client().get(&link).send().await.expect("get");
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let forged = server
        .client()
        .get(format!("{link}x"))
        .send()
        .await
        .expect("get");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_out_clears_the_cookie_and_lands_on_the_sign_in_advice() {
    let server = TestServer::start_demo().await;
    let alice = admin_session(&server, &server.demo().admin_signin_url).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = [("csrf", alice.csrf.as_str()), ("lang", "sv")];
    let forged = client
        .post(server.url("/signout"))
        .headers(alice.cookie_only())
        .form(&[("lang", "sv")])
        .send()
        .await
        .expect("post");
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "no CSRF token, no sign-out"
    );
    let response = client
        .post(server.url("/signout"))
        .headers(alice.cookie_only())
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_eq!(
        location,
        "/orgs/acme/tools/product-usage/opt-out-settings?lang=sv"
    );
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        cookie.starts_with("usage_session=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );
    // Without the cookie the page asks to sign in, in Swedish.
    let page = client.get(server.url(location)).send().await.expect("get");
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert!(page.text().await.expect("html").contains("Logga in"));
}

#[tokio::test]
async fn the_command_line_takes_its_flags_from_usage_variables_too() {
    let server = TestServer::start_demo().await;
    let output = std::process::Command::new(support::server::server_binary())
        .arg("admin-link")
        .env("USAGE_ORG", "acme")
        .env("USAGE_USER", "alice")
        .env("USAGE_PUBLIC_URL", server.base_url())
        .env("USAGE_DATA", server.data_dir())
        .env("USAGE_LINK_VALID_FOR", "60")
        .output()
        .expect("run usage-server");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let link = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        link.starts_with(&format!("{}/signin?t=", server.base_url())),
        "{link}"
    );
    admin_session(&server, link.trim()).await;
}
