//! The user directory in the SQLite store: upserts, lookups and listing.

use sqlx::Row as _;
use time::OffsetDateTime;

use super::{row_to_user, SqliteStore, AUDIT_INSERT};
use crate::model::{Actor, DirectoryEntry, UpsertSummary, User, UserPage, UserQuery};
use crate::store::{cursor, sort_key, to_ms, user_page};
use crate::{Error, Result};

pub(super) async fn upsert_users(
    store: &SqliteStore,
    org: &str,
    users: &[User],
    actor: &Actor,
) -> Result<UpsertSummary> {
    let now = to_ms(OffsetDateTime::now_utc());
    let actor = actor.to_string();
    let mut summary = UpsertSummary::default();
    let mut tx = store.writer.begin().await?;
    let org_known = sqlx::query("SELECT 1 FROM orgs WHERE id = ?")
        .bind(org)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if !org_known {
        return Err(Error::UnknownOrg(org.to_owned()));
    }
    for user in users {
        let existing =
            sqlx::query("SELECT id, name, email, role FROM users WHERE org = ? AND id = ?")
                .bind(org)
                .bind(&user.id)
                .fetch_optional(&mut *tx)
                .await?;
        let action = match existing {
            Some(row) if row_to_user(&row)? == *user => {
                summary.unchanged += 1;
                continue;
            }
            Some(_) => {
                summary.updated += 1;
                "user_update"
            }
            None => {
                summary.created += 1;
                "user_create"
            }
        };
        sqlx::query(
                    "INSERT INTO users (org, id, name, email, role, sort_key, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (org, id) DO UPDATE SET name = excluded.name, email = excluded.email,
                       role = excluded.role, sort_key = excluded.sort_key, updated_at = excluded.updated_at",
                )
                .bind(org)
                .bind(&user.id)
                .bind(&user.name)
                .bind(&user.email)
                .bind(user.role.as_str())
                .bind(sort_key(&user.name))
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        sqlx::query(AUDIT_INSERT)
            .bind(org)
            .bind(&actor)
            .bind(action)
            .bind(&user.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(summary)
}

pub(super) async fn user(store: &SqliteStore, org: &str, id: &str) -> Result<Option<User>> {
    let row = sqlx::query("SELECT id, name, email, role FROM users WHERE org = ? AND id = ?")
        .bind(org)
        .bind(id)
        .fetch_optional(&store.reader)
        .await?;
    row.as_ref().map(row_to_user).transpose()
}

pub(super) async fn list_users(
    store: &SqliteStore,
    org: &str,
    query: &UserQuery,
) -> Result<UserPage> {
    let (after_key, after_id) = match &query.cursor {
        Some(c) => cursor::decode(c)?,
        None => (String::new(), String::new()),
    };
    let limit = query.limit.clamp(1, 1000);
    let rows = sqlx::query(
                "SELECT u.id, u.name, u.email, u.role, u.sort_key, o.user_id IS NOT NULL AS opted_out
                 FROM users u LEFT JOIN opt_outs o ON o.org = u.org AND o.user_id = u.id
                 WHERE u.org = ?1
                   AND (u.sort_key, u.id) > (?2, ?3)
                   AND (?4 IS NULL OR instr(lower(u.id || ' ' || u.name || ' ' || u.email), lower(?4)) > 0)
                   AND (?5 IS NULL OR (o.user_id IS NOT NULL) = ?5)
                 ORDER BY u.sort_key, u.id
                 LIMIT ?6",
            )
            .bind(org)
            .bind(&after_key)
            .bind(&after_id)
            .bind(query.query.as_deref().filter(|q| !q.is_empty()))
            .bind(query.opted_out)
            .bind(i64::from(limit) + 1)
            .fetch_all(&store.reader)
            .await?;
    let rows = rows
        .iter()
        .map(|row| {
            let entry = DirectoryEntry {
                user: row_to_user(row)?,
                opted_out: row.try_get("opted_out")?,
            };
            Ok((entry, row.try_get::<String, _>("sort_key")?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(user_page(rows, limit))
}
