//! `usage-server`: ingestion, token issuing, the admin API and the settings
//! page in one binary. See `usage-server --help`.

mod demo;
mod import;
mod keys;
mod open;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use usage_server::{GuardLimits, Limits, Rate, ServerConfig};
use usage_validator::registry::DEFAULT_STALENESS_BOUND;
use usage_validator::sink::NatsConfig;
use usage_validator::token::DEFAULT_LIFETIME_SECS;

/// Product usage tracking with per-user opt-out: the server.
#[derive(Debug, Parser)]
#[command(name = "usage-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve ingestion, tokens, the admin API and the settings page.
    Serve(ServeArgs),
    /// Serve with a seeded demo org `acme`, printing how to try it.
    Demo(ServeArgs),
    /// Print a one-time sign-in link for a product admin.
    AdminLink(AdminLinkArgs),
    /// Manage an org's user directory.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage service keys and signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// Where the registry lives.
#[derive(Debug, Clone, Args)]
struct StoreArgs {
    /// Data folder: the SQLite registry and the NDJSON event files.
    #[arg(long, env = "USAGE_DATA", default_value = "usage-data")]
    data: PathBuf,
    /// PostgreSQL URL of a registry shared by many instances
    /// (`postgres://user:pass@host/db`); without it, SQLite in the data folder.
    #[arg(long, env = "USAGE_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SinkKind {
    /// NDJSON files under `<data>/events/`, one per UTC day.
    Ndjson,
    /// The `usage_events` table of the `--database-url` PostgreSQL database.
    Postgres,
    /// A NATS JetStream stream (`--nats-url`), subjects `usage.events.<org>`.
    Nats,
}

/// Where `--sink nats` publishes.
#[derive(Debug, Clone, Args)]
struct NatsArgs {
    /// NATS server URL (`nats://host:4222`; credentials, percent-encoded,
    /// as `nats://user:password@host:4222` or `nats://token@host:4222`);
    /// comma-separate several.
    #[arg(long, env = "USAGE_NATS_URL")]
    nats_url: Option<String>,
    /// Token for a NATS server that authenticates by token.
    #[arg(long, env = "USAGE_NATS_TOKEN", hide_env_values = true)]
    nats_token: Option<String>,
    /// User name for a NATS server that authenticates by user and password,
    /// when they are not in the URL.
    #[arg(long, env = "USAGE_NATS_USER", requires = "nats_password")]
    nats_user: Option<String>,
    /// Password of `--nats-user` (best from the environment, out of `ps`).
    #[arg(
        long,
        env = "USAGE_NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user"
    )]
    nats_password: Option<String>,
    /// `.creds` file (user JWT and nkey seed) for a NATS server in operator
    /// mode.
    #[arg(long, env = "USAGE_NATS_CREDS", value_name = "FILE")]
    nats_creds: Option<PathBuf>,
    /// File holding an nkey user seed (`SU...`) for a NATS server that lists
    /// users by nkey.
    #[arg(
        long,
        env = "USAGE_NATS_NKEY",
        value_name = "FILE",
        conflicts_with = "nats_creds"
    )]
    nats_nkey: Option<PathBuf>,
    /// Events of org ORG go to subject `<prefix>.ORG`.
    #[arg(
        long,
        env = "USAGE_NATS_SUBJECT_PREFIX",
        default_value_t = NatsConfig::default().subject_prefix
    )]
    nats_subject_prefix: String,
    /// The JetStream stream holding `<prefix>.>`.
    #[arg(long, env = "USAGE_NATS_STREAM", default_value_t = NatsConfig::default().stream)]
    nats_stream: String,
    /// Refuse to start unless the stream exists (else it is created: file
    /// storage, one replica, subjects `<prefix>.>`).
    #[arg(long, env = "USAGE_NATS_REQUIRE_STREAM")]
    nats_require_stream: bool,
    /// Duplicate window, in seconds, of a stream this server creates: a
    /// retried event is stored once if it arrives within it.
    #[arg(long, env = "USAGE_NATS_DUPLICATE_WINDOW", default_value_t = NatsConfig::default().duplicate_window.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86_400))]
    nats_duplicate_window: u64,
    /// Milliseconds a batch may wait for JetStream before it is answered 503.
    #[arg(long, env = "USAGE_NATS_TIMEOUT_MS", default_value_t = millis(NatsConfig::default().timeout), value_parser = clap::value_parser!(u64).range(10..=60_000))]
    nats_timeout_ms: u64,
}

