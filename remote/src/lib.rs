//! # Remote links: an outbox on one host linked to an inbox on another
//!
//! A remote link keeps the semantics of a local one (`docs/runtime-semantics.md`,
//! *Remote links*): each source's order, bounded queues with backpressure across the
//! network (credit-based flow control), the per-link overflow policies with every drop
//! counted, `ProducerFinished`/`Shutdown` crossing the link, and an exit reason naming
//! the peer when it vanishes; a reconnect resumes without duplicates.
//!
//! The protocol ([`frame`], [`flow`]) has no transport in it and builds without any
//! feature. The Zenoh transport (peer mode, TCP only, multicast scouting off, explicit
//! endpoints) is behind the `zenoh` feature: `Remote` opens a session and makes the
//! two endpoint components, `RemoteSender` and `RemoteReceiver`.

pub mod flow;
pub mod frame;
mod stats;

pub use stats::{RemoteLinkInfo, RemoteLinkStats, Role};

#[cfg(feature = "zenoh")]
mod error;
#[cfg(feature = "zenoh")]
mod transport;

#[cfg(feature = "zenoh")]
pub use error::RemoteError;
#[cfg(feature = "zenoh")]
pub use transport::{LinkOptions, Remote, RemoteBox, RemoteReceiver, RemoteSender, ZenohConfig};
