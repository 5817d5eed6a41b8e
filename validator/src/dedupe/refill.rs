//! Refilling the window at start-up from what the sink already stored, so a
//! client's retry after a restart is still recognised.

use super::Dedupe;
use crate::sink::Sink;
use crate::Result;

impl Dedupe {
    /// Refills the window from the ids `sink` stored last, as after a
    /// restart, so a batch retried across the restart is still a duplicate;
    /// returns how many ids the window remembers. The ids come in oldest
    /// first and go in in pieces: beyond the window itself this holds one
    /// piece of keys in memory, whatever the sink holds.
    pub async fn refill(&self, sink: &dyn Sink) -> Result<usize> {
        const PIECE: usize = 4096;
        let capacity = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .capacity;
        let mut keys = Vec::with_capacity(PIECE);
        let mut fresh = Vec::with_capacity(PIECE);
        sink.each_recent_id(capacity, &mut |org, id| {
            keys.push(self.key(org, id));
            if keys.len() == PIECE {
                self.insert_all(&keys, &mut fresh);
                keys.clear();
            }
        })
        .await?;
        self.insert_all(&keys, &mut fresh);
        Ok(self.len())
    }
}
