//! Service keys, one-time sign-in links and admin session cookies.
//!
//! Service keys are random secrets shown once and stored only as SHA-256.
//! Links and sessions are signed with the same key ring as status tokens, each
//! under its own purpose label so one can never pass for another.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::model::{Scope, ServiceKeyInfo};
use crate::token::KeyRing;

/// The prefix of every service key, so leaked keys are easy to recognise.
pub const SERVICE_KEY_PREFIX: &str = "usk_";

/// How long a sign-in link made on the command line stays valid.
pub const SIGNIN_LINK_SECS: i64 = 15 * 60;

/// How long a sign-in link a product's back end asks for stays valid: the
/// product redirects its admin at once, so minutes are plenty.
pub const ADMIN_LINK_SECS: i64 = 2 * 60;

/// The longest lifetime a service key can be given at creation: ten years.
pub const MAX_KEY_LIFETIME_SECS: i64 = 10 * 365 * 24 * 60 * 60;

/// How stale a key's recorded last use may get: it is written at most this
/// often, so a busy key does not cost a store write per request.
pub const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// How long an admin session lasts.
pub const SESSION_SECS: i64 = 8 * 60 * 60;

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the OS random source is available");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A freshly made service key: the secret to show once and the record to store.
#[derive(Debug)]
pub struct NewServiceKey {
    /// The full key, `usk_<id>_<secret>`; never stored.
    pub secret: String,
    /// The stored record.
    pub info: ServiceKeyInfo,
    /// SHA-256 of `secret`, the only form stored.
    pub hash: [u8; 32],
}

/// Makes a new service key for `org` holding `scopes` (at least one), that
/// stops working at `expires_at` if given.
pub fn new_service_key(
    org: &str,
    label: &str,
    scopes: &[Scope],
    expires_at: Option<OffsetDateTime>,
) -> NewServiceKey {
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let mut id_bytes = [0u8; 6];
    getrandom::getrandom(&mut id_bytes).expect("the OS random source is available");
    let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret = format!("{SERVICE_KEY_PREFIX}{id}_{}", random_b64(32));
    let hash = hash_service_key(&secret);
    NewServiceKey {
        secret,
        info: ServiceKeyInfo {
            id: format!("sk_{id}"),
            org: org.to_owned(),
            label: label.to_owned(),
            scopes,
            created_at: OffsetDateTime::now_utc(),
            expires_at,
            last_used_at: None,
            revoked: false,
        },
        hash,
    }
}

/// SHA-256 of a presented service key, to look it up.
pub fn hash_service_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether a bearer value looks like a service key rather than a status token.
pub fn is_service_key(bearer: &str) -> bool {
    bearer.starts_with(SERVICE_KEY_PREFIX)
}

/// What a sign-in link grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// The org.
    pub org: String,
    /// The admin.
    pub user: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Makes the link one-time: recorded as used at sign-in.
    pub nonce: String,
    /// Where to land after sign-in: a path of the org's settings page,
    /// checked when the link is made and again when it is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

impl SignIn {
    /// A link for `user` of `org` valid for `secs` seconds.
    pub fn new(org: &str, user: &str, secs: i64) -> Self {
        Self {
            org: org.to_owned(),
            user: user.to_owned(),
            exp: OffsetDateTime::now_utc().unix_timestamp() + secs,
            nonce: random_b64(16),
            return_to: None,
        }
    }

    /// The same link landing on `return_to` after sign-in.
    pub fn landing_on(mut self, return_to: Option<String>) -> Self {
        self.return_to = return_to;
        self
    }
}

/// An admin session, carried in an HttpOnly cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The org the admin signed in to.
    pub org: String,
    /// The admin's user id.
    pub user: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// The CSRF token forms and scripts must echo.
    pub csrf: String,
}

impl Session {
    /// A session for `user` of `org`.
    pub fn new(org: &str, user: &str) -> Self {
        Self {
            org: org.to_owned(),
            user: user.to_owned(),
            exp: OffsetDateTime::now_utc().unix_timestamp() + SESSION_SECS,
            csrf: random_b64(24),
        }
    }

    /// The name under which the store remembers that this session ended
    /// (signed out, or its admin demoted). Derived from the session's secret
    /// CSRF token, which is unique per session, without revealing it.
    pub fn ended_key(&self) -> String {
        format!(
            "session-ended:{}",
            URL_SAFE_NO_PAD.encode(Sha256::digest(self.csrf.as_bytes()))
        )
    }

