//! The default sink: one NDJSON file per UTC day under `<data>/events/`.
//!
//! Each batch is serialized whole and appended before the collector
//! answers, so an acknowledged event survives a crash of the process. A
//! batch is stored all or nothing: a failed write (a full disk) is cut back,
//! leaving no event and no torn line, and the collector answers 503 so the
//! client retries. With [`Fsync::OnFlush`] (the default) data is synced on
//! `flush` (at shutdown, and periodically when the server asks), which
//! bounds what a power loss could take; with [`Fsync::Always`] every batch
//! is synced before it is acknowledged. Files are created readable by the
//! owner only (0600), and the folder, if the sink creates it, 0700.

mod encode;
mod file;

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use time::macros::format_description;
use time::OffsetDateTime;

use self::encode::encode;
use self::file::DayFile;
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

/// When the NDJSON sink syncs what it wrote to the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fsync {
    /// On `flush` and when a day's file is closed: a crash of the process
    /// loses no acknowledged event, a power loss may lose those written
    /// since the last flush.
    #[default]
    OnFlush,
    /// After every batch, before it is acknowledged: a power loss loses no
    /// acknowledged event. Each batch waits for the disk.
    Always,
}

/// Settings of the NDJSON sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NdjsonOptions {
    /// When written events are synced to the disk.
    pub fsync: Fsync,
}

/// NDJSON files, one per day.
#[derive(Debug)]
pub struct NdjsonSink {
    dir: Arc<Path>,
    options: NdjsonOptions,
    open: Arc<Mutex<Option<DayFile>>>,
}

impl NdjsonSink {
    /// A sink writing into `dir` (created if missing) with default options.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        Self::with_options(dir, NdjsonOptions::default())
    }

    /// A sink writing into `dir` (created if missing, 0700).
    pub fn with_options(dir: impl Into<PathBuf>, options: NdjsonOptions) -> Result<Self> {
        let dir = dir.into();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(Error::Sink)?;
        Ok(Self {
            dir: dir.into(),
            options,
            open: Arc::default(),
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

    /// Appends the lines of one batch to the file of `name`, all or nothing.
    fn append(
        open: &Mutex<Option<DayFile>>,
        dir: &Path,
        name: String,
        lines: &[u8],
        options: NdjsonOptions,
    ) -> std::io::Result<()> {
        let sync = options.fsync == Fsync::Always;
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        let day = match &mut *open {
            Some(day) if day.name() == name => day,
            slot => {
                let day = DayFile::open(dir, name)?;
                if sync {
                    // The new file's entry in the folder must be durable too.
                    File::open(dir)?.sync_all()?;
                }
                if let Some(old) = slot.take() {
                    old.file().sync_data()?;
                }
                slot.insert(day)
            }
        };
        day.append(lines, sync)
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

    /// Calls `each` with the org and id of the newest `limit` events, oldest
    /// first, reading line by line: memory stays a read buffer whatever the
    /// files hold. Only the newest files that hold `limit` lines are read.
    fn each_recent(&self, limit: usize, each: &mut dyn FnMut(&str, uuid::Uuid)) -> Result<()> {
        let mut files = Vec::new();
        let mut lines = 0;
        for path in self.files()? {
            if lines >= limit {
                break;
            }
            let count = count_lines(&path).map_err(Error::Sink)?;
            lines += count;
            files.push(path);
        }
        let mut skip = lines.saturating_sub(limit);
        for path in files.iter().rev() {
            let file = File::open(path).map_err(Error::Sink)?;
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).map_err(Error::Sink)? == 0 {
                    break;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                if let Ok(event) = serde_json::from_str::<IdOnly<'_>>(&line) {
                    each(&event.org, event.id);
                }
            }
        }
        Ok(())
    }
}

/// How many lines a file holds, read in pieces.
fn count_lines(path: &Path) -> std::io::Result<usize> {
    let mut file = File::open(path)?;
    let mut buffer = vec![0; 64 * 1024];
    let mut lines = 0;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(lines);
        }
        lines += buffer[..read].iter().filter(|&&b| b == b'\n').count();
    }
}

#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow)]
    org: std::borrow::Cow<'a, str>,
    id: uuid::Uuid,
}

impl Sink for NdjsonSink {
    fn write<'a>(&'a self, batch: Accepted<'a>) -> BoxFuture<'a, Result<()>> {
        let name = Self::file_name(batch.received_at);
        if self.options.fsync == Fsync::Always {
            // The sync waits for the disk: on a blocking thread, not a worker.
            return Box::pin(async move {
                let mut lines = Vec::new();
                encode(&batch, &mut lines).map_err(|e| Error::Sink(std::io::Error::other(e)))?;
                let (open, dir, options) = (self.open.clone(), self.dir.clone(), self.options);
                tokio::task::spawn_blocking(move || {
                    Self::append(&open, &dir, name, &lines, options)
                })
                .await
                .map_err(|e| Error::Sink(std::io::Error::other(e)))?
                .map_err(Error::Sink)
            });
        }
        Box::pin(async move {
            // Nothing below awaits, so the thread's buffer is free to borrow.
            ENCODED.with_borrow_mut(|bytes| {
                bytes.clear();
                let written = encode(&batch, bytes)
                    .map_err(|e| Error::Sink(std::io::Error::other(e)))
                    .and_then(|()| {
                        Self::append(&self.open, &self.dir, name, bytes, self.options)
                            .map_err(Error::Sink)
                    });
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
                    Some(day) => day.file().try_clone().map_err(Error::Sink)?,
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
            self.each_recent(limit, &mut |org, id| ids.push((org.to_owned(), id)))?;
            ids.reverse();
            Ok(ids)
        })
    }

    fn each_recent_id<'a>(
        &'a self,
        limit: usize,
        each: &'a mut (dyn FnMut(&str, uuid::Uuid) + Send),
    ) -> BoxFuture<'a, Result<()>> {
        // Read at startup, before the server answers anything: blocking the
        // thread is fine there.
        Box::pin(async move { self.each_recent(limit, each) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Source;

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

    #[tokio::test]
    async fn each_day_of_receipt_has_its_own_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = NdjsonSink::new(dir.path()).expect("sink");
        let day = |d: u8| {
            time::Date::from_calendar_date(2027, time::Month::January, d)
                .expect("a date")
                .with_hms(23, 59, 0)
                .expect("a time")
                .assume_utc()
        };
        let mut written = Vec::new();
        for received in [day(14), day(15), day(15), day(14)] {
            let event = usage_protocol::Event::new(uuid::Uuid::now_v7(), "e", received, None, None)
                .expect("valid");
            let batch = Accepted {
                org: "acme",
                user: "bob",
                source: Source::Server,
                sdk: None,
                received_at: received,
                events: std::slice::from_ref(&event),
            };
            sink.write(batch).await.expect("write");
            written.push((received.day(), event.id));
        }
        sink.flush().await.expect("flush");
        for d in [14, 15] {
            let text = std::fs::read_to_string(dir.path().join(format!("2027-01-{d}.ndjson")))
                .expect("the day's file");
            let ids: Vec<uuid::Uuid> = text
                .lines()
                .map(|line| {
                    serde_json::from_str::<StoredEvent>(line)
                        .expect("a line")
                        .id
                })
                .collect();
            let expected: Vec<uuid::Uuid> = written
                .iter()
                .filter(|(day, _)| *day == d)
                .map(|(_, id)| *id)
                .collect();
            assert_eq!(ids, expected, "the file of January {d}");
        }
    }
}
