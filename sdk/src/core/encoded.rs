//! Events kept as the JSON text they are sent as, so that the delivery loop
//! does not build an event and serialize it again between the journal line
//! `track()` wrote and the batch body: it reads the event's text out of the
//! line, checks it in one pass that allocates nothing, and copies it into
//! bodies and journal lines. Each reader and encoder here has a test holding
//! it to serde's reading and writing of the same records.

#[cfg(not(target_arch = "wasm32"))]
use serde::Serialize;
use time::OffsetDateTime;
use usage_protocol::{Event, SdkInfo};
use uuid::Uuid;

/// An event as its JSON text, exactly as serde writes [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// The event's id.
    pub id: Uuid,
    json: Box<str>,
}

impl EncodedEvent {
    /// Encodes `event`.
    pub fn new(event: &Event) -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        let json = serde_json::to_string(event).expect("events always serialize");
        // Without serde's derived writer in the browser package.
        #[cfg(target_arch = "wasm32")]
        let json = super::lean_json::event_text(event);
        Self {
            id: event.id,
            json: json.into_boxed_str(),
        }
    }

    /// The event's JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The event itself, read back from its text.
    #[cfg(all(test, not(target_arch = "wasm32")))]
    pub fn decode(&self) -> Event {
        serde_json::from_str(&self.json).expect("encoded from an event")
    }
}

/// The start of every `add` line, up to the user, as serde writes it.
/// (Native only, as the reader: the browser's `track()` writes no journal.)
#[cfg(not(target_arch = "wasm32"))]
const ADD_HEAD: &str = "{\"add\":{\"user\":";
/// Between the user and the event.
const EVENT_KEY: &str = ",\"event\":";
/// Reads an `add` line as `track()` writes it (`{"add":{"user":…,"event":…}}`,
/// without its newline) without building the event: the user, and the
/// event's text once serde's rules for an [`Event`] accept it. `None` when
/// the line does not have that shape or the event is not one serde would
/// read (the caller then reads the line with serde, which says why).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_add_quickly(line: &[u8]) -> Option<(Option<String>, EncodedEvent)> {
    let line = std::str::from_utf8(line).ok()?;
    let rest = line.strip_prefix(ADD_HEAD)?;
    let (user, rest) = if let Some(rest) = rest.strip_prefix("null") {
        (None, rest)
    } else {
        // A user with an escape in it is left to serde; a raw control
        // character is not JSON.
        let rest = rest.strip_prefix('"')?;
        let end = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.as_bytes()[end] != b'"' {
            return None;
        }
        (Some(&rest[..end]), &rest[end + 1..])
    };
    let event = rest.strip_prefix(EVENT_KEY)?.strip_suffix("}}")?;
    // A line cut short or damaged that still ends in braces fails here.
    let id = shape::event_id(event)?;
    let user = user.map(str::to_owned);
    Some((
        user,
        EncodedEvent {
            id,
            json: event.into(),
        },
    ))
}

/// Appends the `kept` line of `event` for `user` (with its newline), as
/// serde writes `Record::Kept`.
pub fn encode_kept(user: Option<&str>, event: &EncodedEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"kept\":{\"user\":");
    #[cfg(not(target_arch = "wasm32"))]
    serde_json::to_writer(&mut *out, &user).expect("a user always serializes");
    #[cfg(target_arch = "wasm32")]
    super::lean_json::write_user(user, out);
    out.extend_from_slice(EVENT_KEY.as_bytes());
    out.extend_from_slice(event.json.as_bytes());
    out.extend_from_slice(b"}}\n");
}

/// What a batch body holds before its events.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Serialize)]
pub(crate) struct Envelope<'a> {
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) sent_at: OffsetDateTime,
    pub(crate) sdk: &'a SdkInfo,
}

/// The JSON body of a batch of `events`, as serde writes
/// [`usage_protocol::Batch`] without a token: the envelope, then the events'
/// text copied as it is.
pub fn encode_batch(sent_at: OffsetDateTime, sdk: &SdkInfo, events: &[&EncodedEvent]) -> Vec<u8> {
    let length: usize = events.iter().map(|e| e.json.len() + 1).sum();
    let mut body = Vec::with_capacity(length + 128);
    #[cfg(not(target_arch = "wasm32"))]
    serde_json::to_writer(&mut body, &Envelope { sent_at, sdk }).expect("envelopes serialize");
    // Without serde's derived writers in the browser package.
    #[cfg(target_arch = "wasm32")]
    super::lean_json::write_envelope(sent_at, sdk, &mut body);
    // The envelope's closing brace goes after the events.
    body.pop();
    body.extend_from_slice(b",\"events\":[");
    for (n, event) in events.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event.json.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

#[cfg(test)]
mod tests;

#[cfg(not(target_arch = "wasm32"))]
mod shape;
