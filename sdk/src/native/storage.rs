//! Files in the tracker's folder: `session.json` (the cached login) and
//! `journal.ndjson` (unsent events, appended as they come).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::core::session::CachedSession;
use crate::platform::{Storage, StorageError};

const SESSION_FILE: &str = "session.json";
const JOURNAL_FILE: &str = "journal.ndjson";

/// The tracker's folder. One tracker per folder at a time.
#[derive(Debug)]
pub(crate) struct FileStorage {
    dir: PathBuf,
    journal: Option<File>,
}

fn failed(what: &str, path: &Path, error: std::io::Error) -> StorageError {
    StorageError(format!("{what} {}: {error}", path.display()))
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

impl FileStorage {
    /// Uses `dir`, creating it if needed.
    pub(crate) fn open(dir: PathBuf) -> Result<Self, StorageError> {
        fs::create_dir_all(&dir).map_err(|e| failed("cannot create", &dir, e))?;
        Ok(Self { dir, journal: None })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes `content` to `name` through a temporary file and a rename, so a
    /// crash leaves either the old or the new file.
    fn replace(&self, name: &str, content: &[u8]) -> Result<(), StorageError> {
        let path = self.path(name);
        let temporary = self.path(&format!("{name}.tmp"));
        let mut file = private_options()
            .truncate(true)
            .open(&temporary)
            .map_err(|e| failed("cannot write", &temporary, e))?;
        file.write_all(content)
            .map_err(|e| failed("cannot write", &temporary, e))?;
        fs::rename(&temporary, &path).map_err(|e| failed("cannot replace", &path, e))
    }

    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed("cannot read", &path, e)),
        }
    }
}

impl Storage for FileStorage {
    fn load_session(&mut self) -> Result<Option<CachedSession>, StorageError> {
        let Some(bytes) = self.read(SESSION_FILE)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError(format!("unreadable {SESSION_FILE}: {e}")))
    }

    fn save_session(&mut self, session: Option<&CachedSession>) -> Result<(), StorageError> {
        match session {
            Some(session) => {
                let json = serde_json::to_vec(session).expect("a cached session always serializes");
                self.replace(SESSION_FILE, &json)
            }
            None => match fs::remove_file(self.path(SESSION_FILE)) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    Err(failed("cannot remove", &self.path(SESSION_FILE), e))
                }
                _ => Ok(()),
            },
        }
    }

    fn load_journal(&mut self) -> Result<Vec<u8>, StorageError> {
        Ok(self.read(JOURNAL_FILE)?.unwrap_or_default())
    }

    // A write that returned is in the OS page cache and survives the process
    // being killed; only a machine crash before the kernel flushes loses it.
    fn append_journal(&mut self, lines: &[u8]) -> Result<(), StorageError> {
        let path = self.path(JOURNAL_FILE);
        if self.journal.is_none() {
            let file = private_options()
                .append(true)
                .open(&path)
                .map_err(|e| failed("cannot open", &path, e))?;
            self.journal = Some(file);
        }
        let file = self.journal.as_mut().expect("opened just above");
        file.write_all(lines)
            .map_err(|e| failed("cannot append to", &path, e))
    }

    fn replace_journal(&mut self, content: &[u8]) -> Result<(), StorageError> {
        self.journal = None;
        self.replace(JOURNAL_FILE, content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_survives_a_reopen_and_a_replace() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut storage = FileStorage::open(dir.path().join("app")).expect("opens");
        storage.append_journal(b"a\n").expect("appends");
        storage.append_journal(b"b\n").expect("appends");
        let mut reopened = FileStorage::open(dir.path().join("app")).expect("opens");
        assert_eq!(reopened.load_journal().expect("reads"), b"a\nb\n");
        reopened.replace_journal(b"c\n").expect("replaces");
        reopened.append_journal(b"d\n").expect("appends");
        assert_eq!(reopened.load_journal().expect("reads"), b"c\nd\n");
    }

    #[test]
    fn a_cleared_session_reads_as_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut storage = FileStorage::open(dir.path().to_path_buf()).expect("opens");
        let session = CachedSession {
            token: "t".into(),
            session_id: "s".into(),
            server_opted_out: false,
        };
        storage.save_session(Some(&session)).expect("saves");
        assert_eq!(storage.load_session().expect("reads"), Some(session));
        storage.save_session(None).expect("clears");
        storage.save_session(None).expect("clearing twice is fine");
        assert_eq!(storage.load_session().expect("reads"), None);
    }
}
