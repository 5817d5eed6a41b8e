//! Accepted, then stored: every event the batch reader accepts is written by
//! the NDJSON sink as one line of its own, which a plain JSON reader reads,
//! and which reads back as exactly that event, with the org and user it was
//! stored for.

#![no_main]

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use usage_validator::batch;
use usage_validator::sink::{Accepted, NdjsonSink, Sink as _, Source, StoredEvent};

/// A file grown past this is started again, so long runs stay small on disk.
const MAX_FILE_BYTES: u64 = 64 << 20;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    dir: PathBuf,
    sink: Mutex<NdjsonSink>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("usage-fuzz-{}", std::process::id()));
        let sink = NdjsonSink::new(&dir).expect("sink folder");
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
            dir,
            sink: Mutex::new(sink),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = batch::parse(data) else {
        return;
    };
    let events: Vec<_> = parsed.events.into_iter().flatten().collect();
    if events.is_empty() {
        return;
    }
    let fixture = fixture();
    let mut sink = fixture.sink.lock().expect("one run at a time");
    let received_at = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a time");
    let file = sink.dir().join("2027-01-15.ndjson");
    let before = std::fs::metadata(&file).map_or(0, |m| m.len());
    if before > MAX_FILE_BYTES {
        std::fs::remove_file(&file).expect("start the file again");
        *sink = NdjsonSink::new(&fixture.dir).expect("sink folder");
        drop(sink);
        return;
    }
    let sdk = format!("{}/{}", parsed.sdk.name, parsed.sdk.version);
    let batch = Accepted {
        org: "acme",
        user: "bob",
        source: Source::Client,
        sdk: Some(&sdk),
        received_at,
        events: &events,
    };
    fixture
        .runtime
        .block_on(sink.write(batch))
        .expect("the sink stores the batch");
    let mut written = String::new();
    let mut reader = std::fs::File::open(&file).expect("the day's file");
    reader.seek(SeekFrom::Start(before)).expect("seek");
    reader.read_to_string(&mut written).expect("UTF-8 lines");
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), events.len(), "one line per event: {written:?}");
    for (line, event) in lines.iter().zip(&events) {
        // Any JSON reader: serde_json's own value type refuses what a double
        // cannot hold, and nesting past 128 levels.
        serde_json::from_str::<serde_json::Value>(line).expect("the line reads as JSON");
        let stored: StoredEvent = serde_json::from_str(line).expect("a stored event");
        assert_eq!((stored.org.as_str(), stored.user.as_str()), ("acme", "bob"));
        assert_eq!(stored.sdk.as_deref(), Some(sdk.as_str()));
        assert_eq!(&stored.event(), event, "read back as itself: {line}");
    }
});
