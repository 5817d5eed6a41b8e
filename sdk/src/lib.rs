//! Client SDK for product usage tracking with per-user opt-out.
//!
//! A [`Tracker`] records what a user does and delivers it in batches to the
//! collector (`POST {endpoint}/v1/batch`). It decides at once, offline, from
//! the opt-out flag cached at login; the collector re-checks every event.
//!
//! ```no_run
//! use std::time::Duration;
//! use usage_sdk::{Tracked, Tracker};
//!
//! let tracker = Tracker::builder("https://usage.example.com")
//!     .app_name("reports-desktop")
//!     .on_token_expired(|| eprintln!("log in again to resume sending"))
//!     .build()?;
//!
//! // The status token comes from your back end's login (`POST /v1/tokens`).
//! # let token = "v1.k1.eyJvcmciOiJhY21lIiwic3ViIjoiYm9iIiwib3B0X291dCI6ZmFsc2UsInJldiI6MywiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwNDMyMDB9.c2ln";
//! let claims = tracker.login(token)?;
//! println!("{} is opted out: {}", claims.sub, claims.opt_out);
//!
//! match tracker.track("report.opened", serde_json::json!({"report": "sales"})) {
//!     Tracked::Queued(id) => println!("queued {id}"),
//!     other => println!("not sent: {other:?}"),
//! }
//! tracker.track("app.started", ()); // no properties
//!
//! let delivered = tracker.shutdown(Duration::from_secs(2));
//! for entry in tracker.debug_events() {
//!     println!("{} {}", entry.name.as_str(), entry.fate);
//! }
//! # let _ = delivered;
//! # Ok::<(), usage_sdk::Error>(())
//! ```
//!
//! # Behaviour
//!
//! * `track()` never waits for the network or the disk. When the cached flag
//!   says opted out it drops the event at once without allocating; before any
//!   login it holds events (bounded) for the next login, which releases them or,
//!   if that user is opted out, drops them.
//! * Events get a UUIDv7 id at `track()`, so a batch sent twice is stored once.
//! * Batches go when 50 events are ready or the oldest has waited 5 s, within
//!   the collector's 500-event and 1 MiB limits; up to 4 are on the wire at
//!   once over keep-alive connections, cut in queue order. Failures are retried with
//!   exponential backoff and full jitter (1 s base, 5 min cap); `Retry-After`
//!   is honoured on 429 and 503; a 413 sends the batch again in halves; other
//!   4xx answers drop the batch and say why in the debugger.
//! * A 401 keeps the events until a login brings a new token, and calls
//!   [`TrackerBuilder::on_token_expired`] or [`TrackerBuilder::on_auth_error`].
//! * An answer with `"opted_out": true` drops that user's queue and every later
//!   event until the next login.
//! * A login whose token says opted out drops that user's queued and held
//!   events at once. A batch already on the wire is not recalled (the
//!   collector decides by its registry at receipt); if its answer would have
//!   it sent again (5xx, 429, 401, 413, no answer), its events are dropped as
//!   opted out instead.
//!   Nothing of an opted-out user stays in the journal or is sent after a restart.
//! * Native: `track()` appends the event to a journal in the data folder
//!   before it returns `Queued` (on Linux one copy into a shared memory
//!   mapping of the file, elsewhere one write), so from then on the event
//!   survives the process being killed at any instant, and every restart. The
//!   journal is the queue: the worker keeps up to 10,000 events in memory
//!   (`max_queued_events`) and reads the rest from disk as room frees, up to
//!   512 MiB of journal (`max_journal_bytes`); when the events waiting pass
//!   three quarters of that bound, the oldest waiting on disk are dropped and
//!   reported (`QueueFull`). A power
//!   loss can still lose what the kernel had not yet written out. One tracker per data folder:
//!   a second one gets [`Error::FolderInUse`].
//! * Browser: the delivery loop journals events in `localStorage` (bounded:
//!   10,000 events by default, oldest dropped first).
//! * `DO_NOT_TRACK=1` (also `true`, `yes`) in the environment turns the native
//!   tracker off: nothing is recorded, written or sent.
//!
//! # Platforms
//!
//! Native targets run delivery on a worker thread with reqwest (rustls) and
//! keep files in the data folder. On `wasm32-unknown-unknown` (the browser)
//! delivery runs on the page's event loop with `fetch`, state lives in
//! `localStorage` (gloo-storage), `flush` and `shutdown` are `async`, and when
//! the page is hidden or left, queued events go as `keepalive` requests with
//! the token in a `text/plain` body. The JavaScript package is `bindings/`.
//!
//! # Features
//!
//! * `gzip` (native): `TrackerBuilder::gzip` sends batch bodies with
//!   `Content-Encoding: gzip`, for a collector that accepts them.
//!
//! The core of the tracker (sessions, queue, batching, retries) is plain Rust
//! without I/O, shared by both platforms; it is internal. The `size-probe`
//! feature opens it to `bindings/probe`, a measurement of what the core alone
//! weighs in the browser; it is no API.

pub use usage_protocol as protocol;

mod builder;
#[cfg(not(feature = "size-probe"))]
mod core;
#[cfg(feature = "size-probe")]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod core;
mod driver;
mod error;
mod platform;
mod shared;
mod start;
mod tracker;

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
use native as imp;
#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
use wasm as imp;

pub use crate::core::debugger::{DebugEntry, DropReason, Fate, NameText};
pub use crate::core::engine::Counters;
pub use builder::TrackerBuilder;
pub use error::Error;
pub use shared::Status;
pub use tracker::{Tracked, Tracker};
