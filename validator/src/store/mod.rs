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
    AuditPage, AuditQuery, Author, Change, OptOutPage, OptOutQuery, ServiceKeyInfo, UpsertSummary,
    User, UserPage, UserQuery, UserStatus,
};
use crate::token::SigningKey;
use crate::Result;

/// A boxed future, so that `Store` can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Told how many more users a long write has written.
pub type Progress<'a> = dyn Fn(usize) + Send + Sync + 'a;

fn ignore_progress(_written: usize) {}

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

    /// Adds or updates directory users in one transaction. A removed user
    /// named again comes back active; a deactivated one stays deactivated.
    fn upsert_users<'a>(
        &'a self,
        org: &'a str,
        users: &'a [User],
        author: &'a Author,
    ) -> BoxFuture<'a, Result<UpsertSummary>> {
        self.upsert_users_reporting(org, users, author, &ignore_progress)
    }

    /// [`Store::upsert_users`], calling `progress` with the number of users
    /// written as the transaction goes (they add up to `users.len()` once
    /// it commits), for a progress bar. Still all or nothing.
    fn upsert_users_reporting<'a>(
        &'a self,
        org: &'a str,
        users: &'a [User],
        author: &'a Author,
        progress: &'a Progress<'a>,
    ) -> BoxFuture<'a, Result<UpsertSummary>>;

    /// One active directory user: deactivated and removed users are not
    /// found here, so they lose any admin rights at once.
    fn user<'a>(&'a self, org: &'a str, id: &'a str) -> BoxFuture<'a, Result<Option<User>>>;

    /// One directory user whatever their status.
    fn user_with_status<'a>(
        &'a self,
        org: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<(User, UserStatus)>>>;

    /// Sets the directory status of `users` in one transaction and returns
    /// the ids whose status changed. Fails with
    /// [`crate::Error::UnknownUsers`], changing nothing, if any user is not in
    /// the directory or was removed.
    fn set_user_status<'a>(
        &'a self,
        org: &'a str,
        users: &'a [String],
        status: UserStatus,
        author: &'a Author,
    ) -> BoxFuture<'a, Result<Vec<String>>>;

    /// A page of directory users (removed ones never) with their opt-out status.
    fn list_users<'a>(
        &'a self,
        org: &'a str,
        query: &'a UserQuery,
    ) -> BoxFuture<'a, Result<UserPage>>;

    /// Sets the opt-out state of `users` in one transaction and returns the
    /// changes written: none for users already in that state. Fails with
    /// [`crate::Error::UnknownUsers`], changing nothing, if any user is not in
    /// the directory or was removed.
    fn set_opted_out<'a>(
        &'a self,
        org: &'a str,
        users: &'a [String],
        opted_out: bool,
        author: &'a Author,
    ) -> BoxFuture<'a, Result<Vec<Change>>>;

    /// A page of the org's opted-out users (removed ones not), newest first,
    /// then by id.
    fn opt_outs<'a>(
        &'a self,
        org: &'a str,
        query: &'a OptOutQuery,
    ) -> BoxFuture<'a, Result<OptOutPage>>;

    /// Changes with a revision above `rev`, oldest first, at most `limit`.
    fn changes_since(&self, rev: u64, limit: u32) -> BoxFuture<'_, Result<Vec<Change>>>;

    /// All opted-out users, read consistently with the revision returned.
    fn opt_out_state(&self) -> BoxFuture<'_, Result<OptOutState>>;

    /// The newest revision of the change log (0 when empty).
    fn head_revision(&self) -> BoxFuture<'_, Result<u64>>;

    /// A page of the org's audit trail, newest first.
    fn audit<'a>(&'a self, org: &'a str, query: &'a AuditQuery)
        -> BoxFuture<'a, Result<AuditPage>>;

    /// Appends to the org's audit trail.
    fn record_audit<'a>(
        &'a self,
        org: &'a str,
        author: &'a Author,
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

/// Most rows one page of a listing holds.
pub const MAX_PAGE: u32 = 1000;

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
        (true, Some(key), Some(last)) => {
            Some(cursor::encode(cursor::USERS, &[&key, &last.user.id]))
        }
        _ => None,
    };
    UserPage { users, next_cursor }
}

/// The page of an audit query that asked for `limit + 1` entries.
pub(crate) fn audit_page(mut entries: Vec<crate::model::AuditEntry>, limit: u32) -> AuditPage {
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_cursor = match (more, entries.last()) {
        (true, Some(last)) => Some(cursor::encode(cursor::AUDIT, &[&last.id.to_string()])),
        _ => None,
    };
    AuditPage {
        entries,
        next_cursor,
    }
}

