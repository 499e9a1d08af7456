//! Error types of the physics modules, one small enum per concern.

use thiserror::Error;

/// A pulse model or shape that cannot describe a pulse.
///
/// # Examples
///
/// ```rust
/// use components::physics::error::ModelError;
/// use components::physics::model::{BiExpPulse, PulseShape};
///
/// assert_eq!(
///     PulseShape::new(2.0, 1.0),
///     Err(ModelError::InvalidShape { rise: 2.0, decay: 1.0 })
/// );
/// let err = BiExpPulse::new(-0.5, 0.0, PulseShape::SCINTILLATOR).unwrap_err();
/// assert_eq!(err, ModelError::InvalidAmplitude(-0.5));
/// assert_eq!(err.to_string(), "invalid amplitude -0.5 (need a finite, positive value)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum ModelError {
    /// Rise and decay time must be finite, positive and `rise < decay`.
    #[error("invalid pulse shape: rise {rise} ns, decay {decay} ns (need 0 < rise < decay)")]
    InvalidShape {
        /// Rise time constant τr in ns.
        rise: f64,
        /// Decay time constant τd in ns.
        decay: f64,
    },
    /// The amplitude must be finite and positive.
    #[error("invalid amplitude {0} (need a finite, positive value)")]
    InvalidAmplitude(f64),
    /// The onset time must be finite.
    #[error("invalid onset time {0}")]
    InvalidOnset(f64),
}

/// Why a set of threshold crossings cannot be fitted.
///
/// The fitter never returns a fit for such input: it hands back the reason instead.
///
/// # Examples
///
/// ```rust
/// use components::physics::error::CrossingsError;
/// use components::physics::fit::{Crossings, LevelCrossing, PulseFitter, PulseFitterConfig};
///
/// let fitter = PulseFitter::new(PulseFitterConfig::default())?;
/// assert_eq!(fitter.fit(&Crossings::default()), Err(CrossingsError::Empty));
/// let unordered = Crossings {
///     levels: vec![
///         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
///         LevelCrossing { level: 0.2, rise: 100.0, fall: 104.0 },
///     ],
///     next_level: None,
/// };
/// assert_eq!(fitter.fit(&unordered), Err(CrossingsError::LevelsOutOfOrder { index: 1 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Error, serde::Serialize, serde::Deserialize)]
pub enum CrossingsError {
    /// No level was crossed.
    #[error("no threshold level was crossed")]
    Empty,
    /// More levels than [`MAX_LEVELS`](super::fit::MAX_LEVELS) were given.
    #[error("{0} levels crossed, at most {max} supported", max = super::fit::MAX_LEVELS)]
    TooManyLevels(usize),
    /// A level or time is NaN or infinite, or a level is not positive.
    #[error("level {index}: a value is not finite (or the level is not positive)")]
    NotFinite {
        /// Index of the offending level (0 = lowest).
        index: usize,
    },
    /// Levels must be strictly increasing.
    #[error("level {index} is not above the level below it")]
    LevelsOutOfOrder {
        /// Index of the offending level.
        index: usize,
    },
    /// A falling edge was reported before its rising edge.
    #[error("level {index}: fall before rise")]
    FallBeforeRise {
        /// Index of the offending level.
        index: usize,
    },
    /// A higher level rose before, or fell after, the level below it: the edges do not nest.
    #[error("level {index}: edges do not nest inside the level below")]
    NotNested {
        /// Index of the offending level.
        index: usize,
    },
    /// The level reported as not reached is not above the highest crossed level.
    #[error("next level {next} is not above the highest crossed level {top}")]
    NextLevelBelowTop {
        /// The level reported as not reached.
        next: f64,
        /// The highest crossed level.
        top: f64,
    },
    /// Fewer time points than free parameters.
    #[error("{points} time points cannot constrain {params} parameters")]
    TooFewPoints {
        /// Number of crossing times.
        points: usize,
        /// Number of parameters of the simplest model.
        params: usize,
    },
}

