//! Physics for the COSMICi shower detector (issue 6): pulse fitting, shower filtering
//! and shower direction, plus a seeded simulation with ground truth.
//!
//! The algorithms are plain, synchronous Rust with no dependency on the component
//! runtime; [`components`] wraps them as axon components.
//!
//! | module | what |
//! | --- | --- |
//! | [`model`] | bi-exponential pulse model, peak, area, constant-fraction and crossing times |
//! | [`fit`] | [`PulseFitter`](fit::PulseFitter): pulse parameters with errors from threshold crossings |
//! | [`shower`] | [`ShowerFilter`](shower::ShowerFilter): streaming coincidences → shower candidates |
//! | [`angle`] | [`AngleFinder`](angle::AngleFinder): shower direction from arrival times |
//! | [`direction`] | station data for the angle finder: exact times, wide-format events with sentinels and offsets, layout histories |
//! | [`layout`] | detector positions, speed of light |
//! | [`simulate`] | seeded synthetic pulses and showers with ground truth |
//! | [`sky`] | the site, sidereal time, [`EventMapper`](sky::EventMapper): local directions to J2000 and galactic coordinates |
//! | [`components`] | the axon components: `PulseFitterComponent`, `ShowerFilterComponent`, `AngleFinderComponent` |
//! | [`event_mapper`] | `EventMapperComponent`: found directions with their event times onto the sky |
//! | [`error`] | error enums |
//!
//! Conventions: times in ns, distances in m, voltages positive (pulses are negative-going
//! in the detector; see [`model`]), angles in rad.

pub mod angle;
pub mod components;
pub mod direction;
pub mod error;
pub mod event_mapper;
pub mod fit;
pub mod layout;
pub mod model;
pub mod shower;
pub mod simulate;
pub mod sky;

#[cfg(test)]
mod acceptance;
