//! `ShowerFilter`: streaming coincidence filter that turns detector pulses into shower
//! candidates.
//!
//! # The grouping, precisely
//!
//! Take all accepted pulses in time order (equal times in arrival order).
//!
//! 1. The earliest pulse not yet used is the **seed**; it opens the window
//!    `[t_seed, t_seed + window]`.
//! 2. The **candidate** starts as `{seed}`. The other unused pulses in the window are
//!    visited in time order; a pulse joins when its detector is not in the candidate yet
//!    and it is **causal** with every member: `|t_a − t_b| ≤ d_ab/c + margin` (`d_ab` =
//!    distance between the two detectors). So each detector contributes its earliest
//!    compatible pulse.
//! 3. With at least `min_detectors` distinct detectors the candidate is emitted and all
//!    its pulses are used. Otherwise only the seed is used (dropped) and the next unused
//!    pulse becomes the seed.
//!
//! # Streaming and lateness
//!
//! Pulses may arrive out of order by up to `lateness` ns. The filter keeps the largest
//! time seen, `t_max`; the **watermark** is `t_max − lateness`. A pulse older than the
//! watermark is refused ([`ShowerError::Late`]). A seed is decided once the watermark
//! has passed the end of its window, when every pulse of the window is known to be in.
//! The buffer therefore holds only pulses newer than `watermark − window`: about one
//! window plus the lateness. [`ShowerFilter::flush`] decides the rest at end of stream.
//! Given the same accepted pulses, the result is exactly that of the batch definition
//! above (the tests check this against a brute-force implementation).
//!
//! # Examples
//!
//! ```rust
//! use components::physics::layout::DetectorLayout;
//! use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
//!
//! let layout = DetectorLayout::grid(2, 2, 10.0)?;
//! let mut filter = ShowerFilter::new(layout, ShowerFilterConfig::default())?;
//! for (detector, time) in [(0, 1000.0), (1, 1012.0), (3, 1020.0), (2, 5000.0)] {
//!     filter.push(ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None })?;
//! }
//! filter.flush();
//! let shower = filter.pop_candidate().expect("three detectors within causality");
//! assert_eq!(shower.pulses.len(), 3);
//! assert!(filter.pop_candidate().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, ShowerError};
use super::layout::{DetectorLayout, SPEED_OF_LIGHT};

/// One detector pulse as the filter sees it.
///
/// # Examples
///
/// ```rust
/// use components::physics::shower::ShowerPulse;
///
/// // Detector 2 saw a 0.6 V pulse at t = 1500 ns; its fit is record 42.
/// let p = ShowerPulse { detector: 2, time: 1500.0, amplitude: 0.6, fit_ref: Some(42) };
/// assert_eq!(p.fit_ref, Some(42));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShowerPulse {
    /// Detector id (index in the layout).
    pub detector: usize,
    /// Absolute time, ns.
    pub time: f64,
    /// Peak height, V.
    pub amplitude: f64,
    /// Reference to the pulse's fit, if any (opaque to the filter).
    pub fit_ref: Option<u64>,
}

/// A group of pulses from distinct detectors that may come from one shower.
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
/// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
///
/// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
/// for (d, t) in [(0, 100.0), (1, 110.0), (2, 120.0)] {
///     filter.push(pulse(d, t))?;
/// }
/// filter.flush();
/// let shower = filter.pop_candidate().unwrap();
/// assert_eq!(shower.start(), 100.0);
/// assert_eq!(shower.detectors(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowerCandidate {
    /// Member pulses in time order; the first is the seed.
    pub pulses: Vec<ShowerPulse>,
}

impl ShowerCandidate {
    /// Time of the seed, ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::shower::{ShowerCandidate, ShowerPulse};
    ///
    /// let seed = ShowerPulse { detector: 1, time: 250.0, amplitude: 0.4, fit_ref: None };
    /// let c = ShowerCandidate { pulses: vec![seed] };
    /// assert_eq!(c.start(), 250.0);
    /// assert!(ShowerCandidate { pulses: vec![] }.start().is_nan());
    /// ```
    pub fn start(&self) -> f64 {
        self.pulses.first().map_or(f64::NAN, |p| p.time)
    }

