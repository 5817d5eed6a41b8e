//! The registry's records: users, opt-outs, changes and the audit trail.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A user's role in their org's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A product admin: may see and change the org's opt-outs.
    Admin,
    /// Anyone else.
    User,
}

impl Role {
    /// `admin` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }
}

impl FromStr for Role {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "user" => Ok(Self::User),
            other => Err(crate::Error::InvalidInput(format!(
                "role must be `admin` or `user`, not `{other}`"
            ))),
        }
    }
}

/// A user of an org's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id, unique within the org.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address, possibly empty.
    pub email: String,
    /// Role.
    pub role: Role,
}

/// Where a user stands in their org's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// In the directory: offered on the page, issued status tokens.
    Active,
    /// Kept in the directory (and in the opt-out list if opted out), but not
    /// offered on the page and refused status tokens.
    Deactivated,
    /// Gone from every listing and refused status tokens; the record stays
    /// only so that their opt-out state and audit history are kept, and
    /// comes back if the user is added again.
    Removed,
}

impl UserStatus {
    /// `active`, `deactivated` or `removed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deactivated => "deactivated",
            Self::Removed => "removed",
        }
    }
}

impl FromStr for UserStatus {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(Self::Active),
            "deactivated" => Ok(Self::Deactivated),
            "removed" => Ok(Self::Removed),
            other => Err(crate::Error::InvalidInput(format!(
                "status must be `active`, `deactivated` or `removed`, not `{other}`"
            ))),
        }
    }
}

/// A directory user with their opt-out status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// Whether the user is opted out of tracking now.
    pub opted_out: bool,
    /// Whether the user is active (deactivated users are listed with `false`).
    pub active: bool,
}

/// An opted-out user, with when and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOutEntry {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// When they were opted out.
    #[serde(with = "time::serde::rfc3339")]
    pub opted_out_at: OffsetDateTime,
    /// Who opted them out (an actor string such as `user:alice`).
    pub opted_out_by: String,
    /// Whether the user is active in the directory (deactivated users stay
    /// listed while opted out).
    pub active: bool,
}

/// One entry of the append-only change log of opt-out state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Revision: strictly increasing across the whole registry.
    pub rev: u64,
    /// The org.
    pub org: String,
    /// The user.
    pub user: String,
    /// The user's state after the change.
    pub opted_out: bool,
    /// Who made the change.
    pub actor: String,
    /// When it was committed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One entry of an org's audit trail: who did what to whom, through what,
/// when, and the record before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing id.
    pub id: u64,
    /// Who acted, as an actor string: `user:alice`, `key:sk_1`,
    /// `operator:root` or `system`.
    pub actor: String,
    /// The actor for people: the admin's name, the key's label or the
    /// operator's name, when known.
    pub actor_name: Option<String>,
    /// Through what: `page`, `api`, `cli`, `scim` or `system`; empty for
    /// entries written before this was recorded.
    pub via: String,
    /// What was done: `opt_out`, `opt_in`, `user_create`, `user_update`,
    /// `user_deactivate`, `user_activate`, `user_remove`, `service_key_create`, ...
    pub action: String,
    /// What it was done to, such as a user id.
    pub target: String,
    /// The target's state before, when the action changed one.
    pub before: Option<serde_json::Value>,
    /// The target's state after.
    pub after: Option<serde_json::Value>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Who makes a change, as recorded in the change log and audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A signed-in product admin.
    User(String),
    /// A service key, by its public id.
    ServiceKey(String),
    /// Someone at the server's command line, by the name they gave (or
    /// their OS user).
    Operator(String),
    /// The server itself (demo seeding, users added at token issue).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(id) => write!(f, "user:{id}"),
            Self::ServiceKey(id) => write!(f, "key:{id}"),
            Self::Operator(name) => write!(f, "operator:{name}"),
            Self::System => f.write_str("system"),
        }
    }
}

/// Through what a change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The settings page.
    Page,
    /// The HTTP API (service key or admin session).
    Api,
    /// The server's command line.
    Cli,
    /// Directory sync from an identity provider (SCIM).
    Scim,
    /// The server on its own (demo seeding, users added at token issue).
    System,
}

impl Via {
    /// `page`, `api`, `cli`, `scim` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Api => "api",
            Self::Cli => "cli",
            Self::Scim => "scim",
            Self::System => "system",
        }
    }
}

/// Who made a change, through what, with a name for people: what the audit
/// trail records of every change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Author {
    /// Who.
    pub actor: Actor,
    /// Through what.
    pub via: Via,
    /// The admin's name, the key's label or the operator's name, if known.
    pub name: Option<String>,
}

