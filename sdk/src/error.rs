//! The SDK's one error type.

use usage_protocol::ClaimsError;

/// What can go wrong when setting up a tracker or logging in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The status token given to `login` cannot be read.
    #[error("the status token cannot be read: {0}")]
    InvalidToken(#[from] ClaimsError),
    /// The app name is not 1 to 128 characters of `A-Z a-z 0-9 . _ @ + -`.
    #[error("the app name must be 1 to 128 characters of A-Z a-z 0-9 . _ @ + -")]
    InvalidAppName,
    /// No data folder was configured and none could be derived from the environment.
    #[error("no data folder: set one with TrackerBuilder::data_dir")]
    NoDataDir,
    /// Another tracker, in this process or another, uses the same data folder.
    #[error("another tracker uses the data folder {}: give each tracker its own app name or data_dir", .0.display())]
    FolderInUse(std::path::PathBuf),
    /// The data folder or a file in it could not be used.
    #[error("storage: {0}")]
    Storage(String),
    /// The HTTP client or the worker's runtime could not start.
    #[error("transport: {0}")]
    Transport(String),
    /// The tracker was shut down, or its worker stopped.
    #[error("the tracker is shut down")]
    ShutDown,
}

impl Error {
    /// A stable snake_case name of the error, for code that branches on it
    /// (the `code` property of the JavaScript `Error`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidToken(_) => "invalid_token",
            Self::InvalidAppName => "invalid_app_name",
            Self::NoDataDir => "no_data_dir",
            Self::FolderInUse(_) => "folder_in_use",
            Self::Storage(_) => "storage",
            Self::Transport(_) => "transport",
            Self::ShutDown => "shut_down",
        }
    }
}
