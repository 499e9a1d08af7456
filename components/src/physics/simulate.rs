//! Seeded synthetic pulses and showers, with ground truth.
//!
//! * [`PulseSynth`] draws single pulses (peak height from an [`AmplitudeDist`], shape
//!   around a calibration with optional smearing, onset at a random clock phase) and
//!   produces the threshold crossings the FEDM would report: each edge gets Gaussian
//!   jitter, is floored onto the clock, and the nesting the hardware enforces (a higher
//!   level rises no earlier and falls no later than the level below it) is applied.
//! * [`ShowerSim`] yields a time-ordered stream of [`SimEvent`]s over a
//!   [`DetectorLayout`]: Poisson showers with zenith angles from `cos²θ·sinθ`, uniform
//!   azimuth and a flat front, plus Poisson background pulses on every channel.
//!
//! Both use [`ChaCha8Rng`] seeded explicitly, so a seed gives the same stream on every
//! platform and version.
//!
//! **Direction convention** (shared with [`super::angle`]): zenith `θ` from `+z` (up),
//! azimuth `φ` from `+x` (east) towards `+y` (north); `(θ, φ)` is where the shower comes
//! *from*, so the front moves along `u = −(sinθ cosφ, sinθ sinφ, cosθ)` and reaches
//! detector `i` at `t0 + u·r_i/c`.
//!
//! # Examples
//!
//! ```rust
//! use components::physics::simulate::{PulseSynth, PulseSynthConfig};
//!
//! let mut synth = PulseSynth::new(PulseSynthConfig::default(), 42)?;
//! let (truth, crossings) = synth.next_pulse();
//! assert_eq!(crossings.levels.iter().filter(|l| l.level < truth.peak_height()).count(),
//!            crossings.levels.len());
//! # Ok::<(), components::physics::error::ConfigError>(())
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, StandardNormal};
use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use super::fit::{Crossings, LevelCrossing};
use super::layout::{DetectorLayout, SPEED_OF_LIGHT};
use super::model::{BiExpPulse, Edge, PulseShape};

/// The FEDM threshold ladder: `0.2·1.5^k` V for `k = 0..5` (five usable levels).
///
/// # Examples
///
/// ```rust
/// use components::physics::simulate::fedm_ladder;
///
/// let ladder = fedm_ladder();
/// assert_eq!(ladder.len(), 5);
/// for (got, want) in ladder.iter().zip([0.2, 0.3, 0.45, 0.675, 1.0125]) {
///     assert!((got - want).abs() < 1e-12);
/// }
/// assert!(ladder.windows(2).all(|w| w[1] > w[0]));
/// ```
pub fn fedm_ladder() -> Vec<f64> {
    (0..5).map(|k| 0.2 * 1.5f64.powi(k)).collect()
}

/// Distribution of pulse peak heights, V.
///
/// # Examples
///
/// ```rust
/// use components::physics::simulate::{AmplitudeDist, PulseSynth, PulseSynthConfig};
///
/// let cfg = PulseSynthConfig {
///     amplitude: AmplitudeDist::LogUniform { min: 0.5, max: 1.0 },
///     ..PulseSynthConfig::default()
/// };
/// let mut synth = PulseSynth::new(cfg, 11)?;
/// for _ in 0..100 {
///     let (truth, _) = synth.next_pulse();
///     assert!((0.5..=1.0).contains(&truth.peak_height()));
/// }
/// // Index 1 is not a normalisable power law here.
/// let bad = PulseSynthConfig {
///     amplitude: AmplitudeDist::PowerLaw { min: 0.2, max: 3.0, index: 1.0 },
///     ..PulseSynthConfig::default()
/// };
/// assert!(PulseSynth::new(bad, 11).is_err());
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AmplitudeDist {
    /// Uniform in `ln H` between the bounds.
    LogUniform {
        /// Smallest peak height, V.
        min: f64,
        /// Largest peak height, V.
        max: f64,
    },
    /// `dN/dH ∝ H^−index` between the bounds (`index ≠ 1`).
    PowerLaw {
        /// Smallest peak height, V.
        min: f64,
        /// Largest peak height, V.
        max: f64,
        /// Spectral index.
        index: f64,
    },
}

