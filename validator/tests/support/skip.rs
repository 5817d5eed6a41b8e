//! Whether the PostgreSQL tests run: the database named by
//! `USAGE_TEST_DATABASE_URL`, required under CI, skipped loudly elsewhere.

use std::io::Write as _;
use std::sync::Once;

/// The variable naming the PostgreSQL database the tests may use.
pub const DATABASE_URL_VAR: &str = "USAGE_TEST_DATABASE_URL";

/// The database URL, `None` (after saying so) when the tests should skip.
pub fn database_url() -> Option<String> {
    if let Ok(url) = std::env::var(DATABASE_URL_VAR) {
        return Some(url);
    }
    let in_ci = std::env::var("CI")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    assert!(
        !in_ci,
        "{DATABASE_URL_VAR} must be set in CI: the PostgreSQL tests cannot be skipped there"
    );
    // Recorded for tests/run, which counts skips apart from passes.
    if let Ok(path) = std::env::var("USAGE_SKIP_LOG") {
        let test = std::thread::current()
            .name()
            .unwrap_or("a store test")
            .to_owned();
        let line = format!("{test}\tPostgreSQL tests: {DATABASE_URL_VAR} not set\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
    }
    static WARN: Once = Once::new();
    WARN.call_once(|| {
        // Straight to the process's stderr, past the test harness's capture.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: PostgreSQL tests, {DATABASE_URL_VAR} not set ***\n"
        );
    });
    None
}
