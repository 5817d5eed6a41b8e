//! Status tokens, the opt-out registry and the authoritative event check of
//! product usage tracking with per-user opt-out: the library a back end
//! embeds. The `usage-server` crate builds the HTTP service on top of it.
//!
//! A back end that tracks on behalf of its users embeds the same check the
//! server runs: it asks the registry as it stands now, never a client's flag.
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! use std::sync::Arc;
//!
//! use usage_protocol::{Claims, Event};
//! use usage_validator::check::{check_batch, Subject};
//! use usage_validator::dedupe::Dedupe;
//! use usage_validator::model::{Actor, Role, User};
//! use usage_validator::store::{sqlite::SqliteStore, Store as _};
//! use usage_validator::token::{self, KeyRing, SigningKey};
//! use usage_validator::Registry;
//!
//! // The registry: a SQLite file in production, in memory here.
//! let store = SqliteStore::in_memory().await?;
//! store.ensure_org("acme").await?;
//! let bob = User { id: "bob".into(), name: "Bob".into(), email: String::new(), role: Role::User };
//! store.upsert_users("acme", &[bob], &Actor::System).await?;
//! let registry = Registry::open(Arc::new(store)).await?;
//!
//! // At login: a status token carrying the flag as it is now.
//! let ring = KeyRing::new(SigningKey::generate("k1").expect("a valid key id"));
//! let now = time::OffsetDateTime::now_utc().unix_timestamp();
//! let claims = Claims {
//!     org: "acme".into(), sub: "bob".into(), rev: registry.revision(), iat: now, exp: now + 3600,
//!     opt_out: registry.is_opted_out("acme", "bob"),
//! };
//! let login_token = token::issue(&ring, &claims);
//!
//! // An admin opts bob out; his token still says he is tracked.
//! registry.opt_out("acme", &["bob".into()], &Actor::User("alice".into())).await?;
//!
//! // The check decides from the registry: bob's event is discarded.
//! let verified = token::verify(&ring, &login_token, now)?;
//! assert!(!verified.opt_out);
//! let event = Event::new(uuid::Uuid::now_v7(), "report.opened", time::OffsetDateTime::now_utc(), None, None)
//!     .expect("a valid event");
//! let subject = Subject { org: &verified.org, user: &verified.sub };
//! let verdict = check_batch(&registry, &Dedupe::default(), subject, vec![Ok(event)]);
//! assert!(verdict.response.opted_out);
//! assert_eq!(verdict.response.discarded, 1);
//! assert!(verdict.accepted.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! * `sqlite` (default): the embedded registry store on a SQLite file.
//! * `postgres` (default): the shared registry store, its change
//!   notifications and an event sink on PostgreSQL.
//! * `nats`: an event sink into a NATS JetStream stream (`sink::NatsSink`).
//!
//! Back ends embed the library without the HTTP stack:
//! `usage-validator = { version = "0.1", default-features = false, features = ["sqlite"] }`.

pub mod batch;
pub mod check;
pub mod credentials;
pub mod dedupe;
mod error;
pub mod keystore;
pub mod model;
pub mod registry;
pub mod sink;
pub mod store;
pub mod token;

pub use error::{Error, Result};
pub use registry::Registry;