impl AmplitudeDist {
    fn validate(&self) -> Result<(), ConfigError> {
        let (min, max, index) = match *self {
            AmplitudeDist::LogUniform { min, max } => (min, max, 0.0),
            AmplitudeDist::PowerLaw { min, max, index } => (min, max, index),
        };
        let ok = min.is_finite() && max.is_finite() && min > 0.0 && max > min;
        if !ok {
            return Err(ConfigError::OutOfRange {
                name: "amplitude bounds",
                value: min,
                expected: "0 < min < max",
            });
        }
        if !index.is_finite() || (index - 1.0).abs() < 1e-9 {
            return Err(ConfigError::OutOfRange {
                name: "amplitude index",
                value: index,
                expected: "finite, != 1",
            });
        }
        Ok(())
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        let u: f64 = rng.random();
        match *self {
            AmplitudeDist::LogUniform { min, max } => min * (max / min).powf(u),
            AmplitudeDist::PowerLaw { min, max, index } => {
                let e = 1.0 - index;
                let (a, b) = (min.powf(e), max.powf(e));
                (a + u * (b - a)).powf(1.0 / e)
            }
        }
    }
}

/// Settings of a [`PulseSynth`].
///
/// # Examples
///
/// ```rust
/// use components::physics::simulate::{PulseSynth, PulseSynthConfig};
///
/// // A noiseless 1 ns clock with two levels.
/// let cfg = PulseSynthConfig {
///     levels: vec![0.1, 0.2],
///     clock_period: 1.0,
///     jitter: 0.0,
///     ..PulseSynthConfig::default()
/// };
/// let mut synth = PulseSynth::new(cfg, 0)?;
/// let (_, crossings) = synth.next_pulse();
/// assert!(crossings.levels.iter().all(|l| l.rise.fract() == 0.0 && l.fall.fract() == 0.0));
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulseSynthConfig {
    /// Threshold levels, V, increasing (default [`fedm_ladder`]).
    pub levels: Vec<f64>,
    /// Clock period, ns (default 2).
    pub clock_period: f64,
    /// Gaussian jitter per edge, ns (default 0.3).
    pub jitter: f64,
    /// Mean pulse shape (default τr = 0.9 ns, τd = 2.1 ns).
    pub shape: PulseShape,
    /// Relative Gaussian spread of rise and decay, pulse to pulse (default 0).
    pub shape_spread: f64,
    /// Peak-height distribution (default power law, index 2, 0.15–3 V).
    pub amplitude: AmplitudeDist,
}

impl Default for PulseSynthConfig {
    fn default() -> Self {
        PulseSynthConfig {
            levels: fedm_ladder(),
            clock_period: 2.0,
            jitter: 0.3,
            shape: PulseShape::SCINTILLATOR,
            shape_spread: 0.0,
            amplitude: AmplitudeDist::PowerLaw {
                min: 0.15,
                max: 3.0,
                index: 2.0,
            },
        }
    }
}

/// Seeded generator of single pulses and their threshold crossings.
///
/// # Examples
///
/// ```rust
/// use components::physics::simulate::{AmplitudeDist, PulseSynth, PulseSynthConfig};
///
/// let cfg = PulseSynthConfig {
///     amplitude: AmplitudeDist::LogUniform { min: 0.3, max: 0.45 },
///     ..PulseSynthConfig::default()
/// };
/// let mut synth = PulseSynth::new(cfg, 1)?;
/// let (_, crossings) = synth.next_pulse();
/// assert_eq!(crossings.levels.len(), 2);
/// assert_eq!(crossings.next_level, Some(0.45));
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PulseSynth {
    config: PulseSynthConfig,
    rng: ChaCha8Rng,
}

