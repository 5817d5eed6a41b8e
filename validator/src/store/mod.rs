//! Where the registry lives: the `Store` trait and its backends.
//!
//! A store is the durable truth. The in-memory snapshot the hot path reads is
//! derived from it (see [`crate::registry`]).

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use time::OffsetDateTime;

use crate::model::{
    Actor, AuditEntry, Change, OptOutEntry, ServiceKeyInfo, UpsertSummary, User, UserPage,
    UserQuery,
};
use crate::token::SigningKey;
use crate::Result;

/// A boxed future, so that `Store` can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Every opted-out user of the registry, read at one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptOutState {
    /// The newest revision included.
    pub rev: u64,
    /// `(org, user)` pairs.
    pub opted_out: Vec<(String, String)>,
}

/// A signing key as stored, with whether it signs new tokens.
#[derive(Debug, Clone)]
pub struct StoredSigningKey {
    /// The key.
    pub key: SigningKey,
    /// Whether it is the current (signing) key.
    pub current: bool,
    /// When it was added.
    pub created_at: OffsetDateTime,
}

/// Durable storage of the registry: directory, opt-outs, change log, audit
/// trail and credentials.
///
/// Implementations must make each call atomic, and [`Store::set_opted_out`]
/// must assign strictly increasing revisions to the changes it writes.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Creates the org if it does not exist.
    fn ensure_org<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Whether the org exists.
    fn org_exists<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// Adds or updates directory users in one transaction.
    fn upsert_users<'a>(
        &'a self,
        org: &'a str,
        users: &'a [User],
        actor: &'a Actor,
    ) -> BoxFuture<'a, Result<UpsertSummary>>;

    /// One directory user.
    fn user<'a>(&'a self, org: &'a str, id: &'a str) -> BoxFuture<'a, Result<Option<User>>>;

    /// A page of directory users with their opt-out status.
    fn list_users<'a>(
        &'a self,
        org: &'a str,
        query: &'a UserQuery,
    ) -> BoxFuture<'a, Result<UserPage>>;

    /// Sets the opt-out state of `users` in one transaction and returns the
    /// changes written: none for users already in that state. Fails with
    /// [`crate::Error::UnknownUsers`], changing nothing, if any user is not in
    /// the directory.
    fn set_opted_out<'a>(
        &'a self,
        org: &'a str,
        users: &'a [String],
        opted_out: bool,
        actor: &'a Actor,
    ) -> BoxFuture<'a, Result<Vec<Change>>>;

    /// The org's opted-out users, newest first.
    fn opt_outs<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<Vec<OptOutEntry>>>;

    /// Changes with a revision above `rev`, oldest first, at most `limit`.
    fn changes_since(&self, rev: u64, limit: u32) -> BoxFuture<'_, Result<Vec<Change>>>;

    /// All opted-out users, read consistently with the revision returned.
    fn opt_out_state(&self) -> BoxFuture<'_, Result<OptOutState>>;

    /// The newest revision of the change log (0 when empty).
    fn head_revision(&self) -> BoxFuture<'_, Result<u64>>;

    /// The org's audit trail, newest first, entries with id below `before`.
    fn audit<'a>(
        &'a self,
        org: &'a str,
        limit: u32,
        before: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<AuditEntry>>>;

    /// Appends to the org's audit trail.
    fn record_audit<'a>(
        &'a self,
        org: &'a str,
        actor: &'a Actor,
        action: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<()>>;

    /// All signing keys.
    fn signing_keys(&self) -> BoxFuture<'_, Result<Vec<StoredSigningKey>>>;

    /// Adds a signing key; with `current`, it becomes the only current key.
    fn add_signing_key<'a>(
        &'a self,
        key: &'a SigningKey,
        current: bool,
    ) -> BoxFuture<'a, Result<()>>;

    /// Removes a key that is not current; returns whether one was removed.
    fn remove_signing_key<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// Stores a new service key, with its scopes and expiry, by the SHA-256
    /// of its secret.
    fn add_service_key<'a>(
        &'a self,
        info: &'a ServiceKeyInfo,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<()>>;

    /// The unrevoked service key with this secret hash, expired or not (so
    /// the caller can say which).
    fn service_key_by_hash<'a>(
        &'a self,
        secret_hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<ServiceKeyInfo>>>;

    /// Records that key `id` was presented at `at`.
    fn touch_service_key<'a>(
        &'a self,
        id: &'a str,
        at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<()>>;

    /// The org's service keys, revoked ones included.
    fn service_keys<'a>(&'a self, org: &'a str) -> BoxFuture<'a, Result<Vec<ServiceKeyInfo>>>;

    /// Revokes a service key; returns whether a live key was revoked.
    fn revoke_service_key<'a>(&'a self, org: &'a str, id: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// Marks a one-time nonce used; returns false if it was used before.
    /// Nonces past `expires_at` may be forgotten.
    fn consume_nonce<'a>(
        &'a self,
        nonce: &'a str,
        expires_at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Whether `nonce` was consumed and is still remembered (it is kept at
    /// least until the `expires_at` it was consumed with).
    fn nonce_used<'a>(&'a self, nonce: &'a str) -> BoxFuture<'a, Result<bool>>;
}

/// Unix milliseconds of `at`, the form stores keep times in.
pub(crate) fn to_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The time at `ms` unix milliseconds (clamped to the representable range).
pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The key users are listed by: the lowercased name, so the order reads
/// naturally whatever the case of the input.
pub(crate) fn sort_key(name: &str) -> String {
    name.to_lowercase()
}

/// The page of a listing query that asked for `limit + 1` rows, each with
/// its sort key: the extra row only says another page follows.
pub(crate) fn user_page(rows: Vec<(crate::model::DirectoryEntry, String)>, limit: u32) -> UserPage {
    let more = rows.len() > limit as usize;
    let mut users = Vec::with_capacity(rows.len().min(limit as usize));
    let mut last_key = None;
    for (entry, key) in rows.into_iter().take(limit as usize) {
        users.push(entry);
        last_key = Some(key);
    }
    let next_cursor = match (more, last_key, users.last()) {
        (true, Some(key), Some(last)) => Some(cursor::encode(&key, &last.user.id)),
        _ => None,
    };
    UserPage { users, next_cursor }
}

/// A listing cursor: opaque to clients, `(sort_key, id)` inside.
pub(crate) mod cursor {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    use crate::{Error, Result};

    /// Encodes the position after `(sort_key, id)`.
    pub(crate) fn encode(sort_key: &str, id: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{sort_key}\u{0}{id}"))
    }

    /// Decodes a cursor made by [`encode`].
    pub(crate) fn decode(cursor: &str) -> Result<(String, String)> {
        let bad = || Error::InvalidInput("cursor is not one this server made".into());
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (key, id) = text.split_once('\u{0}').ok_or_else(bad)?;
        Ok((key.to_owned(), id.to_owned()))
    }
}
