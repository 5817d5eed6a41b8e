//! The audit trail in the SQLite store: who did what, through what, when,
//! with the record before and after.

use sqlx::{Row as _, SqliteConnection};

use super::SqliteStore;
use crate::model::{AuditEntry, AuditPage, AuditQuery, Author};
use crate::store::{audit_before, audit_page, from_ms, json_column, MAX_PAGE};
use crate::Result;

/// One entry to append: what was done to whom, and the state around it.
#[derive(Debug)]
pub(super) struct Record<'a> {
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Appends `entry` on `conn`, inside the caller's transaction if it has one.
pub(super) async fn record(
    conn: &mut SqliteConnection,
    org: &str,
    author: &Author,
    entry: &Record<'_>,
    at_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (org, actor, actor_name, via, action, target, before_state, after_state, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(org)
    .bind(author.actor.to_string())
    .bind(author.name.as_deref())
    .bind(author.via.as_str())
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.before.as_deref())
    .bind(entry.after.as_deref())
    .bind(at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn page(store: &SqliteStore, org: &str, query: &AuditQuery) -> Result<AuditPage> {
    let before = audit_before(query)?;
    let limit = query.limit.clamp(1, MAX_PAGE);
    let rows = sqlx::query(
        "SELECT id, actor, actor_name, via, action, target, before_state, after_state, at
         FROM audit WHERE org = ?1 AND id < ?2 AND (?3 IS NULL OR target = ?3)
         ORDER BY id DESC LIMIT ?4",
    )
    .bind(org)
    .bind(before)
    .bind(query.target.as_deref())
    .bind(i64::from(limit) + 1)
    .fetch_all(&store.reader)
    .await?;
    let entries = rows
        .iter()
        .map(|row| {
            Ok(AuditEntry {
                id: u64::try_from(row.try_get::<i64, _>("id")?).unwrap_or(0),
                actor: row.try_get("actor")?,
                actor_name: row.try_get("actor_name")?,
                via: row.try_get("via")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                before: json_column(row.try_get("before_state")?),
                after: json_column(row.try_get("after_state")?),
                at: from_ms(row.try_get("at")?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(audit_page(entries, limit))
}