impl PulseSynth {
    /// A generator with a fixed seed.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for unordered or non-positive levels, a non-positive clock period,
    /// negative jitter or spread, an invalid shape or amplitude distribution.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::error::ConfigError;
    /// use components::physics::simulate::{PulseSynth, PulseSynthConfig};
    ///
    /// // The same seed gives the same pulses.
    /// let mut a = PulseSynth::new(PulseSynthConfig::default(), 42)?;
    /// let mut b = PulseSynth::new(PulseSynthConfig::default(), 42)?;
    /// assert_eq!(a.next_pulse(), b.next_pulse());
    ///
    /// let unordered = PulseSynthConfig { levels: vec![0.3, 0.2], ..PulseSynthConfig::default() };
    /// assert!(matches!(
    ///     PulseSynth::new(unordered, 42),
    ///     Err(ConfigError::OutOfRange { name: "levels", .. })
    /// ));
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn new(config: PulseSynthConfig, seed: u64) -> Result<Self, ConfigError> {
        config.shape.validate()?;
        config.amplitude.validate()?;
        let ordered = config.levels.windows(2).all(|w| w[1] > w[0]);
        if config.levels.is_empty()
            || !ordered
            || config.levels.iter().any(|l| !(l.is_finite() && *l > 0.0))
        {
            return Err(ConfigError::OutOfRange {
                name: "levels",
                value: config.levels.first().copied().unwrap_or(f64::NAN),
                expected: "non-empty, positive, strictly increasing",
            });
        }
        let checks = [
            (
                "clock_period",
                config.clock_period,
                config.clock_period > 0.0,
            ),
            ("jitter", config.jitter, config.jitter >= 0.0),
            (
                "shape_spread",
                config.shape_spread,
                config.shape_spread >= 0.0,
            ),
        ];
        for (name, value, ok) in checks {
            if !(ok && value.is_finite()) {
                return Err(ConfigError::OutOfRange {
                    name,
                    value,
                    expected: ">= 0 (clock period > 0)",
                });
            }
        }
        Ok(PulseSynth {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// The settings in use.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::simulate::{PulseSynth, PulseSynthConfig, fedm_ladder};
    ///
    /// let synth = PulseSynth::new(PulseSynthConfig::default(), 1)?;
    /// assert_eq!(synth.config().levels, fedm_ladder());
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> &PulseSynthConfig {
        &self.config
    }

    /// Draws a pulse (onset 20 ns plus a random clock phase) and its crossings: the
    /// pulse itself is the ground truth (peak height, peak time and area are its
    /// methods).
    ///
    /// A pulse below the lowest level has no crossings (`levels` empty).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::simulate::{AmplitudeDist, PulseSynth, PulseSynthConfig};
    ///
    /// // Every pulse stays below the lowest (0.2 V) level.
    /// let cfg = PulseSynthConfig {
    ///     amplitude: AmplitudeDist::LogUniform { min: 0.05, max: 0.15 },
    ///     ..PulseSynthConfig::default()
    /// };
    /// let mut synth = PulseSynth::new(cfg, 4)?;
    /// let (truth, crossings) = synth.next_pulse();
    /// assert!(truth.peak_height() < 0.2);
    /// assert!(crossings.levels.is_empty());
    /// assert_eq!(crossings.next_level, Some(0.2));
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn next_pulse(&mut self) -> (BiExpPulse, Crossings) {
        let onset = 20.0 + self.rng.random::<f64>() * self.config.clock_period;
        let pulse = self.draw_pulse(onset);
        let crossings = self.crossings_for(&pulse);
        (pulse, crossings)
    }

    /// Draws a pulse with the given onset (ns): peak height and shape as configured.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::PulseShape;
    /// use components::physics::simulate::{PulseSynth, PulseSynthConfig};
    ///
    /// let mut synth = PulseSynth::new(PulseSynthConfig::default(), 2)?;
    /// let pulse = synth.draw_pulse(100.0);
    /// assert_eq!(pulse.onset, 100.0);
    /// assert_eq!(pulse.shape, PulseShape::SCINTILLATOR); // no shape spread by default
    /// assert!((0.15..=3.0).contains(&pulse.peak_height()));
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn draw_pulse(&mut self, onset: f64) -> BiExpPulse {
        let cfg = &self.config;
        let height = cfg.amplitude.sample(&mut self.rng);
        let mut shape = cfg.shape;
        if cfg.shape_spread > 0.0 {
            // Redraw until valid; a spread of tens of percent needs at most a few tries.
            for _ in 0..100 {
                let zr: f64 = self.rng.sample(StandardNormal);
                let zd: f64 = self.rng.sample(StandardNormal);
                let trial = PulseShape {
                    rise: cfg.shape.rise * (1.0 + cfg.shape_spread * zr),
                    decay: cfg.shape.decay * (1.0 + cfg.shape_spread * zd),
                };
                if trial.validate().is_ok() {
                    shape = trial;
                    break;
                }
            }
        }
        BiExpPulse {
            amplitude: height / shape.unit_peak(),
            onset,
            shape,
        }
    }

    /// The crossings the hardware would report for `pulse`, on a clock with edges at
    /// multiples of the clock period.
    ///
    /// Each edge time gets independent Gaussian jitter. A continuous waveform crosses
    /// the levels in a fixed order (all rising edges upwards, then all falling edges
    /// downwards), and the hardware reports them nested, so the jittered times are put
    /// back into that order before they are floored onto the clock.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::fit::LevelCrossing;
    /// use components::physics::model::{BiExpPulse, Edge, PulseShape};
    /// use components::physics::simulate::{PulseSynth, PulseSynthConfig};
    ///
    /// // Without jitter the crossings are the model's, floored onto the 2 ns clock.
    /// let cfg = PulseSynthConfig { levels: vec![0.2, 0.3, 0.45], jitter: 0.0, ..PulseSynthConfig::default() };
    /// let mut synth = PulseSynth::new(cfg, 0)?;
    /// let pulse = BiExpPulse::from_peak(0.4, 100.5, PulseShape::SCINTILLATOR)?;
    /// let crossings = synth.crossings_for(&pulse);
    /// assert_eq!(crossings.levels.len(), 2);
    /// assert_eq!(crossings.next_level, Some(0.45));
    /// let floor = |t: f64| (t / 2.0).floor() * 2.0;
    /// let LevelCrossing { rise, fall, .. } = crossings.levels[0];
    /// assert_eq!(rise, floor(pulse.crossing(0.2, Edge::Rising).unwrap()));
    /// assert_eq!(fall, floor(pulse.crossing(0.2, Edge::Falling).unwrap()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn crossings_for(&mut self, pulse: &BiExpPulse) -> Crossings {
        let delta = self.config.clock_period;
        let mut out = Crossings::default();
        let mut times = Vec::with_capacity(2 * self.config.levels.len());
        let mut crossed = Vec::with_capacity(self.config.levels.len());
        for &level in &self.config.levels {
            let (Some(r), Some(f)) = (
                pulse.crossing(level, Edge::Rising),
                pulse.crossing(level, Edge::Falling),
            ) else {
                out.next_level = Some(level);
                break;
            };
            crossed.push(level);
            times.push(r);
            times.push(f);
        }
        for t in &mut times {
            let z: f64 = self.rng.sample(StandardNormal);
            *t += self.config.jitter * z;
        }
        times.sort_by(f64::total_cmp);
        let k = crossed.len();
        for (j, level) in crossed.into_iter().enumerate() {
            out.levels.push(LevelCrossing {
                level,
                rise: (times[j] / delta).floor() * delta,
                fall: (times[2 * k - 1 - j] / delta).floor() * delta,
            });
        }
        out
    }
}

/// Settings of a [`ShowerSim`].
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::simulate::{ShowerSim, ShowerSimConfig, SimEvent};
///
/// // Showers only, no background.
/// let cfg = ShowerSimConfig { background_rate: 0.0, ..ShowerSimConfig::default() };
/// let mut sim = ShowerSim::new(DetectorLayout::grid(2, 2, 10.0)?, cfg, 3)?;
/// let first = sim.find(|e| matches!(e, SimEvent::Pulse(_))).unwrap();
/// assert!(matches!(first, SimEvent::Pulse(p) if p.shower == Some(0)));
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowerSimConfig {
    /// Shower rate, Hz (default 0.65).
    pub shower_rate: f64,
    /// Background (single) rate per detector, Hz (default 200).
    pub background_rate: f64,
    /// Gaussian timing error of a detector's arrival time, ns (default 1).
    pub timing_sigma: f64,
    /// Probability that a detector records a passing shower (default 1).
    pub efficiency: f64,
    /// Peak-height distribution of all pulses.
    pub amplitude: AmplitudeDist,
}

impl Default for ShowerSimConfig {
    fn default() -> Self {
        ShowerSimConfig {
            shower_rate: 0.65,
            background_rate: 200.0,
            timing_sigma: 1.0,
            efficiency: 1.0,
            amplitude: AmplitudeDist::PowerLaw {
                min: 0.2,
                max: 3.0,
                index: 2.0,
            },
        }
    }
}

/// Ground truth of one simulated shower.
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::simulate::{ShowerSim, ShowerSimConfig, SimEvent};
///
/// // Showers only, no background.
/// let cfg = ShowerSimConfig { background_rate: 0.0, ..ShowerSimConfig::default() };
/// let mut sim = ShowerSim::new(DetectorLayout::grid(2, 2, 10.0)?, cfg, 3)?;
/// let Some(SimEvent::Shower(truth)) = sim.next() else { panic!("showers only") };
/// assert_eq!(truth.id, 0);
/// assert_eq!(truth.hits.len(), 4); // efficiency 1: every detector
/// assert!((0.0..=std::f64::consts::FRAC_PI_2).contains(&truth.zenith));
/// // Its pulses follow, none before `first_pulse`.
/// for _ in 0..4 {
///     let Some(SimEvent::Pulse(p)) = sim.next() else { panic!("a pulse") };
///     assert!(p.time >= truth.first_pulse);
/// }
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrueShower {
    /// Sequence number, from 0.
    pub id: u64,
    /// Time the front passes the layout origin, ns.
    pub time: f64,
    /// Zenith angle, rad.
    pub zenith: f64,
    /// Azimuth, rad, from `+x` towards `+y`.
    pub azimuth: f64,
    /// `(detector, time)` of every hit, before timing errors.
    pub hits: Vec<(usize, f64)>,
    /// Time of its earliest pulse in the stream (with timing errors), ns; `time` when
    /// no detector recorded it.
    pub first_pulse: f64,
}

/// One pulse of the simulated stream.
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::simulate::{ShowerSim, ShowerSimConfig, SimEvent};
///
/// // Background only.
/// let cfg = ShowerSimConfig { shower_rate: 0.0, ..ShowerSimConfig::default() };
/// let sim = ShowerSim::new(DetectorLayout::grid(2, 2, 10.0)?, cfg, 8)?;
/// for event in sim.take(50) {
///     let SimEvent::Pulse(p) = event else { panic!("no showers") };
///     assert!(p.shower.is_none() && p.detector < 4);
/// }
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimPulse {
    /// Detector id.
    pub detector: usize,
    /// Measured arrival time, ns.
    pub time: f64,
    /// Peak height, V.
    pub peak_height: f64,
    /// Id of the shower that made it, `None` for background.
    pub shower: Option<u64>,
}

/// An item of the simulated stream, in time order.
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::simulate::{ShowerSim, ShowerSimConfig, SimEvent};
///
/// let sim = ShowerSim::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerSimConfig::default(), 5)?;
/// let background = sim
///     .take(500)
///     .filter(|e| matches!(e, SimEvent::Pulse(p) if p.shower.is_none()))
///     .count();
/// assert!(background > 0);
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SimEvent {
    /// A shower's truth, emitted just before its earliest pulse (at
    /// [`TrueShower::first_pulse`]).
    Shower(TrueShower),
    /// A detector pulse.
    Pulse(SimPulse),
}

impl SimEvent {
    /// Stream time: a pulse's time, or a shower's earliest hit.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::simulate::{SimEvent, SimPulse};
    ///
    /// let p = SimPulse { detector: 0, time: 12.5, peak_height: 0.3, shower: None };
    /// assert_eq!(SimEvent::Pulse(p).time(), 12.5);
    /// ```
    pub fn time(&self) -> f64 {
        match self {
            SimEvent::Pulse(p) => p.time,
            SimEvent::Shower(s) => s.first_pulse,
        }
    }
}

/// Heap entry: earliest time first, then insertion order.
#[derive(Debug)]
struct Pending {
    time: f64,
    seq: u64,
    event: SimEvent,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .total_cmp(&self.time)
            .then(other.seq.cmp(&self.seq))
    }
}

/// Seeded, endless, time-ordered stream of showers and background pulses.
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
/// use components::physics::simulate::{ShowerSim, ShowerSimConfig, SimEvent};
///
/// let layout = DetectorLayout::grid(2, 2, 10.0)?;
/// let sim = ShowerSim::new(layout, ShowerSimConfig::default(), 5)?;
/// let events: Vec<SimEvent> = sim.take(1000).collect();
/// assert!(events.windows(2).all(|w| w[0].time() <= w[1].time()));
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct ShowerSim {
    layout: DetectorLayout,
    config: ShowerSimConfig,
    rng: ChaCha8Rng,
    pending: BinaryHeap<Pending>,
    seq: u64,
    next_shower: f64,
    next_background: f64,
    showers: u64,
    /// A front reaches a detector at most this long before it passes the origin, ns.
    lead: f64,
}

impl ShowerSim {
    /// A stream over `layout` with a fixed seed, starting at time 0.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for negative rates or timing error, an efficiency outside
    /// [0, 1], or an invalid amplitude distribution.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::error::ConfigError;
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::simulate::{ShowerSim, ShowerSimConfig};
    ///
    /// let layout = DetectorLayout::grid(2, 2, 10.0)?;
    /// // The same seed gives the same stream.
    /// let a: Vec<_> = ShowerSim::new(layout.clone(), ShowerSimConfig::default(), 1)?.take(100).collect();
    /// let b: Vec<_> = ShowerSim::new(layout.clone(), ShowerSimConfig::default(), 1)?.take(100).collect();
    /// assert_eq!(a, b);
    ///
    /// let bad = ShowerSimConfig { efficiency: 1.5, ..ShowerSimConfig::default() };
    /// assert!(matches!(
    ///     ShowerSim::new(layout, bad, 1),
    ///     Err(ConfigError::OutOfRange { name: "efficiency", .. })
    /// ));
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn new(
        layout: DetectorLayout,
        config: ShowerSimConfig,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        config.amplitude.validate()?;
        let checks = [
            ("shower_rate", config.shower_rate, config.shower_rate >= 0.0),
            (
                "background_rate",
                config.background_rate,
                config.background_rate >= 0.0,
            ),
            (
                "timing_sigma",
                config.timing_sigma,
                config.timing_sigma >= 0.0,
            ),
            (
                "efficiency",
                config.efficiency,
                (0.0..=1.0).contains(&config.efficiency),
            ),
        ];
        for (name, value, ok) in checks {
            if !(ok && value.is_finite()) {
                return Err(ConfigError::OutOfRange {
                    name,
                    value,
                    expected: ">= 0 (efficiency <= 1)",
                });
            }
        }
        let lead = layout
            .positions()
            .iter()
            .map(|p| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt())
            .fold(0.0, f64::max)
            / SPEED_OF_LIGHT
            + 10.0 * config.timing_sigma;
        let mut sim = ShowerSim {
            layout,
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            pending: BinaryHeap::new(),
            seq: 0,
            next_shower: f64::INFINITY,
            next_background: f64::INFINITY,
            showers: 0,
            lead,
        };
        sim.next_shower = lead + sim.interval(sim.config.shower_rate);
        let total_bg = sim.config.background_rate * sim.layout.len() as f64;
        sim.next_background = sim.interval(total_bg);
        Ok(sim)
    }

