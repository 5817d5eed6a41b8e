//! The other half of `usage-server --sink nats`: a durable JetStream consumer
//! that appends every accepted event to `<out>/<org>/<YYYY-MM-DD>.ndjson`
//! (the UTC day the collector received it) and acknowledges a message only
//! once its line is on disk.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pipeline_consumer::Error> {
//! let config = pipeline_consumer::Config::new("nats://127.0.0.1:4222", "usage-events");
//! // Runs until Ctrl-C; `config.idle` makes it stop once caught up instead.
//! let written = pipeline_consumer::run(&config, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! println!("{written} events written");
//! # Ok(())
//! # }
//! ```
//!
//! Each line is the message's payload as it is, so the files read exactly as
//! the collector's own NDJSON sink files. Delivery into the files is
//! at-least-once: a crash between a write and its acknowledgement writes that
//! event again on redelivery, so readers that need exactly-once keep the
//! first line of each `(org, id)`.
//!
//! A message whose payload is not a stored event is kept, not dropped:
//! written as it is to `<out>/unreadable/<stream sequence>` and then
//! acknowledged, so it cannot stall the consumer.

mod files;
mod login;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy};
use futures_util::StreamExt as _;

pub use files::{file_for, Placed};
pub use login::Login;

/// Everything that can stop the consumer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The broker or JetStream refused or could not be reached.
    #[error("JetStream: {0}")]
    Nats(String),
    /// Writing the output files failed; nothing of that batch was acknowledged.
    #[error("writing events: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration cannot work (a bad URL or credentials file); trying
    /// again would not help.
    #[error("{0}")]
    Config(String),
}

fn nats(err: impl std::fmt::Display) -> Error {
    Error::Nats(err.to_string())
}

/// What the consumer reads and where it writes.
#[derive(Debug, Clone)]
pub struct Config {
    /// NATS server URL, or several, comma-separated (without a login: see
    /// `login`).
    pub url: String,
    /// How to log in to the broker.
    pub login: Login,
    /// The stream the collector publishes to.
    pub stream: String,
    /// The durable consumer's name: its position survives restarts.
    pub durable: String,
    /// Only subjects matching this filter (e.g. `usage.events.acme`), or all.
    pub filter_subject: Option<String>,
    /// The output folder.
    pub out: PathBuf,
    /// Messages fetched, written and synced together.
    pub batch: usize,
    /// Stop after this long with nothing new (`None`: run until stopped).
    pub idle: Option<Duration>,
}

impl Config {
    /// Reads stream `USAGE_EVENTS` at `url` into `out`, as durable consumer
    /// `pipeline-consumer`.
    pub fn new(url: &str, out: impl Into<PathBuf>) -> Self {
        Self {
            url: url.to_owned(),
            login: Login::None,
            stream: "USAGE_EVENTS".to_owned(),
            durable: "pipeline-consumer".to_owned(),
            filter_subject: None,
            out: out.into(),
            batch: 1_000,
            idle: None,
        }
    }
}

/// Consumes until `stop` completes (or, with `idle`, until caught up);
/// returns how many events it wrote.
pub async fn run(config: &Config, stop: impl Future<Output = ()>) -> Result<u64, Error> {
    let client = login::connect(&config.url, &config.login).await?;
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream.get_stream(&config.stream).await.map_err(nats)?;
    let consumer = stream
        .get_or_create_consumer(
            &config.durable,
            pull::Config {
                durable_name: Some(config.durable.clone()),
                ack_policy: AckPolicy::Explicit,
                filter_subject: config.filter_subject.clone().unwrap_or_default(),
                ..Default::default()
            },
        )
        .await
        .map_err(nats)?;
    tokio::pin!(stop);
    let mut written = 0;
    let mut last_news = Instant::now();
    loop {
        let fetched = async {
            let mut batch = consumer
                .fetch()
                .max_messages(config.batch)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .map_err(nats)?;
            let mut messages = Vec::new();
            while let Some(message) = batch.next().await {
                messages.push(message.map_err(nats)?);
            }
            Ok::<_, Error>(messages)
        };
        let messages = tokio::select! {
            () = &mut stop => return Ok(written),
            fetched = fetched => fetched?,
        };
        if messages.is_empty() {
            if config.idle.is_some_and(|idle| last_news.elapsed() >= idle) {
                return Ok(written);
            }
            continue;
        }
        last_news = Instant::now();
        written += files::write_all(&config.out, &messages).await?;
        for message in &messages {
            message.ack().await.map_err(nats)?;
        }
    }
}
