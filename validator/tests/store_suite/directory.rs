//! Orgs, directory upserts, listing, search and paging.

use std::sync::Arc;

use usage_validator::model::{AuditQuery, Author, Role, User, UserQuery};
use usage_validator::store::Store;
use usage_validator::Error;

use crate::fixtures::{admin, all_pages, ids, seed, user};

pub async fn case_orgs_and_upsert_summary(store: Arc<dyn Store>) {
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

    let audit = store
        .audit(
            "acme",
            &AuditQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
        .entries;
    let creates = audit.iter().filter(|e| e.action == "user_create").count();
    let updates = audit.iter().filter(|e| e.action == "user_update").count();
    assert_eq!((creates, updates), (5, 3), "one audit entry per write");
    assert!(audit.iter().all(|e| e.actor == "user:alice"));
}

/// A long upsert reports its progress as it goes: the reports add up to
/// every user given (unchanged and repeated ones too), and come in more than
/// one step, so a progress bar moves.
pub async fn case_upsert_reports_progress(store: Arc<dyn Store>) {
    store.ensure_org("acme").await.expect("ensure org");
    let mut users: Vec<User> = (0..5_000)
        .map(|i| user(&format!("u{i:04}"), &format!("User {i}")))
        .collect();
    users.push(user("u0000", "User 0 again"));
    let reports = std::sync::Mutex::new(Vec::new());
    let progress = |written: usize| reports.lock().expect("reports").push(written);
    let summary = store
        .upsert_users_reporting("acme", &users, &Author::system(), &progress)
        .await
        .expect("upsert");
    assert_eq!((summary.created, summary.updated), (5_000, 1));
    let reports = reports.into_inner().expect("reports");
    assert_eq!(reports.iter().sum::<usize>(), users.len(), "{reports:?}");
    assert!(reports.len() >= 3, "{reports:?}");
    assert!(
        reports.iter().all(|&n| n > 0 && n < users.len() / 2),
        "{reports:?}"
    );
}

pub async fn case_concurrent_upserts_count_each_user_once(store: Arc<dyn Store>) {
    // More than one statement's worth on PostgreSQL: the lock order must hold
    // across them.
    const USERS: u64 = 4_500;
    const TASKS: u64 = 6;
    store.ensure_org("acme").await.expect("org");
    let users: Vec<User> = (0..USERS)
        .map(|i| user(&format!("u{i:04}"), "Same"))
        .collect();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            // Imports of the same people in opposite orders must not
            // deadlock each other.
            let mut users = users.clone();
            if t % 2 == 1 {
                users.reverse();
            }
            tokio::spawn(async move {
                store
                    .upsert_users("acme", &users, &Author::system())
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
    assert_eq!(created, USERS, "every user created exactly once");
    assert_eq!(unchanged, USERS * (TASKS - 1));
}

pub async fn case_list_search_filter_and_paging(store: Arc<dyn Store>) {
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
        .upsert_users("acme", &users, &Author::system())
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
        active: None,
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

pub async fn case_bad_cursor_is_refused(store: Arc<dyn Store>) {
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
