//! Status tokens, the opt-out registry and the authoritative event check of
//! product usage tracking with per-user opt-out: the library a back end
//! embeds. The `usage-server` crate builds the HTTP service on top of it.
//!
//! A back end opens a [`Validator`] on the registry its `usage-server` keeps
//! (the data folder, or the PostgreSQL URL) and does three things with it:
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! # let dir = tempfile::tempdir()?;
//! # let data = dir.path().to_str().expect("a UTF-8 temp path");
//! # usage_validator::Validator::open(data).await?.registry().store().ensure_org("acme").await?;
//! use usage_validator::Validator;
//!
//! let validator = Validator::open(data).await?; // or "postgres://usage@db/usage"
//! let login = validator.issue_token("acme", "bob").await?; // at login: hand `login.token` to the client SDK
//! let track = !validator.is_opted_out("acme", "bob").await?; // before tracking server-side
//! # assert!(track && !login.opt_out);
//! # let events = vec![usage_protocol::Event::new(uuid::Uuid::now_v7(), "report.opened", time::OffsetDateTime::now_utc(), None, None).expect("a valid event")];
//! let verdict = validator.check_batch(&login.token, events).await?; // a client's batch: store `verdict.accepted`,
//! verdict.reservation.commit(); // then remember their ids as stored
//! # assert_eq!(verdict.accepted.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every answer reads the registry as it stands now, so an opt-out an admin
//! made on the server a moment ago counts at once. See `docs/embedding.md`
//! in the repository for the whole embedding, the front end and the admin
//! hand-over included.
//!
//! # The parts underneath
//!
//! The modules below stay public for back ends that need more control: the
//! same decision with each part built by hand. The registry decides, not the
//! token:
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! use std::sync::Arc;
//!
//! use usage_protocol::{Claims, Event};
//! use usage_validator::check::{check_batch, Subject};
//! use usage_validator::dedupe::Dedupe;
//! use usage_validator::model::{Actor, Author, Role, User};
//! use usage_validator::store::{sqlite::SqliteStore, Store as _};
//! use usage_validator::token::{self, KeyRing, SigningKey};
//! use usage_validator::Registry;
//!
//! // The registry: a SQLite file in production, in memory here.
//! let store = SqliteStore::in_memory().await?;
//! store.ensure_org("acme").await?;
//! let bob = User { id: "bob".into(), name: "Bob".into(), email: String::new(), role: Role::User };
//! store.upsert_users("acme", &[bob], &Author::system()).await?;
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
//! let dedupe = Dedupe::default();
//! let verdict = check_batch(&registry, &dedupe, subject, vec![Ok(event)]);
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
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod validator;

pub use error::{Error, Result};
pub use registry::Registry;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use validator::{IssuedToken, Validator, REGISTRY_FILE};
