//! The embedded default store: one SQLite file in WAL mode.
//!
//! Writes go through a single connection, so writers inside this process
//! queue instead of failing with `SQLITE_BUSY`; reads use a small pool. One
//! file is for one server process; many instances share PostgreSQL instead.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row as _, SqlitePool};
use time::OffsetDateTime;

use super::{to_ms, BoxFuture, OptOutState, Progress, Store, StoredSigningKey};
use crate::model::{
    AuditPage, AuditQuery, Author, Change, OptOutPage, OptOutQuery, ServiceKeyInfo, UpsertSummary,
    User, UserPage, UserQuery, UserStatus,
};
use crate::token::SigningKey;
use crate::Result;

mod audit;
mod change_log;
mod credentials;
mod directory;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The registry in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies
    /// pending schema migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Listings of a large org (50,000 users) walk more pages than
            // SQLite's default 2 MB cache holds; reading through a memory map
            // and a larger cache saves a system call per page.
            .pragma("mmap_size", "268435456")
            .pragma("cache_size", "-32768");
        Self::with_options(options).await
    }

    /// Opens a private in-memory database, for tests and examples.
    pub async fn in_memory() -> Result<Self> {
        // A named shared-cache memory database, so the reader and writer pools
        // see the same data.
        let name = format!(
            "file:usage-{}?mode=memory&cache=shared",
            uuid::Uuid::now_v7().simple()
        );
        let options = SqliteConnectOptions::from_str(&name)?.foreign_keys(true);
        Self::with_options(options).await
    }

    async fn with_options(options: SqliteConnectOptions) -> Result<Self> {
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.read_only(false))
            .await?;
        Ok(Self { reader, writer })
    }

    /// Closes both pools, waiting for queries in flight.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

fn row_to_user(row: &sqlx::sqlite::SqliteRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: row.try_get::<String, _>("role")?.parse()?,
    })
}

impl Store for SqliteStore {
    fn ensure_org<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO orgs (id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
                .bind(org)
                .bind(to_ms(OffsetDateTime::now_utc()))
                .execute(&self.writer)
                .await?;
            Ok(())
        })
    }
    fn org_exists<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT 1 FROM orgs WHERE id = ?")
                .bind(org)
                .fetch_optional(&self.reader)
                .await?;
            Ok(row.is_some())
        })
    }
    fn upsert_users_reporting<'a>(
        &'a self,
        org: &'a str,
        users: &'a [User],
        author: &'a Author,
        progress: &'a Progress<'a>,
    ) -> BoxFuture<'a, Result<UpsertSummary>> {
        Box::pin(directory::upsert_users(self, org, users, author, progress))
    }
    fn user<'a>(&'a self, org: &'a str, id: &'a str) -> BoxFuture<'a, Result<Option<User>>> {
        Box::pin(async move {
            Ok(directory::user_with_status(self, org, id)
                .await?
                .and_then(|(user, status)| (status == UserStatus::Active).then_some(user)))
        })
    }
    fn user_with_status<'a>(
        &'a self,
        org: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<(User, UserStatus)>>> {
        Box::pin(directory::user_with_status(self, org, id))
    }
    fn set_user_status<'a>(
        &'a self,
        org: &'a str,
        users: &'a [String],
        status: UserStatus,
        author: &'a Author,
    ) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(directory::set_user_status(self, org, users, status, author))
    }
    fn list_users<'a>(
        &'a self,
        org: &'a str,
        query: &'a UserQuery,
    ) -> BoxFuture<'a, Result<UserPage>> {
        Box::pin(directory::list_users(self, org, query))
    }
    fn set_opted_out<'a>(
        &'a self,
        org: &'a str,
        users: &'a [String],
        opted_out: bool,
        author: &'a Author,
    ) -> BoxFuture<'a, Result<Vec<Change>>> {
        Box::pin(change_log::set_opted_out(
            self, org, users, opted_out, author,
        ))
    }
    fn opt_outs<'a>(
        &'a self,
        org: &'a str,
        query: &'a OptOutQuery,
    ) -> BoxFuture<'a, Result<OptOutPage>> {
        Box::pin(change_log::opt_outs(self, org, query))
    }
    fn changes_since(&self, rev: u64, limit: u32) -> BoxFuture<'_, Result<Vec<Change>>> {
        Box::pin(change_log::changes_since(self, rev, limit))
    }
    fn opt_out_state(&self) -> BoxFuture<'_, Result<OptOutState>> {
        Box::pin(change_log::opt_out_state(self))
    }
    fn head_revision(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let rev: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rev), 0) FROM changes")
                .fetch_one(&self.reader)
                .await?;
            Ok(u64::try_from(rev).unwrap_or(0))
        })
    }
    fn audit<'a>(
        &'a self,
        org: &'a str,
        query: &'a AuditQuery,
    ) -> BoxFuture<'a, Result<AuditPage>> {
        Box::pin(audit::page(self, org, query))
    }
    fn record_audit<'a>(
        &'a self,
        org: &'a str,
        author: &'a Author,
        action: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut conn = self.writer.acquire().await?;
            let entry = audit::Record {
                action,
                target,
                before: None,
                after: None,
            };
            audit::record(
                &mut conn,
                org,
                author,
                &entry,
                to_ms(OffsetDateTime::now_utc()),
            )
            .await
        })
    }
    fn signing_keys(&self) -> BoxFuture<'_, Result<Vec<StoredSigningKey>>> {
        Box::pin(credentials::signing_keys(self))
    }
    fn add_signing_key<'a>(
        &'a self,
        key: &'a SigningKey,
        current: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(credentials::add_signing_key(self, key, current))
    }
    fn remove_signing_key<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(credentials::remove_signing_key(self, kid))
    }
    fn add_service_key<'a>(
        &'a self,
        info: &'a ServiceKeyInfo,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(credentials::add_service_key(self, info, secret_hash))
    }
    fn service_key_by_hash<'a>(
        &'a self,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<ServiceKeyInfo>>> {
        Box::pin(credentials::service_key_by_hash(self, secret_hash))
    }
    fn touch_service_key<'a>(
        &'a self,
        id: &'a str,
        at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(credentials::touch_service_key(self, id, at))
    }
    fn service_keys<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<Vec<ServiceKeyInfo>>> {
        Box::pin(credentials::service_keys(self, org))
    }
    fn revoke_service_key<'a>(&'a self, org: &'a str, id: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(credentials::revoke_service_key(self, org, id))
    }
    fn consume_nonce<'a>(
        &'a self,
        nonce: &'a str,
        expires_at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(credentials::consume_nonce(self, nonce, expires_at))
    }
    fn nonce_used<'a>(&'a self, nonce: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(credentials::nonce_used(self, nonce))
    }
}
