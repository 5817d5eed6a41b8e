//! Publish latency and failures of the JetStream sink, for `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BOUNDS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Why a batch was not acknowledged.
#[derive(Debug, Clone, Copy)]
pub(super) enum Failure {
    /// The client was not connected to the broker.
    Disconnected,
    /// The acknowledgements did not all arrive in time.
    Timeout,
    /// JetStream refused or the publish failed.
    Error,
}

/// Labels, in the order of `Failure`'s variants (indexed by them).
const FAILURES: [(Failure, &str); 3] = [
    (Failure::Disconnected, "disconnected"),
    (Failure::Timeout, "timeout"),
    (Failure::Error, "error"),
];

/// Counters of relaxed atomics: they are statistics.
#[derive(Debug, Default)]
pub(super) struct PublishStats {
    /// Batches per latency bucket (not cumulative; the last is `+Inf`).
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
    failures: [AtomicU64; FAILURES.len()],
}

impl PublishStats {
    /// Counts a batch JetStream acknowledged after `took`.
    pub(super) fn acknowledged(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = BOUNDS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts a batch that was not acknowledged.
    pub(super) fn failed(&self, why: Failure) {
        self.failures[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the histogram and the failure counter.
    pub(super) fn render(&self, out: &mut String) {
        out.push_str("# HELP usage_sink_publish_seconds Time JetStream took to acknowledge every event of a batch.\n# TYPE usage_sink_publish_seconds histogram\n");
        let mut cumulative = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            match BOUNDS.get(i) {
                Some(bound) => {
                    let _ = writeln!(
                        out,
                        "usage_sink_publish_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "usage_sink_publish_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
                    );
                }
            }
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "usage_sink_publish_seconds_sum {sum:.6}");
        let _ = writeln!(out, "usage_sink_publish_seconds_count {cumulative}");
        out.push_str("# HELP usage_sink_publish_failures_total Batches JetStream did not acknowledge, by reason.\n# TYPE usage_sink_publish_failures_total counter\n");
        for ((_, reason), count) in FAILURES.iter().zip(&self.failures) {
            let _ = writeln!(
                out,
                "usage_sink_publish_failures_total{{reason=\"{reason}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_failures_are_counted_by_reason() {
        let stats = PublishStats::default();
        stats.acknowledged(Duration::from_micros(300));
        stats.acknowledged(Duration::from_millis(20));
        stats.acknowledged(Duration::from_secs(9));
        stats.failed(Failure::Timeout);
        stats.failed(Failure::Timeout);
        stats.failed(Failure::Disconnected);
        let mut out = String::new();
        stats.render(&mut out);
        assert!(out.contains("usage_sink_publish_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(out.contains("usage_sink_publish_seconds_bucket{le=\"0.01\"} 1\n"));
        assert!(out.contains("usage_sink_publish_seconds_bucket{le=\"0.025\"} 2\n"));
        assert!(out.contains("usage_sink_publish_seconds_bucket{le=\"2.5\"} 2\n"));
        assert!(out.contains("usage_sink_publish_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(out.contains("usage_sink_publish_seconds_count 3\n"));
        assert!(out.contains("usage_sink_publish_seconds_sum 9.020300\n"));
        assert!(out.contains("usage_sink_publish_failures_total{reason=\"timeout\"} 2\n"));
        assert!(out.contains("usage_sink_publish_failures_total{reason=\"disconnected\"} 1\n"));
        assert!(out.contains("usage_sink_publish_failures_total{reason=\"error\"} 0\n"));
    }
}
