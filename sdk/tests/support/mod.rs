//! Shared helpers for the SDK's integration tests.

#![allow(dead_code)] // each test file uses a different part

pub mod collector;

use std::time::{Duration, Instant};

use usage_sdk::protocol::Claims;

/// A status token for `sub` in org `acme`, unsigned: the SDK reads it without a
/// key and the stand-in collector does not verify signatures.
pub fn token(sub: &str, opt_out: bool) -> String {
    let claims = Claims {
        org: "acme".into(),
        sub: sub.into(),
        opt_out,
        rev: 1,
        iat: 1_700_000_000,
        exp: 4_000_000_000,
    };
    format!("v1.test.{}.c2ln", claims.encode_payload())
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}
