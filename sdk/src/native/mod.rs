//! Native platform: a worker thread with its own tokio runtime, reqwest for
//! HTTP, files for the cached login and the journal, which `track()` appends
//! to itself.

mod build;
mod clock;
mod dirs;
mod journal;
mod lock;
mod storage;
mod transport;
mod worker;

pub(crate) use storage::DEFAULT_MAX_JOURNAL_BYTES;
/// What a tracker keeps of its running delivery loop.
pub(crate) use worker::Worker as Running;
