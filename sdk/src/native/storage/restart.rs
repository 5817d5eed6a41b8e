//! A new start: every journal file replayed into a fresh one, written aside,
//! synced and renamed in.

use std::fs;
use std::path::Path;

use super::{
    failed, private_options, read_optional, replace_file, sync_dir, JOURNAL_FILES, OLD_JOURNAL_FILE,
};
use crate::core::journal::{encode, lines, Record, Replay};
use crate::native::journal::JournalFiles;
use crate::platform::StorageError;

/// The epoch a journal file starts with; 0 for an empty or foreign one.
fn epoch_of(bytes: &[u8]) -> u64 {
    match lines(bytes).next().map(serde_json::from_slice::<Record>) {
        Some(Ok(Record::Epoch(n))) => n,
        _ => 0,
    }
}

/// Replays every journal file into a fresh one (written aside, synced and
/// renamed in), opens both files and returns them with the epoch, where
/// reading starts, and the lines the queue takes at once.
pub(super) fn start_journal(
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
