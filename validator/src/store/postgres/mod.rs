//! The shared store on PostgreSQL, for many server instances.
//!
//! Every call is one transaction (or one statement). Writers of the change log
//! take the row lock of `registry_head` first, so revisions are contiguous and
//! commit in order across all instances; each such commit also sends
//! [`CHANGES_CHANNEL`] a notification carrying the newest revision, for
//! instances that `LISTEN` instead of polling.
//!
//! ```no_run
//! # async fn example() -> usage_validator::Result<()> {
//! use std::sync::Arc;
//!
//! use usage_validator::store::postgres::PostgresStore;
//! use usage_validator::Registry;
//!
//! let store = PostgresStore::connect("postgres://usage:secret@db.internal/usage").await?;
//! let registry = Registry::open(Arc::new(store)).await?;
//! println!("registry loaded at revision {}", registry.revision());
//! # Ok(())
//! # }
//! ```

mod audit;
mod change_log;
mod credentials;
mod directory;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use time::OffsetDateTime;

use super::{to_ms, BoxFuture, OptOutState, Progress, Store, StoredSigningKey};
use crate::model::{
    AuditPage, AuditQuery, Author, Change, OptOutPage, OptOutQuery, ServiceKeyInfo, UpsertSummary,
    User, UserPage, UserQuery, UserStatus,
};
use crate::token::SigningKey;
use crate::Result;

