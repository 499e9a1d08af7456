//! From timed pulses to stored results: pulse fitting ([`PulseReconstructor`]) and
//! shower finding with directions ([`ShowerFinder`]). Needs the `physics` feature.
//!
//! ```text
//! PulseClock ──TimedPulse──► PulseReconstructor ──ReconstructedPulse──► ShowerFinder ──Record──► archive
//!                             (blocking thread)                          (every pulse, then each shower)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axon::threaded::{BlockingBody, Threaded, map_blocking};
use axon::{BoxError, Component, Context, LinkError, Setup};

use super::pulse::Edge;
use super::timechain::UtcNanos;
use super::timing::TimedPulse;
use crate::physics::angle::{AngleFinder, ShowerDirection};
use crate::physics::error::{AngleError, ConfigError, CrossingsError};
use crate::physics::fit::{Crossings, LevelCrossing, PulseFit, PulseFitter, PulseFitterConfig};
use crate::physics::layout::DetectorLayout;
use crate::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};

/// PMT channels per FEDM node.
///
/// # Examples
///
/// ```
/// use components::cosmici::reconstruct::{CHANNELS_PER_FEDM, DetectorMap};
///
/// let map = DetectorMap::default();
/// assert_eq!(map.detector(1, CHANNELS_PER_FEDM as u8), Some(2));
/// assert_eq!(map.detector(u32::MAX, 1), None); // no overflow on a hostile id
/// assert_eq!(map.detector(1, CHANNELS_PER_FEDM as u8 + 1), None);
/// ```
pub const CHANNELS_PER_FEDM: u32 = 3;

/// Which detector a FEDM node's channel reads: FEDM nodes are numbered from
/// `first_fedm`, each with [`CHANNELS_PER_FEDM`] channels numbered from 1; detector
/// ids run node by node.
///
/// # Examples
///
/// ```
/// use components::cosmici::reconstruct::DetectorMap;
///
/// let map = DetectorMap { first_fedm: 1 };
/// assert_eq!(map.detector(2, 1), Some(3));
/// assert_eq!(map.channel(3), (2, 1));
/// assert_eq!(map.detector(0, 1), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorMap {
    /// Node id of the first FEDM.
    pub first_fedm: u32,
}

impl Default for DetectorMap {
    fn default() -> Self {
        Self { first_fedm: 1 }
    }
}

impl DetectorMap {
    /// The detector of `node`'s channel `ch`, if `node` is a FEDM and `ch` a channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::DetectorMap;
    ///
    /// let map = DetectorMap { first_fedm: 2 };
    /// assert_eq!(map.detector(2, 1), Some(0));
    /// assert_eq!(map.detector(3, 3), Some(5));
    /// assert_eq!(map.detector(3, 0), None); // channels count from 1
    /// ```
    pub fn detector(&self, node: u32, ch: u8) -> Option<usize> {
        let ch = u32::from(ch);
        if node < self.first_fedm || !(1..=CHANNELS_PER_FEDM).contains(&ch) {
            return None;
        }
        // Node ids come from the network: refuse rather than overflow.
        let index = (node - self.first_fedm)
            .checked_mul(CHANNELS_PER_FEDM)?
            .checked_add(ch - 1)?;
        usize::try_from(index).ok()
    }

    /// The `(node, channel)` of a detector.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::DetectorMap;
    ///
    /// let map = DetectorMap::default();
    /// assert_eq!(map.channel(0), (1, 1));
    /// assert_eq!(map.channel(5), (2, 3));
    /// assert_eq!(map.detector(2, 3), Some(5));
    /// ```
    pub fn channel(&self, detector: usize) -> (u32, u8) {
        let d = u32::try_from(detector).unwrap_or(u32::MAX);
        let ch = u8::try_from(d % CHANNELS_PER_FEDM + 1).unwrap_or(1);
        (self.first_fedm.saturating_add(d / CHANNELS_PER_FEDM), ch)
    }

    /// FEDM nodes needed for `detectors` detectors.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::DetectorMap;
    ///
    /// let map = DetectorMap::default();
    /// assert_eq!(map.fedm_nodes(4), 2);
    /// assert_eq!(map.fedm_nodes(6), 2);
    /// assert_eq!(map.fedm_nodes(0), 0);
    /// ```
    pub fn fedm_nodes(&self, detectors: usize) -> u32 {
        u32::try_from(detectors)
            .unwrap_or(u32::MAX)
            .div_ceil(CHANNELS_PER_FEDM)
    }
}

