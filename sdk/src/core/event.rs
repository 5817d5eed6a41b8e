//! Turning a `track(name, props)` call into a checked wire event.

use serde::Serialize;
use serde_json::value::to_raw_value;
use time::OffsetDateTime;
use usage_protocol::{Event, EventName, RejectCode};
use uuid::Uuid;

/// Builds an event as the collector will check it; `props` must serialize to
/// a JSON object, or to `null` for none.
pub fn build_event<P: Serialize + ?Sized>(
    id: Uuid,
    name: &str,
    unix_ms: i64,
    props: &P,
    session: Option<String>,
) -> Result<Event, RejectCode> {
    EventName::parse(name)?;
    let props = to_raw_value(props).map_err(|_| RejectCode::InvalidProps)?;
    let props = (props.get() != "null").then_some(props);
    let ts = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        // RFC 3339 has four-digit years.
        .filter(|ts| (0..=9999).contains(&ts.year()))
        .ok_or(RejectCode::InvalidTimestamp)?;
    Event::new(id, name, ts, props, session)
}

#[cfg(test)]
mod tests {
    use super::*;
    use usage_protocol::limits::MAX_PROPS_BYTES;

    #[test]
    fn props_must_be_an_object_or_nothing() {
        let id = Uuid::from_u128(1);
        let with = build_event(id, "a", 0, &serde_json::json!({"k": 1}), None).expect("object");
        assert_eq!(
            with.props.map(|p| p.get().to_owned()).as_deref(),
            Some(r#"{"k":1}"#)
        );
        assert!(build_event(id, "a", 0, &(), None)
            .expect("unit")
            .props
            .is_none());
        assert_eq!(
            build_event(id, "a", 0, &[1, 2], None).map(|_| ()),
            Err(RejectCode::InvalidProps)
        );
    }

    #[test]
    fn bad_names_and_oversized_props_are_refused_before_queueing() {
        let id = Uuid::from_u128(1);
        assert_eq!(
            build_event(id, "no spaces", 0, &(), None).map(|_| ()),
            Err(RejectCode::InvalidName)
        );
        let big = serde_json::json!({"k": "x".repeat(MAX_PROPS_BYTES)});
        assert_eq!(
            build_event(id, "a", 0, &big, None).map(|_| ()),
            Err(RejectCode::PropsTooLarge)
        );
    }
}
