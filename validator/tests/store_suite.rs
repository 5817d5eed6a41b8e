//! One behavioural suite for every registry store: each `case_*` runs on
//! SQLite and on PostgreSQL (skipped locally when `USAGE_TEST_DATABASE_URL`
//! is unset, required in CI).

mod support;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use usage_validator::registry::model::{Actor, Role, ServiceKeyInfo, User, UserQuery};
use usage_validator::store::{OptOutState, Store};
use usage_validator::token::SigningKey;
use usage_validator::{Error, Registry};

macro_rules! store_suite {
    (both: [$($case:ident),* $(,)?], two_instances: [$($pair:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::on_sqlite(super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::on_postgres(super::$case).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $pair() {
                    crate::support::on_two_postgres_instances(super::$pair).await;
                }
            )*
        }
    };
}

store_suite! {
    both: [
        case_orgs_and_upsert_summary,
        case_concurrent_upserts_count_each_user_once,
        case_list_search_filter_and_paging,
        case_bad_cursor_is_refused,
        case_opt_out_and_in_are_idempotent_and_logged,
        case_unknown_users_change_nothing,
        case_revisions_contiguous_under_concurrency,
        case_opt_out_state_agrees_with_change_log,
        case_audit_newest_first_with_before,
        case_signing_keys_one_current,
        case_service_keys_lookup_and_revoke,
        case_nonce_is_consumed_once,
        case_registry_snapshot_equals_store,
    ],
    two_instances: [
        case_two_instances_share_one_contiguous_log,
        case_two_registries_converge,
    ],
}

// ---------------------------------------------------------------- helpers

fn user(id: &str, name: &str) -> User {
    User {
        id: id.into(),
        name: name.into(),
        email: format!("{id}@example.test"),
        role: Role::User,
    }
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn admin() -> Actor {
    Actor::User("alice".into())
}

/// An org `acme` whose directory holds `users` (names are upper-cased ids).
async fn seed(store: &dyn Store, org: &str, users: &[&str]) {
    store.ensure_org(org).await.expect("ensure org");
    let users: Vec<User> = users
        .iter()
        .map(|id| user(id, &id.to_uppercase()))
        .collect();
    store
        .upsert_users(org, &users, &Actor::System)
        .await
        .expect("upsert users");
}

/// The opt-out state a reader of the whole change log arrives at.
async fn replay_log(store: &dyn Store) -> OptOutState {
    let changes = store.changes_since(0, 1_000_000).await.expect("changes");
    let mut opted_out = BTreeSet::new();
    let mut rev = 0;
    for change in changes {
        assert_eq!(change.rev, rev + 1, "the change log has no gaps");
        rev = change.rev;
        if change.opted_out {
            opted_out.insert((change.org, change.user));
        } else {
            opted_out.remove(&(change.org, change.user));
        }
    }
    OptOutState {
        rev,
        opted_out: opted_out.into_iter().collect(),
    }
}

async fn sorted_state(store: &dyn Store) -> OptOutState {
    let mut state = store.opt_out_state().await.expect("opt-out state");
    state.opted_out.sort();
    state
}

async fn all_pages(store: &dyn Store, org: &str, mut query: UserQuery) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let page = store.list_users(org, &query).await.expect("list users");
        assert!(page.users.len() <= query.limit as usize);
        seen.extend(page.users.into_iter().map(|entry| entry.user.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return seen,
        }
    }
}

// ---------------------------------------------------------------- directory

async fn case_orgs_and_upsert_summary(store: Arc<dyn Store>) {
    assert!(!store.org_exists("acme").await.expect("exists"));
    let err = store
        .upsert_users("acme", &[user("bob", "Bob")], &admin())
        .await
        .expect_err("org must exist first");
    assert!(
        matches!(err, Error::UnknownOrg(ref org) if org == "acme"),
        "{err:?}"
    );

    store.ensure_org("acme").await.expect("ensure org");
    store.ensure_org("acme").await.expect("ensure org twice");
    assert!(store.org_exists("acme").await.expect("exists"));
    assert!(!store.org_exists("other").await.expect("exists"));

    let first = [
        user("bob", "Bob"),
        user("carol", "Carol"),
        user("dave", "Dave"),
    ];
    let summary = store
        .upsert_users("acme", &first, &admin())
        .await
        .expect("create");
    assert_eq!(
        (summary.created, summary.updated, summary.unchanged),
        (3, 0, 0)
    );
    let again = store
        .upsert_users("acme", &first, &admin())
        .await
        .expect("repeat");
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));

    let mut carol = user("carol", "Carol Lind");
    carol.role = Role::Admin;
    let mut dave = user("dave", "Dave");
    dave.email = "dave@elsewhere.test".into();
    let mixed = [
        user("bob", "Bob"),
        carol.clone(),
        dave.clone(),
        user("erin", "Erin"),
    ];
    let summary = store
        .upsert_users("acme", &mixed, &admin())
        .await
        .expect("mixed");
    assert_eq!(
        (summary.created, summary.updated, summary.unchanged),
        (1, 2, 1)
    );
    assert_eq!(
        store.user("acme", "carol").await.expect("user"),
        Some(carol)
    );
    assert_eq!(store.user("acme", "dave").await.expect("user"), Some(dave));
    assert_eq!(store.user("acme", "zed").await.expect("user"), None);
    assert_eq!(store.user("other", "bob").await.expect("user"), None);

    // The same id twice in one call: the later record wins, counted as an update.
    let twice = [user("fred", "Fred"), user("fred", "Frederick")];
    let summary = store
        .upsert_users("acme", &twice, &admin())
        .await
        .expect("twice");
    assert_eq!(
        (summary.created, summary.updated, summary.unchanged),
        (1, 1, 0)
    );
    let fred = store
        .user("acme", "fred")
        .await
        .expect("user")
        .expect("fred");
    assert_eq!(fred.name, "Frederick");

    let audit = store.audit("acme", 100, None).await.expect("audit");
    let creates = audit.iter().filter(|e| e.action == "user_create").count();
    let updates = audit.iter().filter(|e| e.action == "user_update").count();
    assert_eq!((creates, updates), (5, 3), "one audit entry per write");
    assert!(audit.iter().all(|e| e.actor == "user:alice"));
}

