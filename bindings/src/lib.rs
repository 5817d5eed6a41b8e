//! JavaScript bindings of the usage SDK: the npm package `usage-sdk`.
//!
//! Built for `wasm32-unknown-unknown` with wasm-bindgen (`bindings/build.sh`);
//! on other targets this crate is empty. The JavaScript API mirrors
//! `usage_sdk::Tracker` with camelCase names:
//!
//! ```js
//! import init, { Tracker } from "usage-sdk";
//! await init();
//! const tracker = Tracker.create({ endpoint: "https://usage.example.com", appName: "reports-web" });
//! tracker.onTokenExpired(() => refreshLogin());
//! tracker.login(tokenFromYourBackEnd);         // { org, sub, optOut, rev, iat, exp }
//! tracker.track("report.opened", { report: "sales" }); // { outcome: "queued", id }
//! await tracker.flush(2000);                   // true when nothing is left to send
//! console.table(tracker.debugEvents());        // each event and its fate
//! ```
//!
//! Data goes in and out as plain objects (through JSON, which the SDK already
//! carries; serde-wasm-bindgen would add 5 KB to the package); failures are
//! thrown as JavaScript `Error`s with a `code` property.

#![cfg(target_arch = "wasm32")]

mod callbacks;
mod convert;
mod error;
mod options;
mod tracker;
mod types;

pub use error::BindingError;
pub use tracker::Tracker;
