//! Browser platform (`wasm32-unknown-unknown`): the delivery loop runs as a
//! task on the page's event loop, `fetch` sends batches (as `keepalive`
//! requests with the token in a `text/plain` body, the way `sendBeacon` sends,
//! once the page is hidden or unloading), and `localStorage` (gloo-storage)
//! keeps the cached login and unsent events.

mod build;
mod clock;
mod error;
mod flush;
mod page;
mod signals;
mod storage;
mod tabs;
mod transport;

/// What a tracker keeps of its running delivery loop.
pub(crate) use page::PageHooks as Running;
