use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::model::{self, Actor};
use crate::store::sqlite::SqliteStore;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime")
}

fn user(id: &str) -> User {
    User {
        id: id.into(),
        name: id.to_uppercase(),
        email: format!("{id}@example.test"),
        role: Role::User,
    }
}

async fn seeded(path: &Path, users: &[&str]) -> Registry {
    let store = SqliteStore::open(path).await.expect("open");
    store.ensure_org("acme").await.expect("org");
    let users: Vec<User> = users.iter().map(|id| user(id)).collect();
    store
        .upsert_users("acme", &users, &Author::system())
        .await
        .expect("users");
    Registry::open(Arc::new(store)).await.expect("registry")
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn opt_out_then_opt_in_restores_and_repeats_change_nothing() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = seeded(&dir.path().join("r.db"), &["bob", "carol"]).await;
        let admin = Actor::User("alice".into());

        let first = registry
            .opt_out("acme", &ids(&["bob"]), &admin)
            .await
            .expect("opt out");
        assert_eq!(first.changes.len(), 1);
        assert!(
            registry.is_opted_out("acme", "bob"),
            "visible as soon as the call returns"
        );
        assert!(!registry.is_opted_out("acme", "carol"));

        let again = registry
            .opt_out("acme", &ids(&["bob", "bob"]), &admin)
            .await
            .expect("again");
        assert!(again.changes.is_empty(), "idempotent");
        assert_eq!(
            registry.store().head_revision().await.expect("head"),
            first.rev
        );

        let back = registry
            .opt_in("acme", &ids(&["bob"]), &admin)
            .await
            .expect("opt in");
        assert_eq!(back.changes.len(), 1);
        assert!(back.rev > first.rev, "revisions strictly increase");
        assert!(!registry.is_opted_out("acme", "bob"));
        let noop = registry
            .opt_in("acme", &ids(&["bob"]), &admin)
            .await
            .expect("opt in again");
        assert!(noop.changes.is_empty());

        let audit = registry
            .store()
            .audit(
                "acme",
                &model::AuditQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .expect("audit")
            .entries;
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(&actions[..2], ["opt_in", "opt_out"]);
        assert_eq!(audit[0].actor, "user:alice");
    });
}

#[test]
fn unknown_users_change_nothing() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = seeded(&dir.path().join("r.db"), &["bob"]).await;
        let err = registry
            .opt_out("acme", &ids(&["bob", "mallory"]), &Actor::System)
            .await
            .expect_err("unknown user");
        assert!(matches!(err, Error::UnknownUsers(ref u) if u == &["mallory".to_string()]));
        assert!(!registry.is_opted_out("acme", "bob"), "all or nothing");
        let bad = registry
            .opt_out("acme", &ids(&["../etc"]), &Actor::System)
            .await;
        assert!(matches!(bad, Err(Error::InvalidId(_))));
    });
}

#[test]
fn a_reopened_file_has_the_same_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.db");
    let rev = runtime().block_on(async {
        let registry = seeded(&path, &["bob", "carol", "dave"]).await;
        registry
            .opt_out("acme", &ids(&["bob", "carol"]), &Actor::System)
            .await
            .expect("out");
        registry
            .opt_in("acme", &ids(&["carol"]), &Actor::System)
            .await
            .expect("in")
            .rev
    });
    runtime().block_on(async {
        let store = SqliteStore::open(&path).await.expect("reopen");
        let registry = Registry::open(Arc::new(store)).await.expect("registry");
        assert_eq!(registry.revision(), rev);
        assert!(registry.is_opted_out("acme", "bob"));
        assert!(!registry.is_opted_out("acme", "carol"));
        assert!(!registry.is_opted_out("acme", "dave"));
        let list = registry
            .store()
            .opt_outs(
                "acme",
                &model::OptOutQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .expect("list")
            .opt_outs;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].user.id, "bob");
    });
}

