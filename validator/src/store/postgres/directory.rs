//! Orgs and their user directories, with paged listing and search.

use std::collections::HashSet;

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row as _};
use time::OffsetDateTime;

use super::super::{
    cursor, search_key, search_text, sort_key, status_action, status_json, to_ms, user_page,
    user_state, Progress, MAX_PAGE,
};
use super::audit::{self, Record};
use crate::model::{Author, DirectoryEntry, UpsertSummary, User, UserPage, UserQuery, UserStatus};
use crate::{Error, Result};

/// Most users one upsert statement writes: a progress report after each, and
/// few enough statements that planning each one costs nothing measurable.
const UPSERT_PART: usize = 2_000;

fn row_to_user(row: &PgRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: row.try_get::<String, _>("role")?.parse()?,
    })
}

pub(super) async fn ensure_org(pool: &PgPool, org: &str) -> Result<()> {
    sqlx::query("INSERT INTO orgs (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(org)
        .bind(to_ms(OffsetDateTime::now_utc()))
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn org_exists(pool: &PgPool, org: &str) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM orgs WHERE id = $1")
        .bind(org)
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}

pub(super) async fn upsert_users(
    pool: &PgPool,
    org: &str,
    users: &[User],
    author: &Author,
    progress: &Progress<'_>,
) -> Result<UpsertSummary> {
    let now = to_ms(OffsetDateTime::now_utc());
    let mut tx = pool.begin().await?;
    // FOR KEY SHARE is what the users' foreign key takes anyway; taking it
    // first answers UnknownOrg before any write.
    let org_known = sqlx::query("SELECT 1 FROM orgs WHERE id = $1 FOR KEY SHARE")
        .bind(org)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if !org_known {
        return Err(Error::UnknownOrg(org.to_owned()));
    }
    let mut summary = UpsertSummary::default();
    for run in distinct_runs(users) {
        // In id order, across the parts as within each: concurrent imports
        // of overlapping users lock their rows in one order and cannot
        // deadlock. Parts of at most `UPSERT_PART` users: statements of
        // bounded size, and a progress report after each.
        let mut sorted: Vec<&User> = run.iter().collect();
        sorted.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        for part in sorted.chunks(UPSERT_PART) {
            upsert_part(&mut tx, org, author, part, now, &mut summary).await?;
            progress(part.len());
        }
    }
    tx.commit().await?;
    Ok(summary)
}

/// Writes one part of distinct users, ids in order, with their audit
/// entries, and counts them into `summary`.
async fn upsert_part(
    tx: &mut PgConnection,
    org: &str,
    author: &Author,
    part: &[&User],
    now: i64,
    summary: &mut UpsertSummary,
) -> Result<()> {
    let written = upsert_run(tx, org, part, now).await?;
    let by_id: std::collections::HashMap<&str, &User> =
        part.iter().map(|u| (u.id.as_str(), *u)).collect();
    let mut audit_entries = Vec::with_capacity(written.len());
    for w in &written {
        let Some(user) = by_id.get(w.id.as_str()) else {
            continue;
        };
        let action = if w.created {
            summary.created += 1;
            "user_create"
        } else {
            summary.updated += 1;
            "user_update"
        };
        audit_entries.push(Record {
            action,
            target: &w.id,
            before: w
                .before
                .as_ref()
                .map(|(old, status)| user_state(old, *status)),
            after: Some(user_state(user, w.status)),
        });
    }
    summary.unchanged += (part.len() - written.len()) as u64;
    audit::record_many(tx, org, author, &audit_entries, now).await
}

/// Splits `users` into consecutive runs without a repeated id: one statement
/// cannot write the same row twice, and the later record of an id must win.
fn distinct_runs(users: &[User]) -> Vec<&[User]> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut seen = HashSet::new();
    for (i, user) in users.iter().enumerate() {
        if !seen.insert(user.id.as_str()) {
            runs.push(&users[start..i]);
            start = i;
            seen.clear();
            seen.insert(user.id.as_str());
        }
    }
    if start < users.len() {
        runs.push(&users[start..]);
    }
    runs
}

/// A user an upsert created or changed.
struct Written {
    id: String,
    created: bool,
    status: UserStatus,
    /// The record and status before, as the statement's snapshot saw them.
    before: Option<(User, UserStatus)>,
}

