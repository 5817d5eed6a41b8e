//! Token verification: no input panics, and no text but the token issued
//! verifies, whether random or the issued token with bytes changed.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use usage_protocol::Claims;
use usage_validator::token::{self, KeyRing, SigningKey};

struct Fixture {
    ring: KeyRing,
    token: String,
    now: i64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = SigningKey::new("k1", vec![7u8; 32]).expect("a valid key");
        let ring = KeyRing::new(key);
        let now = 1_800_000_000;
        let claims = Claims {
            org: "acme".into(),
            sub: "bob".into(),
            opt_out: false,
            rev: 3,
            iat: now,
            exp: now + 3600,
        };
        let token = token::issue(&ring, &claims);
        Fixture { ring, token, now }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    if let Ok(text) = std::str::from_utf8(data) {
        if token::verify(&fixture.ring, text, fixture.now).is_ok() {
            assert_eq!(
                text, fixture.token,
                "a text other than the issued token verified"
            );
        }
    }
    // Pairs of (place, byte) edit the issued token.
    let mut edited = fixture.token.clone().into_bytes();
    for pair in data.chunks_exact(2) {
        let at = usize::from(pair[0]) % edited.len();
        edited[at] = pair[1];
    }
    if let Ok(text) = String::from_utf8(edited) {
        if token::verify(&fixture.ring, &text, fixture.now).is_ok() {
            assert_eq!(text, fixture.token, "an edited token verified");
        }
    }
});
