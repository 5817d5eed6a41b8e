//! The default sink: one NDJSON file per UTC day under `<data>/events/`.
//!
//! Each batch is serialized whole and handed to the OS in one `write` before
//! the collector answers, so an acknowledged event survives a crash of the
//! process. `fsync` runs on `flush` (at shutdown, and periodically when the
//! server asks), which bounds what a power loss could take.

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;
use time::macros::format_description;
use time::OffsetDateTime;

use super::{Accepted, Sink, StoredEvent};
use crate::store::BoxFuture;
use crate::{Error, Result};

thread_local! {
    /// Each thread encodes into one buffer, kept from batch to batch: a
    /// batch's lines take tens of KiB, which malloc would otherwise hand out
    /// and take back for every batch.
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Largest encoding buffer kept for the next batch; a rare huge batch does
/// not pin its memory.
const KEPT_BUFFER_BYTES: usize = 1 << 20;

/// NDJSON files, one per day.
#[derive(Debug)]
pub struct NdjsonSink {
    dir: PathBuf,
    open: Mutex<Option<(String, File)>>,
}

impl NdjsonSink {
    /// A sink writing into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(Error::Sink)?;
        Ok(Self {
            dir,
            open: Mutex::new(None),
        })
    }

    /// The folder the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_name(at: OffsetDateTime) -> String {
        let day = at
            .date()
            .format(format_description!("[year]-[month]-[day]"))
            .unwrap_or_else(|_| "undated".into());
        format!("{day}.ndjson")
    }

    fn append(&self, at: OffsetDateTime, bytes: &[u8]) -> std::io::Result<()> {
        let name = Self::file_name(at);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let file = match &mut *open {
            Some((current, file)) if *current == name => file,
            slot => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join(&name))?;
                if let Some((_, old)) = slot.take() {
                    old.sync_data()?;
                }
                &mut slot.insert((name, file)).1
            }
        };
        file.write_all(bytes)
    }

    /// The event files, newest first.
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(Error::Sink)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
            .collect();
        files.sort();
        files.reverse();
        Ok(files)
    }

    /// Reads every stored event back, oldest file first: for tools and tests.
    pub fn read_all(&self) -> Result<Vec<StoredEvent>> {
        let mut events = Vec::new();
        for path in self.files()?.iter().rev() {
            let file = File::open(path).map_err(Error::Sink)?;
            for line in BufReader::new(file).lines() {
                let line = line.map_err(Error::Sink)?;
                // A line cut short by a crash mid-write is skipped, not fatal.
                if let Ok(event) = serde_json::from_str(&line) {
                    events.push(event);
                }
            }
        }
        Ok(events)
    }
}

#[derive(Deserialize)]
struct IdOnly {
    org: String,
    id: uuid::Uuid,
}

impl Sink for NdjsonSink {
    fn write<'a>(&'a self, batch: Accepted<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // Nothing below awaits, so the thread's buffer is free to borrow.
            ENCODED.with_borrow_mut(|bytes| {
                bytes.clear();
                let written = encode(&batch, bytes)
                    .map_err(|e| Error::Sink(std::io::Error::other(e)))
                    .and_then(|()| self.append(batch.received_at, bytes).map_err(Error::Sink));
                if bytes.capacity() > KEPT_BUFFER_BYTES {
                    *bytes = Vec::new();
                }
                written
            })
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            // fsync a second handle outside the lock, on a blocking thread:
            // writers must not wait for the disk.
            let handle = {
                let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
                match &*open {
                    Some((_, file)) => file.try_clone().map_err(Error::Sink)?,
                    None => return Ok(()),
                }
            };
            tokio::task::spawn_blocking(move || handle.sync_data())
                .await
                .map_err(|e| Error::Sink(std::io::Error::other(e)))?
                .map_err(Error::Sink)
        })
    }

    fn recent_ids(&self, limit: usize) -> BoxFuture<'_, Result<Vec<(String, uuid::Uuid)>>> {
        Box::pin(async move {
            let mut ids = Vec::new();
            for path in self.files()? {
                let file = File::open(&path).map_err(Error::Sink)?;
                let mut in_file: Vec<(String, uuid::Uuid)> = BufReader::new(file)
                    .lines()
                    .map_while(std::result::Result::ok)
                    .filter_map(|line| serde_json::from_str::<IdOnly>(&line).ok())
                    .map(|e| (e.org, e.id))
                    .collect();
                in_file.reverse();
                ids.extend(in_file);
                if ids.len() >= limit {
                    ids.truncate(limit);
                    break;
                }
            }
            Ok(ids)
        })
    }
}

