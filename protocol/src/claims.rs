use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::ids::is_valid_kid;
use crate::limits::MAX_TOKEN_LEN;

/// The version prefix of every status token this crate knows.
pub const TOKEN_VERSION: &str = "v1";

/// What a status token says about its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The customer organisation.
    pub org: String,
    /// The user id within that org.
    pub sub: String,
    /// Whether the user was opted out when the token was issued.
    pub opt_out: bool,
    /// The registry revision the flag was read at.
    pub rev: u64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
}

impl Claims {
    /// The token's payload part: base64url (no padding) of the JSON claims.
    pub fn encode_payload(&self) -> String {
        let json = serde_json::to_vec(self).expect("claims always serialize");
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a payload part back into claims.
    pub fn decode_payload(payload: &str) -> Result<Self, ClaimsError> {
        #[cfg(not(target_arch = "wasm32"))]
        let json = URL_SAFE_NO_PAD.decode(payload).ok();
        #[cfg(target_arch = "wasm32")]
        let json = decode_base64url(payload);
        let json = json.ok_or(ClaimsError::InvalidEncoding)?;
        #[cfg(target_arch = "wasm32")]
        return read_json(&json).ok_or(ClaimsError::InvalidClaims);
        #[cfg(not(target_arch = "wasm32"))]
        serde_json::from_slice(&json).map_err(|_| ClaimsError::InvalidClaims)
    }
}

/// Base64url without padding, decoded as `URL_SAFE_NO_PAD` decodes it (a
/// final symbol's unused bits must be zero), without the base64 crate's
/// general engine: the browser package's decoding.
#[cfg(any(target_arch = "wasm32", test))]
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let sextet = |symbol: u8| -> Option<u32> {
        let value = match symbol {
            b'A'..=b'Z' => symbol - b'A',
            b'a'..=b'z' => symbol - b'a' + 26,
            b'0'..=b'9' => symbol - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        Some(u32::from(value))
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.as_bytes().chunks(4) {
        let mut bits = 0u32;
        for (n, &symbol) in chunk.iter().enumerate() {
            bits |= sextet(symbol)? << (18 - 6 * n);
        }
        // 2, 3 or 4 symbols make 1, 2 or 3 bytes; one alone makes none.
        let bytes = chunk.len().checked_sub(1).filter(|&n| n > 0)?;
        if bits & (0xff_ffff >> (8 * bytes)) != 0 {
            return None;
        }
        out.extend_from_slice(&bits.to_be_bytes()[1..=bytes]);
    }
    Some(out)
}

/// Reads claims as serde's derived reader does, without its code: the
/// browser package's reading (see [`crate::json`]).
#[cfg(any(target_arch = "wasm32", test))]
fn read_json(json: &[u8]) -> Option<Claims> {
    use crate::json::{once, Json};

    let mut json = Json::new(std::str::from_utf8(json).ok()?)?;
    let (mut org, mut sub, mut opt_out, mut rev, mut iat, mut exp) =
        (None, None, None, None, None, None);
    json.object(|json, key| match key {
        "org" => once(&mut org, json.string().map(Into::into)),
        "sub" => once(&mut sub, json.string().map(Into::into)),
        "opt_out" => once(&mut opt_out, json.boolean()),
        "rev" => once(&mut rev, json.u64()),
        "iat" => once(&mut iat, json.i64()),
        "exp" => once(&mut exp, json.i64()),
        _ => json.skip().map(drop),
    })?;
    Some(Claims {
        org: org?,
        sub: sub?,
        opt_out: opt_out?,
        rev: rev?,
        iat: iat?,
        exp: exp?,
    })
}

/// Why a token could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// Longer than 4096 bytes.
    #[error("token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    /// Not exactly four dot-separated parts.
    #[error("token does not have exactly four parts")]
    WrongPartCount,
    /// The first part is not `v1`.
    #[error("token version is not supported")]
    UnsupportedVersion,
    /// The key id is empty, too long or has characters outside `a-z 0-9 -`.
    #[error("token key id is malformed")]
    InvalidKid,
    /// A part is not base64url without padding.
    #[error("token part is not base64url")]
    InvalidEncoding,
    /// The payload is not the expected JSON claims.
    #[error("token claims are not valid")]
    InvalidClaims,
}

/// The four parts of a token, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenParts<'a> {
    /// The key id.
    pub kid: &'a str,
    /// The base64url claims.
    pub payload: &'a str,
    /// The base64url MAC tag.
    pub tag: &'a str,
    /// The signed text: `v1.kid.payload`.
    pub signed: &'a str,
}

