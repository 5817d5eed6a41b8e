//! One table of every state-changing route and form of `usage-server`, each
//! driven over real HTTP through its checks: no or bad credentials, a key of
//! the wrong scope or org, a plain user's or another org's admin session, a
//! session without or with another session's CSRF token, and a cross-site
//! `Origin`. Every refusal must leave the org as it was, and the one allowed
//! caller must change it, so the comparison is known to see that route's effect.
//!
//! The table must name every POST, PUT, PATCH and DELETE of `/openapi.json`
//! and every form the settings page posts: a new route or form fails this
//! test until its row, and so its checks, are written down.

mod api;
mod state_changes;

use std::collections::BTreeSet;

use api::*;
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use state_changes::{
    expected, post_forms, refusal_shape, send, table, Caller, Expect, Guard, Kind, Scope,
};
use support::server::{ServerOptions, TestServer};

/// Everything an org's admin could notice, read with the org's full key: the
/// directory, the opt-outs, the audit trail, the keys (without their last
/// use, which an authenticated but refused key may update), the stored events,
/// and whether two admin sessions still open the page.
async fn observable(server: &TestServer, key: &str, sessions: &[&Session]) -> Value {
    let users = get_json(server, key, "/api/orgs/acme/users?limit=1000").await;
    let opt_outs = get_json(server, key, "/api/orgs/acme/opt-outs?limit=1000").await;
    let audit = get_json(server, key, "/api/orgs/acme/audit?limit=1000").await;
    let mut keys = get_json(server, key, "/api/orgs/acme/keys").await;
    if let Some(list) = keys["keys"].as_array_mut() {
        for entry in list {
            if let Some(fields) = entry.as_object_mut() {
                fields.remove("last_used_at");
            }
        }
    }
    let mut open = Vec::new();
    for session in sessions {
        let page = server
            .client()
            .get(server.url("/orgs/acme/tools/product-usage/opt-out-settings"))
            .headers(session.cookie_only())
            .send()
            .await
            .expect("GET the page");
        open.push(page.status().as_u16());
    }
    let mut events = stored_ids(&server.data_dir());
    events.sort();
    json!({
        "users": users, "opt_outs": opt_outs, "audit": audit, "keys": keys,
        "events": events, "sessions_open": open,
    })
}

