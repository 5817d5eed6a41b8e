//! Logs in with a status token, tracks a few events, flushes, and prints what
//! became of each event (the SDK's debugger log).
//!
//! ```text
//! native-cli --endpoint http://127.0.0.1:8080 --token "$TOKEN" report.opened report.exported
//! ```
//!
//! `DO_NOT_TRACK=1` turns tracking off: every event shows as dropped.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use usage_sdk::Tracker;

/// Tracks usage events and prints what became of them.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Collector base URL (events go to `<endpoint>/v1/batch`).
    #[arg(long, env = "USAGE_ENDPOINT", default_value = "http://127.0.0.1:8080")]
    endpoint: String,
    /// Status token from `POST /v1/tokens` at login; without one, events are held.
    #[arg(long, env = "USAGE_TOKEN")]
    token: Option<String>,
    /// Folder for the cached login and unsent events (default: the OS data folder).
    #[arg(long, env = "USAGE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Seconds to wait for delivery before printing the log.
    #[arg(long, env = "USAGE_FLUSH_SECS", default_value_t = 5)]
    flush_secs: u64,
    /// Log out after tracking (sends, then clears the cached login).
    #[arg(long)]
    logout: bool,
    /// Print the log as JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Event names to track.
    #[arg(default_values_t = ["cli.started".to_owned(), "report.opened".to_owned(), "report.exported".to_owned()])]
    events: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = Tracker::builder(&args.endpoint).app_name("native-cli");
    if let Some(dir) = &args.data_dir {
        builder = builder.data_dir(dir);
    }
    let tracker = match builder
        .on_token_expired(|| eprintln!("the token expired: log in again to send the kept events"))
        .on_auth_error(|code| eprintln!("the collector refused the token: {code}"))
        .build()
    {
        Ok(tracker) => tracker,
        Err(error) => {
            eprintln!("cannot start tracking: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(token) = &args.token {
        match tracker.login(token) {
            Ok(claims) => println!(
                "logged in as {}/{} (opted out: {})",
                claims.org, claims.sub, claims.opt_out
            ),
            Err(error) => {
                eprintln!("cannot log in: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    for (n, name) in args.events.iter().enumerate() {
        tracker.track(name, serde_json::json!({"source": "native-cli", "n": n}));
    }
    if args.logout {
        tracker.logout();
    }
    let delivered = tracker.shutdown(Duration::from_secs(args.flush_secs));
    for entry in tracker.debug_events() {
        if args.json {
            match serde_json::to_string(&entry) {
                Ok(line) => println!("{line}"),
                Err(error) => eprintln!("cannot print an entry: {error}"),
            }
        } else {
            let id = entry
                .id
                .map(|id| id.to_string())
                .unwrap_or_else(|| "-".to_owned());
            println!(
                "{:>4}  {:<36}  {:<24}  {}",
                entry.seq,
                id,
                entry.name.as_str(),
                entry.fate
            );
        }
    }
    println!("everything delivered: {delivered}");
    ExitCode::SUCCESS
}
