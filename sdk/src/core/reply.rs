//! What the collector's answer to a batch means for the events in it.

use usage_protocol::BatchResponse;

use super::retry::parse_retry_after;

/// An HTTP answer as a transport hands it over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The body (transports may cut it short; only small JSON is expected).
    pub body: Vec<u8>,
}

/// Why a batch could not be handed to the collector at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The collector took the batch; the response says what it did with each event.
    Delivered(BatchResponse),
    /// Try again later: after the named wait, or by the backoff schedule.
    Retry {
        /// The server's `Retry-After`, in milliseconds.
        after_ms: Option<u64>,
    },
    /// `413`: send the same events in two halves.
    Split,
    /// `401`: keep the events until a login brings a token the collector takes.
    Unauthorized {
        /// `token_expired`, `invalid_token`, `unknown_key` or whatever the collector said.
        code: String,
    },
    /// Another client error: sending the batch again cannot help, so drop it.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The collector's error code, when it sent one.
        code: Option<String>,
    },
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(serde::Deserialize)]
struct ErrorDetail {
    code: String,
}

/// The code of an error body: `{"error": {"code": …}}`.
#[cfg(not(target_arch = "wasm32"))]
fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error.code)
}

#[cfg(not(target_arch = "wasm32"))]
fn batch_response(body: &[u8]) -> Option<BatchResponse> {
    serde_json::from_slice(body).ok()
}

// The browser package reads the collector's answers without serde's derived readers.
#[cfg(target_arch = "wasm32")]
use super::lean_json::{batch_response, error_code};

/// Reads a transport result as a verdict.
pub fn judge(result: Result<HttpReply, TransportError>) -> Verdict {
    let reply = match result {
        Ok(reply) => reply,
        Err(_) => return Verdict::Retry { after_ms: None },
    };
    match reply.status {
        200..=299 => match batch_response(&reply.body) {
            Some(response) => Verdict::Delivered(response),
            // Something between us and the collector answered; resending is safe
            // because the collector drops duplicate ids.
            None => Verdict::Retry { after_ms: None },
        },
        401 => Verdict::Unauthorized {
            code: error_code(&reply.body).unwrap_or_else(|| "unauthorized".to_owned()),
        },
        413 => Verdict::Split,
        408 | 429 | 500..=599 => Verdict::Retry {
            after_ms: reply.retry_after.as_deref().and_then(parse_retry_after),
        },
        status => Verdict::Refused {
            status,
            code: error_code(&reply.body),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(
        status: u16,
        body: &str,
        retry_after: Option<&str>,
    ) -> Result<HttpReply, TransportError> {
        Ok(HttpReply {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn an_expired_token_keeps_the_events() {
        let verdict = judge(reply(
            401,
            r#"{"error":{"code":"token_expired","message":"m"}}"#,
            None,
        ));
        assert_eq!(
            verdict,
            Verdict::Unauthorized {
                code: "token_expired".into()
            }
        );
    }

    #[test]
    fn busy_servers_name_the_wait() {
        for status in [429, 503] {
            assert_eq!(
                judge(reply(status, "", Some("3"))),
                Verdict::Retry {
                    after_ms: Some(3_000)
                }
            );
        }
        assert_eq!(
            judge(reply(502, "", None)),
            Verdict::Retry { after_ms: None }
        );
        assert_eq!(
            judge(Err(TransportError("refused".into()))),
            Verdict::Retry { after_ms: None }
        );
    }

    #[test]
    fn other_client_errors_drop_the_batch_and_say_why() {
        let verdict = judge(reply(
            400,
            r#"{"error":{"code":"malformed_batch","message":"m"}}"#,
            None,
        ));
        assert_eq!(
            verdict,
            Verdict::Refused {
                status: 400,
                code: Some("malformed_batch".into())
            }
        );
        assert_eq!(judge(reply(413, "", None)), Verdict::Split);
    }

    #[test]
    fn a_garbled_success_is_sent_again() {
        assert_eq!(
            judge(reply(200, "<html>", None)),
            Verdict::Retry { after_ms: None }
        );
    }
}
