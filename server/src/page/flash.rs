//! The outcome of a form post, carried to the next page view in a short-lived
//! signed cookie (post-redirect-get), shown once.

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::i18n::{join_names, Strings};
use crate::auth::cookie;
use crate::AppState;
use usage_validator::credentials::{self, Expiring};

/// The flash cookie's name.
pub const FLASH_COOKIE: &str = "usage_flash";
/// Purpose label of flash cookies, so no other signed value passes for one.
const FLASH_PURPOSE: &str = "flash";
/// How long a flash waits for its page view.
const FLASH_SECS: i64 = 60;
/// Names a message spells out before "and N more".
pub const NAMES_SHOWN: usize = 3;

/// What happened on a form post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Users were opted out.
    OptedOut,
    /// Users were opted back in.
    OptedIn,
    /// The opt-out form named no user.
    NoUserPicked,
    /// The opt-in form had no row ticked.
    NoRowPicked,
    /// A user was not in the directory; nothing changed.
    UnknownUser,
    /// The registry refused or failed; nothing changed.
    Failed,
}

/// A message for the admin's next view of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// The admin it is for; another session's page ignores it.
    pub admin: String,
    /// What happened.
    pub outcome: Outcome,
    /// Display names of the first few users it concerns.
    pub names: Vec<String>,
    /// How many users it concerns.
    pub count: usize,
    /// Expiry, unix seconds.
    pub exp: i64,
}

impl Expiring for Flash {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

impl Flash {
    /// A flash for `admin` about `outcome`.
    pub fn new(admin: &str, outcome: Outcome) -> Self {
        Self {
            admin: admin.to_owned(),
            outcome,
            names: Vec::new(),
            count: 0,
            exp: OffsetDateTime::now_utc().unix_timestamp() + FLASH_SECS,
        }
    }

    /// The same flash about the users named `names` (all of them, in order).
    pub fn about(mut self, names: Vec<String>) -> Self {
        self.count = names.len();
        self.names = names.into_iter().take(NAMES_SHOWN).collect();
        self
    }

    /// Whether the message reports a success.
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, Outcome::OptedOut | Outcome::OptedIn)
    }

    /// The message, in the page's language.
    pub fn message(&self, t: &Strings) -> String {
        let names = join_names(t, &self.names, self.count);
        let one = self.count == 1;
        let template = match self.outcome {
            Outcome::OptedOut if one => t.done_out_one,
            Outcome::OptedOut => t.done_out_many,
            Outcome::OptedIn if one => t.done_in_one,
            Outcome::OptedIn => t.done_in_many,
            Outcome::NoUserPicked => t.err_pick_user,
            Outcome::NoRowPicked => t.err_pick_rows,
            Outcome::UnknownUser => t.err_unknown_user,
            Outcome::Failed => t.err_failed,
        };
        template.replace("{names}", &names)
    }

    /// A `Set-Cookie` value carrying this flash to the page at `path`.
    pub fn cookie(&self, state: &AppState, path: &str) -> Option<HeaderValue> {
        let value = state.with_keys(|ring| credentials::sign(ring, FLASH_PURPOSE, self));
        HeaderValue::from_str(&format!(
            "{FLASH_COOKIE}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={FLASH_SECS}"
        ))
        .ok()
    }

    /// The valid flash in the request for `admin`, if any.
    pub fn take(state: &AppState, headers: &HeaderMap, admin: &str) -> Option<Self> {
        let value = cookie(headers, FLASH_COOKIE)?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        state
            .with_keys(|ring| credentials::open::<Self>(ring, FLASH_PURPOSE, value, now))
            .filter(|flash| flash.admin == admin)
    }
}

/// A `Set-Cookie` value that removes the flash at `path`, once shown.
pub fn clear_cookie(path: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{FLASH_COOKIE}=; HttpOnly; SameSite=Strict; Path={path}; Max-Age=0"
    ))
    .ok()
}

/// Whether the request carries a flash cookie at all, valid or not.
pub fn present(headers: &HeaderMap) -> bool {
    cookie(headers, FLASH_COOKIE).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::i18n::{EN, SV};

    #[test]
    fn messages_name_the_users_in_the_page_language() {
        let one = Flash::new("alice", Outcome::OptedOut).about(vec!["Bob Berg".into()]);
        assert_eq!(
            one.message(&EN),
            "Bob Berg is now opted out. Their usage events are discarded from now on."
        );
        let many = Flash::new("alice", Outcome::OptedIn)
            .about(["A", "B", "C", "D", "E"].map(String::from).to_vec());
        assert_eq!(many.names.len(), NAMES_SHOWN);
        assert!(many
            .message(&SV)
            .starts_with("A, B, C och 2 till spåras igen"));
        assert!(!Flash::new("alice", Outcome::Failed).is_success());
    }
}
