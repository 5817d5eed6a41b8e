//! Signing keys, service keys and one-time nonces in the SQLite store.

use sqlx::Row as _;
use time::OffsetDateTime;

use super::SqliteStore;
use crate::model::ServiceKeyInfo;
use crate::store::{from_ms, to_ms, StoredSigningKey};
use crate::token::SigningKey;
use crate::{Error, Result};

fn row_to_key_info(row: &sqlx::sqlite::SqliteRow) -> Result<ServiceKeyInfo> {
    Ok(ServiceKeyInfo {
        id: row.try_get("id")?,
        org: row.try_get("org")?,
        label: row.try_get("label")?,
        created_at: from_ms(row.try_get("created_at")?),
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
        "INSERT INTO service_keys (id, org, secret_hash, label, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&info.id)
    .bind(&info.org)
    .bind(&secret_hash[..])
    .bind(&info.label)
    .bind(to_ms(info.created_at))
    .execute(&store.writer)
    .await?;
    Ok(())
}

pub(super) async fn service_key_by_hash(
    store: &SqliteStore,
    secret_hash: &[u8; 32],
) -> Result<Option<ServiceKeyInfo>> {
    let row = sqlx::query(
                "SELECT id, org, label, created_at, revoked_at FROM service_keys WHERE secret_hash = ? AND revoked_at IS NULL",
            )
            .bind(&secret_hash[..])
            .fetch_optional(&store.reader)
            .await?;
    row.as_ref().map(row_to_key_info).transpose()
}

pub(super) async fn service_keys(store: &SqliteStore, org: &str) -> Result<Vec<ServiceKeyInfo>> {
    let rows = sqlx::query(
                "SELECT id, org, label, created_at, revoked_at FROM service_keys WHERE org = ? ORDER BY created_at",
            )
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
