//! Shower directions from real station data: what the [`AngleFinder`] needs around it.
//!
//! | module | what |
//! | --- | --- |
//! | [`time`] | [`ExactTime`](time::ExactTime): timestamps as integer picoseconds, parsed exactly |
//! | [`station`] | [`EventReader`](station::EventReader): events from one-row-per-event (`t1…tN`) or one-row-per-hit exports, with sentinels and per-detector offsets |
//! | [`layouts`] | [`LayoutHistory`](layouts::LayoutHistory): layouts in east/north/up or distance/bearing/height, with valid-from times |
//! | [`timeline`] | [`Timeline`](timeline::Timeline): exact times onto small `f64` times for the shower filter, and back |
//! | [`output`] | the CSV row `cosmici direction` writes for an event |
//! | `sphere` | (private) the least-squares arithmetic on the unit sphere behind the finder |
//!
//! [`AngleFinder`]: super::angle::AngleFinder

pub mod layouts;
pub mod output;
pub(crate) mod sphere;
pub mod station;
pub mod time;
pub mod timeline;
