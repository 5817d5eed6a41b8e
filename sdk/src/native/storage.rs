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

use super::journal::{read_at, write_at, AppendError, JournalFiles};
use super::lock::DirLock;
use crate::core::journal::{encode, lines, read_add, Record, Replay};
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
pub(crate) const DEFAULT_MAX_JOURNAL_BYTES: u64 = 256 * 1024 * 1024;

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

/// The epoch a journal file starts with; 0 for an empty or foreign one.
fn epoch_of(bytes: &[u8]) -> u64 {
    match lines(bytes).next().map(serde_json::from_slice::<Record>) {
        Some(Ok(Record::Epoch(n))) => n,
        _ => 0,
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
        })
    }

    /// The journal `track()` appends to.
    pub(crate) fn appender(&self) -> Arc<JournalFiles> {
        self.journal.clone()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
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
        while at < end {
            let want = usize::try_from(end - at)
                .unwrap_or(usize::MAX)
                .min(READ_CHUNK);
            let kept = self.unread.len();
            self.unread.resize(kept + want, 0);
            let read = read_at(self.journal.file(side), &mut self.unread[kept..], at)
                .map_err(|e| failed("cannot read", &self.dir, e))?;
            self.unread.truncate(kept + read);
            if !quiet {
                if let Some(zero) = self.unread[kept..].iter().position(|&b| b == 0) {
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
            if self.unread.len() - self.consumed >= READ_CHUNK {
                break;
            }
        }
        Ok(())
    }

    /// Writes the compacted journal into the other file and switches to it.
    fn compact(&mut self, content: &[u8]) -> Result<(), StorageError> {
        let (from, _) = self.journal.active();
        let to = 1 - from;
        let target = self.journal.file(to);
        let target_path = self.path(JOURNAL_FILES[to]);
        let io = |e| failed("cannot compact into", &target_path, e);
        target.set_len(0).map_err(io)?;
        let mut head = encode(&[Record::Epoch(self.epoch + 1)]);
        head.extend_from_slice(content);
        write_at(target, &head, 0).map_err(io)?;
        let new_cursor = head.len() as u64;
        // Unread lines beyond half the bound are dropped, oldest first.
        let budget = (self.journal.limit() / 2).saturating_sub(new_cursor);
        let keep_from = self.drop_oldest(from, budget)?;
        // Lines not yet read move across: first those known whole...
        let (copied_to, mut at) = self.copy_whole(from, to, keep_from, new_cursor)?;
        // ...then, once no write to the old file is under way, the rest.
        let final_end = self.journal.switch(to, at);
        let rest = final_end.saturating_sub(copied_to);
        if rest > 0 {
            let reservation = self
                .journal
                .reserve(rest)
                .map_err(|e| self.journal_error(e))?;
            at = reservation.offset;
            copy_range(&self.journal, from, copied_to..final_end, to, at)
                .map_err(|e| failed("cannot compact into", &target_path, e))?;
        }
        self.journal
            .file(to)
            .sync_data()
            .map_err(|e| failed("cannot sync", &target_path, e))?;
        self.journal
            .file(from)
            .set_len(0)
            .map_err(|e| failed("cannot empty", &self.path(JOURNAL_FILES[from]), e))?;
        self.epoch += 1;
        self.cursor = new_cursor;
        self.unread.clear();
        self.consumed = 0;
        Ok(())
    }

    /// When the unread lines of file `from` hold more than `budget` bytes,
    /// notes the events of the oldest of them as dropped, so that the rest
    /// fit; returns where the lines to keep begin.
    fn drop_oldest(&mut self, from: usize, budget: u64) -> Result<u64, StorageError> {
        let (_, end) = self.journal.active();
        if end - self.cursor <= budget {
            return Ok(self.cursor);
        }
        let cut = end - budget;
        let mut position = self.cursor;
        let mut buffer = vec![0; READ_CHUNK];
        while position < cut {
            let want = usize::try_from(end - position)
                .unwrap_or(usize::MAX)
                .min(READ_CHUNK);
            let read = read_at(self.journal.file(from), &mut buffer[..want], position)
                .map_err(|e| failed("cannot read", &self.dir, e))?;
            let mut used = 0;
            for line in buffer[..read].split_inclusive(|&b| b == b'\n') {
                if position + used as u64 >= cut || !line.ends_with(b"\n") {
                    break;
                }
                let text = &line[..line.len() - 1];
                // Zeros a failed write left, then possibly a line.
                let text = &text[text.iter().rposition(|&b| b == 0).map_or(0, |z| z + 1)..];
                if let Some(Some((_, event))) = read_add(text) {
                    self.dropped.push(event.id);
                }
                used += line.len();
            }
            if used == 0 {
                break;
            }
            position += used as u64;
        }
        tracing::warn!(
            events = self.dropped.len(),
            "the journal reached its bound: dropped its oldest unsent events"
        );
        Ok(position)
    }

    /// Copies the unread lines of file `from`, from `position` on, that are
    /// already whole to file `to` at `at`, stopping at the first write still
    /// under way; returns how far in `from` it copied and where in `to` the
    /// copy ends.
    fn copy_whole(
        &self,
        from: usize,
        to: usize,
        mut position: u64,
        mut at: u64,
    ) -> Result<(u64, u64), StorageError> {
        let (_, end) = self.journal.active();
        let mut buffer = vec![0; READ_CHUNK];
        while position < end {
            let want = usize::try_from(end - position)
                .unwrap_or(usize::MAX)
                .min(READ_CHUNK);
            let read = read_at(self.journal.file(from), &mut buffer[..want], position)
                .map_err(|e| failed("cannot read", &self.dir, e))?;
            // Up to the first write under way (zeros), and only whole lines:
            // the rest of a line cut here comes later, after the switch.
            let written = buffer[..read].iter().position(|&b| b == 0).unwrap_or(read);
            let whole = buffer[..written]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |last| last + 1);
            write_at(self.journal.file(to), &buffer[..whole], at)
                .map_err(|e| failed("cannot compact", &self.dir, e))?;
            position += whole as u64;
            at += whole as u64;
            if written < want || whole == 0 {
                break;
            }
        }
        Ok((position, at))
    }
}

