//! The authoritative check: which events of a batch are stored.

use usage_protocol::{BatchResponse, Event, RejectCode, Rejection};

use crate::dedupe::{Dedupe, Reservation};
use crate::registry::Registry;

/// Whose events a batch carries: from a verified token, or named by a
/// back end holding a service key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The org.
    pub org: &'a str,
    /// The user within the org.
    pub user: &'a str,
}

/// What the check decided for one batch.
#[derive(Debug)]
pub struct Verdict<'a> {
    /// Events to store, in batch order.
    pub accepted: Vec<Event>,
    /// The ids of `accepted`, held in the dedupe window: commit once the
    /// events are stored; dropped, it releases them for the retry.
    pub reservation: Reservation<'a>,
    /// The answer for the client; `accepted` counts the events above.
    pub response: BatchResponse,
}

/// Decides the fate of each event of a batch from the registry as it stands
/// now: never from the token's claim, which may be stale.
///
/// Valid events of an opted-out user are discarded; of others, events whose
/// id was accepted before are duplicates and the rest are accepted (and
/// reserved in `dedupe` at once, so a concurrent retry is a duplicate too).
pub fn check_batch<'a>(
    registry: &Registry,
    dedupe: &'a Dedupe,
    subject: Subject<'_>,
    events: Vec<Result<Event, RejectCode>>,
) -> Verdict<'a> {
    let mut response = BatchResponse::default();
    for (index, event) in events.iter().enumerate() {
        if let Err(code) = event {
            response.rejected.push(Rejection {
                index: index as u32,
                code: *code,
            });
        }
    }
    if registry.is_opted_out(subject.org, subject.user) {
        response.opted_out = true;
        response.discarded = (events.len() - response.rejected.len()) as u32;
        return Verdict {
            accepted: Vec::new(),
            reservation: dedupe.reserve(Vec::new(), &mut Vec::new()),
            response,
        };
    }
    let keys = dedupe.keys(subject.org, events.iter().flatten().map(|e| e.id));
    let mut fresh = Vec::with_capacity(keys.len());
    let reservation = dedupe.reserve(keys, &mut fresh);
    let mut new = fresh.iter();
    // Collected in place: the events stay in the batch's own allocation.
    let accepted: Vec<Event> = events
        .into_iter()
        .filter_map(Result::ok)
        .filter(|_| new.next().is_some_and(|&new| new))
        .collect();
    response.accepted = accepted.len() as u32;
    response.duplicates = (fresh.len() - accepted.len()) as u32;
    Verdict {
        accepted,
        reservation,
        response,
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use std::sync::Arc;

    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;
    use crate::model::{Actor, Author, Role, User};
    use crate::store::sqlite::SqliteStore;
    use crate::store::Store as _;

    fn event(id: Uuid) -> Result<Event, RejectCode> {
        Ok(Event::new(id, "screen.view", OffsetDateTime::now_utc(), None, None).expect("valid"))
    }

    async fn registry() -> Registry {
        let store = SqliteStore::in_memory().await.expect("store");
        store.ensure_org("acme").await.expect("org");
        let users: Vec<User> = ["bob", "carol"]
            .iter()
            .map(|id| User {
                id: (*id).into(),
                name: (*id).into(),
                email: String::new(),
                role: Role::User,
            })
            .collect();
        store
            .upsert_users("acme", &users, &Author::system())
            .await
            .expect("users");
        Registry::open(Arc::new(store)).await.expect("registry")
    }

    #[test]
    fn accepted_events_keep_the_batch_allocation() {
        // `check_batch` relies on collecting in place; this fails if the
        // event types ever change so that it cannot.
        let events: Vec<Result<Event, RejectCode>> = vec![event(Uuid::now_v7()); 4];
        let before = events.as_ptr() as usize;
        let accepted: Vec<Event> = events.into_iter().filter_map(Result::ok).collect();
        assert_eq!(accepted.as_ptr() as usize, before);
    }

    #[tokio::test]
    async fn the_registry_decides_not_the_token() {
        let registry = registry().await;
        let dedupe = Dedupe::default();
        let bob = Subject {
            org: "acme",
            user: "bob",
        };
        let verdict = check_batch(&registry, &dedupe, bob, vec![event(Uuid::now_v7())]);
        assert_eq!(verdict.response.accepted, 1);
        assert!(!verdict.response.opted_out);

        registry
            .opt_out("acme", &["bob".into()], &Actor::System)
            .await
            .expect("opt out");
        let verdict = check_batch(
            &registry,
            &dedupe,
            bob,
            vec![
                event(Uuid::now_v7()),
                Err(RejectCode::InvalidName),
                event(Uuid::now_v7()),
            ],
        );
        assert!(verdict.accepted.is_empty());
        assert_eq!(verdict.response.discarded, 2);
        assert!(verdict.response.opted_out);
        assert_eq!(
            verdict.response.rejected,
            [Rejection {
                index: 1,
                code: RejectCode::InvalidName
            }]
        );

        let carol = Subject {
            org: "acme",
            user: "carol",
        };
        let verdict = check_batch(&registry, &dedupe, carol, vec![event(Uuid::now_v7())]);
        assert_eq!(verdict.response.accepted, 1, "another user is not affected");
    }

    #[tokio::test]
    async fn an_id_accepted_before_is_a_duplicate() {
        let registry = registry().await;
        let dedupe = Dedupe::default();
        let bob = Subject {
            org: "acme",
            user: "bob",
        };
        let id = Uuid::now_v7();
        let verdict = check_batch(&registry, &dedupe, bob, vec![event(id), event(id)]);
        assert_eq!(
            (verdict.response.accepted, verdict.response.duplicates),
            (1, 1)
        );
        let again = check_batch(&registry, &dedupe, bob, vec![event(id)]);
        assert_eq!((again.response.accepted, again.response.duplicates), (0, 1));
        drop(verdict);
        let retried = check_batch(&registry, &dedupe, bob, vec![event(id)]);
        assert_eq!(
            retried.response.accepted, 1,
            "an id whose batch was not stored is accepted on retry"
        );
        retried.reservation.commit();
        let stored = check_batch(&registry, &dedupe, bob, vec![event(id)]);
        assert_eq!(
            (stored.response.accepted, stored.response.duplicates),
            (0, 1),
            "an id whose batch was stored stays a duplicate"
        );
    }
}
