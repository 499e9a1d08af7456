//! `PulseFitter`: reconstructs a bi-exponential pulse from its threshold crossings.
//!
//! # What it does
//!
//! The FEDM reports, for each threshold level a pulse crossed, the clock cycle of the
//! rising and of the falling edge (a 2 ns clock), and implicitly that the next level up
//! was *not* reached. [`PulseFitter::fit`] turns that into the pulse's peak height, peak
//! time, onset, area, constant-fraction time and shape, each with a 1σ error, plus χ²,
//! degrees of freedom, p-value, covariance and convergence status ([`PulseFit`]).
//!
//! # How it works
//!
//! * **Mid-bin correction.** A reported time is the clock edge at or before the crossing,
//!   so the fitter uses `reported + Δ/2` (Δ = clock period).
//! * **Fit in time.** The residual of each point is `measured − model crossing time` for
//!   that level and edge. Model crossing times come from root finding on the model
//!   ([`super::model`]), their derivatives from the implicit-function theorem. Voltage
//!   residuals with slope-scaled errors are *not* used: they make the fit degenerate
//!   once the rise time is free.
//! * **Honest errors: the quantisation error model.** Each time has a jitter error
//!   (Gaussian, σj) and a quantisation error (uniform, variance Δ²/12). Quantisation
//!   errors of one pulse are *not* independent: all edges share one clock phase, so two
//!   crossings `d` ns apart have quantisation errors with correlation
//!   `ρ(d) = 1 − 6a(1−a)`, `a = frac(d/Δ)` (two edges in the same fraction of a bin err
//!   alike). Jitter of the two edges smooths that: the Fourier series
//!   `ρ(d) = Σ 6/(π²n²)·cos(2πnd/Δ)` gets each term damped by `exp(−(2πn/Δ)²σj²)`.
//!   The fitter builds this full covariance `C` from the model crossing times, whitens
//!   the residuals with `C^{-1/2}` (generalised least squares) and re-evaluates `C` at
//!   the solution once more. Because the covariance of a (linearised) least-squares
//!   estimate is `(JᵀC⁻¹J)⁻¹` whenever `C` is the true error covariance, Gaussian or not,
//!   this gives errors that match the real spread. Treating the points as independent
//!   with σ = Δ/√12 ⊕ σj is what made an earlier SciPy fit understate its errors by
//!   about 30%. `C` is rebuilt at the solution and the fit repeated until the model
//!   times it was built from stop moving (at most three passes). No `√(χ²/dof)`
//!   scaling is applied. On synthetic pulses the pulls of peak height and onset have
//!   widths 0.99–1.05 for 2–5 levels crossed (see the acceptance tests).
//! * **The peak near a threshold.** The peak height is fitted as `v` with
//!   `H = L_top + v·|v|` (`L_top` = highest crossed level): the top level's edges move
//!   like `√(H − L_top)` in `H` but linearly in `v`, so the fit stays smooth there. The
//!   level not reached bounds `v` from above: when the free minimum lies beyond it, `v`
//!   is pinned there and the other parameters are refitted (an active set; flag
//!   [`FitFlags::peak_at_limit`]; the covariance still treats `v` as free). Likewise a
//!   minimum at `v < 0` (below the top level, in the model's continuation through the
//!   peak, which the crossed top level rules out) is replaced by the fit with `v = 0`
//!   pinned, and the Gaussian used below is the local one *at that boundary*, centred
//!   one Gauss–Newton step beyond it: the curvature of χ² at an unphysical `v̂ < 0`
//!   overstated the information and collapsed the peak error. The data also say
//!   `L_top ≤ H ≤ L_next`, and near those bounds `H ± σ` from the tangent is badly
//!   wrong (at `v ≈ 0` it claims no error at all). So the reported peak height and its
//!   error are the mean and standard deviation of the fit's Gaussian in `v`, restricted
//!   to the physical range with a prior flat in `H` (flat in `v` when no level above
//!   exists); the other parameters follow by Gaussian conditioning on `v`. Far from
//!   the bounds this is the ordinary estimate.
//! * **Shape paths.** The fit always starts with the shape fixed at the configured
//!   calibration (parameters: peak height, onset). At that solution it computes the
//!   errors the data *would* give on the decay and rise times if they were free (Fisher
//!   information). The decay is freed when enough levels were crossed
//!   ([`PulseFitterConfig::min_levels_free_decay`]) and its predicted relative error is at
//!   most [`PulseFitterConfig::max_shape_rel_error`]; the rise likewise with
//!   [`PulseFitterConfig::min_levels_free_rise`] (default 3). A freed fit that fails falls
//!   back to the fixed shape with [`FitFlags::shape_fit_failed`]. [`PulseFit::shape_path`]
//!   says which path was taken.
//! * The minimiser is Levenberg–Marquardt (`levenberg-marquardt` crate) on fixed-size
//!   `nalgebra` types: nothing is allocated while fitting. The model is never evaluated
//!   twice at the same parameters (LM re-sets its accepted point; each GLS pass, the
//!   covariance and the shape-path choice reuse it), crossings are warm-started Halley
//!   steps stopped at ~1e-9 ns, and `C` takes one `sin_cos` per point, not a `cos` per pair.
//!
//! # Examples
//!
//! ```rust
//! use components::physics::fit::{Crossings, LevelCrossing, PulseFitter, PulseFitterConfig, ShapePath};
//!
//! let fitter = PulseFitter::new(PulseFitterConfig::default())?;
//! // Levels 0.2 V and 0.3 V crossed, 0.45 V not reached; times floored to the 2 ns clock.
//! let crossings = Crossings {
//!     levels: vec![
//!         LevelCrossing { level: 0.2, rise: 100.0, fall: 102.0 },
//!         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
//!     ],
//!     next_level: Some(0.45),
//! };
//! let fit = fitter.fit(&crossings)?;
//! assert_eq!(fit.shape_path, ShapePath::Fixed);
//! assert!(fit.peak_height.value > 0.3 && fit.peak_height.value <= 0.45);
//! assert!(fit.peak_height.error > 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt, MinimizationReport};
use nalgebra::allocator::Reallocator;
use nalgebra::storage::Owned;
use nalgebra::{Const, DefaultAllocator, DimMax, DimMaximum, DimMin, SMatrix, SVector};
use serde::{Deserialize, Serialize};

use super::error::{ConfigError, CrossingsError};
use super::model::{Edge, PulseShape, ShapeConstants};

/// Most threshold levels one pulse may report.
///
/// # Examples
///
/// ```rust
/// use components::physics::error::CrossingsError;
/// use components::physics::fit::{Crossings, LevelCrossing, MAX_LEVELS, PulseFitter, PulseFitterConfig};
///
/// let fitter = PulseFitter::new(PulseFitterConfig::default())?;
/// let levels = (0..=MAX_LEVELS)
///     .map(|i| LevelCrossing { level: 0.1 * (i + 1) as f64, rise: 100.0, fall: 110.0 })
///     .collect();
/// let crossings = Crossings { levels, next_level: None };
/// assert_eq!(fitter.fit(&crossings), Err(CrossingsError::TooManyLevels(MAX_LEVELS + 1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_LEVELS: usize = 6;
const MAX_POINTS: usize = 2 * MAX_LEVELS;
/// Residual rows of the least-squares problem (unused rows stay 0).
const ROWS: usize = MAX_POINTS;
/// Whitened residual used when the parameters leave the model's domain.
const OUT_OF_DOMAIN: f64 = 1e3;

