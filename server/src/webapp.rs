//! `/demo/web-app/`: the web example (`examples/web-app`) and the npm package
//! it loads (`pkg/`, built by `bindings/build.sh`), as static files, so the demo
//! shows the browser SDK working from the main command.
//!
//! The folder is `ServerConfig::web_app`; without one, the example of the
//! source tree this binary was built from, when that folder exists.

use std::path::{Component, Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// Where the page is served.
const MOUNT: &str = "/demo/web-app/";

/// The module the page imports; missing until `bindings/build.sh` has run.
const PACKAGE_ENTRY: &str = "pkg/usage_sdk.js";

/// The page runs WebAssembly and talks to collectors, nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/demo/web-app",
            get(|| async { Redirect::permanent(MOUNT) }),
        )
        .route(MOUNT, get(index))
        .route("/demo/web-app/{*path}", get(file))
}

/// `examples/web-app` of the source tree, when this binary runs where it was built.
pub fn default_web_app() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/web-app");
    dir.join("index.html").is_file().then_some(dir)
}

fn folder(state: &AppState) -> Option<PathBuf> {
    state.config.web_app.clone()
}

async fn index(State(state): State<AppState>) -> Response {
    let Some(dir) = folder(&state) else {
        return (
            StatusCode::NOT_FOUND,
            "no web example here: start the server with --web-app DIR",
        )
            .into_response();
    };
    if !dir.join(PACKAGE_ENTRY).is_file() {
        let text = "The web example needs the npm package usage-sdk, which is not built yet.\n\
            From the repository root run:\n\n    bindings/build.sh\n\nthen reload this page.\n";
        return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
    }
    serve(dir.join("index.html")).await
}

async fn file(State(state): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    let Some(dir) = folder(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Only plain names below the folder: no `..`, no hidden files, no roots.
    let relative = Path::new(&path);
    let plain = relative.components().all(|c| match c {
        Component::Normal(name) => !name.to_string_lossy().starts_with('.'),
        _ => false,
    });
    if !plain || path.contains('\\') {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(dir.join(relative)).await
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        // `WebAssembly.instantiateStreaming` insists on this type.
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("ts") => "text/plain; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn serve(path: PathBuf) -> Response {
    let kind = content_type(&path);
    let read = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
    let Ok(Ok(bytes)) = read else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}
