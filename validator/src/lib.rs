//! Status tokens, the opt-out registry and the authoritative event check.

pub mod batch;
pub mod check;
pub mod dedupe;
mod error;
pub mod registry;
#[cfg(feature = "server")]
pub mod server;
pub mod sink;
pub mod store;
pub mod token;

pub use error::{Error, Result};
pub use registry::Registry;
