//! The retry schedule: exponential backoff with full jitter, or the server's
//! `Retry-After` when it gives one.

/// Default delay before the first retry, in milliseconds.
pub const DEFAULT_RETRY_BASE_MS: u64 = 1_000;
/// Default longest delay between retries, in milliseconds.
pub const DEFAULT_RETRY_CAP_MS: u64 = 5 * 60 * 1_000;
/// Longest `Retry-After` honoured, so a broken proxy cannot park delivery for days.
pub const MAX_RETRY_AFTER_MS: u64 = 60 * 60 * 1_000;

/// Consecutive failures and the delay they earn.
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: u64,
    cap_ms: u64,
    failures: u32,
}

impl Backoff {
    /// A schedule starting at `base_ms`, never waiting longer than `cap_ms`.
    pub fn new(base_ms: u64, cap_ms: u64) -> Self {
        Self {
            base_ms,
            cap_ms,
            failures: 0,
        }
    }

    /// Counts a failure and returns how long to wait: a uniform draw in
    /// `[0, min(cap, base * 2^failures)]` ("full jitter").
    pub fn fail(&mut self, random: u64) -> u64 {
        let ceiling = self
            .base_ms
            .saturating_mul(1u64 << self.failures.min(32))
            .min(self.cap_ms);
        self.failures = self.failures.saturating_add(1);
        random % (ceiling + 1)
    }

    /// Counts a failure whose wait the server named.
    pub fn fail_for(&mut self, retry_after_ms: u64) -> u64 {
        self.failures = self.failures.saturating_add(1);
        retry_after_ms.min(MAX_RETRY_AFTER_MS)
    }

    /// Forgets past failures after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Reads a `Retry-After` header in its seconds form; the date form is ignored
/// (the backoff schedule applies instead).
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let seconds: u64 = value.trim().parse().ok()?;
    Some(seconds.saturating_mul(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let mut backoff = Backoff::new(1_000, 5_000);
        for top in [1_000, 2_000, 4_000, 5_000, 5_000] {
            // A draw of `top` is the largest wait allowed; `top + 1` wraps to zero.
            assert_eq!(backoff.clone().fail(top + 1), 0);
            assert_eq!(backoff.fail(top), top);
        }
    }

    #[test]
    fn jitter_can_draw_anything_down_to_zero() {
        let mut backoff = Backoff::new(1_000, 300_000);
        assert_eq!(backoff.fail(0), 0);
        assert_eq!(backoff.fail(1_500), 1_500);
    }

    #[test]
    fn a_success_starts_the_schedule_over() {
        let mut backoff = Backoff::new(1_000, 300_000);
        backoff.fail(0);
        backoff.fail(0);
        backoff.reset();
        assert_eq!(backoff.fail(1_001), 0, "the ceiling is back to the base");
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(7_000));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
