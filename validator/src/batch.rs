//! Reading a `POST /v1/batch` body: the envelope as a whole, each event on its own.

mod scan;

use time::OffsetDateTime;
use usage_protocol::limits::{MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH};
use usage_protocol::{Batch, BatchEnvelope, Event, RejectCode, SdkInfo};

/// Longest SDK name or version, in bytes.
pub const MAX_SDK_FIELD_LEN: usize = 64;

/// A batch whose envelope is valid; each event is parsed or refused with a code.
#[derive(Debug)]
pub struct ParsedBatch {
    /// The token sent in the body, if any (beacon sends).
    pub token: Option<String>,
    /// When the client sent the batch.
    pub sent_at: OffsetDateTime,
    /// Which SDK sent it.
    pub sdk: SdkInfo,
    /// The events in order.
    pub events: Vec<Result<Event, RejectCode>>,
}

/// Why a whole batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The body is over 1 MiB.
    #[error("batch body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The body is not a batch: bad JSON, bad UTF-8, missing or wrong fields.
    #[error("batch is malformed: {0}")]
    Malformed(String),
    /// More than 500 events.
    #[error("batch has {0} events; at most {MAX_EVENTS_PER_BATCH} are allowed")]
    TooManyEvents(usize),
}

impl BatchError {
    /// The error code used on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "payload_too_large",
            Self::Malformed(_) => "malformed_batch",
            Self::TooManyEvents(_) => "too_many_events",
        }
    }
}

/// Parses a batch body.
///
/// A batch whose events are all well-formed, the common case, is read in one
/// typed pass: by the quick reader when the body is in the plain shape SDKs
/// send, by serde otherwise. When that fails, the envelope is read with each
/// event kept raw, and every event is parsed on its own, so one bad event is
/// refused alone.
pub fn parse(body: &[u8]) -> Result<ParsedBatch, BatchError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BatchError::TooLarge);
    }
    let typed = match scan::batch(body) {
        Some(batch) => Ok(batch),
        None => serde_json::from_slice::<Batch>(body),
    };
    if let Ok(batch) = typed {
        check_envelope(batch.events.len(), &batch.sdk)?;
        let events = batch
            .events
            .into_iter()
            .map(|event| event.check().map(|()| event))
            .collect();
        return Ok(ParsedBatch {
            token: batch.token,
            sent_at: batch.sent_at,
            sdk: batch.sdk,
            events,
        });
    }
    let envelope =
        BatchEnvelope::from_slice(body).map_err(|e| BatchError::Malformed(e.to_string()))?;
    check_envelope(envelope.events.len(), &envelope.sdk)?;
    let events = envelope
        .events
        .iter()
        .map(|raw| Event::parse(raw.get()))
        .collect();
    Ok(ParsedBatch {
        token: envelope.token,
        sent_at: envelope.sent_at,
        sdk: envelope.sdk,
        events,
    })
}

fn check_envelope(events: usize, sdk: &SdkInfo) -> Result<(), BatchError> {
    if events > MAX_EVENTS_PER_BATCH {
        return Err(BatchError::TooManyEvents(events));
    }
    for (field, value) in [("sdk.name", &sdk.name), ("sdk.version", &sdk.version)] {
        if value.is_empty()
            || value.len() > MAX_SDK_FIELD_LEN
            || value.chars().any(char::is_control)
        {
            return Err(BatchError::Malformed(format!(
                "{field} must be 1 to {MAX_SDK_FIELD_LEN} bytes of printable text"
            )));
        }
    }
    Ok(())
}

/// Parses the events of a server-side tracking call: same rules, no envelope.
pub fn parse_events(
    raw: &[Box<serde_json::value::RawValue>],
) -> Result<Vec<Result<Event, RejectCode>>, BatchError> {
    if raw.len() > MAX_EVENTS_PER_BATCH {
        return Err(BatchError::TooManyEvents(raw.len()));
    }
    Ok(raw.iter().map(|r| Event::parse(r.get())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(events: &str) -> String {
        format!(
            r#"{{"sent_at":"2026-11-29T08:00:00Z","sdk":{{"name":"t","version":"1"}},"events":[{events}]}}"#
        )
    }

    const EVENT: &str =
        r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a","ts":"2026-11-29T08:00:00Z"}"#;

    #[test]
    fn a_bad_event_is_refused_alone() {
        let parsed = parse(body(&format!("{EVENT},{{\"id\":1}}")).as_bytes()).expect("parses");
        assert!(parsed.events[0].is_ok());
        assert_eq!(
            parsed.events[1].as_ref().map(|_| ()),
            Err(&RejectCode::InvalidId)
        );
    }

    #[test]
    fn both_reading_paths_apply_the_same_rules() {
        let renamed = EVENT.replace("\"name\":\"a\"", "\"name\":\"a b\"");
        // All events well-formed (the typed pass) but one breaks a rule.
        let typed = parse(body(&format!("{EVENT},{renamed}")).as_bytes()).expect("parses");
        assert!(typed.events[0].is_ok());
        assert_eq!(
            typed.events[1].as_ref().map(|_| ()),
            Err(&RejectCode::InvalidName)
        );
        // One event malformed (event by event): the same verdicts.
        let loose = parse(body(&format!("{EVENT},{renamed},7")).as_bytes()).expect("parses");
        assert!(loose.events[0].is_ok());
        assert_eq!(
            loose.events[1].as_ref().map(|_| ()),
            Err(&RejectCode::InvalidName)
        );
        assert_eq!(
            loose.events[2].as_ref().map(|_| ()),
            Err(&RejectCode::InvalidEvent)
        );
    }

    #[test]
    fn whole_batch_errors_have_their_codes() {
        assert_eq!(
            parse(&vec![b' '; MAX_BODY_BYTES + 1]).map(|_| ()),
            Err(BatchError::TooLarge)
        );
        let many = vec![EVENT; 501].join(",");
        assert_eq!(
            parse(body(&many).as_bytes()).map(|_| ()),
            Err(BatchError::TooManyEvents(501))
        );
        for bad in [
            &b"{"[..],
            b"[]",
            b"\xff\xfe",
            br#"{"sent_at":"nope","sdk":{"name":"t","version":"1"},"events":[]}"#,
        ] {
            assert_eq!(
                parse(bad).map_err(|e| e.code()).map(|_| ()),
                Err("malformed_batch")
            );
        }
        // Nesting as deep as the size limit allows neither overflows the stack
        // nor passes as an event.
        let deep = format!("{}{}", "[".repeat(500_000), "]".repeat(500_000));
        match parse(body(&deep).as_bytes()) {
            Ok(parsed) => assert_eq!(
                parsed.events[0].as_ref().map(|_| ()),
                Err(&RejectCode::InvalidEvent)
            ),
            Err(err) => assert_eq!(err.code(), "malformed_batch"),
        }
    }
}
