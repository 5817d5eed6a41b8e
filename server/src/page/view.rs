//! What the templates show: the page, the refusal pages, and the parts they
//! share. Every string here is escaped by askama when rendered.

use askama::Template;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use super::assets;
use super::i18n::Strings;
use super::Language;
use usage_validator::model::{DirectoryEntry, OptOutEntry};

pub use super::audit_view::{AuditRow, AuditSection, Pager};

/// The frame around every page: language, stylesheet, header.
#[derive(Debug)]
pub struct Chrome {
    /// The page's words.
    pub t: &'static Strings,
    /// The stylesheet's URL.
    pub css_url: &'static str,
    /// The org's settings page.
    pub page_path: String,
    /// `?lang=..` when the visitor chose a language, else empty.
    pub lang_suffix: &'static str,
    /// The signed-in admin; only then does the header show the menu.
    pub account: Option<Account>,
}

impl Chrome {
    /// The frame for `org`'s page in `language`.
    pub fn new(language: Language, page_path: String, account: Option<Account>) -> Self {
        Self {
            t: language.strings(),
            css_url: assets::css_url(),
            page_path,
            lang_suffix: language.suffix(),
            account,
        }
    }
}

/// The signed-in admin, as the header shows them.
#[derive(Debug)]
pub struct Account {
    /// Display name.
    pub name: String,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: String,
}

/// The settings page.
#[derive(Debug, Template)]
#[template(path = "opt-out-settings/page.html")]
pub struct SettingsPage {
    /// The frame.
    pub chrome: Chrome,
    /// The script's URL.
    pub js_url: &'static str,
    /// The `lang` value forms carry on, if chosen.
    pub lang_param: Option<&'static str>,
    /// The session's CSRF token, for the forms.
    pub csrf: String,
    /// The search text.
    pub query: String,
    /// Where the script searches users as the admin types.
    pub search_url: String,
    /// How many users the drop-down lists at most.
    pub limit: u32,
    /// Users that can be opted out, matching the search.
    pub candidates: Vec<Candidate>,
    /// The line under the drop-down.
    pub candidates_note: String,
    /// The page's position in its lists, carried through forms.
    pub view: String,
    /// The search text of the opted-out table.
    pub list_query: String,
    /// Whether anyone at all is opted out (else the empty state shows).
    pub anyone_opted_out: bool,
    /// Opted-out users of this page of the table.
    pub rows: Vec<Row>,
    /// The line above the table: which rows of how many.
    pub list_position: String,
    /// Links to the first and next pages of the table.
    pub pager: Pager,
    /// The audit section.
    pub audit: AuditSection,
    /// The outcome of the last form post.
    pub flash: Option<FlashView>,
}

/// A page that explains why the settings are not shown.
#[derive(Debug, Template)]
#[template(path = "opt-out-settings/refusal.html")]
pub struct RefusalPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: &'static str,
    /// What happened.
    pub body: &'static str,
    /// How to sign in, before `command`.
    pub how: Option<&'static str>,
    /// The command that makes a sign-in link.
    pub command: String,
    /// Whether to link back to the page.
    pub back: bool,
}

/// One choice of the drop-down.
#[derive(Debug, PartialEq, Eq)]
pub struct Candidate {
    /// User id, the value posted.
    pub id: String,
    /// Name with email (or id), so namesakes can be told apart.
    pub label: String,
}

impl From<DirectoryEntry> for Candidate {
    fn from(entry: DirectoryEntry) -> Self {
        let user = entry.user;
        let detail = if user.email.is_empty() {
            &user.id
        } else {
            &user.email
        };
        Self {
            label: format!("{} ({detail})", user.name),
            id: user.id,
        }
    }
}

/// One row of the opt-out table.
#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    /// User id, the value posted.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email, possibly empty.
    pub email: String,
    /// When, as RFC 3339 for `<time datetime>`.
    pub when_iso: String,
    /// When, for people.
    pub when_text: String,
    /// Who opted the user out, for people.
    pub by: String,
    /// Accessible name of the row's check box.
    pub pick_label: String,
    /// Whether the user is deactivated in the directory.
    pub inactive: bool,
}

impl Row {
    /// The row of `entry`, with the actor already put in words.
    pub fn new(t: &Strings, entry: OptOutEntry, by: String) -> Self {
        let at = entry.opted_out_at.to_offset(UtcOffset::UTC);
        Self {
            pick_label: t.select_row.replace("{name}", &entry.user.name),
            id: entry.user.id,
            name: entry.user.name,
            email: entry.user.email,
            when_iso: rfc3339(at),
            when_text: human_time(at),
            by,
            inactive: !entry.active,
        }
    }
}

/// The flash message as shown.
#[derive(Debug)]
pub struct FlashView {
    /// The sentence.
    pub text: String,
    /// Success (a status) or a problem (an alert).
    pub success: bool,
}

