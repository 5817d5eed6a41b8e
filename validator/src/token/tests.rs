use proptest::prelude::*;

use super::*;

const NOW: i64 = 1_800_000_000;

fn key(kid: &str, byte: u8) -> SigningKey {
    SigningKey::new(kid, vec![byte; 32]).expect("valid key")
}

fn claims() -> Claims {
    Claims {
        org: "acme".into(),
        sub: "bob".into(),
        opt_out: false,
        rev: 7,
        iat: NOW,
        exp: NOW + DEFAULT_LIFETIME_SECS,
    }
}

/// Signs arbitrary text as a payload, to reach the checks behind the tag.
fn sign_raw(ring: &KeyRing, payload: &str) -> String {
    let key = ring.current();
    let signed = format!("v1.{}.{payload}", key.kid());
    let tag = URL_SAFE_NO_PAD.encode(key.mac(signed.as_bytes()));
    format!("{signed}.{tag}")
}

#[test]
fn an_issued_token_verifies_to_its_claims() {
    let ring = KeyRing::new(key("k1", 1));
    let token = issue(&ring, &claims());
    assert_eq!(verify(&ring, &token, NOW), Ok(claims()));
}

#[test]
fn every_single_character_change_is_rejected() {
    let ring = KeyRing::new(key("k1", 1));
    let token = issue(&ring, &claims());
    let alphabet: Vec<char> =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=+/"
            .chars()
            .collect();
    let mut tried = 0;
    for (i, original) in token.char_indices() {
        for &c in &alphabet {
            if c == original {
                continue;
            }
            let mut changed = token.clone();
            changed.replace_range(i..i + original.len_utf8(), &c.to_string());
            tried += 1;
            assert!(verify(&ring, &changed, NOW).is_err(), "accepted {changed}");
        }
    }
    assert!(tried > 10_000);
    // Removing or appending a character is refused too.
    assert!(verify(&ring, &token[..token.len() - 1], NOW).is_err());
    assert!(verify(&ring, &format!("{token}A"), NOW).is_err());
}

#[test]
fn each_kind_of_bad_token_has_its_own_error() {
    let ring = KeyRing::new(key("k1", 1));
    let token = issue(&ring, &claims());
    let payload = claims().encode_payload();
    let cases: Vec<(String, TokenError)> = vec![
        (
            "x".repeat(4097),
            TokenError::Malformed(ClaimsError::TooLong),
        ),
        (
            format!("v2.k1.{payload}.AAAA"),
            TokenError::Malformed(ClaimsError::UnsupportedVersion),
        ),
        (
            format!("v1.k1.{payload}"),
            TokenError::Malformed(ClaimsError::WrongPartCount),
        ),
        (
            format!("{token}.extra"),
            TokenError::Malformed(ClaimsError::WrongPartCount),
        ),
        (
            token.replacen("v1.k1.", "v1.k9.", 1),
            TokenError::UnknownKey,
        ),
        (
            token.replacen("v1.k1.", "v1.K1.", 1),
            TokenError::UnknownKey,
        ),
        (
            format!("v1.k1.{payload}.***"),
            TokenError::Malformed(ClaimsError::InvalidEncoding),
        ),
        (format!("v1.k1.{payload}.AAAA"), TokenError::BadSignature),
        (
            sign_raw(&ring, "!!not-base64!!"),
            TokenError::Malformed(ClaimsError::InvalidEncoding),
        ),
        (
            sign_raw(&ring, &URL_SAFE_NO_PAD.encode("not json")),
            TokenError::Malformed(ClaimsError::InvalidClaims),
        ),
    ];
    for (bad, expected) in cases {
        assert_eq!(verify(&ring, &bad, NOW), Err(expected), "{bad}");
    }
}

#[test]
fn expiry_and_issue_time_allow_sixty_seconds_of_leeway() {
    let ring = KeyRing::new(key("k1", 1));
    let token = issue(&ring, &claims());
    let exp = claims().exp;
    assert!(verify(&ring, &token, exp + 60).is_ok());
    assert_eq!(verify(&ring, &token, exp + 61), Err(TokenError::Expired));
    assert!(verify(&ring, &token, NOW - 60).is_ok());
    assert_eq!(
        verify(&ring, &token, NOW - 61),
        Err(TokenError::NotYetValid)
    );
    assert_eq!(TokenError::Expired.code(), "token_expired");
    assert_eq!(TokenError::UnknownKey.code(), "unknown_key");
    assert_eq!(TokenError::BadSignature.code(), "invalid_token");
}

#[test]
fn rotation_keeps_old_tokens_until_their_key_is_removed() {
    let mut ring = KeyRing::new(key("k1", 1));
    let old = issue(&ring, &claims());
    ring.rotate(key("k2", 2));
    let new = issue(&ring, &claims());
    assert!(new.starts_with("v1.k2."));
    assert!(verify(&ring, &old, NOW).is_ok(), "old key still listed");
    assert!(!ring.remove("k2"), "the current key stays");
    assert!(ring.remove("k1"));
    assert_eq!(verify(&ring, &old, NOW), Err(TokenError::UnknownKey));
    assert!(verify(&ring, &new, NOW).is_ok());
}

#[test]
fn a_verifying_key_verifies_but_never_signs() {
    let mut ring = KeyRing::new(key("k2", 2));
    let retired = issue(&KeyRing::new(key("k1", 1)), &claims());
    assert_eq!(verify(&ring, &retired, NOW), Err(TokenError::UnknownKey));
    ring.add_verifying(key("k1", 1));
    assert!(verify(&ring, &retired, NOW).is_ok());
    assert!(
        issue(&ring, &claims()).starts_with("v1.k2."),
        "k2 still signs"
    );
}

#[test]
fn a_key_shows_its_id_but_never_its_secret() {
    let secret = [0xab_u8; 32];
    let key = SigningKey::new("k1", secret.to_vec()).expect("a key");
    let alone = format!("{key:?}");
    assert!(alone.contains("k1"), "{alone}");
    let shown = format!("{alone} {:?}", KeyRing::new(key.clone()));
    for secret_form in ["171, 171", "abab", "ABAB", "q6ur"] {
        assert!(!shown.contains(secret_form), "{shown}");
    }
}

#[test]
fn a_token_of_another_key_with_the_same_id_fails() {
    let ours = KeyRing::new(key("k1", 1));
    let theirs = KeyRing::new(key("k1", 2));
    let forged = issue(&theirs, &claims());
    assert_eq!(verify(&ours, &forged, NOW), Err(TokenError::BadSignature));
}

#[test]
fn keys_refuse_bad_ids_and_short_secrets() {
    assert!(SigningKey::new("Bad", vec![0; 32]).is_none());
    assert!(SigningKey::new("ok", vec![0; 31]).is_none());
    assert!(SigningKey::generate("k-new").is_some());
    assert!(!format!("{:?}", key("k1", 7)).contains('7'));
}

proptest! {
    #[test]
    fn any_claims_round_trip(
        org in "[a-z0-9-]{1,40}",
        sub in "\\PC{1,60}",
        opt_out: bool,
        rev: u64,
        iat in 0i64..4_000_000_000,
        life in 0i64..100_000,
    ) {
        let ring = KeyRing::new(key("k1", 3));
        let claims = Claims { org, sub, opt_out, rev, iat, exp: iat + life };
        let token = issue(&ring, &claims);
        prop_assert!(token.len() <= 4096);
        prop_assert_eq!(verify(&ring, &token, iat), Ok(claims.clone()));
        prop_assert_eq!(usage_protocol::read_claims(&token), Ok(claims));
    }
}
