//! Each reader against serde's reading of the same text: over what serde
//! writes (compact and pretty), and over texts made from that by a few small
//! edits, which serde mostly refuses and sometimes reads differently.

use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use time::{OffsetDateTime, UtcOffset};
use usage_protocol::{BatchResponse, Event, RejectCode, Rejection, SdkInfo};
use uuid::Uuid;

use super::*;

/// What an edit inserts; past the end of the list, an edit deletes.
const SNIPPETS: &[&str] = &[
    "\"",
    "\\",
    ",",
    "{",
    "}",
    "[",
    "]",
    ":",
    " ",
    "-",
    "0",
    "1.5",
    "e9",
    "null",
    "true",
    "\\u0041",
    "\\ud800",
    "\"user\":null,",
    "\"name\":\"n\",",
    "\"x\":[{}],",
    "\"add\":",
    "-0",
    "[]",
];

/// Up to three small edits of a text: where each goes, and what it does.
fn edits() -> impl Strategy<Value = Vec<(Index, usize)>> {
    prop::collection::vec((any::<Index>(), 0..SNIPPETS.len() + 3), 0..3)
}

/// `text` with `edits` applied: snippets inserted, characters deleted.
fn edit(text: &str, edits: &[(Index, usize)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (at, what) in edits {
        let at = at.index(chars.len() + 1);
        match SNIPPETS.get(*what) {
            Some(snippet) => {
                chars.splice(at..at, snippet.chars());
            }
            None if at < chars.len() => {
                chars.remove(at);
            }
            None => {}
        }
    }
    chars.into_iter().collect()
}

/// Values a field may be given instead of its own. The array of ids is
/// three long so that it is never read as a struct of one or two fields,
/// which serde reads from an array and the readers refuse.
const OTHER_VALUES: &[&str] = &[
    "null", "true", "0", "-0", "1.5", "-7", "4294967296", "\"\"", "\"unknown\"", "[]", "{}",
    "[\"00000000-0000-0000-0000-000000000000\",\"00000000-0000-0000-0000-000000000000\",\"00000000-0000-0000-0000-000000000000\"]",
];

/// A number below `sides` from `seed` (xorshift): a fixed sequence per
/// seed, so that a failure reproduces.
fn roll(seed: &mut u64, sides: u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed % sides
}

/// `value` written as JSON text, with edits of its structure chosen by
/// `seed`: in objects, fields dropped, written twice, given another value, or
/// added. (Duplicate fields cannot be made by editing a `Value`.)
fn restructured(value: &serde_json::Value, seed: &mut u64) -> String {
    match value {
        serde_json::Value::Object(fields) => {
            let mut out = Vec::new();
            for (key, value) in fields {
                let key = serde_json::to_string(key).expect("serializes");
                match roll(seed, 14) {
                    0 => {}
                    1 => {
                        let text = restructured(value, seed);
                        out.push(format!("{key}:{text}"));
                        out.push(format!("{key}:{text}"));
                    }
                    2 => {
                        let other = OTHER_VALUES[roll(seed, OTHER_VALUES.len() as u64) as usize];
                        out.push(format!("{key}:{other}"));
                    }
                    _ => out.push(format!("{key}:{}", restructured(value, seed))),
                }
            }
            if roll(seed, 8) == 0 {
                out.push(r#""zz":[1,{"a":null}]"#.to_owned());
            }
            format!("{{{}}}", out.join(","))
        }
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|item| restructured(item, seed)).collect();
            format!("[{}]", items.join(","))
        }
        other => serde_json::to_string(other).expect("serializes"),
    }
}

/// Text serde writes for `value`, compact or pretty.
fn written<T: Serialize>(value: &T, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(value).expect("serializes")
    } else {
        serde_json::to_string(value).expect("serializes")
    }
}

/// Checks `read` against serde on `text`, on `text` edited, and on `text`
/// restructured by `seed`.
fn same_as_serde<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
    text: &str,
    edits: &[(Index, usize)],
    seed: u64,
    read: impl Fn(&str) -> Option<T>,
) -> Result<(), TestCaseError> {
    let serde = serde_json::from_str::<T>(text).ok();
    prop_assert!(serde.is_some(), "serde reads what it wrote: {}", text);
    prop_assert_eq!(read(text), serde);
    let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
    let mut seed = seed | 1;
    for changed in [edit(text, edits), restructured(&value, &mut seed)] {
        prop_assert_eq!(
            read(&changed),
            serde_json::from_str::<T>(&changed).ok(),
            "{}",
            changed
        );
    }
    Ok(())
}

