//! Event ids (UUIDv7) and the jitter source, from one seeded generator.

use std::sync::atomic::{AtomicU64, Ordering};

use uuid::{Builder, Uuid};

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A lock-free SplitMix64 generator. Ids need uniqueness, not secrecy: the
/// platform seeds it from the OS, and each id also carries its millisecond.
#[derive(Debug)]
pub struct IdGen {
    state: AtomicU64,
}

impl IdGen {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// The next pseudo-random number.
    pub fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A UUIDv7 for an event made at `unix_ms`.
    pub fn uuid_v7(&self, unix_ms: u64) -> Uuid {
        let high = self.next_u64().to_le_bytes();
        let low = self.next_u64().to_le_bytes();
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&high);
        random[8..].copy_from_slice(&low[..2]);
        Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_and_ordered_by_time() {
        let ids = IdGen::new(1);
        let early = ids.uuid_v7(1_700_000_000_000);
        let late = ids.uuid_v7(1_700_000_000_001);
        assert_eq!(early.get_version_num(), 7);
        assert!(early < late);
        assert_ne!(ids.uuid_v7(5), ids.uuid_v7(5));
    }
}
