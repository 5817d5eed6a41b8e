//! A battery of malformed, oversized and hostile requests: each gets its
//! documented status and code, nothing of a refused request is stored, and
//! the server stays healthy.

mod api;

use api::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::TestServer;

/// One hostile request and what the server must answer.
struct Case {
    what: &'static str,
    method: reqwest::Method,
    path: String,
    content_type: Option<&'static str>,
    bearer: Option<String>,
    body: Vec<u8>,
    status: StatusCode,
    code: Option<&'static str>,
}

fn case(
    what: &'static str,
    path: &str,
    bearer: Option<&str>,
    body: impl Into<Vec<u8>>,
    status: StatusCode,
    code: Option<&'static str>,
) -> Case {
    Case {
        what,
        method: reqwest::Method::POST,
        path: path.to_owned(),
        content_type: Some("application/json"),
        bearer: bearer.map(str::to_owned),
        body: body.into(),
        status,
        code,
    }
}

fn with_events(events: Value) -> Vec<u8> {
    batch_body(vec![])
        .as_object()
        .cloned()
        .map(|mut o| {
            o.insert("events".into(), events);
            Value::Object(o).to_string().into_bytes()
        })
        .expect("object")
}

#[tokio::test]
async fn hostile_input_gets_clear_errors_and_changes_nothing() {
    let server = TestServer::start_demo().await;
    let key = server.demo().service_key;
    let token = token_str(&server, &key, "acme", "bob").await;
    let t = Some(token.as_str());
    let k = Some(key.as_str());
    let ok_event = event("fine");
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    const UNAUTH: StatusCode = StatusCode::UNAUTHORIZED;

    // A token signed for another org's user by a key we never issued.
    let foreign = {
        let parts: Vec<&str> = token.split('.').collect();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value =
            serde_json::from_slice(&engine.decode(parts[2]).expect("b64")).expect("json");
        claims["org"] = json!("other");
        format!(
            "v1.{}.{}.{}",
            parts[1],
            engine.encode(claims.to_string()),
            parts[3]
        )
    };
    let expired = {
        let parts: Vec<&str> = token.split('.').collect();
        format!("{}.{}.{}.{}", parts[0], "unknownkid", parts[2], parts[3])
    };
    let mut tampered = token.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });

    let mut cases = vec![
        case(
            "truncated JSON",
            "/v1/batch",
            t,
            &b"{\"sent_at\":\"2026-11-29T08:00:00Z\",\"sdk\":{"[..],
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "not JSON at all",
            "/v1/batch",
            t,
            "hello",
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "a JSON array",
            "/v1/batch",
            t,
            "[]",
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "empty body",
            "/v1/batch",
            t,
            "",
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "invalid UTF-8",
            "/v1/batch",
            t,
            vec![b'{', 0xff, 0xfe, b'}'],
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "missing sdk",
            "/v1/batch",
            t,
            r#"{"sent_at":"2026-11-29T08:00:00Z","events":[]}"#,
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "bad sent_at",
            "/v1/batch",
            t,
            r#"{"sent_at":"tuesday","sdk":{"name":"a","version":"1"},"events":[]}"#,
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "events not an array",
            "/v1/batch",
            t,
            with_events(json!({"a": 1})),
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "duplicate keys",
            "/v1/batch",
            t,
            r#"{"sent_at":"2026-11-29T08:00:00Z","sent_at":"2026-11-29T08:00:00Z","sdk":{"name":"a","version":"1"},"events":[]}"#,
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "control characters in sdk name",
            "/v1/batch",
            t,
            r#"{"sent_at":"2026-11-29T08:00:00Z","sdk":{"name":"a\u0000b","version":"1"},"events":[]}"#,
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "501 events",
            "/v1/batch",
            t,
            with_events(Value::Array(vec![ok_event.clone(); 501])),
            BAD,
            Some("too_many_events"),
        ),
        case(
            "1 MiB + 1 byte",
            "/v1/batch",
            t,
            vec![b' '; 1024 * 1024 + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("payload_too_large"),
        ),
        case(
            "deeply nested JSON",
            "/v1/batch",
            t,
            format!("{}{}", "[".repeat(200_000), "]".repeat(200_000)),
            BAD,
            Some("malformed_batch"),
        ),
        case(
            "no token",
            "/v1/batch",
            None,
            batch_body(vec![event("x")]).to_string(),
            UNAUTH,
            Some("invalid_token"),
        ),
        case(
            "tampered token",
            "/v1/batch",
            Some(&tampered),
            batch_body(vec![event("x")]).to_string(),
            UNAUTH,
            Some("invalid_token"),
        ),
        case(
            "foreign-org claims under our tag",
            "/v1/batch",
            Some(&foreign),
            batch_body(vec![event("x")]).to_string(),
            UNAUTH,
            Some("invalid_token"),
        ),
        case(
            "unknown key id",
            "/v1/batch",
            Some(&expired),
            batch_body(vec![event("x")]).to_string(),
            UNAUTH,
            Some("unknown_key"),
        ),
        case(
            "a service key as a status token",
            "/v1/batch",
            k,
            batch_body(vec![event("x")]).to_string(),
            UNAUTH,
            Some("invalid_token"),
        ),
        case(
            "a 5000-byte token",
            "/v1/batch",
            Some(&"v".repeat(5000)),
            batch_body(vec![event("x")]).to_string(),
            UNAUTH,
            Some("invalid_token"),
        ),
        case(
            "tokens: unknown user id shape",
            "/v1/tokens",
            k,
            r#"{"org":"acme","user":"../../etc/passwd"}"#,
            BAD,
            Some("invalid_id"),
        ),
        case(
            "tokens: missing user",
            "/v1/tokens",
            k,
            r#"{"org":"acme"}"#,
            BAD,
            Some("malformed_json"),
        ),
        case(
            "tokens: name with control characters",
            "/v1/tokens",
            k,
            r#"{"org":"acme","user":"newbie","name":"a\u0007b"}"#,
            BAD,
            Some("invalid_input"),
        ),
        case(
            "tokens: no service key",
            "/v1/tokens",
            None,
            r#"{"org":"acme","user":"bob"}"#,
            UNAUTH,
            Some("missing_credentials"),
        ),
        case(
            "opt-out: unknown user",
            "/api/orgs/acme/opt-outs",
            k,
            r#"{"users":["bob","nobody"]}"#,
            StatusCode::NOT_FOUND,
            Some("unknown_user"),
        ),
        case(
            "opt-out: empty list",
            "/api/orgs/acme/opt-outs",
            k,
            r#"{"users":[]}"#,
            BAD,
            Some("invalid_input"),
        ),
        case(
            "opt-out: ids not strings",
            "/api/orgs/acme/opt-outs",
            k,
            r#"{"users":[1,2]}"#,
            BAD,
            Some("malformed_json"),
        ),
        case(
            "opt-out: 1001 users",
            "/api/orgs/acme/opt-outs",
            k,
            json!({"users": vec!["bob"; 1001]}).to_string(),
            BAD,
            Some("invalid_input"),
        ),
        case(
            "opt-in: truncated JSON",
            "/api/orgs/acme/opt-ins",
            k,
            r#"{"users":["bo"#,
            BAD,
            Some("malformed_json"),
        ),
        case(
            "server events: another org",
            "/v1/server-events",
            k,
            json!({"org":"other","user":"bob","events":[]}).to_string(),
            StatusCode::FORBIDDEN,
            Some("forbidden"),
        ),
        case(
            "server events: bad user id",
            "/v1/server-events",
            k,
            json!({"org":"acme","user":"bad id","events":[]}).to_string(),
            BAD,
            Some("invalid_id"),
        ),
        case(
            "server events: 501 events",
            "/v1/server-events",
            k,
            json!({"org":"acme","user":"bob","events": vec![ok_event.clone(); 501]}).to_string(),
            BAD,
            Some("too_many_events"),
        ),
    ];
    let mut wrong_type = case(
        "batch as XML",
        "/v1/batch",
        t,
        "<batch/>",
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Some("unsupported_media_type"),
    );
    wrong_type.content_type = Some("application/xml");
    cases.push(wrong_type);
    let mut no_type = case(
        "opt-out without content type",
        "/api/orgs/acme/opt-outs",
        k,
        r#"{"users":["bob"]}"#,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Some("unsupported_media_type"),
    );
    no_type.content_type = None;
    cases.push(no_type);
    let mut put = case(
        "directory: bad role",
        "/api/orgs/acme/users/zoe",
        k,
        r#"{"name":"Zoe","email":"","role":"root"}"#,
        BAD,
        Some("malformed_json"),
    );
    put.method = reqwest::Method::PUT;
    cases.push(put);
    let mut put = case(
        "directory: 300-byte name",
        "/api/orgs/acme/users/zoe",
        k,
        json!({"name": "x".repeat(300), "email": "", "role": "user"}).to_string(),
        BAD,
        Some("invalid_input"),
    );
    put.method = reqwest::Method::PUT;
    cases.push(put);
    let mut list = case(
        "users: limit 0",
        "/api/orgs/acme/users?limit=0",
        k,
        "",
        BAD,
        Some("invalid_query"),
    );
    list.method = reqwest::Method::GET;
    cases.push(list);
    let mut list = case(
        "users: forged cursor",
        "/api/orgs/acme/users?cursor=%25%25",
        k,
        "",
        BAD,
        Some("invalid_input"),
    );
    list.method = reqwest::Method::GET;
    cases.push(list);
    let mut list = case(
        "audit: limit not a number",
        "/api/orgs/acme/audit?limit=lots",
        k,
        "",
        BAD,
        Some("invalid_query"),
    );
    list.method = reqwest::Method::GET;
    cases.push(list);
    assert!(cases.len() >= 30, "the battery has {} cases", cases.len());

    for case in &cases {
        let mut request = server
            .client()
            .request(case.method.clone(), server.url(&case.path))
            .body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(bearer) = &case.bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        let (status, body) = status_json(response).await;
        assert_eq!(status, case.status, "{}: {body}", case.what);
        if let Some(expected) = case.code {
            assert_eq!(code(&body), expected, "{}: {body}", case.what);
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{}: a message",
                case.what
            );
        }
    }

    // Invalid events inside a valid batch are listed; the others count.
    let events = vec![
        event("good.one"),
        json!({"id": "not-a-uuid", "name": "x", "ts": "2026-11-29T08:00:00Z"}),
        json!({"id": uuid::Uuid::new_v4().to_string(), "name": "has space", "ts": "2026-11-29T08:00:00Z"}),
        json!({"id": uuid::Uuid::new_v4().to_string(), "name": "x", "ts": "not a time"}),
        json!({"id": uuid::Uuid::new_v4().to_string(), "name": "x", "ts": "2026-11-29T08:00:00Z", "props": {"big": "y".repeat(33 * 1024)}}),
        json!({"id": uuid::Uuid::new_v4().to_string(), "name": "x", "ts": "2026-11-29T08:00:00Z", "props": "a string"}),
        json!("just a string"),
        json!({"id": uuid::Uuid::new_v4().to_string(), "name": "<script>alert(1)</script>", "ts": "2026-11-29T08:00:00Z"}),
    ];
    let (status, body) = send_batch(&server, &token, events).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accepted"], 1);
    let codes: Vec<(u64, &str)> = body["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().expect("index"),
                r["code"].as_str().expect("code"),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (1, "invalid_id"),
            (2, "invalid_name"),
            (3, "invalid_timestamp"),
            (4, "props_too_large"),
            (5, "invalid_props"),
            (6, "invalid_event"),
            (7, "invalid_name")
        ]
    );

    // Only that one event was stored; nothing from the refused requests.
    assert_eq!(stored_ids(&server.data_dir()).len(), 1);
    let opt_outs: Value = get_json(&server, &key, "/api/orgs/acme/opt-outs").await;
    assert_eq!(
        opt_outs["opt_outs"],
        json!([]),
        "the unknown-user opt-out changed nothing"
    );
    let users: Value = get_json(&server, &key, "/api/orgs/acme/users?query=zoe").await;
    assert_eq!(users["users"], json!([]));
    assert_eq!(
        server
            .client()
            .get(server.url("/readyz"))
            .send()
            .await
            .expect("get")
            .status(),
        StatusCode::OK,
        "still healthy"
    );
    let (status, body) = send_batch(&server, &token, vec![event("after.battery")]).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::OK, json!(1))
    );
}