#[test]
fn the_registry_is_current_only_within_its_staleness_bound() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let bound = Duration::from_millis(200);
        let registry = seeded(&dir.path().join("r.db"), &["bob", "carol"])
            .await
            .with_staleness_bound(bound);
        assert!(registry.ensure_current().is_ok(), "confirmed when opened");
        assert!(registry.confirmed_age().expect("confirmed") < bound);

        registry.mark_stale();
        assert_eq!(registry.confirmed_age(), None);
        assert!(matches!(
            registry.ensure_current(),
            Err(Error::RegistryUnavailable)
        ));
        registry.catch_up().await.expect("catch up");
        assert!(
            registry.ensure_current().is_ok(),
            "a sync confirms it again"
        );

        // With no sync since, the confirmation ages past the bound.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while registry.ensure_current().is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "still current after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(registry.confirmed_age().expect("confirmed once") > bound);

        for user in ["bob", "carol"] {
            registry
                .opt_out("acme", &ids(&[user]), &Actor::System)
                .await
                .expect("out");
        }
        registry.mark_stale();
        assert_eq!(registry.reload().await.expect("reload"), 2);
        assert!(
            registry.ensure_current().is_ok(),
            "a reload confirms it again"
        );
        assert!(registry.is_opted_out("acme", "carol"));
    });
}

#[test]
fn with_the_head_check_a_change_made_elsewhere_is_seen_before_deciding() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db");
        let writer = seeded(&path, &["bob"]).await;
        let store = SqliteStore::open(&path).await.expect("open again");
        let reader = Registry::open(Arc::new(store))
            .await
            .expect("registry")
            .with_head_check(true);
        writer
            .opt_out("acme", &ids(&["bob"]), &Actor::System)
            .await
            .expect("out");
        assert!(
            !reader.is_opted_out("acme", "bob"),
            "nothing reads by itself"
        );
        reader.mark_stale();
        reader.ensure_fresh().await.expect("fresh");
        assert!(reader.is_opted_out("acme", "bob"));
        assert_eq!(reader.revision(), writer.revision());
        assert!(reader.ensure_current().is_ok(), "the head read confirms it");
    });
}

#[test]
fn with_the_head_check_a_returned_change_is_seen_and_a_recent_read_spares_the_next() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db");
        let plain = seeded(&path, &["bob", "carol"]).await;
        let shared = |path: &Path| {
            let path = path.to_path_buf();
            async move {
                let store = SqliteStore::open(&path).await.expect("open again");
                Registry::open(Arc::new(store))
                    .await
                    .expect("registry")
                    .with_head_check(true)
            }
        };
        let (writer, reader) = (shared(&path).await, shared(&path).await);

        let started = Instant::now();
        writer
            .opt_out("acme", &ids(&["bob"]), &Actor::System)
            .await
            .expect("out");
        assert!(
            started.elapsed() >= SETTLE_TIME,
            "a change returns only once the settle time passed"
        );
        let read_at = Instant::now();
        reader.ensure_fresh().await.expect("fresh");
        assert!(
            reader.is_opted_out("acme", "bob"),
            "a returned change is seen"
        );

        // A change that does not wait (made without the head check) shows
        // that a read younger than the settle time answers alone...
        plain
            .opt_out("acme", &ids(&["carol"]), &Actor::System)
            .await
            .expect("out");
        reader.ensure_fresh().await.expect("fresh");
        // (A machine too busy to get here within the settle time reads
        // again, rightly; only the rest is checked then.)
        if read_at.elapsed() < SETTLE_TIME {
            assert!(
                !reader.is_opted_out("acme", "carol"),
                "answered by the read of a moment ago"
            );
        }
        // ...and that one older than it is not trusted.
        tokio::time::sleep(SETTLE_TIME).await;
        reader.ensure_fresh().await.expect("fresh");
        assert!(reader.is_opted_out("acme", "carol"));

        // A change that returned is seen at once, however recent the read.
        reader.ensure_fresh().await.expect("fresh");
        writer
            .opt_in("acme", &ids(&["bob"]), &Actor::System)
            .await
            .expect("in");
        reader.ensure_fresh().await.expect("fresh");
        assert!(!reader.is_opted_out("acme", "bob"));
        // Marked stale, the reader trusts no earlier read.
        plain
            .opt_in("acme", &ids(&["carol"]), &Actor::System)
            .await
            .expect("in");
        reader.mark_stale();
        reader.ensure_fresh().await.expect("fresh");
        assert!(!reader.is_opted_out("acme", "carol"));
    });
}