    /// Number of distinct detectors (= number of pulses).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::shower::{ShowerCandidate, ShowerPulse};
    ///
    /// let p = |detector| ShowerPulse { detector, time: 0.0, amplitude: 0.4, fit_ref: None };
    /// let c = ShowerCandidate { pulses: vec![p(0), p(2), p(3)] };
    /// assert_eq!(c.detectors(), 3);
    /// ```
    pub fn detectors(&self) -> usize {
        self.pulses.len()
    }
}

/// Settings of a [`ShowerFilter`].
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
///
/// // Pairs are enough, with a fixed 100 ns window.
/// let cfg = ShowerFilterConfig { min_detectors: 2, window: Some(100.0), ..ShowerFilterConfig::default() };
/// let filter = ShowerFilter::new(DetectorLayout::grid(2, 1, 10.0)?, cfg)?;
/// assert_eq!(filter.window(), 100.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShowerFilterConfig {
    /// Fewest distinct detectors for a candidate (default 3).
    pub min_detectors: usize,
    /// Causality margin added to `distance/c`, ns (default 10).
    pub margin: f64,
    /// Window length from the seed, ns; `None` = the largest pairwise causal limit of the
    /// layout, which no causal group can exceed.
    pub window: Option<f64>,
    /// Largest out-of-order delay accepted, ns (default 1000).
    pub lateness: f64,
}

impl Default for ShowerFilterConfig {
    fn default() -> Self {
        ShowerFilterConfig {
            min_detectors: 3,
            margin: 10.0,
            window: None,
            lateness: 1000.0,
        }
    }
}

/// Counters of a [`ShowerFilter`].
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
/// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
///
/// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
/// for (d, t) in [(0, 100.0), (1, 110.0), (2, 120.0), (3, 5000.0)] {
///     filter.push(pulse(d, t))?;
/// }
/// assert!(filter.push(pulse(0, 50.0)).is_err()); // older than the watermark
/// filter.flush();
/// let stats = filter.stats();
/// assert_eq!((stats.accepted, stats.late), (4, 1));
/// assert_eq!((stats.candidates, stats.in_candidates), (1, 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShowerFilterStats {
    /// Pulses accepted.
    pub accepted: u64,
    /// Pulses refused as late.
    pub late: u64,
    /// Candidates emitted.
    pub candidates: u64,
    /// Pulses used in candidates.
    pub in_candidates: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    pulse: ShowerPulse,
    used: bool,
}

/// Streaming coincidence filter; see the [module docs](self).
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
/// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
///
/// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
/// // Out of order by a few ns is fine.
/// for (d, t) in [(1, 110.0), (0, 100.0), (3, 105.0)] {
///     filter.push(pulse(d, t))?;
/// }
/// filter.flush();
/// let shower = filter.pop_candidate().unwrap();
/// let detectors: Vec<usize> = shower.pulses.iter().map(|p| p.detector).collect();
/// assert_eq!(detectors, [0, 3, 1]); // time order
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ShowerFilter {
    config: ShowerFilterConfig,
    window: f64,
    n_detectors: usize,
    /// `limit[a·n + b]` = `d_ab/c + margin`.
    limit: Vec<f64>,
    buffer: VecDeque<Slot>,
    t_max: f64,
    ready: VecDeque<ShowerCandidate>,
    stats: ShowerFilterStats,
    /// Scratch: buffer indices of the candidate being built.
    members: Vec<usize>,
    /// Scratch: detector already in the candidate.
    taken: Vec<bool>,
}

