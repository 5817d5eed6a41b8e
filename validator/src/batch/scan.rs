//! A quick reader for batches in the plain shape SDKs send.
//!
//! It reads a body whose keys are all known and written without escapes,
//! each at most once, into the same [`Batch`] that serde would build, for
//! about a third less CPU than the derived deserializer (profiled on the
//! ingest benchmark's batches). On anything else it gives up (`None`) and the
//! caller takes the general path, so it never decides what is valid on its
//! own: values are read by the functions serde uses (`Uuid::parse_str`,
//! serde_json for `props`, the RFC 3339 parser), except plain UTC times,
//! whose quick reader is tested against that parser.

use serde::Deserialize as _;
use serde_json::value::RawValue;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use usage_protocol::limits::MAX_EVENTS_PER_BATCH;
use usage_protocol::{Batch, Event, SdkInfo};
use uuid::Uuid;

/// Bytes of the shortest event: an id, a one-letter name and a time.
const SMALLEST_EVENT_LEN: usize =
    r#"{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"a","ts":"2026-11-29T08:00:00Z"}"#.len();

/// Reads `body` as a batch, or `None` when it is not in the plain shape.
pub(super) fn batch(body: &[u8]) -> Option<Batch> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = Reader { text, at: 0 };
    let batch = reader.batch()?;
    reader.skip_whitespace();
    (reader.at == text.len()).then_some(batch)
}

/// How many leading bytes of `bytes` a JSON string holds as they are: up to
/// the first quote, backslash or control character. Eight bytes at a time,
/// as string values (ids, times) are mostly long runs of plain text.
fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // Non-zero when some byte of `word` is below `n` (n <= 0x80).
    let any_below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("a chunk of eight bytes"));
        let special = any_below(word ^ (ONES * u64::from(b'"')), 1)
            | any_below(word ^ (ONES * u64::from(b'\\')), 1)
            | any_below(word, 0x20);
        if special != 0 {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - at)
}

