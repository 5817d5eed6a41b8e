//! The opt-out settings page (Tools > Product Usage > Opt-out settings).

use axum::Router;

use super::AppState;

/// The page's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
