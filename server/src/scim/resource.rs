//! The SCIM 2.0 User resource (RFC 7643) as this directory maps it, and the
//! error shape of RFC 7644.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use usage_validator::model::{User, UserStatus};

/// The media type of every SCIM response.
pub const SCIM_JSON: &str = "application/scim+json";
/// The schema of a User resource.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The schema of a list response.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The schema of an error.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The schema of a PATCH request.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM error (RFC 7644 section 3.12), answered as `application/scim+json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    /// An error with a status and a detail for people.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// With a `scimType` (`invalidFilter`, `uniqueness`, `invalidValue`, ...).
    pub fn typed(mut self, scim_type: &'static str) -> Self {
        self.scim_type = Some(scim_type);
        self
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail).typed("invalidValue")
    }

    /// 404 for a user id.
    pub fn no_user(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("no user `{id}` in this directory"),
        )
    }
}

impl From<crate::ApiError> for ScimError {
    fn from(err: crate::ApiError) -> Self {
        Self::new(err.status(), err.message().to_owned())
    }
}

impl From<usage_validator::Error> for ScimError {
    fn from(err: usage_validator::Error) -> Self {
        match err {
            usage_validator::Error::InvalidId(_) | usage_validator::Error::InvalidInput(_) => {
                Self::invalid_value(err.to_string())
            }
            other => crate::ApiError::from(other).into(),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        scim_json(self.status, &body)
    }
}

/// `body` with `status`, as `application/scim+json`.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

/// A User resource as this server shows it.
pub fn user_resource(user: &User, status: UserStatus) -> Value {
    let mut resource = json!({
        "schemas": [USER_SCHEMA],
        "id": user.id,
        "userName": user.id,
        "displayName": user.name,
        "name": { "formatted": user.name },
        "active": status == UserStatus::Active,
        "meta": {
            "resourceType": "User",
            "location": format!("/scim/v2/Users/{}", user.id),
        },
    });
    if !user.email.is_empty() {
        resource["emails"] = json!([{ "value": user.email, "primary": true }]);
    }
    resource
}

/// The parts of a User resource a client sends that this directory keeps.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInput {
    /// The user id.
    pub user_name: Option<String>,
    /// The name shown.
    pub display_name: Option<String>,
    /// Structured name, used when there is no display name.
    pub name: Option<NameInput>,
    /// Email addresses; the primary one (or the first) is kept.
    #[serde(default)]
    pub emails: Vec<EmailInput>,
    /// Whether the user is active (default true).
    pub active: Option<Value>,
}

/// `name` of a User resource.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameInput {
    formatted: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
}

/// One of `emails`.
#[derive(Debug, Deserialize)]
pub struct EmailInput {
    value: String,
    #[serde(default)]
    primary: bool,
}

impl UserInput {
    /// The display name: `displayName`, else `name.formatted`, else given and
    /// family names, else the user name.
    pub fn display_name(&self, user_name: &str) -> String {
        let from_name = self.name.as_ref().and_then(|n| {
            n.formatted
                .clone()
                .filter(|f| !f.trim().is_empty())
                .or_else(|| {
                    let parts: Vec<&str> = [&n.given_name, &n.family_name]
                        .into_iter()
                        .filter_map(|p| p.as_deref())
                        .filter(|p| !p.trim().is_empty())
                        .collect();
                    (!parts.is_empty()).then(|| parts.join(" "))
                })
        });
        self.display_name
            .clone()
            .filter(|d| !d.trim().is_empty())
            .or(from_name)
            .unwrap_or_else(|| user_name.to_owned())
    }

    /// The primary email, or the first, or none.
    pub fn email(&self) -> String {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
            .map(|e| e.value.clone())
            .unwrap_or_default()
    }

    /// `active`, default true.
    pub fn active(&self) -> Result<bool, ScimError> {
        self.active.as_ref().map_or(Ok(true), boolean)
    }
}

/// A SCIM boolean: JSON `true`/`false`, or the strings some identity
/// providers send (`"True"`, `"false"`).
pub fn boolean(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value("`active` must be true or false")),
    }
}

/// A parsed `filter`: only `userName eq "value"` is supported.
pub fn user_name_filter(filter: &str) -> Result<String, ScimError> {
    let unsupported = || {
        ScimError::new(
            StatusCode::BAD_REQUEST,
            "only the filter `userName eq \"...\"` is supported",
        )
        .typed("invalidFilter")
    };
    let mut parts = filter.trim().splitn(3, char::is_whitespace);
    let (Some(attr), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unsupported());
    };
    if !attr.eq_ignore_ascii_case("userName") || !op.eq_ignore_ascii_case("eq") {
        return Err(unsupported());
    }
    let value: String = serde_json::from_str(value.trim()).map_err(|_| unsupported())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_name_filter_is_read_and_others_refused() {
        assert_eq!(user_name_filter(r#"userName eq "bob""#).expect("ok"), "bob");
        assert_eq!(
            user_name_filter(r#"USERNAME EQ "a \"b\"""#).expect("ok"),
            "a \"b\""
        );
        for bad in [
            r#"name eq "bob""#,
            r#"userName co "b""#,
            "userName eq bob",
            "",
        ] {
            let err = user_name_filter(bad).expect_err(bad);
            assert_eq!(err.scim_type, Some("invalidFilter"));
        }
    }

    #[test]
    fn names_fall_back_from_display_to_parts_to_user_name() {
        let input: UserInput = serde_json::from_value(json!({
            "userName": "bob",
            "name": {"givenName": "Bob", "familyName": "Berg"},
            "emails": [{"value": "b@x"}, {"value": "p@x", "primary": true}],
            "active": "False"
        }))
        .expect("valid");
        assert_eq!(input.display_name("bob"), "Bob Berg");
        assert_eq!(input.email(), "p@x");
        assert!(!input.active().expect("a boolean"));
        assert_eq!(UserInput::default().display_name("bob"), "bob");
    }
}
