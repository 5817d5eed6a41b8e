//! The journal files that the app's threads and the delivery worker write at
//! the same time, without a lock between them.
//!
//! Two files take turns being the active one. A writer reserves the next
//! bytes of the active file with one atomic add on `state` and copies its
//! line there. On Linux and Android the copy goes into a shared memory
//! mapping of the file ([`mapped`]): no system call, and the line is in the
//! file's pages of the kernel's page cache when the copy ends, so it
//! survives the process being killed at any later instant. Elsewhere (or if
//! the file system cannot grow a file with `fallocate`) it is one positional
//! write (`pwrite`), with the same guarantee. Lines of different writers
//! never mix, since their ranges do not overlap; a reserved range not yet
//! written reads as zeros, which is how a reader tells a write in progress
//! from a finished one (JSON text never holds a NUL byte).
//!
//! Compaction writes what is still needed into the other file, then makes it
//! the active one and waits until no write to the old file is under way; from
//! then on the old file changes no more and is emptied. No file is ever
//! replaced under a writer, so `track()` needs no lock to find its file.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

#[cfg(any(target_os = "linux", target_os = "android"))]
mod mapped;

/// Elsewhere no file is mapped: every line goes with `pwrite`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod mapped {
    use super::Reservation;
    use std::fs::File;

    /// Never made: there is no mapping on this platform.
    #[derive(Debug)]
    pub(crate) enum Mapping {}

    impl Mapping {
        pub(crate) fn new(_: &File, _: u64) -> Option<Self> {
            None
        }

        pub(crate) fn write(&self, _: &File, _: &Reservation<'_>, _: &[u8]) -> bool {
            match *self {}
        }

        pub(crate) fn forget(&self) {
            match *self {}
        }

        pub(crate) fn prepare(&self, _: &File, _: u64) {
            match *self {}
        }
    }
}

use mapped::Mapping;

/// Bit of `state` naming the active file; the other bits hold its end.
const SIDE_BIT: u64 = 1 << 63;

/// Why an append did not happen.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// The active file reached the journal's size bound.
    Full,
    /// The operating system refused the write.
    Io(io::Error),
}

/// The two journal files, shared by every writer.
#[derive(Debug)]
pub(crate) struct JournalFiles {
    files: [File; 2],
    /// The files mapped for writing, where the platform allows.
    maps: [Option<Mapping>; 2],
    /// Which file is active (`SIDE_BIT`) and where its next line goes.
    state: AtomicU64,
    /// Writes under way, per file.
    writers: [AtomicU64; 2],
    /// Most bytes the active file may hold.
    limit: u64,
}

/// A range of the active file reserved for one writer; dropping it says the
/// write is over.
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    journal: &'a JournalFiles,
    pub(crate) side: usize,
    pub(crate) offset: u64,
    /// How many bytes it holds.
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    len: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.journal.writers[self.side].fetch_sub(1, SeqCst);
    }
}

fn side_of(state: u64) -> usize {
    usize::from(state & SIDE_BIT != 0)
}

fn encode(side: usize, end: u64) -> u64 {
    if side == 1 {
        end | SIDE_BIT
    } else {
        end
    }
}

impl JournalFiles {
    /// `files[active]` is written from `end` on; neither file may grow past `limit`.
    pub(crate) fn new(files: [File; 2], active: usize, end: u64, limit: u64) -> Self {
        let mut journal = Self::unmapped(files, active, end, limit);
        journal.maps = [0, 1].map(|side| Mapping::new(&journal.files[side], journal.limit));
        journal
    }

    /// The same files written with `pwrite` only.
    fn unmapped(files: [File; 2], active: usize, end: u64, limit: u64) -> Self {
        Self {
            files,
            maps: [None, None],
            state: AtomicU64::new(encode(active, end)),
            writers: [AtomicU64::new(0), AtomicU64::new(0)],
            limit: limit.min(SIDE_BIT - 1),
        }
    }