/// The channel notified, with the newest revision as payload, whenever
/// changes are committed to the change log.
pub const CHANGES_CHANNEL: &str = "usage_changes";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The registry in a PostgreSQL database, shared by any number of instances.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Connections for the head reads every ingestion decision waits on. The
    /// main pool pings a connection before each use, a second round trip per
    /// query; a head read that fails instead falls back to the staleness
    /// bound, and the failed connection is replaced on the next read.
    head_pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:pass@host/db`) and
    /// applies pending schema migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url.parse()?).await
    }

    /// Connects with explicit options (for instance a `search_path` set
    /// through [`PgConnectOptions::options`]) and applies pending migrations.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        // A transaction left open by an instance cut off from the database
        // would hold the change log's lock; the server ends it instead.
        let options = options.options([("idle_in_transaction_session_timeout", "30s")]);
        let pool = PgPoolOptions::new().connect_with(options).await?;
        Self::from_pool(pool).await
    }

    /// Uses a pool built by the caller, its options as given, and applies
    /// pending migrations. Instances starting together are safe: migrations
    /// run under a lock. Head reads get two more connections of their own,
    /// opened with the pool's connect options when first needed.
    pub async fn from_pool(pool: PgPool) -> Result<Self> {
        MIGRATOR.run(&pool).await?;
        let head_pool = PgPoolOptions::new()
            .max_connections(2)
            .test_before_acquire(false)
            .connect_lazy_with((*pool.connect_options()).clone());
        Ok(Self { pool, head_pool })
    }

    /// The connection pool, for instance to `LISTEN` on [`CHANGES_CHANNEL`].
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, waiting for queries in flight.
    pub async fn close(&self) {
        self.head_pool.close().await;
        self.pool.close().await;
    }
}

/// A non-negative database integer as `u64` (negatives never occur; they
/// read as 0).
fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A `u64` as a database integer, saturating.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store for PostgresStore {
    fn ensure_org<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(directory::ensure_org(&self.pool, org))
    }

    fn org_exists<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(directory::org_exists(&self.pool, org))
    }

    fn upsert_users_reporting<'a>(
        &'a self,
        org: &'a str,
        users: &'a [User],
        author: &'a Author,
        progress: &'a Progress<'a>,
    ) -> BoxFuture<'a, Result<UpsertSummary>> {
        Box::pin(directory::upsert_users(
            &self.pool, org, users, author, progress,
        ))
    }

    fn user<'a>(&'a self, org: &'a str, id: &'a str) -> BoxFuture<'a, Result<Option<User>>> {
        Box::pin(async move {
            Ok(directory::user_with_status(&self.pool, org, id)
                .await?
                .and_then(|(user, status)| (status == UserStatus::Active).then_some(user)))
        })
    }

    fn user_with_status<'a>(
        &'a self,
        org: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<(User, UserStatus)>>> {
        Box::pin(directory::user_with_status(&self.pool, org, id))
    }

    fn set_user_status<'a>(
        &'a self,
        org: &'a str,
        users: &'a [String],
        status: UserStatus,
        author: &'a Author,
    ) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(directory::set_user_status(
            &self.pool, org, users, status, author,
        ))
    }

    fn list_users<'a>(
        &'a self,
        org: &'a str,
        query: &'a UserQuery,
    ) -> BoxFuture<'a, Result<UserPage>> {
        Box::pin(directory::list_users(&self.pool, org, query))
    }

    fn set_opted_out<'a>(
        &'a self,
        org: &'a str,
        users: &'a [String],
        opted_out: bool,
        author: &'a Author,
    ) -> BoxFuture<'a, Result<Vec<Change>>> {
        Box::pin(change_log::set_opted_out(
            &self.pool, org, users, opted_out, author,
        ))
    }

    fn opt_outs<'a>(
        &'a self,
        org: &'a str,
        query: &'a OptOutQuery,
    ) -> BoxFuture<'a, Result<OptOutPage>> {
        Box::pin(change_log::opt_outs(&self.pool, org, query))
    }

    fn changes_since(&self, rev: u64, limit: u32) -> BoxFuture<'_, Result<Vec<Change>>> {
        Box::pin(change_log::changes_since(&self.pool, rev, limit))
    }

    fn opt_out_state(&self) -> BoxFuture<'_, Result<OptOutState>> {
        Box::pin(change_log::opt_out_state(&self.pool))
    }

    fn head_revision(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(change_log::head_revision(&self.head_pool))
    }

    fn audit<'a>(
        &'a self,
        org: &'a str,
        query: &'a AuditQuery,
    ) -> BoxFuture<'a, Result<AuditPage>> {
        Box::pin(audit::page(&self.pool, org, query))
    }

    fn record_audit<'a>(
        &'a self,
        org: &'a str,
        author: &'a Author,
        action: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            let entry = audit::Record {
                action,
                target,
                before: None,
                after: None,
            };
            audit::record_many(
                &mut conn,
                org,
                author,
                &[entry],
                to_ms(OffsetDateTime::now_utc()),
            )
            .await
        })
    }

    fn signing_keys(&self) -> BoxFuture<'_, Result<Vec<StoredSigningKey>>> {
        Box::pin(credentials::signing_keys(&self.pool))
    }

    fn add_signing_key<'a>(
        &'a self,
        key: &'a SigningKey,
        current: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(credentials::add_signing_key(&self.pool, key, current))
    }

    fn remove_signing_key<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(credentials::remove_signing_key(&self.pool, kid))
    }

    fn add_service_key<'a>(
        &'a self,
        info: &'a ServiceKeyInfo,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(credentials::add_service_key(&self.pool, info, secret_hash))
    }

    fn service_key_by_hash<'a>(
        &'a self,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<ServiceKeyInfo>>> {
        Box::pin(credentials::service_key_by_hash(&self.pool, secret_hash))
    }

    fn touch_service_key<'a>(
        &'a self,
        id: &'a str,
        at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(credentials::touch_service_key(&self.pool, id, at))
    }

    fn service_keys<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<Vec<ServiceKeyInfo>>> {
        Box::pin(credentials::service_keys(&self.pool, org))
    }

    fn revoke_service_key<'a>(&'a self, org: &'a str, id: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(credentials::revoke_service_key(&self.pool, org, id))
    }

    fn consume_nonce<'a>(
        &'a self,
        nonce: &'a str,
        expires_at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(credentials::consume_nonce(&self.pool, nonce, expires_at))
    }
    fn nonce_used<'a>(&'a self, nonce: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(credentials::nonce_used(&self.pool, nonce))
    }
}
