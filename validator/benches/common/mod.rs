//! What the benchmarks send: a realistic batch.

use time::OffsetDateTime;
use usage_protocol::{Batch, Event, SdkInfo};
use uuid::Uuid;

/// A batch of `n` events with fresh ids, each with a few props and a session.
pub fn batch_of(n: usize) -> Batch {
    let props = serde_json::value::to_raw_value(&serde_json::json!({
        "screen": "reports/overview", "duration_ms": 1234, "feature": "export.csv"
    }))
    .expect("props");
    Batch {
        token: None,
        sent_at: OffsetDateTime::now_utc(),
        sdk: SdkInfo {
            name: "usage-sdk-rust".into(),
            version: "0.1.0".into(),
        },
        events: (0..n)
            .map(|_| {
                Event::new(
                    Uuid::now_v7(),
                    "report.opened",
                    OffsetDateTime::now_utc(),
                    Some(props.clone()),
                    Some("s-1".into()),
                )
                .expect("valid")
            })
            .collect(),
    }
}
