use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::limits::{MAX_NAME_LEN, MAX_PROPS_BYTES, MAX_SESSION_LEN};

/// One tracked event as it travels in a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Made by the client at `track()`, so retries can be recognised.
    pub id: Uuid,
    /// What happened, such as `report.opened`: 1 to 128 of `[A-Za-z0-9_.:-]`.
    pub name: String,
    /// When it happened, by the client's clock (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ts: OffsetDateTime,
    /// Free-form properties: a JSON object of at most 32 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub props: Option<Box<RawValue>>,
    /// The client's session id, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.name == other.name
            && self.ts == other.ts
            && self.props.as_ref().map(|p| p.get()) == other.props.as_ref().map(|p| p.get())
            && self.session == other.session
    }
}

/// Why the collector refused one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The event is not a JSON object with the required fields.
    InvalidEvent,
    /// `id` is not a UUID.
    InvalidId,
    /// `name` is empty, too long or has characters outside `[A-Za-z0-9_.:-]`.
    InvalidName,
    /// `ts` is not an RFC 3339 timestamp.
    InvalidTimestamp,
    /// `props` is present but not a JSON object, nests deeper than
    /// [`MAX_PROPS_DEPTH`](crate::limits::MAX_PROPS_DEPTH) levels, or holds what
    /// a sink or a common JSON reader cannot store or read: `\u0000`, a lone
    /// surrogate, a number of 10^308 or more (beyond a double), or of more
    /// than [`MAX_PROPS_NUMBER_DIGITS`](crate::limits::MAX_PROPS_NUMBER_DIGITS)
    /// digits or with an exponent beyond that.
    InvalidProps,
    /// `props` serializes to more than 32 KiB.
    PropsTooLarge,
    /// `session` is not a string of 1 to 128 bytes without `\u0000`.
    InvalidSession,
    /// A code this version does not know, sent by a newer collector.
    #[serde(other)]
    Unknown,
}

