//! A private `nats-server -js` on a free loopback port, with its storage in
//! a folder of its own, which a test may stop and start again.

#![allow(dead_code)] // Each test binary uses a part.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use serde_json::Value;

#[path = "skip.rs"]
mod skip;

/// A private broker with JetStream, its storage in a folder of its own.
pub struct Broker {
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl Broker {
    pub async fn start() -> Option<Broker> {
        if !skip::installed("nats-server", "NATS JetStream sink tests") {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut broker = Broker {
            port,
            store: tempfile::tempdir().expect("a storage folder"),
            child: None,
        };
        broker.resume().await;
        Some(broker)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same port and folder; returns once JetStream
    /// answers.
    pub async fn resume(&mut self) {
        self.stop();
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(client) = async_nats::connect(self.url()).await {
                // Any JetStream answer, "no such stream" included, means it is up.
                match jetstream::new(client).get_stream("PROBE").await {
                    Ok(_) => return,
                    Err(e)
                        if matches!(
                            e.kind(),
                            jetstream::context::GetStreamErrorKind::JetStream(_)
                        ) =>
                    {
                        return
                    }
                    Err(_) => {}
                }
            }
            assert!(
                Instant::now() < deadline,
                "JetStream did not answer in 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(async_nats::connect(self.url()).await.expect("connect"))
    }

    /// Every message of `stream`, in order: subject, headers, payload.
    pub async fn messages(&self, name: &str) -> Vec<(String, Vec<(String, String)>, Value)> {
        let mut stream = self
            .jetstream()
            .await
            .get_stream(name)
            .await
            .expect("stream");
        let count = stream.info().await.expect("info").state.messages;
        let mut found = Vec::new();
        for sequence in 1..=count {
            let message = stream.get_raw_message(sequence).await.expect("message");
            let mut headers: Vec<(String, String)> = message
                .headers
                .iter()
                .flat_map(|(name, values)| {
                    values
                        .iter()
                        .map(move |v| (name.to_string(), v.as_str().to_owned()))
                })
                .collect();
            headers.sort();
            let payload = serde_json::from_slice(&message.payload).expect("JSON payload");
            found.push((message.subject.to_string(), headers, payload));
        }
        found
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