/// Why a pulse has no fit.
///
/// # Examples
///
/// ```
/// use components::cosmici::reconstruct::{PulseReconstructor, ReconstructError};
/// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
/// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
/// #     components::cosmici::timing::TimedPulse {
/// #         node,
/// #         pulse: line.parse().unwrap(),
/// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
/// #         levels: vec![0.2, 0.299, 0.447],
/// #         clock_period_ns: 2.0,
/// #     }
/// # }
/// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), Default::default())?;
/// // The node's DAC_LEVELS never arrived: no threshold volts to fit against.
/// let mut pulse = timed(1, 1);
/// pulse.levels.clear();
/// let r = reconstructor.reconstruct(1, pulse);
/// assert_eq!(r.fit, Err(ReconstructError::UnknownLevel { node: 1, level: 1 }));
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReconstructError {
    /// The node's `DAC_LEVELS` are unknown, or the pulse crossed more levels than
    /// are known.
    #[error("threshold level {level} of node {node} unknown")]
    UnknownLevel {
        /// The node.
        node: u32,
        /// The 1-based level.
        level: u8,
    },
    /// The crossings are inconsistent.
    #[error(transparent)]
    Crossings(#[from] CrossingsError),
}

/// A pulse with its fit.
///
/// # Examples
///
/// ```
/// use components::cosmici::reconstruct::PulseReconstructor;
/// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
/// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
/// #     components::cosmici::timing::TimedPulse {
/// #         node,
/// #         pulse: line.parse().unwrap(),
/// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
/// #         levels: vec![0.2, 0.299, 0.447],
/// #         clock_period_ns: 2.0,
/// #     }
/// # }
/// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), Default::default())?;
/// let r = reconstructor.reconstruct(7, timed(1, 2));
/// assert_eq!((r.id, r.detector), (7, Some(1)));
/// assert_eq!(r.crossings.levels.len(), 2);
/// assert!(r.fit.is_ok());
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReconstructedPulse {
    /// Sequence number given by the reconstructor, from 1.
    pub id: u64,
    /// The timed pulse.
    pub timed: TimedPulse,
    /// The detector it belongs to, if its node and channel map to one.
    pub detector: Option<usize>,
    /// Crossings in ns after the first rising edge, with volts.
    pub crossings: Crossings,
    /// The fit (times relative to the first rising edge).
    pub fit: Result<PulseFit, ReconstructError>,
}

impl ReconstructedPulse {
    /// UTC of the fitted onset (the first rising edge when there is no fit).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::PulseReconstructor;
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), Default::default())?;
    /// let r = reconstructor.reconstruct(1, timed(1, 1));
    /// // The fitted onset lies within the pulse's 18 ns.
    /// let offset = r.onset_utc().as_nanos() - r.timed.utc.as_nanos();
    /// assert!((-18..=18).contains(&offset));
    /// // Without a fit it is the first rising edge.
    /// let mut unknown = timed(1, 1);
    /// unknown.levels.clear();
    /// let r = reconstructor.reconstruct(2, unknown);
    /// assert_eq!(r.onset_utc(), r.timed.utc);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn onset_utc(&self) -> UtcNanos {
        let offset = self.fit.as_ref().map(|f| f.onset.value).unwrap_or(0.0);
        UtcNanos(self.timed.utc.0.saturating_add(offset.round() as i64))
    }
}

