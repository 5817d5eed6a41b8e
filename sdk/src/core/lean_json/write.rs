//! The wire shapes the browser writes, byte for byte as serde writes them:
//! strings, RFC 3339 timestamps, events, journal records, the batch
//! envelope and the cached login.

use time::OffsetDateTime;
use usage_protocol::{Event, SdkInfo};
use uuid::Uuid;

use crate::core::journal::{push_date_time, push_digits, Record};
use crate::core::session::CachedSession;

/// `text` as a JSON string, escaped as serde_json escapes it: `"`, `\` and
/// control characters only, those with a short escape by it, the others as
/// `\u00xx`.
pub fn push_str(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut kept = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[kept..at]);
        out.extend_from_slice(escape);
        kept = at + 1;
    }
    out.extend_from_slice(&bytes[kept..]);
    out.push(b'"');
}

/// `ts` as a JSON string in RFC 3339, as `time::serde::rfc3339` writes it:
/// UTC as `Z`, another offset as `±hh:mm`, the fraction of a second without
/// trailing zeros. (Where `time` cannot write one, an offset with seconds or
/// a year before 0, this writes the instant in UTC, or the year with its
/// sign, which the collector refuses as `invalid_timestamp`.)
pub fn push_timestamp(ts: OffsetDateTime, out: &mut Vec<u8>) {
    let ts = if ts.offset().seconds_past_minute() == 0 {
        ts
    } else {
        ts.to_offset(time::UtcOffset::UTC)
    };
    out.push(b'"');
    if ts.year() < 0 {
        out.push(b'-');
    }
    push_date_time(ts, out);
    let offset = ts.offset();
    if offset.is_utc() {
        out.push(b'Z');
    } else {
        out.push(if offset.is_negative() { b'-' } else { b'+' });
        push_digits(out, u32::from(offset.whole_hours().unsigned_abs()), 2);
        out.push(b':');
        push_digits(out, u32::from(offset.minutes_past_hour().unsigned_abs()), 2);
    }
    out.push(b'"');
}

/// Text made of JSON pieces that are each UTF-8.
fn into_text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|_| unreachable!("JSON text written from strings"))
}

fn push_uuid(id: Uuid, out: &mut Vec<u8>) {
    let mut text = Uuid::encode_buffer();
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut text).as_bytes());
    out.push(b'"');
}

/// `null` or the user as a JSON string, as serde writes an `Option<&str>`.
pub fn write_user(user: Option<&str>, out: &mut Vec<u8>) {
    match user {
        Some(user) => push_str(user, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// An [`Event`].
fn write_event(event: &Event, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    push_uuid(event.id, out);
    out.extend_from_slice(b",\"name\":");
    push_str(&event.name, out);
    out.extend_from_slice(b",\"ts\":");
    push_timestamp(event.ts, out);
    if let Some(props) = &event.props {
        out.extend_from_slice(b",\"props\":");
        out.extend_from_slice(props.get().as_bytes());
    }
    if let Some(session) = &event.session {
        out.extend_from_slice(b",\"session\":");
        push_str(session, out);
    }
    out.push(b'}');
}

/// An [`Event`] as its JSON text.
pub fn event_text(event: &Event) -> String {
    let mut out = Vec::new();
    write_event(event, &mut out);
    into_text(out)
}

/// One journal record, without its newline.
pub fn write_record(record: &Record, out: &mut Vec<u8>) {
    match record {
        Record::Token { user, token } => {
            out.extend_from_slice(b"{\"token\":{\"user\":");
            push_str(user, out);
            out.extend_from_slice(b",\"token\":");
            push_str(token, out);
            out.extend_from_slice(b"}}");
        }
        Record::Add { user, event } | Record::Kept { user, event } => {
            out.extend_from_slice(match record {
                Record::Add { .. } => b"{\"add\":{\"user\":",
                _ => b"{\"kept\":{\"user\":",
            });
            write_user(user.as_deref(), out);
            out.extend_from_slice(b",\"event\":");
            write_event(event, out);
            out.extend_from_slice(b"}}");
        }
        Record::Done { ids } => {
            out.extend_from_slice(b"{\"done\":{\"ids\":[");
            for (n, id) in ids.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                push_uuid(*id, out);
            }
            out.extend_from_slice(b"]}}");
        }
        Record::Epoch(epoch) => {
            out.extend_from_slice(b"{\"epoch\":");
            out.extend_from_slice(epoch.to_string().as_bytes());
            out.push(b'}');
        }
    }
}

/// The envelope of a batch: `{"sent_at":…,"sdk":{…}}`.
pub fn write_envelope(sent_at: OffsetDateTime, sdk: &SdkInfo, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"sent_at\":");
    push_timestamp(sent_at, out);
    out.extend_from_slice(b",\"sdk\":{\"name\":");
    push_str(&sdk.name, out);
    out.extend_from_slice(b",\"version\":");
    push_str(&sdk.version, out);
    out.extend_from_slice(b"}}");
}

/// The cached login as its JSON text.
pub fn cached_session_text(session: &CachedSession) -> String {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"token\":");
    push_str(&session.token, &mut out);
    out.extend_from_slice(b",\"session_id\":");
    push_str(&session.session_id, &mut out);
    out.extend_from_slice(b",\"server_opted_out\":");
    out.extend_from_slice(if session.server_opted_out {
        b"true"
    } else {
        b"false"
    });
    out.push(b'}');
    into_text(out)
}

/// A JSON string, as serde writes a `&str`.
pub fn json_string(text: &str) -> String {
    let mut out = Vec::new();
    push_str(text, &mut out);
    into_text(out)
}
