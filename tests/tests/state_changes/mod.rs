//! The table of state-changing routes and forms, who each one lets in, and
//! what every other caller must get instead.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The scope a service-key route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Issue status tokens, send server events.
    Tokens,
    /// Everything under `/api/orgs/{org}/`, admin links, SCIM.
    Admin,
}

/// Who a route lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// A status token. Browsers may send batches from any origin (CORS): the
    /// token, not the origin, authenticates, so a cookie opens nothing here.
    StatusToken,
    /// A service key of the org in the path or body, holding the scope; a
    /// cookie opens nothing.
    Key(Scope),
    /// SCIM: an `admin` key, whose own org is the one provisioned.
    Scim,
    /// The org's product admin by cookie with the CSRF token from this
    /// origin, or an `admin` key of the org.
    AdminOrKey,
    /// A form of the settings page: the admin's cookie and the session's
    /// token in the form's `csrf` field; refusals are HTML pages.
    PageForm,
    /// The page's sign-out form: ends the session of its own cookie, with
    /// that session's token; without a session there is nothing to end.
    SignOut,
    /// `usage-server demo` only, open by design: stands in for the product
    /// back end that issues status tokens at login, for seeded users only.
    DemoOpen,
}

/// The kinds of caller the test sends every route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No credential at all.
    Nobody,
    /// A bearer value that is no credential at all.
    Unauthenticated,
    /// A valid status token, which is no key.
    StatusToken,
    /// A full key of another org.
    OtherOrgKey,
    /// A key of the org with the `tokens` scope only.
    TokensKey,
    /// A key of the org with the `admin` scope only.
    AdminKey,
    /// The org's admin's cookie without this session's CSRF token, or from
    /// another origin.
    BadCsrf,
    /// A session with its own CSRF token that is not a product admin of the
    /// org: a demoted admin, another org's admin.
    OtherSession,
    /// The org's admin with the CSRF token, from this origin.
    Admin,
}

/// What a caller must get from a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This status, and the org unchanged.
    Unchanged(StatusCode),
    /// The caller may do it; the allowed case is tested once per route.
    Allowed,
}

/// A request body that succeeds for the allowed caller.
#[derive(Debug, Clone)]
pub enum RouteBody {
    /// `application/json`.
    Json(Value),
    /// `application/scim+json`.
    Scim(Value),
    /// A form post; the caller's CSRF token is added as `csrf`.
    Form(Vec<(&'static str, &'static str)>),
    /// No body.
    Empty,
}

/// One state-changing route or form.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    /// The path as `/openapi.json` writes it, or the form's action with `{org}`.
    pub template: &'static str,
    /// Listed in `/openapi.json` (the page's forms and the demo route are not).
    pub documented: bool,
    pub guard: Guard,
    /// The concrete path in org `acme`; `{key_id}` stands for a key to revoke.
    pub path: String,
    pub body: RouteBody,
    /// Whether the allowed request changes what an admin of the org can see.
    pub visible: bool,
}

fn row(
    method: Method,
    template: &'static str,
    guard: Guard,
    path: impl Into<String>,
    body: RouteBody,
) -> Route {
    let documented = !matches!(guard, Guard::PageForm | Guard::SignOut | Guard::DemoOpen);
    Route {
        method,
        template,
        documented,
        guard,
        path: path.into(),
        body,
        visible: true,
    }
}

fn event() -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "name": "report.opened",
        "ts": "2026-11-29T08:00:00Z",
    })
}

fn scim_user(user: &str) -> RouteBody {
    RouteBody::Scim(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user,
        "name": {"givenName": "Scim", "familyName": user},
        "active": true,
    }))
}

const SETTINGS: &str = "/orgs/acme/tools/product-usage/opt-out-settings";

