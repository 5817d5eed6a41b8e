//! Rust results as plain JavaScript objects.

use serde::Serialize;
use usage_sdk::protocol::Claims;
use usage_sdk::{DebugEntry, Tracked};
use wasm_bindgen::JsCast;

use crate::error::BindingError;

/// Plain objects and numbers, never `Map`s or `BigInt`s.
pub(crate) fn to_js<T: Serialize + ?Sized, J: JsCast>(value: &T) -> Result<J, BindingError> {
    let json = serde_json::to_string(value).map_err(|e| BindingError::Conversion(e.to_string()))?;
    js_sys::JSON::parse(&json)
        .map(JsCast::unchecked_into)
        .map_err(|_| BindingError::Conversion("JSON.parse".into()))
}

/// The token's claims with JavaScript names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JsClaims<'a> {
    org: &'a str,
    sub: &'a str,
    opt_out: bool,
    rev: u64,
    iat: i64,
    exp: i64,
}

impl<'a> From<&'a Claims> for JsClaims<'a> {
    fn from(claims: &'a Claims) -> Self {
        Self {
            org: &claims.org,
            sub: &claims.sub,
            opt_out: claims.opt_out,
            rev: claims.rev,
            iat: claims.iat,
            exp: claims.exp,
        }
    }
}

/// What `track()` did, as `{ outcome, id | reason | code }`.
#[derive(Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum JsTracked {
    Queued {
        id: String,
    },
    Held {
        id: String,
    },
    Dropped {
        reason: usage_sdk::DropReason,
    },
    Invalid {
        code: usage_sdk::protocol::RejectCode,
    },
}

impl From<Tracked> for JsTracked {
    fn from(tracked: Tracked) -> Self {
        match tracked {
            Tracked::Queued(id) => Self::Queued { id: id.to_string() },
            Tracked::Held(id) => Self::Held { id: id.to_string() },
            Tracked::Dropped(reason) => Self::Dropped { reason },
            Tracked::Invalid(code) => Self::Invalid { code },
        }
    }
}

/// A debugger entry with its fate also in words, for panels.
#[derive(Serialize)]
pub(crate) struct JsDebugEntry {
    #[serde(flatten)]
    entry: DebugEntry,
    text: String,
}

impl From<DebugEntry> for JsDebugEntry {
    fn from(entry: DebugEntry) -> Self {
        let text = entry.fate.to_string();
        Self { entry, text }
    }
}
