//! `product-backend`: the example product, tracking through `usage-server`.
//!
//! ```text
//! cargo run --bin usage-server -- demo            # in one terminal
//! cargo run -p product-backend -- --demo-json usage-data/demo.json
//! ```
//!
//! then open <http://127.0.0.1:3000/> and sign in as alice.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use product_backend::{app, Product, Usage, UsageConfig};

/// A product back end with usage tracking embedded.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address the product listens on.
    #[arg(long, env = "PRODUCT_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// `demo.json` written by `usage-server demo`: URL, org and both keys.
    #[arg(long, env = "USAGE_DEMO_JSON")]
    demo_json: Option<PathBuf>,
    /// Base URL of usage-server.
    #[arg(long, env = "USAGE_URL", default_value = "http://127.0.0.1:8080")]
    usage_url: String,
    /// The org in usage-server.
    #[arg(long, env = "USAGE_ORG", default_value = "acme")]
    org: String,
    /// A service key with the `tokens` scope.
    #[arg(long, env = "USAGE_TOKENS_KEY")]
    tokens_key: Option<String>,
    /// A service key with the `admin` scope.
    #[arg(long, env = "USAGE_ADMIN_KEY")]
    admin_key: Option<String>,
}

fn config(args: Args) -> Result<UsageConfig, String> {
    let demo: Option<serde_json::Value> = match &args.demo_json {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let from_demo = |field: &str| {
        demo.as_ref()
            .and_then(|d| d[field].as_str())
            .map(str::to_owned)
    };
    let missing = |what: &str| format!("give --{what} (or --demo-json)");
    Ok(UsageConfig {
        url: from_demo("url").unwrap_or(args.usage_url),
        org: from_demo("org").unwrap_or(args.org),
        tokens_key: args
            .tokens_key
            .or_else(|| from_demo("tokens_key"))
            .ok_or_else(|| missing("tokens-key"))?,
        admin_key: args
            .admin_key
            .or_else(|| from_demo("service_key"))
            .ok_or_else(|| missing("admin-key"))?,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let addr = args.addr;
    let config = match config(args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let product = Product::new(Usage::new(config));
    if let Err(err) = product.sync_directory().await {
        eprintln!("error: cannot push the product's users to usage-server: {err}");
        return ExitCode::FAILURE;
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("Reports (the example product) on http://{addr}/");
    if let Err(err) = axum::serve(listener, app(product)).await {
        eprintln!("error: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
