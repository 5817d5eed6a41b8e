//! Sign-in links and session cookies, opened as the server opens them.
//!
//! * Any string: opening it as a link or a session never panics, and never
//!   yields a value (nothing here was signed with the fuzzer's help).
//! * A link or session signed here opens as exactly itself, only for its own
//!   purpose, only unexpired; changing any one byte of it makes it unopenable.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use usage_validator::credentials::{open, sign, Session, SignIn, SESSION_PURPOSE, SIGNIN_PURPOSE};
use usage_validator::token::{KeyRing, SigningKey};

#[derive(Debug, Arbitrary)]
struct Input {
    raw: String,
    org: String,
    user: String,
    exp: i64,
    now: i64,
    flip_at: usize,
    flip_to: u8,
    as_session: bool,
    return_to: Option<String>,
}

fn ring() -> KeyRing {
    // A fixed key: the fuzzer must not be able to forge with it all the same.
    KeyRing::new(SigningKey::new("k1", [7u8; 32].to_vec()).expect("a valid key"))
}

fuzz_target!(|input: Input| {
    let ring = ring();
    assert!(open::<SignIn>(&ring, SIGNIN_PURPOSE, &input.raw, input.now).is_none());
    assert!(open::<Session>(&ring, SESSION_PURPOSE, &input.raw, input.now).is_none());

    let (signed, purpose, other) = if input.as_session {
        let session = Session {
            org: input.org.clone(),
            user: input.user.clone(),
            exp: input.exp,
            csrf: "c".into(),
        };
        (
            sign(&ring, SESSION_PURPOSE, &session),
            SESSION_PURPOSE,
            SIGNIN_PURPOSE,
        )
    } else {
        let link = SignIn {
            org: input.org.clone(),
            user: input.user.clone(),
            exp: input.exp,
            nonce: "n".into(),
            return_to: input.return_to.clone(),
        };
        (
            sign(&ring, SIGNIN_PURPOSE, &link),
            SIGNIN_PURPOSE,
            SESSION_PURPOSE,
        )
    };
    let opened = if input.as_session {
        open::<Session>(&ring, purpose, &signed, input.now).map(|s| (s.org, s.user, s.exp))
    } else {
        open::<SignIn>(&ring, purpose, &signed, input.now).map(|s| {
            assert_eq!(
                s.return_to, input.return_to,
                "the landing path opens as signed"
            );
            (s.org, s.user, s.exp)
        })
    };
    if signed.len() <= 4096 {
        let expected =
            (input.exp >= input.now).then(|| (input.org.clone(), input.user.clone(), input.exp));
        assert_eq!(
            opened, expected,
            "a signed value opens as itself while unexpired"
        );
    } else {
        assert!(opened.is_none(), "over 4096 bytes is refused");
    }
    // The same bytes never open for the other purpose.
    assert!(open::<Session>(&ring, other, &signed, input.now).is_none());
    assert!(open::<SignIn>(&ring, other, &signed, input.now).is_none());

    // One byte changed: refused.
    let mut bytes = signed.clone().into_bytes();
    if !bytes.is_empty() {
        let at = input.flip_at % bytes.len();
        if bytes[at] != input.flip_to {
            bytes[at] = input.flip_to;
            if let Ok(tampered) = String::from_utf8(bytes) {
                assert!(open::<SignIn>(&ring, purpose, &tampered, input.now).is_none());
                assert!(open::<Session>(&ring, purpose, &tampered, input.now).is_none());
            }
        }
    }
});
