//! The registry's in-memory snapshot over each store.

use std::collections::HashSet;
use std::sync::Arc;

use usage_validator::model::{Actor, Author};
use usage_validator::store::Store;
use usage_validator::Registry;

use crate::fixtures::{admin, ids, seed};

async fn assert_snapshot_equals_store(
    registry: &Registry,
    store: &dyn Store,
    users: &[(&str, &str)],
) {
    let state = store.opt_out_state().await.expect("state");
    assert_eq!(registry.revision(), state.rev);
    assert_eq!(registry.opted_out_count(), state.opted_out.len());
    let opted: HashSet<(String, String)> = state.opted_out.into_iter().collect();
    for (org, user) in users {
        assert_eq!(
            registry.is_opted_out(org, user),
            opted.contains(&(org.to_string(), user.to_string())),
            "{org}/{user}"
        );
    }
}

const REGISTRY_USERS: [(&str, &str); 6] = [
    ("acme", "bob"),
    ("acme", "carol"),
    ("acme", "dave"),
    ("beta", "bob"),
    ("beta", "erin"),
    ("beta", "frank"),
];

async fn seed_registry_users(store: &dyn Store) {
    seed(store, "acme", &["bob", "carol", "dave"]).await;
    seed(store, "beta", &["bob", "erin", "frank"]).await;
}

pub async fn case_registry_snapshot_equals_store(store: Arc<dyn Store>) {
    seed_registry_users(store.as_ref()).await;
    store
        .set_opted_out("beta", &ids(&["frank"]), true, &Author::system())
        .await
        .expect("before the registry opens");
    let registry = Registry::open(store.clone()).await.expect("registry");
    assert_snapshot_equals_store(&registry, store.as_ref(), &REGISTRY_USERS).await;

    let summary = registry
        .opt_out("acme", &ids(&["bob", "carol"]), &admin())
        .await
        .expect("opt out");
    assert_eq!(summary.rev, 3);
    assert_snapshot_equals_store(&registry, store.as_ref(), &REGISTRY_USERS).await;
    registry
        .opt_in("acme", &ids(&["carol"]), &admin())
        .await
        .expect("opt in");
    assert_snapshot_equals_store(&registry, store.as_ref(), &REGISTRY_USERS).await;

    // Written behind the registry's back, as another instance would.
    store
        .set_opted_out("beta", &ids(&["bob", "erin"]), true, &Author::system())
        .await
        .expect("direct write");
    store
        .set_opted_out("beta", &ids(&["frank"]), false, &Author::system())
        .await
        .expect("direct write");
    assert_eq!(registry.catch_up().await.expect("catch up"), 7);
    assert_snapshot_equals_store(&registry, store.as_ref(), &REGISTRY_USERS).await;
    let reopened = Registry::open(store.clone()).await.expect("reopen");
    assert_snapshot_equals_store(&reopened, store.as_ref(), &REGISTRY_USERS).await;
}

pub async fn case_two_registries_converge(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    seed_registry_users(first.as_ref()).await;
    let one = Arc::new(Registry::open(first.clone()).await.expect("registry one"));
    let two = Arc::new(Registry::open(second.clone()).await.expect("registry two"));
    let tasks: Vec<_> = [one.clone(), two.clone()]
        .into_iter()
        .enumerate()
        .map(|(i, registry)| {
            tokio::spawn(async move {
                for round in 0..10 {
                    let (org, user) = REGISTRY_USERS[(i + round) % REGISTRY_USERS.len()];
                    let users = ids(&[user]);
                    if (i + round) % 3 == 0 {
                        registry.opt_in(org, &users, &Actor::System).await
                    } else {
                        registry.opt_out(org, &users, &Actor::System).await
                    }
                    .expect("change through registry");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    one.catch_up().await.expect("catch up one");
    two.catch_up().await.expect("catch up two");
    assert_snapshot_equals_store(&one, first.as_ref(), &REGISTRY_USERS).await;
    assert_snapshot_equals_store(&two, second.as_ref(), &REGISTRY_USERS).await;
}
