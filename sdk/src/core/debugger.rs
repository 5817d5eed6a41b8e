//! The debugger log: the last events the tracker saw and what became of each.
//!
//! It has two halves so that `track()` never waits for the delivery worker:
//! the app's threads write [`DebugLog`] (the events, in the order tracked), the
//! worker writes [`FateLog`] (what became of them since), and reading the log
//! joins the two by event id.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde::{Serialize, Serializer};
use usage_protocol::limits::MAX_NAME_LEN;
use usage_protocol::RejectCode;
use uuid::Uuid;

use super::id_hash::IdHash;

/// How many events the debugger remembers unless configured otherwise.
pub const DEFAULT_DEBUG_CAPACITY: usize = 200;

/// An event name kept inline, so recording a dropped event needs no heap allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NameText {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl NameText {
    /// Copies `name`, cut at a character boundary to at most 128 bytes.
    pub fn new(name: &str) -> Self {
        let mut text = Self {
            bytes: [0; MAX_NAME_LEN],
            len: 0,
        };
        text.set(name);
        text
    }

    /// Replaces the text in place, copying only the bytes of `name`.
    fn set(&mut self, name: &str) {
        let mut end = name.len().min(MAX_NAME_LEN);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        self.len = u8::try_from(end).expect("MAX_NAME_LEN fits in a byte");
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)])
            .expect("copied from a str up to a char boundary")
    }
}

impl fmt::Debug for NameText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for NameText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why the tracker dropped an event without sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The user is opted out (cached flag, or the server said so this session).
    OptedOut,
    /// `DO_NOT_TRACK=1` is set for this process.
    DoNotTrack,
    /// The queue was full; the oldest events make room for new ones.
    QueueFull,
    /// No one was logged in and the holding area was full.
    NoSession,
    /// The tracker was shut down.
    ShutDown,
}

impl DropReason {
    /// Human text for logs and the debugger panel.
    pub fn describe(self) -> &'static str {
        match self {
            Self::OptedOut => "opted out",
            Self::DoNotTrack => "do not track",
            Self::QueueFull => "queue full",
            Self::NoSession => "no session",
            Self::ShutDown => "tracker shut down",
        }
    }
}

/// What became of an event, as far as the tracker knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// Waiting for a login, which releases or drops it.
    Held,
    /// Waiting in the queue to be sent.
    Queued,
    /// In a batch on its way to the collector.
    Sent {
        /// Which attempt this is, from 1.
        attempt: u32,
    },
    /// Kept in the queue until a login brings a token the collector takes.
    AwaitingLogin {
        /// The collector's error code, such as `token_expired`.
        code: String,
    },
    /// Stored by the collector (or already stored before: a duplicate).
    Accepted,
    /// Received and discarded by the collector because the user is opted out.
    Discarded,
    /// Refused by the collector as invalid.
    Rejected {
        /// The collector's reason.
        code: RejectCode,
    },
    /// Not tracked: it would break the collector's rules.
    Invalid {
        /// The rule it breaks.
        code: RejectCode,
    },
    /// Its batch was refused by the collector with a client error and dropped.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The collector's error code, when it sent one.
        code: Option<String>,
    },
    /// Dropped on this device: never sent, or its batch went unanswered after
    /// its user was found opted out, so it is not sent again.
    Dropped {
        /// Why.
        reason: DropReason,
    },
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Held => f.write_str("held until login"),
            Self::Queued => f.write_str("queued"),
            Self::Sent { attempt } => write!(f, "sent (attempt {attempt})"),
            Self::AwaitingLogin { code } => write!(f, "kept until next login ({code})"),
            Self::Accepted => f.write_str("accepted"),
            Self::Discarded => f.write_str("discarded by server: opted out"),
            Self::Rejected { code } => write!(f, "rejected by server: {code}"),
            Self::Invalid { code } => write!(f, "not tracked: {code}"),
            Self::Refused { status, code } => match code {
                Some(code) => write!(f, "batch refused by server: {status} {code}"),
                None => write!(f, "batch refused by server: {status}"),
            },
            Self::Dropped { reason } => write!(f, "dropped locally: {}", reason.describe()),
        }
    }
}

/// One event in the debugger log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebugEntry {
    /// Position in the log since the tracker started; grows by one per entry.
    pub seq: u64,
    /// The event id, for events that were given one.
    pub id: Option<Uuid>,
    /// The event name as tracked (cut to 128 bytes).
    pub name: NameText,
    /// What became of it.
    #[serde(flatten)]
    pub fate: Fate,
}

/// A bounded log of the most recent events, oldest first.
#[derive(Debug)]
pub struct DebugLog {
    /// A ring: once full, `oldest` is the next slot to overwrite.
    entries: Vec<DebugEntry>,
    oldest: usize,
    capacity: usize,
    next_seq: u64,
}

