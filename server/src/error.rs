//! The one place where failures become HTTP responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use usage_validator::batch::BatchError;
use usage_validator::token::TokenError;
use usage_validator::Error;

/// An API failure: a status, a snake_case code and a message for the client.
/// Details that could help an attacker go to the log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
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
    pub code: &'static str,
    /// Human text, for people.
    pub message: String,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
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

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no or bad credentials.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 503 `registry_unavailable`, retry in a second.
    pub fn registry_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "registry_unavailable",
            "the opt-out registry cannot be confirmed current; retry shortly",
        )
        .retry_after(1)
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The snake_case code.
    pub fn code(&self) -> &'static str {
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
            Error::UnknownOrg(org) => Self::not_found("unknown_org", format!("no org `{org}`")),
            Error::UnknownUsers(users) => Self::not_found(
                "unknown_user",
                format!("not in the org's directory: {}", users.join(", ")),
            ),
            Error::InactiveUser { .. } => Self::new(
                StatusCode::CONFLICT,
                "user_inactive",
                format!("{err}; reactivate them in the directory first"),
            ),
            Error::InvalidId(_) => Self::bad_request(
                "invalid_id",
                "ids are 1 to 128 characters of A-Z a-z 0-9 . _ @ + -",
            ),
            Error::InvalidInput(message) => Self::bad_request("invalid_input", message),
            Error::Token(err) => err.into(),
            Error::RegistryUnavailable => Self::registry_unavailable(),
            Error::Store(source) => {
                tracing::error!(error = %source, "store failed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the registry store is unavailable; retry shortly",
                )
                .retry_after(1)
            }
            Error::Sink(source) => {
                tracing::error!(error = %source, "sink failed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sink_unavailable",
                    "events could not be stored; retry shortly",
                )
                .retry_after(1)
            }
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        Self::unauthorized(err.code(), err.to_string())
    }
}

impl From<BatchError> for ApiError {
    fn from(err: BatchError) -> Self {
        let status = match err {
            BatchError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, err.code(), err.to_string())
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
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
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
