//! The append-only journal of unsent events: what is written as events come
//! and go, and how it is read back after a restart or a crash.
//!
//! Lines are separated by `\n`; a NUL byte also ends a line, because a
//! native journal can hold zeros where a write was cut short (JSON text never
//! contains a raw NUL).

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use usage_protocol::{Event, EventName, RejectCode};
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
    /// An event to send, written when it is tracked; `user` is `None` while
    /// it is held for a login.
    Add {
        /// `org/sub`, or none yet.
        user: Option<String>,
        /// The event.
        event: Event,
    },
    /// An event already journaled, written again by the delivery worker: when
    /// a login gives a held event its user, and when the journal is compacted.
    /// Replay reads it like [`Record::Add`]; the worker's intake skips it.
    Kept {
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
    /// The first line of a native journal file: files are replayed in the
    /// order of this number.
    Epoch(u64),
}

/// The beginning of every [`Record::Add`] line, as serde writes it.
#[cfg(not(target_arch = "wasm32"))]
const ADD_PREFIX: &[u8] = b"{\"add\":";

/// Appends the [`Record::Add`] line of `event` (with its newline) to `out`:
/// the bytes serde writes for that record, written field by field. Tests
/// write journals with it; `track()` writes its lines with [`encode_tracked`].
#[cfg(test)]
pub fn encode_add(user: Option<&str>, event: &Event, out: &mut Vec<u8>) {
    add_head(user, event.id, &event.name, out);
    push_rfc3339(event.ts, out);
    if let Some(props) = &event.props {
        out.extend_from_slice(PROPS_KEY);
        out.extend_from_slice(props.get().as_bytes());
    }
    add_tail(event.session.as_deref(), out);
}

/// Appends the [`Record::Add`] line of a new event, made from what `track()`
/// was given, to `out`: the line [`encode_add`] writes for the event
/// [`build_event`](super::event::build_event) makes of the same arguments,
/// refused for the same reasons, but with nothing copied on the way (the
/// props are serialized into the line and checked there). On an error `out`
/// holds part of a line.
pub fn encode_tracked<P: Serialize + ?Sized>(
    user: Option<&str>,
    id: Uuid,
    name: &str,
    unix_ms: i64,
    props: &P,
    session: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), RejectCode> {
    EventName::parse(name)?;
    add_head(user, id, name, out);
    let ts_written = push_unix_ms(unix_ms, out);
    let before_props = out.len();
    out.extend_from_slice(PROPS_KEY);
    let start = out.len();
    serde_json::to_writer(&mut *out, props).map_err(|_| RejectCode::InvalidProps)?;
    // `build_event`'s order: props that do not serialize, then the time.
    if !ts_written {
        return Err(RejectCode::InvalidTimestamp);
    }
    if out[start..] == *b"null" {
        out.truncate(before_props);
    } else {
        // serde_json writes valid UTF-8.
        let text = std::str::from_utf8(&out[start..]).map_err(|_| RejectCode::InvalidProps)?;
        // Compact already, unless a `Serialize` wrote raw JSON text.
        if let Some(compact) = Event::check_props(text)? {
            out.truncate(start);
            out.extend_from_slice(compact.as_bytes());
        }
    }
    if let Some(session) = session {
        Event::check_session(session)?;
    }
    add_tail(session, out);
    Ok(())
}

const PROPS_KEY: &[u8] = b",\"props\":";

/// An add line up to its timestamp's value.
fn add_head(user: Option<&str>, id: Uuid, name: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"add\":{\"user\":");
    match user {
        Some(user) => push_json_str(user, out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"event\":{\"id\":\"");
    let mut buffer = uuid::Uuid::encode_buffer();
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buffer).as_bytes());
    out.extend_from_slice(b"\",\"name\":");
    push_json_str(name, out);
    out.extend_from_slice(b",\"ts\":");
}

thread_local! {
    /// The second this thread's `track()` last wrote, and its text up to the
    /// fraction (`"YYYY-MM-DDTHH:MM:SS`): events come many to a second, and
    /// working out the date is most of the cost of a timestamp.
    static SECOND: Cell<(i64, [u8; 20])> = const { Cell::new((i64::MIN, [0; 20])) };
}

