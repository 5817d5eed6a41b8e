//! A sink into a NATS JetStream stream, the log that vendors' pipelines read.
//!
//! Every accepted event becomes one message on `<prefix>.<org>` (default
//! prefix `usage.events`). Its payload is the [`StoredEvent`] record, the same
//! JSON object the NDJSON sink writes as a line. Headers:
//!
//! * `Nats-Msg-Id: <org>:<event id>`: JetStream stores a message whose id it
//!   has seen within the stream's duplicate window once, so a batch retried
//!   through another instance (whose own dedupe window never saw it) is still
//!   stored once;
//! * `Usage-Org`, `Usage-User`, `Usage-Source` (`client` or `server`): whose the
//!   event is, for routing without parsing the payload.
//!
//! Org ids may hold `.`, which separates subject tokens; it is written `%2E`
//! in the subject (`%` is not allowed in ids, so nothing else is changed and
//! the header keeps the org as it is).
//!
//! [`Sink::write`] returns only once JetStream has acknowledged every event of
//! the batch, within the configured bound; otherwise it fails and the
//! collector answers 503 with `Retry-After`. A message that reached the broker
//! after its batch failed is harmless: the retry carries the same
//! `Nats-Msg-Id`.

mod auth;
mod servers;
mod stats;
mod tail;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::{self, message::PublishMessage, stream};

use super::{Accepted, Sink, Source, StoredEvent};
use crate::store::BoxFuture;
use crate::{Error, Result};
use stats::{Failure, PublishStats};

/// Where and how the sink publishes.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// Server URL, `nats://host:port` (credentials may ride in it,
    /// percent-encoded: `nats://user:password@host:port` or
    /// `nats://token@host:port`), or several, comma-separated.
    pub url: String,
    /// An authentication token, when the server wants one.
    pub token: Option<String>,
    /// User and password, when the server wants them and they are not in
    /// the URL.
    pub user_password: Option<(String, String)>,
    /// A `.creds` file (user JWT and nkey seed), for a server in operator
    /// mode.
    pub creds_file: Option<PathBuf>,
    /// A file holding an nkey user seed (`SU...`), for a server that lists
    /// users by nkey.
    pub nkey_file: Option<PathBuf>,
    /// Subjects are `<prefix>.<org>`.
    pub subject_prefix: String,
    /// The stream that holds the subjects.
    pub stream: String,
    /// Create the stream when it is absent (else it must exist).
    pub create_stream: bool,
    /// The duplicate window of a stream this sink creates.
    pub duplicate_window: Duration,
    /// How long a batch may wait for JetStream's acknowledgements (and a
    /// connection attempt or readiness check for its answer).
    pub timeout: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            token: None,
            user_password: None,
            creds_file: None,
            nkey_file: None,
            subject_prefix: "usage.events".to_owned(),
            stream: "USAGE_EVENTS".to_owned(),
            create_stream: true,
            duplicate_window: Duration::from_secs(120),
            timeout: Duration::from_secs(2),
        }
    }
}

impl NatsConfig {
    /// The settings of the stream this sink creates when it is absent: every
    /// subject under the prefix, the duplicate window, and JetStream's own
    /// defaults for the rest: file storage, one replica, no limit, so
    /// retention is the operator's choice.
    pub fn stream_config(&self) -> stream::Config {
        stream::Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.subject_prefix)],
            duplicate_window: self.duplicate_window,
            ..Default::default()
        }
    }
}

/// Events published to a JetStream stream.
#[derive(Debug)]
pub struct NatsSink {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    subject_prefix: String,
    stream: String,
    /// The stream's duplicate window, as the broker reported it at start.
    duplicate_window: Duration,
    timeout: Duration,
    stats: PublishStats,
}

/// Pending acknowledgements allowed per connection: well above a few hundred
/// concurrent 500-event batches, so the bound is the timeout, not this.
const MAX_ACKS_IN_FLIGHT: usize = 1 << 18;

