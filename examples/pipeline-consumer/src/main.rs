//! `pipeline-consumer`: JetStream to NDJSON per org per day. See `--help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pipeline_consumer::{Config, Login};

/// Reads accepted usage events from NATS JetStream and writes
/// `<out>/<org>/<YYYY-MM-DD>.ndjson`, acknowledging each event after its write.
#[derive(Debug, Parser)]
#[command(name = "pipeline-consumer", version, about)]
struct Cli {
    /// NATS server URL, or several, comma-separated (a login goes in the
    /// flags below, not in the URL).
    #[arg(long, env = "USAGE_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Token for a broker that authenticates by token.
    #[arg(
        long,
        env = "USAGE_NATS_TOKEN",
        hide_env_values = true,
        group = "login"
    )]
    nats_token: Option<String>,
    /// User for a broker that authenticates by user and password.
    #[arg(
        long,
        env = "USAGE_NATS_USER",
        requires = "nats_password",
        group = "login"
    )]
    nats_user: Option<String>,
    /// Password of `--nats-user`.
    #[arg(
        long,
        env = "USAGE_NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user"
    )]
    nats_password: Option<String>,
    /// File holding an nkey user seed (`SU...`).
    #[arg(long, env = "USAGE_NATS_NKEY", value_name = "FILE", group = "login")]
    nats_nkey: Option<PathBuf>,
    /// `.creds` file (user JWT and seed) for a broker in operator mode.
    #[arg(long, env = "USAGE_NATS_CREDS", value_name = "FILE", group = "login")]
    nats_creds: Option<PathBuf>,
    /// The stream `usage-server --sink nats` publishes to.
    #[arg(long, env = "USAGE_NATS_STREAM", default_value = "USAGE_EVENTS")]
    stream: String,
    /// Durable consumer name; its position survives restarts.
    #[arg(
        long,
        env = "USAGE_CONSUMER_DURABLE",
        default_value = "pipeline-consumer"
    )]
    durable: String,
    /// Only this subject (e.g. `usage.events.acme`); default: the whole stream.
    #[arg(long, env = "USAGE_CONSUMER_FILTER")]
    filter_subject: Option<String>,
    /// Output folder.
    #[arg(long, env = "USAGE_CONSUMER_OUT", default_value = "usage-events")]
    out: PathBuf,
    /// Exit once nothing new arrived for this many seconds (default: run on).
    #[arg(long, env = "USAGE_CONSUMER_DRAIN")]
    drain: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let login = match (
        cli.nats_token,
        cli.nats_user.zip(cli.nats_password),
        cli.nats_nkey,
        cli.nats_creds,
    ) {
        (Some(token), ..) => Login::Token(token),
        (_, Some((user, password)), ..) => Login::UserPassword(user, password),
        (.., Some(nkey), _) => Login::Nkey(nkey),
        (.., Some(creds)) => Login::Creds(creds),
        _ => Login::None,
    };
    let config = Config {
        login,
        stream: cli.stream,
        durable: cli.durable,
        filter_subject: cli.filter_subject,
        idle: cli.drain.map(Duration::from_secs),
        ..Config::new(&cli.nats_url, cli.out)
    };
    loop {
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match pipeline_consumer::run(&config, stop).await {
            Ok(written) => {
                println!("{written} events written");
                return ExitCode::SUCCESS;
            }
            // The broker went away: what was written and not acknowledged
            // comes again; start over once it is back.
            Err(pipeline_consumer::Error::Nats(err)) => {
                tracing::warn!(%err, "JetStream unavailable; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
}
