//! How a [`TestServer`](super::TestServer) is started.

use std::time::Duration;

/// The `usage-server` subcommand a test server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `usage-server serve`: an empty server.
    Serve,
    /// `usage-server demo`: the seeded `acme` organisation, described in `demo.json`.
    Demo,
}

impl Mode {
    pub(crate) fn subcommand(self) -> &'static str {
        match self {
            Mode::Serve => "serve",
            Mode::Demo => "demo",
        }
    }
}

/// Command line and environment of a test server, beyond address and data folder.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub(crate) mode: Mode,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) ready_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::serve()
    }
}

impl ServerOptions {
    /// Options for `usage-server serve`.
    pub fn serve() -> Self {
        ServerOptions {
            mode: Mode::Serve,
            args: Vec::new(),
            env: Vec::new(),
            ready_timeout: Duration::from_secs(30),
        }
    }

    /// Options for `usage-server demo`.
    pub fn demo() -> Self {
        ServerOptions {
            mode: Mode::Demo,
            ..ServerOptions::serve()
        }
    }

    /// Uses the PostgreSQL registry at `url` (`--database-url`).
    pub fn database_url(self, url: &str) -> Self {
        self.arg("--database-url").arg(url)
    }

    /// Sends accepted events to `sink` (`--sink`).
    pub fn sink(self, sink: &str) -> Self {
        self.arg("--sink").arg(sink)
    }

    /// Appends one command-line argument after `--addr` and `--data`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable of the server process.
    ///
    /// The server otherwise sees no `USAGE_*` variable of the test process,
    /// so a developer's own settings cannot leak into a test.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The command-line arguments after `--addr` and `--data`.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// How long to wait for `GET /healthz` after each start (30 s by default).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }
}