/// Writes each event as one line of the [`StoredEvent`] form. The part every
/// line of a batch shares (org, user, source, receipt time, SDK) is encoded
/// once, which makes this several times cheaper than serializing each
/// `StoredEvent` on its own.
fn encode(batch: &Accepted<'_>, out: &mut Vec<u8>) -> std::result::Result<(), serde_json::Error> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let mut prefix = Vec::with_capacity(160);
    prefix.extend_from_slice(b"{\"org\":");
    serde_json::to_writer(&mut prefix, batch.org)?;
    prefix.extend_from_slice(b",\"user\":");
    serde_json::to_writer(&mut prefix, batch.user)?;
    prefix.extend_from_slice(b",\"source\":");
    serde_json::to_writer(&mut prefix, &batch.source)?;
    prefix.extend_from_slice(b",\"received_at\":\"");
    batch
        .received_at
        .format_into(&mut prefix, rfc3339)
        .map_err(serde::ser::Error::custom)?;
    prefix.push(b'"');
    if let Some(sdk) = batch.sdk {
        prefix.extend_from_slice(b",\"sdk\":");
        serde_json::to_writer(&mut prefix, sdk)?;
    }
    let mut id = uuid::Uuid::encode_buffer();
    for event in batch.events {
        out.extend_from_slice(&prefix);
        out.extend_from_slice(b",\"id\":\"");
        out.extend_from_slice(event.id.hyphenated().encode_lower(&mut id).as_bytes());
        out.extend_from_slice(b"\",\"name\":");
        if usage_protocol::EventName::parse(&event.name).is_ok() {
            // Valid names hold nothing JSON must escape.
            out.push(b'"');
            out.extend_from_slice(event.name.as_bytes());
            out.push(b'"');
        } else {
            serde_json::to_writer(&mut *out, &event.name)?;
        }
        out.extend_from_slice(b",\"ts\":\"");
        if !write_utc_rfc3339(out, event.ts) {
            event
                .ts
                .format_into(&mut *out, rfc3339)
                .map_err(serde::ser::Error::custom)?;
        }
        out.push(b'"');
        if let Some(props) = &event.props {
            out.extend_from_slice(b",\"props\":");
            out.extend_from_slice(props.get().as_bytes());
        }
        if let Some(session) = &event.session {
            out.extend_from_slice(b",\"session\":");
            serde_json::to_writer(&mut *out, session)?;
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(())
}

/// Writes a UTC time as RFC 3339 (`2026-11-29T08:00:00.5Z`) without the
/// general formatter, which dominated encoding; returns false, writing
/// nothing, for other offsets and years outside 0000-9999.
fn write_utc_rfc3339(out: &mut Vec<u8>, at: OffsetDateTime) -> bool {
    if !at.offset().is_utc() || !(0..=9999).contains(&at.year()) {
        return false;
    }
    let two = |out: &mut Vec<u8>, n: u8| out.extend_from_slice(&[b'0' + n / 10, b'0' + n % 10]);
    let year = at.year() as u16;
    out.extend_from_slice(&[
        b'0' + (year / 1000) as u8,
        b'0' + (year / 100 % 10) as u8,
        b'0' + (year / 10 % 10) as u8,
        b'0' + (year % 10) as u8,
        b'-',
    ]);
    two(out, u8::from(at.month()));
    out.push(b'-');
    two(out, at.day());
    out.push(b'T');
    two(out, at.hour());
    out.push(b':');
    two(out, at.minute());
    out.push(b':');
    two(out, at.second());
    let mut nanos = at.nanosecond();
    if nanos != 0 {
        let mut digits = [b'0'; 9];
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (nanos % 10) as u8;
            nanos /= 10;
        }
        let len = 9 - digits.iter().rev().take_while(|d| **d == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
    out.push(b'Z');
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Source;

    #[test]
    fn utc_times_are_written_as_the_general_formatter_writes_them() {
        use time::format_description::well_known::Rfc3339;
        for text in [
            "2026-11-29T08:00:00Z",
            "2026-01-02T03:04:05.5Z",
            "0001-12-31T23:59:59.000000001Z",
            "9999-06-15T12:30:45.123456789Z",
            "2026-11-29T08:00:00.120Z",
        ] {
            let at = OffsetDateTime::parse(text, &Rfc3339).expect("valid");
            let mut ours = Vec::new();
            assert!(write_utc_rfc3339(&mut ours, at));
            let theirs = at.format(&Rfc3339).expect("formats");
            assert_eq!(String::from_utf8(ours).expect("ascii"), theirs, "{text}");
        }
        let offset = OffsetDateTime::parse("2026-11-29T08:00:00+02:00", &Rfc3339).expect("valid");
        assert!(
            !write_utc_rfc3339(&mut Vec::new(), offset),
            "other offsets use the formatter"
        );
    }

    #[tokio::test]
    async fn events_survive_a_new_sink_on_the_same_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let events: Vec<usage_protocol::Event> = (0..3)
            .map(|i| {
                usage_protocol::Event::new(
                    uuid::Uuid::now_v7(),
                    &format!("e{i}"),
                    OffsetDateTime::now_utc(),
                    serde_json::value::to_raw_value(
                        &serde_json::json!({"q": "a \"quoted\" \u{e5}"}),
                    )
                    .ok(),
                    Some(format!("s\"{i}")),
                )
                .expect("valid")
            })
            .collect();
        {
            let sink = NdjsonSink::new(dir.path()).expect("sink");
            let batch = Accepted {
                org: "acme",
                user: "bob",
                source: Source::Client,
                sdk: Some("t/1"),
                received_at: OffsetDateTime::now_utc(),
                events: &events,
            };
            sink.write(batch).await.expect("write");
            sink.flush().await.expect("flush");
        }
        let sink = NdjsonSink::new(dir.path()).expect("reopen");
        let stored = sink.read_all().expect("read");
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[2].event(), events[2]);
        assert_eq!(stored[0].user, "bob");
        let ids = sink.recent_ids(2).await.expect("ids");
        assert_eq!(
            ids,
            vec![
                ("acme".to_string(), events[2].id),
                ("acme".to_string(), events[1].id)
            ]
        );
    }
}