/// `POST`, `PUT`, `PATCH` and `DELETE` operations of the OpenAPI document.
async fn documented_changes(server: &TestServer) -> BTreeSet<(String, String)> {
    let doc: Value = server
        .client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("OpenAPI JSON");
    let paths = doc["paths"].as_object().expect("the document has paths");
    let mut found = BTreeSet::new();
    for (path, operations) in paths {
        for method in ["post", "put", "patch", "delete"] {
            if operations.get(method).is_some() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

/// A redirect-free client, so the page's post-redirect-get shows as a 303.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain HTTP client builds")
}

#[tokio::test]
async fn every_state_change_checks_credentials_scope_org_admin_csrf_and_origin() {
    // Hundreds of refusals on purpose: the per-address limit on failed
    // authentication must not answer them 429 before the checks under test.
    let server = TestServer::start_with(
        ServerOptions::demo()
            .arg("--auth-failure-burst")
            .arg("100000"),
    )
    .await;
    let demo = server.demo();
    let full = demo.service_key.clone();
    let data = server.data_dir();
    let base = server.base_url();
    let key = |org: &str, scope: &str| {
        cli(&data, &["keys", "create", "--org", org, "--scope", scope])
            .trim()
            .to_owned()
    };
    let tokens_key = key("acme", "tokens");
    let admin_key = key("acme", "admin");
    let other_key = key("other", "tokens,admin");
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

    // The callers: a plain user who was an admin, another org's admin, and
    // two sessions of the org's admin (the second's token is a wrong one for
    // the first, and the sign-out form ends the second).
    let upsert = |org: &'static str, user: &'static str, role: &'static str, key: String| {
        let server = &server;
        async move {
            let response = server
                .client()
                .put(server.url(&format!("/api/orgs/{org}/users/{user}")))
                .bearer_auth(key)
                .json(&json!({"name": user, "email": "", "role": role}))
                .send()
                .await
                .expect("PUT a user");
            assert_eq!(response.status(), StatusCode::OK, "upsert {org}/{user}");
        }
    };
    upsert("other", "oscar", "admin", other_key.clone()).await;
    upsert("acme", "bob", "admin", full.clone()).await;
    let alice = admin_session(&server, &demo.admin_signin_url).await;
    let spare = admin_session(&server, &link("acme", "alice")).await;
    let oscar = admin_session(&server, &link("other", "oscar")).await;
    let bob = admin_session(&server, &link("acme", "bob")).await;
    upsert("acme", "bob", "user", full.clone()).await;

    // What the allowed callers act on: users to remove, a user opted out to
    // opt back in, a key to revoke.
    for user in ["dora", "sven", "sigrid"] {
        upsert("acme", user, "user", full.clone()).await;
    }
    for user in ["dave", "grace"] {
        let (status, body) =
            post_users(&server, bearer(&full), "/api/orgs/acme/opt-outs", &[user]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let made = server
        .client()
        .post(server.url("/api/orgs/acme/keys"))
        .bearer_auth(&full)
        .json(&json!({"scopes": ["tokens"], "label": "to revoke"}))
        .send()
        .await
        .expect("POST a key");
    let (status, made) = status_json(made).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let doomed_id = made["id"].as_str().expect("the key's id").to_owned();
    let status_token = token_str(&server, &full, "acme", "bob").await;

    let rows = table();

    // Every documented change is in the table, and the table documents nothing extra.
    let documented = documented_changes(&server).await;
    let listed: BTreeSet<(String, String)> = rows
        .iter()
        .filter(|row| row.documented)
        .map(|row| (row.method.to_string(), row.template.to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "routes in /openapi.json without a row in this table (add one, with its guard): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "rows marked documented that /openapi.json lacks: {stale:?}"
    );

    // Every form the page posts is in the table, and carries the session's token.
    let client = no_redirects();
    let page = client
        .get(server.url("/orgs/acme/tools/product-usage/opt-out-settings"))
        .headers(alice.cookie_only())
        .send()
        .await
        .expect("GET the page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page HTML");
    let forms = post_forms(&html);
    let form_templates: BTreeSet<String> = forms
        .iter()
        .map(|form| {
            assert_eq!(
                form.csrf.as_deref(),
                Some(alice.csrf.as_str()),
                "the form posting to {} carries the session's CSRF token",
                form.action
            );
            form.action.replacen("/orgs/acme/", "/orgs/{org}/", 1)
        })
        .collect();
    let form_rows: BTreeSet<String> = rows
        .iter()
        .filter(|row| matches!(row.guard, Guard::PageForm | Guard::SignOut))
        .map(|row| row.template.to_owned())
        .collect();
    assert_eq!(
        form_templates, form_rows,
        "the page's post forms (left) and the table's form rows (right) differ"
    );

    let callers = vec![
        Caller::new(Kind::Nobody, "no credential"),
        Caller::new(Kind::Unauthenticated, "a garbage bearer").bearer("usk_nope_nope"),
        Caller::new(Kind::StatusToken, "a status token").bearer(&status_token),
        Caller::new(Kind::OtherOrgKey, "another org's full key").bearer(&other_key),
        Caller::new(Kind::TokensKey, "a `tokens` key").bearer(&tokens_key),
        Caller::new(Kind::AdminKey, "an `admin` key").bearer(&admin_key),
        Caller::new(Kind::BadCsrf, "the admin's cookie without a CSRF token").session(&alice, None),
        Caller::new(
            Kind::BadCsrf,
            "the admin's cookie with another session's CSRF token",
        )
        .session(&alice, Some(&spare.csrf)),
        Caller::new(
            Kind::BadCsrf,
            "the admin's cookie with a made-up CSRF token",
        )
        .session(&alice, Some("0000000000000000")),
        Caller::new(Kind::BadCsrf, "the admin from another site")
            .session(&alice, Some(&alice.csrf))
            .origin("http://evil.example"),
        Caller::new(Kind::BadCsrf, "the admin from an opaque origin")
            .session(&alice, Some(&alice.csrf))
            .origin("null"),
        Caller::new(Kind::BadCsrf, "the admin from another port of this host")
            .session(&alice, Some(&alice.csrf))
            .origin(&format!("http://{}:1", server.addr().ip())),
        Caller::new(Kind::OtherSession, "a demoted admin (plain user)")
            .session(&bob, Some(&bob.csrf))
            .origin(&base),
        Caller::new(Kind::OtherSession, "another org's admin")
            .session(&oscar, Some(&oscar.csrf))
            .origin(&base),
    ];

    for route in &rows {
        let path = route.path.replace("{key_id}", &doomed_id);
        let what = format!("{} {}", route.method, route.template);
        let before = observable(&server, &full, &[&alice, &spare]).await;
        for caller in &callers {
            let Expect::Unchanged(status) = expected(route, caller.kind) else {
                continue;
            };
            let response = send(&client, &server, route, &path, caller).await;
            assert_eq!(response.status(), status, "{what} as {}", caller.who);
            if caller.origin.is_some() && route.guard != Guard::StatusToken {
                assert!(
                    response
                        .headers()
                        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                        .is_none(),
                    "{what} answers cross-origin for {}",
                    caller.who
                );
            }
            if status.is_client_error() {
                let shape = refusal_shape(route.guard, response).await;
                assert!(shape.is_ok(), "{what} as {}: {shape:?}", caller.who);
            }
            let after = observable(&server, &full, &[&alice, &spare]).await;
            assert_eq!(after, before, "{what} as {} changed the org", caller.who);
        }

        // No browser may even ask from another site, except for batches.
        if route.guard != Guard::StatusToken {
            let preflight = client
                .request(Method::OPTIONS, server.url(&path))
                .header(ORIGIN, "http://evil.example")
                .header("access-control-request-method", route.method.as_str())
                .send()
                .await
                .expect("preflight");
            assert!(
                preflight
                    .headers()
                    .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                    .is_none(),
                "{what} allows a cross-origin preflight"
            );
        }

        // The allowed caller succeeds, and what it changed shows: the
        // comparison above would have seen a refused request get through.
        let allowed = match route.guard {
            Guard::StatusToken => {
                Caller::new(Kind::StatusToken, "a status token").bearer(&status_token)
            }
            Guard::Key(Scope::Tokens) => {
                Caller::new(Kind::TokensKey, "a `tokens` key").bearer(&tokens_key)
            }
            Guard::Key(Scope::Admin) | Guard::Scim => {
                Caller::new(Kind::AdminKey, "an `admin` key").bearer(&admin_key)
            }
            Guard::AdminOrKey | Guard::PageForm => Caller::new(Kind::Admin, "the admin")
                .session(&alice, Some(&alice.csrf))
                .origin(&base),
            Guard::SignOut => Caller::new(Kind::Admin, "the admin's second session")
                .session(&spare, Some(&spare.csrf))
                .origin(&base),
            Guard::DemoOpen => Caller::new(Kind::Nobody, "anyone"),
        };
        let response = send(&client, &server, route, &path, &allowed).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success() || status == StatusCode::SEE_OTHER,
            "{what} as {}: {status} {body}",
            allowed.who
        );
        let after = observable(&server, &full, &[&alice, &spare]).await;
        assert_eq!(
            after != before,
            route.visible,
            "{what} as {}: the change {} show",
            allowed.who,
            if route.visible {
                "does not"
            } else {
                "unexpectedly does"
            }
        );
    }
}
