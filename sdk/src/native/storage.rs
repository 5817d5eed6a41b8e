//! Files in the tracker's folder: `session.json` (the cached login),
//! `journal.0.ndjson` and `journal.1.ndjson` (unsent events, see
//! [`super::journal`]) and `lock`, which keeps a second tracker out.
//!
//! The journal is the queue: `track()` appends each event to the active file,
//! and the worker reads them from there in order, as many as its in-memory
//! bound lets it take; the others wait on disk, up to the journal's size bound.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use uuid::Uuid;

use super::journal::{read_at, AppendError, JournalFiles};
use super::lock::DirLock;
use crate::core::encoded::{read_add_quickly, EncodedEvent};
use crate::core::journal::read_add;
use crate::core::session::CachedSession;
use crate::error::Error;
use crate::platform::{Appended, Storage, StorageError};

const SESSION_FILE: &str = "session.json";
const JOURNAL_FILES: [&str; 2] = ["journal.0.ndjson", "journal.1.ndjson"];
/// The single journal file of earlier versions, read once and removed.
const OLD_JOURNAL_FILE: &str = "journal.ndjson";
/// Bytes read from the journal at a time.
const READ_CHUNK: usize = 256 * 1024;
/// Dead bytes a journal file may hold beyond twice what is live before it is compacted.
const COMPACT_SLACK: u64 = 4 * 1024 * 1024;

/// Default most bytes of the journal file: events beyond the in-memory queue wait there.
pub(crate) const DEFAULT_MAX_JOURNAL_BYTES: u64 = 512 * 1024 * 1024;

/// The tracker's folder. One tracker per folder at a time, held by [`DirLock`].
#[derive(Debug)]
pub(crate) struct FileStorage {
    dir: PathBuf,
    _lock: DirLock,
    journal: Arc<JournalFiles>,
    /// Number of the active file's generation, its first line.
    epoch: u64,
    /// Where the worker's reading of the active file stands.
    cursor: u64,
    /// Bytes read from the file; those from `consumed` on start at `cursor`
    /// and are not yet taken.
    unread: Vec<u8>,
    consumed: usize,
    /// What a new start takes into memory, until the worker asks for it.
    restored: Option<Vec<u8>>,
    /// Unreadable lines met while reading.
    damaged: usize,
    /// Events dropped, oldest first, to keep the journal within its bound.
    dropped: Vec<Uuid>,
    /// The end past which the journal counts as nearly full again.
    full_again_at: u64,
}

fn failed(what: &str, path: &Path, error: std::io::Error) -> StorageError {
    StorageError(format!("{what} {}: {error}", path.display()))
}

fn storage_error(error: StorageError) -> Error {
    Error::Storage(error.0)
}

/// Opens for writing; files can hold a token, so only the owner may read them.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Makes a rename or a new file in `dir` survive a power loss.
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| failed("cannot sync", dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `content` to `path` through a temporary file, fsync and a rename,
/// then syncs the folder: a crash or power loss leaves the old or the new file.
fn replace_file(dir: &Path, path: &Path, content: &[u8]) -> Result<(), StorageError> {
    let temporary = path.with_extension("tmp");
    let mut file = private_options()
        .truncate(true)
        .open(&temporary)
        .map_err(|e| failed("cannot write", &temporary, e))?;
    file.write_all(content)
        .and_then(|()| file.sync_all())
        .map_err(|e| failed("cannot write", &temporary, e))?;
    fs::rename(&temporary, path).map_err(|e| failed("cannot replace", path, e))?;
    sync_dir(dir)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed("cannot read", path, e)),
    }
}

