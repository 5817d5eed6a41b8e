//! The npm package as web developers get it: packed with `npm pack`,
//! installed with `npm install` into a TypeScript project that must
//! type-check under `tsc --strict` (with and without `skipLibCheck`), and into
//! a Vite app that must build and, in headless Chromium against the real
//! `usage-server`, track an event that the server stores.
//!
//! The projects are `tests/browser/typescript` and `tests/browser/vite-app`;
//! their tools (typescript, vite) are pinned by their lock files and installed
//! with `npm ci` into a copy of each, so the source tree is left as it is.

mod browser_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use browser_support::{copy_dir, package, scratch, Site, PATIENCE};
use support::server::workspace_root;
use support::skip::{in_ci, skip_suite};
use support::webdriver::{Browser, BrowserOptions};
use tempfile::TempDir;

/// Runs `program` with `args` in `dir`; panics with its output when it fails.
fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("could not run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {} failed ({}):\n{}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Whether npm is here; a loud skip notice (a panic under CI) when it is not.
fn npm_available() -> bool {
    let found = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(!in_ci(), "npm is needed for the npm package tests under CI");
        skip_suite("npm package tests", "npm is not installed");
    }
    found
}

/// The package as `npm pack` makes it; the folder holds the tarball.
fn packed() -> Option<(TempDir, PathBuf)> {
    let pkg = package()?;
    let folder = scratch("usage-sdk-pack-");
    let destination = folder.path().display().to_string();
    let pkg = pkg.display().to_string();
    let output = run(
        folder.path(),
        "npm",
        &["pack", &pkg, "--pack-destination", &destination, "--silent"],
    );
    let name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let tarball = folder.path().join(name);
    assert!(tarball.is_file(), "npm pack wrote {}", tarball.display());
    Some((folder, tarball))
}

/// A copy of `tests/browser/<project>` with its pinned tools and the packed
/// package installed, as `npm install` does for an app.
fn project(project: &str, tarball: &Path) -> TempDir {
    let copy = scratch("usage-sdk-project-");
    copy_dir(
        &workspace_root().join("tests/browser").join(project),
        copy.path(),
    );
    // A node_modules of the source tree (from a developer's own install) is not used.
    let _ = std::fs::remove_dir_all(copy.path().join("node_modules"));
    let quiet = [
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--loglevel=error",
    ];
    let mut ci = vec!["ci"];
    ci.extend(quiet);
    run(copy.path(), "npm", &ci);
    let tarball = tarball.display().to_string();
    let mut install = vec!["install", "--no-save", &tarball];
    install.extend(quiet);
    run(copy.path(), "npm", &install);
    copy
}

#[test]
fn a_typescript_app_type_checks_against_the_package_under_strict() {
    if !npm_available() {
        return;
    }
    let Some((_pack, tarball)) = packed() else {
        return;
    };
    let app = project("typescript", &tarball);
    let tsc = app
        .path()
        .join("node_modules/.bin/tsc")
        .display()
        .to_string();
    // The project checks library files too (`skipLibCheck: false`), so the
    // package's own .d.ts must hold under the app's settings.
    run(app.path(), &tsc, &["-p", "."]);
    run(app.path(), &tsc, &["-p", ".", "--skipLibCheck"]);
}

#[tokio::test]
async fn a_vite_app_built_from_the_installed_package_tracks_in_chromium() {
    if !npm_available() {
        return;
    }
    let Some((_pack, tarball)) = packed() else {
        return;
    };
    let app = project("vite-app", &tarball);
    let vite = app
        .path()
        .join("node_modules/.bin/vite")
        .display()
        .to_string();
    run(app.path(), &vite, &["build", "--logLevel", "warn"]);
    let dist = scratch("usage-sdk-vite-dist-");
    copy_dir(&app.path().join("dist"), dist.path());

    let site = Site::serving(dist).await;
    let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
        return;
    };
    let token = site.token("bob").await;
    // index.html by name: the folder's own route serves it only next to a `pkg/`
    // (the web example's layout), which a bundled app has not.
    let url = site
        .server
        .url(&format!("/demo/web-app/index.html#token={token}"));
    browser.goto(&url).await.expect("open the Vite app");
    browser
        .wait_for("body[data-done=true]", PATIENCE)
        .await
        .unwrap_or_else(|error| panic!("the Vite app did not finish: {error}"));
    let result = browser
        .find("#result")
        .await
        .expect("the result line")
        .text()
        .await
        .expect("its text");
    assert_eq!(result, "queued accepted true");
    assert_eq!(site.stored_ids().len(), 1, "the server stored the event");
    browser.close().await.expect("close the browser");
}
