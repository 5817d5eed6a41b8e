//! The HTTP service of `usage-server`: ingestion, token issuing, the admin
//! API, sign-in and the settings page, on axum.
//!
//! [`app`] builds the router from an [`AppState`], separate from any socket,
//! so tests can drive it directly; [`serve`] runs it with graceful shutdown.

mod admin;
pub mod auth;
pub mod credentials;
mod error;
mod extract;
mod ingest;
mod metrics;
mod openapi;
mod ops;
pub mod page;
mod ratelimit;
mod signin;
pub use signin::{settings_path, signin_link};
mod tokens;
mod webapp;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
pub use error::{ApiError, ErrorBody};
pub use metrics::Metrics;
pub use ratelimit::RateLimiter;
use tokio::net::TcpListener;
use usage_protocol::limits::MAX_BODY_BYTES;

use crate::dedupe::Dedupe;
use crate::registry::Registry;
use crate::sink::Sink;
use crate::store::Store;
use crate::token::{KeyRing, SigningKey, DEFAULT_LIFETIME_SECS};
use crate::{Error, Result};

/// Settings of the HTTP service.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Origins allowed to send batches from a browser; empty allows any
    /// (the token, not the origin, authenticates a batch).
    pub cors_origins: Vec<String>,
    /// Lifetime of issued status tokens, in seconds.
    pub token_lifetime_secs: i64,
    /// The URL clients and admins reach this server at, for links.
    pub public_url: String,
    /// Batches per second per user (0 disables the limit).
    pub rate_limit: u32,
    /// Burst of batches per user.
    pub rate_burst: u32,
    /// How often the registry re-reads the store's change log.
    pub poll_interval: Duration,
    /// How many event ids the dedupe window remembers.
    pub dedupe_capacity: usize,
    /// Folder of the web example served at `/demo/web-app/`; `None`: the
    /// source tree's `examples/web-app`, when the binary runs where it was built.
    pub web_app: Option<std::path::PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            token_lifetime_secs: DEFAULT_LIFETIME_SECS,
            public_url: "http://127.0.0.1:8080".into(),
            rate_limit: 50,
            rate_burst: 100,
            poll_interval: Duration::from_millis(500),
            dedupe_capacity: crate::dedupe::DEFAULT_CAPACITY,
            web_app: None,
        }
    }
}

/// Everything the handlers share.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// The shared parts behind [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// The opt-out registry.
    pub registry: Arc<Registry>,
    /// Keys for tokens, links and sessions; reloaded from the store.
    pub keys: RwLock<KeyRing>,
    /// Recently accepted event ids.
    pub dedupe: Dedupe,
    /// Where accepted events go.
    pub sink: Arc<dyn Sink>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Per-user batch rate limits.
    pub limiter: RateLimiter,
    /// Settings.
    pub config: ServerConfig,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Loads signing keys (creating the first one if the store has none) and
    /// refills the dedupe window from the sink.
    pub async fn new(
        registry: Arc<Registry>,
        sink: Arc<dyn Sink>,
        config: ServerConfig,
    ) -> Result<Self> {
        let keys = load_keyring(registry.store().as_ref(), true).await?;
        let dedupe = Dedupe::with_capacity(config.dedupe_capacity);
        let remembered = dedupe.refill(sink.as_ref()).await?;
        tracing::info!(remembered, "dedupe window refilled from the sink");
        Ok(Self(Arc::new(Shared {
            registry,
            keys: RwLock::new(keys),
            dedupe,
            sink,
            metrics: Metrics::default(),
            limiter: RateLimiter::new(config.rate_limit, config.rate_burst),
            config,
        })))
    }

    /// A copy of the current key ring.
    pub fn key_ring(&self) -> KeyRing {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `f` with the key ring, without copying it.
    pub fn with_keys<T>(&self, f: impl FnOnce(&KeyRing) -> T) -> T {
        f(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Re-reads the change log and the signing keys from the store.
    pub async fn refresh(&self) -> Result<()> {
        self.registry.catch_up().await?;
        let ring = load_keyring(self.registry.store().as_ref(), false).await?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = ring;
        Ok(())
    }
}

/// Builds the key ring from the store; with `create`, adds a first key if
/// there is none.
pub async fn load_keyring(store: &dyn Store, create: bool) -> Result<KeyRing> {
    let mut stored = store.signing_keys().await?;
    if stored.is_empty() && create {
        let key = SigningKey::generate(new_kid()).expect("generated kids are valid");
        store.add_signing_key(&key, true).await?;
        stored = store.signing_keys().await?;
    }
    let current = stored
        .iter()
        .filter(|k| k.current)
        .max_by_key(|k| k.created_at)
        .or_else(|| stored.last())
        .ok_or_else(|| Error::InvalidInput("the store holds no signing key".into()))?;
    let mut ring = KeyRing::new(current.key.clone());
    for key in &stored {
        if key.key.kid() != current.key.kid() {
            ring.add_verifying(key.key.clone());
        }
    }
    Ok(ring)
}

/// A new key id: `k` + UTC date + random suffix, such as `k20261129-3fa2`.
pub fn new_kid() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    let mut suffix = [0u8; 2];
    getrandom::getrandom(&mut suffix).expect("the OS random source is available");
    format!(
        "k{:04}{:02}{:02}-{:02x}{:02x}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        suffix[0],
        suffix[1]
    )
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(ingest::routes(&state))
        .merge(tokens::routes())
        .merge(admin::routes())
        .merge(signin::routes())
        .merge(page::routes())
        .merge(ops::routes())
        .merge(webapp::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Keeps the registry and keys current and the sink flushed, until the
/// process ends.
pub fn spawn_background(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = state.refresh().await {
                tracing::warn!(error = %err, "registry refresh failed");
            }
            if let Err(err) = state.sink.flush().await {
                tracing::warn!(error = %err, "sink flush failed");
            }
        }
    })
}

/// Serves on `listener` until SIGTERM or Ctrl-C, then finishes requests in
/// flight and flushes the sink.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let background = spawn_background(state.clone());
    let router = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    background.abort();
    if let Err(err) = state.sink.flush().await {
        tracing::error!(error = %err, "final sink flush failed");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
