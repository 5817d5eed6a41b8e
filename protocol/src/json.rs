//! A small reader of JSON text for the wire shapes, for builds where
//! serde_json's parser and the code serde derives to read them weigh too
//! much: the browser package.
//!
//! [`Json::new`] first checks the syntax as serde_json does ([`well_formed`]),
//! and the reader then only walks text known to be well formed. What it adds
//! are the rules of serde's typed reading: string escapes decoded,
//! surrogates paired, integers without a fraction or an exponent and within
//! their type, each field at most once. [`raw_value`] makes a [`RawValue`]
//! without serde_json's parser. Each is held to serde_json by differential
//! tests, as are the readers built on them.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::value::RawValue;

/// Whether `text` is one JSON value as serde_json reads it, whitespace
/// around it allowed: RFC 8259 exactly, any depth (as serde_json checks a
/// raw value), surrogate escapes not paired (that is for a typed reading).
pub fn well_formed(text: &str) -> bool {
    let bytes = text.as_bytes();
    let ws = |mut at: usize| {
        while matches!(bytes.get(at), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            at += 1;
        }
        at
    };
    // A key and its colon, from `at`; where the value starts.
    let key = |at: usize| {
        let at = string_end(bytes, ws(at))?;
        let at = ws(at);
        (bytes.get(at) == Some(&b':')).then_some(at + 1)
    };
    // The open objects (`{`) and arrays (`[`) around `at`.
    let mut open = Vec::new();
    let mut at = 0;
    loop {
        // A value starts at `at`.
        at = ws(at);
        let end = match bytes.get(at) {
            Some(&bracket @ (b'{' | b'[')) => {
                let inside = ws(at + 1);
                let close = if bracket == b'{' { b'}' } else { b']' };
                if bytes.get(inside) == Some(&close) {
                    Some(inside + 1)
                } else {
                    open.push(bracket);
                    at = if bracket == b'{' {
                        match key(inside) {
                            Some(at) => at,
                            None => return false,
                        }
                    } else {
                        inside
                    };
                    continue;
                }
            }
            Some(b'"') => string_end(bytes, at),
            Some(b't') => literal_end(bytes, at, b"true"),
            Some(b'f') => literal_end(bytes, at, b"false"),
            Some(b'n') => literal_end(bytes, at, b"null"),
            Some(b'-' | b'0'..=b'9') => number_end(bytes, at),
            _ => None,
        };
        let Some(end) = end else {
            return false;
        };
        at = end;
        // After a value: close what it ends, or go on to the next one.
        loop {
            at = ws(at);
            let Some(&bracket) = open.last() else {
                return at == bytes.len();
            };
            match (bracket, bytes.get(at)) {
                (b'{', Some(b'}')) | (b'[', Some(b']')) => {
                    open.pop();
                    at += 1;
                }
                (b'{', Some(b',')) => match key(at + 1) {
                    Some(next) => {
                        at = next;
                        break;
                    }
                    None => return false,
                },
                (b'[', Some(b',')) => {
                    at += 1;
                    break;
                }
                _ => return false,
            }
        }
    }
}

/// Where the string starting at `at` ends (past its closing quote).
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let mut at = at + 1;
    loop {
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => match *bytes.get(at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                b'u' => {
                    let hex = bytes.get(at + 2..at + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    at += 6;
                }
                _ => return None,
            },
            0..=0x1f => return None,
            _ => at += 1,
        }
    }
}

fn literal_end(bytes: &[u8], at: usize, literal: &[u8]) -> Option<usize> {
    let end = at + literal.len();
    (bytes.get(at..end) == Some(literal)).then_some(end)
}