    /// Reserves `len` bytes at the end of the active file.
    pub(crate) fn reserve(&self, len: u64) -> Result<Reservation<'_>, AppendError> {
        loop {
            let side = side_of(self.state.load(SeqCst));
            // Counted before the range is taken, so that a compaction which
            // sees no writer after switching files knows the old one is final.
            self.writers[side].fetch_add(1, SeqCst);
            let taken = self.state.fetch_update(SeqCst, SeqCst, |state| {
                let end = state & !SIDE_BIT;
                (side_of(state) == side && end + len <= self.limit).then_some(state + len)
            });
            match taken {
                Ok(state) => {
                    return Ok(Reservation {
                        journal: self,
                        side,
                        offset: state & !SIDE_BIT,
                        len,
                    })
                }
                Err(state) => {
                    self.writers[side].fetch_sub(1, SeqCst);
                    if side_of(state) == side {
                        return Err(AppendError::Full);
                    }
                }
            }
        }
    }

    /// Appends `bytes` (whole lines) with one write.
    pub(crate) fn append(&self, bytes: &[u8]) -> Result<(), AppendError> {
        let reservation = self.reserve(bytes.len() as u64)?;
        self.write(&reservation, bytes).map_err(AppendError::Io)
    }

    /// Writes `bytes` at the start of `reservation`: through the file's
    /// mapping where it has one, else with `pwrite`.
    pub(crate) fn write(&self, reservation: &Reservation<'_>, bytes: &[u8]) -> io::Result<()> {
        let side = reservation.side;
        let file = self.file(side);
        let mapped = self.maps[side]
            .as_ref()
            .is_some_and(|map| map.write(file, reservation, bytes));
        if mapped {
            Ok(())
        } else {
            write_at(file, bytes, reservation.offset)
        }
    }

    /// Makes room ahead of the writers of the active file (its mapping's
    /// pages mapped in), so that `track()` meets no page fault. For the
    /// delivery worker, on each of its turns.
    pub(crate) fn prepare(&self) {
        let (side, end) = self.active();
        if let Some(map) = &self.maps[side] {
            map.prepare(self.file(side), end);
        }
    }

    /// Empties file `side`. Only for a file that is not the active one and
    /// that no write is under way to (after [`Self::switch`] returned, or
    /// before it is made the active one).
    pub(crate) fn empty(&self, side: usize) -> io::Result<()> {
        debug_assert!(self.active().0 != side, "the active file is never emptied");
        if let Some(map) = &self.maps[side] {
            map.forget();
        }
        self.files[side].set_len(0)
    }

    /// The active file and its end.
    pub(crate) fn active(&self) -> (usize, u64) {
        let state = self.state.load(SeqCst);
        (side_of(state), state & !SIDE_BIT)
    }

    /// Whether no write to file `side` is under way. Read after [`Self::active`],
    /// a `true` means every byte below the end read there is final.
    pub(crate) fn quiet(&self, side: usize) -> bool {
        self.writers[side].load(SeqCst) == 0
    }

    /// Makes file `to` the active one. In the same step it reserves, from
    /// `at`, room for the old file's lines from `tail_from` to its end, so
    /// that they stay ahead of every line written after the switch. Returns
    /// the old file's final end, once no write to it is under way, and the
    /// reservation to copy the tail into.
    pub(crate) fn switch(&self, to: usize, at: u64, tail_from: u64) -> (u64, Reservation<'_>) {
        // The tail is a write under way in `to` until it is copied.
        self.writers[to].fetch_add(1, SeqCst);
        let mut old = self.state.load(SeqCst);
        loop {
            let old_end = old & !SIDE_BIT;
            let next = encode(to, at + old_end.saturating_sub(tail_from));
            match self.state.compare_exchange(old, next, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(actual) => old = actual,
            }
        }
        let tail = Reservation {
            journal: self,
            side: to,
            offset: at,
            len: (old & !SIDE_BIT).saturating_sub(tail_from),
        };
        let from = side_of(old);
        while !self.quiet(from) {
            // A writer between its reservation and the end of its `pwrite`.
            std::thread::yield_now();
        }
        (old & !SIDE_BIT, tail)
    }

    /// Most bytes a file may hold.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    pub(crate) fn file(&self, side: usize) -> &File {
        &self.files[side]
    }
}

