//! Wire types shared by the usage-tracking SDK and the validator.
//!
//! This crate holds the one definition of what travels between a client and the
//! collector: the batch and its events, the limits the collector enforces, the
//! response it answers with, and the claims of the opt-out status token. It has no
//! I/O and no server dependencies, so it builds for native targets and for
//! `wasm32-unknown-unknown` alike.
//!
//! ```
//! use usage_protocol::{read_claims, Event, EventName};
//!
//! // A client reads the cached flag from its token without holding any key.
//! let token = "v1.k1.eyJvcmciOiJhY21lIiwic3ViIjoiYm9iIiwib3B0X291dCI6ZmFsc2UsInJldiI6MywiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwNDMyMDB9.c2ln";
//! let claims = read_claims(token)?;
//! assert_eq!(claims.sub, "bob");
//! assert!(!claims.opt_out);
//!
//! // Event names are checked with the same rule the collector applies.
//! assert!(EventName::parse("report.opened").is_ok());
//! assert!(EventName::parse("has space").is_err());
//! # let _ = Event::new;
//! # Ok::<(), usage_protocol::ClaimsError>(())
//! ```

mod batch;
mod claims;
mod event;
mod ids;
pub mod json;
pub mod limits;
mod props;

pub use batch::{Batch, BatchEnvelope, BatchResponse, Rejection, SdkInfo};
pub use claims::{read_claims, split_token, Claims, ClaimsError, TokenParts, TOKEN_VERSION};
pub use event::{Event, EventName, RejectCode};
pub use ids::{is_valid_id, is_valid_kid};
