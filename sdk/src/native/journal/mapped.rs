//! Journal lines written through a shared memory mapping of their file, so
//! that `track()` makes no system call for its line. The crate's only
//! `unsafe` code lives here.
//!
//! Why a line copied into the mapping is as safe as one written with
//! `pwrite`: a `MAP_SHARED` mapping of a file maps the file's own pages of
//! the kernel's page cache. When the copy ends the bytes are in those pages,
//! which belong to the file, not to the process; a `kill -9` an instant later
//! leaves them there and the kernel writes them out as for any write. (A
//! power loss can lose them, as it can lose any write not fsynced; on Linux
//! `fsync` writes out pages dirtied through a mapping too, so the fsyncs the
//! journal already makes need no `msync`.)
//!
//! A mapping covers only bytes the file holds: writing to a page past the end
//! of the file raises `SIGBUS`. The file is grown ahead of the writers with
//! `fallocate`, which only ever grows a file and never changes bytes already
//! written, so the writers can grow it without a lock: whoever finds its
//! range past the ready part grows it by [`AHEAD`]. A file is emptied only
//! while no write to it can be under way (see [`Mapping::forget`]).
//!
//! Pages written through the mapping count in the process's resident memory
//! until they are unmapped from it; the writer that grows the file also lets
//! go of the pages well behind the end (`MADV_DONTNEED`, which for a shared
//! file mapping keeps the data in the file), so the app's memory does not
//! grow with the journal.
//!
//! Linux and Android only: elsewhere `fallocate` may shrink a file or be
//! emulated by writing zeros over it, and every line goes with `pwrite`.
#![allow(unsafe_code)]

use std::fs::File;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use rustix::fs::{fallocate, FallocateFlags};
use rustix::io::Errno;
use rustix::mm::{madvise, mmap, munmap, Advice, MapFlags, ProtFlags};

use super::Reservation;

/// Bytes the file is grown by at a time, beyond the range that needed it.
const AHEAD: u64 = 2 << 20;
/// Bytes behind the end of the lines whose pages stay mapped; older pages
/// are let go. Far more than the writes under way span.
const KEEP: u64 = 512 << 10;
/// Pages are let go in steps of this size, a multiple of every page size.
const RELEASE_STEP: u64 = 64 << 10;
/// Bytes past the end whose pages the worker maps in ahead of the writers:
/// about 9,000 events of 230 bytes, more than a burst writes between two
/// turns of the worker.
const PREFAULT: u64 = 2 << 20;
/// Most bytes of a file mapped; lines beyond go with `pwrite`. A 32-bit
/// process has little address space to spare for two journal files.
const MAX_MAPPED: u64 = if usize::BITS >= 64 {
    64 << 30
} else {
    64 << 20
};

/// A writable shared mapping of one journal file, from its first byte.
#[derive(Debug)]
pub(crate) struct Mapping {
    base: NonNull<u8>,
    len: u64,
    /// Bytes from the start that the file is known to hold: a write below
    /// this goes through the mapping.
    ready: AtomicU64,
    /// Bytes from the start whose pages were let go.
    released: AtomicU64,
    /// Bytes from the start whose pages the worker mapped in ahead of the writers.
    prefaulted: AtomicU64,
    /// The kernel cannot map pages in ahead (`MADV_POPULATE_WRITE`, Linux 5.14).
    no_prefault: AtomicBool,
    /// The file system cannot `fallocate`: every line goes with `pwrite`.
    refused: AtomicBool,
}