/// When the NDJSON sink syncs to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FsyncMode {
    /// Every flush interval and at shutdown.
    OnFlush,
    /// Before each batch is acknowledged.
    Always,
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "USAGE_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Where accepted events go.
    #[arg(long, env = "USAGE_SINK", value_enum, default_value = "ndjson")]
    sink: SinkKind,
    /// When the NDJSON sink syncs to disk: `on-flush` (every 500 ms and at
    /// shutdown; a crash of the process loses nothing acknowledged) or
    /// `always` (before each batch is acknowledged; a power loss loses
    /// nothing acknowledged, at a cost in throughput).
    #[arg(long, env = "USAGE_FSYNC", value_enum, default_value = "on-flush")]
    fsync: FsyncMode,
    #[command(flatten)]
    nats: NatsArgs,
    /// URL this server is reached at, for links (default: http://<addr>).
    #[arg(long, env = "USAGE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Origin allowed to send batches from a browser; repeat or comma-separate.
    /// Without it, any origin may (the token authenticates a batch).
    #[arg(long = "cors-origin", env = "USAGE_CORS_ORIGIN", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Lifetime of issued status tokens, in seconds.
    #[arg(long, env = "USAGE_TOKEN_LIFETIME", default_value_t = DEFAULT_LIFETIME_SECS, value_parser = clap::value_parser!(i64).range(60..=2_592_000))]
    token_lifetime: i64,
    /// Batches per second allowed per user (0: no limit).
    #[arg(long, env = "USAGE_RATE_LIMIT", default_value_t = ServerConfig::default().rate_limit)]
    rate_limit: u32,
    /// Burst of batches allowed per user.
    #[arg(long, env = "USAGE_RATE_BURST", default_value_t = ServerConfig::default().rate_burst)]
    rate_burst: u32,
    /// How old, in milliseconds, the last confirmed registry sync may be
    /// before ingestion answers 503.
    #[arg(long, env = "USAGE_STALENESS_BOUND_MS", default_value_t = millis(DEFAULT_STALENESS_BOUND))]
    staleness_bound_ms: u64,
    /// How often, in milliseconds, the registry re-reads the change log.
    #[arg(long, env = "USAGE_POLL_INTERVAL_MS", default_value_t = millis(ServerConfig::default().poll_interval))]
    poll_interval_ms: u64,
    /// Folder of the web example served at /demo/web-app/ by `demo` (default:
    /// the source tree's examples/web-app, when it exists). `serve` never
    /// serves it.
    #[arg(long, env = "USAGE_WEB_APP")]
    web_app: Option<PathBuf>,
    /// Leave `Secure` off the session cookie: only for a server reached over
    /// plain HTTP on a host other than this machine, where browsers would not
    /// keep a Secure cookie. Prefer serving over HTTPS.
    #[arg(long, env = "USAGE_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, env = "USAGE_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_connections: usize,
    /// Seconds a client has to send a request's headers.
    #[arg(long, env = "USAGE_HEADER_TIMEOUT", default_value_t = Limits::default().header_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a client has to send a request's body, from the request's start.
    #[arg(long, env = "USAGE_BODY_TIMEOUT", default_value_t = Limits::default().body_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Seconds a connection may pass with nothing sent or received.
    #[arg(long, env = "USAGE_IDLE_TIMEOUT", default_value_t = Limits::default().idle_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout: u64,
    /// Seconds requests in flight get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "USAGE_SHUTDOWN_DEADLINE", default_value_t = Limits::default().shutdown_deadline.as_secs(), value_parser = clap::value_parser!(u64).range(0..=3600))]
    shutdown_deadline: u64,
    /// Failed authentications (answers 401) allowed per second per client address before it is answered 429 (0: no limit).
    #[arg(long, env = "USAGE_AUTH_FAILURE_RATE", default_value_t = GuardLimits::default().auth_failures.per_sec)]
    auth_failure_rate: u32,
    /// Failed authentications allowed at once per client address.
    #[arg(long, env = "USAGE_AUTH_FAILURE_BURST", default_value_t = GuardLimits::default().auth_failures.burst)]
    auth_failure_burst: u32,
    /// Sign-in link openings allowed per second per client address (0: no limit).
    #[arg(long, env = "USAGE_SIGNIN_RATE", default_value_t = GuardLimits::default().signin.per_sec)]
    signin_rate: u32,
    /// Sign-in link openings allowed at once per client address.
    #[arg(long, env = "USAGE_SIGNIN_BURST", default_value_t = GuardLimits::default().signin.burst)]
    signin_burst: u32,
    /// Status tokens issued per second per service key (0: no limit).
    #[arg(long, env = "USAGE_TOKEN_RATE", default_value_t = GuardLimits::default().tokens.per_sec)]
    token_rate: u32,
    /// Status tokens issued at once per service key.
    #[arg(long, env = "USAGE_TOKEN_BURST", default_value_t = GuardLimits::default().tokens.burst)]
    token_burst: u32,
    /// Set by `demo` only, never a flag: the org `POST /demo/token` serves.
    #[arg(skip)]
    demo_org: Option<String>,
}

