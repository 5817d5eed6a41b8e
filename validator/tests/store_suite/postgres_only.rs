//! What only the PostgreSQL store does: notify listeners of committed changes.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use usage_validator::store::postgres::{PostgresStore, CHANGES_CHANNEL};
use usage_validator::store::Store;

use crate::fixtures::{admin, ids, seed};

/// A revision no other test reaches, since the channel is shared by every
/// schema of the test database.
const HEAD: i64 = 7_340_000;

/// The next notification on the channel with a revision of this test.
async fn next_own_revision(listener: &mut PgListener) -> u64 {
    loop {
        let notification = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("a notification within 10 s")
            .expect("listener connection");
        let rev: u64 = notification
            .payload()
            .parse()
            .expect("payload is a revision");
        if rev > HEAD as u64 {
            return rev;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_changes_notify_the_newest_revision() {
    crate::support::on_postgres(|store: Arc<PostgresStore>| async move {
        seed(store.as_ref(), "acme", &["bob", "carol"]).await;
        sqlx::query("UPDATE registry_head SET rev = $1")
            .bind(HEAD)
            .execute(store.pool())
            .await
            .expect("move the head");
        let mut listener = PgListener::connect_with(store.pool())
            .await
            .expect("listener");
        listener.listen(CHANGES_CHANNEL).await.expect("listen");

        let changes = store
            .set_opted_out("acme", &ids(&["bob", "carol"]), true, &admin())
            .await
            .expect("opt out");
        assert_eq!(changes.last().map(|c| c.rev), Some(HEAD as u64 + 2));
        assert_eq!(next_own_revision(&mut listener).await, HEAD as u64 + 2);

        let failed = store
            .set_opted_out("acme", &ids(&["bob", "ghost"]), false, &admin())
            .await;
        assert!(failed.is_err());
        let noop = store
            .set_opted_out("acme", &ids(&["bob"]), true, &admin())
            .await
            .expect("no-op");
        assert!(noop.is_empty());
        store
            .set_opted_out("acme", &ids(&["bob"]), false, &admin())
            .await
            .expect("opt in");
        assert_eq!(
            next_own_revision(&mut listener).await,
            HEAD as u64 + 3,
            "calls that commit no change notify nothing"
        );
    })
    .await;
}
