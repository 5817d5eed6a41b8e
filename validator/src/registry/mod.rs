//! The opt-out registry: the durable store plus the in-memory snapshot that
//! answers `is_opted_out` on the hot path.
//!
//! Every change is committed to the store first; the snapshot then catches up
//! from the change log in revision order before the call returns. Instances
//! that share a store keep their snapshot current the same way (polling, or
//! notifications where the store has them), and report themselves stale when
//! they cannot reach the store.

#[cfg(feature = "postgres")]
pub mod feed;
mod shared_read;
mod snapshot;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use snapshot::Snapshot;
use usage_protocol::is_valid_id;

use crate::model::{Author, Change, Role, User, UserStatus};
use crate::store::Store;
use crate::{Error, Result};

/// Most users one opt-out or opt-in call may name.
pub const MAX_USERS_PER_CHANGE: usize = 1000;

/// Default bound on how old the last confirmed sync may be before the
/// registry is treated as unavailable.
pub const DEFAULT_STALENESS_BOUND: Duration = Duration::from_secs(5);

/// With the head check on, how long an opt-out or opt-in waits after its
/// commit before it returns, and so how recent a head read must be to judge
/// a batch without another (see [`Registry::ensure_fresh`]). One value for
/// every instance: the guarantee rests on writers waiting at least as long
/// as readers trust a read.
pub const SETTLE_TIME: Duration = Duration::from_millis(50);

/// What one opt-out or opt-in call changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// The changes written, one per user whose state changed.
    pub changes: Vec<Change>,
    /// The registry revision after the call.
    pub rev: u64,
}

/// The registry: store, snapshot and sync state.
#[derive(Debug)]
pub struct Registry {
    store: Arc<dyn Store>,
    snapshot: RwLock<Snapshot>,
    sync_gate: tokio::sync::Mutex<()>,
    epoch: Instant,
    // Milliseconds since `epoch` of the last successful read of the change
    // log, or 0 when the registry must not be trusted until it syncs again.
    confirmed_at_ms: AtomicU64,
    staleness_bound: Duration,
    check_head_per_read: bool,
    head_reads: shared_read::SharedRead<HeadRead>,
    // Microseconds since `epoch` at which the newest head read that brought
    // the snapshot to the head started (0: none yet).
    settled_from_us: AtomicU64,
}

/// How one shared read of the store's head ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadRead {
    /// The snapshot holds every change up to the head read.
    Current,
    /// The head was read but the snapshot could not reach it.
    Behind,
    /// The head could not be read.
    Unknown,
}

impl Registry {
    /// Loads the snapshot from `store`.
    pub async fn open(store: Arc<dyn Store>) -> Result<Self> {
        let state = store.opt_out_state().await?;
        Ok(Self::with_snapshot(store, Snapshot::from_state(state)))
    }

    /// A registry over `store` starting from a snapshot built elsewhere (a
    /// benchmark's synthetic data, a state loaded by other means); it catches
    /// up from the store's change log from `snapshot.rev()` on.
    pub fn with_snapshot(store: Arc<dyn Store>, snapshot: Snapshot) -> Self {
        let registry = Self {
            store,
            snapshot: RwLock::new(snapshot),
            sync_gate: tokio::sync::Mutex::new(()),
            epoch: Instant::now(),
            confirmed_at_ms: AtomicU64::new(0),
            staleness_bound: DEFAULT_STALENESS_BOUND,
            check_head_per_read: false,
            head_reads: shared_read::SharedRead::default(),
            settled_from_us: AtomicU64::new(0),
        };
        registry.mark_confirmed();
        registry
    }

    /// Sets how old the last confirmed sync may be (default 5 s).
    pub fn with_staleness_bound(mut self, bound: Duration) -> Self {
        self.staleness_bound = bound;
        self
    }

    /// With `true`, [`Registry::ensure_fresh`] makes sure of the store's head
    /// revision and catches up before answering, and opt-outs and opt-ins
    /// return [`SETTLE_TIME`] after their commit: for stores shared by many
    /// instances, where another instance may have committed a change a
    /// moment ago. Off by default (one process owns an embedded store).
    pub fn with_head_check(mut self, check: bool) -> Self {
        self.check_head_per_read = check;
        self
    }

    /// Makes sure the snapshot includes every change whose call returned
    /// before this call, or, if the store cannot be asked, that the last
    /// confirmation is within the staleness bound. Ingestion calls this
    /// before deciding.
    ///
    /// With the head check on, a change returns [`SETTLE_TIME`] after its
    /// commit, so a head read that started less than that before this call
    /// started after the commit of any change that has returned, and saw it:
    /// its snapshot answers without another read. Otherwise callers share a
    /// head read that starts after them, at most one at a time (see
    /// `shared_read.rs`). Under load that is one read per settle time, not
    /// one per round trip to the store.
    pub async fn ensure_fresh(&self) -> Result<()> {
        if !self.check_head_per_read {
            return self.ensure_current();
        }
        let settled_from = self.settled_from_us.load(Ordering::Acquire);
        if settled_from != 0
            && self.now_us().saturating_sub(settled_from) < SETTLE_TIME.as_micros() as u64
        {
            return Ok(());
        }
        match self.head_reads.run(|| self.read_head()).await {
            HeadRead::Current => Ok(()),
            // The newest change could not be applied: deciding without it is
            // exactly what must not happen.
            HeadRead::Behind => Err(Error::RegistryUnavailable),
            HeadRead::Unknown => self.ensure_current(),
        }
    }

