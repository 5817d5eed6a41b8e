//! What the page shows of the audit trail and of its lists' pages.

use time::UtcOffset;

use super::i18n::Strings;
use super::view::{actor_label, human_time, rfc3339};
use usage_validator::model::AuditEntry;

/// Links between pages of a list.
#[derive(Debug, Default)]
pub struct Pager {
    /// Back to the first page, when not on it.
    pub first: Option<String>,
    /// On to the next page, when there is one.
    pub next: Option<String>,
}

/// The audit section of the page.
#[derive(Debug)]
pub struct AuditSection {
    /// The user id filtered by, or empty.
    pub user: String,
    /// The link that clears the filter, when one is set.
    pub clear: Option<String>,
    /// The entries shown, newest first.
    pub rows: Vec<AuditRow>,
    /// Links to the newest and older entries.
    pub pager: Pager,
}

/// One entry of the audit section.
#[derive(Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// When, as RFC 3339.
    pub when_iso: String,
    /// When, for people.
    pub when_text: String,
    /// What was done, in words.
    pub what: String,
    /// Whom it was done to: name and id, or the id.
    pub user: String,
    /// Who did it, in words.
    pub by: String,
    /// Through what, in words.
    pub via: String,
}

impl AuditRow {
    /// The row of `entry`; `target_name` is the target's display name if known.
    pub fn new(t: &Strings, entry: &AuditEntry, target_name: Option<&str>) -> Self {
        let at = entry.at.to_offset(UtcOffset::UTC);
        let what = match entry.action.as_str() {
            "opt_out" => t.act_opt_out,
            "opt_in" => t.act_opt_in,
            "user_create" => t.act_user_create,
            "user_update" => t.act_user_update,
            "user_deactivate" => t.act_user_deactivate,
            "user_activate" => t.act_user_activate,
            "user_remove" => t.act_user_remove,
            other => other,
        };
        let via = match entry.via.as_str() {
            "page" => t.via_page,
            "api" => t.via_api,
            "cli" => t.via_cli,
            "scim" => t.via_scim,
            "system" => t.via_system,
            _ => t.via_unknown,
        };
        let user = match target_name {
            Some(name) if name != entry.target => format!("{name} ({})", entry.target),
            _ => entry.target.clone(),
        };
        let name = entry.actor_name.clone();
        Self {
            when_iso: rfc3339(at),
            when_text: human_time(at),
            what: what.to_owned(),
            user,
            by: actor_label(t, &entry.actor, |_| name.clone()),
            via: via.to_owned(),
        }
    }
}
