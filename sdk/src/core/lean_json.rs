//! The wire shapes the browser reads and writes, without the code serde
//! derives for them (the browser package's weight; see bindings/README.md,
//! Package size): journal lines, the collector's answers, batch envelopes
//! and the cached login. Native builds use serde; `tests` holds each reader
//! here to serde's, over what serde writes and texts made from it by small
//! edits, and each writer to serde's output, byte for byte.
//!
//! A reader returns `None` wherever serde's would fail. It refuses three
//! forms serde also reads and nothing here writes: a struct written as an
//! array (`["user", "token"]`), a reject code written as an object
//! (`{"invalid_id": null}`) and a UUID not in its hyphenated form.

use std::borrow::Cow;

use time::OffsetDateTime;
use usage_protocol::json::{once, Json};
use usage_protocol::{BatchResponse, Event, RejectCode, Rejection};
use uuid::Uuid;

use super::journal::Record;
use super::session::CachedSession;

mod write;
pub use super::rfc3339::parse_rfc3339;
pub use write::{
    cached_session_text, event_text, json_string, push_str, push_timestamp, write_envelope,
    write_record, write_user,
};

fn text(json: &mut Json<'_>) -> Option<String> {
    json.string().map(Cow::into_owned)
}

/// `null` or a string, as serde reads an `Option<String>`.
fn optional_text(json: &mut Json<'_>) -> Option<Option<String>> {
    if json.null() {
        return Some(None);
    }
    text(json).map(Some)
}

fn uuid(json: &mut Json<'_>) -> Option<Uuid> {
    parse_uuid(&json.string()?)
}

/// A UUID in its hyphenated form (`8-4-4-4-12` hex digits, either case), as
/// `Uuid::parse_str` reads it; the other forms it reads (simple, braced,
/// URN) are refused: nothing here writes them.
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut value = 0u128;
    for (at, &byte) in bytes.iter().enumerate() {
        if matches!(at, 8 | 13 | 18 | 23) {
            if byte != b'-' {
                return None;
            }
            continue;
        }
        value = value << 4 | u128::from(char::from(byte).to_digit(16)?);
    }
    Some(Uuid::from_u128(value))
}

/// As `time::serde::rfc3339` reads it.
fn timestamp(json: &mut Json<'_>) -> Option<OffsetDateTime> {
    parse_rfc3339(&json.string()?)
}

/// Skips the value of a field the shape does not have, as serde does.
fn ignore(json: &mut Json<'_>) -> Option<()> {
    json.skip().map(drop)
}

/// An [`Event`], as its derived reader reads it.
pub fn event(json: &mut Json<'_>) -> Option<Event> {
    let (mut id, mut name, mut ts, mut props, mut session) = (None, None, None, None, None);
    json.object(|json, key| match key {
        "id" => once(&mut id, uuid(json)),
        "name" => once(&mut name, text(json)),
        "ts" => once(&mut ts, timestamp(json)),
        "props" => {
            let raw = if json.null() {
                Some(None)
            } else {
                json.skip()
                    .and_then(usage_protocol::json::raw_value)
                    .map(Some)
            };
            once(&mut props, raw)
        }
        "session" => once(&mut session, optional_text(json)),
        _ => ignore(json),
    })?;
    Some(Event {
        id: id?,
        name: name?,
        ts: ts?,
        props: props.flatten(),
        session: session.flatten(),
    })
}

/// The user and event of an `add` or `kept` record.
fn user_event(json: &mut Json<'_>) -> Option<(Option<String>, Event)> {
    let (mut user, mut found) = (None, None);
    json.object(|json, key| match key {
        "user" => once(&mut user, optional_text(json)),
        "event" => once(&mut found, event(json)),
        _ => ignore(json),
    })?;
    Some((user.flatten(), found?))
}

