//! Lists that scale, over real HTTP: the opted-out list, users and the
//! audit trail page by cursor (every row exactly once, even while rows are
//! added), search, CSV exports (quoted, and defused against formulas), and
//! an audit trail that says who, through what, and the state before and after.

mod api;

use std::collections::HashSet;

use api::*;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::TestServer;

/// Imports `users` (`[{id, name, email}]`) over HTTP; panics unless it worked.
async fn import(server: &TestServer, key: &str, users: Vec<Value>) -> Value {
    let response = server
        .client()
        .post(server.url("/api/orgs/acme/users"))
        .bearer_auth(key)
        .json(&json!({ "users": users }))
        .send()
        .await
        .expect("POST users");
    let (status, body) = status_json(response).await;
    assert_eq!(status, StatusCode::OK, "import: {body}");
    body
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:05}")).collect()
}

async fn opt_out_all(server: &TestServer, key: &str, ids: &[String]) {
    for chunk in ids.chunks(100) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let (status, body) =
            post_users(server, bearer(key), "/api/orgs/acme/opt-outs", &refs).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Every page of `path` (which has a query already), following `next_cursor`.
async fn all_pages(server: &TestServer, key: &str, path: &str, field: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let page = get_json(server, key, &url).await;
        rows.extend(page[field].as_array().expect("rows").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
}

fn ids(rows: &[Value], field: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[field].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn the_opted_out_list_pages_every_row_exactly_once_while_others_are_added() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let people = numbered("person", 0..700);
    let users: Vec<Value> = people
        .iter()
        .map(|id| json!({"id": id, "name": format!("Person {id}")}))
        .collect();
    assert_eq!(import(&server, &key, users).await["created"], 700);
    let (before, later) = people.split_at(500);
    opt_out_all(&server, &key, before).await;

    // Admins keep opting people out while a script pages through the list.
    let adder = {
        let (server_url, key, later) = (server.url(""), key.clone(), later.to_vec());
        let client = server.client().clone();
        tokio::spawn(async move {
            for chunk in later.chunks(20) {
                let response = client
                    .post(format!("{server_url}/api/orgs/acme/opt-outs"))
                    .bearer_auth(&key)
                    .json(&json!({ "users": chunk }))
                    .send()
                    .await
                    .expect("POST opt-outs");
                assert_eq!(response.status(), StatusCode::OK);
            }
        })
    };
    let listed = all_pages(
        &server,
        &key,
        "/api/orgs/acme/opt-outs?limit=37",
        "opt_outs",
    )
    .await;
    adder.await.expect("adder");

    let seen = ids(&listed, "id");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    for id in before {
        assert!(
            unique.contains(id),
            "{id} was opted out before paging began but not listed"
        );
    }
    let first = get_json(&server, &key, "/api/orgs/acme/opt-outs?limit=5").await;
    assert_eq!(first["total"], 700, "the total counts every opted-out user");
    assert_eq!(
        first["opt_outs"][0]["opted_out_by"]
            .as_str()
            .map(|s| s.starts_with("key:")),
        Some(true)
    );

    // The directory pages the same way, in name order.
    let users = all_pages(&server, &key, "/api/orgs/acme/users?limit=91", "users").await;
    let names: Vec<&str> = users.iter().filter_map(|u| u["name"].as_str()).collect();
    assert!(names.len() >= 700);
    assert_eq!(
        ids(&users, "id").iter().collect::<HashSet<_>>().len(),
        users.len()
    );
}

#[tokio::test]
async fn search_narrows_the_opted_out_list_and_bad_paging_is_refused() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let users = vec![
        json!({"id": "vera", "name": "Vera Lind", "email": "vera@acme.example"}),
        json!({"id": "vlad", "name": "Vladimir Ek", "email": "ek@acme.example"}),
        json!({"id": "ola", "name": "Ola Svensson", "email": "ola@lindhome.example"}),
    ];
    import(&server, &key, users).await;
    opt_out_all(&server, &key, &["vera".into(), "vlad".into(), "ola".into()]).await;

    let found = get_json(&server, &key, "/api/orgs/acme/opt-outs?query=LIND&limit=1").await;
    assert_eq!(found["total"], 2, "name and email match, any case");
    let both = all_pages(
        &server,
        &key,
        "/api/orgs/acme/opt-outs?query=lind&limit=1",
        "opt_outs",
    )
    .await;
    let mut found = ids(&both, "id");
    found.sort();
    assert_eq!(found, ["ola", "vera"]);
    let users = get_json(&server, &key, "/api/orgs/acme/users?query=vl&limit=10").await;
    assert_eq!(
        ids(users["users"].as_array().expect("users"), "id"),
        ["vlad"]
    );

    for bad in [
        "/api/orgs/acme/opt-outs?limit=0",
        "/api/orgs/acme/opt-outs?limit=1001",
        "/api/orgs/acme/opt-outs?cursor=garbage",
        "/api/orgs/acme/audit?cursor=garbage",
        "/api/orgs/acme/users?cursor=garbage",
        "/api/orgs/acme/audit?user=../etc",
    ] {
        let response = server
            .client()
            .get(server.url(bad))
            .bearer_auth(&key)
            .send()
            .await
            .expect("GET");
        let (status, body) = status_json(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // A cursor of one list is not one of another.
    let page = get_json(&server, &key, "/api/orgs/acme/users?limit=1").await;
    let user_cursor = page["next_cursor"].as_str().expect("more users");
    let response = server
        .client()
        .get(server.url(&format!("/api/orgs/acme/opt-outs?cursor={user_cursor}")))
        .bearer_auth(&key)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// `GET path` as CSV; the body.
async fn csv(server: &TestServer, key: &str, path: &str) -> String {
    let response = server
        .client()
        .get(server.url(path))
        .bearer_auth(key)
        .header(ACCEPT, "text/csv")
        .send()
        .await
        .expect("GET CSV");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[CONTENT_TYPE].to_str().expect("ascii"),
        "text/csv; charset=utf-8"
    );
    response.text().await.expect("CSV text")
}

#[tokio::test]
async fn csv_exports_quote_cells_and_defuse_formulas() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let users = vec![
        json!({"id": "mallory", "name": "=HYPERLINK(\"http://evil.example\",\"x\")", "email": "+1@evil.example"}),
        json!({"id": "quoted", "name": "Anna \"Annie\" Berg, Jr.", "email": "-anna@acme.example"}),
        json!({"id": "at", "name": "@SUM(A1)", "email": ""}),
    ];
    import(&server, &key, users).await;
    opt_out_all(
        &server,
        &key,
        &["mallory".into(), "quoted".into(), "at".into()],
    )
    .await;

    let text = csv(&server, &key, "/api/orgs/acme/opt-outs?limit=1").await;
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,name,email,opted_out_at,opted_out_by,active");
    assert_eq!(
        lines.len(),
        4,
        "every opted-out user, whatever the limit:\n{text}"
    );
    assert!(
        text.contains(r#"mallory,"'=HYPERLINK(""http://evil.example"",""x"")",'+1@evil.example,"#),
        "a formula is quoted and defused:\n{text}"
    );
    assert!(
        text.contains(r#"quoted,"Anna ""Annie"" Berg, Jr.",'-anna@acme.example,"#),
        "quotes and commas are escaped:\n{text}"
    );
    assert!(text.contains("at,'@SUM(A1),,"), "{text}");
    assert!(
        !text.contains(",=") && !text.contains(",\"="),
        "no cell starts a formula"
    );

    let audit = csv(&server, &key, "/api/orgs/acme/audit?user=mallory").await;
    let mut rows = audit.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(
        rows.next(),
        Some("id,at,action,target,via,actor,actor_name,before,after")
    );
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 2, "created, then opted out:\n{audit}");
    assert!(rows[0].contains(",opt_out,mallory,api,key:"), "{audit}");
    assert!(
        rows[0].ends_with(r#","{""opted_out"":false}","{""opted_out"":true}""#),
        "{audit}"
    );

    // Without the header the same route answers JSON.
    let json = get_json(&server, &key, "/api/orgs/acme/opt-outs").await;
    assert_eq!(json["total"], 3);
}

#[tokio::test]
async fn the_audit_trail_says_who_changed_what_through_what_and_when() {
    let server = TestServer::start_demo().await;
    let demo = server.demo();
    let key = demo.service_key.as_str();

    // Through the API, with the org's service key.
    post_users(&server, bearer(key), "/api/orgs/acme/opt-outs", &["bob"]).await;
    // Through the page, as the signed-in admin, by its form.
    let admin = admin_session(&server, &demo.admin_signin_url).await;
    let response = no_redirects()
        .post(server.url("/orgs/acme/tools/product-usage/opt-out-settings/opt-in"))
        .header("cookie", &admin.cookie)
        .form(&[("csrf", admin.csrf.as_str()), ("user", "bob")])
        .send()
        .await
        .expect("POST form");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // At the command line, by a named operator.
    let file = server.data_dir().join("people.csv");
    std::fs::write(&file, "id,name,email\nbob,Bob Bergström,bob@acme.example\n").expect("csv");
    let data = server.data_dir();
    let out = cli(
        &data,
        &[
            "users",
            "import",
            "--org",
            "acme",
            "--operator",
            "ops-oncall",
            file.to_str().expect("utf-8 path"),
        ],
    );
    assert!(out.contains("1 updated"), "{out}");

    let page = get_json(&server, key, "/api/orgs/acme/audit?user=bob&limit=3").await;
    let entries = page["entries"].as_array().expect("entries");
    let summary: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["via"].as_str().unwrap_or(""),
                e["actor"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(summary[0], ("user_update", "cli", "operator:ops-oncall"));
    assert_eq!(summary[1], ("opt_in", "page", "user:alice"));
    assert_eq!(summary[2].0, "opt_out");
    assert_eq!(summary[2].1, "api");
    assert!(summary[2].2.starts_with("key:"));
    assert_eq!(entries[0]["actor_name"], "ops-oncall");
    assert_eq!(entries[0]["before"]["name"], "Bob Berg");
    assert_eq!(entries[0]["after"]["name"], "Bob Bergström");
    assert_eq!(entries[0]["after"]["email"], "bob@acme.example");
    assert!(
        entries[1]["actor_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "the admin's name"
    );
    assert_eq!(entries[1]["before"], json!({"opted_out": true}));
    assert_eq!(entries[1]["after"], json!({"opted_out": false}));
    assert!(entries.iter().all(|e| e["target"] == "bob"));
    assert!(entries[0]["at"]
        .as_str()
        .is_some_and(|t| t.starts_with("20")));

    // The next page continues below, without repeats.
    let cursor = page["next_cursor"]
        .as_str()
        .expect("bob was created before all that");
    let older = get_json(
        &server,
        key,
        &format!("/api/orgs/acme/audit?user=bob&limit=3&cursor={cursor}"),
    )
    .await;
    let older_ids: Vec<u64> = older["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["id"].as_u64())
        .collect();
    let newest_ids: Vec<u64> = entries.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert!(older_ids
        .iter()
        .all(|id| id < newest_ids.last().expect("three")));
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_page_link_with_a_cursor_that_is_not_ours_starts_the_list_over() {
    let server = TestServer::start_demo().await;
    let demo = server.demo();
    let admin = admin_session(&server, &demo.admin_signin_url).await;
    let page = "/orgs/acme/tools/product-usage/opt-out-settings";
    let response = no_redirects()
        .get(server.url(&format!("{page}?lang=sv&cursor=edited&p=7&list_q=x")))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .expect("GET page");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        format!("{page}?lang=sv&list_q=x").as_str()
    );
}
