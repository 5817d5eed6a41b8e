//! The quick reader and the encoders against serde, over random events.

use serde_json::{json, Value};
use time::OffsetDateTime;
use usage_protocol::{Batch, Event, RejectCode, SdkInfo};
use uuid::Uuid;

use super::*;
use crate::core::journal::{encode, encode_add, Record};

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[(self.next() % from.len() as u64) as usize]
    }

    /// Text with what JSON must escape, and characters beyond ASCII.
    fn text(&mut self, max: u64) -> String {
        let chars = [
            'a',
            'Z',
            '0',
            ' ',
            '"',
            '\\',
            '\n',
            '\u{1}',
            'é',
            '/',
            '\u{1F600}',
            '}',
            ',',
        ];
        (0..1 + self.next() % max)
            .map(|_| *self.pick(&chars))
            .collect()
    }

    fn props(&mut self, depth: u32) -> Value {
        let mut object = serde_json::Map::new();
        for _ in 0..self.next() % 4 {
            let value = match self.next() % 5 {
                0 => json!(self.text(12)),
                1 => json!(self.next() % 100_000),
                2 => json!(-0.5),
                3 if depth < 3 => self.props(depth + 1),
                _ => json!([true, null, self.text(3)]),
            };
            object.insert(self.text(6), value);
        }
        Value::Object(object)
    }

    fn event(&mut self) -> Event {
        let names = ["a", "screen.opened", "x:y-z_1", "report.exported"];
        let props = (self.next() % 3 != 0)
            .then(|| serde_json::value::to_raw_value(&self.props(0)).expect("props serialize"));
        let session = (self.next() % 2 == 0).then(|| self.text(20));
        let ts = OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(self.next() % 4_000_000_000_000) * 1_000_000,
        )
        .expect("time");
        let id = Uuid::from_u128(u128::from(self.next()) << 64 | u128::from(self.next()));
        let name = *self.pick(&names[..]);
        Event::new(id, name, ts, props, session).expect("valid")
    }

    fn user(&mut self) -> Option<String> {
        match self.next() % 3 {
            0 => None,
            1 => Some("acme/bob".to_owned()),
            _ => Some(format!("acme/{}", self.text(10))),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn serde_add(line: &[u8]) -> Option<(Option<String>, Event)> {
    match serde_json::from_slice::<Record>(line) {
        Ok(Record::Add { user, event }) => Some((user, event)),
        _ => None,
    }
}

#[test]
#[cfg(not(target_arch = "wasm32"))]
fn the_quick_reader_reads_what_serde_reads_and_nothing_it_would_refuse() {
    let mut quick = 0;
    for n in 0..8_000u64 {
        let mut random = Random(0x5eed + n);
        let (user, event) = (random.user(), random.event());
        let mut line = Vec::new();
        encode_add(user.as_deref(), &event, &mut line);
        let line = &line[..line.len() - 1];
        let expected = serde_add(line).expect("serde reads its own line");
        if let Some((read_user, read)) = read_add_quickly(line) {
            quick += 1;
            assert_eq!((read_user, read.decode()), expected);
            assert_eq!(read.id, event.id);
            assert_eq!(
                read.json(),
                serde_json::to_string(&event).expect("serializes")
            );
        }
        // Every line cut short, and with a byte changed: the quick reader
        // takes none that serde would refuse, and reads the same as serde.
        for cut in (1..line.len()).step_by(7) {
            if let Some((read_user, read)) = read_add_quickly(&line[..cut]) {
                assert_eq!(Some((read_user, read.decode())), serde_add(&line[..cut]));
            }
        }
        // Digits and the letters of a timestamp too: a month 19 or a day
        // 39 must not pass for a time.
        for _ in 0..6 {
            let mut damaged = line.to_vec();
            let at = (random.next() % damaged.len() as u64) as usize;
            damaged[at] = *random.pick(b"{}\":,x\0 0139\\TZ.-u");
            if let Some((read_user, read)) = read_add_quickly(&damaged) {
                let by_serde = serde_add(&damaged).unwrap_or_else(|| {
                    panic!("serde refuses {:?}", String::from_utf8_lossy(&damaged))
                });
                assert_eq!((read_user, read.id), (by_serde.0, by_serde.1.id));
            }
        }
    }
    assert!(quick > 4_000, "most lines take the quick path ({quick})");
}

#[test]
fn kept_lines_and_batch_bodies_are_what_serde_writes() {
    let mut random = Random(42);
    let sdk = SdkInfo {
        name: "usage-sdk-rust".into(),
        version: "0.1.0".into(),
    };
    for round in 0..200 {
        let events: Vec<Event> = (0..round % 7).map(|_| random.event()).collect();
        let encoded: Vec<EncodedEvent> = events.iter().map(EncodedEvent::new).collect();
        for (event, encoded) in events.iter().zip(&encoded) {
            let user = random.user();
            let mut line = Vec::new();
            encode_kept(user.as_deref(), encoded, &mut line);
            let record = Record::Kept {
                user,
                event: event.clone(),
            };
            assert_eq!(line, encode(&[record]));
        }
        let sent_at = OffsetDateTime::from_unix_timestamp_nanos(
            1_700_000_000_000_000_000 + i128::from(random.next() % 1_000_000_000),
        )
        .expect("time");
        let refs: Vec<&EncodedEvent> = encoded.iter().collect();
        let batch = Batch {
            token: None,
            sent_at,
            sdk: sdk.clone(),
            events: events.clone(),
        };
        assert_eq!(
            String::from_utf8(encode_batch(sent_at, &sdk, &refs)).expect("utf-8"),
            serde_json::to_string(&batch).expect("serializes")
        );
    }
}

#[test]
fn the_add_line_of_track_is_what_serde_writes() {
    let mut random = Random(7);
    let mut events: Vec<Event> = (0..3_000).map(|_| random.event()).collect();
    // Timestamps at the edges of the hand-written formatting, and one with
    // an offset (left to `time`).
    let edges = [
        time::macros::datetime!(0000-01-01 00:00:00 UTC),
        time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC),
        time::macros::datetime!(2026-12-01 17:09:39.1 UTC),
        time::macros::datetime!(2026-12-01 17:09:39.12 UTC),
        time::macros::datetime!(2026-12-01 17:09:39.000_000_001 UTC),
        time::macros::datetime!(2026-12-01 17:09:39.5 +02:00),
        OffsetDateTime::UNIX_EPOCH,
    ];
    for ts in edges {
        let mut event = random.event();
        event.ts = ts;
        events.push(event);
    }
    for event in events {
        let user = random.user();
        let mut line = Vec::new();
        encode_add(user.as_deref(), &event, &mut line);
        let record = Record::Add { user, event };
        assert_eq!(
            String::from_utf8(line).expect("utf-8"),
            String::from_utf8(encode(&[record])).expect("utf-8")
        );
    }
}

/// `track()`'s writer, which builds no event, against building the event
/// and writing it: the same line for every valid event, and the same code
/// for every invalid one, whatever is wrong with it.
#[test]
fn the_line_track_writes_from_its_arguments_is_that_of_the_event_it_would_build() {
    use serde_json::value::RawValue;
    use usage_protocol::limits::{MAX_PROPS_BYTES, MAX_PROPS_DEPTH, MAX_SESSION_LEN};

    let raw = |text: &str| RawValue::from_string(text.to_owned()).expect("valid JSON");
    let deep = format!(
        "{}{}",
        "{\"k\":[".repeat(MAX_PROPS_DEPTH),
        "]}".repeat(MAX_PROPS_DEPTH)
    );
    // Props a caller may pass: what serde writes, raw text with whitespace
    // (kept as written by `Serialize`), and everything the collector refuses.
    let hostile: Vec<Box<RawValue>> = vec![
        raw("null"),
        raw(" null"),
        raw("{ \"a\" :\n [1, 2] }"),
        raw("[1]"),
        raw("\"text\""),
        raw("{\"nul\":\"\\u0000\"}"),
        raw("{\"lone\":\"\\ud800\"}"),
        raw(&format!("{{\"n\":1{}}}", "0".repeat(40_000))),
        raw(&format!("{{\"s\":\"{}\"}}", "x".repeat(MAX_PROPS_BYTES))),
        raw(&format!(
            "{{\"s\":\"{}\"}}",
            "x".repeat(MAX_PROPS_BYTES - 8)
        )),
        raw(&format!(
            "{{ \"s\":\"{}\"}}",
            "x".repeat(MAX_PROPS_BYTES - 8)
        )),
        raw(&deep),
    ];
    let names = ["a.b", "", "has space", &"n".repeat(129), "x:y-z_1"];
    let long_session = "s".repeat(MAX_SESSION_LEN + 1);
    let sessions = [
        None,
        Some("s1"),
        Some(""),
        Some("a\0b"),
        Some(&long_session[..]),
    ];
    // Whole seconds and fractions, before 1970, the last millisecond of
    // year 9999 and the first of 10000, the last of year -1, and beyond.
    let times = [
        0,
        1_764_608_979_123,
        1_764_608_979_120,
        1_764_608_979_100,
        1_764_608_979_005,
        1_764_608_979_000,
        -1,
        -1_001,
        -62_167_219_200_000,
        -62_167_219_200_001,
        253_402_300_799_999,
        253_402_300_800_000,
        i64::MAX,
        i64::MIN,
    ];

    for props in &hostile {
        for name in names {
            for session in sessions {
                for ms in times {
                    check(Some("acme/bob"), name, ms, props, session);
                }
            }
        }
    }
    let mut random = Random(11);
    let mut last_ms = 0;
    for n in 0..3_000 {
        let props = random.props(0);
        let user = random.user();
        let session = (n % 2 == 0).then(|| random.text(20));
        // Half of them a moment after the one before: the same second
        // again, or the next.
        last_ms = if n % 2 == 0 {
            (random.next() % 4_000_000_000_000) as i64
        } else {
            last_ms + (random.next() % 1_500) as i64
        };
        let ms = last_ms;
        check(
            user.as_deref(),
            "screen.opened",
            ms,
            &props,
            session.as_deref(),
        );
    }
    check(None, "a", 5, &(), None);
    check(None, "a", 5, &[1, 2], None);
    check(
        None,
        "a",
        5,
        &std::collections::BTreeMap::from([(1, 2)]),
        None,
    );
    check(
        None,
        "a",
        5,
        &std::collections::BTreeMap::from([((1, 2), 3)]),
        None,
    );
    check(None, "a", 5, &json!({"nan": f64::NAN}), None);
}

/// Props of any type behind one reference, so one loop checks them all.
trait AnyProps {
    fn build(
        &self,
        id: Uuid,
        name: &str,
        ms: i64,
        session: Option<&str>,
    ) -> Result<Event, RejectCode>;

    fn write(&self, line: Line<'_>, out: &mut Vec<u8>) -> Result<(), RejectCode>;
}

/// The arguments of an add line other than its props.
#[derive(Clone, Copy)]
struct Line<'a> {
    user: Option<&'a str>,
    id: Uuid,
    name: &'a str,
    ms: i64,
    session: Option<&'a str>,
}

impl<P: serde::Serialize + ?Sized> AnyProps for P {
    fn build(
        &self,
        id: Uuid,
        name: &str,
        ms: i64,
        session: Option<&str>,
    ) -> Result<Event, RejectCode> {
        crate::core::event::build_event(id, name, ms, self, session.map(str::to_owned))
    }

    fn write(&self, line: Line<'_>, out: &mut Vec<u8>) -> Result<(), RejectCode> {
        crate::core::journal::encode_tracked(
            line.user,
            line.id,
            line.name,
            line.ms,
            self,
            line.session,
            out,
        )
    }
}

/// Writes the add line of these arguments both ways, and compares.
fn check_tracked(line: Line<'_>, props: &dyn AnyProps) {
    let Line {
        name, ms, session, ..
    } = line;
    let built = props.build(line.id, name, ms, session);
    let mut written_line = Vec::new();
    let written = props.write(line, &mut written_line);
    match built {
        Ok(event) => {
            let mut expected = Vec::new();
            encode_add(line.user, &event, &mut expected);
            assert_eq!(written, Ok(()), "{name:?} {ms} {session:?}");
            assert_eq!(
                String::from_utf8(written_line).expect("utf-8"),
                String::from_utf8(expected).expect("utf-8")
            );
        }
        Err(code) => assert_eq!(written, Err(code), "{name:?} {ms} {session:?}"),
    }
}

fn check(user: Option<&str>, name: &str, ms: i64, props: &dyn AnyProps, session: Option<&str>) {
    let id = Uuid::from_u128(0x0190_b6b2_7a1e_7c3a_9d2e_1f2a_3b4c_5d6e);
    let line = Line {
        user,
        id,
        name,
        ms,
        session,
    };
    check_tracked(line, props);
}
