//! Signing keys, service keys and one-time nonces.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row as _};
use time::OffsetDateTime;

use super::super::{from_ms, to_ms, StoredSigningKey};
use crate::model::{scopes_from_text, scopes_to_text, ServiceKeyInfo};
use crate::token::SigningKey;
use crate::{Error, Result};

pub(super) async fn signing_keys(pool: &PgPool) -> Result<Vec<StoredSigningKey>> {
    let rows = sqlx::query(
        "SELECT kid, secret, current, created_at FROM signing_keys ORDER BY created_at, seq",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let kid: String = row.try_get("kid")?;
            let secret: Vec<u8> = row.try_get("secret")?;
            let key = SigningKey::new(kid.clone(), secret).ok_or_else(|| {
                Error::InvalidInput(format!("stored signing key `{kid}` is malformed"))
            })?;
            Ok(StoredSigningKey {
                key,
                current: row.try_get("current")?,
                created_at: from_ms(row.try_get("created_at")?),
            })
        })
        .collect()
}

pub(super) async fn add_signing_key(pool: &PgPool, key: &SigningKey, current: bool) -> Result<()> {
    let mut tx = pool.begin().await?;
    // Instances rotating at the same time take turns (readers are not
    // blocked), so the last one to commit holds the only current key.
    sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    if current {
        sqlx::query("UPDATE signing_keys SET current = FALSE WHERE current")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO signing_keys (kid, secret, current, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(key.kid())
    .bind(key.secret())
    .bind(current)
    .bind(to_ms(OffsetDateTime::now_utc()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn remove_signing_key(pool: &PgPool, kid: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM signing_keys WHERE kid = $1 AND NOT current")
        .bind(kid)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

const KEY_COLUMNS: &str =
    "id, org, label, scopes, created_at, expires_at, last_used_at, revoked_at";

fn row_to_key_info(row: &PgRow) -> Result<ServiceKeyInfo> {
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

pub(super) async fn add_service_key(
    pool: &PgPool,
    info: &ServiceKeyInfo,
    secret_hash: &[u8; 32],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_keys (id, org, secret_hash, label, created_at, scopes, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&info.id)
    .bind(&info.org)
    .bind(&secret_hash[..])
    .bind(&info.label)
    .bind(to_ms(info.created_at))
    .bind(scopes_to_text(&info.scopes))
    .bind(info.expires_at.map(to_ms))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn service_key_by_hash(
    pool: &PgPool,
    secret_hash: &[u8; 32],
) -> Result<Option<ServiceKeyInfo>> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM service_keys WHERE secret_hash = $1 AND revoked_at IS NULL"
    ))
    .bind(&secret_hash[..])
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(row_to_key_info).transpose()
}

pub(super) async fn service_keys(pool: &PgPool, org: &str) -> Result<Vec<ServiceKeyInfo>> {
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM service_keys WHERE org = $1 ORDER BY created_at, seq"
    ))
    .bind(org)
    .fetch_all(pool)
    .await?;
    rows.iter().map(row_to_key_info).collect()
}

pub(super) async fn revoke_service_key(pool: &PgPool, org: &str, id: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE service_keys SET revoked_at = $1
         WHERE org = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(to_ms(OffsetDateTime::now_utc()))
    .bind(org)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn touch_service_key(pool: &PgPool, id: &str, at: OffsetDateTime) -> Result<()> {
    // Never moves the time backwards when instances race.
    sqlx::query(
        "UPDATE service_keys SET last_used_at = $1
         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
    )
    .bind(to_ms(at))
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn consume_nonce(
    pool: &PgPool,
    nonce: &str,
    expires_at: OffsetDateTime,
) -> Result<bool> {
    // Forgetting expired nonces is housekeeping, not part of the answer: rows
    // another instance is already deleting are skipped rather than waited on.
    sqlx::query(
        "DELETE FROM used_nonces WHERE nonce IN (
             SELECT nonce FROM used_nonces WHERE expires_at < $1 FOR UPDATE SKIP LOCKED)",
    )
    .bind(to_ms(OffsetDateTime::now_utc()))
    .execute(pool)
    .await?;
    // A concurrent insert of the same nonce makes this one wait for it and
    // then do nothing, so exactly one caller gets `true`.
    let fresh = sqlx::query(
        "INSERT INTO used_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(nonce)
    .bind(to_ms(expires_at))
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    Ok(fresh)
}

pub(super) async fn nonce_used(pool: &PgPool, nonce: &str) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM used_nonces WHERE nonce = $1")
        .bind(nonce)
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}
