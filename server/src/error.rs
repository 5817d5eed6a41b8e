//! The one place where failures become HTTP responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use usage_validator::batch::BatchError;
use usage_validator::token::TokenError;
use usage_validator::Error;

/// Every error code the API answers with. Each code has one status, so a
/// client can act on the code alone; the OpenAPI document lists them all as
/// the `code` field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not the JSON the route takes.
    MalformedJson,
    /// 400: the body is not a batch.
    MalformedBatch,
    /// 400: a batch of more than 500 events.
    TooManyEvents,
    /// 400: a query parameter is out of range or malformed.
    InvalidQuery,
    /// 400: a field of the body is out of range or malformed.
    InvalidInput,
    /// 400: an org or user id breaks the id rule.
    InvalidId,
    /// 400: an import document that is not CSV or JSON users.
    InvalidDocument,
    /// 400: import rows that break the rules, listed.
    InvalidRows,
    /// 401: no credentials where the route needs some.
    MissingCredentials,
    /// 401: a service key that is unknown, revoked or malformed.
    InvalidCredentials,
    /// 401: a service key past its expiry.
    KeyExpired,
    /// 401: a session that ended or expired.
    InvalidSession,
    /// 401: a status token that is malformed, forged or not valid yet.
    InvalidToken,
    /// 401: a status token past its expiry.
    TokenExpired,
    /// 401: a status token signed with a key this server does not hold.
    UnknownKey,
    /// 403: authenticated, but for another org, or a cross-origin change.
    Forbidden,
    /// 403: a service key without the scope the route needs.
    MissingScope,
    /// 403: the user is not a product admin of the org.
    NotAnAdmin,
    /// 403: a change without this session's CSRF token.
    CsrfFailed,
    /// 404: no such route here.
    NotFound,
    /// 404: no such org.
    UnknownOrg,
    /// 404: users not in the org's directory.
    UnknownUser,
    /// 404: no active service key with that id in the org.
    KeyNotFound,
    /// 408: the body did not arrive in time.
    RequestTimeout,
    /// 409: the user is deactivated in the directory.
    UserInactive,
    /// 413: the body is over its limit.
    PayloadTooLarge,
    /// 413: an import of more rows than allowed.
    TooManyRows,
    /// 415: the body's content type is not one the route takes.
    UnsupportedMediaType,
    /// 429: too many requests; see `Retry-After`.
    RateLimited,
    /// 503: the registry cannot be confirmed current; see `Retry-After`.
    RegistryUnavailable,
    /// 503: the registry store failed; see `Retry-After`.
    StoreUnavailable,
    /// 503: events could not be stored; see `Retry-After`.
    SinkUnavailable,
    /// 503: the server is at its connection limit; see `Retry-After`.
    TooManyConnections,
}

impl ErrorCode {
    /// Every code, for the document and the tests.
    pub const ALL: [Self; 33] = [
        Self::MalformedJson,
        Self::MalformedBatch,
        Self::TooManyEvents,
        Self::InvalidQuery,
        Self::InvalidInput,
        Self::InvalidId,
        Self::InvalidDocument,
        Self::InvalidRows,
        Self::MissingCredentials,
        Self::InvalidCredentials,
        Self::KeyExpired,
        Self::InvalidSession,
        Self::InvalidToken,
        Self::TokenExpired,
        Self::UnknownKey,
        Self::Forbidden,
        Self::MissingScope,
        Self::NotAnAdmin,
        Self::CsrfFailed,
        Self::NotFound,
        Self::UnknownOrg,
        Self::UnknownUser,
        Self::KeyNotFound,
        Self::RequestTimeout,
        Self::UserInactive,
        Self::PayloadTooLarge,
        Self::TooManyRows,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::RegistryUnavailable,
        Self::StoreUnavailable,
        Self::SinkUnavailable,
        Self::TooManyConnections,
    ];

