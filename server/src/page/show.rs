//! `GET` of the page: the drop-down of tracked users (searchable, bounded),
//! the table of opted-out users (searchable, paged by cursor), the latest
//! audit entries (filtered by user, paged), and the outcome of the last change.

use std::collections::HashMap;

use askama::Template as _;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::flash::{self, Flash};
use super::listing::{View, AUDIT_PER_PAGE, ROWS_PER_PAGE};
use super::refusal::Refusal;
use super::view::{
    actor_label, Account, AuditRow, AuditSection, Candidate, Chrome, FlashView, Pager, Row,
    SettingsPage,
};
use super::{admin, page_path, Intent, Language};
use crate::AppState;
use usage_validator::model::{AuditQuery, OptOutEntry, OptOutQuery, UserQuery};
use usage_validator::registry::{check_id, MAX_TEXT_LEN};

/// Most users the drop-down lists; a search narrows the rest down.
pub const CANDIDATE_LIMIT: u32 = 200;
/// Most distinct admins whose names are looked up for the "by" column.
const ACTOR_LOOKUPS: usize = 50;

/// The language part of the page's query.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    /// `en` or `sv`; wins over `Accept-Language`.
    lang: Option<String>,
}

/// The page.
pub async fn page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    lang: Result<Query<LangQuery>, QueryRejection>,
    view: Result<Query<View>, QueryRejection>,
) -> Response {
    let lang = lang.map(|q| q.0).unwrap_or_default();
    let language = Language::of(lang.lang.as_deref(), &headers);
    let (admin, session) = match admin(&state, &headers, &org, Intent::View).await {
        Ok(found) => found,
        Err(refusal) => return refusal.page(language, &org),
    };
    let t = language.strings();
    let mut view = view.map(|q| q.0).unwrap_or_default();
    let search = clip(view.q.as_deref().unwrap_or("").trim(), MAX_TEXT_LEN).to_owned();
    let list_search = clip(view.list_q.as_deref().unwrap_or("").trim(), MAX_TEXT_LEN).to_owned();
    // An audit filter that is no user id matches nothing; say so by showing none.
    let audit_user = view
        .audit_user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| clip(u, MAX_TEXT_LEN).to_owned());
    view.audit_user = audit_user.clone();
    view.list_q = (!list_search.is_empty()).then(|| list_search.clone());
    view.q = (!search.is_empty()).then(|| search.clone());

    let store = state.registry.store();
    let wanted = UserQuery {
        query: view.q.clone(),
        opted_out: Some(false),
        active: Some(true),
        limit: CANDIDATE_LIMIT,
        cursor: None,
    };
    let listed = OptOutQuery {
        query: view.list_q.clone(),
        limit: ROWS_PER_PAGE,
        cursor: view.cursor.clone(),
    };
    let audited = AuditQuery {
        target: audit_user.clone(),
        limit: AUDIT_PER_PAGE,
        cursor: view.audit_cursor.clone(),
    };
    let audit_user_valid = audit_user.as_deref().is_none_or(|u| check_id(u).is_ok());
    let (tracked, opted_out, audit, everyone) = tokio::join!(
        store.list_users(&org, &wanted),
        store.opt_outs(&org, &listed),
        async {
            if audit_user_valid {
                store.audit(&org, &audited).await.map(Some)
            } else {
                Ok(None)
            }
        },
        // Whether anyone is opted out, when a search may hide them all.
        async {
            if view.list_q.is_some() {
                let any = OptOutQuery {
                    limit: 1,
                    ..Default::default()
                };
                store.opt_outs(&org, &any).await.map(|p| Some(p.total > 0))
            } else {
                Ok(None)
            }
        },
    );
    let (tracked, opted_out, audit, everyone) = match (tracked, opted_out, audit, everyone) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
        (Err(err), ..) | (_, Err(err), ..) | (_, _, Err(err), _) | (.., Err(err)) => {
            // A cursor from another list or an edited URL: start over.
            if matches!(err, usage_validator::Error::InvalidInput(_)) {
                let first = view.first_page().audit_at(None);
                return axum::response::Redirect::to(&first.href(&page_path(&org), language))
                    .into_response();
            }
            tracing::error!(error = %err, org, "settings page could not read the store");
            return Refusal::Unavailable.page(language, &org);
        }
    };

    let more = tracked.next_cursor.is_some();
    let candidates: Vec<Candidate> = tracked.users.into_iter().map(Candidate::from).collect();
    let count = candidates.len().to_string();
    let candidates_note = match (candidates.len(), more, search.is_empty()) {
        (0, _, false) => t.candidates_none.to_owned(),
        (0, _, true) => t.candidates_nobody.to_owned(),
        (_, true, _) => t.candidates_some.replace("{n}", &count),
        (1, false, _) => t.candidates_one.to_owned(),
        (_, false, _) => t.candidates_all.replace("{n}", &count),
    };

    let anyone_opted_out = everyone.unwrap_or(opted_out.total > 0);
    let path = page_path(&org);
    let page_number = view.page_number();
    let from = (page_number - 1) * u64::from(ROWS_PER_PAGE) + 1;
    let shown = opted_out.opt_outs.len() as u64;
    let list_position = if shown == 0 {
        t.list_no_match.to_owned()
    } else {
        t.list_position
            .replace("{page}", &page_number.to_string())
            .replace("{from}", &from.to_string())
            .replace("{to}", &(from + shown - 1).to_string())
            .replace("{total}", &opted_out.total.to_string())
    };
    let pager = Pager {
        first: view
            .cursor
            .is_some()
            .then(|| view.first_page().href(&path, language)),
        next: opted_out
            .next_cursor
            .map(|next| view.next_page(next).href(&path, language)),
    };
    let names = actor_names(&state, &org, &opted_out.opt_outs).await;
    let rows: Vec<Row> = opted_out
        .opt_outs
        .into_iter()
        .map(|entry| {
            let by = actor_label(t, &entry.opted_out_by, |id| names.get(id).cloned());
            Row::new(t, entry, by)
        })
        .collect();

    let audit = audit_section(&state, &org, t, &view, audit, &path, language).await;
    let flash = Flash::take(&state, &headers, &admin.id).map(|flash| FlashView {
        text: flash.message(t),
        success: flash.is_success(),
    });
    let page = SettingsPage {
        chrome: Chrome::new(
            language,
            path.clone(),
            Some(Account {
                name: admin.name,
                csrf: session.csrf.clone(),
            }),
        ),
        js_url: super::assets::js_url(),
        lang_param: language.param(),
        csrf: session.csrf,
        query: search,
        search_url: format!("/api/orgs/{org}/users"),
        limit: CANDIDATE_LIMIT,
        candidates,
        candidates_note,
        view: view.to_query(),
        list_query: list_search,
        anyone_opted_out,
        rows,
        list_position,
        pager,
        audit,
        flash,
    };
    let html = match page.render() {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(error = %err, "settings page failed to render");
            return Refusal::Unavailable.page(language, &org);
        }
    };
    let mut response = Html(html).into_response();
    // The message is shown once: a reload no longer repeats it.
    if flash::present(&headers) {
        if let Some(clear) = flash::clear_cookie(&path) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
    response
}

