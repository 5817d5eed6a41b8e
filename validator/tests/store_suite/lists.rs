//! Lists that scale: the opted-out list pages newest first by cursor, with
//! search and a total; paging holds still while rows are added; deactivated
//! and removed users are listed (or not) as documented.

use std::collections::HashSet;
use std::sync::Arc;

use usage_validator::model::{Author, OptOutQuery, UserQuery, UserStatus};
use usage_validator::store::Store;
use usage_validator::Error;

use crate::fixtures::{admin, all_opt_out_pages, all_pages, ids, seed, user};

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

pub async fn case_opt_outs_page_newest_first_each_row_once(store: Arc<dyn Store>) {
    let names = numbered("u", 120);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    seed(store.as_ref(), "acme", &refs).await;
    // Batches share a timestamp within, so ties are ordered by id.
    for batch in names.chunks(25) {
        store
            .set_opted_out("acme", batch, true, &admin())
            .await
            .expect("opt out");
    }
    let listed = all_opt_out_pages(
        store.as_ref(),
        "acme",
        OptOutQuery {
            limit: 7,
            ..Default::default()
        },
    )
    .await;
    let seen: Vec<&str> = listed.iter().map(|e| e.user.id.as_str()).collect();
    assert_eq!(seen.len(), 120, "every row once");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        120,
        "no row twice"
    );
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].opted_out_at > w[1].opted_out_at
                || (w[0].opted_out_at == w[1].opted_out_at && w[0].user.id < w[1].user.id)),
        "newest first, then by id"
    );
    assert!(listed
        .iter()
        .all(|e| e.active && e.opted_out_by == "user:alice"));
    let first = store
        .opt_outs(
            "acme",
            &OptOutQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("one page");
    assert_eq!(first.next_cursor, None, "one page holds all");
    assert_eq!(first.total, 120);
}

pub async fn case_opt_out_search_and_total(store: Arc<dyn Store>) {
    seed(store.as_ref(), "acme", &["bob", "bobby", "carol", "dave"]).await;
    store
        .upsert_users("acme", &[user("eve", "Évelyne Bobson")], &Author::system())
        .await
        .expect("eve");
    store
        .set_opted_out(
            "acme",
            &ids(&["bob", "bobby", "carol", "eve"]),
            true,
            &admin(),
        )
        .await
        .expect("opt out");
    let search = |q: &str, limit| OptOutQuery {
        query: Some(q.into()),
        limit,
        cursor: None,
    };
    let page = store
        .opt_outs("acme", &search("BOB", 2))
        .await
        .expect("search");
    assert_eq!(page.total, 3, "id, name and email match, any case");
    assert_eq!(page.opt_outs.len(), 2);
    let rest = all_opt_out_pages(store.as_ref(), "acme", search("bob", 2)).await;
    let mut found: Vec<&str> = rest.iter().map(|e| e.user.id.as_str()).collect();
    found.sort_unstable();
    assert_eq!(found, ["bob", "bobby", "eve"]);
    let accented = store
        .opt_outs("acme", &search("éVELYNE", 10))
        .await
        .expect("accents");
    assert_eq!(accented.total, 1, "case folds beyond ASCII on both stores");
    let users = store
        .list_users(
            "acme",
            &UserQuery {
                query: Some("ÉVELYNE BOB".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("directory search");
    assert_eq!(users.users.len(), 1);
    let blank = store
        .opt_outs("acme", &search("  ", 10))
        .await
        .expect("blank");
    assert_eq!(blank.total, 4, "a blank search lists everyone");
    let none = store
        .opt_outs("acme", &search("zed", 10))
        .await
        .expect("none");
    assert_eq!((none.total, none.opt_outs.len()), (0, 0));
}

pub async fn case_paging_is_stable_under_concurrent_inserts(store: Arc<dyn Store>) {
    let before = numbered("p", 300);
    let refs: Vec<&str> = before.iter().map(String::as_str).collect();
    seed(store.as_ref(), "acme", &refs).await;
    for batch in before[..200].chunks(50) {
        store
            .set_opted_out("acme", batch, true, &admin())
            .await
            .expect("opt out");
    }
    // A writer adds users (sorting before and after the ones listed) and
    // opts more out while both lists are read page by page.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let new = [format!("a-new{i:03}"), format!("z-new{i:03}")];
                let users: Vec<_> = new.iter().map(|id| user(id, id)).collect();
                store
                    .upsert_users("acme", &users, &Author::system())
                    .await
                    .expect("insert");
                store
                    .set_opted_out("acme", &new, true, &admin())
                    .await
                    .expect("opt out new");
                tokio::task::yield_now().await;
            }
        })
    };
    let users = all_pages(
        store.as_ref(),
        "acme",
        UserQuery {
            limit: 9,
            ..Default::default()
        },
    )
    .await;
    let opt_outs = all_opt_out_pages(
        store.as_ref(),
        "acme",
        OptOutQuery {
            limit: 9,
            ..Default::default()
        },
    )
    .await;
    writer.await.expect("writer");

    let listed: Vec<&str> = users.iter().map(String::as_str).collect();
    assert_eq!(
        listed.iter().collect::<HashSet<_>>().len(),
        listed.len(),
        "no user twice"
    );
    for id in &before {
        assert!(listed.contains(&id.as_str()), "{id} was listed");
    }
    let out: Vec<&str> = opt_outs.iter().map(|e| e.user.id.as_str()).collect();
    assert_eq!(
        out.iter().collect::<HashSet<_>>().len(),
        out.len(),
        "no opt-out twice"
    );
    for id in &before[..200] {
        assert!(out.contains(&id.as_str()), "{id} was listed as opted out");
    }
}

