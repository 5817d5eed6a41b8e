//! The page's forms: opt users out or back in, then redirect to the page with
//! the outcome in a flash cookie (post-redirect-get).

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::flash::{Flash, Outcome};
use super::listing::View;
use super::{admin, page_path, Intent, Language};
use crate::AppState;
use usage_validator::model::{Actor, Author, User, Via};
use usage_validator::Error;

/// A posted form: `csrf`, `lang`, `view` (where on the page it was sent
/// from) and any number of `user` fields, in order.
type Fields = Vec<(String, String)>;

/// `POST .../opt-out`.
pub async fn opt_out(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Fields>, FormRejection>,
) -> Response {
    change(&state, &org, &headers, form, true).await
}

/// `POST .../opt-in`.
pub async fn opt_in(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Fields>, FormRejection>,
) -> Response {
    change(&state, &org, &headers, form, false).await
}

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

async fn change(
    state: &AppState,
    org: &str,
    headers: &HeaderMap,
    form: Result<Form<Fields>, FormRejection>,
    opting_out: bool,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let language = Language::of(field(&fields, "lang"), headers);
    let intent = Intent::Change {
        csrf: field(&fields, "csrf"),
    };
    let (admin, _session) = match admin(state, headers, org, intent).await {
        Ok(found) => found,
        Err(refusal) => return refusal.page(language, org),
    };
    let mut users: Vec<String> = Vec::new();
    for (_, user) in fields.iter().filter(|(key, _)| key == "user") {
        if !user.is_empty() && !users.contains(user) {
            users.push(user.clone());
        }
    }

    let flash = if users.is_empty() {
        let outcome = if opting_out {
            Outcome::NoUserPicked
        } else {
            Outcome::NoRowPicked
        };
        Flash::new(&admin.id, outcome)
    } else {
        apply(state, org, &admin, users, opting_out).await
    };

    let path = page_path(org);
    // Back to the same page of the table and the audit section; the view is
    // parsed and written again, so nothing but its own fields reaches the
    // URL. The drop-down's search has done its job and is cleared.
    let view = View {
        q: None,
        ..View::from_field(field(&fields, "view"))
    };
    let mut response = Redirect::to(&view.href(&path, language)).into_response();
    if let Some(cookie) = flash.cookie(state, &path) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Makes the change and says how it went.
async fn apply(
    state: &AppState,
    org: &str,
    admin: &User,
    users: Vec<String>,
    opting_out: bool,
) -> Flash {
    let author = Author::new(Actor::User(admin.id.clone()), Via::Page).named(admin.name.clone());
    let result = if opting_out {
        state.registry.opt_out(org, &users, author).await
    } else {
        state.registry.opt_in(org, &users, author).await
    };
    match result {
        Ok(_) => {
            let outcome = if opting_out {
                Outcome::OptedOut
            } else {
                Outcome::OptedIn
            };
            Flash::new(&admin.id, outcome).about(display_names(state, org, &users).await)
        }
        Err(Error::UnknownUsers(_) | Error::InvalidId(_)) => {
            Flash::new(&admin.id, Outcome::UnknownUser)
        }
        Err(err) => {
            tracing::warn!(error = %err, org, "settings page change failed");
            Flash::new(&admin.id, Outcome::Failed)
        }
    }
}

/// Names for the message: the first few looked up, the rest only counted.
async fn display_names(state: &AppState, org: &str, users: &[String]) -> Vec<String> {
    let mut names = Vec::with_capacity(users.len());
    for (i, id) in users.iter().enumerate() {
        let name = if i < super::flash::NAMES_SHOWN {
            match state.registry.store().user_with_status(org, id).await {
                Ok(Some((user, _))) => user.name,
                _ => id.clone(),
            }
        } else {
            id.clone()
        };
        names.push(name);
    }
    names
}
