//! The cached opt-out flag that `track()` consults before doing anything else.

use std::sync::atomic::{AtomicU64, Ordering};

/// What `track()` does with a new event right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No one is logged in: events are held until the next login.
    NoSession,
    /// A user who is not opted out is logged in: events are queued.
    Active,
    /// The logged-in user is opted out: events are dropped at once.
    OptedOut,
    /// `DO_NOT_TRACK` is set: nothing is recorded.
    DoNotTrack,
    /// The tracker was shut down.
    Closed,
}

impl Mode {
    fn bits(self) -> u64 {
        match self {
            Self::NoSession => 0,
            Self::Active => 1,
            Self::OptedOut => 2,
            Self::DoNotTrack => 3,
            Self::Closed => 4,
        }
    }

    fn from_bits(bits: u64) -> Self {
        match bits {
            0 => Self::NoSession,
            1 => Self::Active,
            2 => Self::OptedOut,
            3 => Self::DoNotTrack,
            _ => Self::Closed,
        }
    }
}

const MODE_BITS: u32 = 3;
const MODE_MASK: u64 = (1 << MODE_BITS) - 1;

/// The mode plus a login generation in one atomic word, so a late server hint
/// about an earlier login can never flip the flag of a later one.
#[derive(Debug)]
pub struct Gate {
    word: AtomicU64,
}

impl Gate {
    /// A gate in `mode`, at generation 0.
    pub fn new(mode: Mode) -> Self {
        Self {
            word: AtomicU64::new(mode.bits()),
        }
    }

    /// The current mode.
    #[inline]
    pub fn mode(&self) -> Mode {
        Mode::from_bits(self.word.load(Ordering::Acquire) & MODE_MASK)
    }

    /// The current login generation.
    pub fn generation(&self) -> u64 {
        self.word.load(Ordering::Acquire) >> MODE_BITS
    }

    /// Starts a new generation in `mode`, unless the gate is closed or disabled;
    /// returns the new generation.
    pub fn advance(&self, mode: Mode) -> u64 {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let generation = (current >> MODE_BITS) + 1;
            let keep = matches!(
                Mode::from_bits(current & MODE_MASK),
                Mode::DoNotTrack | Mode::Closed
            );
            let next = if keep {
                current
            } else {
                (generation << MODE_BITS) | mode.bits()
            };
            match self
                .word
                .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return next >> MODE_BITS,
                Err(actual) => current = actual,
            }
        }
    }

    /// The server said the user of `generation` is opted out: drop their events
    /// from now on, if that login is still the current one.
    pub fn server_opted_out(&self, generation: u64) -> bool {
        let active = (generation << MODE_BITS) | Mode::Active.bits();
        let opted_out = (generation << MODE_BITS) | Mode::OptedOut.bits();
        self.word
            .compare_exchange(active, opted_out, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Closes the gate for good.
    pub fn close(&self) {
        let generation = self.generation();
        self.word.store(
            (generation << MODE_BITS) | Mode::Closed.bits(),
            Ordering::Release,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_about_an_old_login_does_not_touch_the_new_one() {
        let gate = Gate::new(Mode::NoSession);
        let first = gate.advance(Mode::Active);
        let second = gate.advance(Mode::Active);
        assert!(!gate.server_opted_out(first));
        assert_eq!(gate.mode(), Mode::Active);
        assert!(gate.server_opted_out(second));
        assert_eq!(gate.mode(), Mode::OptedOut);
    }

    #[test]
    fn do_not_track_survives_logins() {
        let gate = Gate::new(Mode::DoNotTrack);
        gate.advance(Mode::Active);
        assert_eq!(gate.mode(), Mode::DoNotTrack);
    }
}