pub async fn case_deactivated_and_removed_users(store: Arc<dyn Store>) {
    seed(store.as_ref(), "acme", &["bob", "carol", "dave", "erin"]).await;
    store
        .set_opted_out("acme", &ids(&["bob", "carol"]), true, &admin())
        .await
        .expect("opt out");
    let changed = store
        .set_user_status(
            "acme",
            &ids(&["bob", "dave"]),
            UserStatus::Deactivated,
            &admin(),
        )
        .await
        .expect("deactivate");
    assert_eq!(changed, ["bob", "dave"]);
    let again = store
        .set_user_status("acme", &ids(&["bob"]), UserStatus::Deactivated, &admin())
        .await
        .expect("deactivate again");
    assert!(again.is_empty(), "idempotent");
    store
        .set_user_status("acme", &ids(&["carol"]), UserStatus::Removed, &admin())
        .await
        .expect("remove");

    // Unknown or removed users change nothing.
    let err = store
        .set_user_status(
            "acme",
            &ids(&["erin", "carol", "zed"]),
            UserStatus::Deactivated,
            &admin(),
        )
        .await
        .expect_err("removed and unknown users");
    assert!(
        matches!(err, Error::UnknownUsers(ref u) if u == &ids(&["carol", "zed"])),
        "{err}"
    );
    assert_eq!(
        store
            .user_with_status("acme", "erin")
            .await
            .expect("erin")
            .map(|u| u.1),
        Some(UserStatus::Active)
    );
    let err = store
        .set_opted_out("acme", &ids(&["carol"]), false, &admin())
        .await
        .expect_err("a removed user cannot be opted in or out");
    assert!(matches!(err, Error::UnknownUsers(_)));

    assert_eq!(
        store.user("acme", "bob").await.expect("bob"),
        None,
        "deactivated"
    );
    assert_eq!(
        store.user("acme", "carol").await.expect("carol"),
        None,
        "removed"
    );
    assert_eq!(
        store
            .user_with_status("acme", "carol")
            .await
            .expect("carol")
            .map(|u| u.1),
        Some(UserStatus::Removed)
    );

    let all = |active| UserQuery {
        active,
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        all_pages(store.as_ref(), "acme", all(None)).await,
        ["bob", "dave", "erin"],
        "removed users are never listed"
    );
    assert_eq!(
        all_pages(store.as_ref(), "acme", all(Some(true))).await,
        ["erin"]
    );
    assert_eq!(
        all_pages(store.as_ref(), "acme", all(Some(false))).await,
        ["bob", "dave"]
    );
    let listed = store.list_users("acme", &all(None)).await.expect("list");
    assert!(!listed.users[0].active && listed.users[0].opted_out);

    // Opted-out list: the deactivated stay (marked), the removed leave; the
    // removed user's opt-out still stands in the registry.
    let out = all_opt_out_pages(
        store.as_ref(),
        "acme",
        OptOutQuery {
            limit: 10,
            ..Default::default()
        },
    )
    .await;
    let out: Vec<(&str, bool)> = out.iter().map(|e| (e.user.id.as_str(), e.active)).collect();
    assert_eq!(out, [("bob", false)]);
    let state = store.opt_out_state().await.expect("state");
    assert!(state.opted_out.contains(&("acme".into(), "carol".into())));

    // Named again: a removed user comes back active, a deactivated one stays so.
    let summary = store
        .upsert_users(
            "acme",
            &[user("carol", "CAROL"), user("bob", "BOB")],
            &Author::system(),
        )
        .await
        .expect("upsert");
    assert_eq!((summary.updated, summary.unchanged), (1, 1));
    assert_eq!(
        store
            .user_with_status("acme", "carol")
            .await
            .expect("carol")
            .map(|u| u.1),
        Some(UserStatus::Active)
    );
    assert_eq!(
        store
            .user_with_status("acme", "bob")
            .await
            .expect("bob")
            .map(|u| u.1),
        Some(UserStatus::Deactivated)
    );
}
