use std::collections::{HashMap, HashSet};

use crate::registry::model::Change;
use crate::store::OptOutState;

/// The opted-out users of every org, in memory, at one revision of the change log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    rev: u64,
    orgs: HashMap<Box<str>, HashSet<Box<str>>>,
}

impl Snapshot {
    /// Builds a snapshot from a consistent read of the store.
    pub fn from_state(state: OptOutState) -> Self {
        let mut orgs: HashMap<Box<str>, HashSet<Box<str>>> = HashMap::new();
        for (org, user) in state.opted_out {
            orgs.entry(org.into_boxed_str())
                .or_default()
                .insert(user.into_boxed_str());
        }
        Self {
            rev: state.rev,
            orgs,
        }
    }

    /// The newest change applied.
    pub fn rev(&self) -> u64 {
        self.rev
    }

    /// Whether `user` of `org` is opted out.
    #[inline]
    pub fn contains(&self, org: &str, user: &str) -> bool {
        self.orgs.get(org).is_some_and(|users| users.contains(user))
    }

    /// How many users are opted out, over all orgs.
    pub fn len(&self) -> usize {
        self.orgs.values().map(HashSet::len).sum()
    }

    /// Whether nobody is opted out.
    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }

    /// Applies the next change of the log. Returns false, applying nothing, if
    /// `change` is not the revision right after this snapshot's.
    pub fn apply(&mut self, change: &Change) -> bool {
        if change.rev != self.rev + 1 {
            return false;
        }
        if change.opted_out {
            self.orgs
                .entry(change.org.as_str().into())
                .or_default()
                .insert(change.user.as_str().into());
        } else if let Some(users) = self.orgs.get_mut(change.org.as_str()) {
            users.remove(change.user.as_str());
            if users.is_empty() {
                self.orgs.remove(change.org.as_str());
            }
        }
        self.rev = change.rev;
        true
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn change(rev: u64, user: &str, opted_out: bool) -> Change {
        Change {
            rev,
            org: "acme".into(),
            user: user.into(),
            opted_out,
            actor: "system".into(),
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn changes_apply_in_revision_order_only() {
        let mut snapshot = Snapshot::default();
        assert!(!snapshot.apply(&change(2, "bob", true)), "gap refused");
        assert!(snapshot.apply(&change(1, "bob", true)));
        assert!(snapshot.contains("acme", "bob"));
        assert!(!snapshot.contains("acme", "carol"));
        assert!(!snapshot.contains("other", "bob"));
        assert!(!snapshot.apply(&change(1, "bob", false)), "replay refused");
        assert!(snapshot.apply(&change(2, "bob", false)));
        assert!(!snapshot.contains("acme", "bob"));
        assert!(snapshot.is_empty());
        assert_eq!(snapshot.rev(), 2);
    }
}
