//! `/openapi.json` describes the list, directory and SCIM routes, so
//! clients generated from it can page, export, import and sync.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

#[tokio::test]
async fn the_document_covers_paging_exports_directory_changes_and_scim() {
    let response = common::router()
        .await
        .oneshot(
            Request::get("/openapi.json")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .expect("body");
    let doc: Value = serde_json::from_slice(&bytes).expect("JSON");
    let paths = &doc["paths"];
    let has = |path: &str, method: &str| !paths[path][method].is_null();
    for (path, method) in [
        ("/api/orgs/{org}/users", "get"),
        ("/api/orgs/{org}/users", "post"),
        ("/api/orgs/{org}/users/{user}", "put"),
        ("/api/orgs/{org}/users/{user}", "delete"),
        ("/api/orgs/{org}/opt-outs", "get"),
        ("/api/orgs/{org}/audit", "get"),
        ("/scim/v2/Users", "get"),
        ("/scim/v2/Users", "post"),
        ("/scim/v2/Users/{id}", "get"),
        ("/scim/v2/Users/{id}", "put"),
        ("/scim/v2/Users/{id}", "patch"),
        ("/scim/v2/Users/{id}", "delete"),
    ] {
        assert!(has(path, method), "{method} {path} is documented");
    }
    let params: Vec<&str> = paths["/api/orgs/{org}/opt-outs"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["query", "limit", "cursor"] {
        assert!(params.contains(&name), "opt-outs take `{name}`: {params:?}");
    }
    let audit: Vec<&str> = paths["/api/orgs/{org}/audit"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        audit.contains(&"user") && audit.contains(&"cursor"),
        "{audit:?}"
    );
    let csv = &paths["/api/orgs/{org}/opt-outs"]["get"]["responses"]["200"]["content"]["text/csv"];
    assert!(!csv.is_null(), "the CSV export is documented");
}