/// A UTC time in the form clients write it (`2026-11-29T08:00:00.25Z`), read
/// without the general RFC 3339 parser; `None` for every other form, which
/// that parser then reads.
fn utc_time(text: &str) -> Option<OffsetDateTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > 30 || b[b.len() - 1] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let nanos = match b.len() {
        20 => 0,
        22.. if b[19] == b'.' => {
            let frac = digits(20..b.len() - 1)?;
            frac * 10u32.pow(30 - b.len() as u32)
        }
        _ => return None,
    };
    let second = digits(17..19)?;
    if second > 59 {
        return None;
    }
    let date = time::Date::from_calendar_date(
        i32::try_from(digits(0..4)?).ok()?,
        time::Month::try_from(u8::try_from(digits(5..7)?).ok()?).ok()?,
        u8::try_from(digits(8..10)?).ok()?,
    )
    .ok()?;
    let time = time::Time::from_hms_nano(
        u8::try_from(digits(11..13)?).ok()?,
        u8::try_from(digits(14..16)?).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

/// Sets a field seen for the first time; a repeated key gives up.
fn first<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.text.as_bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.text.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let len = plain_len(&self.text.as_bytes()[start..]);
        if self.text.as_bytes().get(start + len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        Some(&self.text[start..start + len])
    }

    /// `null` as `None`, anything else read by `read`.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? != b'n' {
            return read(self).map(Some);
        }
        self.text[self.at..].starts_with("null").then(|| {
            self.at += 4;
            None
        })
    }

    /// Any JSON value, validated by serde_json itself. (The rules of props,
    /// its depth among them, are the event check's, on either path.)
    fn raw_value(&mut self) -> Option<&'a RawValue> {
        self.skip_whitespace();
        let rest = &self.text[self.at..];
        let mut de = serde_json::Deserializer::from_str(rest);
        let raw = <&RawValue>::deserialize(&mut de).ok()?;
        let offset = raw.get().as_ptr() as usize - rest.as_ptr() as usize;
        self.at += offset + raw.get().len();
        Some(raw)
    }

    /// An object, handing each key to `field`, which reads its value. No
    /// object of the plain shape is empty (each has a required field), so
    /// `{}` gives up like any other unknown shape.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn batch(&mut self) -> Option<Batch> {
        let (mut token, mut sent_at, mut sdk, mut events) = (None, None, None, None);
        self.object(|r, key| match key {
            "token" => first(&mut token, r.nullable(Self::string)?),
            "sent_at" => first(&mut sent_at, r.time()?),
            "sdk" => first(&mut sdk, r.sdk()?),
            "events" => first(&mut events, r.events()?),
            _ => None,
        })?;
        Some(Batch {
            token: token.flatten().map(str::to_owned),
            sent_at: sent_at?,
            sdk: sdk?,
            events: events?,
        })
    }

    fn time(&mut self) -> Option<OffsetDateTime> {
        let text = self.string()?;
        utc_time(text).or_else(|| OffsetDateTime::parse(text, &Rfc3339).ok())
    }

    fn sdk(&mut self) -> Option<SdkInfo> {
        let (mut name, mut version) = (None, None);
        self.object(|r, key| match key {
            "name" => first(&mut name, r.string()?),
            "version" => first(&mut version, r.string()?),
            _ => None,
        })?;
        Some(SdkInfo {
            name: name?.to_owned(),
            version: version?.to_owned(),
        })
    }

    fn events(&mut self) -> Option<Vec<Event>> {
        self.expect(b'[')?;
        // Room for as many events as the rest of the body can hold, so the
        // list is never copied to grow.
        let room = (self.text.len() - self.at) / SMALLEST_EVENT_LEN + 1;
        let mut events = Vec::with_capacity(room.min(MAX_EVENTS_PER_BATCH));
        if self.peek()? == b']' {
            self.at += 1;
            return Some(events);
        }
        loop {
            events.push(self.event()?);
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(events);
                }
                _ => return None,
            }
        }
    }

    fn event(&mut self) -> Option<Event> {
        let (mut id, mut name, mut ts) = (None, None, None);
        let (mut props, mut session) = (None, None);
        self.object(|r, key| match key {
            "id" => first(&mut id, Uuid::parse_str(r.string()?).ok()?),
            "name" => first(&mut name, r.string()?),
            "ts" => first(&mut ts, r.time()?),
            "props" => first(&mut props, r.nullable(Self::raw_value)?),
            "session" => first(&mut session, r.nullable(Self::string)?),
            _ => None,
        })?;
        Some(Event {
            id: id?,
            name: name?.to_owned(),
            ts: ts?,
            props: props.flatten().map(RawValue::to_owned),
            session: session.flatten().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const BODY: &str = r#"{"token":"v1.k.p.t","sent_at":"2026-11-29T08:00:00Z","sdk":{"name":"usage-sdk-rust","version":"0.1.0"},"events":[{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"report.opened","ts":"2026-11-29T08:00:00.25+01:00","props":{"screen":"a/b","n":[1,2.5,{"x":null}]},"session":"s-1"},{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6f","name":"x","ts":"2026-11-29T08:00:01Z","props":null,"session":null}]}"#;

    #[test]
    fn a_plain_batch_reads_as_serde_reads_it() {
        let ours = batch(BODY.as_bytes()).expect("plain shape");
        let theirs: Batch = serde_json::from_slice(BODY.as_bytes()).expect("valid");
        assert_eq!(ours, theirs);
        assert_eq!(ours.events.len(), 2);
        assert!(ours.events[1].props.is_none());
    }

    #[test]
    fn what_it_does_not_know_goes_to_the_general_path() {
        for body in [
            BODY.replace("\"session\":\"s-1\"", "\"extra\":1"),
            BODY.replace("\"name\":\"x\"", "\"name\":\"x\\u0041\""),
            BODY.replace("\"name\":\"x\"", "\"name\":\"x\n\""),
            BODY.replace("\"name\":\"x\"", "\"name\":\"x\",\"name\":\"y\""),
            format!("{BODY}x"),
        ] {
            assert!(batch(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn plain_runs_end_at_the_first_special_byte() {
        for (text, len) in [
            ("", 0),
            ("abc", 3),
            ("0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e\"", 36),
            ("0123456789abcdef\\n", 16),
            ("01234567\u{1f}", 8),
            ("0123456\u{7f}\u{e5}\"", 10),
            // No end in sight: the whole text, past the eight-byte steps.
            ("0123456789", 10),
            ("0123456789abcdefg", 17),
            ("with a space\"", 12),
            // A space in the last few bytes, which the byte loop reads.
            ("a b\"", 3),
            ("0123456789 b\"", 12),
        ] {
            assert_eq!(plain_len(text.as_bytes()), len, "{text:?}");
        }
    }

    #[test]
    fn the_plain_shapes_sdks_send_take_the_quick_reader() {
        let event = |ts: &str| {
            format!(
                r#"{{"id":"0190b6b2-7a1e-7c3a-9d2e-1f2a3b4c5d6e","name":"report opened","ts":"{ts}"}}"#
            )
        };
        let envelope = |events: &str| {
            format!(
                r#"{{"token":null,"sent_at":"2026-11-29T08:00:00Z","sdk":{{"name":"usage-sdk-rust","version":"0.1.0"}},"events":[{events}]}}"#
            )
        };
        let mut bodies = vec![
            BODY.to_owned(),
            // Pretty-printed, as a person or another tool writes it.
            serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(BODY).expect("valid"),
            )
            .expect("writes"),
            BODY.replace("\",\"", "\" ,\t\"")
                .replace("\"name\":", "\"name\"\r\n: ")
                .replace("},{", "}\n,\n{"),
            format!(" \n{BODY}\r\n\t "),
            envelope(""),
            envelope(" "),
        ];
        for ts in [
            "2026-11-29T08:00:00Z",
            "2026-11-29T08:00:00.5Z",
            "2026-11-29T08:00:00.123456789Z",
            "2026-11-29T08:00:00+01:00",
        ] {
            bodies.push(envelope(&event(ts)));
        }
        for body in bodies {
            let ours = batch(body.as_bytes()).unwrap_or_else(|| panic!("plain shape: {body}"));
            let theirs: Batch = serde_json::from_str(&body).expect("valid");
            assert_eq!(ours, theirs, "{body}");
        }
    }

    #[test]
    fn whole_and_fractional_seconds_in_utc_take_the_quick_time_reader() {
        for text in [
            "2026-11-29T08:00:00Z",
            "1970-01-01T00:00:00Z",
            "2026-11-29T08:00:00.1Z",
            "2026-11-29T08:00:00.123456789Z",
        ] {
            let general = OffsetDateTime::parse(text, &Rfc3339).expect("valid");
            assert_eq!(utc_time(text), Some(general), "{text}");
        }
    }

    proptest! {
        /// Whatever stands where the fraction's dot goes, the quick time
        /// reader never reads a text the general parser refuses, or reads
        /// it differently.
        #[test]
        fn the_byte_after_the_seconds_is_checked(
            sep in any::<char>(),
            digits in "[0-9]{1,9}",
        ) {
            let text = format!("2026-11-29T08:00:00{sep}{digits}Z");
            prop_assert_eq!(utc_time(&text), OffsetDateTime::parse(&text, &Rfc3339).ok(), "{}", text);
        }

        /// The quick time reader agrees with the general parser on every
        /// text it reads, and reads the form clients send.
        #[test]
        fn utc_times_read_as_the_general_parser_reads_them(
            text in "[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?([Zz]|[+-]00:00)?",
        ) {
            if let Some(ours) = utc_time(&text) {
                prop_assert_eq!(Ok(ours), OffsetDateTime::parse(&text, &Rfc3339));
            }
        }

        #[test]
        fn the_usual_form_takes_the_quick_reader(at in 0i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let time = OffsetDateTime::from_unix_timestamp(at).expect("in range")
                .replace_nanosecond(nanos).expect("in range");
            let text = time.format(&Rfc3339).expect("formats");
            prop_assert_eq!(utc_time(&text), Some(time));
        }
    }

    fn mutated() -> impl Strategy<Value = String> {
        let edits = prop::collection::vec(
            (
                0..BODY.len(),
                0..3u8,
                prop::sample::select(
                    &[
                        "\"", "\\", " ", "\n", ",", ":", "{", "}", "[", "]", "null", "1", "-", "x",
                        "\u{e5}", "\u{1}", "\\u0000", "\\ud800", "{\"a\":",
                    ][..],
                ),
            ),
            1..4,
        );
        edits.prop_map(|edits| {
            let mut body = BODY.to_owned();
            for (at, kind, piece) in edits {
                let mut at = at.min(body.len());
                while !body.is_char_boundary(at) {
                    at -= 1;
                }
                match kind {
                    0 => body.insert_str(at, piece),
                    1 => {
                        let end = body[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                        body.replace_range(at..end, "");
                    }
                    _ => {
                        let end = body[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                        body.replace_range(at..end, piece);
                    }
                }
            }
            body
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Whatever the quick reader reads, serde reads as the same batch
        /// with the same verdict on every event.
        #[test]
        fn never_reads_a_body_differently_from_serde(body in mutated()) {
            if batch(body.as_bytes()).is_some() {
                prop_assert_eq!(
                    super::super::parse(body.as_bytes()),
                    super::super::parse_with_serde(body.as_bytes()),
                    "{}", body
                );
            }
        }
    }
}
