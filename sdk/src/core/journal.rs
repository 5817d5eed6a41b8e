//! The append-only journal of unsent events: what is written as events come
//! and go, and how it is read back after a restart or a crash.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use usage_protocol::Event;
use uuid::Uuid;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// The token that sends `user`'s events.
    Token {
        /// `org/sub`.
        user: String,
        /// The status token.
        token: String,
    },
    /// An event to send; `user` is `None` while it is held for a login.
    Add {
        /// `org/sub`, or none yet.
        user: Option<String>,
        /// The event.
        event: Event,
    },
    /// Events that reached a final fate and need no sending.
    Done {
        /// Their ids.
        ids: Vec<Uuid>,
    },
}

/// Serializes records as newline-delimited JSON.
pub fn encode(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        serde_json::to_writer(&mut out, record).expect("journal records always serialize");
        out.push(b'\n');
    }
    out
}

/// What a journal holds after replay.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The latest token of each user.
    pub tokens: HashMap<String, String>,
    /// Unsent events in tracking order, with their user.
    pub events: Vec<(Option<String>, Event)>,
    /// Lines that could not be read (a write cut short by a crash).
    pub damaged: usize,
}

/// Reads a journal back; unreadable lines are skipped and counted.
pub fn replay(bytes: &[u8]) -> Replayed {
    let mut replayed = Replayed::default();
    let mut done = HashSet::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Record>(line) {
            Ok(Record::Token { user, token }) => {
                replayed.tokens.insert(user, token);
            }
            Ok(Record::Add { user, event }) => {
                done.remove(&event.id);
                replayed.events.push((user, event));
            }
            Ok(Record::Done { ids }) => done.extend(ids),
            Err(_) => replayed.damaged += 1,
        }
    }
    let mut seen = HashSet::new();
    replayed
        .events
        .retain(|(_, event)| !done.contains(&event.id) && seen.insert(event.id));
    replayed
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn event(n: u128) -> Event {
        Event::new(
            Uuid::from_u128(n),
            "e",
            OffsetDateTime::UNIX_EPOCH,
            None,
            None,
        )
        .expect("valid")
    }

    #[test]
    fn acknowledged_events_do_not_come_back() {
        let mut bytes = encode(&[
            Record::Token {
                user: "a/b".into(),
                token: "t".into(),
            },
            Record::Add {
                user: Some("a/b".into()),
                event: event(1),
            },
            Record::Add {
                user: None,
                event: event(2),
            },
            Record::Done {
                ids: vec![Uuid::from_u128(1)],
            },
        ]);
        bytes.extend_from_slice(br#"{"add":{"user":null,"ev"#);
        let replayed = replay(&bytes);
        assert_eq!(replayed.tokens["a/b"], "t");
        assert_eq!(replayed.events, vec![(None, event(2))]);
        assert_eq!(
            replayed.damaged, 1,
            "the line cut short by a crash is skipped"
        );
    }
}
