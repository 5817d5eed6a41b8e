//! How the sink proves who it is to the broker: a token or a user and
//! password (in the URL or given apart), a
//! `.creds` file (a user JWT and its nkey seed, for brokers run in operator
//! mode) or an nkey seed file.
//!
//! The files are read and checked before connecting, so a missing,
//! unreadable or malformed file stops the start with its path and what is
//! wrong, instead of a bare "authorization violation" from the broker (or,
//! for a bad seed, a signing failure at every reconnect).

use std::path::Path;

use async_nats::ConnectOptions;

use super::servers::{servers, UrlLogin};
use super::{failure, NatsConfig};
use crate::Result;

/// `options` with the credentials `config` names, and the broker addresses
/// to connect to.
pub(super) fn apply(
    mut options: ConnectOptions,
    config: &NatsConfig,
) -> Result<(ConnectOptions, Vec<String>)> {
    let (addresses, in_url) = servers(&config.url)?;
    let (token, user_password) = match in_url {
        None => (config.token.clone(), config.user_password.clone()),
        Some(_) if config.token.is_some() || config.user_password.is_some() => {
            return Err(failure(
                std::io::ErrorKind::InvalidInput,
                "credentials both in the NATS URL and given apart; give them once",
            ))
        }
        Some(UrlLogin::Token(token)) => (Some(token), None),
        Some(UrlLogin::UserPassword(user, password)) => (None, Some((user, password))),
    };
    if let Some(token) = token {
        options = options.token(token);
    }
    if let Some((user, password)) = user_password {
        options = options.user_and_password(user, password);
    }
    if let Some(path) = &config.creds_file {
        let creds = read(path, "credentials file")?;
        options = options.credentials(&creds).map_err(|e| {
            failure(
                std::io::ErrorKind::InvalidData,
                format!("credentials file `{}`: {e}", path.display()),
            )
        })?;
        tracing::info!(file = %path.display(), "NATS login with a user JWT");
    }
    if let Some(path) = &config.nkey_file {
        let seed = user_seed(&read(path, "nkey seed file")?).map_err(|why| {
            failure(
                std::io::ErrorKind::InvalidData,
                format!("nkey seed file `{}`: {why}", path.display()),
            )
        })?;
        let key = nkeys::KeyPair::from_seed(&seed).map_err(|e| {
            failure(
                std::io::ErrorKind::InvalidData,
                format!("nkey seed file `{}`: {e}", path.display()),
            )
        })?;
        // The public key is what the broker's configuration lists.
        tracing::info!(file = %path.display(), nkey = %key.public_key(), "NATS login with an nkey");
        options = options.nkey(seed);
    }
    Ok((options, addresses))
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        failure(
            std::io::ErrorKind::InvalidInput,
            format!("cannot read {what} `{}`: {e}", path.display()),
        )
    })
}

/// The user seed in the text of a seed file: the one line starting `SU`,
/// as `nk -gen user` writes it (other lines, such as a comment or the public
/// key, are skipped, as the Go client does). The seed itself never appears
/// in an error.
fn user_seed(text: &str) -> std::result::Result<String, &'static str> {
    let mut seeds = text
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("SU"));
    match (seeds.next(), seeds.next()) {
        (Some(seed), None) => Ok(seed.to_owned()),
        (None, _) => Err("no user seed in it (a line starting `SU`)"),
        (Some(_), Some(_)) => Err("more than one user seed in it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(creds: Option<&Path>, nkey: Option<&Path>) -> NatsConfig {
        NatsConfig {
            creds_file: creds.map(Path::to_path_buf),
            nkey_file: nkey.map(Path::to_path_buf),
            ..NatsConfig::default()
        }
    }

    fn error_of(config: &NatsConfig) -> String {
        apply(ConnectOptions::new(), config)
            .map(|_| ())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn the_seed_is_the_one_line_starting_su() {
        let seed = nkeys::KeyPair::new_user().seed().expect("a seed");
        let public = nkeys::KeyPair::from_seed(&seed)
            .expect("valid")
            .public_key();
        assert_eq!(user_seed(&format!("{seed}\n")), Ok(seed.clone()));
        assert_eq!(
            user_seed(&format!("# the collector\n{public}\n  {seed}  \r\n")),
            Ok(seed.clone())
        );
        assert!(user_seed(&public).is_err(), "a public key is not a seed");
        assert!(user_seed("").is_err());
        assert!(user_seed(&format!("{seed}\n{seed}\n")).is_err());
    }

    #[test]
    fn a_missing_or_malformed_file_is_refused_naming_it_and_never_showing_the_seed() {
        let dir = tempfile::tempdir().expect("a folder");
        let missing = dir.path().join("missing.nk");
        let message = error_of(&config_with(None, Some(&missing)));
        assert!(message.contains("missing.nk"), "{message}");
        assert!(message.contains("cannot read"), "{message}");

        // A seed with one character changed fails its checksum.
        let seed = nkeys::KeyPair::new_user().seed().expect("a seed");
        let mut broken = seed.clone().into_bytes();
        let last = broken.len() - 1;
        broken[last] = if broken[last] == b'A' { b'B' } else { b'A' };
        let broken = String::from_utf8(broken).expect("ASCII");
        let bad = dir.path().join("bad.nk");
        std::fs::write(&bad, &broken).expect("write");
        let message = error_of(&config_with(None, Some(&bad)));
        assert!(message.contains("bad.nk"), "{message}");
        assert!(!message.contains(&broken[2..]), "{message}");

        let good = dir.path().join("good.nk");
        std::fs::write(&good, &seed).expect("write");
        assert!(apply(ConnectOptions::new(), &config_with(None, Some(&good))).is_ok());

        let creds = dir.path().join("user.creds");
        std::fs::write(&creds, "not a credentials file").expect("write");
        let message = error_of(&config_with(Some(&creds), None));
        assert!(message.contains("user.creds"), "{message}");
        assert!(message.contains("JWT"), "{message}");
        let message = error_of(&config_with(Some(&dir.path().join("none.creds")), None));
        assert!(message.contains("none.creds"), "{message}");
    }
}
