//! Opening the registry, the sink and the listener from command-line flags.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use usage_server::AppState;
use usage_validator::registry::Registry;
use usage_validator::sink::{Fsync, NdjsonOptions, NdjsonSink, Sink};
use usage_validator::store::sqlite::SqliteStore;
use usage_validator::store::Store;

use crate::{CliResult, FsyncMode, ServeArgs, SinkKind, StoreArgs};

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
            private_folder(&args.data)?;
            let store = SqliteStore::open(&args.data.join("registry.db")).await?;
            Ok(Opened {
                store: Arc::new(store),
                shared: None,
            })
        }
    }
}

/// Creates the data folder if needed and makes it and everything in it
/// private to this user (0700 folders, 0600 files): it holds signing keys and
/// events. Folders made by older versions are tightened too.
pub fn private_folder(path: &std::path::Path) -> Result<(), BoxError> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let shown = path.display();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| format!("cannot create data folder {shown}: {e}"))?;
    let mut pending = vec![path.to_path_buf()];
    while let Some(folder) = pending.pop() {
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", folder.display()))?;
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| format!("cannot read {}: {e}", folder.display()))?;
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| format!("cannot make {} private: {e}", entry.path().display()))?;
            }
        }
    }
    Ok(())
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
        SinkKind::Ndjson => {
            let fsync = match args.fsync {
                FsyncMode::OnFlush => Fsync::OnFlush,
                FsyncMode::Always => Fsync::Always,
            };
            Ok(Arc::new(NdjsonSink::with_options(
                args.store.data.join("events"),
                NdjsonOptions { fsync },
            )?))
        }
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
        SinkKind::Nats => {
            let nats = &args.nats;
            let Some(url) = nats.nats_url.clone() else {
                return Err("--sink nats needs --nats-url nats://host:4222".into());
            };
            let config = usage_validator::sink::NatsConfig {
                url,
                token: nats.nats_token.clone(),
                user_password: nats.nats_user.clone().zip(nats.nats_password.clone()),
                creds_file: nats.nats_creds.clone(),
                nkey_file: nats.nats_nkey.clone(),
                subject_prefix: nats.nats_subject_prefix.clone(),
                stream: nats.nats_stream.clone(),
                create_stream: !nats.nats_require_stream,
                duplicate_window: Duration::from_secs(nats.nats_duplicate_window),
                timeout: Duration::from_millis(nats.nats_timeout_ms),
            };
            Ok(Arc::new(
                usage_validator::sink::NatsSink::connect(config).await?,
            ))
        }
    }
}

/// Whether `url` is plain HTTP on a host that browsers do not treat as a
/// secure context (anything but this machine).
fn plain_http_elsewhere(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    let loopback = host
        .parse::<std::net::IpAddr>()
        .map_or(host.eq_ignore_ascii_case("localhost"), |ip| {
            ip.is_loopback()
        });
    !loopback
}

/// Runs once the server listens.
pub type OnReady = Box<dyn FnOnce(&AppState) + Send>;

/// Binds, builds the state and serves until SIGTERM; `ready` runs once the
/// server is listening (the demo prints its guide there).
pub async fn serve(args: ServeArgs, demo: bool, ready: Option<OnReady>) -> CliResult {
    let registry = registry(&args.store, Duration::from_millis(args.staleness_bound_ms)).await?;
    let sink = sink(&args).await?;
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let bound = listener.local_addr()?;
    let config = args.config(bound, demo);
    if plain_http_elsewhere(&config.public_url) && !config.insecure_cookies {
        tracing::warn!(
            public_url = %config.public_url,
            "admins reach this server over plain HTTP on another host: browsers will not keep \
             its Secure session cookie, so sign-in will not stick; serve it over HTTPS \
             (or pass --insecure-cookies on a trusted network)"
        );
    }
    let state = AppState::new(registry, sink, config).await?;
    println!("usage-server listening on http://{bound}");
    if let Some(ready) = ready {
        ready(&state);
    }
    usage_server::serve(listener, state).await?;
    Ok(())
}
