//! Every word the settings page shows, in English and Swedish, and how the
//! language of a request is chosen.
//!
//! [`Strings`] lists each text once; `en.rs` and `sv.rs` fill it in, in our
//! own words. Nothing else in the page holds user-facing text.

mod en;
mod sv;

pub use en::EN;
pub use sv::SV;

/// A language the page speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English, the default.
    En,
    /// Swedish.
    Sv,
}

impl Lang {
    /// The language of a BCP 47 tag such as `sv-SE`, if the page speaks it.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next()?.trim();
        if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else if primary.eq_ignore_ascii_case("sv") {
            Some(Self::Sv)
        } else {
            None
        }
    }

    /// The page's words in this language.
    pub fn strings(self) -> &'static Strings {
        match self {
            Self::En => &EN,
            Self::Sv => &SV,
        }
    }
}

/// The language of a request: `?lang=` wins, then the first language of
/// `Accept-Language` (by q-value) that the page speaks, then English.
///
/// The flag says whether `?lang=` chose it, so links and redirects keep it.
pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> (Lang, bool) {
    if let Some(lang) = query.and_then(Lang::from_tag) {
        return (lang, true);
    }
    let lang = accept_language.and_then(from_accept_language);
    (lang.unwrap_or(Lang::En), false)
}

/// The first supported language of an `Accept-Language` value, by q order;
/// among equal q-values the earlier entry wins.
fn from_accept_language(header: &str) -> Option<Lang> {
    let mut ranked: Vec<(u16, Lang)> = header
        .split(',')
        .take(32)
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let lang = Lang::from_tag(parts.next()?.trim())?;
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .map_or(Some(1000), parse_quality)?;
            (quality > 0).then_some((quality, lang))
        })
        .collect();
    // A stable sort keeps the header's order among equal q-values.
    ranked.sort_by_key(|(quality, _)| std::cmp::Reverse(*quality));
    ranked.first().map(|(_, lang)| *lang)
}

/// A q-value in thousandths, or `None` if malformed.
fn parse_quality(text: &str) -> Option<u16> {
    let value: f32 = text.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

/// Joins display names for a message: "A", "A and B", "A, B and C", or
/// "A, B, C and 4 more" when `total` is larger than the names given.
pub fn join_names(t: &Strings, names: &[String], total: usize) -> String {
    let rest = total.saturating_sub(names.len());
    let mut parts: Vec<String> = names.to_vec();
    if rest > 0 {
        parts.push(t.and_more.replace("{n}", &rest.to_string()));
    }
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} {} {last}", init.join(", "), t.and),
    }
}

