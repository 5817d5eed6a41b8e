//! Sends batches with reqwest (rustls) on the worker's runtime.

use std::time::Duration;

use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};

use crate::core::engine::Outgoing;
use crate::core::reply::{HttpReply, TransportError};
use crate::platform::Transport;

/// Most bytes of an answer read; the collector's answers are small JSON.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// `POST {endpoint}/v1/batch` over HTTP(S).
#[derive(Debug, Clone)]
pub(crate) struct HttpTransport {
    client: reqwest::Client,
    url: String,
    /// Bodies go gzip-compressed.
    gzip: bool,
}

impl HttpTransport {
    pub(crate) fn new(
        endpoint: &str,
        timeout: Duration,
        gzip: bool,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("usage-sdk-rust/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            url: format!("{endpoint}/v1/batch"),
            gzip,
        })
    }
}

/// `body` as gzip.
#[cfg(feature = "gzip")]
fn compress(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

/// Without the `gzip` feature bodies are never compressed.
#[cfg(not(feature = "gzip"))]
fn compress(_: &[u8]) -> std::io::Result<Vec<u8>> {
    Err(std::io::ErrorKind::Unsupported.into())
}

impl Transport for HttpTransport {
    fn send(
        &self,
        batch: Outgoing,
    ) -> impl std::future::Future<Output = Result<HttpReply, TransportError>> + 'static {
        let mut request = self
            .client
            .post(&self.url)
            .bearer_auth(&batch.token)
            .header(CONTENT_TYPE, "application/json");
        request = match self.gzip.then(|| compress(&batch.body)) {
            Some(Ok(body)) => request.header(CONTENT_ENCODING, "gzip").body(body),
            Some(Err(error)) => {
                tracing::warn!(%error, "could not compress a batch; sent as it is");
                request.body(batch.body)
            }
            None => request.body(batch.body),
        };
        async move {
            let mut response = request
                .send()
                .await
                .map_err(|e| TransportError(e.to_string()))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| TransportError(e.to_string()))?
            {
                let room = MAX_REPLY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() == MAX_REPLY_BYTES {
                    break;
                }
            }
            Ok(HttpReply {
                status,
                retry_after,
                body,
            })
        }
    }
}
