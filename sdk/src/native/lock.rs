//! The `lock` file that keeps a second tracker out of a data folder: two
//! trackers appending to one journal would each send the other's events.

use std::fs::File;
use std::path::Path;

use crate::error::Error;

const LOCK_FILE: &str = "lock";

/// Holds the folder until dropped (or until the process ends, however it ends:
/// the operating system releases the lock with the file).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the folder's lock, or says another tracker holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(LOCK_FILE);
        let mut options = File::options();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        // Windows: a file opened without sharing cannot be opened again.
        #[cfg(windows)]
        {
            use std::os::windows::fs::OpenOptionsExt;
            options.share_mode(0);
        }
        let file = match options.open(&path) {
            Ok(file) => file,
            #[cfg(windows)]
            Err(e) if e.raw_os_error() == Some(32) => return Err(Error::FolderInUse(dir.into())),
            Err(e) => {
                return Err(Error::Storage(format!(
                    "cannot open {}: {e}",
                    path.display()
                )))
            }
        };
        #[cfg(unix)]
        {
            use rustix::fs::{flock, FlockOperation};
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => return Err(Error::FolderInUse(dir.into())),
                Err(e) => {
                    return Err(Error::Storage(format!(
                        "cannot lock {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        Ok(Self { _file: file })
    }
}
