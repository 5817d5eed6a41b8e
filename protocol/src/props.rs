//! The rules `props` must meet to be stored, and its compact form.
//!
//! A client may send `props` with whitespace between tokens, raw newlines
//! included, which must not reach a line-per-record file: the collector
//! stores props compactly. It also refuses, per event, what a sink could not
//! store (PostgreSQL's `jsonb` refuses `\u0000`, lone surrogates and numbers
//! beyond `numeric`), so one such event never fails the batch it came in.

use crate::event::RejectCode;
use crate::limits::{MAX_PROPS_DEPTH, MAX_PROPS_NUMBER_DIGITS};

const INVALID: RejectCode = RejectCode::InvalidProps;

/// Checks `raw` (JSON text that serde_json has read as one value) as the
/// collector stores props, and returns its compact form when it differs:
/// `None` when `raw` is compact already, the common case, so that nothing
/// is copied then.
pub(crate) fn compact(raw: &str) -> Result<Option<String>, RejectCode> {
    let bytes = raw.as_bytes();
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(INVALID);
    }
    // The compact text, made only once some whitespace is found; everything
    // before `kept` is in it.
    let mut out: Option<String> = None;
    let mut kept = 0;
    let mut depth = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b' ' | b'\n' | b'\r' | b'\t' => {
                let end = bytes[at..]
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
                    .map_or(bytes.len(), |n| at + n);
                out.get_or_insert_with(|| String::with_capacity(raw.len()))
                    .push_str(&raw[kept..at]);
                kept = end;
                at = end;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_PROPS_DEPTH {
                    return Err(INVALID);
                }
                at += 1;
            }
            b'}' | b']' => {
                depth -= 1;
                at += 1;
            }
            b'"' => at = string_end(bytes, at + 1)?,
            b'-' | b'0'..=b'9' => at = number_end(bytes, at)?,
            // `:`, `,` and the letters of `true`, `false` and `null`.
            _ => at += 1,
        }
    }
    Ok(out.map(|mut out| {
        out.push_str(&raw[kept..]);
        out
    }))
}