impl ShowerFilter {
    /// A filter for `layout`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] for `min_detectors` < 2 or larger than the layout, a
    /// negative or non-finite margin, window or lateness.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::error::ConfigError;
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
    ///
    /// let layout = DetectorLayout::grid(2, 2, 10.0)?;
    /// assert!(ShowerFilter::new(layout.clone(), ShowerFilterConfig::default()).is_ok());
    /// let too_many = ShowerFilterConfig { min_detectors: 5, ..ShowerFilterConfig::default() };
    /// assert!(matches!(
    ///     ShowerFilter::new(layout.clone(), too_many),
    ///     Err(ConfigError::OutOfRange { name: "min_detectors", .. })
    /// ));
    /// let negative = ShowerFilterConfig { margin: -1.0, ..ShowerFilterConfig::default() };
    /// assert!(ShowerFilter::new(layout, negative).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(layout: DetectorLayout, config: ShowerFilterConfig) -> Result<Self, ConfigError> {
        let n = layout.len();
        if config.min_detectors < 2 || config.min_detectors > n {
            return Err(ConfigError::OutOfRange {
                name: "min_detectors",
                value: config.min_detectors as f64,
                expected: "2 ..= number of detectors",
            });
        }
        for (name, value) in [
            ("margin", Some(config.margin)),
            ("window", config.window),
            ("lateness", Some(config.lateness)),
        ] {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(ConfigError::OutOfRange {
                    name,
                    value: v,
                    expected: "finite, >= 0",
                });
            }
        }
        let mut limit = vec![0.0; n * n];
        for a in 0..n {
            for b in 0..n {
                let d = layout.distance(a, b).unwrap_or(0.0);
                limit[a * n + b] = d / SPEED_OF_LIGHT + config.margin;
            }
        }
        let window = config
            .window
            .unwrap_or_else(|| limit.iter().copied().fold(0.0, f64::max));
        Ok(ShowerFilter {
            config,
            window,
            n_detectors: n,
            limit,
            buffer: VecDeque::new(),
            t_max: f64::NEG_INFINITY,
            ready: VecDeque::new(),
            stats: ShowerFilterStats::default(),
            members: Vec::new(),
            taken: vec![false; n],
        })
    }

    /// The window length in use, ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig};
    ///
    /// // Default: the largest causal limit, diagonal / c + margin.
    /// let layout = DetectorLayout::grid(2, 2, 10.0)?;
    /// let filter = ShowerFilter::new(layout.clone(), ShowerFilterConfig::default())?;
    /// let expected = layout.extent() / SPEED_OF_LIGHT + 10.0;
    /// assert!((filter.window() - expected).abs() < 1e-9);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn window(&self) -> f64 {
        self.window
    }

    /// Counters so far.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
    /// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
    ///
    /// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
    /// assert_eq!(filter.stats().accepted, 0);
    /// filter.push(pulse(0, 100.0))?;
    /// assert_eq!(filter.stats().accepted, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> ShowerFilterStats {
        self.stats
    }

    /// Pulses currently buffered.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
    /// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
    ///
    /// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
    /// filter.push(pulse(0, 100.0))?;
    /// filter.push(pulse(1, 110.0))?;
    /// assert_eq!(filter.buffered(), 2);
    /// filter.flush(); // two detectors are too few: both are dropped
    /// assert_eq!(filter.buffered(), 0);
    /// assert!(filter.pop_candidate().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Current watermark, ns (−∞ before the first pulse).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
    /// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
    ///
    /// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
    /// assert_eq!(filter.watermark(), f64::NEG_INFINITY);
    /// filter.push(pulse(0, 5000.0))?;
    /// assert_eq!(filter.watermark(), 4000.0); // default lateness 1000 ns
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watermark(&self) -> f64 {
        self.t_max - self.config.lateness
    }

    /// Offers one pulse; decided candidates become available from
    /// [`pop_candidate`](Self::pop_candidate).
    ///
    /// # Errors
    ///
    /// [`ShowerError::UnknownDetector`], [`ShowerError::NotFinite`], or
    /// [`ShowerError::Late`] for a pulse older than the watermark (it is dropped and
    /// counted in [`ShowerFilterStats::late`]).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::error::ShowerError;
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
    /// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
    ///
    /// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
    /// filter.push(pulse(0, 5000.0))?;
    /// assert_eq!(filter.push(pulse(7, 5000.0)), Err(ShowerError::UnknownDetector(7)));
    /// assert!(matches!(filter.push(pulse(1, f64::NAN)), Err(ShowerError::NotFinite(_))));
    /// assert_eq!(
    ///     filter.push(pulse(1, 3000.0)),
    ///     Err(ShowerError::Late { time: 3000.0, watermark: 4000.0 })
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&mut self, pulse: ShowerPulse) -> Result<(), ShowerError> {
        if pulse.detector >= self.n_detectors {
            return Err(ShowerError::UnknownDetector(pulse.detector));
        }
        if !pulse.time.is_finite() {
            return Err(ShowerError::NotFinite(pulse.time));
        }
        let watermark = self.watermark();
        if pulse.time < watermark {
            self.stats.late += 1;
            return Err(ShowerError::Late {
                time: pulse.time,
                watermark,
            });
        }
        self.stats.accepted += 1;
        let slot = Slot { pulse, used: false };
        if self
            .buffer
            .back()
            .is_none_or(|b| b.pulse.time <= pulse.time)
        {
            self.buffer.push_back(slot);
        } else {
            let at = self.buffer.partition_point(|s| s.pulse.time <= pulse.time);
            self.buffer.insert(at, slot);
        }
        if pulse.time > self.t_max {
            self.t_max = pulse.time;
            self.decide(self.watermark());
        }
        Ok(())
    }

    /// Decides every remaining seed (end of stream).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
    /// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
    ///
    /// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
    /// for (d, t) in [(0, 100.0), (1, 110.0), (2, 120.0)] {
    ///     filter.push(pulse(d, t))?;
    /// }
    /// // The watermark has not passed the window yet: nothing is decided.
    /// assert!(filter.pop_candidate().is_none());
    /// filter.flush();
    /// assert!(filter.pop_candidate().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&mut self) {
        self.decide(f64::INFINITY);
    }

    /// The oldest decided candidate not yet taken.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
    /// # let pulse = |detector, time| ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None };
    ///
    /// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
    /// for (d, t) in [(0, 100.0), (1, 110.0), (2, 120.0), (0, 9000.0), (1, 9010.0), (3, 9020.0)] {
    ///     filter.push(pulse(d, t))?;
    /// }
    /// filter.flush();
    /// assert_eq!(filter.pop_candidate().map(|c| c.start()), Some(100.0));
    /// assert_eq!(filter.pop_candidate().map(|c| c.start()), Some(9000.0));
    /// assert!(filter.pop_candidate().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_candidate(&mut self) -> Option<ShowerCandidate> {
        self.ready.pop_front()
    }

    /// Decides seeds whose window ends at or before `horizon`.
    fn decide(&mut self, horizon: f64) {
        loop {
            while self.buffer.front().is_some_and(|s| s.used) {
                self.buffer.pop_front();
            }
            let Some(seed) = self.buffer.front().map(|s| s.pulse) else {
                return;
            };
            let end = seed.time + self.window;
            if end > horizon {
                return;
            }
            self.members.clear();
            self.members.push(0);
            self.taken[seed.detector] = true;
            let n = self.n_detectors;
            for i in 1..self.buffer.len() {
                let cand = &self.buffer[i];
                if cand.pulse.time > end {
                    break;
                }
                if cand.used || self.taken[cand.pulse.detector] {
                    continue;
                }
                let (d, t) = (cand.pulse.detector, cand.pulse.time);
                let causal = self.members.iter().all(|&m| {
                    let other = &self.buffer[m].pulse;
                    (t - other.time).abs() <= self.limit[d * n + other.detector]
                });
                if causal {
                    self.members.push(i);
                    self.taken[d] = true;
                }
            }
            for &m in &self.members {
                self.taken[self.buffer[m].pulse.detector] = false;
            }
            if self.members.len() >= self.config.min_detectors {
                let pulses = self.members.iter().map(|&m| self.buffer[m].pulse).collect();
                for &m in &self.members {
                    self.buffer[m].used = true;
                }
                self.stats.candidates += 1;
                self.stats.in_candidates += self.members.len() as u64;
                self.ready.push_back(ShowerCandidate { pulses });
            } else {
                self.buffer[0].used = true;
            }
        }
    }
}

