use std::hash::{Hash, Hasher};

use hashbrown::{DefaultHashBuilder, Equivalent, HashSet};

use crate::model::Change;
use crate::store::OptOutState;

/// The opted-out users of every org, in memory, at one revision of the change log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    rev: u64,
    // One flat table of (org, user) pairs under a keyed hash (foldhash, seeded
    // at random per table): a lookup hashes once and probes once, and a miss
    // seldom reads past the table's control bytes.
    pairs: HashSet<Pair, DefaultHashBuilder>,
}

/// An opted-out user of an org; both ids share one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    /// The org id followed by the user id.
    text: Box<str>,
    org_len: usize,
}

impl Pair {
    fn org(&self) -> &str {
        &self.text[..self.org_len]
    }

    fn user(&self) -> &str {
        &self.text[self.org_len..]
    }
}

/// A pair to look up, borrowed from the caller; hashes exactly like [`Pair`].
#[derive(Hash)]
struct Probe<'a> {
    org: &'a str,
    user: &'a str,
}

impl Probe<'_> {
    fn to_pair(&self) -> Pair {
        let mut text = String::with_capacity(self.org.len() + self.user.len());
        text.push_str(self.org);
        text.push_str(self.user);
        Pair {
            text: text.into_boxed_str(),
            org_len: self.org.len(),
        }
    }
}

impl Hash for Pair {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Probe {
            org: self.org(),
            user: self.user(),
        }
        .hash(state);
    }
}

impl Equivalent<Pair> for Probe<'_> {
    fn equivalent(&self, pair: &Pair) -> bool {
        pair.org_len == self.org.len() && pair.org() == self.org && pair.user() == self.user
    }
}

impl Snapshot {
    /// Builds a snapshot from a consistent read of the store.
    pub fn from_state(state: OptOutState) -> Self {
        let pairs = state
            .opted_out
            .iter()
            .map(|(org, user)| Probe { org, user }.to_pair())
            .collect();
        Self {
            rev: state.rev,
            pairs,
        }
    }

    /// The newest change applied.
    pub fn rev(&self) -> u64 {
        self.rev
    }

    /// Whether `user` of `org` is opted out.
    #[inline]
    pub fn contains(&self, org: &str, user: &str) -> bool {
        self.pairs.contains(&Probe { org, user })
    }

    /// How many users are opted out, over all orgs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether nobody is opted out.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Applies the next change of the log. Returns false, applying nothing, if
    /// `change` is not the revision right after this snapshot's.
    pub fn apply(&mut self, change: &Change) -> bool {
        if change.rev != self.rev + 1 {
            return false;
        }
        let probe = Probe {
            org: &change.org,
            user: &change.user,
        };
        if change.opted_out {
            self.pairs.get_or_insert_with(&probe, Probe::to_pair);
        } else {
            self.pairs.remove(&probe);
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

    fn state(rev: u64, pairs: &[(&str, &str)]) -> OptOutState {
        OptOutState {
            rev,
            opted_out: pairs
                .iter()
                .map(|(org, user)| ((*org).into(), (*user).into()))
                .collect(),
        }
    }

    #[test]
    fn a_user_is_opted_out_in_their_own_org_only() {
        let snapshot =
            Snapshot::from_state(state(7, &[("ab", "c"), ("acme", "bob"), ("acme", "bob")]));
        assert_eq!(snapshot.len(), 2, "a repeated pair counts once");
        assert_eq!(snapshot.rev(), 7);
        assert!(snapshot.contains("ab", "c"));
        assert!(
            !snapshot.contains("a", "bc"),
            "the split between org and user matters"
        );
        assert!(!snapshot.contains("abc", ""));
        assert!(snapshot.contains("acme", "bob"));
        assert!(!snapshot.contains("other", "bob"));
        assert!(!snapshot.contains("acme", "bobby"));
    }

    #[test]
    fn snapshots_with_the_same_pairs_are_equal() {
        let built = Snapshot::from_state(state(10, &[("acme", "bob"), ("acme", "carol")]));
        let mut applied = Snapshot::from_state(state(7, &[("acme", "carol"), ("acme", "dave")]));
        assert_ne!(built, applied);
        assert!(applied.apply(&change(8, "bob", true)));
        assert!(applied.apply(&change(9, "dave", false)));
        assert!(
            applied.apply(&change(10, "bob", true)),
            "opting out twice is harmless"
        );
        assert_eq!(built, applied);
    }

    #[test]
    fn changes_apply_in_revision_order_only() {
        let mut snapshot = Snapshot::default();
        assert!(!snapshot.apply(&change(2, "bob", true)), "gap refused");
        assert!(snapshot.apply(&change(1, "bob", true)));
        assert!(snapshot.contains("acme", "bob"));
        assert!(!snapshot.is_empty());
        assert!(!snapshot.contains("acme", "carol"));
        assert!(!snapshot.contains("other", "bob"));
        assert!(!snapshot.apply(&change(1, "bob", false)), "replay refused");
        assert!(snapshot.apply(&change(2, "bob", false)));
        assert!(!snapshot.contains("acme", "bob"));
        assert!(snapshot.is_empty());
        assert_eq!(snapshot.rev(), 2);
    }
}