fn words() -> impl Strategy<Value = String> {
    "[a-z/\"\\\\é\u{1f600}\n\t\u{1}]{0,6}"
}

fn events() -> impl Strategy<Value = Event> {
    let props = prop_oneof![
        Just(None),
        Just(Some("{}".to_owned())),
        Just(Some(
            r#"{"a":[1,-2.5e3,{"b":null}],"é":"\n","t":true}"#.to_owned()
        )),
        words().prop_map(|word| Some(format!(
            r#"{{"k":{}}}"#,
            serde_json::to_string(&word).expect("serializes")
        ))),
    ];
    (
        any::<u128>(),
        "[a-z.:_-]{1,8}",
        0i64..4_000_000_000,
        0u32..1_000_000_000,
        -86_399i32..86_400,
        props,
        proptest::option::of(words()),
    )
        .prop_map(|(id, name, secs, nanos, offset, props, session)| {
            let offset = UtcOffset::from_whole_seconds(offset / 60 * 60).expect("in range");
            let ts = OffsetDateTime::from_unix_timestamp(secs)
                .expect("in range")
                .replace_nanosecond(nanos)
                .expect("in range")
                .to_offset(offset);
            Event {
                id: Uuid::from_u128(id),
                name,
                ts,
                props: props.map(|p| RawValue::from_string(p).expect("JSON")),
                session,
            }
        })
}

fn records() -> impl Strategy<Value = Record> {
    let user = || proptest::option::of(words());
    prop_oneof![
        (words(), words()).prop_map(|(user, token)| Record::Token { user, token }),
        (user(), events()).prop_map(|(user, event)| Record::Add { user, event }),
        (user(), events()).prop_map(|(user, event)| Record::Kept { user, event }),
        prop::collection::vec(any::<u128>(), 0..3).prop_map(|ids| Record::Done {
            ids: ids.into_iter().map(Uuid::from_u128).collect()
        }),
        any::<u64>().prop_map(Record::Epoch),
    ]
}

fn responses() -> impl Strategy<Value = BatchResponse> {
    let code = (0..RejectCode::ALL.len() + 1).prop_map(|n| {
        RejectCode::ALL
            .get(n)
            .copied()
            .unwrap_or(RejectCode::Unknown)
    });
    let rejection = (any::<u32>(), code).prop_map(|(index, code)| Rejection { index, code });
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        prop::collection::vec(rejection, 0..3),
    )
        .prop_map(
            |(accepted, discarded, duplicates, opted_out, rejected)| BatchResponse {
                accepted,
                discarded,
                duplicates,
                opted_out,
                rejected,
            },
        )
}

/// serde's reading of an error body, as `reply.rs` does it natively.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct ErrorDetail {
    code: String,
}

proptest! {
    #[test]
    fn journal_lines_read_as_serde_reads_them(
        record in records(),
        pretty in any::<bool>(),
        edits in edits(),
        seed in any::<u64>(),
    ) {
        same_as_serde(&written(&record, pretty), &edits, seed, |text| self::record(text.as_bytes()))?;
    }

    #[test]
    fn collector_answers_read_as_serde_reads_them(
        response in responses(),
        pretty in any::<bool>(),
        edits in edits(),
        seed in any::<u64>(),
    ) {
        same_as_serde(&written(&response, pretty), &edits, seed, |text| batch_response(text.as_bytes()))?;
    }

    #[test]
    fn error_bodies_read_as_serde_reads_them(
        code in words(),
        message in words(),
        pretty in any::<bool>(),
        edits in edits(),
        seed in any::<u64>(),
    ) {
        let body = serde_json::json!({"error": {"code": code, "message": message}});
        same_as_serde(&written(&body, pretty), &edits, seed, |text| {
            error_code(text.as_bytes()).map(|code| ErrorBody { error: ErrorDetail { code } })
        })?;
    }

    #[test]
    fn cached_logins_read_as_serde_reads_them(
        token in words(),
        session_id in words(),
        server_opted_out in proptest::option::of(any::<bool>()),
        pretty in any::<bool>(),
        edits in edits(),
        seed in any::<u64>(),
    ) {
        let mut session = serde_json::json!({"token": token, "session_id": session_id});
        if let Some(flag) = server_opted_out {
            session["server_opted_out"] = flag.into();
        }
        same_as_serde(&written(&session, pretty), &edits, seed, cached_session)?;
    }
}

