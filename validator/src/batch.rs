//! Reading a `POST /v1/batch` body: the envelope as a whole, each event on its own.

mod scan;

use time::OffsetDateTime;
use usage_protocol::limits::{MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH};
use usage_protocol::{BatchEnvelope, Event, RejectCode, SdkInfo};

/// Longest SDK name or version, in bytes.
pub const MAX_SDK_FIELD_LEN: usize = 64;

/// A batch whose envelope is valid; each event is parsed or refused with a code.
#[derive(Debug, PartialEq)]
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
/// A body in the plain shape SDKs send is read by a quick reader; any other
/// body by serde, the reference the quick reader is tested against
/// ([`parse_with_serde`]), which reads the envelope as a whole and each
/// event on its own, so one bad event is refused alone.
pub fn parse(body: &[u8]) -> Result<ParsedBatch, BatchError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BatchError::TooLarge);
    }
    let Some(batch) = scan::batch(body) else {
        return parse_with_serde(body);
    };
    check_envelope(batch.events.len(), &batch.sdk)?;
    let events = batch
        .events
        .into_iter()
        .map(|mut event| event.check().map(|()| event))
        .collect();
    Ok(ParsedBatch {
        token: batch.token,
        sent_at: batch.sent_at,
        sdk: batch.sdk,
        events,
    })
}

/// Parses a batch body with serde alone: what [`parse`] answers for every
/// body, only slower for the plain shape.
pub fn parse_with_serde(body: &[u8]) -> Result<ParsedBatch, BatchError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BatchError::TooLarge);
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
        // All events well-formed (the quick reader) but one breaks a rule.
        let typed = parse(body(&format!("{EVENT},{renamed}")).as_bytes()).expect("parses");
        assert!(typed.events[0].is_ok());
        assert_eq!(
            typed.events[1].as_ref().map(|_| ()),
            Err(&RejectCode::InvalidName)
        );
        // One event malformed (serde, event by event): the same verdicts.
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

    /// A client's props can neither split a stored line nor carry what a
    /// sink cannot store; an event that tries is refused alone.
    #[test]
    fn props_are_stored_compact_and_checked_event_by_event() {
        let with_props = |props: &str| EVENT.replace('}', &format!(",\"props\":{props}}}"));
        let forged =
            with_props("{\"k\":\n{\"org\":\"globex\",\"user\":\"ceo\",\"source\":\"server\"}\n}");
        let deep = with_props(&format!("{}1{}", "{\"a\":".repeat(33), "}".repeat(33)));
        let nul = with_props("{\"a\":\"\\u0000\"}");
        let lone = with_props("{\"\\ud800\":1}");
        let session = EVENT.replace('}', ",\"session\":\"s\\u0000\"}");
        let body = body(&[forged.as_str(), &deep, &nul, &lone, &session, EVENT].join(","));
        for parsed in [parse(body.as_bytes()), parse_with_serde(body.as_bytes())] {
            let events = parsed.expect("parses").events;
            let props = events[0]
                .as_ref()
                .map(|e| e.props.as_ref().map(|p| p.get()));
            assert_eq!(
                props,
                Ok(Some(
                    r#"{"k":{"org":"globex","user":"ceo","source":"server"}}"#
                ))
            );
            let codes: Vec<_> = events[1..].iter().map(|e| e.as_ref().err()).collect();
            assert_eq!(
                codes,
                [
                    Some(&RejectCode::InvalidProps),
                    Some(&RejectCode::InvalidProps),
                    Some(&RejectCode::InvalidProps),
                    Some(&RejectCode::InvalidSession),
                    None,
                ]
            );
        }
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

    /// A body padded with spaces to exactly `len` bytes.
    fn padded(body: &str, len: usize) -> Vec<u8> {
        let mut bytes = body.as_bytes().to_vec();
        bytes.resize(len, b' ');
        bytes
    }

    #[test]
    fn limits_are_inclusive_on_both_reading_paths() {
        type Reader = fn(&[u8]) -> Result<ParsedBatch, BatchError>;
        let readers: [Reader; 2] = [parse, parse_with_serde];
        let largest = padded(&body(EVENT), MAX_BODY_BYTES);
        let too_large = padded(&body(EVENT), MAX_BODY_BYTES + 1);
        let full = body(&vec![EVENT; MAX_EVENTS_PER_BATCH].join(","));
        let longest = "v".repeat(MAX_SDK_FIELD_LEN);
        let too_long = "v".repeat(MAX_SDK_FIELD_LEN + 1);
        let with_sdk = |name: &str, version: &str| {
            body(EVENT).replacen(
                r#""sdk":{"name":"t","version":"1"}"#,
                &format!(r#""sdk":{{"name":"{name}","version":"{version}"}}"#),
                1,
            )
        };
        for read in readers {
            assert_eq!(read(&largest).expect("1 MiB is allowed").events.len(), 1);
            assert_eq!(read(&too_large).map(|_| ()), Err(BatchError::TooLarge));
            let events = read(full.as_bytes())
                .expect("500 events are allowed")
                .events;
            assert_eq!(events.len(), MAX_EVENTS_PER_BATCH);
            assert!(events.iter().all(Result::is_ok));
            for (name, version) in [(longest.as_str(), "1"), ("t", longest.as_str())] {
                let parsed = read(with_sdk(name, version).as_bytes()).expect("longest sdk fields");
                assert_eq!(
                    (parsed.sdk.name.as_str(), parsed.sdk.version.as_str()),
                    (name, version)
                );
            }
            for (name, version) in [
                (too_long.as_str(), "1"),
                ("t", too_long.as_str()),
                ("", "1"),
                ("t", ""),
                ("t\\u0007", "1"),
                ("t", "1\\n"),
            ] {
                let err = read(with_sdk(name, version).as_bytes()).map(|_| ());
                assert!(
                    matches!(err, Err(BatchError::Malformed(_))),
                    "sdk {name:?} {version:?}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn server_side_events_follow_the_same_rules() {
        let raw = |events: &str| -> Vec<Box<serde_json::value::RawValue>> {
            serde_json::from_str(&format!("[{events}]")).expect("raw events")
        };
        let renamed = EVENT.replace("\"name\":\"a\"", "\"name\":\"a b\"");
        let events = parse_events(&raw(&format!("{EVENT},{renamed},7"))).expect("parses");
        let verdicts: Vec<_> = events.iter().map(|e| e.as_ref().err()).collect();
        assert_eq!(
            verdicts,
            [
                None,
                Some(&RejectCode::InvalidName),
                Some(&RejectCode::InvalidEvent)
            ]
        );
        let full = raw(&vec![EVENT; MAX_EVENTS_PER_BATCH].join(","));
        assert_eq!(
            parse_events(&full).map(|e| e.len()),
            Ok(MAX_EVENTS_PER_BATCH)
        );
        let over = raw(&vec![EVENT; MAX_EVENTS_PER_BATCH + 1].join(","));
        assert_eq!(
            parse_events(&over).map(|_| ()),
            Err(BatchError::TooManyEvents(MAX_EVENTS_PER_BATCH + 1))
        );
    }
}
