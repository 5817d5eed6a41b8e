//! Cookies as the W3C WebDriver protocol describes them.

use serde::{Deserialize, Serialize};

/// A browser cookie, read with [`Browser::cookies`](super::Browser::cookies) or
/// set with [`Browser::add_cookie`](super::Browser::add_cookie).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value.
    pub value: String,
    /// Path the cookie applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Domain the cookie applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Sent over HTTPS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    /// Hidden from page scripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// `Strict`, `Lax` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
    /// Expiry in seconds since the Unix epoch; `None` for a session cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<u64>,
}

impl Cookie {
    /// A session cookie for the current page's domain.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Cookie {
        Cookie {
            name: name.into(),
            value: value.into(),
            ..Cookie::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_cookies_read_with_camel_case_flags() {
        let cookie: Cookie = serde_json::from_str(
            r#"{"name":"session","value":"abc","path":"/","domain":"127.0.0.1",
                "secure":false,"httpOnly":true,"sameSite":"Strict"}"#,
        )
        .expect("a W3C cookie");
        assert_eq!(cookie.http_only, Some(true));
        assert_eq!(cookie.same_site.as_deref(), Some("Strict"));
        assert_eq!(cookie.expiry, None);
    }

    #[test]
    fn a_new_cookie_sends_only_name_and_value() {
        let json = serde_json::to_value(Cookie::new("lang", "sv")).expect("serializable");
        assert_eq!(json, serde_json::json!({"name": "lang", "value": "sv"}));
    }
}