/// Where the number starting at `at` ends: `-? (0 | [1-9][0-9]*) (. [0-9]+)?
/// ([eE] [+-]? [0-9]+)?`.
fn number_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    let digits = |at: usize| {
        bytes[at.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    match bytes.get(at)? {
        // A digit after a leading zero is left to the caller: nothing may follow a number.
        b'0' => at += 1,
        b'1'..=b'9' => at += digits(at),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        let fraction = digits(at + 1);
        if fraction == 0 {
            return None;
        }
        at += 1 + fraction;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits(at);
        if exponent == 0 {
            return None;
        }
        at += exponent;
    }
    Some(at)
}

/// `text` as a [`RawValue`], as [`RawValue::from_string`] makes it (the value
/// without the whitespace around it; `None` when it is not one JSON value),
/// without serde_json's parser.
pub fn raw_value(text: &str) -> Option<Box<RawValue>> {
    if !well_formed(text) {
        return None;
    }
    let text = text.trim_matches([' ', '\n', '\r', '\t']);
    let raw = serde_json::value::to_raw_value(&Verbatim(text)).ok()?;
    // Written as it is, unless a serde_json version stopped recognising the
    // name below: then refuse rather than make other text.
    (raw.get() == text).then_some(raw)
}

/// JSON text that serializes as itself: serde_json's serializer writes a
/// struct of this name verbatim, the way it serializes a [`RawValue`] (whose
/// own `Serialize` uses the same name); it is the one way to make a
/// `RawValue` from text without parsing it again.
struct Verbatim<'a>(&'a str);

impl Serialize for Verbatim<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const NAME: &str = "$serde_json::private::RawValue";
        let mut raw = serializer.serialize_struct(NAME, 1)?;
        raw.serialize_field(NAME, self.0)?;
        raw.end()
    }
}

