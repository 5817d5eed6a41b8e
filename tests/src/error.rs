//! The one error type of the support library.

use std::time::Duration;

/// Why a helper could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A child process (the server, chromedriver) could not be started.
    #[error("could not start {program}: {source}")]
    Spawn {
        /// The program that failed to start.
        program: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A file, folder or socket the helper needs could not be used.
    #[error("{context}: {source}")]
    Io {
        /// What the helper was doing.
        context: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP request to a helper-managed service failed on the transport level.
    #[error("HTTP request to {url} failed: {source}")]
    Http {
        /// The address the request went to.
        url: String,
        /// The client's reason.
        #[source]
        source: reqwest::Error,
    },
    /// The WebDriver endpoint answered a command with a W3C error.
    #[error("WebDriver command {command} failed with `{error}`: {message}")]
    WebDriver {
        /// The command, as `METHOD /path`.
        command: String,
        /// The W3C error code, such as `no such element`.
        error: String,
        /// The driver's explanation.
        message: String,
    },
    /// A response or file did not have the expected shape.
    #[error("unexpected {what}: {detail}")]
    Unexpected {
        /// What was being read.
        what: String,
        /// What was wrong with it.
        detail: String,
    },
    /// A bounded wait ran out.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout {
        /// What the helper waited for.
        what: String,
        /// How long it waited.
        waited: Duration,
    },
    /// A PostgreSQL command of the test-database helper failed.
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// True when a WebDriver lookup found no element matching the selector.
    pub fn is_no_such_element(&self) -> bool {
        matches!(self, Error::WebDriver { error, .. } if error == "no such element")
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn unexpected(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Unexpected {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// The result type of the support library.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_such_element_is_recognised_among_webdriver_errors() {
        let missing = Error::WebDriver {
            command: "POST /element".into(),
            error: "no such element".into(),
            message: "#nope".into(),
        };
        let stale = Error::WebDriver {
            command: "POST /element/1/click".into(),
            error: "stale element reference".into(),
            message: String::new(),
        };
        assert!(missing.is_no_such_element());
        assert!(!stale.is_no_such_element());
    }
}
