//! The rows: one request per state-changing route and form that succeeds
//! for the caller its guard lets in.

use reqwest::Method;
use serde_json::{json, Value};

use super::{Guard, Route, RouteBody, Scope};

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