/// The crossings of a timed pulse, in ns after its first rise, with their voltages.
///
/// # Errors
///
/// [`ReconstructError::UnknownLevel`] for a level beyond the node's known ladder.
///
/// # Examples
///
/// ```
/// use components::cosmici::reconstruct::{ReconstructError, crossings_of};
/// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
/// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
/// #     components::cosmici::timing::TimedPulse {
/// #         node,
/// #         pulse: line.parse().unwrap(),
/// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
/// #         levels: vec![0.2, 0.299, 0.447],
/// #         clock_period_ns: 2.0,
/// #     }
/// # }
/// // Level 1 rises at 0 and falls after 9 cycles, level 2 from 2 to 4 cycles (2 ns each).
/// let c = crossings_of(&timed(1, 1)).unwrap();
/// let edges: Vec<_> = c.levels.iter().map(|l| (l.level, l.rise, l.fall)).collect();
/// assert_eq!(edges, [(0.2, 0.0, 18.0), (0.299, 4.0, 8.0)]);
/// assert_eq!(c.next_level, Some(0.447));
///
/// let mut short = timed(1, 1);
/// short.levels.truncate(1);
/// assert_eq!(crossings_of(&short), Err(ReconstructError::UnknownLevel { node: 1, level: 2 }));
/// ```
pub fn crossings_of(timed: &TimedPulse) -> Result<Crossings, ReconstructError> {
    let mut levels: Vec<LevelCrossing> = Vec::new();
    for (level, edge, t) in timed.crossing_times() {
        let idx = usize::from(level).saturating_sub(1);
        let volts = *timed
            .levels
            .get(idx)
            .ok_or(ReconstructError::UnknownLevel {
                node: timed.node,
                level,
            })?;
        if levels.len() <= idx {
            levels.resize(
                idx + 1,
                LevelCrossing {
                    level: volts,
                    rise: f64::NAN,
                    fall: f64::NAN,
                },
            );
        }
        levels[idx].level = volts;
        match edge {
            Edge::Rising => levels[idx].rise = t,
            Edge::Falling => levels[idx].fall = t,
        }
    }
    let next_level = timed.levels.get(levels.len()).copied();
    Ok(Crossings { levels, next_level })
}

/// Counters of the reconstruction, shared by its components.
///
/// # Examples
///
/// ```
/// use components::cosmici::reconstruct::{PulseReconstructor, ReconstructStats};
/// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
/// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
/// #     components::cosmici::timing::TimedPulse {
/// #         node,
/// #         pulse: line.parse().unwrap(),
/// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
/// #         levels: vec![0.2, 0.299, 0.447],
/// #         clock_period_ns: 2.0,
/// #     }
/// # }
/// let stats = ReconstructStats::default();
/// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), stats.clone())?;
/// reconstructor.reconstruct(1, timed(1, 1));
/// assert_eq!((stats.pulses(), stats.fit_failures(), stats.showers()), (1, 0, 0));
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReconstructStats {
    inner: Arc<[AtomicU64; 4]>,
}

impl ReconstructStats {
    /// Pulses reconstructed.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::{PulseReconstructor, ReconstructStats};
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// let stats = ReconstructStats::default();
    /// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), stats.clone())?;
    /// for id in 1..=3 {
    ///     reconstructor.reconstruct(id, timed(1, 1));
    /// }
    /// assert_eq!(stats.pulses(), 3);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn pulses(&self) -> u64 {
        self.inner[0].load(Ordering::Relaxed)
    }
    /// Pulses whose fit failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::{PulseReconstructor, ReconstructStats};
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// let stats = ReconstructStats::default();
    /// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), stats.clone())?;
    /// let mut unknown = timed(1, 1);
    /// unknown.levels.clear();
    /// reconstructor.reconstruct(1, unknown);
    /// assert_eq!((stats.pulses(), stats.fit_failures()), (1, 1));
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn fit_failures(&self) -> u64 {
        self.inner[1].load(Ordering::Relaxed)
    }
    /// Showers found.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::reconstruct::{PulseReconstructor, ReconstructStats, ShowerFinder};
    /// use components::physics::layout::DetectorLayout;
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// let stats = ReconstructStats::default();
    /// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), stats.clone())?;
    /// let layout = DetectorLayout::grid(2, 2, 10.0)?;
    /// let finder = ShowerFinder::new(layout, Default::default(), 1.0, stats.clone())?;
    /// let mut h = axon::testing::Harness::new(finder);
    /// // Detectors 0, 1 and 2 (node 1, channels 1 to 3) hit at the same time.
    /// for ch in 1..=3 {
    ///     h.send(reconstructor.reconstruct(u64::from(ch), timed(1, ch))).await;
    /// }
    /// h.finish().await;
    /// while h.recv().await.is_some() {}
    /// assert_eq!(stats.showers(), 1);
    /// # Ok(()) }
    /// ```
    pub fn showers(&self) -> u64 {
        self.inner[2].load(Ordering::Relaxed)
    }
    /// Pulses the shower filter refused (late or unknown detector).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::reconstruct::{PulseReconstructor, ReconstructStats, ShowerFinder};
    /// use components::physics::layout::DetectorLayout;
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// let stats = ReconstructStats::default();
    /// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), stats.clone())?;
    /// let finder = ShowerFinder::new(DetectorLayout::grid(2, 2, 10.0)?, Default::default(), 1.0, stats.clone())?;
    /// let mut h = axon::testing::Harness::new(finder);
    /// // Node 2 channel 3 is detector 5, not in the 2 × 2 layout.
    /// h.send(reconstructor.reconstruct(1, timed(2, 3))).await;
    /// h.recv().await.unwrap(); // passed on as a record all the same
    /// assert_eq!(stats.refused(), 1);
    /// # Ok(()) }
    /// ```
    pub fn refused(&self) -> u64 {
        self.inner[3].load(Ordering::Relaxed)
    }
}

