//! Stores for the store suite: a temporary SQLite file, or a private schema
//! of the PostgreSQL database named by `USAGE_TEST_DATABASE_URL`.

use std::any::Any;
use std::future::Future;
use std::io::Write as _;
use std::str::FromStr as _;
use std::sync::{Arc, Once};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Connection as _;
use usage_validator::store::postgres::PostgresStore;
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::Store;

/// The variable naming the PostgreSQL database the tests may use.
const DATABASE_URL_VAR: &str = "USAGE_TEST_DATABASE_URL";

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

/// The database URL, `None` (after saying so) when the tests should skip.
fn database_url() -> Option<String> {
    if let Ok(url) = std::env::var(DATABASE_URL_VAR) {
        return Some(url);
    }
    let in_ci = std::env::var("CI")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    assert!(
        !in_ci,
        "{DATABASE_URL_VAR} must be set in CI: the PostgreSQL store tests cannot be skipped there"
    );
    // Recorded for tests/run, which counts skips apart from passes.
    if let Ok(path) = std::env::var("USAGE_SKIP_LOG") {
        let test = std::thread::current()
            .name()
            .unwrap_or("a store test")
            .to_owned();
        let line = format!("{test}\tPostgreSQL store tests: {DATABASE_URL_VAR} not set\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
    }
    static WARN: Once = Once::new();
    WARN.call_once(|| {
        // Straight to the process's stderr, past the test harness's capture.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: PostgreSQL tests, {DATABASE_URL_VAR} not set ***\n"
        );
    });
    None
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
