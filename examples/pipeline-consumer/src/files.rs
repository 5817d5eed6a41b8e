//! Which file a message goes to, and writing a fetched batch durably.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt as _;

/// Where one message is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// A stored event: appended as a line to this day file.
    Day(PathBuf),
    /// Not a stored event: written alone to this file.
    Unreadable(PathBuf),
}

/// The two fields that place a stored event.
#[derive(serde::Deserialize)]
struct Head {
    org: String,
    #[serde(with = "time::serde::rfc3339")]
    received_at: time::OffsetDateTime,
}

/// The file for a message with `payload` at stream position `sequence`:
/// `<out>/<org>/<YYYY-MM-DD>.ndjson` by the UTC day of `received_at`.
///
/// The org folder writes `.` as `%2E`, as the subjects do, so no org id
/// (`.`, `..`) can name a folder outside `out`.
pub fn file_for(out: &Path, payload: &[u8], sequence: u64) -> Placed {
    let unreadable = || Placed::Unreadable(out.join("unreadable").join(sequence.to_string()));
    let Ok(head) = serde_json::from_slice::<Head>(payload) else {
        return unreadable();
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._@+-".contains(c);
    if head.org.is_empty() || !head.org.chars().all(allowed) || payload.contains(&b'\n') {
        return unreadable();
    }
    let day = head.received_at.to_offset(time::UtcOffset::UTC).date();
    Placed::Day(
        out.join(head.org.replace('.', "%2E"))
            .join(format!("{day}.ndjson")),
    )
}

/// Writes every message to its file and syncs each file touched; returns how
/// many stored events were written. Nothing is acknowledged before this ends.
pub(crate) async fn write_all(
    out: &Path,
    messages: &[async_nats::jetstream::Message],
) -> std::io::Result<u64> {
    let mut days: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    let mut events = 0;
    for message in messages {
        let sequence = message.info().map_or(0, |info| info.stream_sequence);
        match file_for(out, &message.payload, sequence) {
            Placed::Day(path) => {
                let lines = days.entry(path).or_default();
                lines.extend_from_slice(&message.payload);
                lines.push(b'\n');
                events += 1;
            }
            Placed::Unreadable(path) => {
                tracing::warn!(sequence, path = %path.display(), "not a stored event; kept aside");
                write_synced(&path, &message.payload, false).await?;
            }
        }
    }
    for (path, lines) in days {
        write_synced(&path, &lines, true).await?;
    }
    Ok(events)
}

async fn write_synced(path: &Path, bytes: &[u8], append: bool) -> std::io::Result<()> {
    if let Some(folder) = path.parent() {
        tokio::fs::create_dir_all(folder).await?;
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .await?;
    file.write_all(bytes).await?;
    file.sync_data().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_goes_to_its_orgs_folder_by_the_utc_day_it_was_received() {
        let payload =
            br#"{"org":"acme","user":"bob","received_at":"2026-11-29T23:30:00-02:00","id":"x"}"#;
        assert_eq!(
            file_for(Path::new("out"), payload, 7),
            Placed::Day(PathBuf::from("out/acme/2026-11-30.ndjson"))
        );
    }

    #[test]
    fn no_org_id_names_a_folder_outside_the_output() {
        for org in ["..", ".", "a.b"] {
            let payload = format!(r#"{{"org":"{org}","received_at":"2026-11-29T08:00:00Z"}}"#);
            let Placed::Day(path) = file_for(Path::new("out"), payload.as_bytes(), 1) else {
                panic!("{org} is a valid org id");
            };
            assert!(
                path.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_))),
                "{org}: {}",
                path.display()
            );
        }
    }

    #[test]
    fn what_is_not_a_stored_event_is_set_aside_by_its_sequence() {
        for payload in [
            &b"not json"[..],
            br#"{"org":"acme"}"#,
            br#"{"org":"a/b","received_at":"2026-11-29T08:00:00Z"}"#,
        ] {
            assert_eq!(
                file_for(Path::new("out"), payload, 42),
                Placed::Unreadable(PathBuf::from("out/unreadable/42"))
            );
        }
    }
}
