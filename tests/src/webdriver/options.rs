//! How a [`Browser`](super::Browser) is started: flags, preferences, capabilities.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Environment variable naming the chromedriver binary (also read by `wasm-bindgen-test-runner`).
pub const CHROMEDRIVER_VAR: &str = "CHROMEDRIVER";
/// Environment variable naming the Chromium binary.
pub const CHROMIUM_VAR: &str = "USAGE_TEST_CHROMIUM";

/// Command-line flags of every test browser: headless, sandbox-free (tests run
/// as root), and quiet on the network, so that only the page's own loopback
/// traffic leaves it.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
];

/// The chromedriver binary: `$CHROMEDRIVER` or Debian's `/usr/bin/chromedriver`.
pub fn chromedriver_path() -> PathBuf {
    std::env::var_os(CHROMEDRIVER_VAR).map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from)
}

/// The Chromium binary: `$USAGE_TEST_CHROMIUM` or Debian's `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    std::env::var_os(CHROMIUM_VAR).map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// What kind of browser a test wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserOptions {
    javascript: bool,
    language: Option<String>,
    window: (u32, u32),
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            javascript: true,
            language: None,
            window: (1280, 900),
        }
    }
}

impl BrowserOptions {
    /// A browser with JavaScript turned off, as some users have it.
    pub fn without_javascript(mut self) -> Self {
        self.javascript = false;
        self
    }

    /// False when pages run without JavaScript.
    pub fn has_javascript(&self) -> bool {
        self.javascript
    }

    /// A browser whose `Accept-Language` and UI language is `language`, such as `sv`.
    pub fn language(mut self, language: &str) -> Self {
        self.language = Some(language.to_owned());
        self
    }

    /// The window's size in CSS pixels (1280 x 900 by default).
    pub fn window_size(mut self, width: u32, height: u32) -> Self {
        self.window = (width, height);
        self
    }

    /// The W3C `capabilities` of a new session using `chromium` and the profile folder `profile`.
    pub(crate) fn capabilities(&self, chromium: &Path, profile: &Path) -> Value {
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={},{}", self.window.0, self.window.1));
        let mut prefs = serde_json::Map::new();
        if !self.javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        if let Some(language) = &self.language {
            args.push(format!("--lang={language}"));
            prefs.insert("intl.accept_languages".into(), json!(language));
        }
        json!({
            "alwaysMatch": {
                "goog:chromeOptions": {
                    "binary": chromium.display().to_string(),
                    "args": args,
                    "prefs": prefs,
                },
                "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 30_000},
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrome_options(options: &BrowserOptions) -> Value {
        let capabilities =
            options.capabilities(Path::new("/usr/bin/chromium"), Path::new("/tmp/p"));
        capabilities["alwaysMatch"]["goog:chromeOptions"].clone()
    }

    #[test]
    fn every_session_is_headless_with_its_own_profile() {
        let chrome = chrome_options(&BrowserOptions::default());
        let args: Vec<&str> = chrome["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for flag in [
            "--headless",
            "--no-sandbox",
            "--disable-background-networking",
        ] {
            assert!(args.contains(&flag), "{flag} missing from {args:?}");
        }
        assert!(args.contains(&"--user-data-dir=/tmp/p"));
        assert_eq!(chrome["binary"], "/usr/bin/chromium");
        assert_eq!(chrome["prefs"], json!({}));
    }

    #[test]
    fn javascript_off_and_language_become_preferences() {
        let chrome = chrome_options(
            &BrowserOptions::default()
                .without_javascript()
                .language("sv"),
        );
        assert_eq!(
            chrome["prefs"]["profile.managed_default_content_settings.javascript"],
            2
        );
        assert_eq!(chrome["prefs"]["intl.accept_languages"], "sv");
    }
}
