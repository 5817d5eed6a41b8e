//! The chromedriver process behind one browser session.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::wire::Wire;
use crate::{ports, Error, Result};

/// How long chromedriver may take to answer `/status` as ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A chromedriver child process on a free loopback port, killed on drop.
#[derive(Debug)]
pub(crate) struct Chromedriver {
    child: Child,
    addr: SocketAddr,
    wire: Wire,
    log: PathBuf,
}

impl Chromedriver {
    /// Starts `binary` and waits until it reports ready; its output goes to `log`.
    pub(crate) async fn start(binary: &Path, log: PathBuf) -> Result<Chromedriver> {
        let addr = ports::free_loopback_addr()?;
        let output = File::create(&log)
            .map_err(|source| Error::io(format!("creating {}", log.display()), source))?;
        let errors = output
            .try_clone()
            .map_err(|source| Error::io("sharing the chromedriver log", source))?;
        let child = Command::new(binary)
            .arg(format!("--port={}", addr.port()))
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .map_err(|source| Error::Spawn {
                program: binary.display().to_string(),
                source,
            })?;
        let mut driver = Chromedriver {
            child,
            addr,
            wire: Wire::new(format!("http://{addr}")),
            log,
        };
        driver.wait_until_ready().await?;
        Ok(driver)
    }

    /// The loopback address chromedriver listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn wire(&self) -> &Wire {
        &self.wire
    }

    /// What chromedriver has printed so far, for error messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_until_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::unexpected(
                    "chromedriver exit",
                    format!("exited with {status} before it was ready:\n{}", self.log()),
                ));
            }
            if let Ok(status) = self.wire.get("/status").await {
                if status["ready"] == true {
                    return Ok(());
                }
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(Error::Timeout {
                    what: format!(
                        "chromedriver at {} to be ready:\n{}",
                        self.wire.base(),
                        self.log()
                    ),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // Killing fails only when chromedriver already exited; reaping still applies.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
