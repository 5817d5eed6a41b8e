//! `flush` and `shutdown` in the browser: promises the page can await instead
//! of blocking calls.

use std::time::Duration;

use futures_channel::oneshot;

use crate::core::gate::Mode;
use crate::tracker::{Asked, Inner, Tracker};

impl Inner {
    /// Asks for a flush or shutdown that delivers for up to `timeout`, and
    /// waits for its answer (the loop always answers by the deadline).
    async fn wait_for(&self, timeout: Duration, shutdown: bool) -> bool {
        let (answer, answered) = oneshot::channel();
        let reply = Box::new(move |delivered: bool| {
            // The caller may have stopped waiting; then nobody needs the answer.
            let _ = answer.send(delivered);
        });
        match self.ask(timeout, shutdown, reply) {
            Asked::NoLoop => true,
            Asked::Gone => false,
            Asked::Sent => answered.await.unwrap_or(false),
        }
    }
}

impl Tracker {
    /// Sends what is queued now, without waiting for the batch interval, and
    /// waits up to `timeout`. Resolves to whether nothing sendable is left
    /// unsent (events held for a login do not count).
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.inner.wait_for(timeout, false).await
    }

    /// Flushes for up to `timeout`, then stops the delivery loop; later events
    /// are dropped. What was not delivered stays in `localStorage` for the
    /// next visit. Resolves to whether everything was delivered.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        if self.inner.shared.gate.mode() == Mode::Closed {
            return false;
        }
        let delivered = self.inner.wait_for(timeout, true).await;
        self.inner.shared.gate.close();
        delivered
    }
}
