use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::event::{Event, RejectCode};

/// Which SDK sent a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SdkInfo {
    /// The SDK's name, such as `usage-sdk-rust`.
    pub name: String,
    /// The SDK's version.
    pub version: String,
}

/// A batch as a client builds and sends it to `POST /v1/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Batch {
    /// The status token, for senders that cannot set a header (`sendBeacon`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the client sent the batch.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub sent_at: OffsetDateTime,
    /// Which SDK sent it.
    pub sdk: SdkInfo,
    /// The events, at most 500.
    pub events: Vec<Event>,
}

/// A batch as the collector first reads it: the envelope is checked as a whole,
/// each event is kept raw so a bad one can be refused on its own.
#[derive(Debug, Deserialize)]
pub struct BatchEnvelope<'a> {
    /// The status token, when sent in the body.
    #[serde(default)]
    pub token: Option<String>,
    /// When the client sent the batch.
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    /// Which SDK sent it.
    pub sdk: SdkInfo,
    /// The events, unparsed.
    #[serde(borrow)]
    pub events: Vec<&'a RawValue>,
}

impl<'a> BatchEnvelope<'a> {
    /// Reads the envelope of a batch body; the events stay borrowed from `body`.
    pub fn from_slice(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// One refused event: its position in the batch and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejection {
    /// Zero-based index of the event in the batch.
    pub index: u32,
    /// Why it was refused.
    pub code: RejectCode,
}

/// The collector's answer to a batch (`200 OK`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchResponse {
    /// Events stored.
    pub accepted: u32,
    /// Events dropped because their user is opted out.
    pub discarded: u32,
    /// Events whose id was already accepted before.
    pub duplicates: u32,
    /// The user is opted out now: the client should stop sending this session.
    pub opted_out: bool,
    /// Events refused as invalid.
    pub rejected: Vec<Rejection>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_keeps_events_raw() {
        let body = br#"{"sent_at":"2026-11-29T08:00:00Z","sdk":{"name":"t","version":"1"},"events":[{"x":1},"y"]}"#;
        let envelope = BatchEnvelope::from_slice(body).expect("envelope");
        assert_eq!(envelope.events.len(), 2);
        assert_eq!(envelope.events[1].get(), "\"y\"");
        assert!(envelope.token.is_none());
    }

    #[test]
    fn a_response_from_a_newer_collector_still_reads() {
        let text = r#"{"accepted":1,"discarded":0,"duplicates":0,"opted_out":false,"rejected":[{"index":2,"code":"brand_new_code"}]}"#;
        let response: BatchResponse = serde_json::from_str(text).expect("reads");
        assert_eq!(response.rejected[0].code, RejectCode::Unknown);
    }
}