/// Order of the parameters in [`PulseFit::covariance`].
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::PARAMETER_NAMES;
/// # use components::physics::fit::{Crossings, LevelCrossing, PulseFitter, PulseFitterConfig};
/// # let fitter = PulseFitter::new(PulseFitterConfig::default())?;
/// # let crossings = Crossings {
/// #     levels: vec![
/// #         LevelCrossing { level: 0.2, rise: 100.0, fall: 102.0 },
/// #         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
/// #     ],
/// #     next_level: Some(0.45),
/// # };
///
/// let fit = fitter.fit(&crossings)?;
/// let onset = PARAMETER_NAMES.iter().position(|&n| n == "onset").unwrap();
/// assert!((fit.covariance[onset][onset].sqrt() - fit.onset.error).abs() < 1e-9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const PARAMETER_NAMES: [&str; 4] = ["peak_height", "onset", "decay", "rise"];

/// The rising and falling edge times of one threshold level.
///
/// Times are in ns as the clock reported them: floored onto the clock (the fitter adds
/// half a period). Levels are positive volts (see the sign convention in
/// [`super::model`]).
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::LevelCrossing;
///
/// // The 0.2 V level rose in the 100 ns clock cycle and fell in the 104 ns one.
/// let c = LevelCrossing { level: 0.2, rise: 100.0, fall: 104.0 };
/// assert!(c.fall - c.rise >= 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LevelCrossing {
    /// Threshold level, V (positive).
    pub level: f64,
    /// Clock time of the rising edge, ns.
    pub rise: f64,
    /// Clock time of the falling edge, ns.
    pub fall: f64,
}

/// All threshold crossings of one pulse, lowest level first.
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::{Crossings, LevelCrossing};
///
/// let c = Crossings {
///     levels: vec![LevelCrossing { level: 0.2, rise: 10.0, fall: 14.0 }],
///     next_level: Some(0.3),
/// };
/// assert_eq!(c.points(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Crossings {
    /// Crossed levels in increasing order.
    pub levels: Vec<LevelCrossing>,
    /// The next level up, which the pulse did not reach (`None` when the highest usable
    /// level was crossed).
    pub next_level: Option<f64>,
}

impl Crossings {
    /// Number of time points (two per level).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::fit::{Crossings, LevelCrossing};
    ///
    /// assert_eq!(Crossings::default().points(), 0);
    /// let c = Crossings {
    ///     levels: vec![
    ///         LevelCrossing { level: 0.2, rise: 10.0, fall: 16.0 },
    ///         LevelCrossing { level: 0.3, rise: 12.0, fall: 14.0 },
    ///     ],
    ///     next_level: None,
    /// };
    /// assert_eq!(c.points(), 4);
    /// ```
    pub fn points(&self) -> usize {
        2 * self.levels.len()
    }
}

/// Settings of a [`PulseFitter`].
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::PulseFitterConfig;
/// use components::physics::model::PulseShape;
///
/// // A large plate smears the pulses: calibrate the shape to it.
/// let cfg = PulseFitterConfig { shape: PulseShape::new(2.5, 8.0)?, ..PulseFitterConfig::default() };
/// assert_eq!(cfg.clock_period, 2.0);
/// # Ok::<(), components::physics::error::ModelError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PulseFitterConfig {
    /// Clock period Δ, ns (FEDM: 2 ns).
    pub clock_period: f64,
    /// Gaussian timing jitter per edge, ns (default 0.3).
    pub jitter: f64,
    /// Calibrated pulse shape, used for whatever the data cannot constrain
    /// (default τr = 0.9 ns, τd = 2.1 ns).
    pub shape: PulseShape,
    /// Fraction of the peak for the constant-fraction time (default 0.5).
    pub cf_fraction: f64,
    /// Fewest crossed levels for which the decay time may be freed (default 2).
    pub min_levels_free_decay: usize,
    /// Fewest crossed levels for which the rise time may be freed (default 3).
    pub min_levels_free_rise: usize,
    /// Largest predicted relative error of a shape parameter for it to be freed
    /// (default 0.1).
    pub max_shape_rel_error: f64,
    /// Budget of model evaluations per minimisation, per parameter (default 30).
    pub patience: usize,
}

impl Default for PulseFitterConfig {
    fn default() -> Self {
        PulseFitterConfig {
            clock_period: 2.0,
            jitter: 0.3,
            shape: PulseShape::SCINTILLATOR,
            cf_fraction: 0.5,
            min_levels_free_decay: 2,
            min_levels_free_rise: 3,
            max_shape_rel_error: 0.1,
            patience: 30,
        }
    }
}

/// Which shape parameters the fit determined.
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::ShapePath;
/// # use components::physics::fit::{Crossings, LevelCrossing, PulseFitter, PulseFitterConfig};
/// # let fitter = PulseFitter::new(PulseFitterConfig::default())?;
/// # let crossings = Crossings {
/// #     levels: vec![
/// #         LevelCrossing { level: 0.2, rise: 100.0, fall: 102.0 },
/// #         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
/// #     ],
/// #     next_level: Some(0.45),
/// # };
///
/// // Two levels are too few to constrain the shape: it stays at the calibration.
/// let fit = fitter.fit(&crossings)?;
/// assert_eq!(fit.shape_path, ShapePath::Fixed);
/// assert_eq!((fit.decay.error, fit.rise.error), (0.0, 0.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShapePath {
    /// Rise and decay held at the calibration; peak height and onset fitted.
    Fixed,
    /// Decay fitted too; rise held at the calibration.
    DecayFree,
    /// Rise and decay both fitted.
    Free,
}

/// How the minimisation ended.
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::FitStatus;
/// # use components::physics::fit::{Crossings, LevelCrossing, PulseFitter, PulseFitterConfig};
/// # let fitter = PulseFitter::new(PulseFitterConfig::default())?;
/// # let crossings = Crossings {
/// #     levels: vec![
/// #         LevelCrossing { level: 0.2, rise: 100.0, fall: 102.0 },
/// #         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
/// #     ],
/// #     next_level: Some(0.45),
/// # };
///
/// let fit = fitter.fit(&crossings)?;
/// assert_eq!(fit.status, FitStatus::Converged);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FitStatus {
    /// The minimiser met its convergence criteria.
    Converged,
    /// The evaluation budget ran out first; values are the last iterate.
    IterationLimit,
    /// The minimiser or the covariance failed numerically; errors may be NaN.
    Numerical,
}

/// Conditions a user of a fit should know about.
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::FitFlags;
///
/// let flags = FitFlags::default();
/// assert!(!flags.peak_at_limit && !flags.peak_at_top_level);
/// assert!(!flags.shape_fit_failed && !flags.no_dof);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FitFlags {
    /// The peak sits at the level that was not reached (the bound is active).
    pub peak_at_limit: bool,
    /// The peak sits at (or the fit wanted it below) the highest crossed level.
    pub peak_at_top_level: bool,
    /// A freer shape was chosen but its fit failed; the fixed-shape fit is reported.
    pub shape_fit_failed: bool,
    /// No degrees of freedom: χ² is 0 by construction and there is no p-value.
    pub no_dof: bool,
}

/// A value with its 1σ error. The error is 0 for a quantity held fixed.
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::Measured;
///
/// let t = Measured { value: 101.3, error: 0.4 };
/// // Within 2σ of 102 ns.
/// assert!((t.value - 102.0).abs() < 2.0 * t.error);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Best estimate.
    pub value: f64,
    /// 1σ error from the covariance.
    pub error: f64,
}

