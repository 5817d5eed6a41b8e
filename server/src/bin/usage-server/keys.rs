//! `usage-server keys`: service keys per org and signing-key rotation.

use clap::Subcommand;
use usage_validator::credentials;
use usage_validator::keystore::{load_keyring, new_kid};
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
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List an org's service keys.
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
        KeysCommand::Create { org, label, .. } => {
            check_id(&org)?;
            store.ensure_org(&org).await?;
            let key = credentials::new_service_key(&org, &label);
            store.add_service_key(&key.info, &key.hash).await?;
            eprintln!(
                "created {} for `{org}`; store the key now, it is not shown again:",
                key.info.id
            );
            println!("{}", key.secret);
        }
        KeysCommand::List { org, .. } => {
            for key in store.service_keys(&org).await? {
                let state = if key.revoked { "revoked" } else { "active" };
                println!("{}\t{}\t{}\t{}", key.id, state, key.created_at, key.label);
            }
        }
        KeysCommand::Revoke { org, id, .. } => {
            if !store.revoke_service_key(&org, &id).await? {
                return Err(format!("no active key `{id}` in `{org}`").into());
            }
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
