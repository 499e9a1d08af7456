//! Node registry: the pure protocol and state logic of two node-registry servers.
//!
//! - [`NodeTable`]: the registry state both protocols share: nodes, their identities,
//!   status and declarations. Every change comes back as a [`RegistryChange`] for a
//!   component to publish.
//! - [`datahub`]: the SmartGet datahub's backtick line protocol, parsed and answered
//!   byte for byte ([`datahub::handle`]).
//! - [`lumina`]: the Lumina node server's JSON line protocol: [`lumina::Message`],
//!   [`lumina::ColorState`], and the [`lumina::Dispatcher`] that decides what each
//!   message causes.
//!
//! Nothing in those three does I/O, spawns or reads a clock: time is passed in as a
//! [`Duration`] since an epoch the caller picks (so tests and tokio's paused clock drive
//! it), and randomness comes from a caller-supplied RNG.
//!
//! The components and servers built on them:
//!
//! - [`NodeRegistry`]: the component that owns the table, found by protocol handlers
//!   through the runtime's service registry; handlers ask it with axon's request and
//!   reply ([`RegistryAsk`]: a [`RegistryRequest`] answered by a [`RegistryReply`]), so
//!   the snapshot counts each handler's requests, replies and timeouts on its
//!   `registry` outbox; changes leave on its `outbox`, declared Lumina events on its
//!   `events` outbox.
//! - [`datahub_server`] with one [`DatahubHandler`] per connection (port 20110).
//! - [`node_server`] with one `LineDeframer -> `[`LuminaConnection`] pipeline per
//!   connection (port 5326), each closing a node silent for 180 s (a
//!   [`Keepalive`](crate::keepalive::Keepalive) that sends nothing unless told to).
//!
//! [`Duration`]: std::time::Duration
//!
//! # Examples
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::Duration;
//! use components::registry::{NodeTable, Ownership, RegistryChange, datahub};
//!
//! let mut table = NodeTable::new(Ownership::Strict);
//! let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
//! let (reply, change) =
//!     datahub::handle(&mut table, b"`register 8000", peer, Duration::ZERO, &mut rand::rng());
//! assert_eq!(reply, b"200 OK\r\n1");
//! assert!(matches!(change, Some(RegistryChange::Registered { port: 8000, .. })));
//! ```

mod component;
pub mod datahub;
mod datahub_server;
pub mod error;
pub mod lumina;
mod lumina_server;
mod table;

pub use component::{
    DATAHUB_SERVICE, LUMINA_SERVICE, NodeEvent, NodeRegistry, REGISTRY_TIMEOUT, RegistryAsk,
    RegistryReply, RegistryRequest,
};
pub use datahub_server::{DatahubFactory, DatahubHandler, DatahubOptions, datahub_server};
pub use error::{HandlerError, LuminaError, RequestError, TableError};
pub use lumina_server::{
    KEEPALIVE_PERIOD, LuminaConnection, NodeFactory, NodeHandler, NodeServerOptions, node_handler,
    node_server,
};
pub use table::{ConnectionId, LinkState, Node, NodeId, NodeTable, Ownership, RegistryChange};
