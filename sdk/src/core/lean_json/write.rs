//! The wire shapes the browser writes, byte for byte as serde writes them:
//! events, journal records, the batch envelope and the cached login. Strings
//! and timestamps go through the journal's own writers, which `track()` uses
//! natively and which are held to serde there.

use time::OffsetDateTime;
use usage_protocol::{Event, SdkInfo};
use uuid::Uuid;

use crate::core::journal::{push_json_str, push_rfc3339, Record};
use crate::core::session::CachedSession;

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
        Some(user) => push_json_str(user, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// An [`Event`].
fn write_event(event: &Event, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    push_uuid(event.id, out);
    out.extend_from_slice(b",\"name\":");
    push_json_str(&event.name, out);
    out.extend_from_slice(b",\"ts\":");
    push_rfc3339(event.ts, out);
    if let Some(props) = &event.props {
        out.extend_from_slice(b",\"props\":");
        out.extend_from_slice(props.get().as_bytes());
    }
    if let Some(session) = &event.session {
        out.extend_from_slice(b",\"session\":");
        push_json_str(session, out);
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
            push_json_str(user, out);
            out.extend_from_slice(b",\"token\":");
            push_json_str(token, out);
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
    push_rfc3339(sent_at, out);
    out.extend_from_slice(b",\"sdk\":{\"name\":");
    push_json_str(&sdk.name, out);
    out.extend_from_slice(b",\"version\":");
    push_json_str(&sdk.version, out);
    out.extend_from_slice(b"}}");
}

/// The cached login as its JSON text.
pub fn cached_session_text(session: &CachedSession) -> String {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"token\":");
    push_json_str(&session.token, &mut out);
    out.extend_from_slice(b",\"session_id\":");
    push_json_str(&session.session_id, &mut out);
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
    push_json_str(text, &mut out);
    into_text(out)
}
