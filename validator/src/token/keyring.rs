use std::collections::HashMap;
use std::fmt;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use usage_protocol::is_valid_kid;

type HmacSha256 = Hmac<Sha256>;

/// One HMAC key with its id. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    secret: Vec<u8>,
    // The keyed state after absorbing the key, cloned per use so each
    // verification hashes only the message.
    state: HmacSha256,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its id and secret; `None` if the id is not `1*32 (a-z / 0-9 / "-")`
    /// or the secret is shorter than 32 bytes.
    pub fn new(kid: impl Into<String>, secret: impl Into<Vec<u8>>) -> Option<Self> {
        let kid = kid.into();
        let secret = secret.into();
        if !is_valid_kid(&kid) || secret.len() < 32 {
            return None;
        }
        let state = HmacSha256::new_from_slice(&secret).expect("HMAC takes keys of any length");
        Some(Self { kid, secret, state })
    }

    /// A fresh random key with the given id.
    pub fn generate(kid: impl Into<String>) -> Option<Self> {
        let mut secret = vec![0u8; 32];
        getrandom::getrandom(&mut secret).expect("the OS random source is available");
        Self::new(kid, secret)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The secret bytes, for storing the key.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub(crate) fn mac_state(&self) -> HmacSha256 {
        self.state.clone()
    }

    /// HMAC-SHA256 of `message` with this key.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.mac_state();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

/// The keys a server signs and verifies with: one current key that signs, and
/// older keys that still verify until they are removed.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: String,
    keys: HashMap<String, SigningKey>,
}

impl KeyRing {
    /// A ring whose only key is `current`.
    pub fn new(current: SigningKey) -> Self {
        let kid = current.kid.clone();
        let mut keys = HashMap::new();
        keys.insert(kid.clone(), current);
        Self { current: kid, keys }
    }

    /// Makes `key` the signing key; the previous one keeps verifying.
    pub fn rotate(&mut self, key: SigningKey) {
        self.current = key.kid.clone();
        self.keys.insert(key.kid.clone(), key);
    }

    /// Adds a key that verifies but does not sign.
    pub fn add_verifying(&mut self, key: SigningKey) {
        self.keys.insert(key.kid.clone(), key);
    }

    /// Removes a key: tokens signed with it stop verifying. The current key cannot be removed.
    pub fn remove(&mut self, kid: &str) -> bool {
        kid != self.current && self.keys.remove(kid).is_some()
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        self.keys
            .get(&self.current)
            .expect("the current key is always in the ring")
    }

    /// The key with id `kid`, if the ring holds it.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.get(kid)
    }
}
