//! The audit trail: newest first, paged by cursor, filtered by user, and
//! saying who, through what, and the state before and after.

use std::sync::Arc;

use serde_json::json;
use time::{Duration, OffsetDateTime};
use usage_validator::model::{Actor, AuditEntry, AuditQuery, Author, UserStatus, Via};
use usage_validator::store::Store;

use crate::fixtures::{admin, ids, seed, user};

/// Every entry of `query`'s listing, following cursors to the end.
async fn all_entries(store: &dyn Store, org: &str, mut query: AuditQuery) -> Vec<AuditEntry> {
    let mut seen = Vec::new();
    loop {
        let page = store.audit(org, &query).await.expect("audit page");
        assert!(page.entries.len() <= query.limit as usize);
        assert!(
            page.entries.windows(2).all(|w| w[0].id > w[1].id),
            "newest first"
        );
        seen.extend(page.entries);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return seen,
        }
    }
}

pub async fn case_audit_newest_first_paged_by_cursor(store: Arc<dyn Store>) {
    store.ensure_org("acme").await.expect("org");
    store.ensure_org("beta").await.expect("org");
    for i in 0..7 {
        store
            .record_audit("acme", &admin(), "service_key_create", &format!("k{i}"))
            .await
            .expect("record");
        if i % 3 == 0 {
            store
                .record_audit("beta", &Author::system(), "import", &format!("b{i}"))
                .await
                .expect("record");
        }
    }
    let paged = all_entries(
        store.as_ref(),
        "acme",
        AuditQuery {
            limit: 3,
            ..Default::default()
        },
    )
    .await;
    let targets: Vec<&str> = paged.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["k6", "k5", "k4", "k3", "k2", "k1", "k0"]);
    assert!(paged.iter().all(|e| e.actor == "user:alice"
        && e.via == "page"
        && e.actor_name.as_deref() == Some("Alice Admin")
        && e.action == "service_key_create"));

    let beta = all_entries(
        store.as_ref(),
        "beta",
        AuditQuery {
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    let beta: Vec<(&str, &str, &str)> = beta
        .iter()
        .map(|e| (e.actor.as_str(), e.via.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        beta,
        [
            ("system", "system", "b6"),
            ("system", "system", "b3"),
            ("system", "system", "b0")
        ]
    );
    let newest = &paged[0];
    let now = OffsetDateTime::now_utc();
    assert!(
        (now - newest.at).abs() < Duration::minutes(1),
        "recorded now"
    );

    let foreign = AuditQuery {
        limit: 3,
        cursor: Some("bm90IG91cnM".into()),
        ..Default::default()
    };
    assert!(
        store.audit("acme", &foreign).await.is_err(),
        "a cursor we did not make"
    );
}

pub async fn case_audit_says_who_how_and_before_after(store: Arc<dyn Store>) {
    seed(store.as_ref(), "acme", &["bob", "carol"]).await;
    let key = Author::new(Actor::ServiceKey("sk_1".into()), Via::Api).named("billing backend");
    let operator = Author::new(Actor::Operator("root".into()), Via::Cli).named("root");
    let scim = Author::new(Actor::ServiceKey("sk_2".into()), Via::Scim).named("idp");

    store
        .set_opted_out("acme", &ids(&["bob"]), true, &admin())
        .await
        .expect("opt out");
    let mut renamed = user("bob", "Robert");
    renamed.email = "robert@example.test".into();
    store
        .upsert_users("acme", &[renamed], &operator)
        .await
        .expect("rename");
    store
        .set_user_status("acme", &ids(&["bob"]), UserStatus::Deactivated, &scim)
        .await
        .expect("deactivate");
    store
        .set_opted_out("acme", &ids(&["carol"]), true, &key)
        .await
        .expect("opt out carol");

    let bob = all_entries(
        store.as_ref(),
        "acme",
        AuditQuery {
            target: Some("bob".into()),
            limit: 2,
            ..Default::default()
        },
    )
    .await;
    let summary: Vec<(&str, &str, &str, Option<&str>)> = bob
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.via.as_str(),
                e.actor.as_str(),
                e.actor_name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("user_deactivate", "scim", "key:sk_2", Some("idp")),
            ("user_update", "cli", "operator:root", Some("root")),
            ("opt_out", "page", "user:alice", Some("Alice Admin")),
            ("user_create", "system", "system", None),
        ],
        "only bob's entries, newest first, across pages of two"
    );
    assert_eq!(bob[0].before, Some(json!({"status": "active"})));
    assert_eq!(bob[0].after, Some(json!({"status": "deactivated"})));
    assert_eq!(
        bob[1].before,
        Some(
            json!({"name": "BOB", "email": "bob@example.test", "role": "user", "status": "active"})
        )
    );
    assert_eq!(
        bob[1].after,
        Some(
            json!({"name": "Robert", "email": "robert@example.test", "role": "user", "status": "active"})
        )
    );
    assert_eq!(bob[2].before, Some(json!({"opted_out": false})));
    assert_eq!(bob[2].after, Some(json!({"opted_out": true})));
    assert_eq!(bob[3].before, None, "a new user has no before");
}
