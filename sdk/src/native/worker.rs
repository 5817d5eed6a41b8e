//! The worker thread, and the blocking calls that wait for it: `flush`,
//! `shutdown`, and the implicit shutdown when the last tracker clone drops.

use std::sync::mpsc::sync_channel;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::shared::lock;
use crate::tracker::{Asked, Inner, Tracker};

/// How long dropping the tracker waits for the worker to write down what is
/// still in its channel.
const DROP_PERSIST_WAIT: Duration = Duration::from_secs(2);
/// Extra wait beyond the worker's own deadline, so its answer arrives first.
const ANSWER_GRACE: Duration = Duration::from_millis(250);

/// The delivery thread.
#[derive(Debug)]
pub(crate) struct Worker {
    thread: JoinHandle<()>,
}

impl Worker {
    pub(crate) fn spawn(body: impl FnOnce() + Send + 'static) -> std::io::Result<Self> {
        let thread = std::thread::Builder::new()
            .name("usage-sdk-worker".to_owned())
            .spawn(body)?;
        Ok(Self { thread })
    }
}

impl Inner {
    /// Asks for a flush or shutdown that delivers for up to `timeout`, and
    /// waits up to `timeout + grace` for its answer.
    fn wait_for(&self, timeout: Duration, shutdown: bool, grace: Duration) -> bool {
        let (answer, answered) = sync_channel(1);
        let reply = Box::new(move |delivered: bool| {
            // The caller may have stopped waiting; then nobody needs the answer.
            let _ = answer.send(delivered);
        });
        match self.ask(timeout, shutdown, reply) {
            Asked::NoLoop => true,
            Asked::Gone => false,
            Asked::Sent => answered
                .recv_timeout(timeout.saturating_add(grace))
                .unwrap_or(false),
        }
    }
}

impl Tracker {
    /// Sends what is queued now, without waiting for the batch interval, and
    /// waits up to `timeout`. Returns whether nothing sendable is left unsent
    /// (events held for a login do not count). Blocks the calling thread: in
    /// async code, call it from `spawn_blocking`.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.inner.wait_for(timeout, false, ANSWER_GRACE)
    }

    /// Flushes for up to `timeout`, then stops the worker; later events are
    /// dropped. What was not delivered stays on disk for the next run.
    /// Returns whether everything was delivered.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        if self.inner.shared.gate.mode() == crate::core::gate::Mode::Closed {
            return false;
        }
        let delivered = self.inner.wait_for(timeout, true, ANSWER_GRACE);
        self.inner.shared.gate.close();
        self.inner.join_worker();
        delivered
    }
}

impl Inner {
    /// Waits for the worker thread to end, which releases the data folder.
    fn join_worker(&self) {
        let Some(worker) = lock(&self.running).take() else {
            return;
        };
        // A callback run by the worker may drop the last tracker clone: the
        // thread cannot wait for itself, and ends right after anyway.
        if worker.thread.thread().id() == std::thread::current().id() {
            return;
        }
        if worker.thread.join().is_err() {
            tracing::error!("the usage-sdk worker panicked");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.shared.gate.mode() == crate::core::gate::Mode::Closed {
            return;
        }
        // Delivery is not awaited here (the journal keeps what is unsent), only
        // the writing-down of events still in the channel.
        self.wait_for(Duration::ZERO, true, DROP_PERSIST_WAIT);
        self.shared.gate.close();
        self.join_worker();
    }
}