/// The time `unix_ms` (milliseconds since 1970) stands for, as
/// [`push_rfc3339`] writes it; `false`, with nothing written, when it is not
/// within the years 0 to 9999.
fn push_unix_ms(unix_ms: i64, out: &mut Vec<u8>) -> bool {
    let second = unix_ms.div_euclid(1_000);
    SECOND.with(|cached| {
        let (at, mut text) = cached.get();
        if at != second {
            let Ok(ts) = OffsetDateTime::from_unix_timestamp(second) else {
                return false;
            };
            if !(0..=9999).contains(&ts.year()) {
                return false;
            }
            let mut whole = Vec::with_capacity(22);
            push_rfc3339(ts, &mut whole);
            text.copy_from_slice(&whole[..20]);
            cached.set((second, text));
        }
        out.extend_from_slice(&text);
        // Below 1,000: the cast keeps it.
        push_fraction(out, unix_ms.rem_euclid(1_000) as u32, 3);
        out.extend_from_slice(b"Z\"");
        true
    })
}

/// The rest of an add line after its props.
fn add_tail(session: Option<&str>, out: &mut Vec<u8>) {
    if let Some(session) = session {
        out.extend_from_slice(b",\"session\":");
        push_json_str(session, out);
    }
    out.extend_from_slice(b"}}}\n");
}

/// `text` as a JSON string: as it is when nothing in it needs an escape
/// (serde escapes only `"`, `\` and control characters), else by serde.
#[cfg(not(target_arch = "wasm32"))]
fn push_json_str(text: &str, out: &mut Vec<u8>) {
    if text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        serde_json::to_writer(&mut *out, text).expect("strings always serialize");
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// `ts` as a JSON string in RFC 3339, as `time::serde::rfc3339` writes it:
/// UTC as `Z`, the fraction of a second without trailing zeros. Other
/// offsets and years are left to `time`.
#[cfg(not(target_arch = "wasm32"))]
fn push_rfc3339(ts: OffsetDateTime, out: &mut Vec<u8>) {
    if !ts.offset().is_utc() || !(0..=9999).contains(&ts.year()) {
        let text = ts
            .format(&time::format_description::well_known::Rfc3339)
            .expect("timestamps within RFC 3339 always format");
        serde_json::to_writer(&mut *out, &text).expect("strings always serialize");
        return;
    }
    out.push(b'"');
    push_date_time(ts, out);
    out.extend_from_slice(b"Z\"");
}

/// `ts`'s date and time of day as RFC 3339 writes them, without its offset:
/// `YYYY-MM-DDThh:mm:ss`, then the fraction of a second without trailing
/// zeros, if any. The year is written without its sign.
pub(crate) fn push_date_time(ts: OffsetDateTime, out: &mut Vec<u8>) {
    push_digits(out, ts.year().unsigned_abs(), 4);
    out.push(b'-');
    push_digits(out, u32::from(u8::from(ts.month())), 2);
    out.push(b'-');
    push_digits(out, u32::from(ts.day()), 2);
    out.push(b'T');
    push_digits(out, u32::from(ts.hour()), 2);
    out.push(b':');
    push_digits(out, u32::from(ts.minute()), 2);
    out.push(b':');
    push_digits(out, u32::from(ts.second()), 2);
    push_fraction(out, ts.nanosecond(), 9);
}

/// `value` in `width` decimal digits, leading zeros included.
pub(crate) fn push_digits(out: &mut Vec<u8>, value: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(b'0' + (value / 10u32.pow(place) % 10) as u8);
    }
}

/// `.` and the `width` digits of `fraction` without their trailing zeros;
/// nothing for zero.
fn push_fraction(out: &mut Vec<u8>, mut fraction: u32, mut width: u32) {
    if fraction == 0 {
        return;
    }
    out.push(b'.');
    while fraction % 10 == 0 {
        fraction /= 10;
        width -= 1;
    }
    push_digits(out, fraction, width);
}

// The browser package writes strings and timestamps without serde_json's
// writer and time's formatter.
#[cfg(target_arch = "wasm32")]
use super::lean_json::{push_str as push_json_str, push_timestamp as push_rfc3339};

/// Reads a line if it is a [`Record::Add`] (written by `track()`): `None` for
/// every other record without parsing it, `Some(None)` for an unreadable line.
/// (Native only: the browser's `track()` does not write the journal itself.)
#[cfg(not(target_arch = "wasm32"))]
pub fn read_add(line: &[u8]) -> Option<Option<(Option<String>, Event)>> {
    if !line.starts_with(ADD_PREFIX) {
        return None;
    }
    match serde_json::from_slice::<Record>(line) {
        Ok(Record::Add { user, event }) => Some(Some((user, event))),
        _ => Some(None),
    }
}

/// The lines of a journal: split at `\n` and at NUL, empty ones left out.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|&b| b == b'\n' || b == 0)
        .filter(|line| !line.is_empty())
}

