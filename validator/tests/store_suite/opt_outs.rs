//! Opt-outs, the change log and its revisions under concurrent writers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use usage_validator::model::{Actor, AuditQuery, Author, OptOutQuery};
use usage_validator::store::{OptOutState, Store};
use usage_validator::Error;

use crate::fixtures::{admin, ids, replay_log, seed, sorted_state};

pub async fn case_opt_out_and_in_are_idempotent_and_logged(store: Arc<dyn Store>) {
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
            &Author::from(Actor::ServiceKey("k1".into())),
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

    let listed = store
        .opt_outs(
            "acme",
            &OptOutQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("opt-outs");
    assert_eq!(listed.total, 1);
    let opt_outs = listed.opt_outs;
    assert_eq!(opt_outs.len(), 1);
    assert_eq!(opt_outs[0].user.id, "dave");
    assert_eq!(opt_outs[0].opted_out_by, "key:k1");
    assert_eq!(opt_outs[0].opted_out_at, twice[0].at);

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

pub async fn case_unknown_users_change_nothing(store: Arc<dyn Store>) {
    seed(store.as_ref(), "acme", &["bob", "carol"]).await;
    seed(store.as_ref(), "other", &["olga"]).await;
    store
        .set_opted_out("acme", &ids(&["carol"]), true, &admin())
        .await
        .expect("opt out");
    let audit_before = store
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
        store
            .audit(
                "acme",
                &AuditQuery {
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .expect("audit")
            .entries,
        audit_before
    );
}

/// Toggles users from many tasks on the given stores while a reader checks
/// that every read of the log is gap-free; returns the revisions handed out.
async fn hammer(writers: &[Arc<dyn Store>], reader: Arc<dyn Store>) -> Vec<u64> {
    const TASKS: usize = 8;
    const ROUNDS: usize = 12;
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(Ordering::Acquire) {
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
                        .set_opted_out("acme", &users, (t + round) % 2 == 0, &Author::system())
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
    done.store(true, Ordering::Release);
    assert!(watcher.await.expect("reader task") > 0);
    all.sort_unstable();
    all
}

/// Checks that the revisions handed out are exactly 1 to the head, and that
/// replaying the log gives the stored state.
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

pub async fn case_revisions_contiguous_under_concurrency(store: Arc<dyn Store>) {
    let users: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    seed(store.as_ref(), "acme", &names).await;
    let revs = hammer(std::slice::from_ref(&store), store.clone()).await;
    assert!(!revs.is_empty());
    assert_log_matches(store.as_ref(), &revs).await;
}

pub async fn case_two_instances_share_one_contiguous_log(
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

pub async fn case_opt_out_state_agrees_with_change_log(store: Arc<dyn Store>) {
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
