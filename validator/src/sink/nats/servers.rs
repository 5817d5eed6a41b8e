//! The broker list of the configured URL: comma-separated URLs, with the
//! user and password (or token) some of them carry taken out.
//!
//! async-nats 0.46 neither splits a comma-separated list nor logs in with
//! the user part of a URL (it parses it and never sends it), so both are
//! done here. The user part is percent-decoded, as URLs are, and removed
//! from the addresses the client is given, so it cannot reach a log line.

use super::failure;
use crate::Result;

/// What the user part of the URLs says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum UrlLogin {
    /// `nats://user:password@host`.
    UserPassword(String, String),
    /// `nats://token@host`, as other NATS clients read a user without password.
    Token(String),
}

/// The broker addresses of `urls` without their user part, and the login
/// that user part names (the same in every URL that has one).
pub(super) fn servers(urls: &str) -> Result<(Vec<String>, Option<UrlLogin>)> {
    let mut addresses = Vec::new();
    let mut login: Option<UrlLogin> = None;
    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let (address, found) = split_login(url)?;
        addresses.push(address);
        match (&login, found) {
            (_, None) => {}
            (None, found) => login = found,
            (Some(known), Some(found)) if *known == found => {}
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "the NATS URLs carry different credentials; give one login for all",
                ))
            }
        }
    }
    if addresses.is_empty() {
        return Err(invalid("no NATS URL given"));
    }
    Ok((addresses, login))
}

/// `url` without its user part, and the login it named.
fn split_login(url: &str) -> Result<(String, Option<UrlLogin>)> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_len = url[start..]
        .find(['/', '?', '#'])
        .unwrap_or(url.len() - start);
    let authority = &url[start..start + authority_len];
    // The last `@`: a password may hold an unescaped one, a host never does.
    let Some(at) = authority.rfind('@') else {
        return Ok((url.to_owned(), None));
    };
    let address = format!("{}{}", &url[..start], &url[start + at + 1..]);
    let login = match authority[..at].split_once(':') {
        Some((user, password)) => UrlLogin::UserPassword(decode(user)?, decode(password)?),
        None => UrlLogin::Token(decode(&authority[..at])?),
    };
    Ok((address, Some(login)))
}

/// `text` with each `%XX` replaced by the byte it stands for.
fn decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| invalid("the NATS URL's credentials are not UTF-8"))
}

fn invalid(why: &str) -> crate::Error {
    failure(std::io::ErrorKind::InvalidInput, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_password(user: &str, password: &str) -> Option<UrlLogin> {
        Some(UrlLogin::UserPassword(user.to_owned(), password.to_owned()))
    }

    #[test]
    fn the_user_part_is_taken_out_of_every_url_and_decoded() {
        assert_eq!(
            servers("nats://127.0.0.1:4222").expect("valid"),
            (vec!["nats://127.0.0.1:4222".to_owned()], None)
        );
        assert_eq!(
            servers(
                "nats://usage:p%40ss%20w%3Ard@10.0.0.1:4222, nats://usage:p%40ss%20w%3Ard@10.0.0.2"
            )
            .expect("valid"),
            (
                vec![
                    "nats://10.0.0.1:4222".to_owned(),
                    "nats://10.0.0.2".to_owned()
                ],
                user_password("usage", "p@ss w:rd")
            )
        );
        // An unescaped `@` or `:` in the password, a `%` not followed by
        // two hex digits, a path with an `@`: all read as a person means them.
        assert_eq!(
            servers("tls://u:a@b:%zz%4@host:4222/x@y").expect("valid"),
            (
                vec!["tls://host:4222/x@y".to_owned()],
                user_password("u", "a@b:%zz%4")
            )
        );
        assert_eq!(
            servers("host:4222/x@y").expect("valid").0,
            vec!["host:4222/x@y".to_owned()]
        );
        assert_eq!(
            servers("nats://s3cr%2Ft@host,nats://other").expect("valid"),
            (
                vec!["nats://host".to_owned(), "nats://other".to_owned()],
                Some(UrlLogin::Token("s3cr/t".to_owned()))
            )
        );
    }

    #[test]
    fn different_logins_no_url_and_non_utf8_credentials_are_refused() {
        assert!(servers("nats://a:1@h1,nats://a:2@h2").is_err());
        assert!(servers(" , ").is_err());
        assert!(servers("nats://u:%FF@host").is_err());
    }
}
