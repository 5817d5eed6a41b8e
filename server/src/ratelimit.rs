//! Token buckets: per user for `POST /v1/batch`, per address or credential
//! for the limits of the guard.
//!
//! A well-behaved client sends a batch every few seconds; the default allows
//! a sustained 50 batches a second per user with bursts of 100, which only a
//! runaway client reaches. Buckets live in a few shards so concurrent users
//! rarely contend, and each shard holds a bounded number of them.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use std::time::Instant;

const SHARDS: usize = 16;
const MAX_TRACKED_PER_SHARD: usize = 50_000;

/// Token buckets keyed by anything hashable: `(org, user)`, an address.
#[derive(Debug)]
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<u64, (f64, Instant)>>>,
}

impl RateLimiter {
    /// `per_sec` batches a second with bursts of `burst`; `per_sec == 0` disables.
    pub fn new(per_sec: u32, burst: u32) -> Self {
        Self {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Takes one request from `key`'s bucket; `Err(secs)` is when to retry.
    pub fn check<K: Hash + ?Sized>(&self, key: &K) -> Result<(), u64> {
        self.take(key, 1.0)
    }

    /// Whether `key`'s bucket has a request left, without taking it.
    pub fn peek<K: Hash + ?Sized>(&self, key: &K) -> Result<(), u64> {
        self.take(key, 0.0)
    }

    fn take<K: Hash + ?Sized>(&self, key: &K, cost: f64) -> Result<(), u64> {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        let key = self.hasher.hash_one(key);
        let now = Instant::now();
        let mut shard = self.shards[key as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if shard.len() >= MAX_TRACKED_PER_SHARD {
            // Forget buckets that have refilled: they carry no state.
            let (per_sec, burst) = (self.per_sec, self.burst);
            shard.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * per_sec < burst);
        }
        let (tokens, at) = shard.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= cost;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_limited_per_user() {
        let limiter = RateLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(limiter.peek(&("acme", "bob")).is_ok());
            assert!(limiter.check(&("acme", "bob")).is_ok());
        }
        assert_eq!(
            limiter.peek(&("acme", "bob")),
            Err(1),
            "peeking takes nothing"
        );
        assert_eq!(limiter.check(&("acme", "bob")), Err(1));
        assert!(
            limiter.check(&("acme", "carol")).is_ok(),
            "others are not affected"
        );
        assert!(RateLimiter::new(0, 1).check(&("acme", "bob")).is_ok());
    }
}
