//! Who is calling: service keys, admin sessions, and what they may do.

use axum::http::{header, HeaderMap};
use time::OffsetDateTime;

use super::{ApiError, AppState, ErrorCode};
use usage_validator::credentials::{self, Session, SESSION_PURPOSE};
use usage_validator::model::{Actor, Role, Scope, ServiceKeyInfo, User};

/// The name of the admin session cookie over plain HTTP.
pub const SESSION_COOKIE: &str = "usage_session";
/// Its name over HTTPS: browsers keep a `__Host-` cookie only if it is
/// `Secure`, for this host alone and the whole path, so no subdomain or
/// plain-HTTP page can set or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-usage_session";

/// The session cookie's name on this server.
pub fn session_cookie(state: &AppState) -> &'static str {
    if state.config.public_url.starts_with("https://") {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}
/// The header scripts echo the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller of an org's admin routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A product admin of the org, by session cookie.
    Admin {
        /// The admin's directory record, read on this request.
        user: User,
        /// The session.
        session: Session,
    },
    /// A back end holding one of the org's service keys.
    Service {
        /// The key's public id.
        key_id: String,
    },
}

impl Caller {
    /// How the caller appears in the change log and audit trail.
    pub fn actor(&self) -> Actor {
        match self {
            Self::Admin { user, .. } => Actor::User(user.id.clone()),
            Self::Service { key_id } => Actor::ServiceKey(key_id.clone()),
        }
    }
}

/// The bearer value of the `Authorization` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The value of cookie `name`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The record of a presented service key; 401 if it is unknown, revoked or
/// expired. Notes its use (at most once a minute per key).
pub async fn service_key(state: &AppState, key: &str) -> Result<ServiceKeyInfo, ApiError> {
    if !credentials::is_service_key(key) || key.len() > 256 {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "the bearer value is not a service key",
        ));
    }
    let hash = credentials::hash_service_key(key);
    let info = state
        .registry
        .store()
        .service_key_by_hash(&hash)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidCredentials,
                "unknown or revoked service key",
            )
        })?;
    let now = OffsetDateTime::now_utc();
    if info.is_expired(now) {
        return Err(ApiError::new(
            ErrorCode::KeyExpired,
            "this service key has expired; create a new one",
        ));
    }
    let stale = info
        .last_used_at
        .is_none_or(|at| (now - at).whole_seconds() >= credentials::LAST_USED_GRANULARITY_SECS);
    if stale {
        // Bookkeeping, not part of the answer: the request does not wait.
        let store = state.registry.store().clone();
        let id = info.id.clone();
        tokio::spawn(async move {
            if let Err(err) = store.touch_service_key(&id, now).await {
                tracing::warn!(error = %err, key = %id, "could not record a service key's use");
            }
        });
    }
    Ok(info)
}

/// A service key of `org` with the `admin` scope: 401 without a valid key,
/// 403 for another org's key or one without that scope.
pub async fn require_service(
    state: &AppState,
    headers: &HeaderMap,
    org: &str,
) -> Result<Caller, ApiError> {
    require_scope(state, headers, org, Scope::Admin).await
}

/// A service key of `org` holding `scope`: 401 without a valid key, 403 for
/// another org's key or one without `scope`.
pub async fn require_scope(
    state: &AppState,
    headers: &HeaderMap,
    org: &str,
    scope: Scope,
) -> Result<Caller, ApiError> {
    let Some(key) = bearer(headers) else {
        return Err(ApiError::new(
            ErrorCode::MissingCredentials,
            "send a service key as `Authorization: Bearer <key>`",
        ));
    };
    let info = service_key(state, key).await?;
    if info.org != org {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this service key belongs to another org",
        ));
    }
    if !info.allows(scope) {
        return Err(ApiError::new(
            ErrorCode::MissingScope,
            format!("this service key lacks the `{scope}` scope"),
        ));
    }
    Ok(Caller::Service { key_id: info.id })
}

/// The session in the request's cookie, if valid and unexpired.
pub fn session(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let value = cookie(headers, session_cookie(state))?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    state.with_keys(|ring| credentials::open::<Session>(ring, SESSION_PURPOSE, value, now))
}

/// The session's user must be a product admin of `org` in the directory as it
/// stands now (a demotion takes effect on the next request).
pub async fn require_admin_session(
    state: &AppState,
    session: Session,
    org: &str,
) -> Result<Caller, ApiError> {
    if session.org != org {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "you are signed in to another org",
        ));
    }
    let store = state.registry.store();
    match store.user(org, &session.user).await? {
        Some(user) if user.role == Role::Admin => {
            if store.nonce_used(&session.ended_key()).await? {
                return Err(ApiError::new(
                    ErrorCode::InvalidSession,
                    "this session has ended; sign in again",
                ));
            }
            Ok(Caller::Admin { user, session })
        }
        _ => {
            // Demoted (or removed): refused as long as that lasts, and the
            // session ends here, so a later promotion does not revive it.
            store
                .consume_nonce(&session.ended_key(), session.expires_at())
                .await?;
            Err(ApiError::new(
                ErrorCode::Forbidden,
                "only product admins of this org may do this",
            ))
        }
    }
}

/// Refuses a cookie-authenticated change that does not echo the session's
/// CSRF token, or that comes from another origin.
pub fn check_csrf(
    headers: &HeaderMap,
    session: &Session,
    sent: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let same = origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host));
        if !same {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "cross-origin changes are refused",
            ));
        }
    }
    let sent = sent.or_else(|| headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()));
    match sent {
        Some(token) if constant_time_eq(token.as_bytes(), session.csrf.as_bytes()) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::CsrfFailed,
            "the request lacks this session's CSRF token",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Admin or service key of `org`, for the admin API. Changes made with a
/// session cookie also need the CSRF token.
pub async fn require_org_access(
    state: &AppState,
    headers: &HeaderMap,
    org: &str,
    changes_state: bool,
) -> Result<Caller, ApiError> {
    if bearer(headers).is_some() {
        return require_service(state, headers, org).await;
    }
    if cookie(headers, session_cookie(state)).is_none() {
        return Err(ApiError::new(
            ErrorCode::MissingCredentials,
            "sign in as a product admin or send a service key",
        ));
    }
    let Some(session) = session(state, headers) else {
        return Err(ApiError::new(
            ErrorCode::InvalidSession,
            "your session expired; sign in again",
        ));
    };
    if changes_state {
        check_csrf(headers, &session, None)?;
    }
    require_admin_session(state, session, org).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_and_cookies_are_read_leniently() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; usage_session=xyz; b=2"),
        );
        assert_eq!(bearer(&headers), Some("abc"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn csrf_needs_the_token_and_the_same_origin() {
        let session = Session::new("acme", "alice");
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(check_csrf(&headers, &session, None).is_err());
        assert!(check_csrf(&headers, &session, Some(&session.csrf)).is_ok());
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(check_csrf(&headers, &session, Some(&session.csrf)).is_err());
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(check_csrf(&headers, &session, Some(&session.csrf)).is_ok());
    }
}
