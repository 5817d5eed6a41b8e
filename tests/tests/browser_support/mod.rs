//! Shared by the `browser_*` tests: the npm package built by
//! `bindings/build.sh`, served with a small test page by the real
//! `usage-server`, and status tokens from its `POST /v1/tokens`.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use support::server::{workspace_root, ServerOptions, TestServer};
use support::skip::{in_ci, skip_suite};
use support::webdriver::Browser;
use tempfile::TempDir;

/// Longest wait for a page to load the package and start its tracker.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The page every browser test opens: loads the package, starts `window.tracker`.
const HARNESS_HTML: &str = include_str!("harness.html");
/// Its script (a file of its own: the server's CSP refuses inline scripts).
const HARNESS_JS: &str = include_str!("harness.js");

/// The newest modification time of the files under `dirs` (recursively).
fn newest(dirs: &[PathBuf]) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let entries = std::fs::read_dir(&path).into_iter().flatten().flatten();
            stack.extend(entries.map(|entry| entry.path()));
        } else if let Ok(modified) = meta.modified() {
            newest = newest.max(Some(modified));
        }
    }
    newest
}

/// The npm package folder, built by `bindings/build.sh` when it is missing or
/// older than its sources; `None` (after a loud skip notice, or a panic under
/// CI) when it cannot be built here. Built once per test process: tests
/// running at once must not rewrite the folder under each other.
pub fn package() -> Option<PathBuf> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT.get_or_init(build_package).clone()
}

fn build_package() -> Option<PathBuf> {
    let root = workspace_root();
    let pkg = root.join("bindings/pkg");
    let wasm = pkg.join("usage_sdk_bg.wasm");
    let sources: Vec<PathBuf> = ["sdk/src", "bindings/src", "protocol/src", "Cargo.lock"]
        .iter()
        .map(|path| root.join(path))
        .collect();
    let built_at = std::fs::metadata(&wasm).and_then(|m| m.modified()).ok();
    if built_at.is_some() && built_at >= newest(&sources) {
        return Some(pkg);
    }
    eprintln!("bindings/pkg is missing or older than its sources; running bindings/build.sh");
    let built = Command::new(root.join("bindings/build.sh"))
        .current_dir(root)
        .status()
        .is_ok_and(|status| status.success());
    if built && wasm.is_file() {
        return Some(pkg);
    }
    let reason = "bindings/build.sh could not build the npm package (see its output above)";
    assert!(!in_ci(), "the browser tests cannot run under CI: {reason}");
    skip_suite("browser SDK tests", reason);
    None
}

/// A fresh temporary folder.
pub fn scratch(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("a temporary folder")
}

/// Copies the folder `from`, with everything below it, to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's folder");
    for entry in std::fs::read_dir(from).expect("read the package folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("entry type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a package file");
        }
    }
}

/// `usage-server demo` serving the test page and a copy of the package at
/// `/demo/web-app/`, on the collector's own origin.
#[derive(Debug)]
pub struct Site {
    pub server: TestServer,
    /// Keeps the served folder until the test ends.
    _folder: TempDir,
}

impl Site {
    /// Starts the server; `None` when the package cannot be built here.
    pub async fn start() -> Option<Site> {
        let pkg = package()?;
        let folder = scratch("usage-browser-site-");
        std::fs::write(folder.path().join("index.html"), HARNESS_HTML)
            .expect("write the test page");
        std::fs::write(folder.path().join("harness.js"), HARNESS_JS).expect("write its script");
        copy_dir(&pkg, &folder.path().join("pkg"));
        Some(Site::serving(folder).await)
    }

    /// Starts the server with `folder` at `/demo/web-app/`.
    pub async fn serving(folder: TempDir) -> Site {
        let options = ServerOptions::demo()
            .arg("--web-app")
            .arg(folder.path().display().to_string());
        let server = TestServer::start_with(options).await;
        Site {
            server,
            _folder: folder,
        }
    }

    /// The test page's URL, with the tracker's `options` (a JSON object).
    pub fn page(&self, options: &Value) -> String {
        let query: String = url_encode(&options.to_string());
        self.server
            .url(&format!("/demo/web-app/index.html?options={query}"))
    }

    /// A status token for `user` of the demo org, as a back end gets it at login.
    pub async fn token(&self, user: &str) -> String {
        let demo = self.server.demo();
        let answer: Value = self
            .server
            .client()
            .post(self.server.url("/v1/tokens"))
            .bearer_auth(&demo.service_key)
            .json(&json!({ "org": demo.org, "user": user }))
            .send()
            .await
            .expect("POST /v1/tokens")
            .error_for_status()
            .expect("a token")
            .json()
            .await
            .expect("a JSON answer");
        answer["token"].as_str().expect("a token string").to_owned()
    }

    /// Opts `user` out, as an admin does on the settings page.
    pub async fn opt_out(&self, user: &str) {
        let demo = self.server.demo();
        self.server
            .client()
            .post(self.server.url(&format!("/api/orgs/{}/opt-outs", demo.org)))
            .bearer_auth(&demo.service_key)
            .json(&json!({ "users": [user] }))
            .send()
            .await
            .expect("POST opt-outs")
            .error_for_status()
            .expect("opted out");
    }

    /// The ids of every event the server stored, in the order of its files' lines.
    pub fn stored_ids(&self) -> Vec<String> {
        let Ok(files) = std::fs::read_dir(self.server.data_dir().join("events")) else {
            return Vec::new();
        };
        files
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
            .flat_map(|text| {
                text.lines()
                    .filter(|line| !line.trim().is_empty())
                    .map(|line| {
                        let stored: Value = serde_json::from_str(line).expect("a JSON line");
                        stored["id"].as_str().expect("an id").to_owned()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Percent-encodes everything but unreserved characters.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Opens the test page in the browser's current window and waits until its
/// tracker runs.
pub async fn open(browser: &Browser, url: &str) {
    browser.goto(url).await.expect("open the test page");
    browser
        .wait_for("body[data-ready=true]", PATIENCE)
        .await
        .unwrap_or_else(|error| panic!("the test page did not get ready: {error}"));
}

/// Runs `script` in the page and panics with `what` when it throws.
pub async fn run(browser: &Browser, what: &str, script: &str, args: Vec<Value>) -> Value {
    browser
        .execute(script, args)
        .await
        .unwrap_or_else(|error| panic!("{what}: {error}"))
}