/// Serializes records as newline-delimited JSON.
pub fn encode(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        write_record(record, &mut out);
        out.push(b'\n');
    }
    out
}

#[cfg(not(target_arch = "wasm32"))]
fn write_record(record: &Record, out: &mut Vec<u8>) {
    serde_json::to_writer(out, record).expect("journal records always serialize");
}

/// A record as serde writes it, without serde's derived writer in the browser package.
#[cfg(target_arch = "wasm32")]
use super::lean_json::write_record;

/// One journal line, by serde; `None` when unreadable.
#[cfg(not(target_arch = "wasm32"))]
fn read_record(line: &[u8]) -> Option<Record> {
    serde_json::from_slice(line).ok()
}

/// One journal line, without serde's derived reader in the browser package.
#[cfg(target_arch = "wasm32")]
use super::lean_json::record as read_record;

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
    let mut replay = Replay::default();
    replay.read(bytes);
    replay.finish()
}

/// A replay fed one file (or piece) after another, oldest first.
#[derive(Debug, Default)]
pub struct Replay {
    replayed: Replayed,
    /// Where each event sits in `replayed.events`.
    positions: HashMap<Uuid, usize>,
    done: HashSet<Uuid>,
}

impl Replay {
    /// Reads more lines, later than those read before.
    pub fn read(&mut self, bytes: &[u8]) {
        for line in lines(bytes) {
            match read_record(line) {
                Some(Record::Token { user, token }) => {
                    self.replayed.tokens.insert(user, token);
                }
                Some(Record::Add { user, event } | Record::Kept { user, event }) => {
                    self.done.remove(&event.id);
                    match self.positions.entry(event.id) {
                        // Written again: keep its place, take the user it was given.
                        Entry::Occupied(at) => {
                            let kept = &mut self.replayed.events[*at.get()];
                            kept.0 = user.or(kept.0.take());
                        }
                        Entry::Vacant(at) => {
                            at.insert(self.replayed.events.len());
                            self.replayed.events.push((user, event));
                        }
                    }
                }
                Some(Record::Done { ids }) => self.done.extend(ids),
                Some(Record::Epoch(_)) => {}
                None => self.replayed.damaged += 1,
            }
        }
    }

    /// The events still unsent, in tracking order.
    pub fn finish(mut self) -> Replayed {
        let done = self.done;
        self.replayed
            .events
            .retain(|(_, event)| !done.contains(&event.id));
        self.replayed
    }
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

    #[test]
    fn a_kept_line_gives_a_held_event_its_user_in_place() {
        let mut bytes = encode(&[
            Record::Add {
                user: None,
                event: event(1),
            },
            Record::Add {
                user: None,
                event: event(2),
            },
        ]);
        // A write cut short leaves zeros before the next line.
        bytes.extend_from_slice(b"{\"add\":{\"us\0\0\0\0");
        bytes.extend_from_slice(&encode(&[Record::Kept {
            user: Some("a/b".into()),
            event: event(1),
        }]));
        let replayed = replay(&bytes);
        assert_eq!(
            replayed.events,
            vec![(Some("a/b".into()), event(1)), (None, event(2))]
        );
        assert_eq!(replayed.damaged, 1);
    }

    /// `track()`'s own encoder and the quick intake reader against serde's
    /// reading and writing of [`Record`].
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn the_borrowed_add_line_and_the_quick_reader_agree_with_serde() {
        let props =
            serde_json::value::to_raw_value(&serde_json::json!({"k": [1, "é\n"]})).expect("raw");
        let with_props = Event::new(
            Uuid::from_u128(9),
            "a.b",
            OffsetDateTime::UNIX_EPOCH,
            Some(props),
            Some("s".into()),
        )
        .expect("valid");
        for (user, event) in [(Some("acme/bob"), with_props), (None, event(3))] {
            let mut line = Vec::new();
            encode_add(user, &event, &mut line);
            let record = Record::Add {
                user: user.map(str::to_owned),
                event: event.clone(),
            };
            assert_eq!(line, encode(std::slice::from_ref(&record)));
            let read = read_add(&line[..line.len() - 1]).expect("an add line");
            assert_eq!(read, Some((user.map(str::to_owned), event)));
        }
        for other in [
            Record::Token {
                user: "add".into(),
                token: "t".into(),
            },
            Record::Kept {
                user: None,
                event: event(4),
            },
            Record::Done { ids: vec![] },
            Record::Epoch(3),
        ] {
            let line = encode(&[other]);
            assert_eq!(read_add(&line[..line.len() - 1]), None);
        }
        assert_eq!(read_add(b"{\"add\":{\"user\":nu"), Some(None));
    }
}