/// The result of fitting one pulse.
///
/// Times are in the same ns frame as the input crossings; voltages in positive volts.
///
/// # Examples
///
/// ```rust
/// # use components::physics::fit::{Crossings, LevelCrossing, PulseFitter, PulseFitterConfig};
/// # let fitter = PulseFitter::new(PulseFitterConfig::default())?;
/// # let crossings = Crossings {
/// #     levels: vec![
/// #         LevelCrossing { level: 0.2, rise: 100.0, fall: 102.0 },
/// #         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
/// #     ],
/// #     next_level: Some(0.45),
/// # };
///
/// let fit = fitter.fit(&crossings)?;
/// // Edges were seen in the 100 ns and 102 ns clock cycles.
/// assert!(fit.onset.value < fit.peak_time.value);
/// assert!(fit.peak_time.value > 100.0 && fit.peak_time.value < 104.0);
/// assert_eq!(fit.dof, 2); // 4 points − (peak height, onset)
/// assert!(fit.p_value.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulseFit {
    /// How the minimisation ended.
    pub status: FitStatus,
    /// Which shape parameters were fitted.
    pub shape_path: ShapePath,
    /// Peak height `H`, V.
    pub peak_height: Measured,
    /// Time of the peak, ns.
    pub peak_time: Measured,
    /// Onset `t0`, ns.
    pub onset: Measured,
    /// Amplitude `A = H/g`, V.
    pub amplitude: Measured,
    /// Area `A·(τd − τr)`, V·ns.
    pub area: Measured,
    /// Constant-fraction time for [`PulseFitterConfig::cf_fraction`], ns.
    pub cf_time: Measured,
    /// Decay time constant τd, ns (error 0 unless fitted).
    pub decay: Measured,
    /// Rise time constant τr, ns (error 0 unless fitted).
    pub rise: Measured,
    /// χ² of the time residuals under the full error model.
    pub chi2: f64,
    /// Degrees of freedom: points − fitted parameters.
    pub dof: usize,
    /// Probability of a χ² at least this large; `None` without degrees of freedom.
    pub p_value: Option<f64>,
    /// Covariance of (peak height, onset, decay, rise) — see [`PARAMETER_NAMES`];
    /// rows and columns of fixed parameters are 0.
    pub covariance: [[f64; 4]; 4],
    /// Conditions worth knowing.
    pub flags: FitFlags,
    /// Model evaluations used, all passes together.
    pub evaluations: usize,
}

/// Fits bi-exponential pulses to threshold crossings; see the [module docs](self).
///
/// # Examples
///
/// ```rust
/// use components::physics::fit::{PulseFitter, PulseFitterConfig};
/// use components::physics::simulate::{PulseSynth, PulseSynthConfig};
///
/// let fitter = PulseFitter::new(PulseFitterConfig::default())?;
/// let mut synth = PulseSynth::new(PulseSynthConfig::default(), 7)?;
/// let (truth, crossings) = synth.next_pulse();
/// if crossings.levels.len() >= 2 {
///     let fit = fitter.fit(&crossings)?;
///     assert!((fit.peak_height.value - truth.peak_height()).abs() < 0.5 * truth.peak_height());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PulseFitter {
    config: PulseFitterConfig,
    quantisation_variance: f64,
    jitter_variance: f64,
    /// Fourier weights of the jitter-smoothed quantisation correlation; empty = sawtooth.
    corr_weights: [f64; CORR_TERMS],
    corr_terms: usize,
    lm: LevenbergMarquardt<f64>,
}

const CORR_TERMS: usize = 32;

