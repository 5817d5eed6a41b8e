//! The directory stays in sync, over real HTTP: users deactivated or
//! removed leave the drop-down and get no token while their history stays;
//! bulk imports are all or nothing with per-line errors and limits; and an
//! identity provider's SCIM provisioning run leaves the page and the API
//! agreeing with it.

mod api;

use api::*;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::TestServer;

const PAGE: &str = "/orgs/acme/tools/product-usage/opt-out-settings";

/// The settings page's HTML for the admin, with `query` appended.
async fn page_html(server: &TestServer, admin: &Session, query: &str) -> String {
    let response = server
        .client()
        .get(server.url(&format!("{PAGE}{query}")))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .expect("GET page");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("HTML")
}

/// Whether the page's drop-down offers `user`.
fn offers(html: &str, user: &str) -> bool {
    html.contains(&format!("<option value=\"{user}\">"))
}

async fn token_status(server: &TestServer, key: &str, user: &str) -> (StatusCode, Value) {
    let response = server
        .client()
        .post(server.url("/v1/tokens"))
        .bearer_auth(key)
        .json(&json!({"org": "acme", "user": user}))
        .send()
        .await
        .expect("POST /v1/tokens");
    status_json(response).await
}

#[tokio::test]
async fn a_deactivated_or_removed_user_leaves_the_drop_down_and_gets_no_token() {
    let server = TestServer::start_demo().await;
    let demo = server.demo();
    let key = demo.service_key.as_str();
    let admin = admin_session(&server, &demo.admin_signin_url).await;
    post_users(&server, bearer(key), "/api/orgs/acme/opt-outs", &["carol"]).await;
    assert!(offers(&page_html(&server, &admin, "").await, "bob"));

    let response = server
        .client()
        .put(server.url("/api/orgs/acme/users/bob"))
        .bearer_auth(key)
        .json(&json!({"name": "Bob Berg", "role": "user", "active": false}))
        .send()
        .await
        .expect("PUT");
    let (status, body) = status_json(response).await;
    assert_eq!(
        (status, body["active"].clone()),
        (StatusCode::OK, json!(false)),
        "{body}"
    );
    let html = page_html(&server, &admin, "").await;
    assert!(
        !offers(&html, "bob"),
        "deactivated users leave the drop-down"
    );
    let (status, body) = token_status(&server, key, "bob").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "user_inactive");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("deactivated")));
    let active = get_json(&server, key, "/api/orgs/acme/users?active=true&limit=100").await;
    assert!(!active["users"]
        .as_array()
        .expect("users")
        .iter()
        .any(|u| u["id"] == "bob"));
    let inactive = get_json(&server, key, "/api/orgs/acme/users?active=false").await;
    assert_eq!(inactive["users"][0]["id"], "bob");
    assert_eq!(inactive["users"][0]["active"], false);

    // Removing an opted-out user: gone from every list, no token, history kept.
    let response = server
        .client()
        .delete(server.url("/api/orgs/acme/users/carol"))
        .bearer_auth(key)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = token_status(&server, key, "carol").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "user_inactive")
    );
    let users = get_json(&server, key, "/api/orgs/acme/users?limit=100").await;
    assert!(!users["users"]
        .as_array()
        .expect("users")
        .iter()
        .any(|u| u["id"] == "carol"));
    let opt_outs = get_json(&server, key, "/api/orgs/acme/opt-outs").await;
    assert_eq!(
        opt_outs["total"], 0,
        "removed users leave the opted-out list"
    );
    let history = get_json(&server, key, "/api/orgs/acme/audit?user=carol").await;
    let actions: Vec<&str> = history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(&actions[..2], ["user_remove", "opt_out"], "{history}");
    let again = server
        .client()
        .delete(server.url("/api/orgs/acme/users/carol"))
        .bearer_auth(key)
        .send()
        .await
        .expect("DELETE again");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    // Reactivated, bob is offered and issued tokens again.
    let response = server
        .client()
        .put(server.url("/api/orgs/acme/users/bob"))
        .bearer_auth(key)
        .json(&json!({"name": "Bob Berg", "role": "user", "active": true}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(token_status(&server, key, "bob").await.0, StatusCode::OK);
    assert!(offers(&page_html(&server, &admin, "").await, "bob"));
}

async fn import_raw(
    server: &TestServer,
    key: &str,
    media: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = server
        .client()
        .post(server.url("/api/orgs/acme/users"))
        .bearer_auth(key)
        .header(CONTENT_TYPE, media)
        .body(body)
        .send()
        .await
        .expect("POST users");
    status_json(response).await
}

async fn directory_size(server: &TestServer, key: &str) -> usize {
    let mut count = 0;
    let mut cursor = String::new();
    loop {
        let page = get_json(
            server,
            key,
            &format!("/api/orgs/acme/users?limit=1000{cursor}"),
        )
        .await;
        count += page["users"].as_array().expect("users").len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return count,
        }
    }
}

