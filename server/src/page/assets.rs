//! The page's stylesheet and script: embedded in the binary and served under
//! names that carry a hash of their content, so browsers may keep them for a
//! year and still never run a stale copy.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

/// The route the assets are served under.
pub const ROUTE: &str = "/assets/opt-out-settings/{file}";

/// One embedded file.
#[derive(Debug)]
struct Asset {
    url: String,
    body: &'static str,
    content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, body: &'static str, content_type: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            url: format!("/assets/opt-out-settings/{stem}.{hash}.{extension}"),
            body,
            content_type,
        }
    }
}

static CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "page",
        "css",
        include_str!("../../static/opt-out-settings.css"),
        "text/css; charset=utf-8",
    )
});

static JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "page",
        "js",
        include_str!("../../static/opt-out-settings.js"),
        "text/javascript; charset=utf-8",
    )
});

/// The stylesheet's URL.
pub fn css_url() -> &'static str {
    &CSS.url
}

/// The script's URL.
pub fn js_url() -> &'static str {
    &JS.url
}

/// Serves an asset by its hashed name; 404 for anything else, old hashes included.
pub async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/assets/opt-out-settings/{file}");
    match [&*CSS, &*JS].into_iter().find(|asset| asset.url == wanted) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_change_with_their_content() {
        assert!(css_url().ends_with(".css") && js_url().ends_with(".js"));
        let a = Asset::new("page", "js", "a", "text/javascript");
        let b = Asset::new("page", "js", "b", "text/javascript");
        assert_ne!(a.url, b.url);
    }
}
