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

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use usage_protocol::Event;

    use super::*;
    use crate::sink::Source;

    fn event(id: u128, name: &str) -> Event {
        Event {
            id: uuid::Uuid::from_u128(id),
            name: name.to_owned(),
            ts: OffsetDateTime::UNIX_EPOCH,
            props: None,
            session: Some("s-1".to_owned()),
        }
    }

    #[tokio::test]
    async fn keeps_every_event_in_order_and_gives_the_newest_ids_first() {
        let sink = MemorySink::new();
        let (first, second) = ([event(1, "a"), event(2, "b")], [event(3, "c")]);
        for (org, user, events) in [("acme", "ada", &first[..]), ("globex", "bob", &second[..])] {
            let batch = Accepted {
                org,
                user,
                source: Source::Client,
                sdk: Some("usage-sdk-rust/0.1.0"),
                received_at: OffsetDateTime::UNIX_EPOCH,
                events,
            };
            sink.write(batch).await.expect("kept");
        }
        let kept: Vec<(String, String, String)> = sink
            .events()
            .into_iter()
            .map(|e| (e.org, e.user, e.name))
            .collect();
        let expected = [
            ("acme", "ada", "a"),
            ("acme", "ada", "b"),
            ("globex", "bob", "c"),
        ];
        assert_eq!(
            kept,
            expected.map(|(o, u, n)| (o.into(), u.into(), n.into()))
        );
        assert_eq!(
            sink.recent_ids(2).await.expect("ids"),
            [
                ("globex".to_owned(), uuid::Uuid::from_u128(3)),
                ("acme".to_owned(), uuid::Uuid::from_u128(2)),
            ]
        );
    }
}