#[tokio::test]
async fn a_bulk_import_is_all_or_nothing_and_names_the_lines_to_fix() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let before = directory_size(&server, &key).await;

    let csv = "id,name,email,role\nnew1,New One,,\nbad id,Spaces,,\nnew2,,,\nnew3,Three,,owner\nnew1,Again,,\n";
    let (status, body) = import_raw(&server, &key, "text/csv", csv.into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "invalid_rows");
    let lines: Vec<u64> = body["error"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["row"].as_u64())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6], "{body}");
    assert_eq!(body["error"]["total"], 4);
    assert_eq!(
        directory_size(&server, &key).await,
        before,
        "nothing was imported"
    );

    let (status, body) = import_raw(&server, &key, "text/csv", b"user,name\nx,X\n".to_vec()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_document")
    );
    let (status, body) = import_raw(&server, &key, "text/plain", b"id,name\n".to_vec()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );

    let mut too_many = String::from("id,name\n");
    for i in 0..=100_000 {
        too_many.push_str(&format!("u{i},User {i}\n"));
    }
    let (status, body) =
        import_raw(&server, &key, "text/csv; charset=utf-8", too_many.into()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_many_rows"),
        "{body}"
    );
    assert_eq!(directory_size(&server, &key).await, before);

    // The largest import allowed goes through in one piece.
    let mut most = String::from("id,name,email\n");
    for i in 0..100_000 {
        most.push_str(&format!("u{i:06},User {i},u{i}@acme.example\n"));
    }
    let (status, body) = import_raw(&server, &key, "text/csv", most.into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["created"], 100_000);
    assert_eq!(directory_size(&server, &key).await, before + 100_000);

    let json = json!({"users": [{"id": "u000001", "name": "Renamed"}, {"id": "json1", "name": "From JSON", "role": "admin"}]});
    let (status, body) =
        import_raw(&server, &key, "application/json", json.to_string().into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["created"].clone(), body["updated"].clone()),
        (json!(1), json!(1))
    );
}

