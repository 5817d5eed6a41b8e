//! The cached login and the journal of unsent events in the browser's
//! `localStorage`, through gloo-storage: `usage-sdk/<app>/session` holds the
//! login as JSON (read and written by `core::lean_json`), shared by the app's tabs; each tab writes its journal
//! (NDJSON text) under a key of its own, `usage-sdk/<app>/journal/<tab>`
//! (see `tabs.rs`), or, without Web Locks, under `usage-sdk/<app>/journal`.

use gloo_storage::{LocalStorage, Storage as _};

use crate::core::session::CachedSession;
use crate::platform::{Storage, StorageError};

/// Where a tracker in the browser keeps its state.
#[derive(Debug)]
pub(crate) enum BrowserStorage {
    /// `localStorage`: survives reloads and restarts of the browser.
    Local {
        session_key: String,
        journal_key: String,
        /// What the journal key holds, once read; appends extend it.
        journal: Option<String>,
    },
    /// Memory only, when `localStorage` is blocked (privacy settings) or
    /// missing (workers): the tracker works, but forgets at reload.
    Memory {
        session: Option<CachedSession>,
        journal: Vec<u8>,
    },
}

/// Names what failed; the browser's exception itself is not formatted, as
/// `Debug` output would bring Unicode escaping tables into the package.
fn failed(what: &str, key: &str) -> StorageError {
    StorageError(format!("{what} localStorage[{key}]"))
}

impl BrowserStorage {
    /// `localStorage` under the keys of `app`, the journal under
    /// `journal_key`; or memory when `localStorage` cannot be used.
    pub(crate) fn open(app: &str, journal_key: String) -> Self {
        let available = web_sys::window()
            .and_then(|window| window.local_storage().ok().flatten())
            .is_some();
        if !available {
            tracing::warn!("localStorage is not available; unsent events are kept in memory only");
            return Self::Memory {
                session: None,
                journal: Vec::new(),
            };
        }
        Self::Local {
            session_key: format!("usage-sdk/{app}/session"),
            journal_key,
            journal: None,
        }
    }
}

/// The journal's text as stored, or empty.
fn read_journal(key: &str) -> Result<String, StorageError> {
    LocalStorage::raw()
        .get_item(key)
        .map(Option::unwrap_or_default)
        .map_err(|_| failed("cannot read", key))
}

fn write_journal(key: &str, text: &str) -> Result<(), StorageError> {
    LocalStorage::raw()
        .set_item(key, text)
        .map_err(|_| failed("cannot write", key))
}

/// The cached login under `key`, when there is one.
fn read_session(key: &str) -> Result<Option<CachedSession>, StorageError> {
    match LocalStorage::raw().get_item(key) {
        Ok(None) => Ok(None),
        Ok(Some(text)) => crate::core::lean_json::cached_session(&text)
            .map(Some)
            .ok_or_else(|| failed("unreadable", key)),
        Err(_) => Err(failed("unreadable", key)),
    }
}

fn as_text(bytes: &[u8]) -> Result<&str, StorageError> {
    std::str::from_utf8(bytes)
        .map_err(|e| StorageError(format!("journal lines are not UTF-8: {e}")))
}

impl Storage for BrowserStorage {
    fn load_session(&mut self) -> Result<Option<CachedSession>, StorageError> {
        match self {
            Self::Local { session_key, .. } => read_session(session_key),
            Self::Memory { session, .. } => Ok(session.clone()),
        }
    }

    fn save_session(&mut self, session: Option<&CachedSession>) -> Result<(), StorageError> {
        match (self, session) {
            (Self::Local { session_key, .. }, Some(session)) => {
                // The server's hint about this very login, stored by another
                // tab, stays: writing the login again without it would tell
                // every tab the user is tracked once more.
                let stored = read_session(session_key).ok().flatten();
                let keep_hint = stored.is_some_and(|stored| {
                    stored.server_opted_out
                        && stored.token == session.token
                        && stored.session_id == session.session_id
                });
                let session = CachedSession {
                    server_opted_out: session.server_opted_out || keep_hint,
                    ..session.clone()
                };
                let text = crate::core::lean_json::cached_session_text(&session);
                LocalStorage::raw()
                    .set_item(session_key, &text)
                    .map_err(|_| failed("cannot write", session_key))
            }
            (Self::Local { session_key, .. }, None) => {
                LocalStorage::delete(&*session_key);
                Ok(())
            }
            (Self::Memory { session: kept, .. }, session) => {
                *kept = session.cloned();
                Ok(())
            }
        }
    }

    fn load_journal(&mut self) -> Result<Vec<u8>, StorageError> {
        match self {
            Self::Local {
                journal_key,
                journal,
                ..
            } => {
                let text = read_journal(journal_key)?;
                *journal = Some(text.clone());
                Ok(text.into_bytes())
            }
            Self::Memory { journal, .. } => Ok(journal.clone()),
        }
    }

    // localStorage has no append: the whole text is written again, which is
    // why the core rewrites the journal short as batches are acknowledged.
    fn append_journal(&mut self, lines: &[u8]) -> Result<(), StorageError> {
        match self {
            Self::Local {
                journal_key,
                journal,
                ..
            } => {
                let text = match journal {
                    Some(text) => text,
                    None => journal.insert(read_journal(journal_key)?),
                };
                let kept = text.len();
                text.push_str(as_text(lines)?);
                let written = write_journal(journal_key, text);
                if written.is_err() {
                    text.truncate(kept);
                }
                written
            }
            Self::Memory { journal, .. } => {
                journal.extend_from_slice(lines);
                Ok(())
            }
        }
    }

    fn replace_journal(&mut self, content: &[u8]) -> Result<(), StorageError> {
        match self {
            Self::Local {
                journal_key,
                journal,
                ..
            } => {
                let text = as_text(content)?;
                *journal = None;
                write_journal(journal_key, text)?;
                *journal = Some(text.to_owned());
                Ok(())
            }
            Self::Memory { journal, .. } => {
                *journal = content.to_vec();
                Ok(())
            }
        }
    }
}
