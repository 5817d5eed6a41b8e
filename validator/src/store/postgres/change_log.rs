//! Opt-out state and the change log that orders every change to it.

use std::collections::HashSet;

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row as _};
use time::OffsetDateTime;

use super::super::{
    cursor, from_ms, opt_out_after, opt_out_state_json, search_text, to_ms, OptOutState, MAX_PAGE,
};
use super::audit::{self, Record};
use super::{to_i64, to_u64, CHANGES_CHANNEL};
use crate::model::{Author, Change, OptOutEntry, OptOutPage, OptOutQuery, Role, User};
use crate::{Error, Result};

pub(super) async fn set_opted_out(
    pool: &PgPool,
    org: &str,
    users: &[String],
    opted_out: bool,
    author: &Author,
) -> Result<Vec<Change>> {
    let actor = author.actor.to_string();
    let mut tx = pool.begin().await?;
    let known: HashSet<String> = sqlx::query_scalar(
        "SELECT id FROM users WHERE org = $1 AND id = ANY($2) AND status <> 'removed'",
    )
    .bind(org)
    .bind(users)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let unknown: Vec<String> = users
        .iter()
        .filter(|user| !known.contains(*user))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownUsers(unknown));
    }

    // The head row lock serializes every writer of the change log until it
    // commits, so the revisions taken below follow the last committed one.
    let head: i64 = sqlx::query_scalar("SELECT rev FROM registry_head FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    // Statements from here on see every earlier writer's commit; the clock is
    // read under the lock too, so times never decrease along the log.
    let now_ms = to_ms(OffsetDateTime::now_utc());
    let touched: Vec<String> = if opted_out {
        sqlx::query_scalar(
            "INSERT INTO opt_outs (org, user_id, at, actor)
             SELECT $1, user_id, $3, $4 FROM unnest($2::text[]) AS t (user_id)
             ON CONFLICT DO NOTHING
             RETURNING user_id",
        )
        .bind(org)
        .bind(users)
        .bind(now_ms)
        .bind(&actor)
        .fetch_all(&mut *tx)
        .await?
    } else {
        sqlx::query_scalar(
            "DELETE FROM opt_outs WHERE org = $1 AND user_id = ANY($2) RETURNING user_id",
        )
        .bind(org)
        .bind(users)
        .fetch_all(&mut *tx)
        .await?
    };
    if touched.is_empty() {
        return Ok(Vec::new());
    }

    // Revisions follow the order the users were given in.
    let mut touched: HashSet<String> = touched.into_iter().collect();
    let changed: Vec<&str> = users
        .iter()
        .filter(|user| touched.remove(user.as_str()))
        .map(String::as_str)
        .collect();
    let revs: Vec<i64> = (1..).map(|k| head + k).take(changed.len()).collect();
    let newest = revs.last().copied().unwrap_or(head);
    sqlx::query(
        "INSERT INTO changes (rev, org, user_id, opted_out, actor, at)
         SELECT rev, $3, user_id, $4, $5, $6 FROM unnest($1::bigint[], $2::text[]) AS t (rev, user_id)",
    )
    .bind(&revs)
    .bind(&changed)
    .bind(org)
    .bind(opted_out)
    .bind(&actor)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let action = if opted_out { "opt_out" } else { "opt_in" };
    let entries: Vec<Record> = changed
        .iter()
        .map(|user| Record {
            action,
            target: user,
            before: Some(opt_out_state_json(!opted_out)),
            after: Some(opt_out_state_json(opted_out)),
        })
        .collect();
    audit::record_many(&mut tx, org, author, &entries, now_ms).await?;
    sqlx::query("UPDATE registry_head SET rev = $1")
        .bind(newest)
        .execute(&mut *tx)
        .await?;
    // Delivered by PostgreSQL at commit, and only if the commit succeeds.
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGES_CHANNEL)
        .bind(newest.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    Ok(changed
        .iter()
        .zip(&revs)
        .map(|(user, rev)| Change {
            rev: to_u64(*rev),
            org: org.to_owned(),
            user: (*user).to_owned(),
            opted_out,
            actor: actor.clone(),
            at: from_ms(now_ms),
        })
        .collect())
}

/// The filter every opted-out listing shares: the org, users not removed,
/// and the search text (`$2`) if any.
const OPT_OUT_FILTER: &str = "FROM opt_outs o JOIN users u ON u.org = o.org AND u.id = o.user_id
     WHERE o.org = $1 AND u.status <> 'removed'
       AND ($2::text IS NULL OR strpos(u.search_text, $2) > 0)";

pub(super) async fn opt_outs(pool: &PgPool, org: &str, query: &OptOutQuery) -> Result<OptOutPage> {
    let (after_at, after_id) = opt_out_after(query)?;
    let limit = query.limit.clamp(1, MAX_PAGE);
    let search = search_text(query.query.as_deref());
    // One repeatable-read transaction, so the count and the page agree.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {OPT_OUT_FILTER}"))
        .bind(org)
        .bind(search.as_deref())
        .fetch_one(&mut *tx)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT u.id, u.name, u.email, u.role, u.status, o.at, o.actor {OPT_OUT_FILTER}
           AND (o.at < $3 OR (o.at = $3 AND o.user_id > $4))
         ORDER BY o.at DESC, o.user_id
         LIMIT $5"
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
            user: User {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                email: row.try_get("email")?,
                role: row.try_get::<String, _>("role")?.parse::<Role>()?,
            },
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
        total: to_u64(total),
    })
}

fn row_to_change(row: &PgRow) -> Result<Change> {
    Ok(Change {
        rev: to_u64(row.try_get("rev")?),
        org: row.try_get("org")?,
        user: row.try_get("user_id")?,
        opted_out: row.try_get("opted_out")?,
        actor: row.try_get("actor")?,
        at: from_ms(row.try_get("at")?),
    })
}

pub(super) async fn changes_since(pool: &PgPool, rev: u64, limit: u32) -> Result<Vec<Change>> {
    let rows = sqlx::query(
        "SELECT rev, org, user_id, opted_out, actor, at FROM changes
         WHERE rev > $1 ORDER BY rev LIMIT $2",
    )
    .bind(to_i64(rev))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(row_to_change).collect()
}

pub(super) async fn opt_out_state(pool: &PgPool) -> Result<OptOutState> {
    // One statement reads one snapshot, so the pairs and the revision agree;
    // the outer join keeps the revision when nobody is opted out.
    let rows = sqlx::query(
        "SELECT h.rev, o.org, o.user_id FROM registry_head h LEFT JOIN opt_outs o ON TRUE",
    )
    .fetch_all(pool)
    .await?;
    let mut state = OptOutState::default();
    for row in &rows {
        state.rev = to_u64(row.try_get("rev")?);
        let org: Option<String> = row.try_get("org")?;
        let user: Option<String> = row.try_get("user_id")?;
        if let (Some(org), Some(user)) = (org, user) {
            state.opted_out.push((org, user));
        }
    }
    Ok(state)
}

pub(super) async fn head_revision(pool: &PgPool) -> Result<u64> {
    let rev: i64 = sqlx::query_scalar("SELECT rev FROM registry_head")
        .fetch_one(pool)
        .await?;
    Ok(to_u64(rev))
}
