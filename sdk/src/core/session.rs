//! Logins: whose token sends whose events, and who may not send any more.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use usage_protocol::{read_claims, Claims};

use super::gate::{Gate, Mode};
use super::queue::UserKey;

/// A login as the tracker core records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `org/sub` from the token's claims.
    pub user: UserKey,
    /// The status token, sent with every batch of this user.
    pub token: String,
    /// The token's cached flag.
    pub opted_out: bool,
    /// The gate generation this login started.
    pub generation: u64,
    /// The session id stamped on events tracked under this login.
    pub session_id: String,
}

/// Who a token's claims name, as a queue key.
pub fn user_key(claims: &Claims) -> UserKey {
    UserKey::from(format!("{}/{}", claims.org, claims.sub))
}

/// What is cached on the device between runs: the current login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedSession {
    /// The status token of the logged-in user.
    pub token: String,
    /// The session id of that login.
    pub session_id: String,
    /// The server said this user is opted out, after the token was issued.
    #[serde(default)]
    pub server_opted_out: bool,
}

impl CachedSession {
    /// The login a new tracker resumes from this cache, opening a new
    /// generation of `gate`; `None` when the cached token cannot be read.
    pub fn resume(self, gate: &Gate) -> Option<Login> {
        let claims = read_claims(&self.token).ok()?;
        let opted_out = claims.opt_out || self.server_opted_out;
        let mode = if opted_out {
            Mode::OptedOut
        } else {
            Mode::Active
        };
        Some(Login {
            user: user_key(&claims),
            token: self.token,
            opted_out,
            generation: gate.advance(mode),
            session_id: self.session_id,
        })
    }
}

/// What the core knows of one user's login.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The latest token of this user.
    pub token: String,
    /// Opted out, by the token or by the server since.
    pub opted_out: bool,
    /// The collector refused the token (`401`) with this code; sending waits for a login.
    pub blocked: Option<String>,
    /// The gate generation of the login.
    pub generation: u64,
    /// The session id of the login.
    pub session_id: String,
}

/// Every user with a login or unsent events, and which one is logged in now.
#[derive(Debug, Default)]
pub struct Sessions {
    records: HashMap<UserKey, SessionRecord>,
    current: Option<UserKey>,
}

impl Sessions {
    /// Makes `login` the current session; a user's new token replaces the old
    /// one for all their unsent events.
    pub fn login(&mut self, login: Login) {
        self.records.insert(
            login.user.clone(),
            SessionRecord {
                token: login.token,
                opted_out: login.opted_out,
                blocked: None,
                generation: login.generation,
                session_id: login.session_id,
            },
        );
        self.current = Some(login.user);
    }

    /// Knows `user`'s token for events left from an earlier run, without
    /// logging in; a token that says opted out sends nothing.
    pub fn remember(&mut self, user: UserKey, token: String) {
        let opted_out = read_claims(&token).is_ok_and(|claims| claims.opt_out);
        self.records.entry(user).or_insert(SessionRecord {
            token,
            opted_out,
            blocked: None,
            generation: 0,
            session_id: String::new(),
        });
    }

    /// Ends the current session; its record stays while it has unsent events.
    pub fn logout(&mut self) {
        self.current = None;
    }

    /// The logged-in user.
    pub fn current(&self) -> Option<&UserKey> {
        self.current.as_ref()
    }

    /// One user's record.
    pub fn get(&self, user: &str) -> Option<&SessionRecord> {
        self.records.get(user)
    }

    /// One user's record, to change.
    pub fn get_mut(&mut self, user: &str) -> Option<&mut SessionRecord> {
        self.records.get_mut(user)
    }

    /// Whether `user`'s events may be sent now.
    pub fn sendable(&self, user: &str) -> bool {
        self.records
            .get(user)
            .is_some_and(|r| !r.opted_out && r.blocked.is_none())
    }

    /// Forgets users who are not logged in and for whom `keep` is false.
    pub fn forget_unless(&mut self, keep: impl Fn(&UserKey) -> bool) {
        let current = self.current.clone();
        self.records
            .retain(|user, _| Some(user) == current.as_ref() || keep(user));
    }

    /// Every user with a record.
    pub fn iter(&self) -> impl Iterator<Item = (&UserKey, &SessionRecord)> {
        self.records.iter()
    }
}
