//! When to send, and which events go together in one batch (the body is
//! written by [`super::encoded::encode_batch`]).

use usage_protocol::limits::{MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH};
use uuid::Uuid;

use super::queue::{Pending, UserKey};

/// Default number of events that triggers a send.
pub const DEFAULT_BATCH_SIZE: usize = 50;
/// How many batches' worth of waiting events make a backlog, which goes in
/// batches as large as the collector takes (see [`BatchPolicy::drain_backlog`]).
/// Fewer go in batches of the configured size, as when none waits.
pub const BACKLOG_BATCHES: usize = 10;
/// Default longest wait of a ready event before a send, in milliseconds.
pub const DEFAULT_BATCH_INTERVAL_MS: u64 = 5_000;
/// Room kept in a body for the envelope around the events (`sent_at`, `sdk`).
const ENVELOPE_RESERVE: usize = 1_024;

/// How batches are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Events that trigger a send (1..=500), and the most one batch carries
    /// unless `drain_backlog`.
    pub size: usize,
    /// Longest wait of a ready event before a send, in milliseconds.
    pub interval_ms: u64,
    /// When a backlog of [`BACKLOG_BATCHES`] batches or more waits (a burst,
    /// the queue after an outage), a batch carries as many events as the
    /// collector takes (500, and 1 MiB): a backlog drains in a tenth of the
    /// requests. Native only by default: a page that is being left sends its
    /// last batches with `keepalive`, whose budget is 64 KiB.
    pub drain_backlog: bool,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self {
            size: DEFAULT_BATCH_SIZE,
            interval_ms: DEFAULT_BATCH_INTERVAL_MS,
            drain_backlog: !cfg!(target_arch = "wasm32"),
        }
    }
}

impl BatchPolicy {
    /// The batch size within the collector's limit.
    pub fn max_events(&self) -> usize {
        self.size.clamp(1, MAX_EVENTS_PER_BATCH)
    }

    /// The most events one batch carries.
    fn most_events(&self) -> usize {
        if self.drain_backlog {
            MAX_EVENTS_PER_BATCH
        } else {
            self.max_events()
        }
    }
}

/// The next batch: the oldest sendable events of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Whose events they are (one token per batch).
    pub user: UserKey,
    /// The events' ids, in queue order.
    pub ids: Vec<Uuid>,
}

/// Picks the next batch from `items` (queue order), taking only events of users
/// for which `sendable` holds, at most `cap` events and one body's worth of bytes.
/// Returns `None` when nothing is due yet: fewer than a batch and the oldest has
/// waited less than the interval, unless `now_anyway` (flush, logout).
pub fn select<'a>(
    items: impl Iterator<Item = &'a Pending>,
    sendable: impl Fn(&UserKey) -> bool,
    policy: &BatchPolicy,
    cap: usize,
    now: u64,
    now_anyway: bool,
) -> Option<Selection> {
    // A batch is due once `due` events wait, and carries up to `cap`.
    let due = cap.clamp(1, policy.max_events());
    let cap = cap.clamp(1, policy.most_events());
    let mut user: Option<UserKey> = None;
    let mut ids = Vec::new();
    let mut bytes = ENVELOPE_RESERVE;
    let mut oldest_ready = u64::MAX;
    let mut body_full = false;
    for pending in items {
        let Some(owner) = &pending.user else { continue };
        if pending.in_flight {
            continue;
        }
        match &user {
            None if sendable(owner) => user = Some(owner.clone()),
            Some(chosen) if chosen == owner => {}
            _ => continue,
        }
        if ids.len() == cap {
            break;
        }
        if bytes + pending.size + 1 > MAX_BODY_BYTES {
            body_full = true;
            break;
        }
        bytes += pending.size + 1;
        oldest_ready = oldest_ready.min(pending.ready_at);
        ids.push(pending.event.id);
    }
    let user = user?;
    if ids.len() < (BACKLOG_BATCHES * due).min(cap) {
        // No backlog: a batch of the configured size.
        ids.truncate(due);
    }
    let full = ids.len() >= due || body_full;
    let waited = now.saturating_sub(oldest_ready) >= policy.interval_ms;
    (full || waited || now_anyway).then_some(Selection { user, ids })
}

