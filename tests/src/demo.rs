//! The `demo.json` file that `usage-server demo` writes into its data folder.

use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result};

/// File name of the demo description inside the server's data folder.
pub const DEMO_FILE: &str = "demo.json";

/// What `usage-server demo` seeded and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Demo {
    /// Base URL of the running server.
    pub url: String,
    /// The seeded organisation (`acme`).
    pub org: String,
    /// A service key of that organisation, for back-end routes.
    pub service_key: String,
    /// One-time sign-in link of the organisation's product admin.
    pub admin_signin_url: String,
    /// The seeded users of the organisation's directory.
    pub users: Vec<DemoUser>,
}

/// One seeded user of the demo organisation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DemoUser {
    /// The user id, as used in tokens and API routes.
    pub id: String,
    /// The display name.
    pub name: String,
    /// `admin` or `user`.
    pub role: String,
}

impl Demo {
    /// Reads `demo.json` from a server's data folder.
    pub fn read(data_dir: &Path) -> Result<Demo> {
        let path = data_dir.join(DEMO_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| Error::io(format!("reading {}", path.display()), source))?;
        Demo::parse(&text)
    }

    /// Parses the contents of a `demo.json` file.
    pub fn parse(text: &str) -> Result<Demo> {
        serde_json::from_str(text).map_err(|error| Error::unexpected(DEMO_FILE, error.to_string()))
    }

    /// The first seeded user with role `admin`.
    pub fn admin(&self) -> Option<&DemoUser> {
        self.users.iter().find(|user| user.role == "admin")
    }

    /// The seeded user with this id.
    pub fn user(&self, id: &str) -> Option<&DemoUser> {
        self.users.iter().find(|user| user.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
        "url": "http://127.0.0.1:8080",
        "org": "acme",
        "service_key": "sk_acme_123",
        "admin_signin_url": "http://127.0.0.1:8080/signin?t=abc",
        "users": [
            {"id": "alice", "name": "Alice Andersson", "role": "admin"},
            {"id": "bob", "name": "Bob Berg", "role": "user"}
        ]
    }"#;

    #[test]
    fn reads_the_demo_file_from_a_data_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(DEMO_FILE), SAMPLE).expect("write demo.json");
        let demo = Demo::read(dir.path()).expect("valid demo.json");
        assert_eq!(demo.org, "acme");
        assert_eq!(demo.admin().map(|user| user.id.as_str()), Some("alice"));
        assert_eq!(
            demo.user("bob").map(|user| user.name.as_str()),
            Some("Bob Berg")
        );
        assert!(demo.user("mallory").is_none());
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = Demo::read(dir.path()).expect_err("no demo.json yet");
        assert!(error.to_string().contains("demo.json"));
    }

    #[test]
    fn a_file_without_users_is_rejected() {
        let error = Demo::parse(r#"{"url": "x", "org": "acme"}"#).expect_err("incomplete");
        assert!(error.to_string().contains("demo.json"));
    }
}
