//! Directory data and readings shared by the cases.

use std::collections::BTreeSet;

use usage_validator::model::{Actor, Author, OptOutEntry, OptOutQuery, Role, User, UserQuery, Via};
use usage_validator::store::{OptOutState, Store};

/// A plain directory user with an email made from the id.
pub fn user(id: &str, name: &str) -> User {
    User {
        id: id.into(),
        name: name.into(),
        email: format!("{id}@example.test"),
        role: Role::User,
    }
}

/// Owned ids, as the store takes them.
pub fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The product admin making changes in the cases, on the settings page.
pub fn admin() -> Author {
    Author::new(Actor::User("alice".into()), Via::Page).named("Alice Admin")
}

/// Creates `org` with `users` in its directory (names are upper-cased ids).
pub async fn seed(store: &dyn Store, org: &str, users: &[&str]) {
    store.ensure_org(org).await.expect("ensure org");
    let users: Vec<User> = users
        .iter()
        .map(|id| user(id, &id.to_uppercase()))
        .collect();
    store
        .upsert_users(org, &users, &Author::system())
        .await
        .expect("upsert users");
}

/// The opt-out state a reader of the whole change log arrives at.
pub async fn replay_log(store: &dyn Store) -> OptOutState {
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

/// The store's opt-out state with its pairs sorted, for comparisons.
pub async fn sorted_state(store: &dyn Store) -> OptOutState {
    let mut state = store.opt_out_state().await.expect("opt-out state");
    state.opted_out.sort();
    state
}

/// The ids of every page of a listing, following cursors to the end.
pub async fn all_pages(store: &dyn Store, org: &str, mut query: UserQuery) -> Vec<String> {
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

/// Every page of an opted-out listing, following cursors to the end.
pub async fn all_opt_out_pages(
    store: &dyn Store,
    org: &str,
    mut query: OptOutQuery,
) -> Vec<OptOutEntry> {
    let mut seen = Vec::new();
    loop {
        let page = store.opt_outs(org, &query).await.expect("list opt-outs");
        assert!(page.opt_outs.len() <= query.limit as usize);
        seen.extend(page.opt_outs);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return seen,
        }
    }
}