impl FileStorage {
    /// Uses `dir`, creating it if needed and locking it against a second
    /// tracker. Replays what earlier runs left: up to `room` events are kept
    /// for the queue, the rest stay in the journal for the worker to read
    /// later. The journal may grow to `max_bytes`.
    pub(crate) fn open(dir: PathBuf, room: usize, max_bytes: u64) -> Result<Self, Error> {
        fs::create_dir_all(&dir).map_err(|e| storage_error(failed("cannot create", &dir, e)))?;
        let lock = DirLock::acquire(&dir)?;
        let (journal, epoch, cursor, restored) =
            start_journal(&dir, room, max_bytes).map_err(storage_error)?;
        Ok(Self {
            dir,
            _lock: lock,
            journal: Arc::new(journal),
            epoch,
            cursor,
            unread: Vec::new(),
            consumed: 0,
            restored: Some(restored),
            damaged: 0,
            dropped: Vec::new(),
            full_again_at: 0,
        })
    }

    /// The journal `track()` appends to.
    pub(crate) fn appender(&self) -> Arc<JournalFiles> {
        self.journal.clone()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Three quarters of the bound: live lines beyond it cost the oldest events.
    fn full_mark(&self) -> u64 {
        self.journal.limit() / 4 * 3
    }

    fn journal_error(&self, error: AppendError) -> StorageError {
        match error {
            AppendError::Full => StorageError("the journal is full".to_owned()),
            AppendError::Io(e) => failed("cannot append to", &self.dir, e),
        }
    }

    /// Reads the active file on from where reading stands, up to its end or
    /// `mark`. While a write is under way, reading stops where its zeros
    /// begin, so the buffer holds only bytes that are final: a NUL in it is a
    /// write that failed.
    fn fill(&mut self, mark: u64) -> Result<(), StorageError> {
        let (side, end) = self.journal.active();
        let quiet = self.journal.quiet(side);
        let end = end.min(mark);
        // Taken bytes are dropped from the front only once they are half the
        // buffer, so taking a few events at a time does not move the rest each time.
        if self.consumed > self.unread.len() / 2 {
            self.unread.drain(..self.consumed);
            self.consumed = 0;
        }
        let mut at = self.cursor + (self.unread.len() - self.consumed) as u64;
        // At most a chunk beyond what is taken: the worker takes a few events
        // at a time, and a backlog on disk must stay there, not move into
        // memory a chunk per call. (A line is far shorter than a chunk, so a
        // full buffer always holds a whole one.)
        while at < end && self.unread.len() - self.consumed < READ_CHUNK {
            let want = usize::try_from(end - at)
                .unwrap_or(usize::MAX)
                .min(READ_CHUNK);
            let kept = self.unread.len();
            self.unread.resize(kept + want, 0);
            let read = read_at(self.journal.file(side), &mut self.unread[kept..], at)
                .map_err(|e| failed("cannot read", &self.dir, e))?;
            self.unread.truncate(kept + read);
            if !quiet {
                if let Some(zero) = memchr::memchr(0, &self.unread[kept..]) {
                    self.unread.truncate(kept + zero);
                    break;
                }
                if read < want {
                    break;
                }
            } else if read < want {
                // Reserved bytes a failed write never filled.
                self.unread.resize(kept + want, 0);
            }
            at += want as u64;
        }
        Ok(())
    }
}

impl Storage for FileStorage {
    fn load_session(&mut self) -> Result<Option<CachedSession>, StorageError> {
        let Some(bytes) = read_optional(&self.path(SESSION_FILE))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError(format!("unreadable {SESSION_FILE}: {e}")))
    }

    fn save_session(&mut self, session: Option<&CachedSession>) -> Result<(), StorageError> {
        let path = self.path(SESSION_FILE);
        match session {
            Some(session) => {
                let json = serde_json::to_vec(session).expect("a cached session always serializes");
                replace_file(&self.dir, &path, &json)
            }
            None => match fs::remove_file(&path) {
                Err(e) if e.kind() != ErrorKind::NotFound => Err(failed("cannot remove", &path, e)),
                _ => Ok(()),
            },
        }
    }

    fn load_journal(&mut self) -> Result<Vec<u8>, StorageError> {
        Ok(self.restored.take().unwrap_or_default())
    }

