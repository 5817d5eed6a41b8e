//! `usage-server keys`: service keys per org and signing-key rotation.

use clap::Subcommand;
use time::OffsetDateTime;
use usage_validator::credentials::{self, MAX_KEY_LIFETIME_SECS};
use usage_validator::keystore::{load_keyring, new_kid};
use usage_validator::model::{scopes_to_text, Actor, Author, Scope, ServiceKeyInfo, Via};
use usage_validator::registry::check_id;
use usage_validator::token::SigningKey;

use crate::{open, CliResult, StoreArgs};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a service key for an org (creating the org if new); the key is
    /// printed once and stored only hashed.
    Create {
        /// The org.
        #[arg(long, env = "USAGE_ORG")]
        org: String,
        /// A label to recognise the key by.
        #[arg(long, env = "USAGE_KEY_LABEL", default_value = "service")]
        label: String,
        /// What the key may do: `tokens` (issue status tokens, send server
        /// events) and/or `admin` (the admin API, admin links). Repeat or
        /// comma-separate; without it, a full key (both).
        #[arg(long = "scope", env = "USAGE_KEY_SCOPE", value_delimiter = ',', value_parser = parse_scope)]
        scopes: Vec<Scope>,
        /// Seconds until the key stops working; without it, it works until revoked.
        #[arg(long, env = "USAGE_KEY_EXPIRES_IN", value_parser = clap::value_parser!(i64).range(1..=MAX_KEY_LIFETIME_SECS))]
        expires_in: Option<i64>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List an org's service keys, one per line, tab-separated: id, state
    /// (active, expired, revoked), scopes, created, expires, last used, label.
    List {
        /// The org.
        #[arg(long, env = "USAGE_ORG")]
        org: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a service key by its id (`sk_...`).
    Revoke {
        /// The org.
        #[arg(long, env = "USAGE_ORG")]
        org: String,
        /// The key id.
        #[arg(long, env = "USAGE_KEY_ID")]
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Start signing tokens with a new key; older keys keep verifying.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List signing keys.
    Signing {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove an old signing key: tokens, links and sessions signed with it
    /// stop working.
    Retire {
        /// The key id.
        #[arg(long, env = "USAGE_KID")]
        kid: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(command: KeysCommand) -> CliResult {
    let store_args = match &command {
        KeysCommand::Create { store, .. }
        | KeysCommand::List { store, .. }
        | KeysCommand::Revoke { store, .. }
        | KeysCommand::Rotate { store }
        | KeysCommand::Signing { store }
        | KeysCommand::Retire { store, .. } => store.clone(),
    };
    let store = open::store(&store_args).await?;
    match command {
        KeysCommand::Create {
            org,
            label,
            scopes,
            expires_in,
            ..
        } => {
            check_id(&org)?;
            store.ensure_org(&org).await?;
            let scopes = if scopes.is_empty() {
                Scope::ALL.to_vec()
            } else {
                scopes
            };
            let expires_at =
                expires_in.map(|secs| OffsetDateTime::now_utc() + time::Duration::seconds(secs));
            let key = credentials::new_service_key(&org, &label, &scopes, expires_at);
            store.add_service_key(&key.info, &key.hash).await?;
            store
                .record_audit(&org, &cli_author(), "service_key_create", &key.info.id)
                .await?;
            eprintln!(
                "created {} ({}) for `{org}`; store the key now, it is not shown again:",
                key.info.id,
                describe(&key.info),
            );
            println!("{}", key.secret);
        }
        KeysCommand::List { org, .. } => {
            let now = OffsetDateTime::now_utc();
            for key in store.service_keys(&org).await? {
                let state = if key.revoked {
                    "revoked"
                } else if key.is_expired(now) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{}\t{state}\t{}\t{}\t{}\t{}\t{}",
                    key.id,
                    scopes_to_text(&key.scopes).replace(' ', ","),
                    when(key.created_at),
                    key.expires_at.map_or_else(|| "never".to_owned(), when),
                    key.last_used_at.map_or_else(|| "never".to_owned(), when),
                    key.label
                );
            }
        }
        KeysCommand::Revoke { org, id, .. } => {
            if !store.revoke_service_key(&org, &id).await? {
                return Err(format!("no active key `{id}` in `{org}`").into());
            }
            store
                .record_audit(&org, &cli_author(), "service_key_revoke", &id)
                .await?;
            println!("revoked {id}");
        }
        KeysCommand::Rotate { .. } => {
            load_keyring(store.as_ref(), true).await?;
            let key = SigningKey::generate(new_kid()).expect("generated kids are valid");
            store.add_signing_key(&key, true).await?;
            println!(
                "now signing with {}; older keys still verify until retired",
                key.kid()
            );
        }
        KeysCommand::Signing { .. } => {
            for key in store.signing_keys().await? {
                let role = if key.current {
                    "current"
                } else {
                    "verify-only"
                };
                println!("{}\t{}\t{}", key.key.kid(), role, key.created_at);
            }
        }
        KeysCommand::Retire { kid, .. } => {
            if !store.remove_signing_key(&kid).await? {
                return Err(format!("`{kid}` is the current key or does not exist").into());
            }
            println!("retired {kid}");
        }
    }
    Ok(())
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    text.trim()
        .parse()
        .map_err(|err: usage_validator::Error| err.to_string())
}

/// `tokens+admin, expires 2026-...` for a key just made.
fn describe(key: &ServiceKeyInfo) -> String {
    let scopes = scopes_to_text(&key.scopes).replace(' ', "+");
    match key.expires_at {
        Some(at) => format!("{scopes}, expires {}", when(at)),
        None => format!("{scopes}, no expiry"),
    }
}

/// `2026-12-01T12:05:22Z`: RFC 3339 to the second, as scripts expect.
fn when(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// How a key change on the command line is named in the audit trail: the
/// operator, by their OS user.
fn cli_author() -> Author {
    let operator = crate::import::operator_name(None);
    Author::new(Actor::Operator(operator.clone()), Via::Cli).named(operator)
}
