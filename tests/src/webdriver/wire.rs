//! The HTTP layer of the W3C WebDriver protocol: one JSON command, one `value`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::{Error, Result};

/// Sends WebDriver commands below one base URL (a driver's or a session's).
#[derive(Debug, Clone)]
pub(crate) struct Wire {
    http: reqwest::Client,
    base: String,
}

impl Wire {
    /// Commands below `base`, such as `http://127.0.0.1:9515`.
    pub(crate) fn new(base: String) -> Wire {
        let http = reqwest::Client::builder()
            .no_proxy()
            // Longer than the session's 30 s page-load and script timeouts,
            // so the driver reports those itself.
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a plain HTTP client without TLS always builds");
        Wire { http, base }
    }

    /// The same client, for commands below `base`/`path`.
    pub(crate) fn join(&self, path: &str) -> Wire {
        Wire {
            http: self.http.clone(),
            base: format!("{}{path}", self.base),
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        self.command(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.command(Method::POST, path, Some(body)).await
    }

    /// A POST without parameters; W3C still wants an (empty) JSON object.
    pub(crate) async fn post_empty(&self, path: &str) -> Result<Value> {
        self.post(path, json!({})).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Result<Value> {
        self.command(Method::DELETE, path, None).await
    }

    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let command = format!("{method} {path}");
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|source| Error::Http {
            url: url.clone(),
            source,
        })?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|source| Error::Http { url, source })?;
        unwrap_value(&command, status.is_success(), body)
    }
}

/// The `value` of a W3C response, or the error it reports.
fn unwrap_value(command: &str, success: bool, mut body: Value) -> Result<Value> {
    let value = body
        .get_mut("value")
        .map(Value::take)
        .ok_or_else(|| Error::unexpected(format!("response to {command}"), body.to_string()))?;
    if success {
        return Ok(value);
    }
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Err(Error::WebDriver {
        command: command.to_owned(),
        error: text("error"),
        message: text("message"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_yields_the_value() {
        let value = unwrap_value("GET /url", true, json!({"value": "http://127.0.0.1/"}));
        assert_eq!(value.expect("success"), json!("http://127.0.0.1/"));
    }

    #[test]
    fn an_error_carries_the_w3c_code_and_message() {
        let body =
            json!({"value": {"error": "no such element", "message": "#missing", "stacktrace": ""}});
        let error = unwrap_value("POST /element", false, body).expect_err("an error response");
        assert!(error.is_no_such_element());
        assert!(error.to_string().contains("#missing"));
    }

    #[test]
    fn a_body_without_value_is_unexpected() {
        let error = unwrap_value("GET /status", true, json!({"status": 0})).expect_err("no value");
        assert!(matches!(error, Error::Unexpected { .. }));
    }
}
