//! Shower directions from real station data: what the [`AngleFinder`] needs around it.
//!
//! | module | what |
//! | --- | --- |
//! | [`time`] | [`ExactTime`](time::ExactTime): timestamps as integer picoseconds, parsed exactly |
//! | `sphere` | (private) the least-squares arithmetic on the unit sphere behind the finder |
//!
//! [`AngleFinder`]: super::angle::AngleFinder

pub(crate) mod sphere;
pub mod time;
