//! PostgreSQL for tests: the server `tests/run` starts, and a private database per test.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

use crate::skip::skip_suite;
use crate::{Error, Result};

/// Environment variable with the URL of a PostgreSQL database tests may use;
/// its role must be allowed to create databases.
pub const DATABASE_URL_VAR: &str = "USAGE_TEST_DATABASE_URL";

/// The PostgreSQL URL for tests, or `None` after a loud skip notice.
///
/// # Panics
///
/// Under CI when `USAGE_TEST_DATABASE_URL` is unset: CI never skips.
pub fn database_url() -> Option<String> {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            skip_suite(
                "PostgreSQL tests",
                &format!("{DATABASE_URL_VAR} is not set"),
            );
            None
        }
    }
}

/// A database of its own for one test, dropped (with its connections) when this value is.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database on the server of [`database_url`].
    ///
    /// Returns `None` after a loud skip notice when no server is configured.
    ///
    /// # Panics
    ///
    /// When the server is configured but the database cannot be created.
    pub async fn create() -> Option<TestDatabase> {
        let admin_url = database_url()?;
        let database = TestDatabase::create_on(&admin_url)
            .await
            .unwrap_or_else(|error| {
                panic!("cannot create a test database via {DATABASE_URL_VAR}: {error}")
            });
        Some(database)
    }

    /// Creates a fresh, empty database through the connection URL `admin_url`.
    pub async fn create_on(admin_url: &str) -> Result<TestDatabase> {
        let name = unique_name();
        let url = with_database(admin_url, &name)?;
        let mut admin = PgConnection::connect(admin_url).await?;
        sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(TestDatabase {
            name,
            url,
            admin_url: admin_url.to_owned(),
        })
    }

    /// The connection URL of this database, for `--database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        // Drop cannot await, and may run inside a runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| {
                    Error::io("starting a runtime to drop a test database", source)
                })?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::query(&statement).execute(&mut admin).await?;
                admin.close().await?;
                Ok::<(), Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "warning: test database {} was not dropped: {dropped:?}",
                self.name
            );
        }
    }
}

fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    format!(
        "usage_e2e_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> Result<String> {
    let mut parsed = reqwest::Url::parse(url)
        .map_err(|error| Error::unexpected(DATABASE_URL_VAR, format!("not a URL: {error}")))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_in_a_url_is_replaced() {
        let url = with_database(
            "postgres://u:p@127.0.0.1:5432/usage_test?sslmode=disable",
            "fresh",
        )
        .expect("valid URL");
        assert_eq!(url, "postgres://u:p@127.0.0.1:5432/fresh?sslmode=disable");
        let url = with_database("postgres://u@127.0.0.1", "fresh").expect("valid URL");
        assert_eq!(url, "postgres://u@127.0.0.1/fresh");
    }

    #[test]
    fn names_are_unique_and_valid_identifiers() {
        let first = unique_name();
        let second = unique_name();
        assert_ne!(first, second);
        assert!(first.len() < 63, "PostgreSQL truncates longer names");
        assert!(first
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    }

    #[tokio::test]
    async fn a_test_database_is_usable_and_gone_after_drop() {
        let Some(admin_url) = database_url() else {
            return;
        };
        let database = TestDatabase::create_on(&admin_url)
            .await
            .expect("create database");
        let mut connection = PgConnection::connect(database.url())
            .await
            .expect("connect");
        let current: (String,) = sqlx::query_as("SELECT current_database()")
            .fetch_one(&mut connection)
            .await
            .expect("query");
        assert_eq!(current.0, database.name());
        connection.close().await.expect("close");

        let name = database.name().to_owned();
        drop(database);
        let mut admin = PgConnection::connect(&admin_url).await.expect("connect");
        let left: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_optional(&mut admin)
            .await
            .expect("query");
        assert!(left.is_none(), "database {name} still exists");
    }
}