impl PulseFitter {
    /// A fitter with the given settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a non-positive clock period, negative jitter, an invalid
    /// shape, a constant fraction outside (0, 1), a non-positive shape error limit or a
    /// zero patience.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::error::ConfigError;
    /// use components::physics::fit::{PulseFitter, PulseFitterConfig};
    ///
    /// assert!(PulseFitter::new(PulseFitterConfig::default()).is_ok());
    /// let bad = PulseFitterConfig { cf_fraction: 1.5, ..PulseFitterConfig::default() };
    /// assert!(matches!(
    ///     PulseFitter::new(bad),
    ///     Err(ConfigError::OutOfRange { name: "cf_fraction", .. })
    /// ));
    /// ```
    pub fn new(config: PulseFitterConfig) -> Result<Self, ConfigError> {
        let check = |ok: bool, name: &'static str, value: f64, expected: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::OutOfRange {
                    name,
                    value,
                    expected,
                })
            }
        };
        let c = &config;
        check(
            c.clock_period.is_finite() && c.clock_period > 0.0,
            "clock_period",
            c.clock_period,
            "> 0",
        )?;
        check(
            c.jitter.is_finite() && c.jitter >= 0.0,
            "jitter",
            c.jitter,
            ">= 0",
        )?;
        check(
            c.cf_fraction > 0.0 && c.cf_fraction < 1.0,
            "cf_fraction",
            c.cf_fraction,
            "in (0, 1)",
        )?;
        check(
            c.max_shape_rel_error > 0.0,
            "max_shape_rel_error",
            c.max_shape_rel_error,
            "> 0",
        )?;
        check(c.patience > 0, "patience", c.patience as f64, ">= 1")?;
        c.shape.validate()?;

        let delta = c.clock_period;
        let mut corr_weights = [0.0; CORR_TERMS];
        // Below 5% of a bin the smoothing is negligible: use the exact sawtooth instead.
        let corr_terms = if c.jitter < 0.05 * delta {
            0
        } else {
            let mut used = 0;
            for (i, w) in corr_weights.iter_mut().enumerate() {
                let n = (i + 1) as f64;
                let omega = 2.0 * std::f64::consts::PI * n / delta;
                *w = 6.0 / (std::f64::consts::PI.powi(2) * n * n)
                    * (-(omega * c.jitter).powi(2)).exp();
                used = i + 1;
                if *w < 1e-12 {
                    break;
                }
            }
            used
        };
        // A floor keeps C invertible when two edges coincide and there is no jitter.
        let jitter_variance = c.jitter.powi(2) + (1e-3 * delta).powi(2);
        let lm = LevenbergMarquardt::new()
            // A relative χ² change of 1e-5 is ~0.003σ in the parameters: far below the errors.
            .with_ftol(1e-5)
            .with_xtol(1e-7)
            .with_gtol(1e-8)
            .with_patience(c.patience);
        Ok(PulseFitter {
            config,
            quantisation_variance: delta * delta / 12.0,
            jitter_variance,
            corr_weights,
            corr_terms,
            lm,
        })
    }

    /// The settings in use.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::fit::{PulseFitter, PulseFitterConfig};
    ///
    /// let cfg = PulseFitterConfig { jitter: 0.5, ..PulseFitterConfig::default() };
    /// let fitter = PulseFitter::new(cfg)?;
    /// assert_eq!(fitter.config(), &cfg);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> &PulseFitterConfig {
        &self.config
    }

    /// Fits one pulse.
    ///
    /// # Errors
    ///
    /// [`CrossingsError`] when the input is inconsistent (no level, NaN, levels out of
    /// order, a fall before its rise, edges that do not nest, a next level below the
    /// top, fewer points than parameters). A fit that runs but does not converge is
    /// returned with [`FitStatus::IterationLimit`] or [`FitStatus::Numerical`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::error::CrossingsError;
    /// use components::physics::fit::{Crossings, LevelCrossing, PulseFitter, PulseFitterConfig};
    ///
    /// let fitter = PulseFitter::new(PulseFitterConfig::default())?;
    /// let crossings = Crossings {
    ///     levels: vec![
    ///         LevelCrossing { level: 0.2, rise: 100.0, fall: 104.0 },
    ///         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
    ///     ],
    ///     next_level: Some(0.45),
    /// };
    /// let fit = fitter.fit(&crossings)?;
    /// assert!(fit.peak_height.value > 0.3 && fit.peak_height.value <= 0.45);
    ///
    /// assert_eq!(fitter.fit(&Crossings::default()), Err(CrossingsError::Empty));
    /// let backwards = Crossings {
    ///     levels: vec![LevelCrossing { level: 0.2, rise: 104.0, fall: 100.0 }],
    ///     next_level: None,
    /// };
    /// assert_eq!(fitter.fit(&backwards), Err(CrossingsError::FallBeforeRise { index: 0 }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fit(&self, crossings: &Crossings) -> Result<PulseFit, CrossingsError> {
        let data = Prepared::new(crossings, self.config.clock_period)?;
        let cal = self.config.shape;
        let start = data.initial_guess(&cal);

        let fixed = self.fit_path::<2, 1>(&data, start, cal);
        let path = if fixed.status == FitStatus::Converged {
            self.choose_path(&data, &fixed)
        } else {
            ShapePath::Fixed
        };
        let mut flags = FitFlags::default();
        let chosen = match path {
            ShapePath::Fixed => fixed,
            ShapePath::DecayFree | ShapePath::Free => {
                let freer = if path == ShapePath::Free {
                    self.fit_path::<4, 3>(&data, fixed.full, cal)
                } else {
                    self.fit_path::<3, 2>(&data, fixed.full, cal)
                };
                if freer.status == FitStatus::Converged && freer.shape_plausible(&cal) {
                    PathFit {
                        evaluations: freer.evaluations + fixed.evaluations,
                        ..freer
                    }
                } else {
                    flags.shape_fit_failed = true;
                    PathFit {
                        evaluations: freer.evaluations + fixed.evaluations,
                        ..fixed
                    }
                }
            }
        };
        let path = if flags.shape_fit_failed {
            ShapePath::Fixed
        } else {
            path
        };
        Ok(self.report(&data, chosen, path, flags))
    }

    /// Decides which shape parameters the data constrain, from the Fisher information
    /// at the fixed-shape solution.
    fn choose_path(&self, data: &Prepared, fixed: &PathFit) -> ShapePath {
        let cfg = &self.config;
        let k = data.n_levels;
        let info = fixed.info;
        let rel = |var: f64, value: f64| var.max(0.0).sqrt() / value;
        let decay = fixed.full[2];
        let rise = fixed.full[3];
        if k >= cfg.min_levels_free_rise
            && data.n_points > 4
            && let Some(cov) = info.try_inverse()
            && rel(cov[(2, 2)], decay) <= cfg.max_shape_rel_error
            && rel(cov[(3, 3)], rise) <= cfg.max_shape_rel_error
        {
            return ShapePath::Free;
        }
        if k >= cfg.min_levels_free_decay && data.n_points > 3 {
            let sub: SMatrix<f64, 3, 3> = info.fixed_view::<3, 3>(0, 0).into_owned();
            if let Some(cov) = sub.try_inverse()
                && rel(cov[(2, 2)], decay) <= cfg.max_shape_rel_error
            {
                return ShapePath::DecayFree;
            }
        }
        ShapePath::Fixed
    }

    /// Generalised least squares for `N` free parameters: minimise with the error
    /// covariance evaluated at the start, re-evaluate it at the solution, minimise again.
    ///
    /// The level not reached bounds `v` from above. When the free minimum lies beyond
    /// it, `v` is pinned to the bound and the other `M = N − 1` parameters are fitted
    /// (an active set): LM converges in a few steps instead of crawling along a penalty
    /// wall.
    fn fit_path<const N: usize, const M: usize>(
        &self,
        data: &Prepared,
        start: [f64; 4],
        cal: PulseShape,
    ) -> PathFit
    where
        Const<ROWS>: DimMin<Const<N>> + DimMax<Const<N>> + DimMin<Const<M>> + DimMax<Const<M>>,
        DefaultAllocator: Reallocator<f64, Const<ROWS>, Const<N>, DimMaximum<Const<ROWS>, Const<N>>, Const<N>>
            + Reallocator<f64, Const<ROWS>, Const<M>, DimMaximum<Const<ROWS>, Const<M>>, Const<M>>,
    {
        let mut full = [start[0], start[1], cal.decay, cal.rise];
        full[..N].copy_from_slice(&start[..N]);
        let mut evaluations = 0;
        let mut status = FitStatus::Converged;
        let mut eval = Eval::default();
        let mut valid = data.evaluate(&full, &mut eval);
        let mut pinned = false;
        // Re-evaluate C until the model times it was built from stop moving.
        for _ in 0..3 {
            if !valid {
                status = FitStatus::Numerical;
                break;
            }
            let c_times = eval.t;
            let whitener = self.whitener(data, &eval);
            if !pinned {
                let (solved, used, st) = self.minimise::<N>(data, &whitener, full, eval, 0);
                evaluations += used;
                (full, eval, status) = (solved.full, solved.eval, st);
                pinned = status == FitStatus::Converged && full[0] > data.v_max;
            }
            if pinned {
                full[0] = data.v_max;
                let (solved, used, st) = self.minimise::<M>(data, &whitener, full, eval, 1);
                evaluations += used;
                (full, eval, status) = (solved.full, solved.eval, st);
            }
            if status != FitStatus::Converged {
                break;
            }
            if !pinned && full[0] < 0.0 {
                // The minimum lies in the continuation below the top level (H < L_top),
                // which the crossed top level rules out: refit on the physical boundary.
                full[0] = 0.0;
                let (solved, used, st) = self.minimise::<M>(data, &whitener, full, eval, 1);
                evaluations += used;
                (full, eval, status) = (solved.full, solved.eval, st);
                if status != FitStatus::Converged {
                    break;
                }
            }
            valid = data.evaluate(&full, &mut eval);
            let moved = (0..data.n_points)
                .map(|i| (eval.t[i] - c_times[i]).abs())
                .fold(0.0, f64::max);
            if valid && moved < 5e-3 * self.config.clock_period {
                break;
            }
        }
        // Shape is symmetric in τr ↔ τd once normalised to the peak: keep rise < decay.
        if full[3] > full[2] {
            full.swap(2, 3);
        }
        let mut cov = [[f64::NAN; 4]; 4];
        let mut chi2 = f64::NAN;
        let mut centre = full;
        let mut info = SMatrix::<f64, 4, 4>::from_element(f64::NAN);
        if data.evaluate(&full, &mut eval) {
            let whitener = self.whitener(data, &eval);
            let mut r = [0.0; MAX_POINTS];
            whitener.residuals(data, &eval, &mut r);
            chi2 = r[..data.n_points].iter().map(|x| x * x).sum();
            info = whitener.information(data.n_points, &eval);
            match local_covariance::<N>(&whitener, &eval, &info, &r) {
                Some((c, step)) => {
                    cov = c;
                    if full[0] <= 0.0 {
                        // On the lower bound the local Gaussian is centred where one
                        // Gauss–Newton step from the boundary would go (beyond it, v < 0);
                        // an unconstrained minimum is its own centre (the step is ~0).
                        for (c, d) in centre.iter_mut().zip(step) {
                            *c += d;
                        }
                    }
                }
                None => status = FitStatus::Numerical,
            }
        } else {
            status = FitStatus::Numerical;
        }
        PathFit {
            full,
            centre,
            info,
            cov,
            chi2,
            n_free: N,
            pinned,
            status,
            evaluations,
        }
    }

    /// One Levenberg–Marquardt minimisation of the `K` parameters from `first` on.
    fn minimise<'a, const K: usize>(
        &self,
        data: &'a Prepared,
        whitener: &'a Whitener,
        full: [f64; 4],
        warm: Eval,
        first: usize,
    ) -> (TimingProblem<'a, K>, usize, FitStatus)
    where
        Const<ROWS>: DimMin<Const<K>> + DimMax<Const<K>>,
        DefaultAllocator:
            Reallocator<f64, Const<ROWS>, Const<K>, DimMaximum<Const<ROWS>, Const<K>>, Const<K>>,
    {
        let problem = TimingProblem::<K>::new(data, whitener, full, warm, first);
        let (solved, report): (TimingProblem<'_, K>, MinimizationReport<f64>) =
            self.lm.minimize(problem);
        let status = if report.termination.was_successful() {
            FitStatus::Converged
        } else if matches!(
            report.termination,
            levenberg_marquardt::TerminationReason::LostPatience
        ) {
            FitStatus::IterationLimit
        } else {
            FitStatus::Numerical
        };
        (solved, report.number_of_evaluations, status)
    }

    /// Cholesky-whitening of the timing-error covariance at the model times in `eval`.
    #[allow(clippy::needless_range_loop)] // index form mirrors the symmetric C_ij
    fn whitener(&self, data: &Prepared, eval: &Eval) -> Whitener {
        let n = data.n_points;
        let mut c = [[0.0; MAX_POINTS]; MAX_POINTS];
        // Clock phase of each model time (relative to the first point, for precision):
        // cos of a difference from one sin_cos per point instead of one cos per pair.
        let mut phase = [(0.0, 0.0); MAX_POINTS];
        if self.corr_terms > 0 {
            let k = 2.0 * std::f64::consts::PI / self.config.clock_period;
            for i in 0..n {
                let (sin, cos) = (k * (eval.t[i] - data.times[0])).sin_cos();
                phase[i] = (cos, sin);
            }
        }
        for i in 0..n {
            c[i][i] = self.quantisation_variance + self.jitter_variance;
            for j in 0..i {
                let rho = if self.corr_terms == 0 {
                    self.correlation(eval.t[i] - eval.t[j])
                } else {
                    self.series(phase[i].0 * phase[j].0 + phase[i].1 * phase[j].1)
                };
                let v = self.quantisation_variance * rho;
                c[i][j] = v;
                c[j][i] = v;
            }
        }
        Whitener::from_covariance(n, &c)
    }

    /// Correlation of the quantisation errors of two edges `d` ns apart.
    fn correlation(&self, d: f64) -> f64 {
        let x = d / self.config.clock_period;
        if self.corr_terms == 0 {
            let a = x - x.floor();
            return 1.0 - 6.0 * a * (1.0 - a);
        }
        self.series((2.0 * std::f64::consts::PI * x).cos())
    }

    /// The jitter-smoothed Fourier series of the correlation, given `cos θ` of the phase
    /// difference `θ = 2πd/Δ`.
    fn series(&self, c1: f64) -> f64 {
        // cos(nθ) by the Chebyshev recurrence.
        let (mut prev, mut cur) = (1.0, c1);
        let mut sum = 0.0;
        for w in &self.corr_weights[..self.corr_terms] {
            sum += w * cur;
            let next = 2.0 * c1 * cur - prev;
            prev = cur;
            cur = next;
        }
        sum
    }

    fn report(
        &self,
        data: &Prepared,
        fit: PathFit,
        path: ShapePath,
        mut flags: FitFlags,
    ) -> PulseFit {
        let v = fit.full[0];
        let (h, [_, t0, decay, rise], cov) = peak_posterior(data, &fit);
        let consts = ShapeConstants::new(&PulseShape { rise, decay });
        let (sp, g) = (consts.sp, consts.g);
        let (gd, gr) = consts.g_grad;
        let (spd, spr) = consts.sp_grad;
        let amp = h / g;
        let width = decay - rise;
        let f = self.config.cf_fraction;
        let cf = consts.crossing(f, Edge::Rising, f64::NAN);
        let s_cf = cf.s;
        let (fd, fr) = consts.shape_gradient(&cf);
        let slope_cf = consts.slope(&cf);
        let propagate = |grad: [f64; 4]| -> f64 {
            let mut v = 0.0;
            for i in 0..4 {
                for j in 0..4 {
                    v += grad[i] * cov[i][j] * grad[j];
                }
            }
            v.max(0.0).sqrt()
        };
        let measured = |value: f64, grad: [f64; 4]| Measured {
            value,
            error: propagate(grad),
        };
        let d_amp = [1.0 / g, 0.0, -h * gd / (g * g), -h * gr / (g * g)];

        let dof = data.n_points.saturating_sub(fit.n_free);
        flags.no_dof = dof == 0;
        flags.peak_at_limit = fit.pinned || v >= data.v_max * (1.0 - 1e-9);
        flags.peak_at_top_level = v <= 0.0;
        let p_value = match (dof, fit.chi2) {
            (0, _) => None,
            (_, c) if c <= 0.0 => Some(1.0),
            (_, c) => statrs::function::gamma::checked_gamma_ur(dof as f64 / 2.0, c / 2.0).ok(),
        };
        PulseFit {
            status: fit.status,
            shape_path: path,
            peak_height: measured(h, [1.0, 0.0, 0.0, 0.0]),
            peak_time: measured(t0 + sp, [0.0, 1.0, spd, spr]),
            onset: measured(t0, [0.0, 1.0, 0.0, 0.0]),
            amplitude: measured(amp, d_amp),
            area: measured(
                amp * width,
                [
                    d_amp[0] * width,
                    0.0,
                    d_amp[2] * width + amp,
                    d_amp[3] * width - amp,
                ],
            ),
            cf_time: measured(
                t0 + s_cf,
                [0.0, 1.0, (f * gd - fd) / slope_cf, (f * gr - fr) / slope_cf],
            ),
            decay: measured(decay, [0.0, 0.0, 1.0, 0.0]),
            rise: measured(rise, [0.0, 0.0, 0.0, 1.0]),
            chi2: if dof == 0 { 0.0 } else { fit.chi2 },
            dof,
            p_value,
            covariance: cov,
            flags,
            evaluations: fit.evaluations,
        }
    }
}

/// Peak height from the fitted `v` (with `H = L_top + v·|v|`) and the rest of the
/// parameters, conditioned on the physical range of the peak.
///
/// The fit's Gaussian approximation in `v` is good, but `H` is quadratic in `v` and the
/// data also say `L_top ≤ H ≤ L_next` (the top level was crossed, the next was not).
/// Near either bound the linearised `H ± σ` is badly wrong: at `v ≈ 0` it claims a
/// vanishing error. So `H` is reported as the mean of the fit's Gaussian in `v`,
/// restricted to the physical range and weighted by a prior flat in `H` (`∝ v`), with
/// its standard deviation as error. The other parameters are moved with `v` by their
/// linear regression on it (Gaussian conditioning), and the covariance is updated to
/// match. Far from the bounds this reduces to the usual `H`, `2|v|σ_v`.
///
/// Returns `(H, parameters, covariance)` with parameter 0 = `H`.
fn peak_posterior(data: &Prepared, fit: &PathFit) -> (f64, [f64; 4], [[f64; 4]; 4]) {
    let top = data.top_level();
    let v_hat = fit.centre[0];
    let var_v = fit.cov[0][0];
    let mut full = fit.centre;
    let mut cov = fit.cov;
    let sigma = var_v.sqrt();
    if !(sigma.is_finite() && sigma > 0.0) {
        let h = top + v_hat * v_hat.abs();
        full[0] = h;
        let slope = 2.0 * v_hat.abs();
        cov[0].iter_mut().for_each(|c| *c *= slope);
        cov.iter_mut().for_each(|row| row[0] *= slope);
        return (h, full, cov);
    }
    // Bounded: prior flat in H (∝ v). Unbounded (no level above was available) a flat
    // prior in H is improper and drags H up; flat in v is used, and H = L_top + E[v]².
    let bounded = data.v_max.is_finite();
    let prior = |v: f64| if bounded { v } else { 1.0 };
    const STEPS: usize = 64;
    let lo = (v_hat - 7.0 * sigma).max(0.0);
    let hi = (v_hat + 7.0 * sigma).max(lo + 7.0 * sigma).min(data.v_max);
    let dv = (hi - lo) / STEPS as f64;
    let (mut w_sum, mut m1, mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..=STEPS {
        let v = lo + dv * i as f64;
        // Simpson weights 1, 4, 2, …, 4, 1.
        let simpson = if i == 0 || i == STEPS {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let z = (v - v_hat) / sigma;
        let w = simpson * prior(v) * (-0.5 * z * z).exp();
        w_sum += w;
        m1 += w * v;
        m2 += w * v * v;
        m3 += w * v * v * v;
        m4 += w * v * v * v * v;
    }
    if w_sum.is_nan() || w_sum <= 0.0 {
        return (top, full, cov);
    }
    let (m1, m2, m3, m4) = (m1 / w_sum, m2 / w_sum, m3 / w_sum, m4 / w_sum);
    let post_var_v = (m2 - m1 * m1).max(0.0);
    let var_h = (m4 - m2 * m2).max(0.0);
    let excess = if bounded { m2 } else { m1 * m1 };
    let cov_vh = m3 - m1 * m2;
    let c = fit.cov[0];
    for j in 1..4 {
        full[j] += c[j] / var_v * (m1 - v_hat);
    }
    for i in 1..4 {
        for j in 1..4 {
            cov[i][j] =
                fit.cov[i][j] - c[i] * c[j] / var_v + c[i] * c[j] / (var_v * var_v) * post_var_v;
        }
        cov[0][i] = c[i] / var_v * cov_vh;
        cov[i][0] = cov[0][i];
    }
    cov[0][0] = var_h;
    let h = top + excess;
    full[0] = h;
    (h, full, cov)
}

/// Parameter covariance when none is known.
const NO_COV: [[f64; 4]; 4] = [[0.0; 4]; 4];

/// Covariance `(JᵀC⁻¹J)⁻¹` of the first `N` parameters (zero-padded to 4×4) from the
/// information `info` at `eval`,
/// and the Gauss–Newton step from there for the whitened `residuals`; `None` when the information is singular.
fn local_covariance<const N: usize>(
    whitener: &Whitener,
    eval: &Eval,
    info: &SMatrix<f64, 4, 4>,
    residuals: &[f64; MAX_POINTS],
) -> Option<([[f64; 4]; 4], [f64; 4])> {
    let n = whitener.n;
    let jw = whitener.jacobian(eval);
    let sub: SMatrix<f64, N, N> = info.fixed_view::<N, N>(0, 0).into_owned();
    let inv = sub.try_inverse()?;
    let mut cov = NO_COV;
    for (i, row) in cov.iter_mut().enumerate().take(N) {
        for (j, c) in row.iter_mut().enumerate().take(N) {
            *c = inv[(i, j)];
        }
    }
    let mut grad = SVector::<f64, N>::zeros();
    for (row, ri) in jw.iter().zip(residuals).take(n) {
        for a in 0..N {
            grad[a] += row[a] * ri;
        }
    }
    let mut step = [0.0; 4];
    step[..N].copy_from_slice((inv * grad).as_slice());
    Some((cov, step))
}

/// Validated input in fixed-size arrays.
#[derive(Debug, Clone)]
struct Prepared {
    n_levels: usize,
    n_points: usize,
    levels: [f64; MAX_LEVELS],
    /// Mid-bin corrected times; point `2j` is level `j` rising, `2j+1` falling.
    times: [f64; MAX_POINTS],
    /// The level not reached, or +∞.
    next_level: f64,
    /// Largest `v` allowed by the level not reached, or +∞.
    v_max: f64,
}

impl Prepared {
    fn new(c: &Crossings, clock_period: f64) -> Result<Self, CrossingsError> {
        let k = c.levels.len();
        if k == 0 {
            return Err(CrossingsError::Empty);
        }
        if k > MAX_LEVELS {
            return Err(CrossingsError::TooManyLevels(k));
        }
        let mut p = Prepared {
            n_levels: k,
            n_points: 2 * k,
            levels: [0.0; MAX_LEVELS],
            times: [0.0; MAX_POINTS],
            next_level: f64::INFINITY,
            v_max: f64::INFINITY,
        };
        for (j, lc) in c.levels.iter().enumerate() {
            let finite = lc.level.is_finite() && lc.rise.is_finite() && lc.fall.is_finite();
            if !finite || lc.level <= 0.0 {
                return Err(CrossingsError::NotFinite { index: j });
            }
            if lc.fall < lc.rise {
                return Err(CrossingsError::FallBeforeRise { index: j });
            }
            if j > 0 {
                let below = &c.levels[j - 1];
                if lc.level <= below.level {
                    return Err(CrossingsError::LevelsOutOfOrder { index: j });
                }
                if lc.rise < below.rise || lc.fall > below.fall {
                    return Err(CrossingsError::NotNested { index: j });
                }
            }
            p.levels[j] = lc.level;
            p.times[2 * j] = lc.rise + 0.5 * clock_period;
            p.times[2 * j + 1] = lc.fall + 0.5 * clock_period;
        }
        if let Some(next) = c.next_level {
            let top = p.levels[k - 1];
            if !next.is_finite() || next <= top {
                return Err(CrossingsError::NextLevelBelowTop { next, top });
            }
            p.next_level = next;
            p.v_max = (next - top).sqrt();
        }
        if p.n_points < 2 {
            return Err(CrossingsError::TooFewPoints {
                points: p.n_points,
                params: 2,
            });
        }
        Ok(p)
    }

    fn top_level(&self) -> f64 {
        self.levels[self.n_levels - 1]
    }

    /// Peak between the top level and the next one; onset from the mean edge offset.
    fn initial_guess(&self, shape: &PulseShape) -> [f64; 4] {
        let top = self.top_level();
        let h = if self.next_level.is_finite() {
            (top * self.next_level).sqrt()
        } else {
            1.25 * top
        };
        let consts = ShapeConstants::new(shape);
        let mut sum = 0.0;
        for j in 0..self.n_levels {
            let y = self.levels[j] / h;
            sum += self.times[2 * j] - consts.crossing(y, Edge::Rising, f64::NAN).s;
            sum += self.times[2 * j + 1] - consts.crossing(y, Edge::Falling, f64::NAN).s;
        }
        [
            (h - top).sqrt(),
            sum / self.n_points as f64,
            shape.decay,
            shape.rise,
        ]
    }

    /// Model crossing times and their derivatives by (v, t0, τd, τr), where the peak
    /// height is `H = L_top + v·|v|` (`L_top` = highest crossed level).
    ///
    /// Near `H = L_top` the top level's crossings move like `±√(H − L_top)`: infinitely
    /// fast. In `v` they move linearly (`s ≈ s_p ∓ κ·v/√H`), which keeps the problem
    /// smooth and the linearised errors meaningful there.
    ///
    /// A level at or above the model peak has no crossing; it is continued through the
    /// peak (`s_p ± κ·√(L/H − 1)`, edges swapped) so the residuals stay continuous and
    /// keep pushing the peak up. Returns `false` outside the model's domain.
    fn evaluate(&self, full: &[f64; 4], out: &mut Eval) -> bool {
        if out.at == *full {
            // Already evaluated here (LM re-sets its accepted point; passes re-check it).
            return true;
        }
        out.at = [f64::NAN; 4];
        let [v, t0, decay, rise] = *full;
        let h = self.top_level() + v * v.abs();
        let dh_dv = 2.0 * v.abs();
        let ok = h.is_finite()
            && h > 0.0
            && t0.is_finite()
            && decay.is_finite()
            && rise.is_finite()
            && rise > 1e-3
            && decay > 1e-3
            && decay < 1e4
            && rise < 1e4
            && (decay - rise).abs() > 1e-4 * decay.max(rise);
        if !ok {
            return false;
        }
        // The H-normalised model is symmetric in the two constants; order them for `model`.
        let (shape, swapped) = if rise < decay {
            (PulseShape { rise, decay }, false)
        } else {
            (
                PulseShape {
                    rise: decay,
                    decay: rise,
                },
                true,
            )
        };
        if out.consts.is_none_or(|c| c.shape != shape) {
            out.consts = Some(ShapeConstants::new(&shape));
        }
        let Some(consts) = out.consts else {
            return false;
        };
        let (sp, g, kappa) = (consts.sp, consts.g, consts.kappa);
        let (g_d, g_r) = consts.g_grad;
        let (sp_d, sp_r) = consts.sp_grad;
        for j in 0..self.n_levels {
            let y = self.levels[j] / h;
            for (e, edge) in [Edge::Rising, Edge::Falling].into_iter().enumerate() {
                let i = 2 * j + e;
                let (s, ds) = if y < 1.0 {
                    // The previous evaluation's offset is a close first guess.
                    let c = consts.crossing_within(y, edge, out.s[i], 1e-3);
                    let slope = consts.slope(&c);
                    let (f_d, f_r) = consts.shape_gradient(&c);
                    let s = c.s;
                    (
                        s,
                        [
                            -y * g / (h * slope),
                            (y * g_d - f_d) / slope,
                            (y * g_r - f_r) / slope,
                        ],
                    )
                } else {
                    let u = (y - 1.0).max(1e-12).sqrt();
                    let sign = if edge == Edge::Rising { 1.0 } else { -1.0 };
                    (
                        sp + sign * kappa * u,
                        [sign * kappa * (-y / (2.0 * u * h)), sp_d, sp_r],
                    )
                };
                out.t[i] = t0 + s;
                out.s[i] = s;
                let (dd, dr) = if swapped {
                    (ds[2], ds[1])
                } else {
                    (ds[1], ds[2])
                };
                let ds_dv = if (y - 1.0).abs() < 1e-9 {
                    // The limit of ds/dH·dH/dv at the peak (0·∞ numerically).
                    let sign = if edge == Edge::Rising { -1.0 } else { 1.0 };
                    sign * kappa / h.sqrt()
                } else {
                    ds[0] * dh_dv
                };
                out.dt[i] = [ds_dv, 1.0, dd, dr];
            }
        }
        out.at = *full;
        true
    }
}

/// Model crossing times and derivatives for one parameter point.
#[derive(Debug, Clone, Copy)]
struct Eval {
    t: [f64; MAX_POINTS],
    /// Offsets from onset (`t − t0`), kept as first guesses for the next evaluation.
    s: [f64; MAX_POINTS],
    dt: [[f64; 4]; MAX_POINTS],
    /// Constants of the last shape evaluated (the calibration, on the fixed path).
    consts: Option<ShapeConstants>,
    /// The parameters this holds the model for (NaN when none: NaN ≠ anything).
    at: [f64; 4],
}

impl Default for Eval {
    fn default() -> Self {
        Eval {
            t: [0.0; MAX_POINTS],
            s: [f64::NAN; MAX_POINTS],
            dt: [[0.0; 4]; MAX_POINTS],
            consts: None,
            at: [f64::NAN; 4],
        }
    }
}

/// `W = L⁻¹` for the Cholesky factor `L` of the timing-error covariance.
#[derive(Debug, Clone)]
struct Whitener {
    n: usize,
    w: [[f64; MAX_POINTS]; MAX_POINTS],
}

impl Whitener {
    #[allow(clippy::needless_range_loop)] // Cholesky–Banachiewicz in its textbook index form
    fn from_covariance(n: usize, c: &[[f64; MAX_POINTS]; MAX_POINTS]) -> Self {
        let mut l = [[0.0; MAX_POINTS]; MAX_POINTS];
        for i in 0..n {
            for j in 0..=i {
                let mut sum = c[i][j];
                for k in 0..j {
                    sum -= l[i][k] * l[j][k];
                }
                if i == j {
                    // C has σj² on its diagonal and is positive definite; guard rounding.
                    l[i][i] = sum.max(1e-300).sqrt();
                } else {
                    l[i][j] = sum / l[j][j];
                }
            }
        }
        let mut w = [[0.0; MAX_POINTS]; MAX_POINTS];
        for col in 0..n {
            w[col][col] = 1.0 / l[col][col];
            for i in col + 1..n {
                let mut sum = 0.0;
                for k in col..i {
                    sum -= l[i][k] * w[k][col];
                }
                w[i][col] = sum / l[i][i];
            }
        }
        Whitener { n, w }
    }

    /// Whitened residuals `W·(measured − model)` into `out[..n]`.
    fn residuals(&self, data: &Prepared, eval: &Eval, out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate().take(self.n) {
            let mut sum = 0.0;
            for k in 0..=i {
                sum += self.w[i][k] * (data.times[k] - eval.t[k]);
            }
            *o = sum;
        }
    }

    /// Whitened Jacobian of the *model times* (the residual Jacobian is its negative).
    fn jacobian(&self, eval: &Eval) -> [[f64; 4]; MAX_POINTS] {
        let mut jw = [[0.0; 4]; MAX_POINTS];
        for (i, row) in jw.iter_mut().enumerate().take(self.n) {
            for k in 0..=i {
                let w = self.w[i][k];
                for (p, r) in row.iter_mut().enumerate() {
                    *r += w * eval.dt[k][p];
                }
            }
        }
        jw
    }

    /// Fisher information `JᵀC⁻¹J` for all four parameters.
    fn information(&self, n: usize, eval: &Eval) -> SMatrix<f64, 4, 4> {
        let jw = self.jacobian(eval);
        let mut info = SMatrix::<f64, 4, 4>::zeros();
        for row in jw.iter().take(n) {
            for a in 0..4 {
                for b in 0..4 {
                    info[(a, b)] += row[a] * row[b];
                }
            }
        }
        info
    }
}

/// One path's result in the full parameter space.
#[derive(Debug, Clone, Copy)]
struct PathFit {
    full: [f64; 4],
    /// Centre of the fit's Gaussian: `full`, except on the lower bound `v = 0` (see
    /// [`PulseFitter::fit_path`]).
    centre: [f64; 4],
    /// Fisher information `JᵀC⁻¹J` of all four parameters at `full` (NaN if unknown).
    info: SMatrix<f64, 4, 4>,
    cov: [[f64; 4]; 4],
    chi2: f64,
    n_free: usize,
    /// The peak was pinned at the level not reached.
    pinned: bool,
    status: FitStatus,
    evaluations: usize,
}

impl PathFit {
    /// A freed shape within a factor 20 of the calibration.
    fn shape_plausible(&self, cal: &PulseShape) -> bool {
        let [_, _, decay, rise] = self.full;
        let near = |v: f64, c: f64| v > c / 20.0 && v < c * 20.0;
        near(decay, cal.decay)
            && near(rise, cal.rise)
            && self.cov.iter().flatten().all(|c| c.is_finite())
    }
}

/// The least-squares problem handed to Levenberg–Marquardt: `N` free parameters
/// `full[first..first + N]` of (v, t0, τd, τr), the rest held.
struct TimingProblem<'a, const N: usize> {
    data: &'a Prepared,
    whitener: &'a Whitener,
    full: [f64; 4],
    first: usize,
    eval: Eval,
    valid: bool,
}

impl<'a, const N: usize> TimingProblem<'a, N> {
    fn new(
        data: &'a Prepared,
        whitener: &'a Whitener,
        full: [f64; 4],
        warm: Eval,
        first: usize,
    ) -> Self {
        let mut problem = TimingProblem {
            data,
            whitener,
            full,
            first,
            eval: warm,
            valid: false,
        };
        problem.valid = data.evaluate(&problem.full, &mut problem.eval);
        problem
    }
}

impl<const N: usize> LeastSquaresProblem<f64, Const<ROWS>, Const<N>> for TimingProblem<'_, N> {
    type ResidualStorage = Owned<f64, Const<ROWS>>;
    type JacobianStorage = Owned<f64, Const<ROWS>, Const<N>>;
    type ParameterStorage = Owned<f64, Const<N>>;

    fn set_params(&mut self, x: &SVector<f64, N>) {
        self.full[self.first..self.first + N].copy_from_slice(x.as_slice());
        self.valid = self.data.evaluate(&self.full, &mut self.eval);
    }

    fn params(&self) -> SVector<f64, N> {
        SVector::<f64, N>::from_column_slice(&self.full[self.first..self.first + N])
    }

    fn residuals(&self) -> Option<SVector<f64, ROWS>> {
        let mut r = SVector::<f64, ROWS>::zeros();
        let n = self.data.n_points;
        if !self.valid {
            r.rows_mut(0, n).fill(OUT_OF_DOMAIN);
            return Some(r);
        }
        self.whitener
            .residuals(self.data, &self.eval, &mut r.as_mut_slice()[..n]);
        Some(r)
    }

    fn jacobian(&self) -> Option<SMatrix<f64, ROWS, N>> {
        let mut j = SMatrix::<f64, ROWS, N>::zeros();
        if !self.valid {
            return Some(j);
        }
        let jw = self.whitener.jacobian(&self.eval);
        for (i, row) in jw.iter().enumerate().take(self.data.n_points) {
            for p in 0..N {
                j[(i, p)] = -row[self.first + p];
            }
        }
        Some(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crossings(levels: &[(f64, f64, f64)], next: Option<f64>) -> Crossings {
        Crossings {
            levels: levels
                .iter()
                .map(|&(level, rise, fall)| LevelCrossing { level, rise, fall })
                .collect(),
            next_level: next,
        }
    }

    #[test]
    fn inconsistent_input_is_rejected_with_the_reason() {
        let f = PulseFitter::new(PulseFitterConfig::default()).expect("valid config");
        let cases = [
            (crossings(&[], None), CrossingsError::Empty),
            (
                crossings(&[(0.2, 10.0, 8.0)], Some(0.3)),
                CrossingsError::FallBeforeRise { index: 0 },
            ),
            (
                crossings(&[(0.3, 10.0, 14.0), (0.2, 10.0, 12.0)], None),
                CrossingsError::LevelsOutOfOrder { index: 1 },
            ),
            (
                crossings(&[(0.2, 10.0, 14.0), (0.3, 8.0, 12.0)], None),
                CrossingsError::NotNested { index: 1 },
            ),
            (
                crossings(&[(0.2, f64::NAN, 14.0)], None),
                CrossingsError::NotFinite { index: 0 },
            ),
            (
                crossings(&[(0.2, 10.0, 14.0)], Some(0.1)),
                CrossingsError::NextLevelBelowTop {
                    next: 0.1,
                    top: 0.2,
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(f.fit(&input), Err(want));
        }
        let many: Vec<(f64, f64, f64)> = (0..7).map(|i| (0.1 + i as f64, 0.0, 2.0)).collect();
        assert_eq!(
            f.fit(&crossings(&many, None)),
            Err(CrossingsError::TooManyLevels(7))
        );
    }

    #[test]
    fn bad_config_is_rejected() {
        let bad = PulseFitterConfig {
            clock_period: 0.0,
            ..PulseFitterConfig::default()
        };
        assert!(PulseFitter::new(bad).is_err());
        let bad = PulseFitterConfig {
            cf_fraction: 1.0,
            ..PulseFitterConfig::default()
        };
        assert!(PulseFitter::new(bad).is_err());
    }

    #[test]
    fn correlation_model_matches_a_direct_average() {
        // ρ(d) for quantised, jittered edges by brute force over phases and jitters.
        let f = PulseFitter::new(PulseFitterConfig::default()).expect("valid");
        let delta = 2.0;
        for d in [0.0, 0.3, 0.7, 1.0, 1.6, 3.1] {
            let (mut sxy, mut sxx) = (0.0, 0.0);
            let steps = 200;
            // Gaussian jitter (σ = 0.3 ns) on a 41-point grid over ±4σ.
            let jit: Vec<(f64, f64)> = (0..41)
                .map(|i| {
                    let z = -4.0 + 0.2 * i as f64;
                    (0.3 * z, (-0.5 * z * z).exp())
                })
                .collect();
            for p in 0..steps {
                let phase = (p as f64 + 0.5) / steps as f64 * delta;
                let q = |t: f64| {
                    let x = t - phase;
                    x - (x / delta).floor() * delta - 0.5 * delta
                };
                for &(ja, wa) in &jit {
                    for &(jb, wb) in &jit {
                        let a = q(ja);
                        let b = q(d + jb);
                        sxy += wa * wb * a * b;
                        sxx += wa * wb * a * a;
                    }
                }
            }
            let want = sxy / sxx;
            let got = f.correlation(d);
            assert!((want - got).abs() < 0.01, "d={d}: want {want}, got {got}");
        }
    }

    #[test]
    fn noiseless_pulse_is_recovered_exactly() {
        use crate::physics::model::BiExpPulse;
        let cfg = PulseFitterConfig {
            shape: PulseShape::new(3.0, 9.0).expect("valid"),
            ..PulseFitterConfig::default()
        };
        let f = PulseFitter::new(cfg).expect("valid");
        let truth = BiExpPulse::from_peak(0.9, 37.3, cfg.shape).expect("valid");
        let levels = [0.2, 0.3, 0.45, 0.675];
        let mut input = Crossings {
            levels: Vec::new(),
            next_level: Some(1.0125),
        };
        for l in levels {
            let r = truth.crossing(l, Edge::Rising).expect("below peak") - 1.0;
            let fa = truth.crossing(l, Edge::Falling).expect("below peak") - 1.0;
            input.levels.push(LevelCrossing {
                level: l,
                rise: r,
                fall: fa,
            });
        }
        let fit = f.fit(&input).expect("consistent");
        assert_eq!(fit.status, FitStatus::Converged);
        // The fit itself is exact (χ² = 0); the reported peak is the mean over the
        // physical range, which may sit a small fraction of σ away.
        assert!(
            (fit.peak_height.value - 0.9).abs() < 0.1 * fit.peak_height.error,
            "{fit:?}"
        );
        assert!((fit.onset.value - 37.3).abs() < 0.01);
        assert!(fit.chi2 < 1e-9);
        assert!(fit.p_value.is_some_and(|p| p > 0.99));
    }
}
