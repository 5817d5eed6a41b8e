//! Holds only a test: see `tests/opted_out_track.rs`. A crate of its own so
//! that its global allocator and its `unsafe` stay out of `usage-sdk`.
