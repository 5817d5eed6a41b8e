//! Where accepted events go: the `Sink` trait and its backends.

mod memory;
mod ndjson;
#[cfg(feature = "postgres")]
mod postgres;

pub use memory::MemorySink;
pub use ndjson::NdjsonSink;
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

/// One stored event, as sinks write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The event itself.
    #[serde(flatten)]
    pub event: Event,
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
}