    /// Time to the next event of a Poisson process of `rate_hz`, ns (∞ for rate 0).
    fn interval(&mut self, rate_hz: f64) -> f64 {
        match Exp::new(rate_hz * 1e-9) {
            Ok(exp) if rate_hz > 0.0 => exp.sample(&mut self.rng),
            _ => f64::INFINITY,
        }
    }

    fn push(&mut self, event: SimEvent) {
        let time = event.time();
        self.seq += 1;
        self.pending.push(Pending {
            time,
            seq: self.seq,
            event,
        });
    }

    fn generate_shower(&mut self) {
        let t0 = self.next_shower;
        let cos_zenith = self.rng.random::<f64>().cbrt();
        let zenith = cos_zenith.clamp(-1.0, 1.0).acos();
        let azimuth = self.rng.random::<f64>() * std::f64::consts::TAU;
        let n = [
            zenith.sin() * azimuth.cos(),
            zenith.sin() * azimuth.sin(),
            cos_zenith,
        ];
        let mut shower = TrueShower {
            id: self.showers,
            time: t0,
            zenith,
            azimuth,
            hits: Vec::new(),
            first_pulse: t0,
        };
        for (id, r) in self.layout.positions().iter().enumerate() {
            let t = t0 - (n[0] * r[0] + n[1] * r[1] + n[2] * r[2]) / SPEED_OF_LIGHT;
            if self.rng.random::<f64>() < self.config.efficiency {
                shower.hits.push((id, t));
            }
        }
        let mut pulses = Vec::with_capacity(shower.hits.len());
        for &(detector, t) in &shower.hits {
            let z: f64 = self.rng.sample(StandardNormal);
            pulses.push(SimPulse {
                detector,
                time: t + self.config.timing_sigma * z,
                peak_height: self.config.amplitude.sample(&mut self.rng),
                shower: Some(self.showers),
            });
        }
        if let Some(first) = pulses.iter().map(|p| p.time).reduce(f64::min) {
            shower.first_pulse = first;
        }
        self.showers += 1;
        self.push(SimEvent::Shower(shower));
        for p in pulses {
            self.push(SimEvent::Pulse(p));
        }
        self.next_shower = t0 + self.interval(self.config.shower_rate);
    }