/// `usage-server users import` of `file` into `acme`, with `store` naming the
/// registry (`--data DIR` or `--database-url URL`); success and stderr.
fn cli_import(store: &[&std::ffi::OsStr], file: &std::path::Path) -> (bool, String) {
    let output = std::process::Command::new(support::server::server_binary())
        .args(["users", "import", "--org", "acme"])
        .arg(file)
        .args(store)
        .env_remove("USAGE_DATABASE_URL")
        .output()
        .expect("run usage-server");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A CSV of `n` users `u0000`, `u0001`, ...
fn users_csv(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let mut text = String::from("id,name\n");
    for i in 0..n {
        text.push_str(&format!("u{i:04},User {i}\n"));
    }
    let path = dir.join(format!("users-{n}.csv"));
    std::fs::write(&path, text).expect("write csv");
    path
}

/// The database fails at the 700th of 1,000 users (planted by the statements
/// `plant`, as a full disk or a lost connection would): the command fails,
/// says nothing was imported, and nothing was, though its progress bar
/// passed 500. Once `heal` has run, the same command imports all. `pool`
/// reaches the registry that `store` names, which holds one seed user. A
/// macro, so one body serves the SQLite and the PostgreSQL pool.
macro_rules! assert_import_is_all_or_nothing {
    ($pool:expr, $store:expr, $dir:expr, plant: [$($plant:expr),+ $(,)?], heal: $heal:expr $(,)?) => {{
        let pool = $pool;
        $(
            sqlx::query($plant)
                .execute(pool)
                .await
                .expect("plant the failure");
        )+
        let count = || async {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE org = 'acme'")
                .fetch_one(pool)
                .await
                .expect("count users");
            n
        };
        let file = users_csv($dir, 1000);
        let (ok, stderr) = cli_import($store, &file);
        assert!(!ok, "the import must fail: {stderr}");
        assert!(stderr.contains("nothing was imported"), "{stderr}");
        assert_eq!(count().await, 1, "only the seed user is stored");

        sqlx::query($heal)
            .execute(pool)
            .await
            .expect("remove the failure");
        let (ok, stderr) = cli_import($store, &file);
        assert!(ok, "{stderr}");
        assert_eq!(count().await, 1000);
    }};
}

/// A command-line import into SQLite: all or nothing when the database fails midway.
#[tokio::test]
async fn a_command_line_import_is_all_or_nothing_when_the_database_fails_midway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let store = [std::ffi::OsStr::new("--data"), data.as_os_str()];
    let seed = users_csv(dir.path(), 1);
    assert!(
        cli_import(&store, &seed).0,
        "the seed import creates the registry"
    );
    let url = format!("sqlite://{}", data.join("registry.db").display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open registry");
    assert_import_is_all_or_nothing!(
        &pool,
        &store,
        dir.path(),
        plant: [
            "CREATE TRIGGER fail_midway BEFORE INSERT ON users WHEN NEW.id = 'u0700' \
             BEGIN SELECT RAISE(ABORT, 'planted failure'); END",
        ],
        heal: "DROP TRIGGER fail_midway",
    );
}

/// The same on PostgreSQL, where users are written in parts of a statement each.
#[tokio::test]
async fn a_command_line_import_on_postgres_is_all_or_nothing_when_the_database_fails_midway() {
    let Some(db) = support::postgres::TestDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = [
        std::ffi::OsStr::new("--database-url"),
        std::ffi::OsStr::new(db.url()),
    ];
    let seed = users_csv(dir.path(), 1);
    assert!(
        cli_import(&store, &seed).0,
        "the seed import creates the registry"
    );
    let pool = sqlx::PgPool::connect(db.url()).await.expect("connect");
    assert_import_is_all_or_nothing!(
        &pool,
        &store,
        dir.path(),
        plant: [
            "CREATE FUNCTION fail_midway() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.id = 'u0700' THEN RAISE EXCEPTION 'planted failure'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER fail_midway BEFORE INSERT ON users FOR EACH ROW \
             EXECUTE FUNCTION fail_midway()",
        ],
        heal: "DROP TRIGGER fail_midway ON users",
    );
    pool.close().await;
}

/// A SCIM request with the org's service key; status, content type, JSON.
async fn scim(
    server: &TestServer,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut request = server
        .client()
        .request(method, server.url(path))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request
            .header(CONTENT_TYPE, "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("SCIM request");
    let media = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (status, json) = status_json(response).await;
    (status, media, json)
}

#[tokio::test]
async fn a_scim_provisioning_run_leaves_the_drop_down_and_the_api_agreeing() {
    use reqwest::Method;
    let server = TestServer::start_demo().await;
    let demo = server.demo();
    let key = demo.service_key.as_str();
    let admin = admin_session(&server, &demo.admin_signin_url).await;
    let id = |i: usize| format!("idp-{i:04}");

    for i in 0..1000 {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": id(i),
            "name": {"givenName": "Idp", "familyName": format!("User {i}")},
            "emails": [{"value": format!("{}@idp.example", id(i)), "primary": true}],
            "active": true,
        });
        let (status, media, body) =
            scim(&server, key, Method::POST, "/scim/v2/Users", Some(user)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(media, "application/scim+json");
        assert_eq!(body["id"], id(i));
    }
    for i in 0..100 {
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        });
        let (status, _, body) = scim(
            &server,
            key,
            Method::PATCH,
            &format!("/scim/v2/Users/{}", id(i)),
            Some(patch),
        )
        .await;
        assert_eq!(
            (status, body["active"].clone()),
            (StatusCode::OK, json!(false)),
            "{body}"
        );
    }
    for i in 100..110 {
        let (status, _, _) = scim(
            &server,
            key,
            Method::DELETE,
            &format!("/scim/v2/Users/{}", id(i)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    // SCIM's own view.
    let (_, _, list) = scim(
        &server,
        key,
        Method::GET,
        "/scim/v2/Users?count=5&startIndex=3",
        None,
    )
    .await;
    assert_eq!(list["totalResults"], 990 + demo.users.len(), "{list}");
    assert_eq!(list["Resources"].as_array().map(Vec::len), Some(5));
    assert_eq!(list["startIndex"], 3);
    let filter = |user: &str| format!("/scim/v2/Users?filter=userName%20eq%20%22{user}%22");
    let (_, _, found) = scim(&server, key, Method::GET, &filter(&id(50)), None).await;
    assert_eq!(
        (
            found["totalResults"].clone(),
            found["Resources"][0]["active"].clone()
        ),
        (json!(1), json!(false))
    );
    let (_, _, gone) = scim(&server, key, Method::GET, &filter(&id(105)), None).await;
    assert_eq!(gone["totalResults"], 0);

    // The API agrees: 890 active, 100 deactivated, 10 gone.
    let mut active = 0;
    let mut cursor = String::new();
    loop {
        let page = get_json(
            &server,
            key,
            &format!("/api/orgs/acme/users?query=idp-&active=true&limit=1000{cursor}"),
        )
        .await;
        active += page["users"].as_array().expect("users").len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(active, 890);
    let inactive = get_json(
        &server,
        key,
        "/api/orgs/acme/users?query=idp-&active=false&limit=1000",
    )
    .await;
    assert_eq!(inactive["users"].as_array().map(Vec::len), Some(100));

    // The drop-down agrees, user by user.
    for (i, offered) in [
        (0, false),
        (99, false),
        (100, false),
        (109, false),
        (110, true),
        (999, true),
    ] {
        let html = page_html(&server, &admin, &format!("?q={}", id(i))).await;
        assert_eq!(offers(&html, &id(i)), offered, "{} offered", id(i));
    }
    // Tokens agree too.
    assert_eq!(
        token_status(&server, key, &id(5)).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        token_status(&server, key, &id(105)).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(token_status(&server, key, &id(500)).await.0, StatusCode::OK);
    // And the audit trail says it was directory sync, by the key.
    let history = get_json(
        &server,
        key,
        &format!("/api/orgs/acme/audit?user={}", id(105)),
    )
    .await;
    let newest = &history["entries"][0];
    assert_eq!(
        (newest["action"].clone(), newest["via"].clone()),
        (json!("user_remove"), json!("scim"))
    );
}

#[tokio::test]
async fn scim_errors_have_the_rfc_7644_shape() {
    use reqwest::Method;
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let error_schema = json!(["urn:ietf:params:scim:api:messages:2.0:Error"]);

    let (status, media, body) = scim(
        &server,
        &key,
        Method::POST,
        "/scim/v2/Users",
        Some(json!({"userName": "bob"})),
    )
    .await;
    assert_eq!(
        (status, media.as_str()),
        (StatusCode::CONFLICT, "application/scim+json")
    );
    assert_eq!(
        (
            body["schemas"].clone(),
            body["status"].clone(),
            body["scimType"].clone()
        ),
        (error_schema.clone(), json!("409"), json!("uniqueness"))
    );

    let (status, _, body) = scim(&server, &key, Method::GET, "/scim/v2/Users/nobody", None).await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::NOT_FOUND, json!("404"))
    );
    assert!(body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("nobody")));

    let (status, _, body) = scim(
        &server,
        &key,
        Method::GET,
        "/scim/v2/Users?filter=emails%20co%20%22x%22",
        None,
    )
    .await;
    assert_eq!(
        (status, body["scimType"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalidFilter"))
    );

    let (status, _, body) = scim(
        &server,
        &key,
        Method::POST,
        "/scim/v2/Users",
        Some(json!({"userName": "bad id"})),
    )
    .await;
    assert_eq!(
        (status, body["scimType"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalidValue"))
    );

    let patch = json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    let (status, _, body) = scim(
        &server,
        &key,
        Method::PATCH,
        "/scim/v2/Users/bob",
        Some(patch),
    )
    .await;
    assert_eq!(
        (status, body["scimType"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalidPath"))
    );

    let (status, _, body) = scim(
        &server,
        "usk_not-a-real-key",
        Method::GET,
        "/scim/v2/Users",
        None,
    )
    .await;
    assert_eq!(
        (status, body["schemas"].clone()),
        (StatusCode::UNAUTHORIZED, error_schema)
    );
}