    /// The status every answer with this code has.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            MalformedJson | MalformedBatch | TooManyEvents | InvalidQuery | InvalidInput
            | InvalidId | InvalidDocument | InvalidRows => StatusCode::BAD_REQUEST,
            MissingCredentials | InvalidCredentials | KeyExpired | InvalidSession
            | InvalidToken | TokenExpired | UnknownKey => StatusCode::UNAUTHORIZED,
            Forbidden | MissingScope | NotAnAdmin | CsrfFailed => StatusCode::FORBIDDEN,
            NotFound | UnknownOrg | UnknownUser | KeyNotFound => StatusCode::NOT_FOUND,
            RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            UserInactive => StatusCode::CONFLICT,
            PayloadTooLarge | TooManyRows => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            RegistryUnavailable | StoreUnavailable | SinkUnavailable | TooManyConnections => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The code as it is sent: snake_case.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedJson => "malformed_json",
            MalformedBatch => "malformed_batch",
            TooManyEvents => "too_many_events",
            InvalidQuery => "invalid_query",
            InvalidInput => "invalid_input",
            InvalidId => "invalid_id",
            InvalidDocument => "invalid_document",
            InvalidRows => "invalid_rows",
            MissingCredentials => "missing_credentials",
            InvalidCredentials => "invalid_credentials",
            KeyExpired => "key_expired",
            InvalidSession => "invalid_session",
            InvalidToken => "invalid_token",
            TokenExpired => "token_expired",
            UnknownKey => "unknown_key",
            Forbidden => "forbidden",
            MissingScope => "missing_scope",
            NotAnAdmin => "not_an_admin",
            CsrfFailed => "csrf_failed",
            NotFound => "not_found",
            UnknownOrg => "unknown_org",
            UnknownUser => "unknown_user",
            KeyNotFound => "key_not_found",
            RequestTimeout => "request_timeout",
            UserInactive => "user_inactive",
            PayloadTooLarge => "payload_too_large",
            TooManyRows => "too_many_rows",
            UnsupportedMediaType => "unsupported_media_type",
            RateLimited => "rate_limited",
            RegistryUnavailable => "registry_unavailable",
            StoreUnavailable => "store_unavailable",
            SinkUnavailable => "sink_unavailable",
            TooManyConnections => "too_many_connections",
        }
    }

    /// The codes that come with `status`, for the OpenAPI descriptions.
    pub fn with_status(status: StatusCode) -> impl Iterator<Item = Self> {
        Self::ALL
            .into_iter()
            .filter(move |code| code.status() == status)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&TokenError> for ErrorCode {
    fn from(err: &TokenError) -> Self {
        match err {
            TokenError::Expired => Self::TokenExpired,
            TokenError::UnknownKey => Self::UnknownKey,
            TokenError::Malformed(_) | TokenError::BadSignature | TokenError::NotYetValid => {
                Self::InvalidToken
            }
        }
    }
}

impl From<&BatchError> for ErrorCode {
    fn from(err: &BatchError) -> Self {
        match err {
            BatchError::TooLarge => Self::PayloadTooLarge,
            BatchError::Malformed(_) => Self::MalformedBatch,
            BatchError::TooManyEvents(_) => Self::TooManyEvents,
        }
    }
}

/// An API failure: a code (which knows its status) and a message for the
/// client. Details that could help an attacker go to the log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    retry_after: Option<u64>,
}

/// The JSON body of every error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, for programs.
    pub code: ErrorCode,
    /// Human text, for people.
    pub message: String,
}

impl ApiError {
    /// An error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header, in seconds.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 503 `registry_unavailable`, retry in a second.
    pub fn registry_unavailable() -> Self {
        Self::new(
            ErrorCode::RegistryUnavailable,
            "the opt-out registry cannot be confirmed current; retry shortly",
        )
        .retry_after(1)
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message for the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::UnknownOrg(org) => Self::new(ErrorCode::UnknownOrg, format!("no org `{org}`")),
            Error::UnknownUsers(users) => Self::new(
                ErrorCode::UnknownUser,
                format!("not in the org's directory: {}", users.join(", ")),
            ),
            Error::InactiveUser { .. } => Self::new(
                ErrorCode::UserInactive,
                format!("{err}; reactivate them in the directory first"),
            ),
            Error::InvalidId(_) => Self::new(
                ErrorCode::InvalidId,
                "ids are 1 to 128 characters of A-Z a-z 0-9 . _ @ + -",
            ),
            Error::InvalidInput(message) => Self::new(ErrorCode::InvalidInput, message),
            Error::Token(err) => err.into(),
            Error::RegistryUnavailable => Self::registry_unavailable(),
            Error::Store(source) => {
                tracing::error!(error = %source, "store failed");
                Self::new(
                    ErrorCode::StoreUnavailable,
                    "the registry store is unavailable; retry shortly",
                )
                .retry_after(1)
            }
            Error::Sink(source) => {
                tracing::error!(error = %source, "sink failed");
                Self::new(
                    ErrorCode::SinkUnavailable,
                    "events could not be stored; retry shortly",
                )
                .retry_after(1)
            }
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        Self::new(ErrorCode::from(&err), err.to_string())
    }
}

impl From<BatchError> for ApiError {
    fn from(err: BatchError) -> Self {
        Self::new(ErrorCode::from(&err), err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let status = self.code.status();
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The body was not read to its end, so the connection cannot carry
            // another request: tell the client not to reuse it.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use usage_protocol::ClaimsError;

    use super::*;

    #[test]
    fn every_code_is_sent_as_its_name_and_named_once() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let sent = serde_json::to_value(code).expect("a code serialises");
            assert_eq!(sent, code.as_str(), "{code:?}");
            assert!(seen.insert(code.as_str()), "{code} is listed twice");
        }
    }

    #[test]
    fn library_errors_keep_the_codes_the_library_gives_them() {
        let tokens = [
            TokenError::Malformed(ClaimsError::WrongPartCount),
            TokenError::UnknownKey,
            TokenError::BadSignature,
            TokenError::Expired,
            TokenError::NotYetValid,
        ];
        for err in tokens {
            let answer = ApiError::from(err);
            assert_eq!(answer.code().as_str(), err.code(), "{err:?}");
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        }
        let batches = [
            (BatchError::TooLarge, StatusCode::PAYLOAD_TOO_LARGE),
            (BatchError::Malformed("x".into()), StatusCode::BAD_REQUEST),
            (BatchError::TooManyEvents(501), StatusCode::BAD_REQUEST),
        ];
        for (err, status) in batches {
            let answer = ApiError::from(err.clone());
            assert_eq!(answer.code().as_str(), err.code(), "{err:?}");
            assert_eq!(answer.status(), status);
        }
    }
}