    /// Until when the store must remember that this session ended.
    pub fn expires_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.exp).unwrap_or_else(|_| OffsetDateTime::now_utc())
            + time::Duration::seconds(usage_protocol::limits::CLOCK_LEEWAY_SECS)
    }
}

/// How long past its expiry a used sign-in link's nonce is remembered, so a
/// link cannot be used twice at the edge of its validity (clock leeway, or
/// seconds against milliseconds).
pub const USED_LINK_MEMORY_SECS: i64 = 24 * 60 * 60;

/// Signs `value` for `purpose`: `<kid>.<payload>.<tag>`.
pub fn sign<T: Serialize>(ring: &KeyRing, purpose: &str, value: &T) -> String {
    let key = ring.current();
    let payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("plain structs serialize"));
    let mut mac = key.mac_state();
    mac.update(purpose.as_bytes());
    mac.update(b".");
    mac.update(key.kid().as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{}.{payload}.{tag}", key.kid())
}

/// Verifies a value signed by [`sign`] for the same purpose, unexpired at `now`.
pub fn open<T: DeserializeOwned + Expiring>(
    ring: &KeyRing,
    purpose: &str,
    signed: &str,
    now: i64,
) -> Option<T> {
    if signed.len() > 4096 {
        return None;
    }
    let mut parts = signed.split('.');
    let (Some(kid), Some(payload), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let key = ring.get(kid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let mut mac = key.mac_state();
    mac.update(purpose.as_bytes());
    mac.update(b".");
    mac.update(kid.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&tag).ok()?;
    let value: T = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (value.expires_at() >= now).then_some(value)
}

/// Signed values that expire.
pub trait Expiring {
    /// Expiry, unix seconds.
    fn expires_at(&self) -> i64;
}

impl Expiring for SignIn {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

impl Expiring for Session {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// Purpose label of sign-in links.
pub const SIGNIN_PURPOSE: &str = "signin";
/// Purpose label of session cookies.
pub const SESSION_PURPOSE: &str = "session";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::SigningKey;

    fn ring() -> KeyRing {
        KeyRing::new(SigningKey::new("k1", vec![1; 32]).expect("key"))
    }

    #[test]
    fn a_signed_session_opens_only_for_its_purpose() {
        let ring = ring();
        let session = Session::new("acme", "alice");
        let cookie = sign(&ring, SESSION_PURPOSE, &session);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert_eq!(
            open::<Session>(&ring, SESSION_PURPOSE, &cookie, now),
            Some(session.clone())
        );
        assert_eq!(open::<Session>(&ring, SIGNIN_PURPOSE, &cookie, now), None);
        assert_eq!(
            open::<Session>(&ring, SESSION_PURPOSE, &cookie, session.exp + 1),
            None
        );
        let mut tampered = cookie.clone();
        tampered.insert(5, 'x');
        assert_eq!(
            open::<Session>(&ring, SESSION_PURPOSE, &tampered, now),
            None
        );
    }

    #[test]
    fn service_keys_are_stored_only_as_hashes() {
        let key = new_service_key("acme", "ci", &[Scope::Tokens], None);
        assert!(is_service_key(&key.secret));
        assert_eq!(hash_service_key(&key.secret), key.hash);
        assert!(!format!("{:?}", key.info).contains(&key.secret));
        assert_ne!(
            new_service_key("acme", "ci", &[Scope::Tokens], None).secret,
            key.secret
        );
    }

    #[test]
    fn a_new_key_holds_each_scope_it_was_given_once() {
        let key = new_service_key(
            "acme",
            "ci",
            &[Scope::Admin, Scope::Tokens, Scope::Admin],
            None,
        );
        assert_eq!(key.info.scopes, [Scope::Tokens, Scope::Admin]);
        assert!(key.info.allows(Scope::Admin) && key.info.allows(Scope::Tokens));
        let tokens_only = new_service_key("acme", "ci", &[Scope::Tokens], None);
        assert!(!tokens_only.info.allows(Scope::Admin));
    }

    #[test]
    fn a_key_expires_at_its_time_and_not_before() {
        let at = OffsetDateTime::now_utc() + time::Duration::minutes(5);
        let key = new_service_key("acme", "ci", &Scope::ALL, Some(at));
        assert!(!key.info.is_expired(at - time::Duration::seconds(1)));
        assert!(key.info.is_expired(at));
        assert!(!new_service_key("acme", "ci", &Scope::ALL, None)
            .info
            .is_expired(at + time::Duration::days(10_000)));
    }
}
