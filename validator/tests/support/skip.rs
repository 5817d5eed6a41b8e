//! Whether the tests that need an outside server run: required under CI,
//! skipped loudly elsewhere. A skip is recorded for `tests/run` (which counts
//! skips apart from passes) and printed past the test harness's capture.

use std::io::Write as _;
use std::sync::Mutex;

/// The variable naming the PostgreSQL database the tests may use.
pub const DATABASE_URL_VAR: &str = "USAGE_TEST_DATABASE_URL";

/// The database URL, `None` (after saying so) when the tests should skip.
#[allow(dead_code)] // Not every test binary that includes this module needs PostgreSQL.
pub fn database_url() -> Option<String> {
    if let Ok(url) = std::env::var(DATABASE_URL_VAR) {
        return Some(url);
    }
    skip("PostgreSQL tests", &format!("{DATABASE_URL_VAR} not set"));
    None
}

/// Whether `program` runs here; when it does not, the tests of `suite`
/// skip (after saying so).
#[allow(dead_code)] // Not every test binary that includes this module needs a program.
pub fn installed(program: &str, suite: &str) -> bool {
    let runs = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !runs {
        skip(suite, &format!("`{program}` is not installed"));
    }
    runs
}

/// Records that the running test skips `suite` for `why`; fails it under CI
/// (`CI` set to `true`, `1` or `yes`), where nothing may be skipped.
pub fn skip(suite: &str, why: &str) {
    let in_ci = std::env::var("CI")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    assert!(!in_ci, "{suite} cannot be skipped in CI: {why}");
    if let Ok(path) = std::env::var("USAGE_SKIP_LOG") {
        let test = std::thread::current()
            .name()
            .unwrap_or("a validator test")
            .to_owned();
        let line = format!("{test}\t{suite}: {why}\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
    }
    // Once per suite: straight to the process's stderr, past the harness's capture.
    static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.iter().any(|s| s == suite) {
        warned.push(suite.to_owned());
        let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {suite}, {why} ***\n");
    }
}
