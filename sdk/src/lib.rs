//! Client SDK for product usage tracking with per-user opt-out.
pub use usage_protocol as protocol;
pub mod core;