/// A position in JSON text that serde_json has found well formed.
#[derive(Debug, Clone)]
pub struct Json<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Json<'a> {
    /// A reader of `text`, when serde_json reads it as one JSON value
    /// (surrounding whitespace allowed).
    pub fn new(text: &'a str) -> Option<Self> {
        well_formed(text).then_some(Self { text, at: 0 })
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&byte) = self.bytes().get(self.at) {
            if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        if next {
            self.at += 1;
        }
        next
    }

    /// Reads an object, calling `field` with each key; `field` must read or
    /// [`skip`](Self::skip) the value. `None` if the value is not an object
    /// or `field` refuses.
    pub fn object(&mut self, mut field: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.fields(&mut field)
    }

    /// [`Self::object`], compiled once rather than once per reader.
    fn fields(&mut self, field: &mut dyn FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':');
            field(self, &key)?;
            if !self.eat(b',') {
                self.eat(b'}');
                return Some(());
            }
        }
    }

    /// Reads an array, calling `item` for each element, which it must read.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.items(&mut item)
    }

    /// [`Self::array`], compiled once rather than once per reader.
    fn items(&mut self, item: &mut dyn FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if !self.eat(b'[') {
            return None;
        }
        if self.eat(b']') {
            return Some(());
        }
        loop {
            item(self)?;
            if !self.eat(b',') {
                self.eat(b']');
                return Some(());
            }
        }
    }

    /// Reads `null` if it comes next.
    pub fn null(&mut self) -> bool {
        let next = self.peek() == Some(b'n');
        if next {
            self.at += 4;
        }
        next
    }

    /// Reads `true` or `false`.
    pub fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => {
                self.at += 4;
                Some(true)
            }
            b'f' => {
                self.at += 5;
                Some(false)
            }
            _ => None,
        }
    }

    /// Reads a string, its escapes decoded; borrowed when it has none.
    /// `None` for another value, or for a `\u` escape of half a surrogate
    /// pair, which is not text.
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        let bytes = self.bytes();
        let mut decoded: Option<String> = None;
        let mut kept = start;
        loop {
            let byte = *bytes.get(self.at)?;
            match byte {
                b'"' => {
                    let tail = &self.text[kept..self.at];
                    self.at += 1;
                    return Some(match decoded {
                        None => Cow::Borrowed(tail),
                        Some(mut text) => {
                            text.push_str(tail);
                            Cow::Owned(text)
                        }
                    });
                }
                b'\\' => {
                    let text = decoded.get_or_insert_with(String::new);
                    text.push_str(&self.text[kept..self.at]);
                    let escape = *bytes.get(self.at + 1)?;
                    self.at += 2;
                    text.push(match escape {
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        // `"`, `\` and `/` stand for themselves.
                        other => char::from(other),
                    });
                    kept = self.at;
                }
                _ => self.at += 1,
            }
        }
    }

    /// The character of the `\u` escape just consumed (its four hex digits
    /// next), with the low half that must follow a high surrogate.
    fn unicode_escape(&mut self) -> Option<char> {
        let high = self.hex4()?;
        let code = match high {
            0xd800..=0xdbff => {
                if self.bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                    return None;
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return None;
                }
                0x1_0000 + ((u32::from(high) - 0xd800) << 10) + (u32::from(low) - 0xdc00)
            }
            _ => u32::from(high),
        };
        char::from_u32(code)
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.text.get(self.at..self.at + 4)?;
        self.at += 4;
        u16::from_str_radix(digits, 16).ok()
    }

    /// Reads a number written as an integer (no fraction, no exponent) that
    /// fits its type as serde reads it: `-0` is a float to serde.
    pub fn integer(&mut self) -> Option<Integer> {
        let text = self.scalar()?;
        let (negative, digits) = match text.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, text),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let magnitude: u64 = digits.parse().ok()?;
        if !negative {
            return Some(Integer::Positive(magnitude));
        }
        if magnitude == 0 || magnitude > 1 << 63 {
            return None;
        }
        Some(Integer::Negative((magnitude as i64).wrapping_neg()))
    }

    /// Reads an unsigned integer that fits a `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        match self.integer()? {
            Integer::Positive(value) => Some(value),
            Integer::Negative(_) => None,
        }
    }

    /// Reads an unsigned integer that fits a `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u64()?).ok()
    }

    /// Reads an integer that fits an `i64`.
    pub fn i64(&mut self) -> Option<i64> {
        match self.integer()? {
            Integer::Positive(value) => i64::try_from(value).ok(),
            Integer::Negative(value) => Some(value),
        }
    }

    /// The text of a number, `true`, `false` or `null` (no other value).
    fn scalar(&mut self) -> Option<&'a str> {
        if matches!(self.peek()?, b'"' | b'{' | b'[') {
            return None;
        }
        let start = self.at;
        let len = self.bytes()[start..]
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
            .unwrap_or(self.text.len() - start);
        self.at += len;
        Some(&self.text[start..self.at])
    }

    /// Skips one value of any kind and returns its text.
    pub fn skip(&mut self) -> Option<&'a str> {
        let first = self.peek()?;
        let start = self.at;
        match first {
            b'"' => {
                self.string_end()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match *self.bytes().get(self.at)? {
                        b'"' => {
                            self.string_end()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth -= 1,
                        _ => {}
                    }
                    self.at += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => {
                self.scalar()?;
            }
        }
        Some(&self.text[start..self.at])
    }

    /// Moves past the string starting here, without decoding it.
    fn string_end(&mut self) -> Option<()> {
        self.at += 1;
        loop {
            match *self.bytes().get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
    }
}

/// An integer as JSON text writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integer {
    /// Zero or more.
    Positive(u64),
    /// Less than zero.
    Negative(i64),
}

