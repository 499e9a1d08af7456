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
//! # Accuracy and speed of the angle finder
//!
//! `cargo run --release -p examples --example bench_direction -- --accuracy`: a station of a
//! centre detector and three at 5.77 m (10 m triangle), heights spread 0, 3 m
//! (0/3/1.2/2.1 m) and 15.6 m (0/15.6/4/9.5 m); 20 000 fronts per row, uniform in zenith
//! within the band and in azimuth. Errors are angles between the true direction and the
//! nearest reported one (three hits can have two: `ambiguous`). "Not found" is any status
//! but `found`/`ambiguous` (with noise, mostly `unphysical`: no direction from above the
//! horizon fits; 0.1% `poor_fit` at the default probability limit 0.001).
//!
//! | height spread | hits | zenith | noiseless max error | noiseless median | ambiguous | 1 ns noise: median error | zenith pull width | azimuth pull width | not found |
//! | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
//! | 0 m | 3 | 0–30° | 2.5e-10° | 1.6e-14° | 0.0% | 5.73° | 0.95 | 2.08 | 0.0% |
//! | 0 m | 3 | 30–60° | 1.5e-13° | 3.4e-14° | 0.0% | 6.75° | 0.96 | 1.01 | 1.6% |
//! | 0 m | 3 | 60–85° | 8.5e-13° | 9.4e-14° | 0.0% | 9.01° | 0.97 | 0.90 | 29.9% |
//! | 0 m | 4 | 0–30° | 2.8e-10° | 7.1e-15° | 0.0% | 2.93° | 0.98 | 1.16 | 0.1% |
//! | 0 m | 4 | 30–60° | 5.1e-14° | 6.9e-15° | 0.0% | 3.47° | 0.98 | 1.00 | 0.1% |
//! | 0 m | 4 | 60–85° | 2.4e-13° | 1.7e-14° | 0.0% | 5.28° | 0.95 | 0.99 | 18.8% |
//! | 3 m | 3 | 0–30° | 9.6e-11° | 1.6e-14° | 11.3% | 5.76° | 0.96 | 2.02 | 1.1% |
//! | 3 m | 3 | 30–60° | 3.9e-9° | 1.3e-14° | 40.2% | 6.24° | 1.12 | 0.96 | 14.0% |
//! | 3 m | 3 | 60–85° | 2.3e-9° | 2.6e-14° | 46.9% | 7.01° | 2.26 | 1.11 | 23.0% |
//! | 3 m | 4 | 0–30° | 1.1e-10° | 2.0e-14° | 0.0% | 2.93° | 0.98 | 1.17 | 0.1% |
//! | 3 m | 4 | 30–60° | 7.1e-14° | 1.0e-14° | 0.0% | 3.42° | 0.99 | 1.01 | 0.1% |
//! | 3 m | 4 | 60–85° | 8.0e-14° | 1.3e-14° | 0.0% | 4.69° | 0.99 | 0.98 | 6.5% |
//! | 15.6 m | 3 | 0–30° | 2.1e-9° | 5.2e-14° | 100.0% | 4.94° | 1.03 | 1.64 | 20.2% |
//! | 15.6 m | 3 | 30–60° | 1.1e-9° | 2.7e-14° | 99.7% | 4.19° | 1.02 | 1.05 | 12.8% |
//! | 15.6 m | 3 | 60–85° | 1.1e-9° | 1.8e-14° | 68.8% | 3.83° | 1.04 | 1.12 | 9.7% |
//! | 15.6 m | 4 | 0–30° | 1.6e-10° | 3.4e-14° | 0.0% | 2.85° | 0.99 | 1.14 | 0.1% |
//! | 15.6 m | 4 | 30–60° | 9.4e-14° | 1.7e-14° | 0.0% | 2.72° | 1.01 | 0.99 | 0.1% |
//! | 15.6 m | 4 | 60–85° | 7.7e-14° | 1.3e-14° | 0.0% | 2.57° | 1.00 | 1.00 | 0.1% |
//!
//! With 1 ns on 10 m the errors are a few degrees, so near the zenith the azimuth is no
//! longer linear in the times (its pull width is 2 at 0–30° with three hits, flat or not),
//! and three hits at 60–85° on a tilted plane lie close to where their two solutions merge.
//! In the linear regime (a 40 m station, 15–50°) the pulls are N(0, 1) within a few
//! percent for three and four hits at every height spread (test
//! `components/tests/physics_direction_heights.rs`).
//!
//! Speed, `cargo run --release -p examples --example bench_direction` (events per second
//! of CPU time on one core, 1 ns noise, zenith 0–60°), beside the finder before heights
//! were solved (a fixed-point loop on `a_z`):
//!
//! | layout | hits | now | before |
//! | --- | ---: | ---: | ---: |
//! | flat | 4 | 8.3 M/s | 3.1 M/s |
//! | heights 0/+1/−0.7/+2 m | 4 | 1.79 M/s | 1.22 M/s |
//! | heights spread 15 m | 4 | 2.18 M/s | 0.59 M/s |
//! | flat | 3 | 10.0 M/s | 3.1 M/s |
//! | heights 0/+1/−0.7/+2 m | 3 | 5.6 M/s | 1.48 M/s |
//! | heights spread 15 m | 3 | 4.2 M/s | 1.04 M/s |
//!
//! [`AngleFinder`]: super::angle::AngleFinder

pub mod layouts;
pub mod output;
pub(crate) mod sphere;
pub mod station;
pub mod time;
pub mod timeline;
