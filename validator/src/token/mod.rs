//! Opt-out status tokens: issued at login, verified on every batch.
//!
//! The format is SPEC.md's `v1.<kid>.<payload>.<tag>`, the tag being
//! HMAC-SHA256 over `v1.<kid>.<payload>` with the key named by `kid`.

mod keyring;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac as _;
pub use keyring::{KeyRing, SigningKey};
use usage_protocol::limits::CLOCK_LEEWAY_SECS;
use usage_protocol::{split_token, Claims, ClaimsError, TOKEN_VERSION};

/// Default token lifetime: 12 hours.
pub const DEFAULT_LIFETIME_SECS: i64 = 12 * 60 * 60;

/// Why a status token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token's form is wrong (length, parts, version, encoding, claims).
    #[error(transparent)]
    Malformed(#[from] ClaimsError),
    /// The key id names no key this server holds.
    #[error("token was signed with an unknown key")]
    UnknownKey,
    /// The tag does not match: the token was altered or forged.
    #[error("token signature does not match")]
    BadSignature,
    /// The token expired (beyond the clock leeway).
    #[error("token has expired")]
    Expired,
    /// The token claims to be issued in the future (beyond the clock leeway).
    #[error("token is not valid yet")]
    NotYetValid,
}

impl TokenError {
    /// The error code used on the wire: `token_expired`, `unknown_key` or `invalid_token`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired => "token_expired",
            Self::UnknownKey => "unknown_key",
            _ => "invalid_token",
        }
    }
}

/// Signs claims with the ring's current key.
pub fn issue(ring: &KeyRing, claims: &Claims) -> String {
    let key = ring.current();
    let mut token = String::with_capacity(256);
    token.push_str(TOKEN_VERSION);
    token.push('.');
    token.push_str(key.kid());
    token.push('.');
    token.push_str(&claims.encode_payload());
    let tag = key.mac(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(tag));
    token
}

/// Verifies a token in SPEC.md's order and returns its claims.
///
/// Length, part count and version come first, then the key id, then the
/// constant-time tag check, and only then are the claims decoded and their
/// times checked against `now` (unix seconds) with 60 s of leeway.
pub fn verify(ring: &KeyRing, token: &str, now: i64) -> Result<Claims, TokenError> {
    let parts = split_token(token).map_err(|e| match e {
        ClaimsError::InvalidKid => TokenError::UnknownKey,
        other => TokenError::Malformed(other),
    })?;
    let key = ring.get(parts.kid).ok_or(TokenError::UnknownKey)?;
    let mut tag = [0u8; 32];
    let tag_len = URL_SAFE_NO_PAD
        .decode_slice(parts.tag, &mut tag)
        .map_err(|_| TokenError::Malformed(ClaimsError::InvalidEncoding))?;
    let mut mac = key.mac_state();
    mac.update(parts.signed.as_bytes());
    mac.verify_slice(&tag[..tag_len])
        .map_err(|_| TokenError::BadSignature)?;
    let claims = Claims::decode_payload(parts.payload)?;
    if claims.iat > now + CLOCK_LEEWAY_SECS {
        return Err(TokenError::NotYetValid);
    }
    if claims.exp + CLOCK_LEEWAY_SECS < now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests;
