//! Limits the collector enforces on what a client sends.

/// Largest accepted request body of `POST /v1/batch`, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most events one batch may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 500;
/// Longest event name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Largest serialized `props` object of one event, in bytes.
pub const MAX_PROPS_BYTES: usize = 32 * 1024;
/// Longest `session` value, in bytes.
pub const MAX_SESSION_LEN: usize = 128;
/// Longest org or user id, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest status token, in bytes.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest key id of a status token, in bytes.
pub const MAX_KID_LEN: usize = 32;
/// Clock leeway applied to `iat` and `exp`, in seconds.
pub const CLOCK_LEEWAY_SECS: i64 = 60;
/// Deepest nesting of `props`: the object itself is level 1. Common JSON
/// readers (and PostgreSQL's `jsonb`) read far deeper values; 32 leaves room
/// for any real property structure while a stored line stays cheap to read.
pub const MAX_PROPS_DEPTH: usize = 32;
/// Most digits of one number in `props`, and the largest exponent magnitude:
/// well inside what PostgreSQL's `numeric` stores (16,383 digits after the
/// point), so a number never makes a sink refuse a whole batch. (Numbers must
/// also stay below 10^308, what a double holds.)
pub const MAX_PROPS_NUMBER_DIGITS: usize = 1000;