#[test]
fn a_code_from_a_newer_collector_reads_as_unknown() {
    let text = br#"{"accepted":1,"discarded":0,"duplicates":0,"opted_out":false,"rejected":[{"index":2,"code":"brand_new_code"}]}"#;
    let response = batch_response(text).expect("reads");
    assert_eq!(response.rejected[0].code, RejectCode::Unknown);
    assert_eq!(
        Some(response),
        serde_json::from_slice::<BatchResponse>(text).ok()
    );
}

#[test]
fn a_field_written_twice_is_refused_as_serde_refuses_it() {
    for text in [
        r#"{"token":"t","session_id":"s","token":"t"}"#,
        r#"{"token":"t","session_id":"s","server_opted_out":true,"server_opted_out":true}"#,
    ] {
        assert_eq!(cached_session(text), None, "{text}");
        assert!(serde_json::from_str::<CachedSession>(text).is_err());
    }
    let line = br#"{"done":{"ids":[]},"epoch":1}"#;
    assert_eq!(record(line), None);
    assert!(serde_json::from_slice::<Record>(line).is_err());
}

#[test]
fn a_line_that_is_not_utf8_is_refused() {
    let line = b"{\"token\":{\"user\":\"\xff\",\"token\":\"t\"}}";
    assert_eq!(record(line), None);
    assert!(serde_json::from_slice::<Record>(line).is_err());
}

fn timestamps() -> impl Strategy<Value = OffsetDateTime> {
    events().prop_map(|event| event.ts)
}

proptest! {
    #[test]
    fn records_and_events_are_written_as_serde_writes_them(record in records()) {
        let mut line = Vec::new();
        write_record(&record, &mut line);
        let serde = serde_json::to_string(&record).expect("serializes");
        prop_assert_eq!(String::from_utf8(line).expect("UTF-8"), serde);
        if let Record::Add { user, event } | Record::Kept { user, event } = &record {
            prop_assert_eq!(event_text(event), serde_json::to_string(event).expect("serializes"));
            let mut text = Vec::new();
            write_user(user.as_deref(), &mut text);
            prop_assert_eq!(text, serde_json::to_vec(&user.as_deref()).expect("serializes"));
        }
    }

    #[test]
    fn envelopes_logins_and_tokens_are_written_as_serde_writes_them(
        sent_at in timestamps(),
        name in words(),
        version in words(),
        token in words(),
        session_id in words(),
        server_opted_out in any::<bool>(),
    ) {
        let sdk = SdkInfo { name, version };
        let mut envelope = Vec::new();
        write_envelope(sent_at, &sdk, &mut envelope);
        let serde = serde_json::to_vec(&crate::core::encoded::Envelope { sent_at, sdk: &sdk })
            .expect("serializes");
        prop_assert_eq!(envelope, serde);
        let session = CachedSession { token, session_id, server_opted_out };
        prop_assert_eq!(
            cached_session_text(&session),
            serde_json::to_string(&session).expect("serializes")
        );
        prop_assert_eq!(
            json_string(&session.token),
            serde_json::to_string(&session.token).expect("serializes")
        );
    }
}

