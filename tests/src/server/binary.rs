//! Finding the `usage-server` binary: built once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Environment variable naming a prebuilt `usage-server` to use instead of building one.
pub const SERVER_BIN_VAR: &str = "USAGE_TEST_SERVER_BIN";

/// Path of the `usage-server` binary the tests run.
///
/// Uses `USAGE_TEST_SERVER_BIN` when set; otherwise runs
/// `cargo build -p usage-server --bin usage-server` once per test process and
/// takes the executable cargo reports, wherever the target folder is.
///
/// # Panics
///
/// When the build fails; the message carries cargo's output.
pub fn server_binary() -> &'static Path {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = BINARY.get_or_init(|| match std::env::var_os(SERVER_BIN_VAR) {
        Some(path) => Ok(PathBuf::from(path)),
        None => build_server(),
    });
    match found {
        Ok(path) => path,
        Err(message) => panic!("{message}"),
    }
}

/// The workspace root, the folder holding `Cargo.lock`.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits one level below the workspace root")
}

fn build_server() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "-p", "usage-server", "--bin", "usage-server"])
        .arg("--message-format=json-render-diagnostics")
        .output()
        .map_err(|error| format!("could not run cargo to build usage-server: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "cargo build of usage-server failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    executable_from_messages(&stdout, "usage-server").ok_or_else(|| {
        format!("cargo built usage-server but reported no executable for it:\n{stdout}")
    })
}

/// Finds the executable of bin target `name` in cargo's JSON build messages.
fn executable_from_messages(messages: &str, name: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executable_is_taken_from_the_bin_artifact_message() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"name":"usage_server","kind":["lib"]},"executable":null}"#,
            "not json at all",
            r#"{"reason":"compiler-artifact","target":{"name":"usage-server","kind":["bin"]},"executable":"/t/debug/usage-server"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(
            executable_from_messages(&messages, "usage-server"),
            Some(PathBuf::from("/t/debug/usage-server"))
        );
        assert_eq!(executable_from_messages(&messages, "other"), None);
    }

    #[test]
    fn the_workspace_root_holds_the_lock_file() {
        assert!(workspace_root().join("Cargo.lock").is_file());
    }
}
