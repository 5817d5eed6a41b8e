//! Shared helpers for the end-to-end tests of the usage-tracking workspace.
//!
//! Every test that needs a service starts it through this crate: the real
//! `usage-server` binary on a free loopback port with a fresh data folder,
//! a headless Chromium driven over W3C WebDriver, an accessibility audit with
//! axe-core, and a private PostgreSQL database. `tests/run` installs and starts
//! the machine-wide tools (Chromium, chromedriver, PostgreSQL, axe-core); these
//! helpers do the per-test part.
//!
//! ```no_run
//! use std::time::Duration;
//! use support::server::TestServer;
//! use support::webdriver::{Browser, BrowserOptions};
//!
//! # async fn demo() -> support::Result<()> {
//! let server = TestServer::start_demo().await;
//! let demo = server.demo();
//! let Some(browser) = Browser::start_or_skip(BrowserOptions::default()).await else {
//!     return Ok(());
//! };
//! browser.goto(&demo.admin_signin_url).await?;
//! browser.wait_for("table", Duration::from_secs(5)).await?;
//! support::axe::assert_accessible(&browser, "the opt-out settings page").await;
//! browser.close().await
//! # }
//! ```
//!
//! Traffic stays on loopback (`127.0.0.1`), and every wait is bounded.

pub mod axe;
pub mod demo;
mod error;
pub mod nats;
pub mod ports;
pub mod postgres;
pub mod server;
pub mod skip;
pub mod wait;
pub mod webdriver;

pub use error::{Error, Result};
