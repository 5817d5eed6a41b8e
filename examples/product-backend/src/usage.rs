//! The product's calls to `usage-server`, each with the key for its job: a
//! `tokens` key at login and for server-side events, an `admin` key for the
//! directory and the admin hand-over.

use serde::Deserialize;
use serde_json::{json, Value};

/// Where `usage-server` is and the product's two keys for it.
#[derive(Debug, Clone)]
pub struct UsageConfig {
    /// Base URL of `usage-server`, such as `http://127.0.0.1:8080`.
    pub url: String,
    /// The product's customer org in `usage-server`.
    pub org: String,
    /// A key with the `tokens` scope.
    pub tokens_key: String,
    /// A key with the `admin` scope.
    pub admin_key: String,
}

/// A failed call to `usage-server`, in words for the product's log or page.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// What `POST /v1/tokens` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusToken {
    /// For the front end's `tracker.login(token)`.
    pub token: String,
    /// Whether the user is opted out now.
    pub opt_out: bool,
}

/// A client of `usage-server` for one org.
#[derive(Debug, Clone)]
pub struct Usage {
    config: UsageConfig,
    http: reqwest::Client,
}

impl Usage {
    /// A client for `config`.
    pub fn new(config: UsageConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("a plain HTTP client without TLS always builds");
        Self { config, http }
    }

    /// The org the product tracks for.
    pub fn org(&self) -> &str {
        &self.config.org
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> Result<Value, UsageError> {
        let url = format!("{}{path}", self.config.url.trim_end_matches('/'));
        self.send(self.http.post(&url).bearer_auth(key).json(&body), path)
            .await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, UsageError> {
        let response = request
            .send()
            .await
            .map_err(|err| UsageError(format!("{what}: usage-server unreachable: {err}")))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            let message = body["error"]["message"].as_str().unwrap_or("no details");
            Err(UsageError(format!("{what}: {status}: {message}")))
        }
    }

    /// At login: the user's status token (`tokens` key). New users join the
    /// org's directory as plain users.
    pub async fn status_token(&self, user: &str, name: &str) -> Result<StatusToken, UsageError> {
        let body = json!({"org": self.config.org, "user": user, "name": name});
        let answer = self
            .post(&self.config.tokens_key, "/v1/tokens", body)
            .await?;
        serde_json::from_value(answer)
            .map_err(|err| UsageError(format!("/v1/tokens: unexpected answer: {err}")))
    }

    /// Records an event on the user's behalf from the back end (`tokens`
    /// key). The server drops it if the user is opted out now; the answer says.
    pub async fn track(&self, user: &str, name: &str, props: Value) -> Result<Value, UsageError> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("the current time formats as RFC 3339");
        let event = json!({"id": uuid::Uuid::now_v7(), "name": name, "ts": now, "props": props});
        let body = json!({"org": self.config.org, "user": user, "events": [event]});
        self.post(&self.config.tokens_key, "/v1/server-events", body)
            .await
    }

    /// Pushes a user's role to the org's directory (`admin` key), so the
    /// product's admins are the page's admins.
    pub async fn sync_user(&self, id: &str, name: &str, admin: bool) -> Result<(), UsageError> {
        let path = format!("/api/orgs/{}/users/{id}", self.config.org);
        let url = format!("{}{path}", self.config.url.trim_end_matches('/'));
        let role = if admin { "admin" } else { "user" };
        let request = self
            .http
            .put(&url)
            .bearer_auth(&self.config.admin_key)
            .json(&json!({"name": name, "role": role}));
        self.send(request, &path).await.map(drop)
    }

    /// A one-time sign-in URL handing the signed-in admin over to the
    /// settings page (`admin` key), landing on `return_to` if given.
    pub async fn admin_link(
        &self,
        user: &str,
        return_to: Option<&str>,
    ) -> Result<String, UsageError> {
        let path = format!("/api/orgs/{}/admin-links", self.config.org);
        let mut body = json!({"user": user});
        if let Some(return_to) = return_to {
            body["return_to"] = json!(return_to);
        }
        let answer = self.post(&self.config.admin_key, &path, body).await?;
        answer["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| UsageError(format!("{path}: the answer has no url")))
    }

    /// The path of the org's settings page on `usage-server`.
    pub fn settings_path(&self) -> String {
        format!(
            "/orgs/{}/tools/product-usage/opt-out-settings",
            self.config.org
        )
    }
}