/// When the first waiting event of a sendable user falls due by the interval.
/// Events become ready in queue order (released and restored ones earlier
/// still), so the first one found is the one due first; the walk stops there.
pub fn due_at<'a>(
    mut items: impl Iterator<Item = &'a Pending>,
    sendable: impl Fn(&UserKey) -> bool,
    policy: &BatchPolicy,
) -> Option<u64> {
    items
        .find(|p| !p.in_flight && p.user.as_ref().is_some_and(&sendable))
        .map(|p| p.ready_at.saturating_add(policy.interval_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: u128, user: &str, size: usize, ready_at: u64) -> Pending {
        Pending::sample(n, Some(user), size, ready_at)
    }

    const POLICY: BatchPolicy = BatchPolicy {
        size: 3,
        interval_ms: 5_000,
        drain_backlog: false,
    };

    #[test]
    fn a_backlog_goes_in_batches_up_to_the_collector_limit_when_drained() {
        let draining = BatchPolicy {
            drain_backlog: true,
            ..POLICY
        };
        let items: Vec<Pending> = (0..600).map(|n| pending(n, "a/b", 10, 1_000)).collect();
        let take = |policy: &BatchPolicy, n: usize, cap: usize| {
            select(items[..n].iter(), |_| true, policy, cap, 1_000, false).map(|s| s.ids.len())
        };
        // Due at `size` events either way; a batch grows only once ten
        // batches' worth wait.
        assert_eq!(take(&draining, 2, usize::MAX), None);
        assert_eq!(take(&draining, 3, usize::MAX), Some(3));
        assert_eq!(take(&draining, 29, usize::MAX), Some(3));
        assert_eq!(take(&draining, 30, usize::MAX), Some(30));
        assert_eq!(take(&draining, 31, usize::MAX), Some(31));
        assert_eq!(take(&draining, 600, usize::MAX), Some(MAX_EVENTS_PER_BATCH));
        assert_eq!(take(&POLICY, 600, usize::MAX), Some(3));
        // A split after a 413 still bounds the batch.
        assert_eq!(take(&draining, 600, 40), Some(40));
        assert_eq!(take(&draining, 600, 20), Some(20));
        assert_eq!(take(&draining, 2, 2), Some(2));
    }

    #[test]
    fn a_few_events_wait_for_the_interval() {
        let items = [pending(1, "a/b", 10, 1_000)];
        assert!(select(items.iter(), |_| true, &POLICY, 500, 5_999, false).is_none());
        let due = select(items.iter(), |_| true, &POLICY, 500, 6_000, false).expect("due");
        assert_eq!(due.ids, [Uuid::from_u128(1)]);
        assert_eq!(due_at(items.iter(), |_| true, &POLICY), Some(6_000));
    }

    #[test]
    fn a_full_batch_goes_at_once_and_holds_one_user() {
        let items: Vec<_> = (0..5)
            .map(|n| pending(n, if n == 1 { "a/other" } else { "a/b" }, 10, 0))
            .collect();
        let batch = select(items.iter(), |_| true, &POLICY, 500, 0, false).expect("full");
        assert_eq!(batch.ids, [0, 2, 3].map(Uuid::from_u128));
        assert_eq!(&*batch.user, "a/b");
    }

    #[test]
    fn a_batch_stays_under_one_mebibyte() {
        let items: Vec<_> = (0..3).map(|n| pending(n, "a/b", 400 * 1024, 0)).collect();
        let batch = select(items.iter(), |_| true, &POLICY, 500, 0, false).expect("big");
        assert_eq!(batch.ids, [0, 1].map(Uuid::from_u128));
    }

    #[test]
    fn users_who_cannot_send_are_skipped() {
        let items = [pending(1, "a/paused", 10, 0), pending(2, "a/b", 10, 0)];
        let batch = select(items.iter(), |u| &**u != "a/paused", &POLICY, 500, 0, true).expect("b");
        assert_eq!(batch.ids, [Uuid::from_u128(2)]);
    }
}
