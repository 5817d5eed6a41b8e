//! Sends batches with the browser's `fetch`. While the page is hidden or
//! unloading, a batch goes as a `keepalive` request with the token in a
//! `text/plain` body (as `sendBeacon` would send it): the browser delivers it
//! even if the page is gone before the answer, and it needs no CORS preflight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use js_sys::Promise;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, Request, RequestInit, Response};

use crate::core::engine::Outgoing;
use crate::core::reply::{HttpReply, TransportError};
use crate::platform::Transport;

/// Most bytes of an answer kept; the collector's answers are small JSON.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Browsers cap the bodies of `keepalive` requests in flight at 64 KiB;
/// larger batches go as ordinary requests.
const MAX_KEEPALIVE_BYTES: usize = 64 * 1024;

#[wasm_bindgen]
extern "C" {
    // The global `fetch`, in a page or a worker alike.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_request(request: &Request) -> Promise;
}

/// `POST {endpoint}/v1/batch` from the page.
#[derive(Debug, Clone)]
pub(crate) struct FetchTransport {
    url: String,
    timeout_ms: u32,
    /// Set by the page hooks while the page is hidden or unloading.
    leaving: Arc<AtomicBool>,
}

impl FetchTransport {
    pub(crate) fn new(endpoint: &str, timeout: Duration, leaving: Arc<AtomicBool>) -> Self {
        Self {
            url: format!("{endpoint}/v1/batch"),
            timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
            leaving,
        }
    }

    /// The request for `batch`: `keepalive` with the token in the body while
    /// the page is leaving (when it fits), else JSON with a bearer header.
    fn request(&self, batch: &Outgoing) -> Result<Request, JsValue> {
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_signal(Some(&AbortSignal::timeout_with_u32(self.timeout_ms)));
        let headers = Headers::new()?;
        let leaving = self.leaving.load(Ordering::Acquire);
        match with_token(&batch.body, &batch.token)
            .filter(|t| leaving && t.len() <= MAX_KEEPALIVE_BYTES)
        {
            Some(text) => {
                headers.set("content-type", "text/plain;charset=UTF-8")?;
                // web-sys has no setter for `keepalive` yet; the dictionary is a plain object.
                js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE)?;
                init.set_body(&JsValue::from_str(&text));
            }
            None => {
                headers.set("content-type", "application/json")?;
                headers.set("authorization", &format!("Bearer {}", batch.token))?;
                let body = std::str::from_utf8(&batch.body)
                    .map_err(|_| JsValue::from_str("the batch body is not UTF-8"))?;
                init.set_body(&JsValue::from_str(body));
            }
        }
        init.set_headers(&headers);
        Request::new_with_str_and_init(&self.url, &init)
    }
}

/// The batch body with the token as its first field, for requests that carry
/// no header. The core leaves `token` out of the body, so it is not repeated.
fn with_token(body: &[u8], token: &str) -> Option<String> {
    let rest = std::str::from_utf8(body.strip_prefix(b"{")?).ok()?;
    let token = crate::core::lean_json::json_string(token);
    Some(format!("{{\"token\":{token},{rest}"))
}

fn failed(error: JsValue) -> TransportError {
    let text = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "fetch failed".to_owned());
    TransportError(text)
}

impl Transport for FetchTransport {
    fn send(
        &self,
        batch: Outgoing,
    ) -> impl std::future::Future<Output = Result<HttpReply, TransportError>> + 'static {
        // The request starts now, while the page still runs, not at the first poll.
        let started = self
            .request(&batch)
            .map(|request| JsFuture::from(fetch_request(&request)));
        async move {
            let response: Response = started
                .map_err(failed)?
                .await
                .map_err(failed)?
                .unchecked_into();
            let status = response.status();
            let retry_after = response.headers().get("retry-after").ok().flatten();
            let text = match response.text() {
                Ok(promise) => JsFuture::from(promise).await.map_err(failed)?,
                Err(error) => return Err(failed(error)),
            };
            let mut body = text.as_string().unwrap_or_default().into_bytes();
            body.truncate(MAX_REPLY_BYTES);
            Ok(HttpReply {
                status,
                retry_after,
                body,
            })
        }
    }
}