impl DebugLog {
    /// An empty log that keeps the last `capacity` events; room is reserved now
    /// so recording never allocates.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
            oldest: 0,
            capacity,
            next_seq: 0,
        }
    }

    /// Adds an event, overwriting the oldest in place when full.
    pub fn record(&mut self, id: Option<Uuid>, name: &str, fate: Fate) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() < self.capacity {
            self.entries.push(DebugEntry {
                seq,
                id,
                name: NameText::new(name),
                fate,
            });
        } else if let Some(slot) = self.entries.get_mut(self.oldest) {
            slot.seq = seq;
            slot.id = id;
            slot.name.set(name);
            slot.fate = fate;
            self.oldest = (self.oldest + 1) % self.capacity;
        }
    }

    /// A copy of the log, oldest first, each event with its latest fate.
    pub fn entries(&self, fates: &FateLog) -> Vec<DebugEntry> {
        let (newer, older) = self.entries.split_at(self.oldest);
        older
            .iter()
            .chain(newer)
            .map(|entry| {
                let mut entry = entry.clone();
                if let Some(fate) = entry.id.and_then(|id| fates.get(&id)) {
                    entry.fate = fate.clone();
                }
                entry
            })
            .collect()
    }
}

/// The latest fate of recent events, by id, as the delivery worker learns it.
///
/// Keeps twice the debugger's capacity of ids, forgetting the one first
/// updated longest ago: the worker takes events up in the order they were
/// tracked, so every event still in the [`DebugLog`] is among them.
#[derive(Debug)]
pub struct FateLog {
    fates: HashMap<Uuid, Fate, IdHash>,
    order: VecDeque<Uuid>,
    capacity: usize,
}

impl FateLog {
    /// An empty log for a debugger of `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            fates: HashMap::default(),
            order: VecDeque::new(),
            capacity: capacity.saturating_mul(2),
        }
    }

    /// Records the fate of the event `id` now.
    pub fn update(&mut self, id: Uuid, fate: Fate) {
        if self.capacity == 0 || self.fates.insert(id, fate).is_some() {
            return;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.fates.remove(&oldest);
            }
        }
    }

    /// The latest fate of `id`, if it is remembered.
    pub fn get(&self, id: &Uuid) -> Option<&Fate> {
        self.fates.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_only_the_most_recent_events() {
        let mut log = DebugLog::new(3);
        for name in ["a", "b", "c", "d"] {
            log.record(None, name, Fate::Queued);
        }
        let names: Vec<_> = log
            .entries(&FateLog::new(0))
            .iter()
            .map(|e| e.name.as_str().to_owned())
            .collect();
        assert_eq!(names, ["b", "c", "d"]);
        assert_eq!(log.entries(&FateLog::new(0))[0].seq, 1);
    }

    #[test]
    fn the_ring_stays_in_order_after_wrapping() {
        let mut log = DebugLog::new(2);
        for name in ["a", "bb", "c", "d", "e"] {
            log.record(None, name, Fate::Queued);
        }
        let names: Vec<_> = log
            .entries(&FateLog::new(0))
            .iter()
            .map(|e| e.name.as_str().to_owned())
            .collect();
        assert_eq!(names, ["d", "e"]);
        assert_eq!(log.entries(&FateLog::new(0))[1].seq, 4);
    }

    #[test]
    fn fates_follow_an_event_by_id() {
        let mut log = DebugLog::new(10);
        let mut fates = FateLog::new(10);
        let id = Uuid::from_u128(7);
        log.record(Some(id), "report.opened", Fate::Queued);
        fates.update(id, Fate::Sent { attempt: 1 });
        fates.update(id, Fate::Accepted);
        assert_eq!(log.entries(&fates)[0].fate, Fate::Accepted);
    }

    #[test]
    fn the_fate_log_forgets_the_oldest_ids_beyond_twice_the_capacity() {
        let mut fates = FateLog::new(2);
        for n in 0..5 {
            fates.update(Uuid::from_u128(n), Fate::Accepted);
        }
        assert!(fates.get(&Uuid::from_u128(0)).is_none());
        assert!((1..5).all(|n| fates.get(&Uuid::from_u128(n)).is_some()));
    }

    #[test]
    fn entries_serialize_flat_for_javascript() {
        let mut log = DebugLog::new(1);
        log.record(
            None,
            "x",
            Fate::Dropped {
                reason: DropReason::OptedOut,
            },
        );
        let json = serde_json::to_value(&log.entries(&FateLog::new(1))[0]).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"seq": 0, "id": null, "name": "x", "fate": "dropped", "reason": "opted_out"})
        );
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let name = format!("{}é", "a".repeat(127));
        assert_eq!(NameText::new(&name).as_str(), "a".repeat(127));
    }
}
