//! The check the delivery loop makes of each event `track()` journaled,
//! before its text goes into a batch body: is it an event serde would read?
//! A damaged line must not reach a body, where it would make the whole batch
//! malformed. This reads only the layout `track()` writes, field by field,
//! and answers `None` for anything else, which the caller then reads with
//! serde: so it may refuse what serde accepts, never the other way round.

use std::borrow::Cow;

use serde_json::value::RawValue;
use time::{Date, Month, Time};
use uuid::Uuid;

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
    let rest = &rest[rfc3339_len(rest)?..];
    let rest = rest.strip_prefix('"')?;
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

/// The length of the timestamp `text` starts with, written as `track()`
/// writes them (`YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9
/// digits, `Z`), if it is a real date and time of day.
fn rfc3339_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let number = |from: usize, width: usize| -> Option<u32> {
        let digits = bytes.get(from..from + width)?;
        digits.iter().try_fold(0u32, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators
        .iter()
        .any(|&(at, byte)| bytes.get(at) != Some(&byte))
    {
        return None;
    }
    let year = i32::try_from(number(0, 4)?).ok()?;
    let month = Month::try_from(u8::try_from(number(5, 2)?).ok()?).ok()?;
    let day = u8::try_from(number(8, 2)?).ok()?;
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    let mut at = 19;
    let mut nanos = 0;
    if bytes.get(at) == Some(&b'.') {
        let digits = bytes[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        nanos = number(at + 1, digits)? * 10u32.pow(9 - digits as u32);
        at += 1 + digits;
    }
    if bytes.get(at) != Some(&b'Z') {
        return None;
    }
    Date::from_calendar_date(year, month, day).ok()?;
    // No leap second: `track()` never writes one.
    Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    Some(at + 1)
}
