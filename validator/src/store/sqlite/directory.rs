//! The user directory in the SQLite store: upserts, status, lookups and listing.

use sqlx::Row as _;
use time::OffsetDateTime;

use super::audit::{self, Record};
use super::{row_to_user, SqliteStore};
use crate::model::{Author, DirectoryEntry, UpsertSummary, User, UserPage, UserQuery, UserStatus};
use crate::store::{
    cursor, search_key, search_text, sort_key, status_action, status_json, to_ms, user_page,
    user_state, Progress, MAX_PAGE,
};
use crate::{Error, Result};

pub(super) async fn upsert_users(
    store: &SqliteStore,
    org: &str,
    users: &[User],
    author: &Author,
    progress: &Progress<'_>,
) -> Result<UpsertSummary> {
    let now = to_ms(OffsetDateTime::now_utc());
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
            sqlx::query("SELECT id, name, email, role, status FROM users WHERE org = ? AND id = ?")
                .bind(org)
                .bind(&user.id)
                .fetch_optional(&mut *tx)
                .await?;
        let before = match existing {
            Some(row) => Some((
                row_to_user(&row)?,
                row.try_get::<String, _>("status")?.parse()?,
            )),
            None => None,
        };
        // A removed user named again comes back; a deactivated one stays so.
        let status = match &before {
            Some((_, UserStatus::Deactivated)) => UserStatus::Deactivated,
            _ => UserStatus::Active,
        };
        let action = match &before {
            Some((old, old_status)) if old == user && *old_status == status => {
                summary.unchanged += 1;
                progress(1);
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
            "INSERT INTO users (org, id, name, email, role, sort_key, search_text, status, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (org, id) DO UPDATE SET name = excluded.name, email = excluded.email,
               role = excluded.role, sort_key = excluded.sort_key,
               search_text = excluded.search_text, status = excluded.status,
               updated_at = excluded.updated_at",
        )
        .bind(org)
        .bind(&user.id)
        .bind(&user.name)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(sort_key(&user.name))
        .bind(search_key(user))
        .bind(status.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let entry = Record {
            action,
            target: &user.id,
            before: before.map(|(old, old_status)| user_state(&old, old_status)),
            after: Some(user_state(user, status)),
        };
        audit::record(&mut tx, org, author, &entry, now).await?;
        progress(1);
    }
    tx.commit().await?;
    Ok(summary)
}

pub(super) async fn user_with_status(
    store: &SqliteStore,
    org: &str,
    id: &str,
) -> Result<Option<(User, UserStatus)>> {
    let row =
        sqlx::query("SELECT id, name, email, role, status FROM users WHERE org = ? AND id = ?")
            .bind(org)
            .bind(id)
            .fetch_optional(&store.reader)
            .await?;
    match row {
        Some(row) => Ok(Some((
            row_to_user(&row)?,
            row.try_get::<String, _>("status")?.parse()?,
        ))),
        None => Ok(None),
    }
}

pub(super) async fn set_user_status(
    store: &SqliteStore,
    org: &str,
    users: &[String],
    status: UserStatus,
    author: &Author,
) -> Result<Vec<String>> {
    let now = to_ms(OffsetDateTime::now_utc());
    let mut tx = store.writer.begin().await?;
    let mut current = Vec::with_capacity(users.len());
    let mut unknown = Vec::new();
    for user in users {
        let found: Option<String> =
            sqlx::query_scalar("SELECT status FROM users WHERE org = ? AND id = ?")
                .bind(org)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
        match found.map(|s| s.parse::<UserStatus>()).transpose()? {
            Some(UserStatus::Removed) | None => unknown.push(user.clone()),
            Some(old) => current.push((user, old)),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::UnknownUsers(unknown));
    }
    let mut changed = Vec::new();
    for (user, old) in current {
        if old == status {
            continue;
        }
        sqlx::query("UPDATE users SET status = ?, updated_at = ? WHERE org = ? AND id = ?")
            .bind(status.as_str())
            .bind(now)
            .bind(org)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        let entry = Record {
            action: status_action(status),
            target: user,
            before: Some(status_json(old)),
            after: Some(status_json(status)),
        };
        audit::record(&mut tx, org, author, &entry, now).await?;
        changed.push(user.clone());
    }
    tx.commit().await?;
    Ok(changed)
}

pub(super) async fn list_users(
    store: &SqliteStore,
    org: &str,
    query: &UserQuery,
) -> Result<UserPage> {
    let (after_key, after_id) = match &query.cursor {
        Some(c) => {
            let [key, id] = cursor::decode::<2>(cursor::USERS, c)?;
            (key, id)
        }
        None => (String::new(), String::new()),
    };
    let limit = query.limit.clamp(1, MAX_PAGE);
    let rows = sqlx::query(
        "SELECT u.id, u.name, u.email, u.role, u.sort_key, u.status,
                o.user_id IS NOT NULL AS opted_out
         FROM users u LEFT JOIN opt_outs o ON o.org = u.org AND o.user_id = u.id
         WHERE u.org = ?1 AND u.status <> 'removed'
           AND (u.sort_key, u.id) > (?2, ?3)
           AND (?4 IS NULL OR instr(u.search_text, ?4) > 0)
           AND (?5 IS NULL OR (o.user_id IS NOT NULL) = ?5)
           AND (?6 IS NULL OR (u.status = 'active') = ?6)
         ORDER BY u.sort_key, u.id
         LIMIT ?7",
    )
    .bind(org)
    .bind(&after_key)
    .bind(&after_id)
    .bind(search_text(query.query.as_deref()))
    .bind(query.opted_out)
    .bind(query.active)
    .bind(i64::from(limit) + 1)
    .fetch_all(&store.reader)
    .await?;
    let rows = rows
        .iter()
        .map(|row| {
            let entry = DirectoryEntry {
                user: row_to_user(row)?,
                opted_out: row.try_get("opted_out")?,
                active: row.try_get::<String, _>("status")? == "active",
            };
            Ok((entry, row.try_get::<String, _>("sort_key")?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(user_page(rows, limit))
}