/// Every state-changing route and form. The allowed requests act on users
/// and a key the test prepares: `dora`, `sven`, `sigrid`, opted-out `dave`
/// and `grace`, the key `{key_id}`.
pub fn table() -> Vec<Route> {
    use Method as M;
    let batch = json!({
        "sent_at": "2026-11-29T08:00:01Z",
        "sdk": {"name": "e2e", "version": "1"},
        "events": [event()],
    });
    vec![
        row(
            M::POST,
            "/v1/batch",
            Guard::StatusToken,
            "/v1/batch",
            RouteBody::Json(batch),
        ),
        row(
            M::POST,
            "/v1/server-events",
            Guard::Key(Scope::Tokens),
            "/v1/server-events",
            RouteBody::Json(json!({"org": "acme", "user": "bob", "events": [event()]})),
        ),
        // An unknown user joins the directory at login: the change shows.
        row(
            M::POST,
            "/v1/tokens",
            Guard::Key(Scope::Tokens),
            "/v1/tokens",
            RouteBody::Json(json!({"org": "acme", "user": "tove"})),
        ),
        row(
            M::PUT,
            "/api/orgs/{org}/users/{user}",
            Guard::Key(Scope::Admin),
            "/api/orgs/acme/users/zed",
            RouteBody::Json(json!({"name": "Zed", "email": "", "role": "user"})),
        ),
        row(
            M::DELETE,
            "/api/orgs/{org}/users/{user}",
            Guard::Key(Scope::Admin),
            "/api/orgs/acme/users/dora",
            RouteBody::Empty,
        ),
        row(
            M::POST,
            "/api/orgs/{org}/users",
            Guard::Key(Scope::Admin),
            "/api/orgs/acme/users",
            RouteBody::Json(json!({"users": [{"id": "yan", "name": "Yan"}]})),
        ),
        row(
            M::POST,
            "/api/orgs/{org}/opt-outs",
            Guard::AdminOrKey,
            "/api/orgs/acme/opt-outs",
            RouteBody::Json(json!({"users": ["carol"]})),
        ),
        row(
            M::POST,
            "/api/orgs/{org}/opt-ins",
            Guard::AdminOrKey,
            "/api/orgs/acme/opt-ins",
            RouteBody::Json(json!({"users": ["dave"]})),
        ),
        row(
            M::POST,
            "/api/orgs/{org}/keys",
            Guard::AdminOrKey,
            "/api/orgs/acme/keys",
            RouteBody::Json(json!({"scopes": ["tokens"], "label": "table"})),
        ),
        row(
            M::DELETE,
            "/api/orgs/{org}/keys/{id}",
            Guard::AdminOrKey,
            "/api/orgs/acme/keys/{key_id}",
            RouteBody::Empty,
        ),
        // The audit trail records who was handed a link.
        row(
            M::POST,
            "/api/orgs/{org}/admin-links",
            Guard::Key(Scope::Admin),
            "/api/orgs/acme/admin-links",
            RouteBody::Json(json!({"user": "alice"})),
        ),
        row(
            M::POST,
            "/scim/v2/Users",
            Guard::Scim,
            "/scim/v2/Users",
            scim_user("sam"),
        ),
        row(
            M::PUT,
            "/scim/v2/Users/{id}",
            Guard::Scim,
            "/scim/v2/Users/sven",
            scim_user("sven"),
        ),
        row(
            M::PATCH,
            "/scim/v2/Users/{id}",
            Guard::Scim,
            "/scim/v2/Users/sven",
            RouteBody::Scim(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": false}],
            })),
        ),
        row(
            M::DELETE,
            "/scim/v2/Users/{id}",
            Guard::Scim,
            "/scim/v2/Users/sigrid",
            RouteBody::Empty,
        ),
        row(
            M::POST,
            "/orgs/{org}/tools/product-usage/opt-out-settings/opt-out",
            Guard::PageForm,
            format!("{SETTINGS}/opt-out"),
            RouteBody::Form(vec![("user", "frank"), ("view", "")]),
        ),
        row(
            M::POST,
            "/orgs/{org}/tools/product-usage/opt-out-settings/opt-in",
            Guard::PageForm,
            format!("{SETTINGS}/opt-in"),
            RouteBody::Form(vec![("user", "grace"), ("view", "")]),
        ),
        row(
            M::POST,
            "/signout",
            Guard::SignOut,
            "/signout",
            RouteBody::Form(vec![("lang", "en")]),
        ),
        // Seeded users only, whose token anyone may ask the demo for.
        Route {
            visible: false,
            ..row(
                M::POST,
                "/demo/token",
                Guard::DemoOpen,
                "/demo/token",
                RouteBody::Json(json!({"user": "bob"})),
            )
        },
    ]
}