/// Writes one run of distinct users; returns, in input order, those created
/// or changed. The comparison happens under the row lock, so concurrent
/// instances never count a user twice. A removed user comes back active; a
/// deactivated one stays deactivated.
async fn upsert_run(
    conn: &mut PgConnection,
    org: &str,
    users: &[&User],
    now: i64,
) -> Result<Vec<Written>> {
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
    let roles: Vec<&str> = users.iter().map(|u| u.role.as_str()).collect();
    let sort_keys: Vec<String> = users.iter().map(|u| sort_key(&u.name)).collect();
    let search_keys: Vec<String> = users.iter().map(|u| search_key(u)).collect();
    // Rows are written in id order, so concurrent upserts of overlapping
    // users lock them in the same order and cannot deadlock; the result comes
    // back in input order. `xmax = 0` holds exactly for freshly inserted rows.
    // `old` reads the statement's snapshot: the record as it was before.
    // Not a prepared statement kept for reuse: from its sixth run on a
    // connection PostgreSQL may plan it once for any arguments, and that plan
    // read `old` as a scan of the whole org per written row (100,000 users
    // in parts of 500 took 53 s instead of 2).
    let rows = sqlx::query(
        "WITH input AS (
             SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[])
                 WITH ORDINALITY AS t (id, name, email, role, sort_key, search_text, n)
         ), old AS (
             SELECT id, name, email, role, status FROM users
             WHERE org = $1 AND id = ANY($2::text[])
         ), written AS (
             INSERT INTO users (org, id, name, email, role, sort_key, search_text, status, created_at, updated_at)
             SELECT $1, id, name, email, role, sort_key, search_text, 'active', $7, $7
             FROM input ORDER BY id COLLATE \"C\"
             ON CONFLICT (org, id) DO UPDATE SET name = excluded.name, email = excluded.email,
                 role = excluded.role, sort_key = excluded.sort_key,
                 search_text = excluded.search_text,
                 status = CASE WHEN users.status = 'removed' THEN 'active' ELSE users.status END,
                 updated_at = excluded.updated_at
             WHERE (users.name, users.email, users.role)
                 IS DISTINCT FROM (excluded.name, excluded.email, excluded.role)
                 OR users.status = 'removed'
             RETURNING id, xmax = 0 AS created, status
         )
         SELECT written.id, written.created, written.status,
                old.name AS old_name, old.email AS old_email, old.role AS old_role,
                old.status AS old_status
         FROM written JOIN input USING (id) LEFT JOIN old USING (id) ORDER BY input.n",
    )
    .bind(org)
    .bind(&ids)
    .bind(&names)
    .bind(&emails)
    .bind(&roles)
    .bind(&sort_keys)
    .bind(now)
    .bind(&search_keys)
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let created: bool = row.try_get("created")?;
            let old_status: Option<String> = row.try_get("old_status")?;
            let before = match (created, old_status) {
                (false, Some(old_status)) => Some((
                    User {
                        id: id.clone(),
                        name: row.try_get("old_name")?,
                        email: row.try_get("old_email")?,
                        role: row.try_get::<String, _>("old_role")?.parse()?,
                    },
                    old_status.parse()?,
                )),
                _ => None,
            };
            Ok(Written {
                created,
                status: row.try_get::<String, _>("status")?.parse()?,
                before,
                id,
            })
        })
        .collect()
}

pub(super) async fn user_with_status(
    pool: &PgPool,
    org: &str,
    id: &str,
) -> Result<Option<(User, UserStatus)>> {
    let row =
        sqlx::query("SELECT id, name, email, role, status FROM users WHERE org = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .fetch_optional(pool)
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
    pool: &PgPool,
    org: &str,
    users: &[String],
    status: UserStatus,
    author: &Author,
) -> Result<Vec<String>> {
    let now = to_ms(OffsetDateTime::now_utc());
    let mut tx = pool.begin().await?;
    // Locked in id order, as upserts lock them, so the two cannot deadlock.
    let rows = sqlx::query(
        "SELECT id, status FROM users WHERE org = $1 AND id = ANY($2) AND status <> 'removed'
         ORDER BY id FOR UPDATE",
    )
    .bind(org)
    .bind(users)
    .fetch_all(&mut *tx)
    .await?;
    let mut current = std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        let old: UserStatus = row.try_get::<String, _>("status")?.parse()?;
        current.insert(id, old);
    }
    let unknown: Vec<String> = users
        .iter()
        .filter(|u| !current.contains_key(*u))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownUsers(unknown));
    }
    let changed: Vec<(&String, UserStatus)> = users
        .iter()
        .filter_map(|u| current.get(u).map(|old| (u, *old)))
        .filter(|(_, old)| *old != status)
        .collect();
    let ids: Vec<&str> = changed.iter().map(|(id, _)| id.as_str()).collect();
    sqlx::query("UPDATE users SET status = $3, updated_at = $4 WHERE org = $1 AND id = ANY($2)")
        .bind(org)
        .bind(&ids)
        .bind(status.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let entries: Vec<Record> = changed
        .iter()
        .map(|(id, old)| Record {
            action: status_action(status),
            target: id,
            before: Some(status_json(*old)),
            after: Some(status_json(status)),
        })
        .collect();
    audit::record_many(&mut tx, org, author, &entries, now).await?;
    tx.commit().await?;
    Ok(ids.into_iter().map(str::to_owned).collect())
}

pub(super) async fn list_users(pool: &PgPool, org: &str, query: &UserQuery) -> Result<UserPage> {
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
         WHERE u.org = $1 AND u.status <> 'removed'
           AND (u.sort_key, u.id) > ($2, $3)
           AND ($4::text IS NULL OR strpos(u.search_text, $4) > 0)
           AND ($5::boolean IS NULL OR (o.user_id IS NOT NULL) = $5)
           AND ($6::boolean IS NULL OR (u.status = 'active') = $6)
         ORDER BY u.sort_key, u.id
         LIMIT $7",
    )
    .bind(org)
    .bind(&after_key)
    .bind(&after_id)
    .bind(search_text(query.query.as_deref()))
    .bind(query.opted_out)
    .bind(query.active)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            name: name.into(),
            email: String::new(),
            role: Role::User,
        }
    }

    #[test]
    fn a_repeated_id_starts_a_new_run() {
        let users = [
            user("a", "1"),
            user("b", "1"),
            user("a", "2"),
            user("c", "1"),
        ];
        let runs: Vec<Vec<&str>> = distinct_runs(&users)
            .iter()
            .map(|run| run.iter().map(|u| u.id.as_str()).collect())
            .collect();
        assert_eq!(runs, vec![vec!["a", "b"], vec!["a", "c"]]);
        assert!(distinct_runs(&[]).is_empty());
    }
}