async fn case_concurrent_upserts_count_each_user_once(store: Arc<dyn Store>) {
    store.ensure_org("acme").await.expect("org");
    let users: Vec<User> = (0..30).map(|i| user(&format!("u{i:02}"), "Same")).collect();
    let users = Arc::new(users);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (store, users) = (store.clone(), users.clone());
            tokio::spawn(async move {
                store
                    .upsert_users("acme", &users, &Actor::System)
                    .await
                    .expect("upsert")
            })
        })
        .collect();
    let mut created = 0;
    let mut unchanged = 0;
    for task in tasks {
        let summary = task.await.expect("task");
        created += summary.created;
        unchanged += summary.unchanged;
        assert_eq!(summary.updated, 0);
    }
    assert_eq!(created, 30, "every user created exactly once");
    assert_eq!(unchanged, 90);
}

async fn case_list_search_filter_and_paging(store: Arc<dyn Store>) {
    store.ensure_org("acme").await.expect("org");
    store.ensure_org("other").await.expect("org");
    let mut users = vec![
        user("u-bob", "bob"),
        user("u-bob2", "Bob"),
        user("alice", "Alice Smith"),
        user("zed", "Zed"),
    ];
    users[3].email = "zed@SMITHS.test".into();
    for i in 0..21 {
        users.push(user(&format!("m{i:02}"), &format!("Member {:02}", 20 - i)));
    }
    store
        .upsert_users("acme", &users, &Actor::System)
        .await
        .expect("users");
    seed(store.as_ref(), "other", &["outsider"]).await;
    store
        .set_opted_out("acme", &ids(&["m03", "zed", "u-bob"]), true, &admin())
        .await
        .expect("opt out");

    // Everyone, by lower-cased name then id, across pages of 4.
    let mut expected: Vec<(String, String)> = users
        .iter()
        .map(|u| (u.name.to_lowercase(), u.id.clone()))
        .collect();
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let query = UserQuery {
        limit: 4,
        ..UserQuery::default()
    };
    assert_eq!(all_pages(store.as_ref(), "acme", query).await, expected);

    // One page holding everything has no cursor.
    let page = store
        .list_users(
            "acme",
            &UserQuery {
                limit: 1000,
                ..UserQuery::default()
            },
        )
        .await
        .expect("one page");
    assert_eq!(page.users.len(), 25);
    assert!(page.next_cursor.is_none());
    let opted: Vec<&str> = page
        .users
        .iter()
        .filter(|e| e.opted_out)
        .map(|e| e.user.id.as_str())
        .collect();
    assert_eq!(
        opted,
        ["u-bob", "m03", "zed"],
        "listing order: bob, member 17, zed"
    );

    // Search: case-insensitive substring of id, name or email.
    let search = |text: &str, limit| UserQuery {
        query: Some(text.into()),
        limit,
        ..UserQuery::default()
    };
    assert_eq!(
        all_pages(store.as_ref(), "acme", search("SMITH", 1)).await,
        ["alice", "zed"]
    );
    assert_eq!(
        all_pages(store.as_ref(), "acme", search("BOB", 10)).await,
        ["u-bob", "u-bob2"]
    );
    assert_eq!(
        all_pages(store.as_ref(), "acme", search("m1", 3))
            .await
            .len(),
        10,
        "ids m10..m19"
    );
    assert!(all_pages(store.as_ref(), "acme", search("outsider", 10))
        .await
        .is_empty());
    assert_eq!(
        all_pages(store.as_ref(), "acme", search("", 100))
            .await
            .len(),
        25,
        "an empty search matches everyone"
    );

    // Filter by opt-out status, alone and with a search.
    let filter = |opted_out, text: Option<&str>| UserQuery {
        query: text.map(str::to_owned),
        opted_out: Some(opted_out),
        limit: 2,
        cursor: None,
    };
    assert_eq!(
        all_pages(store.as_ref(), "acme", filter(true, None)).await,
        ["u-bob", "m03", "zed"]
    );
    assert_eq!(
        all_pages(store.as_ref(), "acme", filter(false, None))
            .await
            .len(),
        22
    );
    assert_eq!(
        all_pages(store.as_ref(), "acme", filter(false, Some("bob"))).await,
        ["u-bob2"]
    );
}

