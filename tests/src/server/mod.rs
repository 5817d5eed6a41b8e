//! The real `usage-server` binary as a child process of a test.
//!
//! Each [`TestServer`] gets a free loopback port and a fresh temporary data
//! folder, waits until `GET /healthz` answers, and can be stopped (SIGTERM or
//! SIGKILL) and restarted on the same port and data folder. Dropping it kills
//! the process and removes the folder.

mod binary;
mod options;

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};
use tempfile::TempDir;

pub use binary::{server_binary, workspace_root, SERVER_BIN_VAR};
pub use options::{Mode, ServerOptions};

use crate::demo::{Demo, DEMO_FILE};
use crate::{ports, Error, Result};

/// How long a graceful stop may take before the server is killed.
pub const GRACEFUL_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `usage-server` owned by one test.
#[derive(Debug)]
pub struct TestServer {
    options: ServerOptions,
    binary: PathBuf,
    addr: SocketAddr,
    root: TempDir,
    child: Option<Child>,
    client: reqwest::Client,
}

impl TestServer {
    /// Starts `usage-server serve` with an empty data folder.
    ///
    /// # Panics
    ///
    /// When the binary cannot be built or the server does not become healthy;
    /// the message carries the server's stderr.
    pub async fn start() -> TestServer {
        TestServer::start_with(ServerOptions::serve()).await
    }

    /// Starts `usage-server demo` and waits until it has written `demo.json`.
    ///
    /// # Panics
    ///
    /// As [`TestServer::start`].
    pub async fn start_demo() -> TestServer {
        TestServer::start_with(ServerOptions::demo()).await
    }

    /// Starts the server with `options`.
    ///
    /// # Panics
    ///
    /// As [`TestServer::start`].
    pub async fn start_with(options: ServerOptions) -> TestServer {
        let mut server = TestServer::prepare(options, server_binary().to_path_buf())
            .unwrap_or_else(|error| panic!("cannot prepare a test server: {error}"));
        server.launch().await;
        server
    }

    /// Starts an arbitrary executable that speaks the `usage-server` CLI.
    ///
    /// For testing this helper itself; tests of the product use [`TestServer::start_with`].
    pub async fn start_binary(binary: &Path, options: ServerOptions) -> Result<TestServer> {
        let mut server = TestServer::prepare(options, binary.to_path_buf())?;
        server.try_launch().await?;
        Ok(server)
    }

    fn prepare(options: ServerOptions, binary: PathBuf) -> Result<TestServer> {
        let root = tempfile::Builder::new()
            .prefix("usage-server-test-")
            .tempdir()
            .map_err(|source| Error::io("creating the server's temp folder", source))?;
        let data = root.path().join("data");
        std::fs::create_dir(&data)
            .map_err(|source| Error::io(format!("creating {}", data.display()), source))?;
        Ok(TestServer {
            options,
            binary,
            addr: ports::free_loopback_addr()?,
            root,
            child: None,
            client: loopback_client(),
        })
    }

    /// The base URL, such as `http://127.0.0.1:41234`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The absolute URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The loopback address the server listens on; stable across restarts.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's data folder (`--data`); kept across restarts.
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// An HTTP client for loopback requests: no proxy, 30 s timeout.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The seeded demo described in `demo.json` (demo mode only).
    ///
    /// # Panics
    ///
    /// When the file is missing or malformed.
    pub fn demo(&self) -> Demo {
        Demo::read(&self.data_dir()).unwrap_or_else(|error| panic!("{error}"))
    }