/// The page's words in one language. Placeholders in braces are filled in
/// by the page; everything is escaped when rendered.
#[derive(Debug)]
pub struct Strings {
    /// The `<html lang>` value.
    pub code: &'static str,
    /// The other language, named in itself, for the language switch.
    pub other_name: &'static str,
    /// The other language's code.
    pub other_code: &'static str,
    /// Accessible name of the language switch.
    pub language_label: &'static str,
    /// The product's name in the page header.
    pub site_name: &'static str,
    /// The link that skips to the main content.
    pub skip_link: &'static str,
    /// Accessible name of the main menu.
    pub menu_label: &'static str,
    /// Accessible name of the breadcrumb trail.
    pub breadcrumb_label: &'static str,
    /// Menu and breadcrumb: Tools.
    pub tools: &'static str,
    /// Menu and breadcrumb: Product Usage.
    pub product_usage: &'static str,
    /// The page's title and heading.
    pub page_title: &'static str,
    /// Before the admin's name in the header.
    pub signed_in_as: &'static str,
    /// The sign-out button.
    pub sign_out: &'static str,
    /// The paragraph under the heading.
    pub intro: &'static str,
    /// The summary of each help disclosure.
    pub help: &'static str,
    /// Heading of the opt-out section.
    pub opt_out_heading: &'static str,
    /// Help on the opt-out section.
    pub opt_out_help: &'static str,
    /// Label of the search box.
    pub search_label: &'static str,
    /// Hint under the search box.
    pub search_hint: &'static str,
    /// The search button.
    pub search_button: &'static str,
    /// The link that clears the search.
    pub clear_search: &'static str,
    /// Label of the user drop-down.
    pub user_label: &'static str,
    /// Hint under the user drop-down.
    pub user_hint: &'static str,
    /// The drop-down's empty first choice.
    pub choose_user: &'static str,
    /// The opt-out button.
    pub opt_out_button: &'static str,
    /// Hint on the opt-out button.
    pub opt_out_hint: &'static str,
    /// Under the drop-down when exactly one user is listed.
    pub candidates_one: &'static str,
    /// Under the drop-down when every match is listed; `{n}` is the count.
    pub candidates_all: &'static str,
    /// Under the drop-down when only the first `{n}` matches are listed.
    pub candidates_some: &'static str,
    /// Under the drop-down when nothing matches the search.
    pub candidates_none: &'static str,
    /// Under the drop-down when everyone is opted out already.
    pub candidates_nobody: &'static str,
    /// Heading of the list section.
    pub list_heading: &'static str,
    /// Help on the list section.
    pub list_help: &'static str,
    /// The table's caption.
    pub list_caption: &'static str,
    /// Column: the row's check box.
    pub col_select: &'static str,
    /// Column: name.
    pub col_name: &'static str,
    /// Column: email.
    pub col_email: &'static str,
    /// Column: when the user was opted out.
    pub col_when: &'static str,
    /// Column: who opted the user out.
    pub col_by: &'static str,
    /// The select-all check box.
    pub select_all: &'static str,
    /// Hint on the select-all check box.
    pub select_all_hint: &'static str,
    /// Accessible name of a row's check box; `{name}` is the user.
    pub select_row: &'static str,
    /// The opt-in button.
    pub opt_in_button: &'static str,
    /// Hint on the opt-in button.
    pub opt_in_hint: &'static str,
    /// The list's empty state.
    pub list_empty: &'static str,
    /// An actor that is a service key; `{id}` is the key's id.
    pub actor_key: &'static str,
    /// The server itself as an actor (seeding, imports).
    pub actor_system: &'static str,
    /// Heading of the note on running apps.
    pub delay_heading: &'static str,
    /// The note on running apps.
    pub delay_note: &'static str,
    /// Accessible name of the outcome message.
    pub message_label: &'static str,
    /// Outcome: one user opted out; `{names}`.
    pub done_out_one: &'static str,
    /// Outcome: several users opted out; `{names}`.
    pub done_out_many: &'static str,
    /// Outcome: one user opted in; `{names}`.
    pub done_in_one: &'static str,
    /// Outcome: several users opted in; `{names}`.
    pub done_in_many: &'static str,
    /// "and" in a list of names.
    pub and: &'static str,
    /// The tail of a cut-short list of names; `{n}` is how many are left out.
    pub and_more: &'static str,
    /// Outcome: the opt-out form was sent without a user.
    pub err_pick_user: &'static str,
    /// Outcome: the opt-in form was sent without a checked row.
    pub err_pick_rows: &'static str,
    /// Outcome: a user is not in the directory.
    pub err_unknown_user: &'static str,
    /// Outcome: the change could not be saved.
    pub err_failed: &'static str,
    /// 401 page: title.
    pub signed_out_title: &'static str,
    /// 401 page: what happened.
    pub signed_out_body: &'static str,
    /// 401 page: how to get a link; the command follows.
    pub signed_out_how: &'static str,
    /// 401 page: stands for the reader's user id in the command.
    pub user_id_placeholder: &'static str,
    /// 403 page: title.
    pub forbidden_title: &'static str,
    /// 403 page: what happened.
    pub forbidden_body: &'static str,
    /// 403 page for a form without this session's CSRF token: title.
    pub stale_form_title: &'static str,
    /// 403 page for a form without this session's CSRF token: what to do.
    pub stale_form_body: &'static str,
    /// 400 page: title.
    pub bad_request_title: &'static str,
    /// 400 page: what to do.
    pub bad_request_body: &'static str,
    /// 503 page: title.
    pub unavailable_title: &'static str,
    /// 503 page: what to do.
    pub unavailable_body: &'static str,
    /// Link back to the page from an error page.
    pub back_to_page: &'static str,
    /// Label of the search box over the opted-out table.
    pub list_search_label: &'static str,
    /// Hint under that search box.
    pub list_search_hint: &'static str,
    /// The button that searches the table.
    pub list_search_button: &'static str,
    /// The link that clears the table's search.
    pub list_search_clear: &'static str,
    /// Above the table: `{page}`, rows `{from}` to `{to}` of `{total}`.
    pub list_position: &'static str,
    /// The table's state when the search matches nobody.
    pub list_no_match: &'static str,
    /// Accessible name of the table's page links.
    pub pager_label: &'static str,
    /// Link to the next page of a list.
    pub next_page: &'static str,
    /// Link back to the first page of a list.
    pub first_page: &'static str,
    /// After the name of a deactivated user.
    pub inactive_mark: &'static str,
    /// An operator at the command line; `{name}` is who.
    pub actor_operator: &'static str,
    /// Heading of the audit section.
    pub audit_heading: &'static str,
    /// Help on the audit section.
    pub audit_help: &'static str,
    /// The audit table's caption.
    pub audit_caption: &'static str,
    /// Audit column: when.
    pub audit_col_when: &'static str,
    /// Audit column: what was done.
    pub audit_col_what: &'static str,
    /// Audit column: the user it was done to.
    pub audit_col_user: &'static str,
    /// Audit column: who did it.
    pub audit_col_by: &'static str,
    /// Audit column: through what.
    pub audit_col_via: &'static str,
    /// Label of the audit filter box.
    pub audit_filter_label: &'static str,
    /// Hint under the audit filter box.
    pub audit_filter_hint: &'static str,
    /// The audit filter button.
    pub audit_filter_button: &'static str,
    /// The link that clears the audit filter.
    pub audit_show_all: &'static str,
    /// The audit table's empty state.
    pub audit_empty: &'static str,
    /// Link to older audit entries.
    pub audit_older: &'static str,
    /// Link back to the newest audit entries.
    pub audit_newest: &'static str,
    /// Through the settings page.
    pub via_page: &'static str,
    /// Through the API.
    pub via_api: &'static str,
    /// Through the command line.
    pub via_cli: &'static str,
    /// Through directory sync.
    pub via_scim: &'static str,
    /// By the server on its own.
    pub via_system: &'static str,
    /// Through something not recorded (older entries).
    pub via_unknown: &'static str,
    /// Action: opted out.
    pub act_opt_out: &'static str,
    /// Action: opted in.
    pub act_opt_in: &'static str,
    /// Action: added to the directory.
    pub act_user_create: &'static str,
    /// Action: directory record changed.
    pub act_user_update: &'static str,
    /// Action: deactivated.
    pub act_user_deactivate: &'static str,
    /// Action: reactivated.
    pub act_user_activate: &'static str,
    /// Action: removed from the directory.
    pub act_user_remove: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_over_the_header() {
        assert_eq!(negotiate(Some("sv"), Some("en")), (Lang::Sv, true));
        assert_eq!(negotiate(Some("en"), Some("sv")), (Lang::En, true));
        assert_eq!(negotiate(Some("de"), Some("sv")), (Lang::Sv, false));
        assert_eq!(negotiate(None, None), (Lang::En, false));
    }

    #[test]
    fn the_header_is_read_in_q_order() {
        let pick = |h| negotiate(None, Some(h)).0;
        assert_eq!(pick("sv-SE,sv;q=0.9,en;q=0.8"), Lang::Sv);
        assert_eq!(pick("de, en;q=0.5, sv;q=0.7"), Lang::Sv);
        assert_eq!(pick("en;q=0.4, sv;q=0.4"), Lang::En);
        assert_eq!(pick("fr, de;q=0.9"), Lang::En);
        assert_eq!(pick("sv;q=0, en;q=0.1"), Lang::En);
        assert_eq!(pick("sv;q=banana, en;q=0.1"), Lang::En);
    }

    #[test]
    fn names_are_joined_naturally() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_names(&EN, &names(&["Bob"]), 1), "Bob");
        assert_eq!(join_names(&EN, &names(&["Bob", "Eve"]), 2), "Bob and Eve");
        assert_eq!(join_names(&SV, &names(&["A", "B", "C"]), 3), "A, B och C");
        assert_eq!(
            join_names(&EN, &names(&["A", "B", "C"]), 7),
            "A, B, C and 4 more"
        );
    }
}
