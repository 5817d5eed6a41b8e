//! A hasher for tables keyed by event id. Ids are UUIDv7: 74 random bits the
//! SDK made itself, so folding the id's words with a multiply spreads keys as
//! well as SipHash does here, at a fraction of its cost on the delivery path.

use std::hash::{BuildHasherDefault, Hasher};

/// Folds the bytes written into one word.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        // The top bits are the best mixed; the table uses the low ones.
        self.0 ^ (self.0 >> 29)
    }
}

/// Builds [`IdHasher`]s for a `HashMap<Uuid, _>`.
pub type IdHash = BuildHasherDefault<IdHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use crate::core::ids::IdGen;

    /// Ids made in one millisecond (the same time bits) still land in
    /// different buckets of a small table.
    #[test]
    fn ids_of_one_millisecond_spread_over_the_buckets() {
        let ids = IdGen::new(7);
        let build = IdHash::default();
        let buckets: HashSet<u64> = (0..4_096)
            .map(|_| build.hash_one(ids.uuid_v7(1_700_000_000_000)) & 1023)
            .collect();
        assert!(
            buckets.len() > 950,
            "only {} of 1024 buckets used",
            buckets.len()
        );
    }
}
