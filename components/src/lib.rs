//! Reusable axon components and the domain libraries they are built on.
//!
//! - [`transform`], [`fanout`], [`console`], [`clock`], [`framing`], [`keepalive`]:
//!   general-purpose components.
//! - [`registry`]: the node table, the SmartGet datahub protocol and the Lumina node
//!   protocol.
//! - [`resp`]: a Redis-compatible (RESP2) key-value service: codec, commands, store
//!   component and connection handler.
//! - [`workers`]: the Buildbot master/worker pattern: logins, remote operations, commands.
//! - [`cosmici`]: the COSMICi sensor-network line formats (MAIN commands, NMEA, UART
//!   lines, CON_PULSE deltas), the time chain and the node model.
//! - `physics` (feature `physics`): the bi-exponential pulse model, the pulse fitter,
//!   the shower filter, the angle finder and a detector simulator.
//! - `store` (feature `store`): SQLite storage of pulses, fits and showers.
//! - `plots` (feature `plots`): SVG pulse displays and sky plots.

pub mod clock;
pub mod console;
pub mod cosmici;
pub mod fanout;
pub mod framing;
pub mod keepalive;
#[cfg(feature = "physics")]
pub mod physics;
#[cfg(feature = "plots")]
pub mod plots;
pub mod registry;
pub mod resp;
#[cfg(feature = "store")]
pub mod store;
pub mod transform;
pub mod workers;
