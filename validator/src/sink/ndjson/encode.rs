//! The NDJSON line of a stored event, written without serializing a
//! [`StoredEvent`](crate::sink::StoredEvent) per event.

use time::OffsetDateTime;

use crate::sink::Accepted;

/// Writes each event as one line of the [`StoredEvent`] form. The part every
/// line of a batch shares (org, user, source, receipt time, SDK) is encoded
/// once, which makes this several times cheaper than serializing each
/// `StoredEvent` on its own.
pub(super) fn encode(
    batch: &Accepted<'_>,
    out: &mut Vec<u8>,
) -> std::result::Result<(), serde_json::Error> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let mut prefix = Vec::with_capacity(160);
    prefix.extend_from_slice(b"{\"org\":");
    serde_json::to_writer(&mut prefix, batch.org)?;
    prefix.extend_from_slice(b",\"user\":");
    serde_json::to_writer(&mut prefix, batch.user)?;
    prefix.extend_from_slice(b",\"source\":");
    serde_json::to_writer(&mut prefix, &batch.source)?;
    prefix.extend_from_slice(b",\"received_at\":\"");
    batch
        .received_at
        .format_into(&mut prefix, rfc3339)
        .map_err(serde::ser::Error::custom)?;
    prefix.push(b'"');
    if let Some(sdk) = batch.sdk {
        prefix.extend_from_slice(b",\"sdk\":");
        serde_json::to_writer(&mut prefix, sdk)?;
    }
    let mut id = uuid::Uuid::encode_buffer();
    for event in batch.events {
        out.extend_from_slice(&prefix);
        out.extend_from_slice(b",\"id\":\"");
        out.extend_from_slice(event.id.hyphenated().encode_lower(&mut id).as_bytes());
        out.extend_from_slice(b"\",\"name\":");
        if usage_protocol::EventName::parse(&event.name).is_ok() {
            // Valid names hold nothing JSON must escape.
            out.push(b'"');
            out.extend_from_slice(event.name.as_bytes());
            out.push(b'"');
        } else {
            serde_json::to_writer(&mut *out, &event.name)?;
        }
        out.extend_from_slice(b",\"ts\":\"");
        if !write_utc_rfc3339(out, event.ts) {
            event
                .ts
                .format_into(&mut *out, rfc3339)
                .map_err(serde::ser::Error::custom)?;
        }
        out.push(b'"');
        if let Some(props) = &event.props {
            out.extend_from_slice(b",\"props\":");
            out.extend_from_slice(props.get().as_bytes());
        }
        if let Some(session) = &event.session {
            out.extend_from_slice(b",\"session\":");
            serde_json::to_writer(&mut *out, session)?;
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(())
}

/// Writes a UTC time as RFC 3339 (`2026-11-29T08:00:00.5Z`) without the
/// general formatter, which dominated encoding; returns false, writing
/// nothing, for other offsets and years outside 0000-9999.
fn write_utc_rfc3339(out: &mut Vec<u8>, at: OffsetDateTime) -> bool {
    if !at.offset().is_utc() || !(0..=9999).contains(&at.year()) {
        return false;
    }
    let two = |out: &mut Vec<u8>, n: u8| out.extend_from_slice(&[b'0' + n / 10, b'0' + n % 10]);
    let year = at.year() as u16;
    out.extend_from_slice(&[
        b'0' + (year / 1000) as u8,
        b'0' + (year / 100 % 10) as u8,
        b'0' + (year / 10 % 10) as u8,
        b'0' + (year % 10) as u8,
        b'-',
    ]);
    two(out, u8::from(at.month()));
    out.push(b'-');
    two(out, at.day());
    out.push(b'T');
    two(out, at.hour());
    out.push(b':');
    two(out, at.minute());
    out.push(b':');
    two(out, at.second());
    let mut nanos = at.nanosecond();
    if nanos != 0 {
        let mut digits = [b'0'; 9];
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (nanos % 10) as u8;
            nanos /= 10;
        }
        let len = 9 - digits.iter().rev().take_while(|d| **d == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
    out.push(b'Z');
    true
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    #[test]
    fn utc_times_are_written_as_the_general_formatter_writes_them() {
        use time::format_description::well_known::Rfc3339;
        for text in [
            "2026-11-29T08:00:00Z",
            "2026-01-02T03:04:05.5Z",
            "0001-12-31T23:59:59.000000001Z",
            "9999-06-15T12:30:45.123456789Z",
            "2026-11-29T08:00:00.120Z",
        ] {
            let at = OffsetDateTime::parse(text, &Rfc3339).expect("valid");
            let mut ours = Vec::new();
            assert!(write_utc_rfc3339(&mut ours, at));
            let theirs = at.format(&Rfc3339).expect("formats");
            assert_eq!(String::from_utf8(ours).expect("ascii"), theirs, "{text}");
        }
        let offset = OffsetDateTime::parse("2026-11-29T08:00:00+02:00", &Rfc3339).expect("valid");
        assert!(
            !write_utc_rfc3339(&mut Vec::new(), offset),
            "other offsets use the formatter"
        );
    }
}