/// Accidental coincidence rate of two channels, Hz: `2τ·R1·R2` for half-window `τ` ns and
/// singles rates `R1`, `R2` in Hz.
///
/// # Examples
///
/// ```rust
/// use components::physics::shower::accidental_rate;
///
/// // 33 ns half-window, 400 Hz on each channel: about 1.06e-2 Hz.
/// let r = accidental_rate(33.0, 400.0, 400.0);
/// assert!((r - 2.0 * 33e-9 * 400.0 * 400.0).abs() < 1e-15);
/// ```
pub fn accidental_rate(half_window_ns: f64, rate1_hz: f64, rate2_hz: f64) -> f64 {
    2.0 * half_window_ns * 1e-9 * rate1_hz * rate2_hz
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// The batch definition from the module docs, written the obvious way.
    fn reference(
        layout: &DetectorLayout,
        cfg: &ShowerFilterConfig,
        window: f64,
        pulses: &[ShowerPulse],
    ) -> Vec<Vec<ShowerPulse>> {
        let mut sorted = pulses.to_vec();
        sorted.sort_by(|a, b| a.time.total_cmp(&b.time));
        let causal = |a: &ShowerPulse, b: &ShowerPulse| {
            let d = layout.distance(a.detector, b.detector).expect("known");
            (a.time - b.time).abs() <= d / SPEED_OF_LIGHT + cfg.margin
        };
        let mut used = vec![false; sorted.len()];
        let mut out = Vec::new();
        for s in 0..sorted.len() {
            if used[s] {
                continue;
            }
            let mut cand = vec![s];
            for j in s + 1..sorted.len() {
                if sorted[j].time > sorted[s].time + window {
                    break;
                }
                let fresh = cand
                    .iter()
                    .all(|&c| sorted[c].detector != sorted[j].detector);
                if !used[j] && fresh && cand.iter().all(|&c| causal(&sorted[c], &sorted[j])) {
                    cand.push(j);
                }
            }
            used[s] = true;
            if cand.len() >= cfg.min_detectors {
                for &c in &cand {
                    used[c] = true;
                }
                out.push(cand.iter().map(|&c| sorted[c]).collect());
            }
        }
        out
    }

    fn random_stream(rng: &mut ChaCha8Rng, n_det: usize, len: usize) -> Vec<ShowerPulse> {
        let mut t = 0.0;
        let mut pulses = Vec::with_capacity(len);
        while pulses.len() < len {
            // Clusters (shower-like) mixed with isolated pulses.
            t += rng.random::<f64>() * 300.0;
            let burst = if rng.random::<f64>() < 0.4 {
                rng.random_range(2..=n_det + 2)
            } else {
                1
            };
            for _ in 0..burst {
                pulses.push(ShowerPulse {
                    detector: rng.random_range(0..n_det),
                    time: t + rng.random::<f64>() * 60.0,
                    amplitude: 1.0,
                    fit_ref: Some(pulses.len() as u64),
                });
            }
        }
        pulses.sort_by(|a, b| a.time.total_cmp(&b.time));
        pulses
    }

    #[test]
    fn streaming_equals_the_reference_on_random_out_of_order_streams() {
        let mut rng = ChaCha8Rng::seed_from_u64(2024);
        for case in 0..200 {
            let layout = DetectorLayout::new(
                (0..rng.random_range(3..7))
                    .map(|_| [rng.random::<f64>() * 20.0, rng.random::<f64>() * 20.0, 0.0])
                    .collect(),
            )
            .expect("valid");
            let cfg = ShowerFilterConfig {
                min_detectors: rng.random_range(2..=3),
                margin: rng.random::<f64>() * 15.0,
                window: if case % 3 == 0 { Some(40.0) } else { None },
                lateness: 200.0,
            };
            let pulses = random_stream(&mut rng, layout.len(), 300);
            // Arrival order: each pulse delayed by less than the lateness.
            let mut arrival: Vec<(f64, ShowerPulse)> = pulses
                .iter()
                .map(|p| (p.time + rng.random::<f64>() * cfg.lateness, *p))
                .collect();
            arrival.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut filter = ShowerFilter::new(layout.clone(), cfg).expect("valid");
            let mut got = Vec::new();
            let mut max_buffer = 0;
            for (_, p) in arrival {
                filter.push(p).expect("never late by construction");
                max_buffer = max_buffer.max(filter.buffered());
                while let Some(c) = filter.pop_candidate() {
                    got.push(c.pulses);
                }
            }
            filter.flush();
            while let Some(c) = filter.pop_candidate() {
                got.push(c.pulses);
            }
            let want = reference(&layout, &cfg, filter.window(), &pulses);
            assert_eq!(got, want, "case {case}");
            // One window plus the lateness holds a few dozen pulses of this stream.
            assert!(max_buffer < 60, "case {case}: buffer grew to {max_buffer}");
        }
    }

    #[test]
    fn late_pulses_are_refused_and_counted() {
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let cfg = ShowerFilterConfig {
            lateness: 100.0,
            ..ShowerFilterConfig::default()
        };
        let mut f = ShowerFilter::new(layout, cfg).expect("valid");
        let p = |detector, time| ShowerPulse {
            detector,
            time,
            amplitude: 1.0,
            fit_ref: None,
        };
        f.push(p(0, 1000.0)).expect("first");
        assert!(matches!(f.push(p(1, 899.0)), Err(ShowerError::Late { .. })));
        assert!(f.push(p(1, 901.0)).is_ok());
        assert_eq!(f.push(p(9, 950.0)), Err(ShowerError::UnknownDetector(9)));
        assert_eq!(f.stats().late, 1);
    }

    #[test]
    fn causality_cut_rejects_pairs_too_far_apart_in_time() {
        // 10 m apart: 33.4 ns of light travel + 10 ns margin.
        let layout = DetectorLayout::new(vec![[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
            .expect("valid");
        let mut f = ShowerFilter::new(layout, ShowerFilterConfig::default()).expect("valid");
        let p = |detector, time| ShowerPulse {
            detector,
            time,
            amplitude: 1.0,
            fit_ref: None,
        };
        for (d, t) in [
            (0, 0.0),
            (1, 43.0),
            (2, 44.0),
            (0, 1000.0),
            (1, 1043.0),
            (2, 1020.0),
        ] {
            f.push(p(d, t)).expect("in order");
        }
        f.flush();
        let c = f.pop_candidate().expect("the second group is causal");
        assert_eq!(c.start(), 1000.0);
        assert_eq!(c.detectors(), 3);
        assert!(f.pop_candidate().is_none());
    }

    #[test]
    fn accidental_rate_matches_simulation() {
        // Two channels at 400 Hz, τ = 33 ns: count pairs within ±τ over 2000 s of data.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (r, tau, span) = (400.0, 33.0, 2000e9);
        let draw = |rng: &mut ChaCha8Rng| {
            let mut t = 0.0;
            let mut v = Vec::new();
            while t < span {
                t += -(1.0 - rng.random::<f64>()).ln() / (r * 1e-9);
                v.push(t);
            }
            v
        };
        let a = draw(&mut rng);
        let b = draw(&mut rng);
        let (mut j, mut pairs) = (0, 0usize);
        for &ta in &a {
            while j < b.len() && b[j] < ta - tau {
                j += 1;
            }
            let mut k = j;
            while k < b.len() && b[k] <= ta + tau {
                pairs += 1;
                k += 1;
            }
        }
        let expected = accidental_rate(tau, r, r) * span * 1e-9;
        // ≈ 21 expected; Poisson 3σ ≈ 14.
        assert!(
            (pairs as f64 - expected).abs() < 3.0 * expected.sqrt() + 1.0,
            "{pairs} vs {expected}"
        );
    }
}
