//! The NDJSON sink's throughput: a 500-event batch appended with the default
//! sync (on flush) and with `Fsync::Always` (synced before it is
//! acknowledged), into a folder on the same disk as the system's temp dir.
//!
//! Run with `cargo bench -p usage-validator --bench sink`.

// criterion's macros make undocumented functions.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use time::OffsetDateTime;
use usage_validator::sink::{Accepted, Fsync, NdjsonOptions, NdjsonSink, Sink as _, Source};

mod common;

fn ndjson_write(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let events = common::batch_of(500).events;
    let mut group = c.benchmark_group("ndjson_write_500_events");
    group.throughput(Throughput::Elements(events.len() as u64));
    for (label, fsync) in [("on_flush", Fsync::OnFlush), ("always", Fsync::Always)] {
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                // A fresh folder every hundred batches (15 MB), made and
                // removed outside the timing: a run writes millions of
                // events, which must not fill the disk.
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let sink = NdjsonSink::with_options(dir.path(), NdjsonOptions { fsync })
                        .expect("sink");
                    let now = Instant::now();
                    for _ in 0..left.min(100) {
                        let batch = Accepted {
                            org: "acme",
                            user: "bob",
                            source: Source::Client,
                            sdk: Some("usage-sdk-rust/0.1.0"),
                            received_at: OffsetDateTime::now_utc(),
                            events: &events,
                        };
                        runtime.block_on(sink.write(batch)).expect("stored");
                    }
                    timed += now.elapsed();
                    left -= left.min(100);
                }
                timed
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ndjson_write);
criterion_main!(benches);