/// What `kind` must get from `route`.
pub fn expected(route: &Route, kind: Kind) -> Expect {
    use Expect::{Allowed, Unchanged};
    const UNAUTHORIZED: Expect = Unchanged(StatusCode::UNAUTHORIZED);
    const FORBIDDEN: Expect = Unchanged(StatusCode::FORBIDDEN);
    match (route.guard, kind) {
        (Guard::DemoOpen, _) | (_, Kind::Admin) => Allowed,
        (Guard::StatusToken, Kind::StatusToken) => Allowed,
        (Guard::StatusToken, _) => UNAUTHORIZED,

        (Guard::Key(Scope::Tokens), Kind::TokensKey) => Allowed,
        (Guard::Key(Scope::Admin) | Guard::Scim | Guard::AdminOrKey, Kind::AdminKey) => Allowed,
        // SCIM acts on the key's own org: another org's key provisions there,
        // and finds no such user there; this org is untouched either way.
        (Guard::Scim, Kind::OtherOrgKey) if route.method == Method::POST => {
            Unchanged(StatusCode::CREATED)
        }
        (Guard::Scim, Kind::OtherOrgKey) => Unchanged(StatusCode::NOT_FOUND),
        (
            Guard::Key(_) | Guard::Scim | Guard::AdminOrKey,
            Kind::OtherOrgKey | Kind::TokensKey | Kind::AdminKey,
        ) => FORBIDDEN,
        (Guard::Key(_) | Guard::Scim | Guard::AdminOrKey, Kind::Nobody | Kind::Unauthenticated) => {
            UNAUTHORIZED
        }
        (Guard::Key(_) | Guard::Scim | Guard::AdminOrKey, Kind::StatusToken) => UNAUTHORIZED,
        // Key routes take no cookie, whatever it holds.
        (Guard::Key(_) | Guard::Scim, Kind::BadCsrf | Kind::OtherSession) => UNAUTHORIZED,
        (Guard::AdminOrKey | Guard::PageForm, Kind::BadCsrf | Kind::OtherSession) => FORBIDDEN,

        // The page knows sessions only: a bearer is no session.
        (Guard::PageForm, _) => UNAUTHORIZED,
        (Guard::SignOut, Kind::BadCsrf) => FORBIDDEN,
        // Any session may end itself; that touches no other session.
        (Guard::SignOut, Kind::OtherSession) => Allowed,
        // No session: a "signed out" page, and nothing to end.
        (Guard::SignOut, _) => Unchanged(StatusCode::OK),
    }
}

/// A `<form method="post">` of a page: where it posts, and its `csrf` field.
#[derive(Debug)]
pub struct PostForm {
    pub action: String,
    pub csrf: Option<String>,
}

/// The post forms of `html`, read as a browser would submit them.
pub fn post_forms(html: &str) -> Vec<PostForm> {
    let mut forms = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let Some(tag_end) = chunk.find('>') else {
            continue;
        };
        let tag = &chunk[..tag_end];
        let body = chunk.split("</form>").next().unwrap_or(chunk);
        if !attribute(tag, "method").is_some_and(|m| m.eq_ignore_ascii_case("post")) {
            continue;
        }
        let action = attribute(tag, "action").unwrap_or_default();
        let csrf = body
            .split("<input")
            .skip(1)
            .filter_map(|input| input.split('>').next())
            .find(|input| attribute(input, "name").as_deref() == Some("csrf"))
            .and_then(|input| attribute(input, "value"));
        forms.push(PostForm { action, csrf });
    }
    forms
}

/// The unescaped value of `name="..."` in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn forms_are_read_with_their_action_and_token() {
    let html = r#"<form class="search" method="get" action="/x"><input name="q"></form>
        <form method="post" action="&#x2f;signout" class="signout">
        <input type="hidden" name="csrf" value="abc"><input type="hidden" name="lang" value="en"></form>
        <form class="opt-in" method="post" action="/orgs/acme/opt-in"><input name="user"></form>"#;
    let forms = post_forms(html);
    let read: Vec<(&str, Option<&str>)> = forms
        .iter()
        .map(|f| (f.action.as_str(), f.csrf.as_deref()))
        .collect();
    assert_eq!(
        read,
        [("/signout", Some("abc")), ("/orgs/acme/opt-in", None)]
    );
}