/// Fits every [`TimedPulse`] on a blocking thread (the fitter is CPU-bound).
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`TimedPulse`] | timed pulses |
/// | `outbox` | out | [`ReconstructedPulse`] | one per pulse, in order |
/// | `control` / `signal` | | `Control` | lifecycle |
///
/// # Examples
///
/// ```
/// use components::cosmici::reconstruct::{DetectorMap, PulseReconstructor, ReconstructStats};
/// use components::physics::fit::PulseFitterConfig;
///
/// let fitter = PulseReconstructor::new(PulseFitterConfig::default(), DetectorMap::default(), ReconstructStats::default())?;
/// let _component = fitter.into_component();
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct PulseReconstructor {
    fitter: PulseFitter,
    map: DetectorMap,
    stats: ReconstructStats,
}

impl PulseReconstructor {
    /// A reconstructor with the fitter settings `config`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for invalid fitter settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::{DetectorMap, PulseReconstructor};
    /// use components::physics::fit::PulseFitterConfig;
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// let map = DetectorMap { first_fedm: 3 };
    /// let reconstructor = PulseReconstructor::new(PulseFitterConfig::default(), map, Default::default())?;
    /// assert_eq!(reconstructor.reconstruct(1, timed(3, 1)).detector, Some(0));
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn new(
        config: PulseFitterConfig,
        map: DetectorMap,
        stats: ReconstructStats,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            fitter: PulseFitter::new(config)?,
            map,
            stats,
        })
    }

    /// Reconstructs one pulse, numbering it `id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::PulseReconstructor;
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), Default::default())?;
    /// let r = reconstructor.reconstruct(42, timed(1, 1));
    /// assert_eq!(r.id, 42);
    /// let fit = r.fit.unwrap();
    /// // The peak lies above the highest level crossed, below the next one.
    /// assert!(fit.peak_height.value > 0.299 && fit.peak_height.value <= 0.447);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn reconstruct(&self, id: u64, timed: TimedPulse) -> ReconstructedPulse {
        let detector = self.map.detector(timed.node, timed.pulse.ch);
        let (crossings, fit) = match crossings_of(&timed) {
            Ok(c) => {
                let fit = self.fitter.fit(&c).map_err(ReconstructError::from);
                (c, fit)
            }
            Err(e) => (Crossings::default(), Err(e)),
        };
        self.stats.inner[0].fetch_add(1, Ordering::Relaxed);
        if fit.is_err() {
            self.stats.inner[1].fetch_add(1, Ordering::Relaxed);
        }
        ReconstructedPulse {
            id,
            timed,
            detector,
            crossings,
            fit,
        }
    }

    /// The component: [`reconstruct`](Self::reconstruct) on a blocking thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::reconstruct::PulseReconstructor;
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), Default::default())?;
    /// let mut h = axon::testing::Harness::new(reconstructor.into_component());
    /// h.send(timed(1, 1)).await;
    /// h.send(timed(1, 2)).await;
    /// // Numbered from 1, in order.
    /// assert_eq!(h.recv().await.unwrap().id, 1);
    /// assert_eq!(h.recv().await.unwrap().id, 2);
    /// # Ok(()) }
    /// ```
    pub fn into_component(
        self,
    ) -> Threaded<TimedPulse, ReconstructedPulse, BlockingBody<TimedPulse, ReconstructedPulse>>
    {
        let mut next = 0u64;
        map_blocking("PulseReconstructor", move |timed: TimedPulse| {
            next += 1;
            self.reconstruct(next, timed)
        })
    }
}

