//! Skipping a suite whose tool is missing: loudly on a developer machine,
//! never under CI.
//!
//! A skipped test still shows as `ok` to the test harness, so every skip is
//! also written past the harness's output capture (straight to the process's
//! stderr) and, when `USAGE_SKIP_LOG` names a file, appended to it as one
//! line `test name<TAB>suite: reason`. `tests/run` counts those lines and
//! reports them as skipped, not passed.

use std::io::Write as _;

/// The variable naming the file skips are recorded in.
pub const SKIP_LOG_VAR: &str = "USAGE_SKIP_LOG";

/// True when the tests run under CI (`CI=true` or `CI=1`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| is_ci_value(&value))
}

fn is_ci_value(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}

/// Reports that `suite` cannot run because of `reason`.
///
/// Prints a banner to stderr and returns, so the caller can `return` from the
/// test. Under CI it panics instead: a missing tool there is a broken set-up.
pub fn skip_suite(suite: &str, reason: &str) {
    if in_ci() {
        panic!("{suite} cannot run under CI: {reason} (tests/run installs it; CI never skips)");
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    // Written to the handle, not through eprintln!, which the harness captures.
    let _ = writeln!(
        std::io::stderr(),
        "{}",
        banner(&format!("{test} ({suite})"), reason)
    );
    if let Ok(path) = std::env::var(SKIP_LOG_VAR) {
        let line = format!("{test}\t{suite}: {reason}\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
    }
}

fn banner(suite: &str, reason: &str) -> String {
    let line = "!".repeat(72);
    format!("{line}\n!!! SKIPPED {suite}: {reason}\n!!! run tests/run to install and start what it needs\n{line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_recognised_from_the_usual_spellings() {
        assert!(is_ci_value("true"));
        assert!(is_ci_value("TRUE"));
        assert!(is_ci_value("1"));
        assert!(!is_ci_value("false"));
        assert!(!is_ci_value(""));
    }

    #[test]
    fn banner_names_the_suite_and_the_remedy() {
        let text = banner("browser tests", "chromedriver not found");
        assert!(text.contains("SKIPPED browser tests: chromedriver not found"));
        assert!(text.contains("tests/run"));
    }
}