    /// Everything the server wrote to stdout, across restarts.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.log_path("stdout")).unwrap_or_default()
    }

    /// Everything the server wrote to stderr, across restarts.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.log_path("stderr")).unwrap_or_default()
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The largest resident memory the server process has used so far, in
    /// bytes (`VmHWM` of `/proc/<pid>/status`), while it runs.
    pub fn peak_memory(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// True while the server process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Stops the server gracefully with SIGTERM, killing it after [`GRACEFUL_STOP_TIMEOUT`].
    ///
    /// Returns the exit status, or `None` if the server was not running.
    pub async fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Err(error) = kill_process(Pid::from_child(&child), Signal::TERM) {
            eprintln!("usage-server: SIGTERM failed ({error}), killing it");
        }
        let deadline = Instant::now() + GRACEFUL_STOP_TIMEOUT;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(_) => break,
            }
        }
        eprintln!("usage-server did not stop within {GRACEFUL_STOP_TIMEOUT:?}; killing it");
        kill_and_reap(&mut child)
    }

    /// Kills the server at once with SIGKILL, as a crash would.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        kill_and_reap(&mut child)
    }

    /// Stops the server if it runs, then starts it again on the same port and data folder.
    ///
    /// # Panics
    ///
    /// When the server does not become healthy again.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }

    async fn launch(&mut self) {
        if let Err(error) = self.try_launch().await {
            panic!("{error}");
        }
    }

    /// Starts the process and waits until it is ready; on failure the error
    /// carries the server's stderr and the process is gone.
    async fn try_launch(&mut self) -> Result<()> {
        self.child = Some(self.spawn()?);
        match self.wait_until_ready().await {
            Ok(()) => Ok(()),
            Err(error) => {
                self.kill();
                Err(Error::unexpected(
                    format!("start of {}", self.binary.display()),
                    format!("{error}\n--- server stderr ---\n{}", self.stderr()),
                ))
            }
        }
    }

    async fn wait_until_ready(&mut self) -> Result<()> {
        let ready = self.options.ready_timeout;
        self.wait_until_healthy(ready).await?;
        if self.options.mode == Mode::Demo {
            self.wait_for_demo_file(ready).await?;
        }
        Ok(())
    }

    fn spawn(&self) -> Result<Child> {
        let mut command = Command::new(&self.binary);
        command
            .arg(self.options.mode.subcommand())
            .arg("--addr")
            .arg(self.addr.to_string())
            .arg("--data")
            .arg(self.data_dir())
            .args(&self.options.args)
            .stdin(Stdio::null())
            .stdout(self.log_file("stdout")?)
            .stderr(self.log_file("stderr")?);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("USAGE_") {
                command.env_remove(name);
            }
        }
        command.envs(self.options.env.iter().map(|(name, value)| (name, value)));
        command.spawn().map_err(|source| Error::Spawn {
            program: self.binary.display().to_string(),
            source,
        })
    }

    async fn wait_until_healthy(&mut self, timeout: Duration) -> Result<()> {
        let url = self.url("/healthz");
        let started = Instant::now();
        loop {
            self.fail_if_exited()?;
            let healthy = self.client.get(&url).send().await;
            if healthy.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: format!("GET {url} to answer 2xx"),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_demo_file(&mut self, timeout: Duration) -> Result<()> {
        let path = self.data_dir().join(DEMO_FILE);
        let started = Instant::now();
        while Demo::read(&self.data_dir()).is_err() {
            self.fail_if_exited()?;
            if started.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: format!("a complete {}", path.display()),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn fail_if_exited(&mut self) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            return Err(Error::unexpected("server state", "no server process"));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.child = None;
                Err(Error::unexpected(
                    "server exit",
                    format!("exited early with {status}"),
                ))
            }
            Err(source) => Err(Error::io("checking the server process", source)),
        }
    }

    fn log_path(&self, stream: &str) -> PathBuf {
        self.root.path().join(format!("server.{stream}.log"))
    }

    fn log_file(&self, stream: &str) -> Result<File> {
        let path = self.log_path(stream);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::io(format!("opening {}", path.display()), source))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn kill_and_reap(child: &mut Child) -> Option<ExitStatus> {
    // Killing fails only when the process already exited; reaping still applies.
    let _ = child.kill();
    child.wait().ok()
}

/// An HTTP client for talking to loopback services: no proxy, 30 s timeout.
pub fn loopback_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a plain HTTP client without TLS always builds")
}
