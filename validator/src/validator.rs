//! The front door for back ends: one [`Validator`] over the registry and keys
//! a `usage-server` keeps, for the three things a product's back end does:
//! issue a status token at login, ask whether a user is opted out now, and
//! check a batch of events before storing it.

use std::path::Path;
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;
use usage_protocol::{Claims, Event};

use crate::check::{self, Subject, Verdict};
use crate::dedupe::Dedupe;
use crate::keystore::load_keyring;
use crate::registry::Registry;
use crate::store::Store;
use crate::token::{self, KeyRing, TokenError, DEFAULT_LIFETIME_SECS};
use crate::{Error, Result};

/// The registry file inside a data folder, as `usage-server --data` keeps it.
pub const REGISTRY_FILE: &str = "registry.db";

/// The registry, signing keys and dedupe window of one back end, shared with
/// the `usage-server` that uses the same store.
///
/// Every answer reads the store's newest revision first, so a change made
/// by the server (an admin opting a user out a moment ago) counts at once,
/// even from another process.
#[derive(Debug)]
pub struct Validator {
    registry: Arc<Registry>,
    keys: RwLock<KeyRing>,
    dedupe: Dedupe,
    token_lifetime_secs: i64,
}

/// A status token issued at login, for the client SDK's `login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The signed token.
    pub token: String,
    /// Whether the user is opted out now.
    pub opt_out: bool,
    /// Expiry, unix seconds.
    pub exp: i64,
}