/// An actor string of the change log (`user:alice`, `key:sk_1`,
/// `operator:root`, `system`) in words; `name_of` gives a user's display name
/// or a key's label if known.
pub fn actor_label(t: &Strings, actor: &str, name_of: impl Fn(&str) -> Option<String>) -> String {
    if let Some(id) = actor.strip_prefix("user:") {
        name_of(id).unwrap_or_else(|| id.to_owned())
    } else if let Some(id) = actor.strip_prefix("key:") {
        let key = t.actor_key.replace("{id}", id);
        match name_of(id) {
            Some(label) => format!("{key} ({label})"),
            None => key,
        }
    } else if let Some(name) = actor.strip_prefix("operator:") {
        t.actor_operator.replace("{name}", name)
    } else if actor == "system" {
        t.actor_system.to_owned()
    } else {
        actor.to_owned()
    }
}

pub(super) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(super) fn human_time(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::i18n::{EN, SV};
    use usage_validator::model::{AuditEntry, Role, User};

    fn user(id: &str, name: &str, email: &str) -> User {
        User {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            role: Role::User,
        }
    }

    #[test]
    fn actors_read_as_people_keys_or_the_server() {
        let names = |id: &str| (id == "alice").then(|| "Alice Andersson".to_owned());
        assert_eq!(actor_label(&EN, "user:alice", names), "Alice Andersson");
        assert_eq!(actor_label(&EN, "user:gone", names), "gone");
        assert_eq!(actor_label(&EN, "key:sk_12", names), "service key sk_12");
        assert_eq!(
            actor_label(&EN, "key:sk_12", |_| Some("billing".into())),
            "service key sk_12 (billing)"
        );
        assert_eq!(
            actor_label(&SV, "operator:root", names),
            "root på kommandoraden"
        );
        assert_eq!(actor_label(&SV, "key:sk_12", names), "tjänstnyckel sk_12");
        assert_eq!(
            actor_label(&EN, "system", names),
            "the server (seed or import)"
        );
    }

    #[test]
    fn rows_show_time_in_utc_and_name_their_check_box() {
        let at = OffsetDateTime::from_unix_timestamp(1_795_000_000)
            .expect("valid time")
            .to_offset(UtcOffset::from_hms(2, 0, 0).expect("offset"));
        let entry = OptOutEntry {
            user: user("bob", "Bob Berg", "bob@acme.example"),
            opted_out_at: at,
            opted_out_by: "user:alice".into(),
            active: true,
        };
        let row = Row::new(&EN, entry, "Alice".into());
        assert_eq!(row.when_text, "2026-11-18 11:06 UTC");
        assert_eq!(row.when_iso, "2026-11-18T11:06:40Z");
        assert_eq!(row.pick_label, "Select Bob Berg");
    }

    #[test]
    fn user_text_is_escaped_in_the_page() {
        let evil = "<img src=x onerror=alert(1)>";
        let page = SettingsPage {
            chrome: Chrome::new(
                Language {
                    lang: super::super::Lang::En,
                    chosen: false,
                },
                "/orgs/acme/tools/product-usage/opt-out-settings".into(),
                Some(Account {
                    name: evil.into(),
                    csrf: "c".into(),
                }),
            ),
            js_url: "/a.js",
            lang_param: None,
            csrf: "c".into(),
            query: evil.into(),
            search_url: "/api/orgs/acme/users".into(),
            limit: 200,
            candidates: vec![Candidate::from(DirectoryEntry {
                user: user("m", evil, ""),
                opted_out: false,
                active: true,
            })],
            candidates_note: String::new(),
            view: evil.into(),
            list_query: evil.into(),
            anyone_opted_out: true,
            rows: vec![Row::new(
                &EN,
                OptOutEntry {
                    user: user("e", evil, evil),
                    opted_out_at: OffsetDateTime::UNIX_EPOCH,
                    opted_out_by: "user:x".into(),
                    active: false,
                },
                evil.into(),
            )],
            list_position: evil.into(),
            pager: Pager::default(),
            audit: AuditSection {
                user: evil.into(),
                clear: None,
                rows: vec![AuditRow::new(
                    &EN,
                    &AuditEntry {
                        id: 1,
                        actor: format!("operator:{evil}"),
                        actor_name: Some(evil.into()),
                        via: "cli".into(),
                        action: evil.into(),
                        target: evil.into(),
                        before: None,
                        after: None,
                        at: OffsetDateTime::UNIX_EPOCH,
                    },
                    Some(evil),
                )],
                pager: Pager::default(),
            },
            flash: Some(FlashView {
                text: evil.into(),
                success: true,
            }),
        };
        let html = page.render().expect("the page renders");
        assert!(!html.contains("<img"), "unescaped markup in:\n{html}");
        assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;") || html.contains("&lt;img"));
    }
}