/// A shower: the pulses of a coincidence and its direction.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::reconstruct::{PulseReconstructor, Record, ShowerFinder};
/// use components::physics::layout::DetectorLayout;
/// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
/// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
/// #     components::cosmici::timing::TimedPulse {
/// #         node,
/// #         pulse: line.parse().unwrap(),
/// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
/// #         levels: vec![0.2, 0.299, 0.447],
/// #         clock_period_ns: 2.0,
/// #     }
/// # }
/// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), Default::default())?;
/// let finder = ShowerFinder::new(DetectorLayout::grid(2, 2, 10.0)?, Default::default(), 1.0, Default::default())?;
/// let mut h = axon::testing::Harness::new(finder);
/// for ch in 1..=3 {
///     h.send(reconstructor.reconstruct(u64::from(ch), timed(1, ch))).await;
/// }
/// h.finish().await;
/// let mut showers = Vec::new();
/// while let Some(record) = h.recv().await {
///     if let Record::Shower(s) = record {
///         showers.push(s);
///     }
/// }
/// assert_eq!(showers.len(), 1);
/// assert_eq!(showers[0].id, 1);
/// assert_eq!(showers[0].pulse_ids, [1, 2, 3]);
/// // Simultaneous hits: every hit 0 ns after the shower's time.
/// assert!(showers[0].hits.iter().all(|&(_, t)| t.abs() < 1e-6));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ShowerRecord {
    /// Sequence number, from 1.
    pub id: u64,
    /// UTC of its earliest pulse's onset.
    pub utc: UtcNanos,
    /// The ids of its pulses ([`ReconstructedPulse::id`]).
    pub pulse_ids: Vec<u64>,
    /// `(detector, ns after `utc`)` of each hit.
    pub hits: Vec<(usize, f64)>,
    /// The direction, or why there is none.
    pub direction: Result<ShowerDirection, AngleError>,
}

/// What the pipeline stores.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::reconstruct::{PulseReconstructor, Record, ShowerFinder};
/// use components::physics::layout::DetectorLayout;
/// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
/// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
/// #     components::cosmici::timing::TimedPulse {
/// #         node,
/// #         pulse: line.parse().unwrap(),
/// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
/// #         levels: vec![0.2, 0.299, 0.447],
/// #         clock_period_ns: 2.0,
/// #     }
/// # }
/// let reconstructor = PulseReconstructor::new(Default::default(), Default::default(), Default::default())?;
/// let finder = ShowerFinder::new(DetectorLayout::grid(2, 2, 10.0)?, Default::default(), 1.0, Default::default())?;
/// let mut h = axon::testing::Harness::new(finder);
/// h.send(reconstructor.reconstruct(1, timed(1, 1))).await;
/// // Every pulse is passed on at once; a lone pulse makes no shower.
/// assert!(matches!(h.recv().await, Some(Record::Pulse(p)) if p.id == 1));
/// h.finish().await;
/// assert_eq!(h.recv().await, None);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A reconstructed pulse.
    Pulse(Box<ReconstructedPulse>),
    /// A shower.
    Shower(Box<ShowerRecord>),
}

/// Finds showers among reconstructed pulses and their directions.
///
/// # What it does
///
/// Passes every pulse on as [`Record::Pulse`] and feeds the ones with a detector to a
/// [`ShowerFilter`] (time: fitted onset, relative to the first pulse's UTC second, so
/// that `f64` keeps sub-ns precision). Each candidate goes to an [`AngleFinder`] and
/// out as [`Record::Shower`]. Pulses arrive from several FEDM links, so the filter's
/// lateness should cover the skew between links (see [`ShowerFilterConfig::lateness`]).
/// On `ProducerFinished` the remaining candidates are decided and sent.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`ReconstructedPulse`] | fitted pulses |
/// | `outbox` | out | [`Record`] | every pulse, then each shower once decided |
/// | `control` / `signal` | | `Control` | lifecycle |
///
/// # Examples
///
/// ```
/// use components::cosmici::reconstruct::{ReconstructStats, ShowerFinder};
/// use components::physics::layout::DetectorLayout;
///
/// let finder = ShowerFinder::new(DetectorLayout::grid(2, 2, 10.0)?, Default::default(), 1.0, ReconstructStats::default())?;
/// # let _ = finder;
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct ShowerFinder {
    filter: ShowerFilter,
    finder: AngleFinder,
    stats: ReconstructStats,
}