/// A fitter, simulation or filter configuration that cannot work.
///
/// # Examples
///
/// ```rust
/// use components::physics::error::{ConfigError, ModelError};
/// use components::physics::fit::{PulseFitter, PulseFitterConfig};
/// use components::physics::layout::DetectorLayout;
/// use components::physics::model::PulseShape;
///
/// let err = PulseFitter::new(PulseFitterConfig { jitter: -1.0, ..PulseFitterConfig::default() })
///     .unwrap_err();
/// assert_eq!(err.to_string(), "jitter = -1 is out of range (>= 0)");
///
/// let bad_shape = PulseShape { rise: 3.0, decay: 1.0 };
/// let err = PulseFitter::new(PulseFitterConfig { shape: bad_shape, ..PulseFitterConfig::default() })
///     .unwrap_err();
/// assert!(matches!(err, ConfigError::Model(ModelError::InvalidShape { .. })));
///
/// assert_eq!(DetectorLayout::new(vec![]), Err(ConfigError::Layout("no detectors")));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// A numeric setting is out of its allowed range.
    #[error("{name} = {value} is out of range ({expected})")]
    OutOfRange {
        /// The setting's name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What is allowed, in words.
        expected: &'static str,
    },
    /// The pulse shape is invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A detector layout is unusable.
    #[error("detector layout: {0}")]
    Layout(&'static str),
}

/// Why the shower filter refused a pulse.
///
/// # Examples
///
/// ```rust
/// use components::physics::error::ShowerError;
/// use components::physics::layout::DetectorLayout;
/// use components::physics::shower::{ShowerFilter, ShowerFilterConfig, ShowerPulse};
///
/// let mut filter = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
/// let pulse = ShowerPulse { detector: 9, time: 0.0, amplitude: 0.5, fit_ref: None };
/// let err = filter.push(pulse).unwrap_err();
/// assert_eq!(err, ShowerError::UnknownDetector(9));
/// assert_eq!(err.to_string(), "detector 9 is not in the layout");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum ShowerError {
    /// The detector id is not in the layout.
    #[error("detector {0} is not in the layout")]
    UnknownDetector(usize),
    /// The pulse time is NaN or infinite.
    #[error("pulse time {0} is not finite")]
    NotFinite(f64),
    /// The pulse arrived after the watermark had passed its time; it was dropped.
    #[error("pulse at {time} ns arrived after the watermark {watermark} ns")]
    Late {
        /// The pulse's time, ns.
        time: f64,
        /// The watermark when it arrived, ns.
        watermark: f64,
    },
}

/// Why a shower direction could not be found.
///
/// # Examples
///
/// ```rust
/// use components::physics::angle::AngleFinder;
/// use components::physics::error::AngleError;
/// use components::physics::layout::DetectorLayout;
///
/// // Three detectors in a row cannot tell the direction across the row.
/// let finder = AngleFinder::new(DetectorLayout::grid(3, 1, 10.0)?, 1.0)?;
/// let hits = [(0, 10.0), (1, 12.0), (2, 14.0)];
/// assert_eq!(finder.find(&hits), Err(AngleError::Degenerate));
/// assert_eq!(finder.find(&hits[..2]), Err(AngleError::TooFewHits(2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum AngleError {
    /// At least three detectors are needed.
    #[error("{0} hits: need at least 3 detectors")]
    TooFewHits(usize),
    /// A hit names a detector that is not in the layout.
    #[error("detector {0} is not in the layout")]
    UnknownDetector(usize),
    /// Two hits name the same detector.
    #[error("detector {0} appears twice")]
    DuplicateDetector(usize),
    /// A time or timing error is NaN, infinite or (for the error) not positive.
    #[error("hit {0}: time or timing error is not usable")]
    NotFinite(usize),
    /// A time is so large that `f64` holds it no better than its timing error
    /// (e.g. nanoseconds since 1970, held in steps of 256 ns): give times relative to the
    /// event.
    #[error(
        "hit {0}: time too large for f64 to hold to its timing error; give times relative to the event"
    )]
    Imprecise(usize),
    /// The hit detectors are (nearly) collinear: the direction is not determined.
    #[error("hit detectors are collinear; the direction is undetermined")]
    Degenerate,
}
