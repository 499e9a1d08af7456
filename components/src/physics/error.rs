//! Error types of the physics modules, one small enum per concern.

use thiserror::Error;

/// A pulse model or shape that cannot describe a pulse.
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
#[derive(Debug, Clone, Copy, PartialEq, Error)]
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
    /// The hit detectors are (nearly) collinear: the direction is not determined.
    #[error("hit detectors are collinear; the direction is undetermined")]
    Degenerate,
}