/// The audit id a cursor continues below (`i64::MAX` without one).
pub(crate) fn audit_before(query: &AuditQuery) -> Result<i64> {
    match &query.cursor {
        None => Ok(i64::MAX),
        Some(c) => {
            let [id] = cursor::decode::<1>(cursor::AUDIT, c)?;
            id.parse()
                .map_err(|_| crate::Error::InvalidInput(cursor::NOT_OURS.into()))
        }
    }
}

/// Where an opted-out listing continues: `(at_ms, user_id)` of the last row
/// seen, or a position before every row. Newest first, ties (users opted out
/// in one call) by id: the order of the `opt_outs_by_time` index, so a page
/// is read without sorting the whole list.
pub(crate) fn opt_out_after(query: &OptOutQuery) -> Result<(i64, String)> {
    match &query.cursor {
        None => Ok((i64::MAX, String::new())),
        Some(c) => {
            let [at, id] = cursor::decode::<2>(cursor::OPT_OUTS, c)?;
            let at = at
                .parse()
                .map_err(|_| crate::Error::InvalidInput(cursor::NOT_OURS.into()))?;
            Ok((at, id))
        }
    }
}

/// The search text of a listing, lowercased as [`search_key`] is; blank
/// means none.
pub(crate) fn search_text(query: Option<&str>) -> Option<String> {
    query
        .filter(|q| !q.trim().is_empty())
        .map(str::to_lowercase)
}

/// What a search of the directory matches for `user`: id, name and email,
/// lowercased (Unicode-aware, unlike SQLite's `lower`).
pub(crate) fn search_key(user: &User) -> String {
    format!("{} {} {}", user.id, user.name, user.email).to_lowercase()
}

/// The record of a user as the audit trail keeps it, before or after a change.
pub(crate) fn user_state(user: &User, status: UserStatus) -> String {
    serde_json::json!({
        "name": user.name,
        "email": user.email,
        "role": user.role.as_str(),
        "status": status.as_str(),
    })
    .to_string()
}

/// An opt-out state as the audit trail keeps it.
pub(crate) fn opt_out_state_json(opted_out: bool) -> String {
    serde_json::json!({ "opted_out": opted_out }).to_string()
}

/// The status of a user as the audit trail keeps it.
pub(crate) fn status_json(status: UserStatus) -> String {
    serde_json::json!({ "status": status.as_str() }).to_string()
}

/// The audit action of a status change.
pub(crate) fn status_action(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Active => "user_activate",
        UserStatus::Deactivated => "user_deactivate",
        UserStatus::Removed => "user_remove",
    }
}

/// A JSON column read back; text that does not parse (never written by us)
/// reads as a plain string rather than failing the listing.
pub(crate) fn json_column(text: Option<String>) -> Option<serde_json::Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

/// Listing cursors: opaque to clients; inside, a tag naming the listing and
/// the sort key of the last row seen, so a cursor of one list is refused by
/// another.
pub(crate) mod cursor {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    use crate::{Error, Result};

    /// The tag of directory listings.
    pub(crate) const USERS: &str = "u";
    /// The tag of opted-out listings.
    pub(crate) const OPT_OUTS: &str = "o";
    /// The tag of audit listings.
    pub(crate) const AUDIT: &str = "a";
    /// The error for a cursor this server did not make.
    pub(crate) const NOT_OURS: &str = "cursor is not one this server made for this list";

    /// Encodes the position after the row whose sort key is `parts`.
    pub(crate) fn encode(tag: &str, parts: &[&str]) -> String {
        let mut text = String::from(tag);
        for part in parts {
            text.push('\u{0}');
            text.push_str(part);
        }
        URL_SAFE_NO_PAD.encode(text)
    }

    /// Decodes a cursor made by [`encode`] with the same tag and `N` parts.
    pub(crate) fn decode<const N: usize>(tag: &str, cursor: &str) -> Result<[String; N]> {
        let bad = || Error::InvalidInput(NOT_OURS.into());
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.split('\u{0}');
        if parts.next() != Some(tag) {
            return Err(bad());
        }
        let parts: Vec<String> = parts.map(str::to_owned).collect();
        parts.try_into().map_err(|_| bad())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_cursor_reads_back_only_in_its_own_list() {
            let c = encode(OPT_OUTS, &["17", "bob", "b\u{e9}"]);
            assert_eq!(
                decode::<3>(OPT_OUTS, &c).expect("ours"),
                ["17", "bob", "b\u{e9}"]
            );
            assert!(decode::<3>(USERS, &c).is_err());
            assert!(decode::<2>(OPT_OUTS, &c).is_err());
            assert!(decode::<1>(AUDIT, "not base64!").is_err());
        }
    }
}
