use crate::limits::{MAX_ID_LEN, MAX_KID_LEN};

/// Whether `id` is a valid org or user id: 1 to 128 bytes of
/// `A-Z a-z 0-9 . _ @ + -`, so ids are safe in paths, logs and file names.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-'))
}

/// Whether `kid` is a valid signing-key id: 1 to 32 bytes of `a-z 0-9 -`.
pub fn is_valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_common_directory_forms() {
        for ok in ["bob", "alice.smith", "u-42", "first+tag@example.com", "A_B"] {
            assert!(is_valid_id(ok), "{ok}");
        }
    }

    #[test]
    fn ids_refuse_path_and_control_characters() {
        for bad in [
            "",
            "a/b",
            "a b",
            "../x",
            "a?b",
            "a%2f",
            "é",
            &"x".repeat(129),
        ] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn kids_are_lowercase_alphanumeric_and_dash() {
        assert!(is_valid_kid("k-2026-11"));
        assert!(!is_valid_kid("K1"));
        assert!(!is_valid_kid(""));
        assert!(!is_valid_kid(&"a".repeat(33)));
    }
}