/// Splits a token into its parts, checking length, part count, version and
/// the form of the key id, in that order.
pub fn split_token(token: &str) -> Result<TokenParts<'_>, ClaimsError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(ClaimsError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(version), Some(kid), Some(payload), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(ClaimsError::WrongPartCount);
    };
    if version != TOKEN_VERSION {
        return Err(ClaimsError::UnsupportedVersion);
    }
    if !is_valid_kid(kid) {
        return Err(ClaimsError::InvalidKid);
    }
    let signed = &token[..token.len() - tag.len() - 1];
    Ok(TokenParts {
        kid,
        payload,
        tag,
        signed,
    })
}

/// Reads the claims of a token without checking its signature.
///
/// This is what a client does with its cached token: it holds no key, and the
/// server checks every event anyway. Never use it to make a server-side decision.
pub fn read_claims(token: &str) -> Result<Claims, ClaimsError> {
    let parts = split_token(token)?;
    Claims::decode_payload(parts.payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            org: "acme".into(),
            sub: "bob".into(),
            opt_out: true,
            rev: 9,
            iat: 1_700_000_000,
            exp: 1_700_043_200,
        }
    }

    #[test]
    fn a_client_reads_the_flag_without_a_key() {
        let token = format!("v1.k1.{}.AAAA", claims().encode_payload());
        assert_eq!(read_claims(&token), Ok(claims()));
    }

    #[test]
    fn malformed_tokens_name_what_is_wrong() {
        let payload = claims().encode_payload();
        assert_eq!(read_claims(&"a".repeat(4097)), Err(ClaimsError::TooLong));
        assert_eq!(read_claims("v1.k1.x"), Err(ClaimsError::WrongPartCount));
        assert_eq!(
            read_claims(&format!("v1.k1.{payload}.t.u")),
            Err(ClaimsError::WrongPartCount)
        );
        assert_eq!(
            read_claims(&format!("v2.k1.{payload}.t")),
            Err(ClaimsError::UnsupportedVersion)
        );
        assert_eq!(
            read_claims(&format!("v1.K1.{payload}.t")),
            Err(ClaimsError::InvalidKid)
        );
        assert_eq!(
            read_claims("v1.k1.!!!.t"),
            Err(ClaimsError::InvalidEncoding)
        );
        assert_eq!(read_claims("v1.k1.e30.t"), Err(ClaimsError::InvalidClaims));
    }

    /// The browser's reading of claims against serde's, over claims serde
    /// writes and texts made from them by small edits.
    #[test]
    fn the_browser_reads_claims_as_serde_does() {
        use proptest::prelude::*;

        let claims = (
            "[a-z\\\\\"é\u{1f600}\n]{0,6}",
            "[a-z\"]{0,4}",
            any::<bool>(),
            any::<u64>(),
            any::<i64>(),
            any::<i64>(),
        )
            .prop_map(|(org, sub, opt_out, rev, iat, exp)| Claims {
                org,
                sub,
                opt_out,
                rev,
                iat,
                exp,
            });
        let texts = (claims, any::<bool>()).prop_map(|(claims, pretty)| {
            if pretty {
                serde_json::to_string_pretty(&claims).expect("serializes")
            } else {
                serde_json::to_string(&claims).expect("serializes")
            }
        });
        proptest!(|(text in texts, edits in crate::json::tests::edits())| {
            let serde = serde_json::from_str::<Claims>(&text).ok();
            prop_assert!(serde.is_some());
            prop_assert_eq!(read_json(text.as_bytes()), serde);
            let edited = crate::json::tests::edit(&text, &edits);
            prop_assert_eq!(
                read_json(edited.as_bytes()),
                serde_json::from_slice::<Claims>(edited.as_bytes()).ok(),
                "{}", edited
            );
        });
    }

    #[test]
    fn the_browser_decodes_base64url_as_the_base64_crate_does() {
        use proptest::prelude::*;

        proptest!(|(text in "[A-Za-z0-9_\\-=+/ .]{0,11}")| {
            prop_assert_eq!(decode_base64url(&text), URL_SAFE_NO_PAD.decode(&text).ok(), "{}", text);
        });
        proptest!(|(bytes in prop::collection::vec(any::<u8>(), 0..10))| {
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert_eq!(decode_base64url(&text), Some(bytes));
        });
    }

    #[test]
    fn the_signed_text_excludes_the_tag() {
        let parts = split_token("v1.k1.cGF5.dGFn").expect("splits");
        assert_eq!(parts.signed, "v1.k1.cGF5");
        assert_eq!(parts.tag, "dGFn");
    }
}
