//! A small W3C WebDriver client for headless Chromium.
//!
//! [`Browser::start`] launches chromedriver on a free loopback port, which in
//! turn launches Chromium with [`CHROMIUM_FLAGS`] and a fresh profile folder.
//! At most [`MAX_BROWSERS`] browsers run at once per test process (set
//! `USAGE_TEST_BROWSERS` to change it), so parallel tests do not starve the
//! machine. Dropping a browser ends its session and kills chromedriver.

mod cookie;
mod driver;
mod element;
pub mod keys;
mod options;
mod session_end;
mod wire;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::{Semaphore, SemaphorePermit};

pub use cookie::Cookie;
pub use element::Element;
pub use options::{
    chromedriver_path, chromium_path, BrowserOptions, CHROMEDRIVER_VAR, CHROMIUM_FLAGS,
    CHROMIUM_VAR,
};

use driver::Chromedriver;
use element::{css_locator, elements_from};
use wire::Wire;

use crate::skip::skip_suite;
use crate::{Error, Result};

/// Browsers allowed at once per test process unless `USAGE_TEST_BROWSERS` says otherwise.
pub const MAX_BROWSERS: usize = 2;

/// A headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    session: Wire,
    session_path: String,
    javascript: bool,
    ended: bool,
    // Dropped in this order: the driver (and with it the browser) before the
    // profile folder it writes to, and the slot last.
    driver: Chromedriver,
    profile: TempDir,
    _slot: SemaphorePermit<'static>,
}

impl Browser {
    /// Starts a browser, or returns `None` after a loud skip notice when
    /// chromedriver or Chromium is not installed.
    ///
    /// # Panics
    ///
    /// Under CI when either is missing (CI never skips), and when they are
    /// installed but the browser does not start.
    pub async fn start_or_skip(options: BrowserOptions) -> Option<Browser> {
        for tool in [chromedriver_path(), chromium_path()] {
            if !tool.is_file() {
                let reason = format!("{} is not installed", tool.display());
                skip_suite("browser tests", &reason);
                return None;
            }
        }
        let browser = Browser::start(options)
            .await
            .unwrap_or_else(|error| panic!("headless Chromium did not start: {error}"));
        Some(browser)
    }

    /// Starts chromedriver and a new Chromium session with `options`.
    pub async fn start(options: BrowserOptions) -> Result<Browser> {
        let slot = browser_slots()
            .acquire()
            .await
            .expect("the browser semaphore is never closed");
        let profile = tempfile::Builder::new()
            .prefix("usage-browser-")
            .tempdir()
            .map_err(|source| Error::io("creating a browser profile folder", source))?;
        let user_data = profile.path().join("profile");
        let driver = Chromedriver::start(
            &chromedriver_path(),
            profile.path().join("chromedriver.log"),
        )
        .await?;
        let capabilities = options.capabilities(&chromium_path(), &user_data);
        let created = driver
            .wire()
            .post("/session", json!({ "capabilities": capabilities }))
            .await
            .map_err(|error| match error {
                Error::WebDriver {
                    command,
                    error,
                    message,
                } => Error::WebDriver {
                    command,
                    error,
                    message: format!("{message}\n--- chromedriver log ---\n{}", driver.log()),
                },
                other => other,
            })?;
        let id = created["sessionId"]
            .as_str()
            .ok_or_else(|| Error::unexpected("new session", created.to_string()))?;
        let session_path = format!("/session/{id}");
        Ok(Browser {
            session: driver.wire().join(&session_path),
            session_path,
            javascript: options.has_javascript(),
            ended: false,
            driver,
            profile,
            _slot: slot,
        })
    }