    fn restore_journal(&mut self, _room: usize) -> Result<Vec<u8>, StorageError> {
        // The room was given when the folder was opened, before `track()` could append.
        self.load_journal()
    }

    // Lines copied into the journal (through its mapping or with `pwrite`)
    // are in the OS page cache and survive the process being killed; only a
    // machine crash before the kernel flushes loses them.
    fn append_journal(&mut self, lines: &[u8]) -> Result<(), StorageError> {
        self.journal
            .append(lines)
            .map_err(|e| self.journal_error(e))
    }

    /// Compacts only once dead lines outweigh the live ones (those in
    /// `content` and those not read yet), so each line is copied a bounded
    /// number of times however long the queue.
    fn replace_journal(&mut self, content: &[u8]) -> Result<(), StorageError> {
        if !self.wants_replacement(content.len()) {
            return Ok(());
        }
        self.compact(content)
    }

    fn wants_replacement(&self, live_bytes: usize) -> bool {
        let (_, end) = self.journal.active();
        let live = live_bytes as u64 + (end - self.cursor);
        end > 2 * live + COMPACT_SLACK || self.nearly_full(live_bytes)
    }

    /// Events are dropped only to make room for new ones: while the live
    /// lines (`live_bytes` in memory and the unread ones) pass three quarters
    /// of the bound, a compaction drops the oldest unread events down to half
    /// of it. Checked on every turn of the worker, so once `track()` stops the
    /// live lines stay under that mark and a journal being drained never
    /// drops. The file is also compacted once it passes three quarters with
    /// dead lines, after another eighth of new lines since the last compaction,
    /// so that a queue bound near the journal's (events in memory filling it)
    /// is not copied again on every turn.
    fn nearly_full(&self, live_bytes: usize) -> bool {
        let (_, end) = self.journal.active();
        let unread = end - self.cursor;
        let limit = self.journal.limit();
        (live_bytes as u64 + unread > self.full_mark() && unread > limit / 8)
            || end > self.full_mark().max(self.full_again_at)
    }

    fn take_dropped(&mut self) -> Vec<Uuid> {
        std::mem::take(&mut self.dropped)
    }

    fn appended_mark(&self) -> u64 {
        self.journal.active().1
    }

    fn take_appended(
        &mut self,
        room: usize,
        mark: u64,
        into: &mut Vec<Appended>,
    ) -> Result<(), StorageError> {
        let mut taken = 0;
        while taken < room {
            self.fill(mark)?;
            let mut used = 0;
            while taken < room {
                let rest = &self.unread[self.consumed + used..];
                // A NUL ends a line too: the zeros of a write that failed.
                let Some(end) = memchr::memchr2(b'\n', 0, rest) else {
                    break;
                };
                let line = &rest[..end];
                // `track()`'s own lines are read without parsing the event;
                // any other shape is read by serde.
                let read = read_add_quickly(line).map(Some).or_else(|| {
                    read_add(line).map(|read| read.map(|(u, e)| (u, EncodedEvent::new(&e))))
                });
                match read {
                    Some(Some((user, event))) => {
                        into.push((user, event, end));
                        taken += 1;
                    }
                    Some(None) => self.damaged += 1,
                    None => {}
                }
                used += end + 1;
            }
            self.cursor += used as u64;
            self.consumed += used;
            if used == 0 {
                break;
            }
        }
        if self.damaged > 0 {
            tracing::warn!(lines = self.damaged, "skipped unreadable journal lines");
            self.damaged = 0;
        }
        Ok(())
    }

    fn prepare_appends(&self) {
        self.journal.prepare();
    }

    fn appended_waiting(&self) -> bool {
        let (_, end) = self.journal.active();
        self.cursor < end
    }
}

mod compact;
mod restart;

use restart::start_journal;
#[cfg(test)]
mod bound_tests;
#[cfg(test)]
mod tests;
