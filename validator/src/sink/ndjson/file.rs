//! One day's event file: created private, appended a batch at a time, all
//! or nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

/// The open file of one day.
#[derive(Debug)]
pub(super) struct DayFile {
    name: String,
    file: File,
    /// The length after the last batch written whole: a failed write is cut
    /// back to it.
    len: u64,
    /// A failed write could not be cut back yet: nothing is appended until
    /// it is.
    torn: bool,
}

impl DayFile {
    /// Opens (or creates, readable by the owner only) the file `name` in
    /// `dir`. A line cut short by a crash mid-write, never acknowledged, is
    /// cut off, so the next batch starts on a line of its own.
    pub(super) fn open(dir: &Path, name: String) -> io::Result<Self> {
        let mut options = OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(dir.join(&name))?;
        let len = complete_len(&file)?;
        if len != file.metadata()?.len() {
            tracing::warn!(file = %name, len, "cutting off a line left unfinished by a crash");
            file.set_len(len)?;
        }
        Ok(Self {
            name,
            file,
            len,
            torn: false,
        })
    }

    /// The file's name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The open file, for syncing.
    pub(super) fn file(&self) -> &File {
        &self.file
    }

    /// Appends `lines` (whole lines), then syncs the data if `sync` is set.
    /// On failure (disk full, file too large, a failed sync) the file is cut
    /// back to its length before, so nothing of the batch stays.
    pub(super) fn append(&mut self, lines: &[u8], sync: bool) -> io::Result<()> {
        if self.torn {
            self.file.set_len(self.len)?;
            self.torn = false;
        }
        let written =
            self.file.write_all(lines).and_then(
                |()| {
                    if sync {
                        self.file.sync_data()
                    } else {
                        Ok(())
                    }
                },
            );
        match written {
            Ok(()) => {
                self.len += lines.len() as u64;
                Ok(())
            }
            Err(err) => {
                self.torn = self.file.set_len(self.len).is_err();
                Err(err)
            }
        }
    }
}

/// The length of `file` up to and including its last newline.
fn complete_len(file: &File) -> io::Result<u64> {
    // Appending ignores the read position, so moving it is harmless.
    let mut reader = file;
    let mut end = file.metadata()?.len();
    let mut chunk = vec![0; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let piece = &mut chunk[..(end - start) as usize];
        reader.seek(SeekFrom::Start(start))?;
        reader.read_exact(piece)?;
        if let Some(at) = piece.iter().rposition(|&b| b == b'\n') {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_short_by_a_crash_is_dropped_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("d.ndjson"), "{\"a\":1}\n{\"a\":2}\n{\"a\"").expect("write");
        let mut day = DayFile::open(dir.path(), "d.ndjson".into()).expect("open");
        day.append(b"{\"a\":3}\n", false).expect("append");
        let text = std::fs::read_to_string(dir.path().join("d.ndjson")).expect("read");
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
        std::fs::write(dir.path().join("e.ndjson"), "no newline at all").expect("write");
        DayFile::open(dir.path(), "e.ndjson".into()).expect("open");
        assert_eq!(
            std::fs::read(dir.path().join("e.ndjson")).expect("read"),
            b""
        );
    }

    #[cfg(unix)]
    #[test]
    fn files_are_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        DayFile::open(dir.path(), "d.ndjson".into()).expect("open");
        let mode = std::fs::metadata(dir.path().join("d.ndjson"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_unfinished_tail_longer_than_a_read_is_cut_back_to_the_last_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let whole = "{\"a\":1}\n".repeat(20_000);
        let tail = "x".repeat(150 * 1024);
        std::fs::write(dir.path().join("d.ndjson"), format!("{whole}{tail}")).expect("write");
        DayFile::open(dir.path(), "d.ndjson".into()).expect("open");
        let text = std::fs::read_to_string(dir.path().join("d.ndjson")).expect("read");
        assert_eq!(text.len(), whole.len());
        assert_eq!(text, whole);
    }

    #[test]
    fn a_failed_write_is_cut_back_and_what_was_written_before_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.ndjson");
        let mut day = DayFile::open(dir.path(), "d.ndjson".into()).expect("open");
        day.append(b"{\"a\":1}\n{\"a\":2}\n", false)
            .expect("append");
        // A handle that cannot write stands in for a disk that refuses.
        let writable = std::mem::replace(&mut day.file, File::open(&path).expect("read-only"));
        assert!(day.append(b"{\"a\":3}\n", false).is_err());
        day.file = writable;
        day.append(b"{\"a\":4}\n", false)
            .expect("append after the failure");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n{\"a\":4}\n");
    }
}
