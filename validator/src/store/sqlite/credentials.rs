//! Signing keys, service keys and one-time nonces in the SQLite store.

use sqlx::Row as _;
use time::OffsetDateTime;

use super::SqliteStore;
use crate::model::{scopes_from_text, scopes_to_text, ServiceKeyInfo};
use crate::store::{from_ms, to_ms, StoredSigningKey};
use crate::token::SigningKey;
use crate::{Error, Result};

const KEY_COLUMNS: &str =
    "id, org, label, scopes, created_at, expires_at, last_used_at, revoked_at";

fn row_to_key_info(row: &sqlx::sqlite::SqliteRow) -> Result<ServiceKeyInfo> {
    Ok(ServiceKeyInfo {
        id: row.try_get("id")?,
        org: row.try_get("org")?,
        label: row.try_get("label")?,
        scopes: scopes_from_text(row.try_get::<Option<String>, _>("scopes")?.as_deref())?,
        created_at: from_ms(row.try_get("created_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
    })
}

pub(super) async fn signing_keys(store: &SqliteStore) -> Result<Vec<StoredSigningKey>> {
    let rows = sqlx::query(
        "SELECT kid, secret, current, created_at FROM signing_keys ORDER BY created_at",
    )
    .fetch_all(&store.reader)
    .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in &rows {
        let kid: String = row.try_get("kid")?;
        let secret: Vec<u8> = row.try_get("secret")?;
        let key = SigningKey::new(kid.clone(), secret).ok_or_else(|| {
            Error::InvalidInput(format!("stored signing key `{kid}` is malformed"))
        })?;
        keys.push(StoredSigningKey {
            key,
            current: row.try_get("current")?,
            created_at: from_ms(row.try_get("created_at")?),
        });
    }
    Ok(keys)
}

pub(super) async fn add_signing_key(
    store: &SqliteStore,
    key: &SigningKey,
    current: bool,
) -> Result<()> {
    let mut tx = store.writer.begin().await?;
    if current {
        sqlx::query("UPDATE signing_keys SET current = 0")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("INSERT INTO signing_keys (kid, secret, current, created_at) VALUES (?, ?, ?, ?)")
        .bind(key.kid())
        .bind(key.secret())
        .bind(current)
        .bind(to_ms(OffsetDateTime::now_utc()))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn remove_signing_key(store: &SqliteStore, kid: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM signing_keys WHERE kid = ? AND current = 0")
        .bind(kid)
        .execute(&store.writer)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn add_service_key(
    store: &SqliteStore,
    info: &ServiceKeyInfo,
    secret_hash: &[u8; 32],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_keys (id, org, secret_hash, label, created_at, scopes, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&info.id)
    .bind(&info.org)
    .bind(&secret_hash[..])
    .bind(&info.label)
    .bind(to_ms(info.created_at))
    .bind(scopes_to_text(&info.scopes))
    .bind(info.expires_at.map(to_ms))
    .execute(&store.writer)
    .await?;
    Ok(())
}

pub(super) async fn service_key_by_hash(
    store: &SqliteStore,
    secret_hash: &[u8; 32],
) -> Result<Option<ServiceKeyInfo>> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM service_keys WHERE secret_hash = ? AND revoked_at IS NULL"
    ))
    .bind(&secret_hash[..])
    .fetch_optional(&store.reader)
    .await?;
    row.as_ref().map(row_to_key_info).transpose()
}

pub(super) async fn service_keys(store: &SqliteStore, org: &str) -> Result<Vec<ServiceKeyInfo>> {
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM service_keys WHERE org = ? ORDER BY created_at"
    ))
    .bind(org)
    .fetch_all(&store.reader)
    .await?;
    rows.iter().map(row_to_key_info).collect()
}

pub(super) async fn revoke_service_key(store: &SqliteStore, org: &str, id: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE service_keys SET revoked_at = ? WHERE org = ? AND id = ? AND revoked_at IS NULL",
    )
    .bind(to_ms(OffsetDateTime::now_utc()))
    .bind(org)
    .bind(id)
    .execute(&store.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn touch_service_key(
    store: &SqliteStore,
    id: &str,
    at: OffsetDateTime,
) -> Result<()> {
    // Never moves the time backwards when instances race.
    sqlx::query(
        "UPDATE service_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
    )
    .bind(to_ms(at))
    .bind(id)
    .bind(to_ms(at))
    .execute(&store.writer)
    .await?;
    Ok(())
}

pub(super) async fn consume_nonce(
    store: &SqliteStore,
    nonce: &str,
    expires_at: OffsetDateTime,
) -> Result<bool> {
    let now = to_ms(OffsetDateTime::now_utc());
    let mut tx = store.writer.begin().await?;
    sqlx::query("DELETE FROM used_nonces WHERE expires_at < ?")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let fresh = sqlx::query(
        "INSERT INTO used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(nonce)
    .bind(to_ms(expires_at))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    tx.commit().await?;
    Ok(fresh)
}

pub(super) async fn nonce_used(store: &SqliteStore, nonce: &str) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM used_nonces WHERE nonce = ?")
        .bind(nonce)
        .fetch_optional(&store.reader)
        .await?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sqlx::migrate::Migrator;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::SqlitePool;

    use super::super::MIGRATOR;
    use super::*;
    use crate::model::Scope;
    use crate::store::Store as _;

    #[tokio::test]
    async fn a_key_stored_before_scopes_existed_keeps_working_as_a_full_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("registry.db");
        // The schema as released before scopes: the first migration only.
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.expect("open");
        let before_scopes = Migrator {
            migrations: Cow::Owned(MIGRATOR.migrations[..1].to_vec()),
            ..Migrator::DEFAULT
        };
        before_scopes.run(&pool).await.expect("first migration");
        sqlx::query("INSERT INTO orgs (id, created_at) VALUES ('acme', 0)")
            .execute(&pool)
            .await
            .expect("org");
        sqlx::query(
            "INSERT INTO service_keys (id, org, secret_hash, label, created_at)
             VALUES ('sk_old', 'acme', ?, 'old', 0)",
        )
        .bind(&[7u8; 32][..])
        .execute(&pool)
        .await
        .expect("old key");
        pool.close().await;

        let store = SqliteStore::open(&path).await.expect("upgrade");
        let key = store
            .service_key_by_hash(&[7u8; 32])
            .await
            .expect("lookup")
            .expect("the old key is still there");
        assert_eq!(key.scopes, Scope::ALL);
        assert_eq!(key.expires_at, None);
        assert!(!key.revoked);
        store.close().await;
    }
}