#[test]
fn directory_users_are_added_updated_and_deactivated_through_the_registry() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = seeded(&dir.path().join("r.db"), &["bob"]).await;
        let store = registry.store().clone();
        let record = |id: &'static str| {
            let store = store.clone();
            async move { store.user_with_status("acme", id).await.expect("read") }
        };

        // A login of someone new adds them as a plain user, named by the id
        // unless a name is given; a later name or email updates the record.
        let dave = registry
            .ensure_user("acme", "dave", None, None)
            .await
            .expect("dave");
        assert_eq!((dave.name.as_str(), dave.email.as_str()), ("dave", ""));
        let dave = registry
            .ensure_user("acme", "dave", Some("Dave D"), Some("dave@example.test"))
            .await
            .expect("dave again");
        assert_eq!(
            record("dave").await,
            Some((dave.clone(), UserStatus::Active))
        );
        assert_eq!(
            (dave.name.as_str(), dave.email.as_str(), dave.role),
            ("Dave D", "dave@example.test", Role::User)
        );

        let erin = User {
            role: Role::Admin,
            ..user("erin")
        };
        registry
            .upsert_user("acme", &erin, &Actor::System)
            .await
            .expect("erin");
        assert_eq!(record("erin").await, Some((erin, UserStatus::Active)));
        let nameless = User {
            name: "\u{7}".into(),
            ..user("frank")
        };
        assert!(registry
            .upsert_user("acme", &nameless, &Actor::System)
            .await
            .is_err());
        assert_eq!(record("frank").await, None, "a bad record is not stored");

        let changed = registry
            .set_user_status(
                "acme",
                &ids(&["bob", "dave", "bob"]),
                UserStatus::Deactivated,
                &Actor::System,
            )
            .await
            .expect("deactivate");
        assert_eq!(changed, ids(&["bob", "dave"]));
        let again = registry
            .set_user_status(
                "acme",
                &ids(&["bob"]),
                UserStatus::Deactivated,
                &Actor::System,
            )
            .await
            .expect("deactivate again");
        assert!(again.is_empty(), "nothing changed the second time");
        assert!(matches!(
            registry.ensure_user("acme", "dave", None, None).await,
            Err(Error::InactiveUser { .. })
        ));
    });
}

#[test]
fn limits_on_changes_and_records_are_inclusive() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = seeded(&dir.path().join("r.db"), &["bob"]).await;
        let many = |n: usize| (0..n).map(|i| format!("u{i}")).collect::<Vec<_>>();
        // At the limit the call goes on to the directory, which knows none
        // of them; past it, the call is refused before that.
        let at_limit = registry
            .opt_out("acme", &many(MAX_USERS_PER_CHANGE), &Actor::System)
            .await;
        assert!(
            matches!(at_limit, Err(Error::UnknownUsers(_))),
            "{at_limit:?}"
        );
        let over = registry
            .opt_out("acme", &many(MAX_USERS_PER_CHANGE + 1), &Actor::System)
            .await;
        assert!(matches!(over, Err(Error::InvalidInput(_))), "{over:?}");

        let longest = "n".repeat(MAX_TEXT_LEN);
        let too_long = "n".repeat(MAX_TEXT_LEN + 1);
        let with = |name: &str, email: &str| User {
            name: name.into(),
            email: email.into(),
            ..user("gina")
        };
        for fits in [with(&longest, "g@example.test"), with("Gina", &longest)] {
            registry
                .upsert_user("acme", &fits, &Actor::System)
                .await
                .expect("256 bytes fit");
        }
        for refused in [
            with(&too_long, "g@example.test"),
            with("Gina", &too_long),
            with("Gina", "g@example.test\n"),
            with(" ", "g@example.test"),
        ] {
            let answer = registry.upsert_user("acme", &refused, &Actor::System).await;
            assert!(matches!(answer, Err(Error::InvalidInput(_))), "{answer:?}");
        }
    });
}

