//! A `nats-server` with an authorization section, for the login tests.

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::ports::free_loopback_addr;
use support::skip::skip_suite;

/// A `nats-server -js` on loopback with an authorization section.
pub struct AuthBroker {
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Child,
}

impl AuthBroker {
    /// Starts a broker whose configuration ends with `auth`, or returns
    /// `None` after a skip notice when `nats-server` is not installed.
    pub fn start(auth: &str) -> Option<AuthBroker> {
        let installed = Command::new("nats-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            skip_suite("NATS JetStream tests", "nats-server is not installed");
            return None;
        }
        let dir = tempfile::tempdir().expect("a broker folder");
        let addr = free_loopback_addr().expect("a free port");
        let config = dir.path().join("nats.conf");
        let store = dir.path().join("store");
        std::fs::write(
            &config,
            format!(
                "listen: \"{addr}\"\njetstream {{ store_dir: \"{}\" }}\n{auth}\n",
                store.display()
            ),
        )
        .expect("write the broker's configuration");
        let log = std::fs::File::create(dir.path().join("nats.log")).expect("a log file");
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        let broker = AuthBroker { addr, dir, child };
        broker.wait_until_listening();
        Some(broker)
    }

    /// Waits for the broker's greeting: it enables JetStream before it
    /// accepts clients, so a greeting means JetStream is up too.
    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut greeting = [0u8; 4];
            let greeted = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))
                .and_then(|mut stream| {
                    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
                    stream.read_exact(&mut greeting)
                })
                .is_ok();
            if greeted && &greeting == b"INFO" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the broker did not greet within 10 s; its log:\n{}",
                std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// A file in the broker's folder holding `text`.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a credentials file");
        path
    }
}

impl Drop for AuthBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
