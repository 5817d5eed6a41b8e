//! Signing keys, service keys and one-time nonces.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use usage_validator::model::{Scope, ServiceKeyInfo};
use usage_validator::store::Store;
use usage_validator::token::SigningKey;

fn signing_key(kid: &str) -> SigningKey {
    SigningKey::generate(kid).expect("valid kid")
}

pub async fn case_signing_keys_one_current(store: Arc<dyn Store>) {
    assert!(store.signing_keys().await.expect("keys").is_empty());
    let k1 = signing_key("k1");
    store.add_signing_key(&k1, true).await.expect("add k1");
    store
        .add_signing_key(&signing_key("k2"), false)
        .await
        .expect("add k2");
    store
        .add_signing_key(&signing_key("k3"), true)
        .await
        .expect("add k3");

    let keys = store.signing_keys().await.expect("keys");
    let listed: Vec<(&str, bool)> = keys.iter().map(|k| (k.key.kid(), k.current)).collect();
    assert_eq!(
        listed,
        [("k1", false), ("k2", false), ("k3", true)],
        "oldest first"
    );
    assert_eq!(keys[0].key.secret(), k1.secret(), "the secret round-trips");

    assert!(
        !store.remove_signing_key("k3").await.expect("remove"),
        "current stays"
    );
    assert!(store.remove_signing_key("k1").await.expect("remove"));
    assert!(
        !store.remove_signing_key("k1").await.expect("remove"),
        "already gone"
    );
    assert!(!store.remove_signing_key("nope").await.expect("remove"));
    let kids: Vec<String> = store
        .signing_keys()
        .await
        .expect("keys")
        .iter()
        .map(|k| k.key.kid().to_owned())
        .collect();
    assert_eq!(kids, ["k2", "k3"]);

    // Rotations racing each other still leave exactly one current key.
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .add_signing_key(&signing_key(&format!("r{i}")), true)
                    .await
                    .expect("rotate");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let keys = store.signing_keys().await.expect("keys");
    assert_eq!(keys.len(), 8);
    assert_eq!(keys.iter().filter(|k| k.current).count(), 1);
}

fn service_key(id: &str, org: &str) -> ServiceKeyInfo {
    ServiceKeyInfo {
        id: id.into(),
        org: org.into(),
        label: format!("label of {id}"),
        scopes: Scope::ALL.to_vec(),
        created_at: OffsetDateTime::now_utc(),
        expires_at: None,
        last_used_at: None,
        revoked: false,
    }
}

pub async fn case_service_keys_lookup_and_revoke(store: Arc<dyn Store>) {
    store.ensure_org("acme").await.expect("org");
    store.ensure_org("beta").await.expect("org");
    let keys = [
        (service_key("ka", "acme"), [1u8; 32]),
        (service_key("kb", "acme"), [2u8; 32]),
        (service_key("kc", "beta"), [3u8; 32]),
    ];
    for (info, hash) in &keys {
        store.add_service_key(info, hash).await.expect("add");
    }
    let found = store
        .service_key_by_hash(&[2u8; 32])
        .await
        .expect("lookup")
        .expect("kb found");
    assert_eq!(found.id, "kb");
    assert_eq!(found.org, "acme");
    assert_eq!(found.label, "label of kb");
    assert!(!found.revoked);
    assert_eq!(
        found.created_at.unix_timestamp_nanos() / 1_000_000,
        keys[1].0.created_at.unix_timestamp_nanos() / 1_000_000,
        "creation time kept to the millisecond"
    );
    assert!(store
        .service_key_by_hash(&[9u8; 32])
        .await
        .expect("lookup")
        .is_none());

    assert!(
        !store
            .revoke_service_key("beta", "kb")
            .await
            .expect("revoke"),
        "other org"
    );
    assert!(store
        .revoke_service_key("acme", "kb")
        .await
        .expect("revoke"));
    assert!(
        !store
            .revoke_service_key("acme", "kb")
            .await
            .expect("revoke"),
        "once"
    );
    assert!(store
        .service_key_by_hash(&[2u8; 32])
        .await
        .expect("lookup")
        .is_none());

    let listed: Vec<(String, bool)> = store
        .service_keys("acme")
        .await
        .expect("list")
        .into_iter()
        .map(|k| (k.id, k.revoked))
        .collect();
    assert_eq!(
        listed,
        [("ka".to_string(), false), ("kb".to_string(), true)]
    );
    assert_eq!(store.service_keys("beta").await.expect("list").len(), 1);

    let same_hash = store
        .add_service_key(&service_key("kd", "acme"), &[1u8; 32])
        .await;
    assert!(same_hash.is_err(), "a secret hash is unique");
}

pub async fn case_service_keys_keep_scopes_expiry_and_last_use(store: Arc<dyn Store>) {
    store.ensure_org("acme").await.expect("org");
    let expires = OffsetDateTime::now_utc() + Duration::hours(1);
    let tokens_only = ServiceKeyInfo {
        scopes: vec![Scope::Tokens],
        expires_at: Some(expires),
        ..service_key("kt", "acme")
    };
    let admin_only = ServiceKeyInfo {
        scopes: vec![Scope::Admin],
        ..service_key("ka", "acme")
    };
    store
        .add_service_key(&tokens_only, &[4u8; 32])
        .await
        .expect("add");
    store
        .add_service_key(&admin_only, &[5u8; 32])
        .await
        .expect("add");

    let found = store
        .service_key_by_hash(&[4u8; 32])
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.scopes, [Scope::Tokens]);
    assert_eq!(
        found.expires_at.map(|at| at.unix_timestamp()),
        Some(expires.unix_timestamp())
    );
    assert_eq!(found.last_used_at, None, "never used yet");
    let found = store
        .service_key_by_hash(&[5u8; 32])
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.scopes, [Scope::Admin]);
    assert_eq!(found.expires_at, None);

    // The last use moves forward only: an older time (a slower instance)
    // does not overwrite a newer one.
    let used = OffsetDateTime::now_utc();
    store.touch_service_key("kt", used).await.expect("touch");
    store
        .touch_service_key("kt", used - Duration::minutes(5))
        .await
        .expect("touch older");
    let listed = store.service_keys("acme").await.expect("list");
    let kt = listed.iter().find(|k| k.id == "kt").expect("kt listed");
    assert_eq!(
        kt.last_used_at.map(|at| at.unix_timestamp()),
        Some(used.unix_timestamp())
    );
    let ka = listed.iter().find(|k| k.id == "ka").expect("ka listed");
    assert_eq!(ka.last_used_at, None, "touching one key leaves the others");
}

pub async fn case_nonce_is_consumed_once(store: Arc<dyn Store>) {
    let later = OffsetDateTime::now_utc() + Duration::minutes(10);
    assert!(store.consume_nonce("n1", later).await.expect("first"));
    assert!(!store.consume_nonce("n1", later).await.expect("second"));
    assert!(store.consume_nonce("n2", later).await.expect("another"));

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.consume_nonce("raced", later).await.expect("consume") })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.expect("task"));
    }
    assert_eq!(winners, 1, "exactly one racer uses the nonce");
}
