//! What a platform supplies to the shared tracker: a clock, a timer, a transport
//! and storage. Native implementations live in `native/`.

use std::future::Future;
use std::time::Duration;

use crate::core::encoded::EncodedEvent;
use crate::core::engine::Outgoing;
use crate::core::reply::{HttpReply, TransportError};
use crate::core::session::CachedSession;

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

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
    /// Replaces the journal as one step. Storage that also holds events
    /// `track()` appended itself keeps those, and may wait with the
    /// replacement until it frees enough space.
    fn replace_journal(&mut self, content: &[u8]) -> Result<(), StorageError>;
    /// Whether a replacement holding about `live_bytes` is worth making now;
    /// asked before the content is built.
    fn wants_replacement(&self, live_bytes: usize) -> bool {
        let _ = live_bytes;
        true
    }
    /// The journal a new tracker starts from, with at most `room` unsent events
    /// to take into memory; storage that can keep the rest on disk leaves them there.
    fn restore_journal(&mut self, room: usize) -> Result<Vec<u8>, StorageError> {
        let _ = room;
        self.load_journal()
    }
    /// Where the journal `track()` appends to ends now: a later
    /// [`Storage::take_appended`] reads no further.
    fn appended_mark(&self) -> u64 {
        0
    }
    /// Events that `track()` appended to the journal itself since the last
    /// call and before `mark`, with the user they were tracked under, at most
    /// `room` of them.
    fn take_appended(
        &mut self,
        room: usize,
        mark: u64,
        into: &mut Vec<Appended>,
    ) -> Result<(), StorageError> {
        let _ = (room, mark, into);
        Ok(())
    }
    /// Whether the journal nears its size bound, so that it should be
    /// replaced (dropping its oldest events) even if nothing else asks;
    /// `live_bytes` is about the size of the events in memory.
    fn nearly_full(&self, live_bytes: usize) -> bool {
        let _ = live_bytes;
        false
    }
    /// Ids of events the storage dropped, oldest first, to stay within its
    /// bound; each call returns those dropped since the last.
    fn take_dropped(&mut self) -> Vec<uuid::Uuid> {
        Vec::new()
    }
    /// Gets the journal `track()` appends to ready for the next lines, so
    /// that appending stays cheap; called on every turn of the delivery loop.
    fn prepare_appends(&self) {}
    /// Whether events appended by `track()` wait unread.
    fn appended_waiting(&self) -> bool {
        false
    }
}

/// An event `track()` appended to the journal: the user it was tracked
/// under, the event, and the length of its line (at least its size in a batch).
pub(crate) type Appended = (Option<String>, EncodedEvent, usize);

/// Why `track()` could not write its event to the journal.
// Only native journals make these; the browser's cannot be appended to by `track()`.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The journal reached its size bound.
    Full,
    /// The operating system refused the write.
    Failed(String),
}

/// A journal that `track()` appends its event to before it returns, on
/// platforms where that write survives the process being killed.
pub trait Appender: Send + Sync + std::fmt::Debug {
    /// Appends whole lines with one write.
    fn append(&self, line: &[u8]) -> Result<(), AppendError>;
}
