//! The HTTP service of `usage-server`: ingestion, token issuing, the admin
//! API, sign-in and the settings page, on axum, over the `usage-validator`
//! library. The `usage-server` binary (`src/bin/usage-server/`) is its command
//! line.
//!
//! [`app`] builds the router from an [`AppState`], separate from any socket,
//! so tests can drive it directly; [`serve`] runs it on a listener with the
//! connection limits of [`Limits`] and a graceful shutdown.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! use std::sync::Arc;
//!
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use tower::ServiceExt as _;
//! use usage_server::{app, AppState, ServerConfig};
//! use usage_validator::sink::MemorySink;
//! use usage_validator::store::sqlite::SqliteStore;
//! use usage_validator::Registry;
//!
//! let registry = Registry::open(Arc::new(SqliteStore::in_memory().await?)).await?;
//! let state = AppState::new(Arc::new(registry), Arc::new(MemorySink::default()), ServerConfig::default()).await?;
//! let answer = app(state)
//!     .oneshot(Request::get("/readyz").body(Body::empty())?)
//!     .await?;
//! assert_eq!(answer.status(), StatusCode::OK);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod admin;
mod admin_links;
pub use admin_links::{admin_link, page_path};
pub mod auth;
mod directory;
mod error;
mod export;
mod extract;
mod guard;
pub use guard::{GuardLimits, Rate};
mod ingest;
mod listen;
pub use listen::{BodyTimeout, Limits};
mod metrics;
mod openapi;
mod ops;
pub mod page;
mod ratelimit;
mod scim;
mod signin;
pub use signin::{settings_path, signin_link};
mod demo_token;
mod keys_api;
mod tokens;
pub mod user_rows;
mod webapp;
pub use webapp::default_web_app;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use metrics::Metrics;
pub use ratelimit::RateLimiter;
use tokio::net::TcpListener;
use usage_protocol::limits::MAX_BODY_BYTES;

use usage_validator::dedupe::Dedupe;
use usage_validator::keystore;
use usage_validator::registry::Registry;
use usage_validator::sink::Sink;
use usage_validator::token::{KeyRing, DEFAULT_LIFETIME_SECS};
use usage_validator::Result;

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
    /// Folder of the web example served at `/demo/web-app/`; `None` (the
    /// default, and always for `serve`) mounts no web example.
    pub web_app: Option<std::path::PathBuf>,
    /// Bounds on connections: count, timeouts, shutdown deadline.
    pub limits: Limits,
    /// Limits on failed authentication, sign-in and token issuing.
    pub guard: GuardLimits,
    /// Leaves `Secure` off the session cookie, for a server reached over plain
    /// HTTP on a host browsers do not treat as secure. Off by default.
    pub insecure_cookies: bool,
    /// The demo org, under `usage-server demo` only: `POST /demo/token` mints
    /// status tokens for its users, so the web example holds no key.
    pub demo_org: Option<String>,
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
            dedupe_capacity: usage_validator::dedupe::DEFAULT_CAPACITY,
            web_app: None,
            limits: Limits::default(),
            guard: GuardLimits::default(),
            insecure_cookies: false,
            demo_org: None,
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
    /// Failed authentications per client address.
    pub auth_failures: RateLimiter,
    /// Sign-in attempts per client address.
    pub signin_limiter: RateLimiter,
    /// Token requests per credential.
    pub token_limiter: RateLimiter,
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
        let keys = keystore::load_keyring(registry.store().as_ref(), true).await?;
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
            auth_failures: RateLimiter::new(
                config.guard.auth_failures.per_sec,
                config.guard.auth_failures.burst,
            ),
            signin_limiter: RateLimiter::new(
                config.guard.signin.per_sec,
                config.guard.signin.burst,
            ),
            token_limiter: RateLimiter::new(config.guard.tokens.per_sec, config.guard.tokens.burst),
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
        let ring = keystore::load_keyring(self.registry.store().as_ref(), false).await?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = ring;
        Ok(())
    }
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(ingest::routes(&state))
        .merge(tokens::routes())
        .merge(admin::routes())
        .merge(keys_api::routes())
        .merge(admin_links::routes())
        .merge(demo_token::routes(&state))
        .merge(directory::routes())
        .merge(scim::routes())
        .merge(signin::routes())
        .merge(page::routes())
        .merge(ops::routes())
        .merge(openapi::routes())
        .merge(if state.config.web_app.is_some() {
            webapp::routes()
        } else {
            Router::new()
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
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

/// Serves on `listener` until SIGTERM or Ctrl-C, then lets requests in
/// flight finish (for at most the shutdown deadline) and flushes the sink.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let background = spawn_background(state.clone());
    let limits = state.config.limits;
    listen::serve(listener, app(state.clone()), limits, shutdown_signal()).await?;
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
