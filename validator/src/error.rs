use crate::token::TokenError;

/// Everything that can go wrong in the validator library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be reached or failed a query.
    #[error("registry store failed: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The named org does not exist.
    #[error("unknown org `{0}`")]
    UnknownOrg(String),
    /// Some named users are not in the org's directory; nothing was changed.
    #[error("unknown users: {}", .0.join(", "))]
    UnknownUsers(Vec<String>),
    /// The user is deactivated or removed in the org's directory, so no
    /// status token is issued for them.
    #[error("user `{user}` is {} in the org's directory", .status.as_str())]
    InactiveUser {
        /// The user.
        user: String,
        /// Their status.
        status: crate::model::UserStatus,
    },
    /// An org or user id is not 1 to 128 bytes of `A-Z a-z 0-9 . _ @ + -`.
    #[error("invalid id `{0}`")]
    InvalidId(String),
    /// A field of a request is out of its allowed range.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A status token was refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The instance cannot confirm its registry is current.
    #[error("registry is not confirmed current")]
    RegistryUnavailable,
    /// The event sink failed to store events.
    #[error("event sink failed: {0}")]
    Sink(#[source] std::io::Error),
}

/// The validator's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(Box::new(err))
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Store(Box::new(err))
    }
}