impl crate::platform::Appender for JournalFiles {
    fn append(&self, line: &[u8]) -> Result<(), crate::platform::AppendError> {
        match JournalFiles::append(self, line) {
            Ok(()) => Ok(()),
            Err(AppendError::Full) => Err(crate::platform::AppendError::Full),
            Err(AppendError::Io(error)) => {
                Err(crate::platform::AppendError::Failed(error.to_string()))
            }
        }
    }
}

/// Writes all of `bytes` at `offset`, leaving the file position alone.
pub(crate) fn write_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    while !bytes.is_empty() {
        #[cfg(unix)]
        let written = std::os::unix::fs::FileExt::write_at(file, bytes, offset);
        #[cfg(windows)]
        let written = std::os::windows::fs::FileExt::seek_write(file, bytes, offset);
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                bytes = &bytes[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads up to `buffer.len()` bytes at `offset`; fewer only at the end of the file.
pub(crate) fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let at = offset + filled as u64;
        #[cfg(unix)]
        let read = std::os::unix::fs::FileExt::read_at(file, &mut buffer[filled..], at);
        #[cfg(windows)]
        let read = std::os::windows::fs::FileExt::seek_read(file, &mut buffer[filled..], at);
        match read {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn files(dir: &tempfile::TempDir) -> [File; 2] {
        let open = |name: &str| {
            File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(dir.path().join(name))
                .expect("opens")
        };
        [open("a"), open("b")]
    }

    #[test]
    fn lines_from_many_threads_never_mix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = Arc::new(JournalFiles::new(files(&dir), 0, 0, 1 << 30));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let journal = journal.clone();
                std::thread::spawn(move || {
                    for n in 0..2_000 {
                        let line = format!(
                            "{{\"t\":{t},\"n\":{n},\"pad\":\"{}\"}}\n",
                            "x".repeat(n % 50)
                        );
                        journal.append(line.as_bytes()).expect("appends");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("joins");
        }
        let (side, end) = journal.active();
        let mut bytes = vec![0; usize::try_from(end).expect("small")];
        let read = read_at(journal.file(side), &mut bytes, 0).expect("reads");
        assert_eq!(read as u64, end);
        let lines: Vec<serde_json::Value> = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("every line whole"))
            .collect();
        assert_eq!(lines.len(), 8_000);
    }

    #[test]
    fn a_switch_waits_for_writes_under_way_and_new_lines_go_to_the_other_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = JournalFiles::new(files(&dir), 0, 0, 1 << 20);
        journal.append(b"one\n").expect("appends");
        let reservation = journal.reserve(4).expect("reserves");
        assert!(!journal.quiet(0));
        drop(reservation);
        let (old_end, tail) = journal.switch(1, 0, 4);
        assert_eq!(old_end, 8, "the old file's final end");
        assert_eq!(tail.offset, 0);
        journal.append(b"two\n").expect("appends after the tail");
        assert_eq!(journal.active(), (1, 8));
        assert!(!journal.quiet(1), "the tail is not copied yet");
        drop(tail);
        assert!(journal.quiet(1));
    }

    #[test]
    fn a_full_journal_refuses_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = JournalFiles::new(files(&dir), 0, 0, 6);
        journal.append(b"abcd\n").expect("fits");
        assert!(matches!(journal.append(b"ef\n"), Err(AppendError::Full)));
        assert!(
            journal.quiet(0),
            "a refused append leaves no writer counted"
        );
    }
}
