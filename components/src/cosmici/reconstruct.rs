//! From a node's pulse to the physics' view of it: which detector a FEDM channel
//! reads ([`DetectorMap`]) and a pulse's crossings in volts and ns
//! ([`crossings_of`]). Needs the `physics` feature; the components that use them are
//! in [`pipeline`](super::pipeline).

use super::timing::TimedPulse;
use super::wire::pulse::Edge;
use crate::physics::error::CrossingsError;
use crate::physics::fit::{Crossings, LevelCrossing};

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

/// Why a pulse's crossings cannot be put in volts and ns.
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
/// // The node's DAC_LEVELS never arrived: no threshold volts to fit against.
/// let mut pulse = timed(1, 1);
/// pulse.levels.clear();
/// assert_eq!(crossings_of(&pulse), Err(ReconstructError::UnknownLevel { node: 1, level: 1 }));
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
