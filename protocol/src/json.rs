//! A small reader of JSON text for the wire shapes, for builds where the
//! code serde derives to read them weighs too much: the browser package.
//!
//! The syntax is left to serde_json: [`Json::new`] accepts exactly the texts
//! serde_json reads as one value (its check of a raw value, which the browser
//! package needs anyway), and the reader then only walks text known to be
//! well formed. What it adds are the rules of serde's typed reading: string
//! escapes decoded, surrogates paired, integers without a fraction or an
//! exponent and within their type, each field at most once. The readers
//! built on it are held to serde's derived ones by differential tests.

use std::borrow::Cow;

use serde_json::value::RawValue;

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
        serde_json::from_str::<&RawValue>(text).ok()?;
        Some(Self { text, at: 0 })
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