#[test]
fn concurrent_opt_outs_lose_nothing() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let names: Vec<String> = (0..200).map(|i| format!("u{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let registry = Arc::new(seeded(&dir.path().join("r.db"), &refs).await);
        let mut tasks = Vec::new();
        for chunk in names.chunks(10) {
            let registry = registry.clone();
            let chunk = chunk.to_vec();
            tasks.push(tokio::spawn(async move {
                for user in chunk {
                    registry
                        .opt_out("acme", &[user], &Actor::System)
                        .await
                        .expect("opt out");
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(registry.opted_out_count(), 200);
        assert_eq!(registry.revision(), 200);
        let changes = registry.store().changes_since(0, 1000).await.expect("log");
        let revs: Vec<u64> = changes.iter().map(|c| c.rev).collect();
        assert!(
            revs.windows(2).all(|w| w[1] == w[0] + 1),
            "contiguous, increasing"
        );
    });
}

#[test]
fn directory_listing_pages_and_filters() {
    runtime().block_on(async {
        let registry = {
            let store = SqliteStore::in_memory().await.expect("store");
            store.ensure_org("acme").await.expect("org");
            let users: Vec<User> = (0..25).map(|i| user(&format!("user{i:02}"))).collect();
            store
                .upsert_users("acme", &users, &Author::system())
                .await
                .expect("users");
            Registry::open(Arc::new(store)).await.expect("registry")
        };
        registry
            .opt_out("acme", &ids(&["user03"]), &Actor::System)
            .await
            .expect("out");
        let mut query = model::UserQuery {
            limit: 10,
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = registry
                .store()
                .list_users("acme", &query)
                .await
                .expect("page");
            seen.extend(page.users.iter().map(|u| (u.user.id.clone(), u.opted_out)));
            match page.next_cursor {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 25);
        assert!(seen.contains(&("user03".into(), true)));
        let search = model::UserQuery {
            query: Some("USER1".into()),
            limit: 100,
            ..Default::default()
        };
        assert_eq!(
            registry
                .store()
                .list_users("acme", &search)
                .await
                .expect("search")
                .users
                .len(),
            10
        );
        let not_out = model::UserQuery {
            opted_out: Some(false),
            limit: 100,
            ..Default::default()
        };
        assert_eq!(
            registry
                .store()
                .list_users("acme", &not_out)
                .await
                .expect("filter")
                .users
                .len(),
            24
        );
        let bad = model::UserQuery {
            cursor: Some("%%%".into()),
            limit: 5,
            ..Default::default()
        };
        assert!(registry.store().list_users("acme", &bad).await.is_err());
    });
}

#[derive(Debug, Clone)]
enum Op {
    Out(Vec<u8>),
    In(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    let users = prop::collection::vec(0u8..8, 1..4);
    prop_oneof![users.clone().prop_map(Op::Out), users.prop_map(Op::In)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn the_snapshot_always_equals_the_store(ops in prop::collection::vec(op(), 1..20)) {
        runtime().block_on(async {
            let store = SqliteStore::in_memory().await.expect("store");
            for org in ["a", "b"] {
                store.ensure_org(org).await.expect("org");
                let users: Vec<User> = (0..8).map(|i| user(&format!("u{i}"))).collect();
                store.upsert_users(org, &users, &Author::system()).await.expect("users");
            }
            let registry = Registry::open(Arc::new(store)).await.expect("registry");
            for (i, op) in ops.iter().enumerate() {
                let org = if i % 3 == 0 { "b" } else { "a" };
                let (users, out) = match op {
                    Op::Out(u) => (u, true),
                    Op::In(u) => (u, false),
                };
                let users: Vec<String> = users.iter().map(|n| format!("u{n}")).collect();
                if out {
                    registry.opt_out(org, &users, &Actor::System).await.expect("out");
                } else {
                    registry.opt_in(org, &users, &Actor::System).await.expect("in");
                }
                let stored = registry.store().opt_out_state().await.expect("state");
                let mut expected = Snapshot::from_state(stored);
                assert_eq!(&*registry.read_snapshot(), &expected);
                // And a snapshot rebuilt from the log alone agrees too.
                let mut replayed = Snapshot::default();
                for change in registry.store().changes_since(0, 10_000).await.expect("log") {
                    assert!(replayed.apply(&change));
                }
                expected = replayed;
                assert_eq!(&*registry.read_snapshot(), &expected);
            }
        });
    }
}