impl NatsSink {
    /// Connects, then finds the stream (creating it, when allowed, if absent).
    pub async fn connect(config: NatsConfig) -> Result<Self> {
        let options = async_nats::ConnectOptions::new()
            .name("usage-server")
            .connection_timeout(config.timeout)
            // Back at the broker within a second of its return.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100 * attempts.min(10) as u64)
            })
            .event_callback(|event| async move {
                tracing::warn!(%event, "NATS connection");
            });
        let (options, servers) = auth::apply(options, &config)?;
        let client = options
            .connect(servers)
            .await
            .map_err(|e| failure(std::io::ErrorKind::NotConnected, e))?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.timeout)
            .max_ack_inflight(MAX_ACKS_IN_FLIGHT)
            .build(client.clone());
        let found = if config.create_stream {
            jetstream
                .get_or_create_stream(config.stream_config())
                .await
                .map_err(|e| failure(std::io::ErrorKind::Other, e))?
        } else {
            jetstream.get_stream(&config.stream).await.map_err(|e| {
                failure(
                    std::io::ErrorKind::NotFound,
                    format!("stream `{}` must exist: {e}", config.stream),
                )
            })?
        };
        let settings = &found.cached_info().config;
        let wanted = format!("{}.>", config.subject_prefix);
        if !settings.subjects.iter().any(|s| *s == wanted || s == ">") {
            return Err(failure(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "stream `{}` holds {:?}, not `{wanted}`",
                    config.stream, settings.subjects
                ),
            ));
        }
        tracing::info!(
            stream = %config.stream,
            subjects = ?settings.subjects,
            duplicate_window_secs = settings.duplicate_window.as_secs_f64(),
            "publishing accepted events to JetStream"
        );
        Ok(Self {
            client,
            jetstream,
            subject_prefix: config.subject_prefix,
            stream: config.stream,
            duplicate_window: settings.duplicate_window,
            timeout: config.timeout,
            stats: PublishStats::default(),
        })
    }

    /// The subject of `org`'s events.
    pub fn subject(&self, org: &str) -> String {
        subject(&self.subject_prefix, org)
    }

    /// Publishes every event, then waits for every acknowledgement: all
    /// messages are in flight at once, so a batch costs one round trip.
    async fn publish(&self, batch: &Accepted<'_>) -> Result<(), (Failure, Error)> {
        if self.client.connection_state() != State::Connected {
            // Queued messages would wait for the broker: fail now instead.
            return Err((
                Failure::Disconnected,
                failure(std::io::ErrorKind::NotConnected, "not connected to NATS"),
            ));
        }
        let subject = self.subject(batch.org);
        let source = match batch.source {
            Source::Client => "client",
            Source::Server => "server",
        };
        let mut acks = Vec::with_capacity(batch.events.len());
        for event in batch.events {
            let payload = serde_json::to_vec(&StoredEvent::new(batch, event))
                .map_err(|e| (Failure::Error, failure(std::io::ErrorKind::InvalidData, e)))?;
            let message = PublishMessage::build()
                .payload(payload.into())
                .message_id(message_id(batch.org, &event.id))
                .header(ORG_HEADER, batch.org)
                .header(USER_HEADER, batch.user)
                .header(SOURCE_HEADER, source);
            let ack = self
                .jetstream
                .send_publish(subject.clone(), message)
                .await
                .map_err(|e| (Failure::Error, failure(std::io::ErrorKind::Other, e)))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await
                .map_err(|e| (Failure::Error, failure(std::io::ErrorKind::Other, e)))?;
        }
        Ok(())
    }
}

/// The header naming the event's org.
const ORG_HEADER: &str = "Usage-Org";
/// The header naming the event's user.
const USER_HEADER: &str = "Usage-User";
/// The header naming where the event came from: `client` or `server`.
const SOURCE_HEADER: &str = "Usage-Source";

/// `<prefix>.<org>`, with `.` in the org written `%2E`.
fn subject(prefix: &str, org: &str) -> String {
    format!("{prefix}.{}", org.replace('.', "%2E"))
}

/// The `Nats-Msg-Id` of an event: unique per org and event id.
fn message_id(org: &str, id: &uuid::Uuid) -> String {
    format!("{org}:{id}")
}

fn failure(kind: std::io::ErrorKind, err: impl std::fmt::Display) -> Error {
    Error::Sink(std::io::Error::new(kind, format!("JetStream: {err}")))
}

impl Sink for NatsSink {
    fn write<'a>(&'a self, batch: Accepted<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if batch.events.is_empty() {
                return Ok(());
            }
            let started = Instant::now();
            match tokio::time::timeout(self.timeout, self.publish(&batch)).await {
                Ok(Ok(())) => {
                    self.stats.acknowledged(started.elapsed());
                    Ok(())
                }
                Ok(Err((kind, err))) => {
                    self.stats.failed(kind);
                    Err(err)
                }
                Err(_) => {
                    self.stats.failed(Failure::Timeout);
                    Err(failure(
                        std::io::ErrorKind::TimedOut,
                        format!("no acknowledgement within {:?}", self.timeout),
                    ))
                }
            }
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        // Nothing is buffered: every write waited for its acknowledgements.
        Box::pin(async { Ok(()) })
    }

    fn recent_ids(&self, limit: usize) -> BoxFuture<'_, Result<Vec<(String, uuid::Uuid)>>> {
        Box::pin(async move {
            let mut ids = Vec::new();
            self.each_id_in_window(limit, &mut |org, id| ids.push((org.to_owned(), id)))
                .await?;
            ids.reverse();
            Ok(ids)
        })
    }

    fn each_recent_id<'a>(
        &'a self,
        limit: usize,
        each: &'a mut (dyn FnMut(&str, uuid::Uuid) + Send),
    ) -> BoxFuture<'a, Result<()>> {
        // What JetStream would drop as a duplicate, the collector counts as
        // one after a restart too (see `tail`).
        Box::pin(self.each_id_in_window(limit, each))
    }

    fn ready(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if self.client.connection_state() != State::Connected {
                return Err(failure(
                    std::io::ErrorKind::NotConnected,
                    "not connected to NATS",
                ));
            }
            // Connected is not enough: JetStream itself must answer.
            match tokio::time::timeout(self.timeout, self.jetstream.get_stream(&self.stream)).await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(failure(std::io::ErrorKind::Other, e)),
                Err(_) => Err(failure(
                    std::io::ErrorKind::TimedOut,
                    "stream info timed out",
                )),
            }
        })
    }

    fn render_metrics(&self, out: &mut String) {
        self.stats.render(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_org_has_a_subject_of_its_own_under_the_prefix() {
        assert_eq!(subject("usage.events", "acme"), "usage.events.acme");
        // A dot would split the org across subject tokens and let a filter on
        // one org (`usage.events.acme.>`) see another's (`acme.eu`).
        assert_eq!(subject("usage.events", "acme.eu"), "usage.events.acme%2Eeu");
        assert_ne!(subject("p", "a.b"), subject("p", "a"));
    }

    #[test]
    fn message_ids_differ_across_orgs_for_the_same_event_id() {
        let id = uuid::Uuid::now_v7();
        assert_ne!(message_id("acme", &id), message_id("globex", &id));
        assert_eq!(message_id("acme", &id), format!("acme:{id}"));
    }
}
