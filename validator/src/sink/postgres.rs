//! A sink into a PostgreSQL table, `usage_events`, for many instances.
//!
//! `(org, id)` is unique, so an event retried through another instance (whose
//! dedupe window never saw it) is still stored once.

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, QueryBuilder, Row as _};

use super::{Accepted, Sink};
use crate::store::{to_ms, BoxFuture};
use crate::Result;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS usage_events (
    seq         BIGSERIAL PRIMARY KEY,
    org         TEXT NOT NULL,
    id          UUID NOT NULL,
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    ts          TEXT NOT NULL,
    props       JSONB,
    session     TEXT,
    source      TEXT NOT NULL,
    sdk         TEXT,
    received_at BIGINT NOT NULL,
    UNIQUE (org, id)
)";

/// Events in the `usage_events` table.
#[derive(Debug, Clone)]
pub struct PostgresSink {
    pool: PgPool,
}

impl PostgresSink {
    /// Connects and creates the table if it is missing.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
        Self::with_pool(pool).await
    }

    /// Uses an existing pool, creating the table if it is missing.
    pub async fn with_pool(pool: PgPool) -> Result<Self> {
        sqlx::query(SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }

    /// How many events are stored for `org`.
    pub async fn count(&self, org: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events WHERE org = $1")
            .bind(org)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl Sink for PostgresSink {
    fn write<'a>(&'a self, batch: Accepted<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if batch.events.is_empty() {
                return Ok(());
            }
            let source = match batch.source {
                super::Source::Client => "client",
                super::Source::Server => "server",
            };
            let received = to_ms(batch.received_at);
            let ts: Vec<String> = batch
                .events
                .iter()
                .map(|e| {
                    e.ts.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                })
                .collect();
            let mut query = QueryBuilder::new(
                "INSERT INTO usage_events (org, id, user_id, name, ts, props, session, source, sdk, received_at) ",
            );
            query.push_values(batch.events.iter().zip(&ts), |mut row, (event, ts)| {
                row.push_bind(batch.org)
                    .push_bind(event.id.to_string())
                    .push_unseparated("::uuid")
                    .push_bind(batch.user)
                    .push_bind(&event.name)
                    .push_bind(ts)
                    .push_bind(event.props.as_ref().map(|p| p.get()))
                    .push_unseparated("::jsonb")
                    .push_bind(event.session.as_deref())
                    .push_bind(source)
                    .push_bind(batch.sdk)
                    .push_bind(received);
            });
            query.push(" ON CONFLICT (org, id) DO NOTHING");
            query.build().execute(&self.pool).await?;
            Ok(())
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        // Every write is its own committed statement.
        Box::pin(async { Ok(()) })
    }

    fn each_recent_id<'a>(
        &'a self,
        limit: usize,
        each: &'a mut (dyn FnMut(&str, uuid::Uuid) + Send),
    ) -> BoxFuture<'a, Result<()>> {
        // Pages in the order stored, from the oldest of the newest `limit`:
        // memory stays one page whatever the table holds.
        const PAGE: i64 = 10_000;
        Box::pin(async move {
            let Some(skip) = limit.checked_sub(1) else {
                return Ok(());
            };
            let oldest: Option<i64> = sqlx::query_scalar(
                "SELECT seq FROM usage_events ORDER BY seq DESC OFFSET $1 LIMIT 1",
            )
            .bind(i64::try_from(skip).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await?;
            let mut after = oldest.map_or(0, |seq| seq - 1);
            loop {
                let rows = sqlx::query(
                    "SELECT seq, org, id::text AS id FROM usage_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await?;
                let Some(last) = rows.last() else {
                    return Ok(());
                };
                after = last.try_get("seq")?;
                for row in &rows {
                    let id: String = row.try_get("id")?;
                    if let Ok(id) = uuid::Uuid::parse_str(&id) {
                        each(row.try_get("org")?, id);
                    }
                }
            }
        })
    }

    fn recent_ids(&self, limit: usize) -> BoxFuture<'_, Result<Vec<(String, uuid::Uuid)>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT org, id::text AS id FROM usage_events ORDER BY seq DESC LIMIT $1",
            )
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in rows {
                let id: String = row.try_get("id")?;
                if let Ok(id) = uuid::Uuid::parse_str(&id) {
                    ids.push((row.try_get("org")?, id));
                }
            }
            Ok(ids)
        })
    }
}
