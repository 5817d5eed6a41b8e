//! NATS JetStream for tests: a private `nats-server -js` per test, on a free
//! loopback port with its own storage folder, which the test may stop and
//! start again (same port, same stored messages).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::GetStreamErrorKind;
use futures_util::StreamExt as _;

use crate::ports::free_loopback_addr;
use crate::skip::skip_suite;

/// The broker's executable (Debian's `nats-server` package).
const NATS_SERVER: &str = "nats-server";

/// One stored message: its subject, headers and payload.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// The subject it was published on.
    pub subject: String,
    /// Its headers, as `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// Its payload, parsed as JSON.
    pub payload: serde_json::Value,
}

impl StoredMessage {
    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running (or stopped) `nats-server` with JetStream.
#[derive(Debug)]
pub struct TestNats {
    addr: SocketAddr,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl TestNats {
    /// Starts a broker, or returns `None` after a loud skip notice when
    /// `nats-server` is not installed (never under CI).
    ///
    /// # Panics
    ///
    /// When the broker is installed but does not come up within 10 s.
    pub async fn start() -> Option<TestNats> {
        let installed = Command::new(NATS_SERVER)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            skip_suite("NATS JetStream tests", "nats-server is not installed");
            return None;
        }
        let mut nats = TestNats {
            addr: free_loopback_addr().expect("a free loopback port"),
            store: tempfile::tempdir().expect("a storage folder"),
            child: None,
        };
        nats.resume().await;
        Some(nats)
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Kills the broker at once, as a crash would; stored messages stay in
    /// its folder.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and folder, and waits until
    /// JetStream answers.
    ///
    /// # Panics
    ///
    /// When it does not answer within 10 s.
    pub async fn resume(&mut self) {
        self.stop();
        let child = Command::new(NATS_SERVER)
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.addr.port().to_string())
            .arg("-sd")
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = match self.connect().await {
                // Any answer of the JetStream API, "no such stream" included,
                // means it is up; without it the request finds no responder.
                Ok(client) => match async_nats::jetstream::new(client)
                    .get_stream("READINESS_PROBE")
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(_)) => Ok(()),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            };
            let Err(last) = answer else {
                return;
            };
            assert!(
                Instant::now() < deadline,
                "JetStream on {} did not answer within 10 s: {last}",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A plain client of this broker.
    pub async fn connect(&self) -> Result<async_nats::Client, async_nats::ConnectError> {
        async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .connect(self.url())
            .await
    }

    /// Every message of `stream`, in stream order.
    ///
    /// # Panics
    ///
    /// When the stream cannot be read, or a payload is not JSON.
    pub async fn messages(&self, stream: &str) -> Vec<StoredMessage> {
        let client = self.connect().await.expect("connect to the test broker");
        let jetstream = async_nats::jetstream::new(client);
        let mut stream = jetstream.get_stream(stream).await.expect("the stream");
        let total = stream.info().await.expect("stream info").state.messages;
        let mut found = Vec::new();
        if total == 0 {
            return found;
        }
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
            .await
            .expect("an ordered consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let deadline = Instant::now() + Duration::from_secs(30);
        while (found.len() as u64) < total {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(left, messages.next())
                .await
                .expect("the stream was read within 30 s")
                .expect("the message stream does not end")
                .expect("a message");
            let headers = message
                .headers
                .iter()
                .flat_map(|h| h.iter())
                .flat_map(|(name, values)| {
                    values
                        .iter()
                        .map(move |v| (name.to_string(), v.as_str().to_owned()))
                })
                .collect();
            found.push(StoredMessage {
                subject: message.subject.to_string(),
                headers,
                payload: serde_json::from_slice(&message.payload).expect("a JSON payload"),
            });
        }
        found
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        self.stop();
    }
}