// SAFETY: `Mapping` owns a region of shared memory that is meant to be
// written from several threads; the only writes go through `Mapping::write`,
// whose ranges never overlap (see there), and the bookkeeping is atomic.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`: `&Mapping` only allows writes to disjoint ranges.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `file` for writing, up to `limit` bytes (the most it may hold);
    /// `None` if the system refuses, and then lines go with `pwrite`.
    pub(crate) fn new(file: &File, limit: u64) -> Option<Self> {
        let len = limit.min(MAX_MAPPED);
        let bytes = usize::try_from(len).ok().filter(|&n| n > 0)?;
        let ready = file.metadata().ok()?.len().min(len);
        // SAFETY: a new mapping at an address the kernel picks, so no
        // existing memory is affected. Bytes past the file's end are never
        // touched: `write` only copies below `ready`, which never exceeds
        // the file's length (it starts at the length and grows only after
        // `fallocate` grew the file, and is cleared before the file shrinks).
        let base = unsafe {
            mmap(
                std::ptr::null_mut(),
                bytes,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                file,
                0,
            )
        }
        .ok()?;
        Some(Self {
            base: NonNull::new(base.cast())?,
            len,
            ready: AtomicU64::new(ready),
            released: AtomicU64::new(0),
            prefaulted: AtomicU64::new(0),
            no_prefault: AtomicBool::new(false),
            refused: AtomicBool::new(false),
        })
    }

    /// Copies `bytes` to the start of `at`, the file's mapping; `false` if
    /// it could not (past the mapping, or the file could not be grown), and
    /// then the caller writes them with `pwrite`.
    pub(crate) fn write(&self, file: &File, at: &Reservation<'_>, bytes: &[u8]) -> bool {
        let len = bytes.len() as u64;
        let Some(end) = at.offset.checked_add(len) else {
            return false;
        };
        if len > at.len || end > self.len {
            return false;
        }
        if end > self.ready.load(SeqCst) && !self.grow(file, end) {
            return false;
        }
        let Ok(offset) = usize::try_from(at.offset) else {
            return false;
        };
        // SAFETY: the destination `offset..offset + len` lies inside the
        // mapping (`end <= self.len`, the mapped length) and inside the file
        // (`end <= ready`), so the copy touches only memory we mapped, backed
        // by the file. It belongs to `at`, a reservation: reservations are
        // made only by `JournalFiles::reserve` and `switch`, from one atomic
        // word, and never overlap while they live, so no other thread writes
        // these bytes now. Nothing in the process holds a Rust reference into
        // the mapping (readers use `pread`), so writing through a raw
        // pointer aliases nothing. `bytes` is ordinary memory, not the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.base.as_ptr().add(offset),
                bytes.len(),
            );
        }
        true
    }

    /// Grows the file to hold `end` and [`AHEAD`] more bytes, then lets go
    /// of pages far behind; `false` if the file could not be grown.
    fn grow(&self, file: &File, end: u64) -> bool {
        let from = self.ready.load(SeqCst);
        if end <= from {
            // Another writer grew it meanwhile.
            return true;
        }
        if self.refused.load(SeqCst) {
            return false;
        }
        let to = end.saturating_add(AHEAD).min(self.len);
        // Writers that cross the ready part together each grow the file;
        // `fallocate` never shrinks it nor touches bytes already written.
        match fallocate(file, FallocateFlags::empty(), from, to - from) {
            Ok(()) => {}
            Err(Errno::OPNOTSUPP | Errno::NOSYS) => {
                self.refused.store(true, SeqCst);
                return false;
            }
            Err(_) => return false,
        }
        self.ready.fetch_max(to, SeqCst);
        // `end` is at most `PREFAULT` past the end of the lines (when
        // `prepare` grows the file), so this keeps `KEEP` behind them at least.
        self.release_before(end.saturating_sub(PREFAULT + KEEP));
        true
    }

    /// Grows the file past `end`, the end of the lines, and maps in the pages
    /// just past it, so the writers that come next take no page fault: the
    /// first write to a page of a file costs microseconds in the kernel,
    /// which the delivery worker pays here instead of `track()`. Only the
    /// worker calls this, and only for the active file.
    pub(crate) fn prepare(&self, file: &File, end: u64) {
        let want = end.saturating_add(PREFAULT).min(self.len);
        self.release_before(end.saturating_sub(KEEP));
        if !self.grow(file, want) || self.no_prefault.load(SeqCst) {
            return;
        }
        let from = self.prefaulted.load(SeqCst).max(end) / RELEASE_STEP * RELEASE_STEP;
        let to = want / RELEASE_STEP * RELEASE_STEP;
        let (Ok(start), Ok(len)) = (
            usize::try_from(from),
            usize::try_from(to.saturating_sub(from)),
        ) else {
            return;
        };
        if len == 0 {
            return;
        }
        // SAFETY: `from..to` lies inside the mapping and inside the file
        // (`to <= want <= ready`, `grow` succeeded), and `from` is a multiple
        // of the page size. `MADV_POPULATE_WRITE` faults the pages in as a
        // write would, without changing a byte, so writes under way there
        // are unaffected; past the file's end it fails instead of raising
        // `SIGBUS`. No Rust reference into the mapping exists.
        let populated = unsafe {
            madvise(
                self.base.as_ptr().add(start).cast(),
                len,
                Advice::LinuxPopulateWrite,
            )
        };
        match populated {
            Ok(()) => {
                self.prefaulted.fetch_max(to, SeqCst);
            }
            Err(Errno::INVAL) => self.no_prefault.store(true, SeqCst),
            Err(error) => tracing::debug!(%error, "could not map journal pages in ahead"),
        }
    }

    /// Unmaps from the process (not from the file) the pages below `upto`.
    fn release_before(&self, upto: u64) {
        let upto = upto / RELEASE_STEP * RELEASE_STEP;
        let from = self.released.fetch_max(upto, SeqCst);
        if upto <= from {
            return;
        }
        let (Ok(start), Ok(len)) = (usize::try_from(from), usize::try_from(upto - from)) else {
            return;
        };
        // SAFETY: `from..upto` lies inside the mapping (`upto <= ready <=
        // len`) and both ends are multiples of `RELEASE_STEP`, hence of the
        // page size. `MADV_DONTNEED` on a shared file mapping only drops this
        // process's page table entries: a dirty page stays dirty in the page
        // cache, so no written byte is lost, and a write still under way
        // there faults the same page back in. No Rust reference into the
        // mapping exists to be invalidated.
        let released = unsafe {
            madvise(
                self.base.as_ptr().add(start).cast(),
                len,
                Advice::LinuxDontNeed,
            )
        };
        if let Err(error) = released {
            tracing::debug!(%error, "could not release journal pages");
        }
    }

    /// Forgets that the file holds anything, before it is emptied: later
    /// writes grow it again first. Call only while no reservation of this
    /// file lives (the file is not the active one and no write to it is
    /// under way), so no write is between its check of `ready` and its copy.
    pub(crate) fn forget(&self) {
        self.ready.store(0, SeqCst);
        self.released.store(0, SeqCst);
        self.prefaulted.store(0, SeqCst);
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        let Ok(len) = usize::try_from(self.len) else {
            return;
        };
        // SAFETY: the region was mapped by `Mapping::new` with this length
        // and is unmapped once. `JournalFiles` owns its mappings and every
        // reservation borrows it, so no write is under way when it drops.
        if let Err(error) = unsafe { munmap(self.base.as_ptr().cast(), len) } {
            tracing::debug!(%error, "could not unmap a journal file");
        }
    }
}

#[cfg(test)]
mod tests;
