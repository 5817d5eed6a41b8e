//! Counters for `/metrics`, rendered in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use usage_protocol::RejectCode;

use usage_validator::registry::Registry;

/// Batch outcomes counted by status class.
const STATUSES: [u16; 8] = [200, 400, 401, 403, 413, 415, 429, 503];

/// The server's counters. All relaxed atomics: they are statistics.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    discarded_opted_out: AtomicU64,
    duplicates: AtomicU64,
    rejected: [AtomicU64; RejectCode::ALL.len()],
    batches: [AtomicU64; STATUSES.len()],
    batches_other: AtomicU64,
}

impl Metrics {
    /// Counts the outcome of one batch.
    pub fn record_events(&self, response: &usage_protocol::BatchResponse) {
        self.accepted
            .fetch_add(u64::from(response.accepted), Ordering::Relaxed);
        self.discarded_opted_out
            .fetch_add(u64::from(response.discarded), Ordering::Relaxed);
        self.duplicates
            .fetch_add(u64::from(response.duplicates), Ordering::Relaxed);
        for rejection in &response.rejected {
            if let Some(i) = RejectCode::ALL.iter().position(|c| *c == rejection.code) {
                self.rejected[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts a batch request by its response status.
    pub fn record_batch(&self, status: u16) {
        match STATUSES.iter().position(|s| *s == status) {
            Some(i) => self.batches[i].fetch_add(1, Ordering::Relaxed),
            None => self.batches_other.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// The text exposition.
    pub fn render(&self, registry: &Registry) -> String {
        let mut out = String::with_capacity(2048);
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.push_str("# HELP usage_events_accepted_total Events stored.\n# TYPE usage_events_accepted_total counter\n");
        let _ = writeln!(out, "usage_events_accepted_total {}", get(&self.accepted));
        out.push_str("# HELP usage_events_discarded_total Valid events not stored, by reason.\n# TYPE usage_events_discarded_total counter\n");
        let _ = writeln!(
            out,
            "usage_events_discarded_total{{reason=\"opted_out\"}} {}",
            get(&self.discarded_opted_out)
        );
        let _ = writeln!(
            out,
            "usage_events_discarded_total{{reason=\"duplicate\"}} {}",
            get(&self.duplicates)
        );
        out.push_str("# HELP usage_events_rejected_total Invalid events, by code.\n# TYPE usage_events_rejected_total counter\n");
        for (code, count) in RejectCode::ALL.iter().zip(&self.rejected) {
            let _ = writeln!(
                out,
                "usage_events_rejected_total{{code=\"{code}\"}} {}",
                get(count)
            );
        }
        out.push_str("# HELP usage_batches_total Batch requests, by response status.\n# TYPE usage_batches_total counter\n");
        for (status, count) in STATUSES.iter().zip(&self.batches) {
            let _ = writeln!(
                out,
                "usage_batches_total{{status=\"{status}\"}} {}",
                get(count)
            );
        }
        let _ = writeln!(
            out,
            "usage_batches_total{{status=\"other\"}} {}",
            get(&self.batches_other)
        );
        out.push_str("# HELP usage_registry_revision Newest change applied to this instance's snapshot.\n# TYPE usage_registry_revision gauge\n");
        let _ = writeln!(out, "usage_registry_revision {}", registry.revision());
        out.push_str("# HELP usage_registry_opted_out_users Opted-out users in the snapshot.\n# TYPE usage_registry_opted_out_users gauge\n");
        let _ = writeln!(
            out,
            "usage_registry_opted_out_users {}",
            registry.opted_out_count()
        );
        out.push_str("# HELP usage_registry_sync_age_seconds Time since the registry last confirmed it is current (-1: stale).\n# TYPE usage_registry_sync_age_seconds gauge\n");
        let age = registry.confirmed_age().map_or(-1.0, |a| a.as_secs_f64());
        let _ = writeln!(out, "usage_registry_sync_age_seconds {age:.3}");
        out
    }
}
