//! Where accepted events go: the `Sink` trait and its backends.

mod memory;
#[cfg(feature = "nats")]
mod nats;
mod ndjson;
#[cfg(feature = "postgres")]
mod postgres;

pub use memory::MemorySink;
#[cfg(feature = "nats")]
pub use nats::{NatsConfig, NatsSink};
pub use ndjson::{Fsync, NdjsonOptions, NdjsonSink};
#[cfg(feature = "postgres")]
pub use postgres::PostgresSink;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use usage_protocol::Event;

use crate::store::BoxFuture;
use crate::Result;

/// Whether an event came from a client SDK or from a back end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Sent by a client to `POST /v1/batch`.
    Client,
    /// Sent by a back end to `POST /v1/server-events`.
    Server,
}

/// Accepted events of one batch, with whose they are.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'a> {
    /// The org.
    pub org: &'a str,
    /// The user.
    pub user: &'a str,
    /// Where the batch came from.
    pub source: Source,
    /// The SDK that sent it (`name/version`), for client batches.
    pub sdk: Option<&'a str>,
    /// When the collector received it.
    pub received_at: OffsetDateTime,
    /// The events, already checked.
    pub events: &'a [Event],
}

/// One stored event, as sinks write it: the event's fields beside whose it
/// is. (Spelled out rather than `#[serde(flatten)]`, which cannot carry the
/// raw `props`.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEvent {
    /// The org.
    pub org: String,
    /// The user.
    pub user: String,
    /// Where it came from.
    pub source: Source,
    /// When the collector received it.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// The SDK that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<String>,
    /// The event's id.
    pub id: uuid::Uuid,
    /// The event's name.
    pub name: String,
    /// When it happened, by the client's clock.
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
    /// Its properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub props: Option<Box<serde_json::value::RawValue>>,
    /// Its session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl StoredEvent {
    /// The stored event for `event` of `batch`.
    pub fn new(batch: &Accepted<'_>, event: &Event) -> Self {
        Self {
            org: batch.org.to_owned(),
            user: batch.user.to_owned(),
            source: batch.source,
            received_at: batch.received_at,
            sdk: batch.sdk.map(str::to_owned),
            id: event.id,
            name: event.name.clone(),
            ts: event.ts,
            props: event.props.clone(),
            session: event.session.clone(),
        }
    }

    /// The event as the client sent it.
    pub fn event(&self) -> Event {
        Event {
            id: self.id,
            name: self.name.clone(),
            ts: self.ts,
            props: self.props.clone(),
            session: self.session.clone(),
        }
    }
}

/// Durable storage of accepted events.
///
/// `write` returns only once the events are stored as durably as the sink
/// promises, because the collector acknowledges them right after.
pub trait Sink: Send + Sync + std::fmt::Debug + 'static {
    /// Stores the accepted events of one batch.
    fn write<'a>(&'a self, batch: Accepted<'a>) -> BoxFuture<'a, Result<()>>;

    /// Pushes anything buffered to durable storage.
    fn flush(&self) -> BoxFuture<'_, Result<()>>;

    /// The `(org, id)` of up to `limit` most recently stored events, newest
    /// first, to refill the dedupe window after a restart.
    fn recent_ids(&self, limit: usize) -> BoxFuture<'_, Result<Vec<(String, uuid::Uuid)>>>;

    /// Calls `each` with the `(org, id)` of up to `limit` most recently
    /// stored events, oldest first: how [`Dedupe::refill`] reads them.
    /// Sinks whose store is large stream them here, so memory stays bounded
    /// however many events they hold; by default the ids are read with
    /// [`Sink::recent_ids`].
    ///
    /// [`Dedupe::refill`]: crate::dedupe::Dedupe::refill
    fn each_recent_id<'a>(
        &'a self,
        limit: usize,
        each: &'a mut (dyn FnMut(&str, uuid::Uuid) + Send),
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for (org, id) in self.recent_ids(limit).await?.iter().rev() {
                each(org, *id);
            }
            Ok(())
        })
    }

    /// Whether events can be stored now; a sink on a remote service says no
    /// while it cannot reach it, and `/readyz` reports that.
    fn ready(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Appends the sink's own metrics, in the Prometheus text format with
    /// names prefixed `usage_`, to `out`.
    fn render_metrics(&self, out: &mut String) {
        let _ = out;
    }
}