async fn case_bad_cursor_is_refused(store: Arc<dyn Store>) {
    seed(store.as_ref(), "acme", &["bob"]).await;
    for cursor in ["not base64!", "bm8gc2VwYXJhdG9y", "//79"] {
        let err = store
            .list_users(
                "acme",
                &UserQuery {
                    limit: 10,
                    cursor: Some(cursor.into()),
                    ..UserQuery::default()
                },
            )
            .await
            .expect_err("cursor refused");
        assert!(matches!(err, Error::InvalidInput(_)), "{cursor}: {err:?}");
    }
}

// ---------------------------------------------------------------- opt-outs

async fn case_opt_out_and_in_are_idempotent_and_logged(store: Arc<dyn Store>) {
    seed(store.as_ref(), "acme", &["bob", "carol", "dave"]).await;
    assert_eq!(store.head_revision().await.expect("head"), 0);

    let out = store
        .set_opted_out("acme", &ids(&["carol", "bob"]), true, &admin())
        .await
        .expect("opt out");
    let summary: Vec<(u64, &str, bool)> = out
        .iter()
        .map(|c| (c.rev, c.user.as_str(), c.opted_out))
        .collect();
    assert_eq!(
        summary,
        [(1, "carol", true), (2, "bob", true)],
        "revisions in the order given"
    );
    assert!(out
        .iter()
        .all(|c| c.org == "acme" && c.actor == "user:alice"));
    assert_eq!(store.head_revision().await.expect("head"), 2);

    let repeat = store
        .set_opted_out("acme", &ids(&["bob", "carol"]), true, &admin())
        .await
        .expect("repeat");
    assert!(repeat.is_empty(), "already opted out: no change");
    assert_eq!(store.head_revision().await.expect("head"), 2);

    let twice = store
        .set_opted_out(
            "acme",
            &ids(&["dave", "dave"]),
            true,
            &Actor::ServiceKey("k1".into()),
        )
        .await
        .expect("a user named twice");
    assert_eq!(twice.len(), 1);
    assert_eq!((twice[0].rev, twice[0].actor.as_str()), (3, "key:k1"));

    let back = store
        .set_opted_out("acme", &ids(&["bob", "carol"]), false, &admin())
        .await
        .expect("opt in");
    assert_eq!(back.iter().map(|c| c.rev).collect::<Vec<_>>(), [4, 5]);
    assert!(back.iter().all(|c| !c.opted_out));
    let noop = store
        .set_opted_out("acme", &ids(&["bob"]), false, &admin())
        .await
        .expect("opt in again");
    assert!(noop.is_empty());

    let log = store.changes_since(0, 100).await.expect("log");
    let expected: Vec<_> = out.iter().chain(&twice).chain(&back).cloned().collect();
    assert_eq!(log, expected, "the log holds exactly the changes returned");
    assert_eq!(store.changes_since(3, 100).await.expect("tail"), back);
    assert_eq!(store.changes_since(1, 2).await.expect("limited"), log[1..3]);
    assert!(store.changes_since(5, 100).await.expect("none").is_empty());

    let opt_outs = store.opt_outs("acme").await.expect("opt-outs");
    assert_eq!(opt_outs.len(), 1);
    assert_eq!(opt_outs[0].user.id, "dave");
    assert_eq!(opt_outs[0].opted_out_by, "key:k1");
    assert_eq!(opt_outs[0].opted_out_at, twice[0].at);

    let audit = store.audit("acme", 100, None).await.expect("audit");
    let trail: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e.action.starts_with("opt_"))
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        trail,
        [
            ("opt_in", "carol"),
            ("opt_in", "bob"),
            ("opt_out", "dave"),
            ("opt_out", "bob"),
            ("opt_out", "carol"),
        ],
        "one audit entry per change, newest first"
    );
}

