//! Status tokens, the opt-out registry and the authoritative event check.

pub mod token;
