//! The error codes: `/openapi.json` lists exactly the codes the server
//! knows, each answer's status is the one its code documents, and the
//! connection cap's hand-written answer agrees with the list.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::router;
use serde_json::Value;
use tower::ServiceExt as _;
use usage_server::ErrorCode;

async fn answer(router: axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_document_lists_every_code_and_no_other() {
    let (status, doc) = answer(
        router().await,
        Request::get("/openapi.json")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is a documented enum")
        .iter()
        .map(|v| v.as_str().expect("a code is a string"))
        .collect();
    let known: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, known);
    // The common 503 answer names the codes that come with it.
    let description = doc["paths"]["/api/orgs/{org}/opt-outs"]["get"]["responses"]["503"]
        ["description"]
        .as_str()
        .expect("a 503 answer is documented");
    for code in ErrorCode::with_status(StatusCode::SERVICE_UNAVAILABLE) {
        assert!(description.contains(code.as_str()), "{description}");
    }
}

#[tokio::test]
async fn answers_carry_the_status_of_their_code() {
    let cases = [
        Request::post("/v1/batch")
            .header("content-type", "application/json")
            .header("authorization", "Bearer v1.nope")
            .body(Body::from("{}"))
            .expect("request"),
        Request::post("/v1/batch")
            .header("content-type", "application/xml")
            .body(Body::from("{}"))
            .expect("request"),
        Request::get("/api/orgs/acme/opt-outs")
            .body(Body::empty())
            .expect("request"),
        Request::get("/api/orgs/acme/opt-outs")
            .header("authorization", "Bearer usk_not_a_key")
            .body(Body::empty())
            .expect("request"),
    ];
    let mut seen = Vec::new();
    for request in cases {
        let (status, body) = answer(router().await, request).await;
        let code = body["error"]["code"].as_str().expect("an error code");
        let known = ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == code)
            .unwrap_or_else(|| panic!("`{code}` is not in the list"));
        assert_eq!(status, known.status(), "{code}");
        seen.push(code.to_owned());
    }
    assert_eq!(
        seen,
        [
            "invalid_token",
            "unsupported_media_type",
            "missing_credentials",
            "invalid_credentials"
        ]
    );
}