impl Author {
    /// `actor` acting through `via`, with no name for people.
    pub fn new(actor: Actor, via: Via) -> Self {
        Self {
            actor,
            via,
            name: None,
        }
    }

    /// The same author with a name for people.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The server on its own.
    pub fn system() -> Self {
        Self::new(Actor::System, Via::System)
    }
}

/// An actor with the channel it usually acts through: an operator at the
/// command line, the server on its own, anyone else over the API.
impl From<Actor> for Author {
    fn from(actor: Actor) -> Self {
        let via = match actor {
            Actor::Operator(_) => Via::Cli,
            Actor::System => Via::System,
            Actor::User(_) | Actor::ServiceKey(_) => Via::Api,
        };
        Self::new(actor, via)
    }
}

impl From<&Actor> for Author {
    fn from(actor: &Actor) -> Self {
        actor.clone().into()
    }
}

impl From<&Author> for Author {
    fn from(author: &Author) -> Self {
        author.clone()
    }
}

/// What to list of an org's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring of id, name or email.
    pub query: Option<String>,
    /// Only users with this opt-out status.
    pub opted_out: Option<bool>,
    /// Only active (`true`) or only deactivated (`false`) users; removed
    /// users are never listed.
    pub active: Option<bool>,
    /// Page size, 1 to 1000.
    pub limit: u32,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
}

/// One page of directory users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    /// The users, ordered by name then id.
    pub users: Vec<DirectoryEntry>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One job a service key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Issue status tokens (`POST /v1/tokens`) and send server events
    /// (`POST /v1/server-events`).
    Tokens,
    /// Everything under `/api/orgs/{org}/`, admin links and SCIM.
    Admin,
}

impl Scope {
    /// Every scope: what a full key holds.
    pub const ALL: [Scope; 2] = [Scope::Tokens, Scope::Admin];

    /// `tokens` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tokens => "tokens",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tokens" => Ok(Self::Tokens),
            "admin" => Ok(Self::Admin),
            other => Err(crate::Error::InvalidInput(format!(
                "scope must be `tokens` or `admin`, not `{other}`"
            ))),
        }
    }
}

/// A service key's record; the key itself is only ever stored hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceKeyInfo {
    /// Public id, named as the actor in the audit trail.
    pub id: String,
    /// The org the key acts for.
    pub org: String,
    /// A human label.
    pub label: String,
    /// What the key may do, sorted, without repeats. Keys stored before
    /// scopes existed read as full keys.
    pub scopes: Vec<Scope>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working, if ever.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was last presented, to the minute; `None` if never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl ServiceKeyInfo {
    /// Whether the key holds `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether the key has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// The scopes as stored: names separated by spaces.
pub fn scopes_to_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Scopes stored by [`scopes_to_text`]; `None` (a key stored before scopes
/// existed) reads as a full key, so such keys keep working until rotated.
pub fn scopes_from_text(text: Option<&str>) -> Result<Vec<Scope>, crate::Error> {
    let Some(text) = text else {
        return Ok(Scope::ALL.to_vec());
    };
    let mut scopes = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<Vec<Scope>, _>>()?;
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// What a bulk directory upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertSummary {
    /// Users added.
    pub created: u64,
    /// Users whose name, email or role changed.
    pub updated: u64,
    /// Users already as given.
    pub unchanged: u64,
}

/// What to list of an org's opted-out users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptOutQuery {
    /// Case-insensitive substring of id, name or email.
    pub query: Option<String>,
    /// Page size, 1 to 1000.
    pub limit: u32,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
}

/// One page of opted-out users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOutPage {
    /// Newest opt-out first; ties (opted out in one call) by id.
    pub opt_outs: Vec<OptOutEntry>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// How many users match the query over all pages.
    pub total: u64,
}

/// What to list of an org's audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries about this target (a user id).
    pub target: Option<String>,
    /// Page size, 1 to 1000.
    pub limit: u32,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
}

/// One page of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_scopes_read_back_sorted_once_and_legacy_keys_read_as_full() {
        for scopes in [vec![Scope::Tokens], vec![Scope::Admin], Scope::ALL.to_vec()] {
            let text = scopes_to_text(&scopes);
            assert_eq!(scopes_from_text(Some(&text)).expect("parses"), scopes);
        }
        assert_eq!(
            scopes_from_text(Some("admin tokens admin")).expect("parses"),
            Scope::ALL
        );
        assert_eq!(scopes_from_text(None).expect("legacy"), Scope::ALL);
        assert!(scopes_from_text(Some("tokens root")).is_err());
        assert_eq!(scopes_from_text(Some("")).expect("parses"), []);
    }
}
