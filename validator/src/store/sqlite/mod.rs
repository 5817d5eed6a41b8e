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

use super::{from_ms, to_ms, BoxFuture, OptOutState, Store, StoredSigningKey};
use crate::model::{
    Actor, AuditEntry, Change, OptOutEntry, ServiceKeyInfo, UpsertSummary, User, UserPage,
    UserQuery,
};
use crate::token::SigningKey;
use crate::{Error, Result};

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
            .busy_timeout(Duration::from_secs(10));
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

fn row_to_change(row: &sqlx::sqlite::SqliteRow) -> Result<Change> {
    Ok(Change {
        rev: u64::try_from(row.try_get::<i64, _>("rev")?).unwrap_or(0),
        org: row.try_get("org")?,
        user: row.try_get("user_id")?,
        opted_out: row.try_get("opted_out")?,
        actor: row.try_get("actor")?,
        at: from_ms(row.try_get("at")?),
    })
}

const AUDIT_INSERT: &str =
    "INSERT INTO audit (org, actor, action, target, at) VALUES (?, ?, ?, ?, ?)";

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

    fn upsert_users<'a>(
        &'a self,
        org: &'a str,
        users: &'a [User],
        actor: &'a Actor,
    ) -> BoxFuture<'a, Result<UpsertSummary>> {
        Box::pin(directory::upsert_users(self, org, users, actor))
    }

    fn user<'a>(&'a self, org: &'a str, id: &'a str) -> BoxFuture<'a, Result<Option<User>>> {
        Box::pin(directory::user(self, org, id))
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
        actor: &'a Actor,
    ) -> BoxFuture<'a, Result<Vec<Change>>> {
        Box::pin(async move {
            let now = OffsetDateTime::now_utc();
            let now_ms = to_ms(now);
            let actor = actor.to_string();
            let mut tx = self.writer.begin().await?;
            let mut unknown = Vec::new();
            for user in users {
                let known = sqlx::query("SELECT 1 FROM users WHERE org = ? AND id = ?")
                    .bind(org)
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !known {
                    unknown.push(user.clone());
                }
            }
            if !unknown.is_empty() {
                return Err(Error::UnknownUsers(unknown));
            }
            let mut changes = Vec::new();
            for user in users {
                let changed = if opted_out {
                    sqlx::query(
                        "INSERT INTO opt_outs (org, user_id, at, actor) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    )
                    .bind(org)
                    .bind(user)
                    .bind(now_ms)
                    .bind(&actor)
                    .execute(&mut *tx)
                    .await?
                } else {
                    sqlx::query("DELETE FROM opt_outs WHERE org = ? AND user_id = ?")
                        .bind(org)
                        .bind(user)
                        .execute(&mut *tx)
                        .await?
                };
                if changed.rows_affected() == 0 {
                    continue;
                }
                let rev = sqlx::query(
                    "INSERT INTO changes (org, user_id, opted_out, actor, at) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(org)
                .bind(user)
                .bind(opted_out)
                .bind(&actor)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .last_insert_rowid();
                sqlx::query(AUDIT_INSERT)
                    .bind(org)
                    .bind(&actor)
                    .bind(if opted_out { "opt_out" } else { "opt_in" })
                    .bind(user)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                changes.push(Change {
                    rev: u64::try_from(rev).unwrap_or(0),
                    org: org.to_owned(),
                    user: user.clone(),
                    opted_out,
                    actor: actor.clone(),
                    at: from_ms(now_ms),
                });
            }
            tx.commit().await?;
            Ok(changes)
        })
    }
    fn opt_outs<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<Vec<OptOutEntry>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT u.id, u.name, u.email, u.role, o.at, o.actor
                 FROM opt_outs o JOIN users u ON u.org = o.org AND u.id = o.user_id
                 WHERE o.org = ? ORDER BY o.at DESC, u.sort_key, u.id",
            )
            .bind(org)
            .fetch_all(&self.reader)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(OptOutEntry {
                        user: row_to_user(row)?,
                        opted_out_at: from_ms(row.try_get("at")?),
                        opted_out_by: row.try_get("actor")?,
                    })
                })
                .collect()
        })
    }
    fn changes_since(&self, rev: u64, limit: u32) -> BoxFuture<'_, Result<Vec<Change>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT rev, org, user_id, opted_out, actor, at FROM changes WHERE rev > ? ORDER BY rev LIMIT ?",
            )
            .bind(i64::try_from(rev).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
            rows.iter().map(row_to_change).collect()
        })
    }
    fn opt_out_state(&self) -> BoxFuture<'_, Result<OptOutState>> {
        Box::pin(async move {
            // One read transaction: the pairs and the revision agree.
            let mut tx = self.reader.begin().await?;
            let rev: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rev), 0) FROM changes")
                .fetch_one(&mut *tx)
                .await?;
            let rows = sqlx::query("SELECT org, user_id FROM opt_outs")
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            let opted_out = rows
                .iter()
                .map(|row| Ok((row.try_get("org")?, row.try_get("user_id")?)))
                .collect::<Result<_>>()?;
            Ok(OptOutState {
                rev: u64::try_from(rev).unwrap_or(0),
                opted_out,
            })
        })
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
        limit: u32,
        before: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<AuditEntry>>> {
        Box::pin(async move {
            let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
            let rows = sqlx::query(
                "SELECT id, actor, action, target, at FROM audit WHERE org = ? AND id < ? ORDER BY id DESC LIMIT ?",
            )
            .bind(org)
            .bind(before)
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.reader)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(AuditEntry {
                        id: u64::try_from(row.try_get::<i64, _>("id")?).unwrap_or(0),
                        actor: row.try_get("actor")?,
                        action: row.try_get("action")?,
                        target: row.try_get("target")?,
                        at: from_ms(row.try_get("at")?),
                    })
                })
                .collect()
        })
    }
    fn record_audit<'a>(
        &'a self,
        org: &'a str,
        actor: &'a Actor,
        action: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(AUDIT_INSERT)
                .bind(org)
                .bind(actor.to_string())
                .bind(action)
                .bind(target)
                .bind(to_ms(OffsetDateTime::now_utc()))
                .execute(&self.writer)
                .await?;
            Ok(())
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
