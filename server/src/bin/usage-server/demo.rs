//! `usage-server demo`: serve with a seeded org and print how to try it.

use serde::Serialize;
use usage_server::AppState;
use usage_validator::credentials;
use usage_validator::model::{Author, Role, Scope, User};

use crate::{open, CliResult, ServeArgs};

/// The demo org.
const ORG: &str = "acme";

/// The demo directory: one product admin and a handful of users.
const USERS: [(&str, &str, Role); 8] = [
    ("alice", "Alice Andersson", Role::Admin),
    ("bob", "Bob Berg", Role::User),
    ("carol", "Carol Carlsson", Role::User),
    ("dave", "Dave Dahl", Role::User),
    ("erin", "Erin Ek", Role::User),
    ("frank", "Frank Fors", Role::User),
    ("grace", "Grace Gran", Role::User),
    ("heidi", "Heidi Holm", Role::User),
];

/// What `demo.json` holds.
#[derive(Debug, Serialize)]
struct DemoFile {
    url: String,
    org: String,
    service_key: String,
    tokens_key: String,
    admin_signin_url: String,
    users: Vec<DemoUser>,
}

#[derive(Debug, Serialize)]
struct DemoUser {
    id: String,
    name: String,
    role: Role,
}

/// Seeds the demo org (only what is missing, so a restart keeps changes),
/// then serves.
pub async fn run(mut args: ServeArgs) -> CliResult {
    let store = open::store(&args.store).await?;
    store.ensure_org(ORG).await?;
    let mut missing = Vec::new();
    for (id, name, role) in USERS {
        if store.user(ORG, id).await?.is_none() {
            missing.push(User {
                id: id.into(),
                name: name.into(),
                email: format!("{id}@acme.example"),
                role,
            });
        }
    }
    store.upsert_users(ORG, &missing, &Author::system()).await?;
    let full = credentials::new_service_key(ORG, "demo (full)", &Scope::ALL, None);
    store.add_service_key(&full.info, &full.hash).await?;
    let tokens = credentials::new_service_key(ORG, "demo (tokens)", &[Scope::Tokens], None);
    store.add_service_key(&tokens.info, &tokens.hash).await?;
    drop(store);

    args.demo_org = Some(ORG.into());
    let data = args.store.data.clone();
    let secret = full.secret;
    let tokens_key = tokens.secret;
    let ready = move |state: &AppState| {
        let url = state.config.public_url.clone();
        let link = state
            .with_keys(|ring| usage_server::signin_link(ring, &url, ORG, "alice", 24 * 60 * 60));
        let file = DemoFile {
            url: url.clone(),
            org: ORG.into(),
            service_key: secret.clone(),
            tokens_key: tokens_key.clone(),
            admin_signin_url: link.clone(),
            users: USERS
                .iter()
                .map(|(id, name, role)| DemoUser {
                    id: (*id).into(),
                    name: (*name).into(),
                    role: *role,
                })
                .collect(),
        };
        let path = data.join("demo.json");
        match serde_json::to_vec_pretty(&file).map(|json| std::fs::write(&path, json)) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("warning: could not write {}: {err}", path.display()),
            Err(err) => eprintln!("warning: could not encode demo.json: {err}"),
        }
        println!(
            "\nDemo org `{ORG}` is ready. Admin: alice; users: bob, carol, dave, erin, frank, grace, heidi.\n\
             \n  Settings page (sign in as alice, link valid 24 h, one use):\n    {link}\n\
             \n  Service keys (shown once; also in demo.json):\n\
             \x20   tokens only, for a back end issuing status tokens and sending server events:\n      {tokens_key}\n\
             \x20   full (tokens + admin), for automation of the admin API:\n      {secret}\n\
             \n  Try it:\n\
             \x20   TOKEN=$(curl -s {url}/v1/tokens -H 'Authorization: Bearer {tokens_key}' -H 'content-type: application/json' \\\n\
             \x20     -d '{{\"org\":\"acme\",\"user\":\"bob\"}}' | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')\n\
             \x20   curl -s {url}/v1/batch -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\n\
             \x20     -d '{{\"sent_at\":\"2026-01-01T00:00:00Z\",\"sdk\":{{\"name\":\"curl\",\"version\":\"1\"}},\"events\":[{{\"id\":\"'$(cat /proc/sys/kernel/random/uuid)'\",\"name\":\"demo.clicked\",\"ts\":\"2026-01-01T00:00:00Z\"}}]}}'\n\
             \n  Hand alice over from a product's back end (one-time link, 2 minutes):\n\
             \x20   curl -s {url}/api/orgs/acme/admin-links -H 'Authorization: Bearer {secret}' -H 'content-type: application/json' -d '{{\"user\":\"alice\"}}'\n\
             \n  Web example (browser SDK, debugger panel; holds no key, signs in through /demo/token):\n    {url}/demo/web-app/\n\
             \n  Rust SDK:\n\
             \x20   let tracker = usage_sdk::Tracker::builder(\"{url}\").build()?;\n\
             \x20   tracker.login(&token)?;\n\
             \x20   tracker.track(\"report.opened\", ());\n\
             \n  Written to {}\n",
            path.display()
        );
    };
    open::serve(args, true, Some(Box::new(ready))).await
}
