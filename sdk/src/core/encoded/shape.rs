//! The check the delivery loop makes of each event `track()` journaled,
//! before its text goes into a batch body: is it an event serde would read?
//! A damaged line must not reach a body, where it would make the whole batch
//! malformed. This reads only the layout `track()` writes, field by field,
//! and answers `None` for anything else, which the caller then reads with
//! serde: so it may refuse what serde accepts, never the other way round.

use std::borrow::Cow;

use serde_json::value::RawValue;
use uuid::Uuid;

use crate::core::rfc3339::parse_rfc3339;

/// The id of `event` (its JSON text) if it is laid out as `track()` writes
/// it and serde would read it as an [`usage_protocol::Event`]:
/// `{"id":"…","name":"…","ts":"…"` then `,"props":…` and `,"session":"…"`
/// when present, then `}`.
pub(super) fn event_id(event: &str) -> Option<Uuid> {
    let rest = event.strip_prefix("{\"id\":\"")?;
    let id = Uuid::try_parse(rest.get(..36)?).ok()?;
    let rest = rest.get(36..)?.strip_prefix("\",\"name\":")?;
    let rest = &rest[string_len(rest)?..];
    let rest = rest.strip_prefix(",\"ts\":\"")?;
    let end = rest.find('"')?;
    // A timestamp needs no escape, and JSON strings hold no raw control
    // characters (the parser takes any byte between date and time).
    let ts = &rest[..end];
    if ts.bytes().any(|b| b < 0x20 || b == b'\\') {
        return None;
    }
    parse_rfc3339(ts)?;
    let rest = &rest[end + 1..];
    let rest = match rest.strip_prefix(",\"props\":") {
        Some(props) => {
            let mut values = serde_json::Deserializer::from_str(props).into_iter::<&RawValue>();
            values.next()?.ok()?;
            &props[values.byte_offset()..]
        }
        None => rest,
    };
    let rest = match rest.strip_prefix(",\"session\":") {
        Some(session) => &session[string_len(session)?..],
        None => rest,
    };
    (rest == "}").then_some(id)
}

/// The length of the JSON string `text` starts with, quotes included, if
/// serde would read it as a string.
fn string_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut at = 1;
    let mut escaped = false;
    loop {
        match *bytes.get(at)? {
            b'"' => break,
            b'\\' => {
                escaped = true;
                at += 2;
            }
            // JSON has no raw control characters in strings.
            0..=0x1f => return None,
            _ => at += 1,
        }
    }
    let len = at + 1;
    // Escapes are rare (`track()` writes names and session ids as they
    // are); serde checks them, lone surrogates and all.
    if escaped {
        serde_json::from_str::<Cow<'_, str>>(&text[..len]).ok()?;
    }
    Some(len)
}