/// The audit section: the entries of `page` in words, with their targets'
/// names and links to the newest and older entries.
async fn audit_section(
    state: &AppState,
    org: &str,
    t: &'static super::i18n::Strings,
    view: &View,
    page: Option<usage_validator::model::AuditPage>,
    path: &str,
    language: Language,
) -> AuditSection {
    let (entries, next) = page.map_or((Vec::new(), None), |p| (p.entries, p.next_cursor));
    let mut targets: Vec<&str> = entries.iter().map(|e| e.target.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();
    let mut names = HashMap::new();
    for id in targets {
        if let Ok(Some((user, _))) = state.registry.store().user_with_status(org, id).await {
            names.insert(user.id, user.name);
        }
    }
    let rows = entries
        .iter()
        .map(|e| AuditRow::new(t, e, names.get(&e.target).map(String::as_str)))
        .collect();
    AuditSection {
        user: view.audit_user.clone().unwrap_or_default(),
        clear: view.audit_user.as_ref().map(|_| {
            View {
                audit_user: None,
                audit_cursor: None,
                ..view.clone()
            }
            .href(path, language)
        }),
        rows,
        pager: Pager {
            first: view
                .audit_cursor
                .is_some()
                .then(|| view.audit_at(None).href(path, language)),
            next: next.map(|c| view.audit_at(Some(c)).href(path, language)),
        },
    }
}

/// Display names of the admins who opted out the users in `entries`.
async fn actor_names(
    state: &AppState,
    org: &str,
    entries: &[OptOutEntry],
) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let mut ids: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.opted_out_by.strip_prefix("user:"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids.into_iter().take(ACTOR_LOOKUPS) {
        if let Ok(Some((user, _))) = state.registry.store().user_with_status(org, id).await {
            names.insert(user.id, user.name);
        }
    }
    names
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("åäö", 3), "å");
        assert_eq!(clip("abc", 10), "abc");
    }
}
