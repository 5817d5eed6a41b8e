//! What a platform supplies to the shared tracker: a clock, a timer, a transport
//! and storage. Native implementations live in `native/`.

use std::future::Future;

use crate::core::engine::Outgoing;
use crate::core::reply::{HttpReply, TransportError};
use crate::core::session::CachedSession;

/// Wall-clock and monotonic time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Unix time in milliseconds, for event timestamps and ids.
    fn wall_ms(&self) -> i64;
    /// Milliseconds from an arbitrary start that never goes back, for scheduling.
    fn mono_ms(&self) -> u64;
}

/// Waiting without blocking the worker.
pub trait Timer {
    /// Completes after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
}

/// Puts a batch on the wire to `POST {endpoint}/v1/batch`.
pub trait Transport {
    /// Sends one batch; the future owns what it needs, so several can be kept.
    fn send(
        &self,
        batch: Outgoing,
    ) -> impl Future<Output = Result<HttpReply, TransportError>> + 'static;
}

/// Why storage failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// Where the cached login and the journal of unsent events are kept.
pub trait Storage {
    /// The cached login, if any.
    fn load_session(&mut self) -> Result<Option<CachedSession>, StorageError>;
    /// Replaces the cached login; `None` clears it.
    fn save_session(&mut self, session: Option<&CachedSession>) -> Result<(), StorageError>;
    /// The whole journal.
    fn load_journal(&mut self) -> Result<Vec<u8>, StorageError>;
    /// Adds lines to the end of the journal.
    fn append_journal(&mut self, lines: &[u8]) -> Result<(), StorageError>;
    /// Replaces the journal as one step.
    fn replace_journal(&mut self, content: &[u8]) -> Result<(), StorageError>;
}