/// Copies `range` of file `from` to file `to` at `at`.
fn copy_range(
    journal: &JournalFiles,
    from: usize,
    range: std::ops::Range<u64>,
    to: usize,
    mut at: u64,
) -> std::io::Result<()> {
    let mut buffer = vec![0; READ_CHUNK];
    let mut position = range.start;
    while position < range.end {
        let want = usize::try_from(range.end - position)
            .unwrap_or(usize::MAX)
            .min(READ_CHUNK);
        let read = read_at(journal.file(from), &mut buffer[..want], position)?;
        // Bytes a failed write never filled are copied as the zeros they read as.
        buffer[read..want].fill(0);
        write_at(journal.file(to), &buffer[..want], at)?;
        position += want as u64;
        at += want as u64;
    }
    Ok(())
}

/// Replays every journal file into a fresh one (written aside, synced and
/// renamed in), opens both files and returns them with the epoch, where
/// reading starts, and the lines the queue takes at once.
fn start_journal(
    dir: &Path,
    room: usize,
    max_bytes: u64,
) -> Result<(JournalFiles, u64, u64, Vec<u8>), StorageError> {
    let old = read_optional(&dir.join(OLD_JOURNAL_FILE))?;
    let mut files = Vec::new();
    for name in JOURNAL_FILES {
        if let Some(bytes) = read_optional(&dir.join(name))? {
            files.push((epoch_of(&bytes), bytes));
        }
    }
    files.sort_by_key(|(epoch, _)| *epoch);
    let epoch = files.last().map_or(0, |(epoch, _)| *epoch) + 1;
    let mut replay = Replay::default();
    for bytes in old.iter().chain(files.iter().map(|(_, bytes)| bytes)) {
        replay.read(bytes);
    }
    let replayed = replay.finish();
    if replayed.damaged > 0 {
        tracing::warn!(lines = replayed.damaged, "skipped unreadable journal lines");
    }
    let tokens: Vec<Record> = replayed
        .tokens
        .into_iter()
        .map(|(user, token)| Record::Token { user, token })
        .collect();
    let split = replayed.events.len().min(room);
    let mut events = replayed.events;
    let later = events.split_off(split);
    let mut restored = tokens;
    restored.extend(
        events
            .into_iter()
            .map(|(user, event)| Record::Kept { user, event }),
    );
    let mut content = encode(&[Record::Epoch(epoch)]);
    let restored = encode(&restored);
    content.extend_from_slice(&restored);
    let cursor = content.len() as u64;
    let later: Vec<Record> = later
        .into_iter()
        .map(|(user, event)| Record::Add { user, event })
        .collect();
    content.extend_from_slice(&encode(&later));

    let active = dir.join(JOURNAL_FILES[0]);
    replace_file(dir, &active, &content)?;
    let open = |name: &str| {
        let path = dir.join(name);
        private_options()
            .read(true)
            .open(&path)
            .map_err(|e| failed("cannot open", &path, e))
    };
    let first = open(JOURNAL_FILES[0])?;
    let second = open(JOURNAL_FILES[1])?;
    second
        .set_len(0)
        .map_err(|e| failed("cannot empty", &dir.join(JOURNAL_FILES[1]), e))?;
    // The second file may be new: a compaction that fsyncs it must find it
    // after a power loss.
    sync_dir(dir)?;
    if old.is_some() {
        let path = dir.join(OLD_JOURNAL_FILE);
        fs::remove_file(&path).map_err(|e| failed("cannot remove", &path, e))?;
        sync_dir(dir)?;
    }
    let end = content.len() as u64;
    Ok((
        JournalFiles::new([first, second], 0, end, max_bytes.max(end)),
        epoch,
        cursor,
        restored,
    ))
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

    // A write that returned is in the OS page cache and survives the process
    // being killed; only a machine crash before the kernel flushes loses it.
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
        end > 2 * live + COMPACT_SLACK || self.nearly_full()
    }

    /// Past three quarters of the bound: a compaction then keeps the unread
    /// lines within half of it, so it comes again only after another quarter.
    fn nearly_full(&self) -> bool {
        let (_, end) = self.journal.active();
        end > self.journal.limit() / 4 * 3
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
                let Some(end) = rest.iter().position(|&b| b == b'\n' || b == 0) else {
                    break;
                };
                match read_add(&rest[..end]) {
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

    fn appended_waiting(&self) -> bool {
        let (_, end) = self.journal.active();
        self.cursor < end
    }
}

#[cfg(test)]
mod tests;
