//! The audit trail, newest first.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use usage_validator::model::Actor;
use usage_validator::store::Store;

use crate::fixtures::admin;

pub async fn case_audit_newest_first_with_before(store: Arc<dyn Store>) {
    store.ensure_org("acme").await.expect("org");
    store.ensure_org("beta").await.expect("org");
    for i in 0..7 {
        store
            .record_audit("acme", &admin(), "service_key_create", &format!("k{i}"))
            .await
            .expect("record");
        if i % 3 == 0 {
            store
                .record_audit("beta", &Actor::System, "import", &format!("b{i}"))
                .await
                .expect("record");
        }
    }
    let mut targets = Vec::new();
    let mut before = None;
    loop {
        let page = store.audit("acme", 3, before).await.expect("audit page");
        assert!(page.len() <= 3);
        assert!(page.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        targets.extend(page.iter().map(|e| e.target.clone()));
        assert!(page
            .iter()
            .all(|e| e.actor == "user:alice" && e.action == "service_key_create"));
    }
    assert_eq!(targets, ["k6", "k5", "k4", "k3", "k2", "k1", "k0"]);

    let beta = store.audit("beta", 100, None).await.expect("beta");
    let beta: Vec<(&str, &str)> = beta
        .iter()
        .map(|e| (e.actor.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(beta, [("system", "b6"), ("system", "b3"), ("system", "b0")]);
    let newest = store.audit("acme", 1, None).await.expect("newest");
    let now = OffsetDateTime::now_utc();
    assert!(
        (now - newest[0].at).abs() < Duration::minutes(1),
        "recorded now"
    );
}