impl ShowerFinder {
    /// A finder over `layout`; `timing_sigma` is the per-detector timing error, ns.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for invalid settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::{ReconstructStats, ShowerFinder};
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::ShowerFilterConfig;
    ///
    /// let config = ShowerFilterConfig { min_detectors: 4, lateness: 5_000.0, ..Default::default() };
    /// let finder = ShowerFinder::new(DetectorLayout::grid(3, 3, 10.0)?, config, 1.5, ReconstructStats::default());
    /// assert!(finder.is_ok());
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn new(
        layout: DetectorLayout,
        config: ShowerFilterConfig,
        timing_sigma: f64,
        stats: ReconstructStats,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            filter: ShowerFilter::new(layout.clone(), config)?,
            finder: AngleFinder::new(layout, timing_sigma)?,
            stats,
        })
    }
}

impl Component for ShowerFinder {
    type In = ReconstructedPulse;
    type Out = Record;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "fitted pulses")?;
        s.describe("outbox", "every pulse, then each shower once decided")
    }

    async fn run(mut self, mut ctx: Context<ReconstructedPulse, Record>) -> Result<(), BoxError> {
        let mut epoch: Option<i64> = None;
        let mut showers = 0u64;
        while let Some(pulse) = ctx.recv().await {
            if let Some(detector) = pulse.detector {
                let utc = pulse.onset_utc().0;
                let zero = *epoch.get_or_insert(utc.div_euclid(1_000_000_000) * 1_000_000_000);
                let amplitude = pulse
                    .fit
                    .as_ref()
                    .map(|f| f.peak_height.value)
                    .unwrap_or_else(|_| pulse.timed.levels.first().copied().unwrap_or(0.0));
                let sp = ShowerPulse {
                    detector,
                    time: (utc - zero) as f64,
                    amplitude,
                    fit_ref: Some(pulse.id),
                };
                if let Err(e) = self.filter.push(sp) {
                    self.stats.inner[3].fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("pulse {} not used for showers: {e}", pulse.id);
                }
            }
            ctx.send(Record::Pulse(Box::new(pulse))).await?;
            self.emit(&mut ctx, epoch, &mut showers).await?;
        }
        if ctx.ended_by() != Some(axon::Control::Shutdown) {
            self.filter.flush();
            self.emit(&mut ctx, epoch, &mut showers).await?;
        }
        Ok(())
    }
}

impl ShowerFinder {
    async fn emit(
        &mut self,
        ctx: &mut Context<ReconstructedPulse, Record>,
        epoch: Option<i64>,
        showers: &mut u64,
    ) -> Result<(), BoxError> {
        let zero = epoch.unwrap_or(0);
        while let Some(candidate) = self.filter.pop_candidate() {
            *showers += 1;
            self.stats.inner[2].fetch_add(1, Ordering::Relaxed);
            let start = candidate.start();
            let abs: Vec<(usize, f64)> = candidate
                .pulses
                .iter()
                .map(|p| (p.detector, p.time))
                .collect();
            let direction = self.finder.find(&abs);
            let record = ShowerRecord {
                id: *showers,
                utc: UtcNanos(zero.saturating_add(start.round() as i64)),
                pulse_ids: candidate.pulses.iter().filter_map(|p| p.fit_ref).collect(),
                hits: abs.iter().map(|&(d, t)| (d, t - start)).collect(),
                direction,
            };
            match &record.direction {
                Ok(d) => tracing::info!(
                    "shower {} at {}: {} detectors, zenith {:.1}°, azimuth {:.1}°",
                    record.id,
                    record.utc,
                    record.hits.len(),
                    d.zenith.value.to_degrees(),
                    d.azimuth.value.to_degrees()
                ),
                Err(e) => tracing::info!(
                    "shower {} at {}: {} detectors, no direction: {e}",
                    record.id,
                    record.utc,
                    record.hits.len()
                ),
            }
            ctx.send(Record::Shower(Box::new(record))).await?;
        }
        Ok(())
    }
}
