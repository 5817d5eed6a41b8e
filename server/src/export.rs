//! CSV exports of the admin lists (`Accept: text/csv`): RFC 4180 quoting,
//! and cells that a spreadsheet would run as a formula are defused.

use std::borrow::Cow;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Whether the request asks for CSV: `text/csv` among its `Accept` media
/// ranges, with a non-zero quality.
pub fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("text/csv") && !refused
        })
}

/// A cell as written: one a spreadsheet would read as a formula (starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`,
/// so opening an export never runs what a user typed into their name.
pub fn safe_cell(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// A CSV document being written, header first.
#[derive(Debug)]
pub struct CsvTable {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvTable {
    /// A table with these column names.
    pub fn new(columns: &[&str]) -> Self {
        let mut table = Self {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new()),
        };
        table.row(columns.iter().copied());
        table
    }

    /// Appends a row; each cell is defused and quoted as needed.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        let cells: Vec<Cow<'_, str>> = cells.into_iter().map(safe_cell).collect();
        // Writing to memory cannot fail.
        self.writer
            .write_record(cells.iter().map(|c| c.as_bytes()))
            .expect("writing CSV to memory does not fail");
    }

    /// The document's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.writer
            .into_inner()
            .expect("flushing CSV to memory does not fail")
    }

    /// The document as a download named `filename`.
    pub fn into_response(self, filename: &str) -> Response {
        let body = self.into_bytes();
        let disposition = format!("attachment; filename=\"{filename}\"");
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused_and_others_kept() {
        for evil in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(safe_cell(evil), format!("'{evil}"));
        }
        assert_eq!(safe_cell("Bob"), "Bob");
        assert_eq!(safe_cell(""), "");
        assert_eq!(safe_cell("a=b"), "a=b");
    }

    #[test]
    fn cells_are_quoted_as_rfc_4180_says() {
        let mut table = CsvTable::new(&["id", "name"]);
        table.row(["bob", "Bob \"the\" Builder, Jr.\nline two"]);
        table.row(["eve", "=HYPERLINK(\"x\")"]);
        let bytes = table.into_bytes();
        let mut reader = csv::Reader::from_reader(&bytes[..]);
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.expect("valid CSV").iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(
            rows,
            [
                ["bob", "Bob \"the\" Builder, Jr.\nline two"],
                ["eve", "'=HYPERLINK(\"x\")"]
            ]
        );
        assert!(bytes.starts_with(b"id,name\r\n"));
    }

    #[test]
    fn csv_is_wanted_only_when_accepted() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_str(accept).expect("ascii"),
            );
            wants_csv(&headers)
        };
        assert!(with("text/csv"));
        assert!(with("application/json;q=0.5, TEXT/CSV"));
        assert!(!with("application/json"));
        assert!(!with("text/csv;q=0"));
        assert!(!with("*/*"));
        assert!(!wants_csv(&HeaderMap::new()));
    }
}
