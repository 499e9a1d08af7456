//! Reusable axon components and the domain libraries they are built on.
//!
//! - [`registry`]: the node table, the SmartGet datahub protocol and the Lumina node
//!   protocol.
//! - [`cosmici`]: the COSMICi sensor-network line formats (MAIN commands, NMEA, UART
//!   lines, CON_PULSE deltas), the time chain and the node model.
//! - `physics` (feature `physics`): the bi-exponential pulse model, the pulse fitter,
//!   the shower filter, the angle finder and a detector simulator.

pub mod cosmici;
#[cfg(feature = "physics")]
pub mod physics;
pub mod registry;