impl ServeArgs {
    /// The service's settings; the web example is served only in the demo.
    fn config(&self, bound: SocketAddr, demo: bool) -> ServerConfig {
        ServerConfig {
            cors_origins: self
                .cors_origins
                .iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            token_lifetime_secs: self.token_lifetime,
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{bound}")),
            rate_limit: self.rate_limit,
            rate_burst: self.rate_burst,
            poll_interval: Duration::from_millis(self.poll_interval_ms.max(10)),
            web_app: if demo {
                self.web_app.clone().or_else(usage_server::default_web_app)
            } else {
                None
            },
            limits: Limits {
                max_connections: self.max_connections,
                header_timeout: Duration::from_secs(self.header_timeout),
                body_timeout: Duration::from_secs(self.body_timeout),
                idle_timeout: Duration::from_secs(self.idle_timeout),
                shutdown_deadline: Duration::from_secs(self.shutdown_deadline),
            },
            guard: GuardLimits {
                auth_failures: Rate {
                    per_sec: self.auth_failure_rate,
                    burst: self.auth_failure_burst,
                },
                signin: Rate {
                    per_sec: self.signin_rate,
                    burst: self.signin_burst,
                },
                tokens: Rate {
                    per_sec: self.token_rate,
                    burst: self.token_burst,
                },
            },
            insecure_cookies: self.insecure_cookies,
            demo_org: self.demo_org.clone(),
            ..ServerConfig::default()
        }
    }
}

#[derive(Debug, Args)]
struct AdminLinkArgs {
    /// The org.
    #[arg(long, env = "USAGE_ORG")]
    org: String,
    /// The product admin's user id.
    #[arg(long, env = "USAGE_USER")]
    user: String,
    /// Base URL of the server.
    #[arg(
        long,
        env = "USAGE_PUBLIC_URL",
        default_value_t = ServerConfig::default().public_url
    )]
    public_url: String,
    /// How long the link stays valid, in seconds.
    #[arg(long, env = "USAGE_LINK_VALID_FOR", default_value_t = 900, value_parser = clap::value_parser!(i64).range(30..=604_800))]
    valid_for: i64,
    /// A path of the org's settings page to land on after sign-in, such as
    /// `/orgs/ORG/tools/product-usage/opt-out-settings?lang=sv`.
    #[arg(long, env = "USAGE_RETURN_TO")]
    return_to: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Import users from a CSV file with the header `id,name,email,role`.
    Import(import::ImportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Whatever this process creates (the registry, its journal files, event
    // files, demo.json) is readable by its owner only.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => open::serve(args, false, None).await,
            Command::Demo(args) => demo::run(args).await,
            Command::AdminLink(args) => admin_link(args).await,
            Command::Users(UsersCommand::Import(args)) => import::run(args).await,
            Command::Keys(command) => keys::run(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// A command's failure, printed as `error: ...`.
type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn admin_link(args: AdminLinkArgs) -> CliResult {
    let store = open::store(&args.store).await?;
    let user = store.user(&args.org, &args.user).await?;
    match user {
        Some(user) if user.role == usage_validator::model::Role::Admin => {}
        Some(_) => {
            return Err(format!("`{}` is not a product admin of `{}`", args.user, args.org).into())
        }
        None => return Err(format!("no user `{}` in org `{}`", args.user, args.org).into()),
    }
    let ring = usage_validator::keystore::load_keyring(store.as_ref(), true).await?;
    let link = usage_server::admin_link(
        &ring,
        &args.public_url,
        &args.org,
        &args.user,
        args.valid_for,
        args.return_to.as_deref(),
    )?;
    println!("{link}");
    Ok(())
}

/// A default duration as the whole milliseconds its flag takes.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
