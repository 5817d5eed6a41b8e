//! Following a PostgreSQL registry's change notifications.
//!
//! The store sends `NOTIFY usage_changes, '<rev>'` with every commit of opt-out
//! changes. An instance LISTENs, and on every notification catches its
//! snapshot up from the change log. After every (re)connection it first
//! subscribes and only then resyncs from the log, so a change committed while
//! the connection was down is never missed. The periodic poll of the server
//! remains as a backstop.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;

use super::Registry;
use crate::store::postgres::CHANGES_CHANNEL;

/// Follows notifications until the task is dropped, reconnecting with backoff.
pub async fn follow(registry: Arc<Registry>, pool: PgPool) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANGES_CHANNEL).await {
                Ok(()) => {
                    backoff = Duration::from_millis(50);
                    if let Err(err) = registry.catch_up().await {
                        tracing::warn!(error = %err, "resync after subscribing failed");
                    }
                    tracing::info!(rev = registry.revision(), "following registry changes");
                    listen(&registry, &mut listener).await;
                }
                Err(err) => tracing::warn!(error = %err, "LISTEN failed"),
            },
            Err(err) => tracing::warn!(error = %err, "cannot connect the change listener"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Applies changes as notifications arrive; returns when the connection is lost.
async fn listen(registry: &Registry, listener: &mut PgListener) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let rev: u64 = notification.payload().parse().unwrap_or(u64::MAX);
                if rev > registry.revision() {
                    if let Err(err) = registry.catch_up().await {
                        tracing::warn!(error = %err, "catch-up after notification failed");
                    }
                }
            }
            Ok(None) => {
                tracing::warn!("change listener connection lost; reconnecting");
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "change listener failed; reconnecting");
                return;
            }
        }
    }
}
