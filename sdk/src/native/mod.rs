//! Native platform: a worker thread with its own tokio runtime, reqwest for
//! HTTP, files for the cached login and the journal.

mod build;
mod clock;
mod dirs;
mod storage;
mod transport;
mod worker;

pub(crate) use worker::Worker;