    /// Reads the store's head and catches up to it.
    async fn read_head(&self) -> HeadRead {
        // Taken before the query leaves, so no later than the store's view.
        let started = self.now_us().max(1);
        match self.store.head_revision().await {
            Ok(head) => {
                if head > self.revision() {
                    match self.catch_up().await {
                        Ok(rev) if rev >= head => {}
                        Ok(_) | Err(_) => return HeadRead::Behind,
                    }
                }
                self.mark_confirmed();
                self.settled_from_us.fetch_max(started, Ordering::AcqRel);
                HeadRead::Current
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the registry head; relying on the last sync");
                HeadRead::Unknown
            }
        }
    }

    /// The store behind the registry.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether `user` of `org` is opted out, by the snapshot as it stands now.
    #[inline]
    pub fn is_opted_out(&self, org: &str, user: &str) -> bool {
        self.read_snapshot().contains(org, user)
    }

    /// The revision of the newest change in the snapshot.
    pub fn revision(&self) -> u64 {
        self.read_snapshot().rev()
    }

    /// How many users are opted out, over all orgs.
    pub fn opted_out_count(&self) -> usize {
        self.read_snapshot().len()
    }

    fn read_snapshot(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        // A panic while holding the lock cannot leave the snapshot half
        // applied (`apply` mutates after its checks), so a poisoned lock is
        // still consistent.
        self.snapshot.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails with [`Error::RegistryUnavailable`] when the last confirmed sync is
    /// older than the staleness bound.
    pub fn ensure_current(&self) -> Result<()> {
        match self.confirmed_age() {
            Some(age) if age <= self.staleness_bound => Ok(()),
            _ => Err(Error::RegistryUnavailable),
        }
    }

    /// How long ago the registry last confirmed it was current; `None` if it
    /// was marked stale since.
    pub fn confirmed_age(&self) -> Option<Duration> {
        let at = self.confirmed_at_ms.load(Ordering::Acquire);
        (at != 0).then(|| {
            let now = self.epoch.elapsed().as_millis() as u64;
            Duration::from_millis(now.saturating_sub(at))
        })
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn mark_confirmed(&self) {
        let now = (self.epoch.elapsed().as_millis() as u64).max(1);
        self.confirmed_at_ms.store(now, Ordering::Release);
    }

    /// Marks the registry untrusted until the next successful sync, for
    /// instance when a notification channel from the store was lost.
    pub fn mark_stale(&self) {
        self.confirmed_at_ms.store(0, Ordering::Release);
        self.settled_from_us.store(0, Ordering::Release);
    }

    /// Applies every change the store has beyond the snapshot, in order, and
    /// confirms the registry current. Returns the revision reached.
    pub async fn catch_up(&self) -> Result<u64> {
        const PAGE: u32 = 10_000;
        let _gate = self.sync_gate.lock().await;
        loop {
            let from = self.revision();
            // A failed read leaves the last confirmation standing: the
            // staleness bound, not one failed query, decides when to refuse.
            let changes = self.store.changes_since(from, PAGE).await?;
            let mut snapshot = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
            for change in &changes {
                if !snapshot.apply(change) {
                    // A revision is missing from the log (a write still in
                    // flight in another transaction): stop here and read
                    // again later rather than skip it.
                    drop(snapshot);
                    tracing::debug!(at = from, next = change.rev, "gap in change log");
                    return Ok(self.revision());
                }
            }
            if changes.len() < PAGE as usize {
                drop(snapshot);
                self.mark_confirmed();
                return Ok(self.revision());
            }
        }
    }

    /// Reloads the whole snapshot from the store, replacing the one in memory.
    pub async fn reload(&self) -> Result<u64> {
        let _gate = self.sync_gate.lock().await;
        let state = self.store.opt_out_state().await?;
        let fresh = Snapshot::from_state(state);
        let rev = fresh.rev();
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.mark_confirmed();
        Ok(rev)
    }

    /// Opts `users` of `org` out of tracking. Idempotent: users already opted
    /// out are left as they are and write no change.
    pub async fn opt_out(
        &self,
        org: &str,
        users: &[String],
        author: impl Into<Author>,
    ) -> Result<ChangeSummary> {
        self.set_opted_out(org, users, true, &author.into()).await
    }

    /// Opts `users` of `org` back in. Idempotent.
    pub async fn opt_in(
        &self,
        org: &str,
        users: &[String],
        author: impl Into<Author>,
    ) -> Result<ChangeSummary> {
        self.set_opted_out(org, users, false, &author.into()).await
    }

    async fn set_opted_out(
        &self,
        org: &str,
        users: &[String],
        opted_out: bool,
        author: &Author,
    ) -> Result<ChangeSummary> {
        let unique = checked_ids(org, users)?;
        let changes = self
            .store
            .set_opted_out(org, &unique, opted_out, author)
            .await?;
        // The commit is done; make the snapshot show it before returning, or
        // refuse to vouch for the registry until it does.
        let newest = changes.last().map_or(0, |c| c.rev);
        let rev = self.catch_up().await?;
        if rev < newest {
            self.mark_stale();
            return Err(Error::RegistryUnavailable);
        }
        if self.check_head_per_read {
            // Other instances judge batches on head reads up to this old
            // (see `ensure_fresh`): once it has passed, every read they
            // trust started after the commit. A call that changed nothing
            // waits too: what it found may be another call's commit of a
            // moment ago, which this return must not get ahead of.
            tokio::time::sleep(SETTLE_TIME).await;
        }
        Ok(ChangeSummary { changes, rev })
    }

    /// Adds or updates one directory user.
    pub async fn upsert_user(
        &self,
        org: &str,
        user: &User,
        author: impl Into<Author>,
    ) -> Result<()> {
        check_user(user)?;
        self.store
            .upsert_users(org, std::slice::from_ref(user), &author.into())
            .await?;
        Ok(())
    }

    /// Sets the directory status of `users`: deactivated and removed users
    /// leave the page's drop-down and are refused status tokens; their
    /// opt-out state stays as it is. Returns the ids whose status changed.
    pub async fn set_user_status(
        &self,
        org: &str,
        users: &[String],
        status: UserStatus,
        author: impl Into<Author>,
    ) -> Result<Vec<String>> {
        let unique = checked_ids(org, users)?;
        self.store
            .set_user_status(org, &unique, status, &author.into())
            .await
    }

    /// Makes sure `id` is in the org's directory (as a plain user if new) and
    /// returns the record. A given name or email updates the record; the role
    /// is never changed here. A deactivated or removed user is refused with
    /// [`Error::InactiveUser`]: they are not issued tokens.
    pub async fn ensure_user(
        &self,
        org: &str,
        id: &str,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<User> {
        check_id(id)?;
        let existing = match self.store.user_with_status(org, id).await? {
            Some((_, status @ (UserStatus::Deactivated | UserStatus::Removed))) => {
                return Err(Error::InactiveUser {
                    user: id.to_owned(),
                    status,
                })
            }
            Some((user, UserStatus::Active)) => Some(user),
            None => None,
        };
        let wanted = match &existing {
            Some(user) => User {
                name: name.unwrap_or(&user.name).to_owned(),
                email: email.unwrap_or(&user.email).to_owned(),
                ..user.clone()
            },
            None => User {
                id: id.to_owned(),
                name: name.unwrap_or(id).to_owned(),
                email: email.unwrap_or_default().to_owned(),
                role: Role::User,
            },
        };
        if existing.as_ref() != Some(&wanted) {
            check_user(&wanted)?;
            self.store
                .upsert_users(org, std::slice::from_ref(&wanted), &Author::system())
                .await?;
        }
        Ok(wanted)
    }
}

/// Checks the org and user ids of one change and drops repeated users,
/// keeping the first of each.
fn checked_ids(org: &str, users: &[String]) -> Result<Vec<String>> {
    check_id(org)?;
    if users.len() > MAX_USERS_PER_CHANGE {
        return Err(Error::InvalidInput(format!(
            "at most {MAX_USERS_PER_CHANGE} users per call"
        )));
    }
    let mut seen = HashSet::with_capacity(users.len());
    let mut unique = Vec::with_capacity(users.len());
    for user in users {
        check_id(user)?;
        if seen.insert(user.as_str()) {
            unique.push(user.clone());
        }
    }
    Ok(unique)
}

/// Checks an org or user id.
pub fn check_id(id: &str) -> Result<()> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(Error::InvalidId(id.chars().take(140).collect()))
    }
}

/// Longest display name or email, in bytes.
pub const MAX_TEXT_LEN: usize = 256;

/// Checks a directory record before it is stored.
pub fn check_user(user: &User) -> Result<()> {
    check_id(&user.id)?;
    for (field, value) in [("name", &user.name), ("email", &user.email)] {
        if value.len() > MAX_TEXT_LEN || value.chars().any(char::is_control) {
            return Err(Error::InvalidInput(format!(
                "{field} must be at most {MAX_TEXT_LEN} bytes without control characters"
            )));
        }
    }
    if user.name.trim().is_empty() {
        return Err(Error::InvalidInput("name must not be empty".into()));
    }
    Ok(())
}

#[cfg(all(test, feature = "sqlite"))]
mod tests;