/// Texts near RFC 3339: each part right, out of range or malformed.
fn timestamp_texts() -> impl Strategy<Value = String> {
    let two = || {
        prop_oneof![
            Just("00"),
            Just("01"),
            Just("12"),
            Just("13"),
            Just("23"),
            Just("24"),
            Just("28"),
            Just("29"),
            Just("30"),
            Just("31"),
            Just("59"),
            Just("60"),
            Just("99"),
            Just("1"),
            Just("a1")
        ]
    };
    (
        prop_oneof![
            Just("0000"),
            Just("1999"),
            Just("2000"),
            Just("2024"),
            Just("2100"),
            Just("9999"),
            Just("999"),
            Just("+2024")
        ],
        (
            two(),
            two(),
            prop_oneof![Just("T"), Just("t"), Just(" "), Just("é"), Just("")],
        ),
        (two(), two(), two()),
        prop_oneof![
            Just(""),
            Just("."),
            Just(".5"),
            Just(".123456789"),
            Just(".0000000001"),
            Just(".999999999999"),
            Just(".x")
        ],
        prop_oneof![
            Just("Z"),
            Just("z"),
            Just(""),
            Just("+00:00"),
            Just("-00:00"),
            Just("+05:30"),
            Just("-23:59"),
            Just("+24:00"),
            Just("+01:60"),
            Just("+1:00"),
            Just("Z "),
            Just("+01")
        ],
    )
        .prop_map(
            |(year, (month, day, sep), (hour, minute, second), fraction, offset)| {
                format!("{year}-{month}-{day}{sep}{hour}:{minute}:{second}{fraction}{offset}")
            },
        )
}

proptest! {
    #[test]
    fn timestamps_parse_as_time_parses_them(text in timestamp_texts(), ts in timestamps()) {
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        prop_assert_eq!(parse_rfc3339(&text), OffsetDateTime::parse(&text, rfc3339).ok(), "{}", text);
        let written = ts.format(rfc3339).expect("formats");
        prop_assert_eq!(parse_rfc3339(&written), Some(ts));
    }
}

#[test]
fn a_leap_second_stands_for_the_end_of_a_month_in_utc() {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    for text in [
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:60.5Z",
        "2017-01-01T01:29:60+01:30",
        "2016-12-30T23:59:60Z",
        "2016-12-31T22:59:60Z",
        "9999-12-31T23:59:60Z",
    ] {
        assert_eq!(
            parse_rfc3339(text),
            OffsetDateTime::parse(text, rfc3339).ok(),
            "{text}"
        );
    }
    assert!(parse_rfc3339("2016-12-31T23:59:60Z").is_some());
}

proptest! {
    #[test]
    fn strings_are_escaped_as_serde_escapes_them(
        text in any::<String>(),
        controls in "[\u{0}-\u{1f}\"\\\\/a\u{7f}é]{0,8}",
    ) {
        for text in [text, controls] {
            let mut out = Vec::new();
            push_str(&text, &mut out);
            prop_assert_eq!(out, serde_json::to_vec(&text).expect("serializes"));
        }
    }

    #[test]
    fn timestamps_are_written_as_time_writes_them(
        ts in timestamps(),
        offset_seconds in 1i32..60,
    ) {
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        let mut out = Vec::new();
        push_timestamp(ts, &mut out);
        let time = format!("\"{}\"", ts.format(rfc3339).expect("formats"));
        prop_assert_eq!(String::from_utf8(out).expect("UTF-8"), time);
        // An offset RFC 3339 cannot write is written as the same instant in UTC.
        let odd = UtcOffset::from_whole_seconds(offset_seconds).expect("in range");
        let mut out = Vec::new();
        push_timestamp(ts.to_offset(odd), &mut out);
        let utc = ts.to_offset(UtcOffset::UTC).format(rfc3339).expect("formats");
        prop_assert_eq!(String::from_utf8(out).expect("UTF-8"), format!("\"{utc}\""));
    }
}

proptest! {
    #[test]
    fn hyphenated_uuids_parse_as_uuid_parses_them(
        id in any::<u128>(),
        upper in any::<bool>(),
        noise in "[0-9a-fA-FgG{}:-]{30,40}",
    ) {
        let id = Uuid::from_u128(id);
        let hyphenated = id.hyphenated().to_string();
        let hyphenated = if upper { hyphenated.to_uppercase() } else { hyphenated };
        prop_assert_eq!(parse_uuid(&hyphenated), Some(id));
        prop_assert_eq!(parse_uuid(&noise), Uuid::parse_str(&noise).ok().filter(|_| noise.len() == 36));
        for other in [id.simple().to_string(), id.braced().to_string(), id.urn().to_string()] {
            prop_assert_eq!(parse_uuid(&other), None);
        }
    }
}
