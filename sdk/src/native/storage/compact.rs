//! Compaction: the live events and the unread lines move into the other
//! journal file, which becomes the active one; near the journal's bound the
//! oldest unread events are dropped first.

use super::{failed, FileStorage, JOURNAL_FILES, READ_CHUNK};
use crate::core::journal::{encode, read_add, Record};
use crate::native::journal::{read_at, write_at, JournalFiles};
use crate::platform::StorageError;
use uuid::Uuid;

impl FileStorage {
    /// Writes the compacted journal into the other file and switches to it.
    pub(super) fn compact(&mut self, content: &[u8]) -> Result<(), StorageError> {
        let (from, _) = self.journal.active();
        let to = 1 - from;
        let target = self.journal.file(to);
        let target_path = self.path(JOURNAL_FILES[to]);
        let io = |e| failed("cannot compact into", &target_path, e);
        self.journal.empty(to).map_err(io)?;
        let mut head = encode(&[Record::Epoch(self.epoch + 1)]);
        head.extend_from_slice(content);
        write_at(target, &head, 0).map_err(io)?;
        let new_cursor = head.len() as u64;
        // Unread lines are all kept while the live lines fit in three
        // quarters of the bound (the same measure as `nearly_full`); beyond,
        // the oldest are dropped down to half of it, so that the next drop is
        // a quarter of the bound of new lines away.
        let limit = self.journal.limit();
        let (_, end) = self.journal.active();
        let budget = if content.len() as u64 + (end - self.cursor) <= self.full_mark() {
            u64::MAX
        } else {
            (limit / 2).saturating_sub(new_cursor)
        };
        let (keep_from, dropped) = self.drop_oldest(from, budget)?;
        // Lines not yet read move across: first those known whole...
        let (copied_to, at) = self.copy_whole(from, to, keep_from, new_cursor)?;
        // ...then, once no write to the old file is under way, the rest, in
        // room reserved ahead of the lines written after the switch.
        let (final_end, tail) = self.journal.switch(to, at, copied_to);
        // Dropped from here on: the old file's lines are no longer read. (A
        // failure before the switch leaves them all in place, to be read.)
        self.dropped.extend(dropped);
        copy_range(&self.journal, from, copied_to..final_end, to, tail.offset)
            .map_err(|e| failed("cannot compact into", &target_path, e))?;
        drop(tail);
        self.journal
            .file(to)
            .sync_data()
            .map_err(|e| failed("cannot sync", &target_path, e))?;
        self.journal
            .empty(from)
            .map_err(|e| failed("cannot empty", &self.path(JOURNAL_FILES[from]), e))?;
        self.epoch += 1;
        let (_, end) = self.journal.active();
        self.full_again_at = end + limit / 8;
        self.cursor = new_cursor;
        self.unread.clear();
        self.consumed = 0;
        Ok(())
    }

    /// When the unread lines of file `from` hold more than `budget` bytes,
    /// picks the oldest of them to drop, so that the rest fit; returns where
    /// the lines to keep begin and the events of those before. A write under way (zeros)
    /// ends the dropping: its event is not known yet, so neither it nor the
    /// lines after it are dropped.
    fn drop_oldest(&self, from: usize, budget: u64) -> Result<(u64, Vec<Uuid>), StorageError> {
        let (_, end) = self.journal.active();
        if end - self.cursor <= budget {
            return Ok((self.cursor, Vec::new()));
        }
        // Read after the end: when no write is under way, every byte below
        // it is final, and zeros are what a failed write left.
        let quiet = self.journal.quiet(from);
        let cut = end - budget;
        let mut position = self.cursor;
        let mut buffer = vec![0; READ_CHUNK];
        let mut dropped = Vec::new();
        'reading: while position < cut {
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
                let mut text = &line[..line.len() - 1];
                if let Some(zero) = text.iter().rposition(|&b| b == 0) {
                    if !quiet {
                        position += used as u64;
                        break 'reading;
                    }
                    // Zeros a failed write left, then possibly a line.
                    text = &text[zero + 1..];
                }
                if let Some(Some((_, event))) = read_add(text) {
                    dropped.push(event.id);
                }
                used += line.len();
            }
            if used == 0 {
                break;
            }
            position += used as u64;
        }
        tracing::warn!(
            events = dropped.len(),
            "the journal reached its bound: dropped its oldest unsent events"
        );
        Ok((position, dropped))
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
            let written = memchr::memchr(0, &buffer[..read]).unwrap_or(read);
            let whole = memchr::memrchr(b'\n', &buffer[..written]).map_or(0, |last| last + 1);
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
