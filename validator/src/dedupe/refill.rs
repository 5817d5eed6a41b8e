//! Refilling the window at start-up from what the sink already stored, so a
//! client's retry after a restart is still recognised.

use super::Dedupe;
use crate::sink::Sink;
use crate::Result;

impl Dedupe {
    /// Remembers the newest `limit` event ids the sink holds, oldest first,
    /// and returns how many were read.
    pub async fn refill_from(&self, sink: &dyn Sink, limit: usize) -> Result<usize> {
        let recent = sink.recent_ids(limit).await?;
        let keys: Vec<u128> = recent
            .iter()
            .rev()
            .map(|(org, id)| self.key(org, *id))
            .collect();
        let mut fresh = Vec::new();
        self.insert_all(&keys, &mut fresh);
        Ok(keys.len())
    }
}
