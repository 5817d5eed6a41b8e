//! The tracker core: plain Rust with no I/O, shared by every platform.
//!
//! The platform feeds it calls with the current time and carries out the
//! [`engine::Effect`]s it answers with: journal writes, debugger updates, the
//! cached login, callbacks.

pub mod batcher;
pub mod debugger;
pub mod encoded;
pub mod engine;
pub mod event;
pub mod gate;
pub mod id_hash;
pub mod ids;
pub mod journal;
#[cfg(any(target_arch = "wasm32", test))]
pub mod lean_json;
pub mod queue;
pub mod reply;
pub mod retry;
pub mod rfc3339;
pub mod session;
