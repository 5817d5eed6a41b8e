//! The audit trail: who changed what, when.

use sqlx::{PgConnection, PgPool, Row as _};
use time::OffsetDateTime;

use super::super::{from_ms, to_ms};
use super::{to_i64, to_u64};
use crate::model::{Actor, AuditEntry};
use crate::Result;

/// Appends one entry per target, in the order given, inside the caller's
/// transaction.
pub(super) async fn record_many(
    conn: &mut PgConnection,
    org: &str,
    actor: &str,
    entries: &[(&str, &str)],
    at_ms: i64,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let (actions, targets): (Vec<&str>, Vec<&str>) = entries.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO audit (org, actor, action, target, at)
         SELECT $1, $2, action, target, $5
         FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS t (action, target, n)
         ORDER BY n",
    )
    .bind(org)
    .bind(actor)
    .bind(&actions)
    .bind(&targets)
    .bind(at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn record(
    pool: &PgPool,
    org: &str,
    actor: &Actor,
    action: &str,
    target: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO audit (org, actor, action, target, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(org)
        .bind(actor.to_string())
        .bind(action)
        .bind(target)
        .bind(to_ms(OffsetDateTime::now_utc()))
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn page(
    pool: &PgPool,
    org: &str,
    limit: u32,
    before: Option<u64>,
) -> Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT id, actor, action, target, at FROM audit
         WHERE org = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(org)
    .bind(before.map_or(i64::MAX, to_i64))
    .bind(i64::from(limit.clamp(1, 1000)))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                id: to_u64(row.try_get("id")?),
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                at: from_ms(row.try_get("at")?),
            })
        })
        .collect()
}