/// One journal line.
pub fn record(line: &[u8]) -> Option<Record> {
    let mut json = Json::new(std::str::from_utf8(line).ok()?)?;
    let mut record = None;
    json.object(|json, key| {
        // An enum's object names exactly one variant.
        if record.is_some() {
            return None;
        }
        record = Some(match key {
            "token" => {
                let (mut user, mut token) = (None, None);
                json.object(|json, key| match key {
                    "user" => once(&mut user, text(json)),
                    "token" => once(&mut token, text(json)),
                    _ => ignore(json),
                })?;
                Record::Token {
                    user: user?,
                    token: token?,
                }
            }
            "add" => {
                let (user, event) = user_event(json)?;
                Record::Add { user, event }
            }
            "kept" => {
                let (user, event) = user_event(json)?;
                Record::Kept { user, event }
            }
            "done" => {
                let mut ids = None;
                json.object(|json, key| match key {
                    "ids" => {
                        let mut read = Vec::new();
                        json.array(|json| {
                            read.push(uuid(json)?);
                            Some(())
                        })?;
                        once(&mut ids, Some(read))
                    }
                    _ => ignore(json),
                })?;
                Record::Done { ids: ids? }
            }
            "epoch" => Record::Epoch(json.u64()?),
            _ => return None,
        });
        Some(())
    })?;
    record
}

/// A reject code; one this version does not know is [`RejectCode::Unknown`].
fn reject_code(json: &mut Json<'_>) -> Option<RejectCode> {
    let text = json.string()?;
    Some(
        RejectCode::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
            .unwrap_or(RejectCode::Unknown),
    )
}

/// The collector's answer to a batch.
pub fn batch_response(body: &[u8]) -> Option<BatchResponse> {
    let mut json = Json::new(std::str::from_utf8(body).ok()?)?;
    let (mut accepted, mut discarded, mut duplicates, mut opted_out, mut rejected) =
        (None, None, None, None, None);
    json.object(|json, key| match key {
        "accepted" => once(&mut accepted, json.u32()),
        "discarded" => once(&mut discarded, json.u32()),
        "duplicates" => once(&mut duplicates, json.u32()),
        "opted_out" => once(&mut opted_out, json.boolean()),
        "rejected" => {
            let mut read = Vec::new();
            json.array(|json| {
                let (mut index, mut code) = (None, None);
                json.object(|json, key| match key {
                    "index" => once(&mut index, json.u32()),
                    "code" => once(&mut code, reject_code(json)),
                    _ => ignore(json),
                })?;
                read.push(Rejection {
                    index: index?,
                    code: code?,
                });
                Some(())
            })?;
            once(&mut rejected, Some(read))
        }
        _ => ignore(json),
    })?;
    Some(BatchResponse {
        accepted: accepted?,
        discarded: discarded?,
        duplicates: duplicates?,
        opted_out: opted_out?,
        rejected: rejected?,
    })
}

/// The code of an error body: `{"error": {"code": …}}`.
pub fn error_code(body: &[u8]) -> Option<String> {
    let mut json = Json::new(std::str::from_utf8(body).ok()?)?;
    let mut code = None;
    json.object(|json, key| match key {
        "error" => {
            let mut inner = None;
            json.object(|json, key| match key {
                "code" => once(&mut inner, text(json)),
                _ => ignore(json),
            })?;
            once(&mut code, inner)
        }
        _ => ignore(json),
    })?;
    code
}

/// The cached login.
pub fn cached_session(text: &str) -> Option<CachedSession> {
    let mut json = Json::new(text)?;
    let (mut token, mut session_id, mut server_opted_out) = (None, None, None);
    json.object(|json, key| match key {
        "token" => once(&mut token, self::text(json)),
        "session_id" => once(&mut session_id, self::text(json)),
        "server_opted_out" => once(&mut server_opted_out, json.boolean()),
        _ => ignore(json),
    })?;
    Some(CachedSession {
        token: token?,
        session_id: session_id?,
        server_opted_out: server_opted_out.unwrap_or(false),
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