impl RejectCode {
    /// The snake_case code as it appears on the wire and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEvent => "invalid_event",
            Self::InvalidId => "invalid_id",
            Self::InvalidName => "invalid_name",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::InvalidProps => "invalid_props",
            Self::PropsTooLarge => "props_too_large",
            Self::InvalidSession => "invalid_session",
            Self::Unknown => "unknown",
        }
    }

    /// Every code a collector of this version sends.
    pub const ALL: [RejectCode; 7] = [
        Self::InvalidEvent,
        Self::InvalidId,
        Self::InvalidName,
        Self::InvalidTimestamp,
        Self::InvalidProps,
        Self::PropsTooLarge,
        Self::InvalidSession,
    ];
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid event name: 1 to 128 bytes of `[A-Za-z0-9_.:-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventName<'a>(&'a str);

impl<'a> EventName<'a> {
    /// Checks `name` against the collector's rule.
    pub fn parse(name: &'a str) -> Result<Self, RejectCode> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if valid {
            Ok(Self(name))
        } else {
            Err(RejectCode::InvalidName)
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// The fields of an event before they are checked; each stays raw so that a
/// wrong type in one field is reported with that field's own code.
#[derive(Deserialize)]
struct LooseEvent<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
    #[serde(borrow)]
    props: Option<&'a RawValue>,
    #[serde(borrow)]
    session: Option<&'a RawValue>,
}

fn field<'a, T: Deserialize<'a>>(
    raw: Option<&'a RawValue>,
    code: RejectCode,
) -> Result<T, RejectCode> {
    let raw = raw.ok_or(code)?;
    serde_json::from_str(raw.get()).map_err(|_| code)
}

impl Event {
    /// Builds an event after checking it as the collector would.
    pub fn new(
        id: Uuid,
        name: &str,
        ts: OffsetDateTime,
        props: Option<Box<RawValue>>,
        session: Option<String>,
    ) -> Result<Self, RejectCode> {
        EventName::parse(name)?;
        let mut event = Self {
            id,
            name: name.to_owned(),
            ts,
            props,
            session,
        };
        event.check_optional_fields()?;
        Ok(event)
    }

    /// Parses and checks one event of a batch, naming the first thing wrong.
    pub fn parse(raw: &str) -> Result<Self, RejectCode> {
        // Well-formed events, the common case, take one typed pass; only a
        // malformed one is read again field by field to name the fault.
        if let Ok(mut event) = serde_json::from_str::<Event>(raw) {
            event.check()?;
            return Ok(event);
        }
        Self::parse_loosely(raw)
    }

    /// Checks a deserialized event against the rules [`Event::parse`] applies,
    /// and writes its `props` compactly, as the collector stores them.
    pub fn check(&mut self) -> Result<(), RejectCode> {
        EventName::parse(&self.name)?;
        self.check_optional_fields()
    }

    fn parse_loosely(raw: &str) -> Result<Self, RejectCode> {
        let loose: LooseEvent<'_> =
            serde_json::from_str(raw).map_err(|_| RejectCode::InvalidEvent)?;
        let id: Uuid = field(loose.id, RejectCode::InvalidId)?;
        let name: Cow<'_, str> = field(loose.name, RejectCode::InvalidName)?;
        EventName::parse(&name)?;
        let ts_text: Cow<'_, str> = field(loose.ts, RejectCode::InvalidTimestamp)?;
        let ts = OffsetDateTime::parse(&ts_text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| RejectCode::InvalidTimestamp)?;
        let props = match loose.props {
            Some(raw) if raw.get() != "null" => Some(raw.to_owned()),
            _ => None,
        };
        let session = match loose.session {
            Some(raw) if raw.get() != "null" => {
                Some(field::<String>(Some(raw), RejectCode::InvalidSession)?)
            }
            _ => None,
        };
        let mut event = Self {
            id,
            name: name.into_owned(),
            ts,
            props,
            session,
        };
        event.check_optional_fields()?;
        Ok(event)
    }

    /// Checks `props` and `session`, and writes `props` compactly: a stored
    /// event is one line, and holds nothing a sink cannot store.
    fn check_optional_fields(&mut self) -> Result<(), RejectCode> {
        if let Some(props) = &mut self.props {
            if let Some(compact) = Self::check_props(props.get())? {
                #[cfg(not(target_arch = "wasm32"))]
                let compact = RawValue::from_string(compact).ok();
                // The browser package has no serde_json parser (see `json`).
                #[cfg(target_arch = "wasm32")]
                let compact = crate::json::raw_value(&compact);
                *props = compact.ok_or(RejectCode::InvalidProps)?;
            }
        }
        if let Some(session) = &self.session {
            Self::check_session(session)?;
        }
        Ok(())
    }

    /// Checks `props`, the JSON text of one value, as [`Event::new`] does,
    /// and returns its compact form when that differs from `raw` (`None`
    /// when `raw` is already what the collector stores). For clients that
    /// write an event's text themselves.
    pub fn check_props(raw: &str) -> Result<Option<String>, RejectCode> {
        let compact = crate::props::compact(raw)?;
        if compact.as_deref().unwrap_or(raw).len() > MAX_PROPS_BYTES {
            return Err(RejectCode::PropsTooLarge);
        }
        Ok(compact)
    }

    /// Checks a session id as [`Event::new`] does.
    pub fn check_session(session: &str) -> Result<(), RejectCode> {
        // PostgreSQL's `text` cannot hold NUL.
        if session.is_empty() || session.len() > MAX_SESSION_LEN || session.contains('\0') {
            return Err(RejectCode::InvalidSession);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"report.opened","ts":"2026-11-29T08:00:00Z"}"#;

    #[test]
    fn a_well_formed_event_parses() {
        let event = Event::parse(GOOD).expect("valid");
        assert_eq!(event.name, "report.opened");
        assert!(event.props.is_none());
    }

    #[test]
    fn each_bad_field_has_its_own_code() {
        let cases = [
            (r#"[1,2]"#, RejectCode::InvalidEvent),
            (
                r#"{"id":"nope","name":"a","ts":"2026-11-29T08:00:00Z"}"#,
                RejectCode::InvalidId,
            ),
            (
                r#"{"name":"a","ts":"2026-11-29T08:00:00Z"}"#,
                RejectCode::InvalidId,
            ),
            (
                r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a b","ts":"2026-11-29T08:00:00Z"}"#,
                RejectCode::InvalidName,
            ),
            (
                r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":42,"ts":"2026-11-29T08:00:00Z"}"#,
                RejectCode::InvalidName,
            ),
            (
                r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a","ts":"yesterday"}"#,
                RejectCode::InvalidTimestamp,
            ),
            (
                r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a","ts":"2026-11-29T08:00:00Z","props":[1]}"#,
                RejectCode::InvalidProps,
            ),
            (
                r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a","ts":"2026-11-29T08:00:00Z","session":7}"#,
                RejectCode::InvalidSession,
            ),
        ];
        for (raw, code) in cases {
            assert_eq!(Event::parse(raw).map(|_| ()), Err(code), "{raw}");
        }
    }

    #[test]
    fn props_over_32_kib_are_refused() {
        let big = format!(
            r#"{{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a","ts":"2026-11-29T08:00:00Z","props":{{"k":"{}"}}}}"#,
            "x".repeat(MAX_PROPS_BYTES)
        );
        assert_eq!(
            Event::parse(&big).map(|_| ()),
            Err(RejectCode::PropsTooLarge)
        );
    }

    #[test]
    fn names_follow_the_collector_rule() {
        assert!(EventName::parse("a:b.c-d_e9").is_ok());
        assert!(EventName::parse("").is_err());
        assert!(EventName::parse(&"a".repeat(129)).is_err());
        assert!(EventName::parse("å").is_err());
    }

    #[test]
    fn props_are_kept_compact_whatever_the_client_sent() {
        let raw = r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a","ts":"2026-11-29T08:00:00Z","props":{"k":
{"org":"globex","user":"ceo"}
}}"#;
        let event = Event::parse(raw).expect("valid");
        let props = event.props.as_ref().map(|p| p.get());
        assert_eq!(props, Some(r#"{"k":{"org":"globex","user":"ceo"}}"#));
        let built = Event::new(
            event.id,
            "a",
            event.ts,
            RawValue::from_string("{ \"a\" : 1 }".into()).ok(),
            None,
        )
        .expect("valid");
        assert_eq!(built.props.as_ref().map(|p| p.get()), Some(r#"{"a":1}"#));
    }

    #[test]
    fn a_session_a_sink_cannot_store_is_refused() {
        let raw = r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a","ts":"2026-11-29T08:00:00Z","session":"a\u0000b"}"#;
        assert_eq!(
            Event::parse(raw).map(|_| ()),
            Err(RejectCode::InvalidSession)
        );
        let lone = raw.replace("\\u0000", "\\ud800");
        assert_eq!(
            Event::parse(&lone).map(|_| ()),
            Err(RejectCode::InvalidSession)
        );
    }

    #[test]
    fn events_round_trip_through_json() {
        let event = Event::parse(GOOD).expect("valid");
        let text = serde_json::to_string(&event).expect("serializes");
        assert_eq!(Event::parse(&text).expect("parses again"), event);
    }
}
