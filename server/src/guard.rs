//! What every request passes on its way in and out: per-address limits on
//! failed authentication and on sign-in, per-credential limits on token
//! issuing, and the security headers of every response.
//!
//! A failed authentication is any answer `401`: the contract reserves it for
//! missing or bad credentials. An address that fails too often is answered
//! `429 rate_limited` with `Retry-After` before its credential is even looked
//! at, so guessing keys or links costs the guesser, not the server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState, ErrorCode};

/// Requests per second and burst of one rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per second (0 disables the limit).
    pub per_sec: u32,
    /// Requests allowed at once.
    pub burst: u32,
}

/// The limits this module applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardLimits {
    /// Failed authentications per client address.
    pub auth_failures: Rate,
    /// `GET /signin` per client address.
    pub signin: Rate,
    /// `POST /v1/tokens` per credential.
    pub tokens: Rate,
}

impl Default for GuardLimits {
    fn default() -> Self {
        Self {
            auth_failures: Rate {
                per_sec: 10,
                burst: 100,
            },
            signin: Rate {
                per_sec: 5,
                burst: 30,
            },
            tokens: Rate {
                per_sec: 500,
                burst: 1000,
            },
        }
    }
}

/// The address the request came from; unspecified when served without a
/// socket (tests driving the router directly).
pub fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

fn limited(secs: u64, message: &'static str) -> Response {
    ApiError::new(ErrorCode::RateLimited, message)
        .retry_after(secs)
        .into_response()
}

/// The middleware: limits first, then the handler, then the headers.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = client_ip(&request);
    if let Err(secs) = state.auth_failures.peek(&ip) {
        return secure(limited(
            secs,
            "too many failed sign-ins or credentials from this address; wait",
        ));
    }
    let path = request.uri().path();
    if path == "/signin" {
        if let Err(secs) = state.signin_limiter.check(&ip) {
            return secure(limited(secs, "too many sign-in attempts; wait"));
        }
    } else if path == "/v1/tokens" {
        let credential = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        if let Err(secs) = state.token_limiter.check(&credential) {
            return secure(limited(secs, "too many tokens requested; slow down"));
        }
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        // Charged after the fact: whatever the route, a 401 is a failure.
        let _ = state.auth_failures.check(&ip);
    }
    secure(response)
}

/// Headers every response carries, unless its handler set its own: nothing
/// may be sniffed, framed, cached or leak its URL (a sign-in link) onward.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