impl Validator {
    /// Opens the registry at `location`: a `postgres://` URL (the database
    /// many server instances share) or a data folder (the SQLite registry a
    /// single server keeps there, created if missing).
    pub async fn open(location: &str) -> Result<Self> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Self::connect_postgres(location).await;
        }
        Self::open_folder(Path::new(location)).await
    }

    /// Opens the SQLite registry in the data folder `folder`.
    #[cfg(feature = "sqlite")]
    pub async fn open_folder(folder: &Path) -> Result<Self> {
        std::fs::create_dir_all(folder).map_err(|err| {
            Error::InvalidInput(format!("cannot create {}: {err}", folder.display()))
        })?;
        let store = crate::store::sqlite::SqliteStore::open(&folder.join(REGISTRY_FILE)).await?;
        Self::from_store(Arc::new(store)).await
    }

    /// Opens the SQLite registry in the data folder `folder`.
    #[cfg(not(feature = "sqlite"))]
    pub async fn open_folder(folder: &Path) -> Result<Self> {
        Err(Error::InvalidInput(format!(
            "{} is a data folder, but usage-validator was built without the `sqlite` feature",
            folder.display()
        )))
    }

    #[cfg(feature = "postgres")]
    async fn connect_postgres(url: &str) -> Result<Self> {
        let store = crate::store::postgres::PostgresStore::connect(url).await?;
        Self::from_store(Arc::new(store)).await
    }

    #[cfg(not(feature = "postgres"))]
    async fn connect_postgres(_url: &str) -> Result<Self> {
        Err(Error::InvalidInput(
            "a postgres:// URL needs usage-validator's `postgres` feature".into(),
        ))
    }

    /// A validator over a store opened by the caller. Adds a first signing
    /// key if the store has none.
    pub async fn from_store(store: Arc<dyn Store>) -> Result<Self> {
        let keys = load_keyring(store.as_ref(), true).await?;
        let registry = Registry::open(store).await?.with_head_check(true);
        Ok(Self {
            registry: Arc::new(registry),
            keys: RwLock::new(keys),
            dedupe: Dedupe::default(),
            token_lifetime_secs: DEFAULT_LIFETIME_SECS,
        })
    }

    /// Issued tokens live `secs` seconds (default 12 h).
    pub fn with_token_lifetime(mut self, secs: i64) -> Self {
        self.token_lifetime_secs = secs;
        self
    }

    /// Whether `user` of `org` is opted out now. Fails with
    /// [`Error::RegistryUnavailable`] when the registry cannot be confirmed
    /// current: then track nothing and ask again later.
    pub async fn is_opted_out(&self, org: &str, user: &str) -> Result<bool> {
        self.registry.ensure_fresh().await?;
        Ok(self.registry.is_opted_out(org, user))
    }

    /// At login: a status token for `user` of `org` carrying the flag as it
    /// is now. A user new to the org's directory is added as a plain user.
    pub async fn issue_token(&self, org: &str, user: &str) -> Result<IssuedToken> {
        self.registry.ensure_user(org, user, None, None).await?;
        self.registry.ensure_fresh().await?;
        // The server may have rotated its signing key; sign with its current one.
        self.reload_keys().await?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            org: org.to_owned(),
            sub: user.to_owned(),
            opt_out: self.registry.is_opted_out(org, user),
            rev: self.registry.revision(),
            iat: now,
            exp: now + self.token_lifetime_secs,
        };
        let token = token::issue(&self.ring(), &claims);
        Ok(IssuedToken {
            token,
            opt_out: claims.opt_out,
            exp: claims.exp,
        })
    }

    /// Checks a client's batch: verifies its status token, then decides each
    /// event from the registry as it stands now (never the token's flag).
    /// Store `verdict.accepted`, then `verdict.reservation.commit()` (until
    /// then their ids are held, and a failed store releases them so the
    /// retry is not taken for a duplicate); answer the client
    /// `verdict.response`.
    pub async fn check_batch(&self, status_token: &str, events: Vec<Event>) -> Result<Verdict<'_>> {
        let claims = self.verify(status_token).await?;
        self.check_events(&claims.org, &claims.sub, events).await
    }

    /// Checks events a back end records on behalf of `user` of `org`; the
    /// verdict is used as [`Validator::check_batch`]'s.
    pub async fn check_events(
        &self,
        org: &str,
        user: &str,
        events: Vec<Event>,
    ) -> Result<Verdict<'_>> {
        self.registry.ensure_fresh().await?;
        let subject = Subject { org, user };
        Ok(check::check_batch(
            &self.registry,
            &self.dedupe,
            subject,
            events.into_iter().map(Ok).collect(),
        ))
    }

    /// The registry, for the low-level API (opt-outs, directory, audit).
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    async fn verify(&self, status_token: &str) -> Result<Claims> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        match token::verify(&self.ring(), status_token, now) {
            // A key added since this validator loaded its ring: load again once.
            Err(TokenError::UnknownKey) => {
                self.reload_keys().await?;
                Ok(token::verify(&self.ring(), status_token, now)?)
            }
            verified => Ok(verified?),
        }
    }

    async fn reload_keys(&self) -> Result<()> {
        let ring = load_keyring(self.registry.store().as_ref(), false).await?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = ring;
        Ok(())
    }

    fn ring(&self) -> KeyRing {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::model::Actor;

    fn event(name: &str) -> Event {
        Event::new(
            uuid::Uuid::now_v7(),
            name,
            OffsetDateTime::now_utc(),
            None,
            None,
        )
        .expect("a valid event")
    }

    /// A validator on `dir` whose registry has the org `acme`.
    async fn with_acme(dir: &std::path::Path) -> Validator {
        let folder = dir.to_str().expect("utf-8 temp path");
        let validator = Validator::open(folder).await.expect("open");
        validator
            .registry()
            .store()
            .ensure_org("acme")
            .await
            .expect("org");
        validator
    }

    #[tokio::test]
    async fn a_second_validator_on_the_same_folder_sees_an_opt_out_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().to_str().expect("utf-8 temp path");
        let server = with_acme(dir.path()).await;
        let back_end = Validator::open(folder).await.expect("open again");

        let login = back_end.issue_token("acme", "bob").await.expect("token");
        assert!(!login.opt_out);
        assert!(!back_end.is_opted_out("acme", "bob").await.expect("ask"));

        server
            .registry()
            .opt_out("acme", &["bob".into()], &Actor::User("alice".into()))
            .await
            .expect("opt out");
        assert!(back_end.is_opted_out("acme", "bob").await.expect("ask"));

        // Bob's token still says "tracked"; the check decides by the registry.
        let verdict = back_end
            .check_batch(&login.token, vec![event("report.opened")])
            .await
            .expect("check");
        assert!(verdict.response.opted_out);
        assert!(verdict.accepted.is_empty());
        assert!(
            back_end
                .issue_token("acme", "bob")
                .await
                .expect("token")
                .opt_out
        );
    }

    #[tokio::test]
    async fn tokens_live_twelve_hours_unless_told_otherwise() {
        let dir = tempfile::tempdir().expect("temp dir");
        let validator = with_acme(dir.path()).await;
        let lifetime = |token: &IssuedToken| {
            let claims = usage_protocol::read_claims(&token.token).expect("claims");
            assert_eq!(claims.exp, token.exp);
            claims.exp - claims.iat
        };
        let issued = validator.issue_token("acme", "bob").await.expect("token");
        assert_eq!(lifetime(&issued), 12 * 60 * 60, "the contract's default");
        let short = validator.with_token_lifetime(600);
        let issued = short.issue_token("acme", "bob").await.expect("token");
        assert_eq!(lifetime(&issued), 600);
    }

    #[tokio::test]
    async fn a_batch_is_checked_once_per_event_id_and_forged_tokens_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let validator = with_acme(dir.path()).await;
        let login = validator.issue_token("acme", "carol").await.expect("token");
        let first = event("report.opened");
        let verdict = validator
            .check_batch(&login.token, vec![first.clone()])
            .await
            .expect("check");
        assert_eq!(verdict.accepted.len(), 1);
        // Stored: its id stays remembered.
        verdict.reservation.commit();
        let again = validator
            .check_batch(&login.token, vec![first])
            .await
            .expect("check");
        assert_eq!(again.response.duplicates, 1);
        assert!(again.accepted.is_empty());

        let forged = format!("{}x", login.token);
        assert!(matches!(
            validator.check_batch(&forged, vec![event("x")]).await,
            Err(Error::Token(_))
        ));
    }

    #[tokio::test]
    async fn a_key_rotated_by_the_server_verifies_and_signs_here() {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().to_str().expect("utf-8");
        let back_end = with_acme(dir.path()).await;
        let checker = Validator::open(folder).await.expect("open");
        // The server rotates: a new current key neither validator has loaded.
        let rotated = token::SigningKey::generate("k-rotated").expect("kid");
        back_end
            .registry()
            .store()
            .add_signing_key(&rotated, true)
            .await
            .expect("rotate");
        let login = back_end.issue_token("acme", "dave").await.expect("token");
        assert!(login.token.starts_with("v1.k-rotated."), "{}", login.token);
        let verdict = checker
            .check_batch(&login.token, vec![event("a")])
            .await
            .expect("verifies with the key loaded on demand");
        assert_eq!(verdict.accepted.len(), 1);
    }
}
