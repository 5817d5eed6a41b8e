//! Opening the registry, the sink and the listener from command-line flags.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use usage_server::AppState;
use usage_validator::registry::Registry;
use usage_validator::sink::{NdjsonSink, Sink};
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::Store;

use crate::{CliResult, ServeArgs, SinkKind, StoreArgs};

/// Any error a command reports.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A store and, when it is PostgreSQL, its pool for change notifications.
pub struct Opened {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The PostgreSQL pool, when the store is shared by many instances.
    pub shared: Option<sqlx::PgPool>,
}

/// The store the flags name.
pub async fn store(args: &StoreArgs) -> Result<Arc<dyn Store>, BoxError> {
    Ok(open_store(args).await?.store)
}

/// Opens PostgreSQL for a `postgres://` URL, else the SQLite file in the data folder.
pub async fn open_store(args: &StoreArgs) -> Result<Opened, BoxError> {
    match args.database_url.as_deref() {
        Some(url) if is_postgres(url) => {
            let store = usage_validator::store::postgres::PostgresStore::connect(url).await?;
            let pool = store.pool().clone();
            Ok(Opened {
                store: Arc::new(store),
                shared: Some(pool),
            })
        }
        Some(other) => {
            Err(format!("--database-url must be a postgres:// URL, not `{other}`").into())
        }
        None => {
            std::fs::create_dir_all(&args.data)
                .map_err(|e| format!("cannot create data folder {}: {e}", args.data.display()))?;
            let store = SqliteStore::open(&args.data.join("registry.db")).await?;
            Ok(Opened {
                store: Arc::new(store),
                shared: None,
            })
        }
    }
}

/// The registry over the store the flags name. On a shared (PostgreSQL)
/// store every decision first checks the head revision, and a task follows
/// the store's change notifications.
pub async fn registry(args: &StoreArgs, staleness: Duration) -> Result<Arc<Registry>, BoxError> {
    let opened = open_store(args).await?;
    let registry = Registry::open(opened.store)
        .await?
        .with_staleness_bound(staleness)
        .with_head_check(opened.shared.is_some());
    let registry = Arc::new(registry);
    if let Some(pool) = opened.shared {
        tokio::spawn(usage_validator::registry::feed::follow(
            registry.clone(),
            pool,
        ));
    }
    Ok(registry)
}

/// The sink the flags name.
pub async fn sink(args: &ServeArgs) -> Result<Arc<dyn Sink>, BoxError> {
    match args.sink {
        SinkKind::Ndjson => Ok(Arc::new(NdjsonSink::new(args.store.data.join("events"))?)),
        SinkKind::Postgres => {
            let Some(url) = args
                .store
                .database_url
                .as_deref()
                .filter(|u| is_postgres(u))
            else {
                return Err("--sink postgres needs --database-url postgres://...".into());
            };
            Ok(Arc::new(
                usage_validator::sink::PostgresSink::connect(url).await?,
            ))
        }
    }
}

/// Runs once the server listens.
pub type OnReady = Box<dyn FnOnce(&AppState) + Send>;

/// Binds, builds the state and serves until SIGTERM; `ready` runs once the
/// server is listening (the demo prints its guide there).
pub async fn serve(args: ServeArgs, ready: Option<OnReady>) -> CliResult {
    let registry = registry(&args.store, Duration::from_millis(args.staleness_bound_ms)).await?;
    let sink = sink(&args).await?;
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let bound = listener.local_addr()?;
    let state = AppState::new(registry, sink, args.config(bound)).await?;
    println!("usage-server listening on http://{bound}");
    if let Some(ready) = ready {
        ready(&state);
    }
    usage_server::serve(listener, state).await?;
    Ok(())
}
