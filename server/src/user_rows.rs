//! Directory rows read from a CSV or JSON document, for bulk imports over
//! HTTP and on the command line: every row is checked before anything is
//! written, so a bad document changes nothing and says which rows to fix.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use usage_validator::model::{Role, User};
use usage_validator::registry::check_user;

/// Most rows one import may hold.
pub const MAX_ROWS: usize = 100_000;
/// Most row errors reported; the count of all of them is given too.
pub const MAX_REPORTED: usize = 100;

/// A row that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// CSV: the line in the file (the header is line 1). JSON: the index in
    /// `users`, from 0.
    pub row: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Why a document cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowsError {
    /// More rows than [`MAX_ROWS`].
    #[error("at most {MAX_ROWS} users per import")]
    TooMany,
    /// The document as a whole cannot be read (no header, not JSON).
    #[error("{0}")]
    Unreadable(String),
    /// Some rows are wrong: the first [`MAX_REPORTED`], and how many in all.
    #[error("nothing was imported: {total} rows have errors")]
    Rows {
        /// The first errors, in document order.
        errors: Vec<RowError>,
        /// How many rows have errors.
        total: usize,
    },
}

/// Collects row errors, keeping the first few.
#[derive(Debug, Default)]
struct Errors {
    kept: Vec<RowError>,
    total: usize,
}

impl Errors {
    fn push(&mut self, row: usize, message: String) {
        self.total += 1;
        if self.kept.len() < MAX_REPORTED {
            self.kept.push(RowError { row, message });
        }
    }

    fn finish(self, users: Vec<User>) -> Result<Vec<User>, RowsError> {
        if self.total == 0 {
            Ok(users)
        } else {
            Err(RowsError::Rows {
                errors: self.kept,
                total: self.total,
            })
        }
    }
}

/// Checks `user` and that its id did not come before; `row` names it.
fn accept(
    user: Result<User, usage_validator::Error>,
    row: usize,
    seen: &mut HashMap<String, usize>,
    users: &mut Vec<User>,
    errors: &mut Errors,
) {
    match user.and_then(|u| check_user(&u).map(|()| u)) {
        Ok(user) => match seen.get(&user.id) {
            Some(first) => errors.push(row, format!("id `{}` repeats row {first}", user.id)),
            None => {
                seen.insert(user.id.clone(), row);
                users.push(user);
            }
        },
        Err(err) => errors.push(row, err.to_string()),
    }
}

/// Users from CSV with a header row naming `id` and `name`, optionally
/// `email` and `role` (`admin` or `user`, default `user`), any order and case.
pub fn from_csv(bytes: &[u8]) -> Result<Vec<User>, RowsError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| RowsError::Unreadable(format!("the CSV header cannot be read: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(id_col), Some(name_col)) = (column("id"), column("name")) else {
        return Err(RowsError::Unreadable(
            "the CSV header must name at least `id` and `name` columns".into(),
        ));
    };
    let (email_col, role_col) = (column("email"), column("role"));
    let mut users = Vec::new();
    let mut seen = HashMap::new();
    let mut errors = Errors::default();
    for record in reader.records() {
        if users.len() + errors.total >= MAX_ROWS {
            return Err(RowsError::TooMany);
        }
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map_or(0, |p| p.line() as usize);
                errors.push(line, err.to_string());
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or("").to_owned();
        let role = match field(role_col).as_str() {
            "" => Ok(Role::User),
            other => other.parse::<Role>(),
        };
        let user = role.map(|role| User {
            id: field(Some(id_col)),
            name: field(Some(name_col)),
            email: field(email_col),
            role,
        });
        accept(user, line, &mut seen, &mut users, &mut errors);
    }
    errors.finish(users)
}

/// One user of a JSON import.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct JsonRow {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email; may be empty.
    #[serde(default)]
    pub email: String,
    /// `admin` or `user` (default).
    #[serde(default)]
    pub role: Option<String>,
}

/// A JSON import: `{"users": [{"id", "name", "email"?, "role"?}, ...]}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct JsonImport {
    /// The users.
    pub users: Vec<serde_json::Value>,
}

/// Users from a JSON import document.
pub fn from_json(bytes: &[u8]) -> Result<Vec<User>, RowsError> {
    let document: JsonImport = serde_json::from_slice(bytes).map_err(|e| {
        RowsError::Unreadable(format!(
            "the body must be {{\"users\": [...]}} in JSON: {e}"
        ))
    })?;
    if document.users.len() > MAX_ROWS {
        return Err(RowsError::TooMany);
    }
    let mut users = Vec::with_capacity(document.users.len());
    let mut seen = HashMap::new();
    let mut errors = Errors::default();
    for (index, value) in document.users.into_iter().enumerate() {
        let user = serde_json::from_value::<JsonRow>(value)
            .map_err(|e| usage_validator::Error::InvalidInput(e.to_string()))
            .and_then(|row| {
                let role = match row.role.as_deref() {
                    None | Some("") => Role::User,
                    Some(other) => other.parse()?,
                };
                Ok(User {
                    id: row.id,
                    name: row.name,
                    email: row.email,
                    role,
                })
            });
        accept(user, index, &mut seen, &mut users, &mut errors);
    }
    errors.finish(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_read_in_any_column_order() {
        let users =
            from_csv(b"Name,ID,role\nBob Berg,bob,\n\"Eve, Jr.\",eve,admin\n").expect("valid");
        assert_eq!(users.len(), 2);
        assert_eq!(
            (users[1].name.as_str(), users[1].role),
            ("Eve, Jr.", Role::Admin)
        );
        assert_eq!(users[0].email, "");
    }

    #[test]
    fn every_bad_row_is_named_by_its_line_and_nothing_is_kept() {
        let csv = b"id,name,role\nbob,Bob,\nbad id,X,\ncarol,,\ndave,Dave,boss\nbob,Again,\n";
        let Err(RowsError::Rows { errors, total }) = from_csv(csv) else {
            panic!("rows with errors were accepted");
        };
        assert_eq!(total, 4);
        let lines: Vec<usize> = errors.iter().map(|e| e.row).collect();
        assert_eq!(lines, [3, 4, 5, 6]);
        assert!(
            errors[3].message.contains("repeats row 2"),
            "{:?}",
            errors[3]
        );
        assert!(matches!(
            from_csv(b"user,name\nbob,Bob\n"),
            Err(RowsError::Unreadable(_))
        ));
    }

    #[test]
    fn json_rows_are_checked_like_csv_rows() {
        let users = from_json(br#"{"users": [{"id": "bob", "name": "Bob"}]}"#).expect("valid");
        assert_eq!(users[0].role, Role::User);
        let Err(RowsError::Rows { errors, .. }) =
            from_json(br#"{"users": [{"id": "bob", "name": "Bob"}, {"id": "x"}, {"id": "y", "name": "Y", "role": "root"}]}"#)
        else {
            panic!("bad rows were accepted");
        };
        assert_eq!(errors.iter().map(|e| e.row).collect::<Vec<_>>(), [1, 2]);
        assert!(matches!(from_json(b"[1,2]"), Err(RowsError::Unreadable(_))));
    }

    #[test]
    fn more_rows_than_allowed_are_refused() {
        let mut csv = String::from("id,name\n");
        for i in 0..=MAX_ROWS {
            csv.push_str(&format!("u{i},U\n"));
        }
        assert_eq!(from_csv(csv.as_bytes()), Err(RowsError::TooMany));
    }
}