    /// Opens `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.session
            .post("/url", json!({ "url": url }))
            .await
            .map(drop)
    }

    /// The URL of the current page.
    pub async fn current_url(&self) -> Result<String> {
        self.string("/url").await
    }

    /// The title of the current page.
    pub async fn title(&self) -> Result<String> {
        self.string("/title").await
    }

    /// Goes one step back in history.
    pub async fn back(&self) -> Result<()> {
        self.session.post_empty("/back").await.map(drop)
    }

    /// Reloads the current page.
    pub async fn refresh(&self) -> Result<()> {
        self.session.post_empty("/refresh").await.map(drop)
    }

    /// The current page's DOM, serialized as HTML.
    pub async fn source(&self) -> Result<String> {
        self.string("/source").await
    }

    /// The first element matching `css`; [`Error::is_no_such_element`] when none does.
    pub async fn find(&self, css: &str) -> Result<Element> {
        let value = self.session.post("/element", css_locator(css)).await?;
        Element::from_reference(&self.session, &value)
    }

    /// All elements matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let value = self.session.post("/elements", css_locator(css)).await?;
        elements_from(&self.session, &value)
    }

    /// Waits up to `timeout` for an element matching `css` to exist, and returns it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let started = Instant::now();
        loop {
            match self.find(css).await {
                Ok(element) => return Ok(element),
                Err(error) if error.is_no_such_element() => {}
                Err(error) => return Err(error),
            }
            if started.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: format!("an element matching `{css}`"),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(crate::wait::POLL_INTERVAL).await;
        }
    }

    /// The element that has keyboard focus.
    pub async fn active_element(&self) -> Result<Element> {
        let value = self.session.get("/element/active").await?;
        Element::from_reference(&self.session, &value)
    }

    /// Runs `script` as a function body in the page, with `args` as `arguments`,
    /// and returns what it returns (awaiting a returned promise).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let body = json!({ "script": script, "args": args });
        self.session.post("/execute/sync", body).await
    }

    /// Runs `script` with a callback as its last argument, and returns the value
    /// the script passes to that callback.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let body = json!({ "script": script, "args": args });
        self.session.post("/execute/async", body).await
    }

    /// Presses and releases each key of `keys` in turn, at the focused element.
    ///
    /// Text and [`keys`] constants mix: `format!("{}{}", keys::TAB, keys::ENTER)`.
    pub async fn press_keys(&self, keys: &str) -> Result<()> {
        let strokes = keys
            .chars()
            .flat_map(|key| [key_action("keyDown", key), key_action("keyUp", key)])
            .collect();
        self.perform_keys(strokes).await
    }

    /// Holds all of `keys` down together, then releases them: a chord such as Shift+Tab.
    pub async fn press_chord(&self, keys: &[&str]) -> Result<()> {
        let chars: Vec<char> = keys.iter().flat_map(|key| key.chars()).collect();
        let downs = chars.iter().map(|&key| key_action("keyDown", key));
        let ups = chars.iter().rev().map(|&key| key_action("keyUp", key));
        self.perform_keys(downs.chain(ups).collect()).await
    }

    async fn perform_keys(&self, strokes: Vec<Value>) -> Result<()> {
        let actions = json!({
            "actions": [{ "type": "key", "id": "keyboard", "actions": strokes }]
        });
        self.session.post("/actions", actions).await?;
        self.session.delete("/actions").await.map(drop)
    }

    /// All cookies visible to the current page.
    pub async fn cookies(&self) -> Result<Vec<Cookie>> {
        let value = self.session.get("/cookie").await?;
        serde_json::from_value(value.clone())
            .map_err(|error| Error::unexpected("cookie list", format!("{error}: {value}")))
    }

    /// Sets a cookie for the current page's domain.
    pub async fn add_cookie(&self, cookie: &Cookie) -> Result<()> {
        self.session
            .post("/cookie", json!({ "cookie": cookie }))
            .await
            .map(drop)
    }

    /// Deletes every cookie of the current page's domain.
    pub async fn delete_cookies(&self) -> Result<()> {
        self.session.delete("/cookie").await.map(drop)
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let encoded = self.string("/screenshot").await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|error| Error::unexpected("screenshot", error.to_string()))?;
        std::fs::write(path, png)
            .map_err(|source| Error::io(format!("writing {}", path.display()), source))
    }

    /// False when this browser runs pages without JavaScript.
    pub fn has_javascript(&self) -> bool {
        self.javascript
    }

    /// The folder holding this browser's profile and chromedriver log, removed on drop.
    pub fn scratch_dir(&self) -> &Path {
        self.profile.path()
    }

    /// Ends the session (closing Chromium) and stops chromedriver.
    pub async fn close(mut self) -> Result<()> {
        let ended = self.session.delete("").await;
        // On failure, `Drop` tries once more before killing chromedriver.
        self.ended = ended.is_ok();
        ended.map(drop)
    }

    async fn string(&self, path: &str) -> Result<String> {
        let value = self.session.get(path).await?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::unexpected(format!("GET {path}"), value.to_string()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.ended {
            session_end::end_blocking(self.driver.addr(), &self.session_path);
        }
    }
}

fn key_action(kind: &str, key: char) -> Value {
    json!({ "type": kind, "value": key.to_string() })
}

fn browser_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let count = std::env::var("USAGE_TEST_BROWSERS")
            .ok()
            .and_then(|value| value.parse().ok())
            .filter(|&count| count > 0)
            .unwrap_or(MAX_BROWSERS);
        Semaphore::new(count)
    })
}
