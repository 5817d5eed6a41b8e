//! The product's pages: plain HTML, every value escaped.

use crate::ProductUser;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title></head><body>{body}</body></html>",
        escape(title)
    )
}

/// The product's stand-in login: pick a user.
pub fn sign_in(users: &[ProductUser]) -> String {
    let options: String = users
        .iter()
        .map(|u| {
            format!(
                "<option value=\"{}\">{}</option>",
                escape(u.id),
                escape(u.name)
            )
        })
        .collect();
    page(
        "Reports: sign in",
        &format!(
            "<main><h1>Reports</h1><form method=\"post\" action=\"/login\">\
             <label>User <select name=\"user\">{options}</select></label> \
             <button type=\"submit\">Sign in</button></form></main>"
        ),
    )
}

/// The product for a signed-in user: the menu (with the hand-over entry for
/// admins), the status token its front end logs the SDK in with, and a
/// server-side tracked action.
pub fn app(user: ProductUser, token: &str, opt_out: bool, exported: Option<&str>) -> String {
    let tools = if user.admin {
        "<li>Tools<ul><li>Product Usage<ul><li>\
         <a id=\"opt-out-settings\" href=\"/tools/product-usage/opt-out-settings\">Opt-out settings</a>\
         </li></ul></li></ul></li>"
    } else {
        ""
    };
    let tracked = if opt_out {
        "You are opted out of usage tracking."
    } else {
        "Your usage is tracked."
    };
    let exported = match exported {
        Some("accepted") => "<p id=\"exported\">Exported; the export was tracked.</p>",
        Some(_) => "<p id=\"exported\">Exported; not tracked (you are opted out).</p>",
        None => "",
    };
    page(
        "Reports",
        &format!(
            "<nav><ul><li>Reports</li>{tools}</ul></nav>\
             <main><h1>Reports</h1><p>Signed in as <strong id=\"user\">{name}</strong>. {tracked}</p>\
             <p>The front end logs the usage SDK in with this status token \
             (<code>tracker.login(token)</code>):</p>\
             <pre id=\"token\" data-token=\"{token}\">{token}</pre>\
             <form method=\"post\" action=\"/reports/export\"><button type=\"submit\">Export as CSV</button></form>\
             {exported}\
             <form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form></main>",
            name = escape(user.name),
            token = escape(token),
        ),
    )
}

/// A short message page.
pub fn message(text: &str) -> String {
    page(
        "Reports",
        &format!(
            "<main><p>{}</p><p><a href=\"/\">Back</a></p></main>",
            escape(text)
        ),
    )
}
