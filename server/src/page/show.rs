//! `GET` of the page: the drop-down of tracked users (searchable, bounded),
//! the table of opted-out users, and the outcome of the last change.

use std::collections::HashMap;

use askama::Template as _;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::flash::{self, Flash};
use super::refusal::Refusal;
use super::view::{actor_label, Account, Candidate, Chrome, FlashView, Row, SettingsPage};
use super::{admin, page_path, Intent, Language};
use crate::AppState;
use usage_validator::model::{OptOutEntry, UserQuery};
use usage_validator::registry::MAX_TEXT_LEN;

/// Most users the drop-down lists; a search narrows the rest down.
pub const CANDIDATE_LIMIT: u32 = 200;
/// Most rows the table shows, newest first.
pub const ROW_LIMIT: usize = 1000;
/// Most distinct admins whose names are looked up for the "by" column.
const ACTOR_LOOKUPS: usize = 50;

/// Query of the page.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// `en` or `sv`; wins over `Accept-Language`.
    lang: Option<String>,
    /// Search text for the drop-down.
    q: Option<String>,
}

/// The page.
pub async fn page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let language = Language::of(query.lang.as_deref(), &headers);
    let (admin, session) = match admin(&state, &headers, &org, Intent::View).await {
        Ok(found) => found,
        Err(refusal) => return refusal.page(language, &org),
    };
    let t = language.strings();
    let search = clip(query.q.as_deref().unwrap_or("").trim(), MAX_TEXT_LEN).to_owned();
    let store = state.registry.store();
    let wanted = UserQuery {
        query: (!search.is_empty()).then(|| search.clone()),
        opted_out: Some(false),
        limit: CANDIDATE_LIMIT,
        cursor: None,
    };
    let (tracked, opted_out) = tokio::join!(store.list_users(&org, &wanted), store.opt_outs(&org));
    let (tracked, opted_out) = match (tracked, opted_out) {
        (Ok(tracked), Ok(opted_out)) => (tracked, opted_out),
        (Err(err), _) | (_, Err(err)) => {
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

    let total = opted_out.len();
    let shown: Vec<OptOutEntry> = opted_out.into_iter().take(ROW_LIMIT).collect();
    let names = actor_names(&state, &org, &shown).await;
    let rows: Vec<Row> = shown
        .into_iter()
        .map(|entry| {
            let by = actor_label(t, &entry.opted_out_by, |id| names.get(id).cloned());
            Row::new(t, entry, by)
        })
        .collect();
    let list_note = (total > rows.len()).then(|| {
        t.list_truncated
            .replace("{shown}", &rows.len().to_string())
            .replace("{total}", &total.to_string())
    });

    let flash = Flash::take(&state, &headers, &admin.id).map(|flash| FlashView {
        text: flash.message(t),
        success: flash.is_success(),
    });
    let path = page_path(&org);
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
        rows,
        list_note,
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
        if let Ok(Some(user)) = state.registry.store().user(org, id).await {
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