async fn case_unknown_users_change_nothing(store: Arc<dyn Store>) {
    seed(store.as_ref(), "acme", &["bob", "carol"]).await;
    seed(store.as_ref(), "other", &["olga"]).await;
    store
        .set_opted_out("acme", &ids(&["carol"]), true, &admin())
        .await
        .expect("opt out");
    let audit_before = store.audit("acme", 100, None).await.expect("audit");

    for opted_out in [true, false] {
        let err = store
            .set_opted_out(
                "acme",
                &ids(&["bob", "ghost", "carol", "olga"]),
                opted_out,
                &admin(),
            )
            .await
            .expect_err("unknown users");
        match err {
            Error::UnknownUsers(unknown) => assert_eq!(unknown, ["ghost", "olga"]),
            other => panic!("expected UnknownUsers, got {other:?}"),
        }
    }
    let err = store
        .set_opted_out("nowhere", &ids(&["bob"]), true, &admin())
        .await
        .expect_err("unknown org has no users");
    assert!(matches!(err, Error::UnknownUsers(_)), "{err:?}");

    assert_eq!(store.head_revision().await.expect("head"), 1);
    assert_eq!(store.changes_since(0, 100).await.expect("log").len(), 1);
    assert_eq!(
        sorted_state(store.as_ref()).await.opted_out,
        [("acme".to_string(), "carol".to_string())]
    );
    assert_eq!(
        store.audit("acme", 100, None).await.expect("audit"),
        audit_before
    );
}