/// Where the string whose text starts at `at` ends (past its closing
/// quote); refuses `\u0000` and surrogates that are not a pair.
fn string_end(bytes: &[u8], mut at: usize) -> Result<usize, RejectCode> {
    loop {
        at += bytes[at..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\')
            .ok_or(INVALID)?;
        if bytes[at] == b'"' {
            return Ok(at + 1);
        }
        if bytes.get(at + 1) != Some(&b'u') {
            at += 2;
            continue;
        }
        match hex_escape(bytes, at)? {
            0 => return Err(INVALID),
            0xd800..=0xdbff => {
                if !matches!(hex_escape(bytes, at + 6), Ok(0xdc00..=0xdfff)) {
                    return Err(INVALID);
                }
                at += 12;
            }
            0xdc00..=0xdfff => return Err(INVALID),
            _ => at += 6,
        }
    }
}

/// The code unit of the `\uXXXX` escape at `at`.
fn hex_escape(bytes: &[u8], at: usize) -> Result<u16, RejectCode> {
    match bytes.get(at..at + 6) {
        Some([b'\\', b'u', hex @ ..]) => std::str::from_utf8(hex)
            .ok()
            .and_then(|hex| u16::from_str_radix(hex, 16).ok())
            .ok_or(INVALID),
        _ => Err(INVALID),
    }
}

/// The largest power of ten a number's first digit may stand for: numbers
/// stay below 10^308, within what a double holds, so that every JSON reader
/// reads them (serde_json refuses larger ones, JavaScript makes them
/// `Infinity`).
const MAX_NUMBER_POWER: i64 = 307;

/// Where the number starting at `at` ends; refuses one with more than
/// [`MAX_PROPS_NUMBER_DIGITS`] digits, an exponent beyond that many, or a
/// magnitude of 10^308 or more.
fn number_end(bytes: &[u8], mut at: usize) -> Result<usize, RejectCode> {
    let digits_at = |at: usize| {
        bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    let whole = &bytes[at..at + digits_at(at)];
    at += whole.len();
    let mut fraction: &[u8] = &[];
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction = &bytes[at..at + digits_at(at)];
        at += fraction.len();
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        let negative = bytes.get(at) == Some(&b'-');
        if matches!(bytes.get(at), Some(b'-' | b'+')) {
            at += 1;
        }
        let len = digits_at(at);
        let magnitude = bytes[at..at + len].iter().fold(0i64, |value, &digit| {
            value
                .saturating_mul(10)
                .saturating_add(i64::from(digit - b'0'))
        });
        at += len;
        exponent = if negative { -magnitude } else { magnitude };
    }
    let limit = MAX_PROPS_NUMBER_DIGITS as i64;
    if whole.len() + fraction.len() > MAX_PROPS_NUMBER_DIGITS || exponent.abs() > limit {
        return Err(INVALID);
    }
    // The power of ten of the first digit that is not 0 (none: the number is 0).
    let power = match whole.iter().position(|&d| d != b'0') {
        Some(first) => Some((whole.len() - first) as i64 - 1),
        None => fraction
            .iter()
            .position(|&d| d != b'0')
            .map(|first| -(first as i64) - 1),
    };
    if power.is_some_and(|power| power + exponent > MAX_NUMBER_POWER) {
        return Err(INVALID);
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(raw: &str) -> Result<String, RejectCode> {
        // Only text serde_json reads as one value ever comes here.
        serde_json::from_str::<&serde_json::value::RawValue>(raw).expect("valid JSON");
        compact(raw).map(|out| out.unwrap_or_else(|| raw.to_owned()))
    }

    #[test]
    fn whitespace_between_tokens_is_dropped_and_strings_are_kept() {
        let raw = "{ \"k\" :\n{\"org\":\"globex\",\r\n\t\"s\":\" a \\n b \\\" { \"} ,\"n\": [ 1 , -2.5e3 , true, null ] }";
        let out = checked(raw).expect("valid props");
        assert_eq!(
            out,
            r#"{"k":{"org":"globex","s":" a \n b \" { "},"n":[1,-2.5e3,true,null]}"#
        );
        let before: serde_json::Value = serde_json::from_str(raw).expect("json");
        let after: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(before, after);
        assert_eq!(compact(&out), Ok(None), "compact text is not copied");
    }

    #[test]
    fn only_an_object_is_props() {
        for raw in ["[1]", "\"x\"", "1", "true"] {
            assert_eq!(checked(raw), Err(RejectCode::InvalidProps), "{raw}");
        }
        assert_eq!(checked("{}").as_deref(), Ok("{}"));
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |depth: usize| format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        assert!(checked(&nested(MAX_PROPS_DEPTH)).is_ok());
        assert_eq!(
            checked(&nested(MAX_PROPS_DEPTH + 1)),
            Err(RejectCode::InvalidProps)
        );
        let arrays = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_PROPS_DEPTH),
            "]".repeat(MAX_PROPS_DEPTH)
        );
        assert_eq!(checked(&arrays), Err(RejectCode::InvalidProps));
        // Brackets inside strings do not count.
        let quoted = format!("{{\"a\":\"{}\"}}", "[{".repeat(1000));
        assert!(checked(&quoted).is_ok());
    }

    #[test]
    fn what_a_sink_cannot_store_is_refused() {
        for raw in [
            r#"{"a":"\u0000"}"#,
            r#"{"\u0000":1}"#,
            r#"{"a":"x\ud800"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"\uDBFF":1}"#,
            r#"{"a":"\ud800\\udc00"}"#,
            r#"{"a":1e1001}"#,
            r#"{"a":1E-1001}"#,
            r#"{"a":1e+00000000000000000000000000001001}"#,
            // Beyond a double: serde_json would refuse the stored line.
            r#"{"a":1e308}"#,
            r#"{"a":-10e307}"#,
            r#"{"a":0.01e310}"#,
        ] {
            assert_eq!(checked(raw), Err(RejectCode::InvalidProps), "{raw}");
        }
        let long = format!("{{\"a\":{}}}", "9".repeat(MAX_PROPS_NUMBER_DIGITS + 1));
        assert_eq!(checked(&long), Err(RejectCode::InvalidProps));
        let fraction = format!("{{\"a\":0.{}}}", "1".repeat(MAX_PROPS_NUMBER_DIGITS));
        assert_eq!(checked(&fraction), Err(RejectCode::InvalidProps));
        for raw in [
            r#"{"a":"\ud83d\ude00 \u0001 \\u0000"}"#,
            r#"{"a":1e307,"b":-1e-1000,"c":0.5E+3,"d":9.99e307,"e":0.001e310,"f":0e999}"#,
        ] {
            assert_eq!(checked(raw).as_deref(), Ok(raw), "{raw}");
        }
        let widest = format!("{{\"a\":0.{}}}", "9".repeat(MAX_PROPS_NUMBER_DIGITS - 1));
        assert!(checked(&widest).is_ok());
        let largest = format!("{{\"a\":{}}}", "9".repeat(308));
        assert!(checked(&largest).is_ok());
        let too_large = format!("{{\"a\":{}}}", "9".repeat(309));
        assert_eq!(checked(&too_large), Err(RejectCode::InvalidProps));
    }

    fn json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                // Finite, and below 10^308: larger numbers are refused.
                .prop_filter("finite", |f| f.is_finite() && f.abs() < 1e308)
                .prop_map(Value::from),
            // Any text but NUL, which is refused; serde writes no lone surrogates.
            "[^\\x00]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[^\\x00]{0,8}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The compact form of any props is what serde_json writes for the
        /// same value, however the client spaced it.
        #[test]
        fn compacts_as_serde_json_writes(
            map in proptest::collection::btree_map("[^\\x00]{0,8}", json(), 0..6),
        ) {
            let value = serde_json::Value::Object(map.into_iter().collect());
            let spaced = serde_json::to_string_pretty(&value).expect("writes");
            let compact_text = serde_json::to_string(&value).expect("writes");
            proptest::prop_assert_eq!(checked(&spaced), Ok(compact_text.clone()));
            proptest::prop_assert_eq!(compact(&compact_text), Ok(None));
        }
    }
}
