//! Opt-out state and the change log in the SQLite store.

use sqlx::Row as _;
use time::OffsetDateTime;

use super::audit::{self, Record};
use super::{row_to_user, SqliteStore};
use crate::model::{Author, Change, OptOutEntry, OptOutPage, OptOutQuery};
use crate::store::{
    cursor, from_ms, opt_out_after, opt_out_state_json, search_text, to_ms, OptOutState, MAX_PAGE,
};
use crate::{Error, Result};

pub(super) async fn set_opted_out(
    store: &SqliteStore,
    org: &str,
    users: &[String],
    opted_out: bool,
    author: &Author,
) -> Result<Vec<Change>> {
    let now_ms = to_ms(OffsetDateTime::now_utc());
    let actor = author.actor.to_string();
    let mut tx = store.writer.begin().await?;
    let mut unknown = Vec::new();
    for user in users {
        let known =
            sqlx::query("SELECT 1 FROM users WHERE org = ? AND id = ? AND status <> 'removed'")
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
        let entry = Record {
            action: if opted_out { "opt_out" } else { "opt_in" },
            target: user,
            before: Some(opt_out_state_json(!opted_out)),
            after: Some(opt_out_state_json(opted_out)),
        };
        audit::record(&mut tx, org, author, &entry, now_ms).await?;
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
}

/// The filter every opted-out listing shares: the org, users not removed,
/// and the search text (`?2`) if any. `CROSS JOIN` keeps SQLite reading the
/// opted-out users first and looking each up, rather than walking the whole
/// directory to count a few of them.
const OPT_OUT_FILTER: &str =
    "FROM opt_outs o CROSS JOIN users u ON u.org = o.org AND u.id = o.user_id
     WHERE o.org = ?1 AND u.status <> 'removed'
       AND (?2 IS NULL OR instr(u.search_text, ?2) > 0)";

pub(super) async fn opt_outs(
    store: &SqliteStore,
    org: &str,
    query: &OptOutQuery,
) -> Result<OptOutPage> {
    let (after_at, after_id) = opt_out_after(query)?;
    let limit = query.limit.clamp(1, MAX_PAGE);
    let search = search_text(query.query.as_deref());
    // One read transaction, so the count and the page agree.
    let mut tx = store.reader.begin().await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {OPT_OUT_FILTER}"))
        .bind(org)
        .bind(search.as_deref())
        .fetch_one(&mut *tx)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT u.id, u.name, u.email, u.role, u.status, o.at, o.actor {OPT_OUT_FILTER}
           AND (o.at < ?3 OR (o.at = ?3 AND o.user_id > ?4))
         ORDER BY o.at DESC, o.user_id
         LIMIT ?5"
    ))
    .bind(org)
    .bind(search.as_deref())
    .bind(after_at)
    .bind(&after_id)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let more = rows.len() > limit as usize;
    let mut opt_outs = Vec::with_capacity(rows.len().min(limit as usize));
    let mut next_cursor = None;
    for row in rows.iter().take(limit as usize) {
        let at: i64 = row.try_get("at")?;
        let entry = OptOutEntry {
            user: row_to_user(row)?,
            opted_out_at: from_ms(at),
            opted_out_by: row.try_get("actor")?,
            active: row.try_get::<String, _>("status")? == "active",
        };
        if more {
            next_cursor = Some(cursor::encode(
                cursor::OPT_OUTS,
                &[&at.to_string(), &entry.user.id],
            ));
        }
        opt_outs.push(entry);
    }
    Ok(OptOutPage {
        opt_outs,
        next_cursor,
        total: u64::try_from(total).unwrap_or(0),
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

pub(super) async fn changes_since(
    store: &SqliteStore,
    rev: u64,
    limit: u32,
) -> Result<Vec<Change>> {
    let rows = sqlx::query(
        "SELECT rev, org, user_id, opted_out, actor, at FROM changes WHERE rev > ? ORDER BY rev LIMIT ?",
    )
    .bind(i64::try_from(rev).unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(&store.reader)
    .await?;
    rows.iter().map(row_to_change).collect()
}

pub(super) async fn opt_out_state(store: &SqliteStore) -> Result<OptOutState> {
    // One read transaction: the pairs and the revision agree.
    let mut tx = store.reader.begin().await?;
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
}
