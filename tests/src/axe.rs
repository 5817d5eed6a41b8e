//! Accessibility audits with axe-core in the current page.
//!
//! `tests/run` installs the pinned axe-core into `tests/browser/node_modules`
//! (see `tests/browser/package.json`); [`audit`] injects it into the page
//! through WebDriver, so it works under a strict Content-Security-Policy.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::webdriver::Browser;
use crate::{Error, Result};

/// How much a violation hurts users, as axe-core rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    /// An annoyance.
    Minor,
    /// Some users are hindered.
    Moderate,
    /// Some users are blocked or badly hindered.
    Serious,
    /// Some users cannot use the page at all.
    Critical,
}

/// One rule the page breaks, with the elements that break it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// The axe rule id, such as `color-contrast`.
    pub id: String,
    /// The rule's impact; axe leaves it out for some rules.
    pub impact: Option<Impact>,
    /// What the rule asks for.
    pub help: String,
    /// Where the rule is explained.
    pub help_url: String,
    /// The offending elements.
    pub nodes: Vec<ViolationNode>,
}

/// One element that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViolationNode {
    /// The element's HTML, shortened by axe.
    pub html: String,
    /// Selectors that lead to the element (through frames and shadow roots).
    #[serde(deserialize_with = "selectors")]
    pub target: Vec<String>,
    /// What to fix.
    #[serde(default)]
    pub failure_summary: Option<String>,
}

/// Path of the pinned `axe.min.js` that `tests/run` installs.
pub fn axe_script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/node_modules/axe-core/axe.min.js")
}

/// Violations of impact `serious` or `critical` in the current page.
pub async fn serious_violations(browser: &Browser) -> Result<Vec<Violation>> {
    audit(browser, Impact::Serious).await
}

/// Violations of impact `minimum` or worse in the current page.
///
/// The browser must run JavaScript: axe-core schedules its checks with timers,
/// which a page without JavaScript never fires. Audit a no-JavaScript page in a
/// second, default browser; the server sends both the same HTML.
pub async fn audit(browser: &Browser, minimum: Impact) -> Result<Vec<Violation>> {
    if !browser.has_javascript() {
        return Err(Error::unexpected(
            "browser for an axe-core audit",
            "JavaScript is off; audit the page in a browser with BrowserOptions::default()",
        ));
    }
    let injected = browser
        .execute(
            &format!("{}\nreturn typeof window.axe;", axe_script()?),
            Vec::new(),
        )
        .await?;
    if injected != "object" {
        return Err(Error::unexpected(
            "axe-core injection",
            injected.to_string(),
        ));
    }
    let outcome = browser.execute_async(RUN_AXE, Vec::new()).await?;
    if let Some(error) = outcome.get("error") {
        return Err(Error::unexpected("axe-core run", error.to_string()));
    }
    let violations: Vec<Violation> = serde_json::from_value(outcome.clone())
        .map_err(|error| Error::unexpected("axe-core violations", format!("{error}: {outcome}")))?;
    Ok(at_least(violations, minimum))
}

/// Fails the test with a readable report when the current page has serious or
/// critical violations; `page` names the page in that report.
///
/// # Panics
///
/// On such violations, and when the audit cannot run.
pub async fn assert_accessible(browser: &Browser, page: &str) {
    let violations = serious_violations(browser)
        .await
        .unwrap_or_else(|error| panic!("axe-core audit of {page} failed: {error}"));
    assert!(
        violations.is_empty(),
        "{page} has accessibility violations:\n{}",
        report(&violations)
    );
}

/// A human-readable list of violations, one rule per paragraph.
pub fn report(violations: &[Violation]) -> String {
    let mut text = String::new();
    for violation in violations {
        let impact = violation
            .impact
            .map_or("unrated".into(), |impact| format!("{impact:?}"));
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "[{impact}] {}: {} ({})",
            violation.id, violation.help, violation.help_url
        );
        for node in &violation.nodes {
            let _ = writeln!(text, "    at {}: {}", node.target.join(" > "), node.html);
            if let Some(summary) = &node.failure_summary {
                let _ = writeln!(text, "       {}", summary.replace('\n', "\n       "));
            }
        }
    }
    text
}

fn at_least(violations: Vec<Violation>, minimum: Impact) -> Vec<Violation> {
    violations
        .into_iter()
        .filter(|violation| violation.impact.is_some_and(|impact| impact >= minimum))
        .collect()
}

/// Runs axe over the whole document and hands back its violations (or the error).
const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
window.axe
  .run(document, { resultTypes: ["violations"] })
  .then((results) => done(results.violations), (error) => done({ error: String(error) }));
"#;

fn axe_script() -> Result<&'static str> {
    static SCRIPT: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        let path = axe_script_path();
        std::fs::read_to_string(&path).map_err(|error| {
            format!(
                "cannot read {} ({error}); tests/run installs it with npm",
                path.display()
            )
        })
    });
    script
        .as_deref()
        .map_err(|message| Error::unexpected("axe-core script", message.clone()))
}

/// axe targets are selectors, or lists of selectors for nodes inside shadow DOM.
fn selectors<'de, D>(deserializer: D) -> std::result::Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Vec::<Value>::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|selector| match selector {
            Value::String(text) => text,
            other => other.to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A trimmed axe-core result: one critical and one moderate violation.
    fn sample_violations() -> Value {
        json!([
            {
                "id": "image-alt", "impact": "critical", "help": "Images must have alternative text",
                "helpUrl": "https://dequeuniversity.com/rules/axe/4.14/image-alt",
                "nodes": [{"html": "<img src=\"logo.png\">", "target": ["img"],
                           "failureSummary": "Fix any of the following:\n  Element has no alt attribute"}]
            },
            {
                "id": "region", "impact": "moderate", "help": "All page content should be contained by landmarks",
                "helpUrl": "https://dequeuniversity.com/rules/axe/4.14/region",
                "nodes": [{"html": "<p>hi</p>", "target": [["#host", "p"]]}]
            }
        ])
    }

    fn parsed() -> Vec<Violation> {
        serde_json::from_value(sample_violations()).expect("axe-core's result shape")
    }

    #[test]
    fn only_serious_and_critical_violations_are_kept() {
        let kept = at_least(parsed(), Impact::Serious);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].id, "image-alt");
        assert_eq!(at_least(parsed(), Impact::Minor).len(), 2);
    }

    #[test]
    fn shadow_dom_targets_become_strings() {
        assert_eq!(parsed()[1].nodes[0].target, [r##"["#host","p"]"##]);
    }

    #[test]
    fn the_report_names_rule_element_and_fix() {
        let text = report(&at_least(parsed(), Impact::Serious));
        assert!(text.contains("[Critical] image-alt: Images must have alternative text"));
        assert!(text.contains("at img: <img src=\"logo.png\">"));
        assert!(text.contains("Element has no alt attribute"));
    }
}
