//! Stores for the store suite: a temporary SQLite file, or a private schema
//! of the PostgreSQL database named by `USAGE_TEST_DATABASE_URL`.

use std::any::Any;
use std::future::Future;
use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Connection as _;
use usage_validator::store::postgres::PostgresStore;
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::Store;

mod skip;

use skip::database_url;

/// Runs `case` against a fresh SQLite store in a temporary folder.
pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("registry.db"))
            .await
            .expect("open SQLite store"),
    );
    let panic = catching(case(store.clone())).await;
    store.close().await;
    resume(panic);
}

/// Runs `case` against a fresh PostgreSQL store, or skips it when no database
/// is configured outside CI.
pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<PostgresStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = Arc::new(schema.connect().await);
    let panic = catching(case(store.clone())).await;
    store.close().await;
    schema.drop().await;
    resume(panic);
}

/// Runs `case` against two PostgreSQL stores with separate pools on the same
/// schema, as two server instances sharing one registry.
pub async fn on_two_postgres_instances<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>, Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    // Both migrate the fresh schema at once, as instances starting together do.
    let (first, second) = tokio::join!(schema.connect(), schema.connect());
    let (first, second) = (Arc::new(first), Arc::new(second));
    let panic = catching(case(first.clone(), second.clone())).await;
    first.close().await;
    second.close().await;
    schema.drop().await;
    resume(panic);
}

/// Runs a case to its end, returning its panic instead of unwinding, so the
/// store is cleaned up whatever happens.
async fn catching<Fut>(case: Fut) -> Option<Box<dyn Any + Send>>
where
    Fut: Future<Output = ()> + Send + 'static,
{
    match tokio::spawn(case).await {
        Ok(()) => None,
        Err(err) => Some(
            err.try_into_panic()
                .unwrap_or_else(|err| Box::new(err.to_string())),
        ),
    }
}

/// Fails the test with the case's own panic, if it had one.
fn resume(panic: Option<Box<dyn Any + Send>>) {
    if let Some(panic) = panic {
        std::panic::resume_unwind(panic);
    }
}

/// A schema of its own for one test, so tests run in parallel on one database.
struct TestSchema {
    url: String,
    name: String,
}

impl TestSchema {
    async fn create() -> Option<Self> {
        let url = database_url()?;
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&url)
            .await
            .expect("connect to USAGE_TEST_DATABASE_URL");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .expect("create test schema");
        admin.close().await.expect("close admin connection");
        Some(Self { url, name })
    }

    /// A store whose connections use only this schema.
    async fn connect(&self) -> PostgresStore {
        let options = PgConnectOptions::from_str(&self.url)
            .expect("USAGE_TEST_DATABASE_URL is a PostgreSQL URL")
            .options([("search_path", &self.name)]);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("connect test pool");
        PostgresStore::from_pool(pool)
            .await
            .expect("migrate test schema")
    }

    /// Drops the schema and everything in it.
    async fn drop(self) {
        let mut admin = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("connect to USAGE_TEST_DATABASE_URL");
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&mut admin)
            .await
            .expect("drop test schema");
        admin.close().await.expect("close admin connection");
    }
}
