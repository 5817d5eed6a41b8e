//! Connecting to the broker: the URL list and how the consumer logs in.
//!
//! async-nats 0.46 takes one URL per address and never sends the user part
//! of a URL, so the list is split here, and a URL carrying a login is
//! refused with a pointer to the flags rather than silently sent without it.

use std::path::PathBuf;

use crate::Error;

/// How the consumer proves who it is to the broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Login {
    /// No authentication.
    #[default]
    None,
    /// A token.
    Token(String),
    /// A user and password.
    UserPassword(String, String),
    /// A file holding an nkey user seed (the line starting `SU`).
    Nkey(PathBuf),
    /// A `.creds` file: user JWT and seed, for a broker in operator mode.
    Creds(PathBuf),
}

/// A client of the broker at `urls` (comma-separated), logged in.
pub(crate) async fn connect(urls: &str, login: &Login) -> Result<async_nats::Client, Error> {
    let addresses = addresses(urls)?;
    let mut options = async_nats::ConnectOptions::new().name("pipeline-consumer");
    options = match login {
        Login::None => options,
        Login::Token(token) => options.token(token.clone()),
        Login::UserPassword(user, password) => {
            options.user_and_password(user.clone(), password.clone())
        }
        Login::Nkey(path) => options.nkey(seed(path)?),
        Login::Creds(path) => options
            .credentials_file(path)
            .await
            .map_err(|e| Error::Config(format!("credentials file `{}`: {e}", path.display())))?,
    };
    options
        .connect(addresses)
        .await
        .map_err(|e| match e.kind() {
            // Wrong credentials stay wrong: stop rather than retry forever.
            async_nats::ConnectErrorKind::AuthorizationViolation
            | async_nats::ConnectErrorKind::Authentication => {
                Error::Config(format!("the broker refused the login: {e}"))
            }
            _ => Error::Nats(e.to_string()),
        })
}

/// The addresses of a comma-separated URL list, none carrying a login.
fn addresses(urls: &str) -> Result<Vec<String>, Error> {
    let addresses: Vec<String> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    if addresses.is_empty() {
        return Err(Error::Config("no NATS URL given".to_owned()));
    }
    for url in &addresses {
        let start = url.find("://").map_or(0, |i| i + 3);
        let authority = url[start..].split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return Err(Error::Config(format!(
                "a login in the NATS URL (`...@{}`) would not be sent; \
                 give it with --nats-user and --nats-password, or --nats-token",
                authority.rsplit('@').next().unwrap_or("")
            )));
        }
    }
    Ok(addresses)
}

/// The user seed in the nkey file at `path`, checked.
fn seed(path: &std::path::Path) -> Result<String, Error> {
    let bad = |why: String| Error::Config(format!("nkey seed file `{}`: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut seeds = text.lines().map(str::trim).filter(|l| l.starts_with("SU"));
    let (Some(seed), None) = (seeds.next(), seeds.next()) else {
        return Err(bad(
            "not exactly one user seed (a line starting `SU`)".to_owned()
        ));
    };
    // The seed itself never goes into a message.
    nkeys::KeyPair::from_seed(seed).map_err(|e| bad(e.to_string()))?;
    Ok(seed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_a_login_in_one_is_refused_without_showing_it() {
        assert_eq!(
            addresses("nats://a:4222, tls://b:4222/x@y").expect("valid"),
            vec!["nats://a:4222".to_owned(), "tls://b:4222/x@y".to_owned()]
        );
        let refused = addresses("nats://a:4222,nats://usage:s3cret@b:4222")
            .expect_err("a login in a URL")
            .to_string();
        assert!(refused.contains("--nats-user"), "{refused}");
        assert!(!refused.contains("s3cret"), "{refused}");
        assert!(addresses(" , ").is_err());
    }

    #[test]
    fn a_seed_file_holds_exactly_one_valid_user_seed() {
        let dir = tempfile::tempdir().expect("a folder");
        let key = nkeys::KeyPair::new_user();
        let seed_text = key.seed().expect("a seed");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        let good = write("good.nk", &format!("{seed_text}\n{}\n", key.public_key()));
        assert_eq!(seed(&good).expect("a seed"), seed_text);
        for (name, text) in [
            ("public.nk", key.public_key()),
            ("twice.nk", format!("{seed_text}\n{seed_text}\n")),
            ("short.nk", seed_text[..seed_text.len() - 1].to_owned()),
        ] {
            let message = seed(&write(name, &text)).expect_err(name).to_string();
            assert!(message.contains(name), "{message}");
            assert!(!message.contains(&text[2..]), "{message}");
        }
        assert!(seed(&dir.path().join("absent.nk")).is_err());
    }
}
