use std::sync::Mutex;

use super::{Accepted, Sink, StoredEvent};
use crate::store::BoxFuture;
use crate::Result;

/// A sink that keeps events in memory: for tests and for library users who
/// forward events themselves.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<StoredEvent>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything stored so far.
    pub fn events(&self) -> Vec<StoredEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Sink for MemorySink {
    fn write<'a>(&'a self, batch: Accepted<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            events.extend(
                batch
                    .events
                    .iter()
                    .map(|event| StoredEvent::new(&batch, event)),
            );
            Ok(())
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn recent_ids(&self, limit: usize) -> BoxFuture<'_, Result<Vec<(String, uuid::Uuid)>>> {
        Box::pin(async move {
            let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            Ok(events
                .iter()
                .rev()
                .take(limit)
                .map(|e| (e.org.clone(), e.id))
                .collect())
        })
    }
}