/// Toggles users from many tasks on the given stores while a reader checks
/// that every read of the log is gap-free; returns the revisions handed out.
async fn hammer(writers: &[Arc<dyn Store>], reader: Arc<dyn Store>) -> Vec<u64> {
    const TASKS: usize = 8;
    const ROUNDS: usize = 12;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let log = reader.changes_since(0, 1_000_000).await.expect("read log");
                for (i, change) in log.iter().enumerate() {
                    assert_eq!(change.rev, i as u64 + 1, "a reader saw a gap");
                }
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = writers[t % writers.len()].clone();
            tokio::spawn(async move {
                let mut revs = Vec::new();
                for round in 0..ROUNDS {
                    // Overlapping sets, so tasks contend for the same users.
                    let users: Vec<String> = (0..4)
                        .map(|k| format!("u{}", (t + round + k) % 10))
                        .collect();
                    let changes = store
                        .set_opted_out("acme", &users, (t + round) % 2 == 0, &Actor::System)
                        .await
                        .expect("set opted out");
                    let mine: Vec<u64> = changes.iter().map(|c| c.rev).collect();
                    assert!(
                        mine.windows(2).all(|w| w[1] == w[0] + 1),
                        "one call, one run"
                    );
                    revs.extend(mine);
                }
                revs
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let revs = task.await.expect("writer task");
        assert!(
            revs.windows(2).all(|w| w[0] < w[1]),
            "increasing per writer"
        );
        all.extend(revs);
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    assert!(watcher.await.expect("reader task") > 0);
    all.sort_unstable();
    all
}

async fn assert_log_matches(store: &dyn Store, handed_out: &[u64]) {
    let head = store.head_revision().await.expect("head");
    assert_eq!(
        handed_out,
        (1..=head).collect::<Vec<_>>(),
        "each revision once, none skipped"
    );
    let replayed = replay_log(store).await;
    assert_eq!(replayed.rev, head);
    assert_eq!(sorted_state(store).await, replayed);
}

async fn case_revisions_contiguous_under_concurrency(store: Arc<dyn Store>) {
    let users: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    seed(store.as_ref(), "acme", &names).await;
    let revs = hammer(&[store.clone()], store.clone()).await;
    assert!(!revs.is_empty());
    assert_log_matches(store.as_ref(), &revs).await;
}

async fn case_two_instances_share_one_contiguous_log(
    first: Arc<dyn Store>,
    second: Arc<dyn Store>,
) {
    let users: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    seed(first.as_ref(), "acme", &names).await;
    let revs = hammer(&[first.clone(), second.clone()], second.clone()).await;
    assert_log_matches(first.as_ref(), &revs).await;
    assert_eq!(
        sorted_state(first.as_ref()).await,
        sorted_state(second.as_ref()).await
    );
}

async fn case_opt_out_state_agrees_with_change_log(store: Arc<dyn Store>) {
    let empty = store.opt_out_state().await.expect("state");
    assert_eq!(empty, OptOutState::default());
    seed(store.as_ref(), "acme", &["bob", "carol", "dave"]).await;
    seed(store.as_ref(), "beta", &["bob", "erin"]).await;
    let steps: [(&str, &[&str], bool); 5] = [
        ("acme", &["bob", "carol"], true),
        ("beta", &["bob"], true),
        ("acme", &["carol", "dave"], false),
        ("beta", &["erin", "bob"], true),
        ("acme", &["dave"], true),
    ];
    for (org, users, opted_out) in steps {
        store
            .set_opted_out(org, &ids(users), opted_out, &admin())
            .await
            .expect("change");
        assert_eq!(
            sorted_state(store.as_ref()).await,
            replay_log(store.as_ref()).await
        );
    }
    let state = sorted_state(store.as_ref()).await;
    assert_eq!(state.rev, 6);
    let pairs: Vec<(&str, &str)> = state
        .opted_out
        .iter()
        .map(|(org, user)| (org.as_str(), user.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("acme", "bob"),
            ("acme", "dave"),
            ("beta", "bob"),
            ("beta", "erin")
        ]
    );

    // Opting everyone back in empties the state but keeps the revision.
    store
        .set_opted_out("acme", &ids(&["bob", "dave"]), false, &admin())
        .await
        .expect("opt in");
    store
        .set_opted_out("beta", &ids(&["bob", "erin"]), false, &admin())
        .await
        .expect("opt in");
    let state = store.opt_out_state().await.expect("state");
    assert_eq!((state.rev, state.opted_out.len()), (10, 0));
}

// ---------------------------------------------------------------- audit

async fn case_audit_newest_first_with_before(store: Arc<dyn Store>) {
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

// ---------------------------------------------------------------- credentials

fn signing_key(kid: &str) -> SigningKey {
    SigningKey::generate(kid).expect("valid kid")
}

async fn case_signing_keys_one_current(store: Arc<dyn Store>) {
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
        created_at: OffsetDateTime::now_utc(),
        revoked: false,
    }
}

async fn case_service_keys_lookup_and_revoke(store: Arc<dyn Store>) {
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

async fn case_nonce_is_consumed_once(store: Arc<dyn Store>) {
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

// ---------------------------------------------------------------- registry

/// Checks the registry's snapshot against a fresh read of the store.
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

async fn case_registry_snapshot_equals_store(store: Arc<dyn Store>) {
    seed_registry_users(store.as_ref()).await;
    store
        .set_opted_out("beta", &ids(&["frank"]), true, &Actor::System)
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
        .set_opted_out("beta", &ids(&["bob", "erin"]), true, &Actor::System)
        .await
        .expect("direct write");
    store
        .set_opted_out("beta", &ids(&["frank"]), false, &Actor::System)
        .await
        .expect("direct write");
    assert_eq!(registry.catch_up().await.expect("catch up"), 7);
    assert_snapshot_equals_store(&registry, store.as_ref(), &REGISTRY_USERS).await;
    let reopened = Registry::open(store.clone()).await.expect("reopen");
    assert_snapshot_equals_store(&reopened, store.as_ref(), &REGISTRY_USERS).await;
}

async fn case_two_registries_converge(first: Arc<dyn Store>, second: Arc<dyn Store>) {
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
