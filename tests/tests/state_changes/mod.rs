//! The table of state-changing routes and forms, who each one lets in, and
//! what every other caller must get instead.

mod caller;
mod forms;
mod table;

pub use caller::{refusal_shape, send, Caller};
pub use forms::post_forms;
pub use table::table;

use reqwest::{Method, StatusCode};
use serde_json::Value;

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
