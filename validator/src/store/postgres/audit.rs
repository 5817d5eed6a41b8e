//! The audit trail: who did what, through what, when, with the record
//! before and after.

use sqlx::{PgConnection, PgPool, Row as _};

use super::super::{audit_before, audit_page, from_ms, json_column, MAX_PAGE};
use super::to_u64;
use crate::model::{AuditEntry, AuditPage, AuditQuery, Author};
use crate::Result;

/// One entry to append: what was done to whom, and the state around it.
#[derive(Debug)]
pub(super) struct Record<'a> {
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Appends one entry per record, in the order given, on `conn` (inside the
/// caller's transaction if it has one).
pub(super) async fn record_many(
    conn: &mut PgConnection,
    org: &str,
    author: &Author,
    entries: &[Record<'_>],
    at_ms: i64,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let actions: Vec<&str> = entries.iter().map(|e| e.action).collect();
    let targets: Vec<&str> = entries.iter().map(|e| e.target).collect();
    let befores: Vec<Option<&str>> = entries.iter().map(|e| e.before.as_deref()).collect();
    let afters: Vec<Option<&str>> = entries.iter().map(|e| e.after.as_deref()).collect();
    sqlx::query(
        "INSERT INTO audit (org, actor, actor_name, via, action, target, before_state, after_state, at)
         SELECT $1, $2, $3, $4, action, target, before_state, after_state, $9
         FROM unnest($5::text[], $6::text[], $7::text[], $8::text[])
             WITH ORDINALITY AS t (action, target, before_state, after_state, n)
         ORDER BY n",
    )
    .bind(org)
    .bind(author.actor.to_string())
    .bind(author.name.as_deref())
    .bind(author.via.as_str())
    .bind(&actions)
    .bind(&targets)
    .bind(&befores)
    .bind(&afters)
    .bind(at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn page(pool: &PgPool, org: &str, query: &AuditQuery) -> Result<AuditPage> {
    let limit = query.limit.clamp(1, MAX_PAGE);
    let rows = sqlx::query(
        "SELECT id, actor, actor_name, via, action, target, before_state, after_state, at
         FROM audit WHERE org = $1 AND id < $2 AND ($3::text IS NULL OR target = $3)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(org)
    .bind(audit_before(query)?)
    .bind(query.target.as_deref())
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let entries = rows
        .iter()
        .map(|row| {
            Ok(AuditEntry {
                id: to_u64(row.try_get("id")?),
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