/// Stores a field's value, refusing a second one as serde's derived readers
/// do (`duplicate field`).
pub fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::Index;

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
        "\"rev\":1,",
        "\"org\":\"o\",",
        "-0",
        "[]",
    ];

    /// Up to three small edits of a text: where each goes, and what it does.
    pub(crate) fn edits() -> impl Strategy<Value = Vec<(Index, usize)>> {
        prop::collection::vec((any::<Index>(), 0..SNIPPETS.len() + 3), 0..3)
    }

    /// `text` with `edits` applied: snippets inserted, characters deleted.
    pub(crate) fn edit(text: &str, edits: &[(Index, usize)]) -> String {
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

    /// JSON values of every kind, nested, with whitespace between tokens.
    fn values() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
            "\"([a-z é\u{1f600}]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,5}\"",
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            let space = "[ \n\r\t]{0,2}";
            prop_oneof![
                prop::collection::vec((inner.clone(), space), 0..4).prop_map(|items| {
                    let items: Vec<String> = items.into_iter().map(|(v, s)| v + &s).collect();
                    format!("[{}]", items.join(","))
                }),
                prop::collection::vec(("\"[a-z]{0,2}\"", space, inner), 0..4).prop_map(|fields| {
                    let fields: Vec<String> = fields
                        .into_iter()
                        .map(|(k, s, v)| format!("{k}{s}:{s}{v}"))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    /// Pieces of JSON text, right and wrong, for texts made of a few of them.
    const TOKENS: &[&str] = &[
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        " ",
        "\n",
        "0",
        "01",
        "-0",
        "-",
        "7",
        "1.",
        "1.5",
        ".5",
        "1e",
        "1E+2",
        "2e-",
        "\"a\"",
        "\"\\x\"",
        "\"\\u12g4\"",
        "\"\\ud800\"",
        "\"\u{1}\"",
        "\"é\"",
        "true",
        "tru",
        "nul",
        "null",
        "false",
        "x",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn syntax_is_checked_as_serde_json_checks_it(
            value in values(),
            edits in edits(),
            tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..8),
        ) {
            for text in [edit(&value, &edits), tokens.concat()] {
                let serde = serde_json::from_str::<&RawValue>(&text).ok().map(RawValue::get);
                prop_assert_eq!(well_formed(&text), serde.is_some(), "{:?}", text);
                prop_assert_eq!(
                    raw_value(&text).map(|raw| raw.get().to_owned()),
                    RawValue::from_string(text.clone()).ok().map(|raw| raw.get().to_owned())
                );
            }
            prop_assert!(well_formed(&value), "{:?}", value);
        }
    }

    #[test]
    fn deep_nesting_is_checked_without_recursion() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(well_formed(&deep));
        assert!(!well_formed(&deep[1..]));
    }

    #[test]
    fn only_what_serde_json_reads_is_read() {
        assert!(Json::new(r#" {"a": [1, "x"]} "#).is_some());
        assert!(Json::new(r#"{"a": [1, "x"]"#).is_none());
        assert!(Json::new(r#"{"a": 01}"#).is_none());
        assert!(Json::new("\"tab\there\"").is_none());
    }

    #[test]
    fn strings_decode_as_serde_reads_them() {
        for text in [
            r#""plain""#,
            r#""q\"b\\s\/e\b\f\n\r\t""#,
            r#""\u00e9\ud83d\ude00 and é""#,
        ] {
            let mut json = Json::new(text).expect("well formed");
            let expected: String = serde_json::from_str(text).expect("serde reads it");
            assert_eq!(json.string().as_deref(), Some(expected.as_str()));
        }
        for lone in [
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83dx""#,
            r#""\ud83d\u0041""#,
        ] {
            let mut json = Json::new(lone).expect("well formed");
            assert_eq!(json.string(), None, "{lone}");
            assert!(serde_json::from_str::<String>(lone).is_err());
        }
    }

    #[test]
    fn integers_fit_their_type_as_serde_reads_them() {
        for text in [
            "0",
            "-0",
            "7",
            "-7",
            "1.0",
            "1e2",
            "-1E2",
            "4294967295",
            "4294967296",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "true",
            "null",
            "\"1\"",
        ] {
            let read = |f: fn(&mut Json<'_>) -> Option<i128>| {
                let mut json = Json::new(text).expect("well formed");
                f(&mut json)
            };
            assert_eq!(
                read(|j| j.u32().map(i128::from)),
                serde_json::from_str::<u32>(text).ok().map(i128::from),
                "u32 {text}"
            );
            assert_eq!(
                read(|j| j.u64().map(i128::from)),
                serde_json::from_str::<u64>(text).ok().map(i128::from),
                "u64 {text}"
            );
            assert_eq!(
                read(|j| j.i64().map(i128::from)),
                serde_json::from_str::<i64>(text).ok().map(i128::from),
                "i64 {text}"
            );
        }
    }

    #[test]
    fn skipping_a_value_returns_its_text() {
        let mut json = Json::new(r#"[ {"a":"}]\"","b":[1,{}]} , -1.5e3 ,"x\\"]"#).expect("ok");
        let mut items = Vec::new();
        json.array(|json| {
            items.push(json.skip()?);
            Some(())
        })
        .expect("array");
        assert_eq!(items, [r#"{"a":"}]\"","b":[1,{}]}"#, "-1.5e3", r#""x\\""#]);
    }
}
