//! Reading back the ids of the events the stream stored within its
//! duplicate window, to refill the collector's dedupe window at start.
//!
//! Without it, a batch retried across a restart of the collector would be
//! answered `accepted` although JetStream drops it as a duplicate: the
//! client would be told of a store that did not happen. The duplicate window
//! is the part worth reading: a retry older than it is stored again by
//! JetStream whatever the collector answers, and it is what the broker
//! itself keeps every id of in memory, so its size is already the
//! operator's choice. Only headers are read (the id is in `Nats-Msg-Id`),
//! and every instance's events count: a retry of another instance's event
//! is a duplicate too.

use std::time::Instant;

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use futures_util::StreamExt as _;

use super::{failure, NatsSink};
use crate::Result;

/// The longest the read may take; past it the collector starts with what
/// it read, since JetStream still stores each id once.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

impl NatsSink {
    /// Calls `each` with the `(org, id)` of the newest `limit` events stored
    /// within the stream's duplicate window, oldest first.
    pub(super) async fn each_id_in_window(
        &self,
        limit: usize,
        each: &mut (dyn FnMut(&str, uuid::Uuid) + Send),
    ) -> Result<()> {
        let started = Instant::now();
        let mut stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|e| failure(std::io::ErrorKind::Other, e))?;
        let state = stream
            .info()
            .await
            .map_err(|e| failure(std::io::ErrorKind::Other, e))?
            .state
            .clone();
        let since = time::OffsetDateTime::now_utc() - self.duplicate_window;
        if limit == 0 || state.messages == 0 || state.last_timestamp < since {
            return Ok(());
        }
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: format!("{}.>", self.subject_prefix),
                headers_only: true,
                deliver_policy: DeliverPolicy::ByStartTime { start_time: since },
                ..Default::default()
            })
            .await
            .map_err(|e| failure(std::io::ErrorKind::Other, e))?;
        if consumer.cached_info().num_pending == 0 {
            // The window holds none of the sink's subjects (a stream shared
            // with other subjects); nothing would ever arrive.
            return Ok(());
        }
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| failure(std::io::ErrorKind::Other, e))?;
        let mut read = 0u64;
        loop {
            let left = DEADLINE.saturating_sub(started.elapsed());
            let Ok(next) = tokio::time::timeout(left, messages.next()).await else {
                tracing::warn!(
                    read,
                    "reading the stream's duplicate window back took over {DEADLINE:?}; \
                     retries of older events may be answered as accepted (JetStream still \
                     stores them once)"
                );
                return Ok(());
            };
            let message = next
                .ok_or_else(|| failure(std::io::ErrorKind::UnexpectedEof, "the stream ended"))?
                .map_err(|e| failure(std::io::ErrorKind::Other, e))?;
            let info = message
                .info()
                .map_err(|e| failure(std::io::ErrorKind::InvalidData, e))?;
            read += 1;
            // `pending` counts what follows this message: it is one of the
            // newest `limit` when fewer than `limit` follow.
            if info.pending < limit as u64 {
                if let Some((org, id)) = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                    .and_then(|id| parse_message_id(id.as_str()))
                {
                    each(org, id);
                }
            }
            // Stop at what the stream held when asked: events published
            // meanwhile went through a dedupe window already.
            if info.stream_sequence >= state.last_sequence || info.pending == 0 {
                tracing::debug!(read, elapsed = ?started.elapsed(), "duplicate window read back");
                return Ok(());
            }
        }
    }
}

/// The `(org, id)` of a `Nats-Msg-Id` this sink wrote; `None` for any other.
fn parse_message_id(text: &str) -> Option<(&str, uuid::Uuid)> {
    // Org ids hold no `:`, UUIDs neither: the last one separates them.
    let (org, id) = text.rsplit_once(':')?;
    Some((org, uuid::Uuid::parse_str(id).ok()?)).filter(|(org, _)| !org.is_empty())
}

#[cfg(test)]
mod tests {
    use super::super::message_id;
    use super::*;

    #[test]
    fn a_message_id_reads_back_as_the_org_and_event_id_it_was_made_of() {
        let id = uuid::Uuid::now_v7();
        for org in ["acme", "acme.eu", "a@b+c_d-e"] {
            assert_eq!(parse_message_id(&message_id(org, &id)), Some((org, id)));
        }
        // Ids published by someone else are skipped, not misread.
        for foreign in ["", "acme", ":", &format!(":{id}"), "acme:not-a-uuid"] {
            assert_eq!(parse_message_id(foreign), None, "{foreign}");
        }
    }
}
