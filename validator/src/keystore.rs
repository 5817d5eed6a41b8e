//! Signing keys kept in the registry's store: the key ring a server signs
//! and verifies with, and the ids new keys are given.

use crate::store::Store;
use crate::token::{KeyRing, SigningKey};
use crate::{Error, Result};

/// Builds the key ring from the store; with `create`, adds a first key if
/// there is none.
pub async fn load_keyring(store: &dyn Store, create: bool) -> Result<KeyRing> {
    let mut stored = store.signing_keys().await?;
    if stored.is_empty() && create {
        let key = SigningKey::generate(new_kid()).expect("generated kids are valid");
        store.add_signing_key(&key, true).await?;
        stored = store.signing_keys().await?;
    }
    let current = stored
        .iter()
        .filter(|k| k.current)
        .max_by_key(|k| k.created_at)
        .or_else(|| stored.last())
        .ok_or_else(|| Error::InvalidInput("the store holds no signing key".into()))?;
    let mut ring = KeyRing::new(current.key.clone());
    for key in &stored {
        if key.key.kid() != current.key.kid() {
            ring.add_verifying(key.key.clone());
        }
    }
    Ok(ring)
}

/// A new key id: `k` + UTC date + random suffix, such as `k20261129-3fa2`.
pub fn new_kid() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    let mut suffix = [0u8; 2];
    getrandom::getrandom(&mut suffix).expect("the OS random source is available");
    format!(
        "k{:04}{:02}{:02}-{:02x}{:02x}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        suffix[0],
        suffix[1]
    )
}