    fn generate_background(&mut self) {
        let detector = self.rng.random_range(0..self.layout.len());
        let pulse = SimPulse {
            detector,
            time: self.next_background,
            peak_height: self.config.amplitude.sample(&mut self.rng),
            shower: None,
        };
        self.push(SimEvent::Pulse(pulse));
        let total_bg = self.config.background_rate * self.layout.len() as f64;
        self.next_background += self.interval(total_bg);
    }
}

impl Iterator for ShowerSim {
    type Item = SimEvent;

    /// The next event in time order; `None` only when both rates are 0 and nothing is
    /// pending.
    fn next(&mut self) -> Option<SimEvent> {
        loop {
            let horizon = self.next_background.min(self.next_shower - self.lead);
            if self.pending.peek().is_some_and(|top| top.time <= horizon) {
                return self.pending.pop().map(|p| p.event);
            }
            if !horizon.is_finite() {
                return self.pending.pop().map(|p| p.event);
            }
            if self.next_background <= self.next_shower - self.lead {
                self.generate_background();
            } else {
                self.generate_shower();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_nest_and_report_the_level_not_reached() {
        let mut synth = PulseSynth::new(PulseSynthConfig::default(), 3).expect("valid");
        for _ in 0..2000 {
            let (truth, c) = synth.next_pulse();
            let crossed = synth
                .config()
                .levels
                .iter()
                .filter(|l| **l < truth.peak_height())
                .count();
            assert_eq!(c.levels.len(), crossed);
            assert_eq!(c.next_level, synth.config().levels.get(crossed).copied());
            for w in c.levels.windows(2) {
                assert!(w[1].rise >= w[0].rise && w[1].fall <= w[0].fall);
            }
            for l in &c.levels {
                assert!(l.fall >= l.rise);
                assert_eq!(l.rise % 2.0, 0.0);
            }
        }
    }

    #[test]
    fn same_seed_same_stream() {
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let a: Vec<SimEvent> = ShowerSim::new(layout.clone(), ShowerSimConfig::default(), 9)
            .expect("valid")
            .take(500)
            .collect();
        let b: Vec<SimEvent> = ShowerSim::new(layout, ShowerSimConfig::default(), 9)
            .expect("valid")
            .take(500)
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn rates_and_zenith_distribution_match_the_config() {
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let cfg = ShowerSimConfig {
            shower_rate: 50.0,
            background_rate: 100.0,
            ..ShowerSimConfig::default()
        };
        let sim = ShowerSim::new(layout, cfg, 11).expect("valid");
        let (mut showers, mut background, mut mean_cos) = (0usize, 0usize, 0.0);
        let mut last = 0.0;
        for ev in sim.take_while(|e| e.time() < 100e9) {
            assert!(ev.time() >= last);
            last = ev.time();
            match ev {
                SimEvent::Shower(s) => {
                    showers += 1;
                    mean_cos += s.zenith.cos();
                    assert_eq!(s.hits.len(), 4);
                }
                SimEvent::Pulse(p) if p.shower.is_none() => background += 1,
                SimEvent::Pulse(_) => {}
            }
        }
        // 100 s: 5000 ± 71 showers, 40 000 ± 200 background pulses; E[cos θ] = 3/4.
        assert!((showers as f64 - 5000.0).abs() < 300.0, "{showers}");
        assert!(
            (background as f64 - 40_000.0).abs() < 1000.0,
            "{background}"
        );
        assert!((mean_cos / showers as f64 - 0.75).abs() < 0.01);
    }
}
