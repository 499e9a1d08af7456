//! The bi-exponential pulse model and its threshold-crossing times.
//!
//! A photomultiplier pulse from a plastic scintillator is modelled as
//!
//! ```text
//! V(t) = A·(e^{-(t-t0)/τd} − e^{-(t-t0)/τr})   for t ≥ t0,   V(t) = 0 before t0
//! ```
//!
//! with rise time constant `τr` < decay time constant `τd`.
//!
//! **Sign convention.** Detector pulses are negative-going (the FEDM thresholds are
//! −0.2 V, −0.3 V, …). Everything in this module works in *positive* amplitude: a
//! −0.45 V threshold is the level `0.45`, a pulse that reaches −0.8 V has peak height
//! `0.8`. Convert at the boundary where raw data enters.
//!
//! Writing `s = t − t0` and the unit shape `f(s) = e^{-s/τd} − e^{-s/τr}`:
//!
//! * peak offset `s_p = τr·τd/(τd−τr)·ln(τd/τr)`, unit peak `g = f(s_p)`, so the peak
//!   height is `H = A·g` at time `t0 + s_p`;
//! * area `∫V dt = A·(τd − τr)`;
//! * the constant-fraction time for fraction `c` is the rising-edge time where `V = c·H`;
//! * a level `L < H` is crossed twice: once on the rising edge (`0 < s < s_p`, where `f`
//!   is increasing and concave) and once on the falling edge (`s > s_p`).
//!
//! Crossings are found by a safeguarded Halley iteration inside a bracket that is known
//! to hold exactly one root, so they never fail for a level below the peak.
//!
//! # Examples
//!
//! ```rust
//! use components::physics::model::{BiExpPulse, Edge, PulseShape};
//!
//! let pulse = BiExpPulse::from_peak(0.8, 10.0, PulseShape::SCINTILLATOR)?;
//! let rise = pulse.crossing(0.2, Edge::Rising).expect("0.2 V is below the peak");
//! let fall = pulse.crossing(0.2, Edge::Falling).expect("0.2 V is below the peak");
//! assert!(10.0 < rise && rise < pulse.peak_time() && pulse.peak_time() < fall);
//! assert!((pulse.value(rise) - 0.2).abs() < 1e-9);
//! # Ok::<(), components::physics::error::ModelError>(())
//! ```

use serde::{Deserialize, Serialize};

use super::error::ModelError;

/// Which side of the peak a threshold crossing is on: the same type as the wire
/// format's [`cosmici::Edge`](crate::cosmici::Edge), so crossings read from a node
/// and crossings of a model pulse need no conversion.
///
/// # Examples
///
/// ```rust
/// use components::physics::model::{BiExpPulse, Edge, PulseShape};
///
/// let pulse = BiExpPulse::from_peak(1.0, 0.0, PulseShape::SCINTILLATOR)?;
/// let rise = pulse.crossing(0.5, Edge::Rising).unwrap();
/// let fall = pulse.crossing(0.5, Edge::Falling).unwrap();
/// assert!(rise < pulse.peak_time() && pulse.peak_time() < fall);
/// # Ok::<(), components::physics::error::ModelError>(())
/// ```
pub use crate::cosmici::Edge;

/// The two time constants of a bi-exponential pulse, in ns.
///
/// # Examples
///
/// ```rust
/// use components::physics::model::PulseShape;
///
/// let shape = PulseShape::new(0.9, 2.1)?;
/// assert!((shape.peak_offset() - 1.3343).abs() < 1e-3);
/// assert!(PulseShape::new(2.0, 1.0).is_err());
/// # Ok::<(), components::physics::error::ModelError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PulseShape {
    /// Rise time constant τr in ns.
    pub rise: f64,
    /// Decay time constant τd in ns.
    pub decay: f64,
}

impl PulseShape {
    /// Plastic scintillator read out directly: τr = 0.9 ns, τd = 2.1 ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::PulseShape;
    ///
    /// let shape = PulseShape::SCINTILLATOR;
    /// assert_eq!((shape.rise, shape.decay), (0.9, 2.1));
    /// assert!(shape.validate().is_ok());
    /// ```
    pub const SCINTILLATOR: PulseShape = PulseShape {
        rise: 0.9,
        decay: 2.1,
    };

    /// A validated shape.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidShape`] unless both are finite and `0 < rise < decay`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::error::ModelError;
    /// use components::physics::model::PulseShape;
    ///
    /// assert_eq!(PulseShape::new(1.0, 3.0)?, PulseShape { rise: 1.0, decay: 3.0 });
    /// assert!(matches!(
    ///     PulseShape::new(0.0, 3.0),
    ///     Err(ModelError::InvalidShape { .. })
    /// ));
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn new(rise: f64, decay: f64) -> Result<Self, ModelError> {
        let shape = PulseShape { rise, decay };
        shape.validate()?;
        Ok(shape)
    }

    /// Checks `0 < rise < decay`, both finite.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidShape`] otherwise.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::PulseShape;
    ///
    /// // The fields are public, so a shape can be built unchecked and validated later.
    /// let swapped = PulseShape { rise: 2.1, decay: 0.9 };
    /// assert!(swapped.validate().is_err());
    /// assert!(PulseShape::SCINTILLATOR.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let ok = self.rise.is_finite()
            && self.decay.is_finite()
            && self.rise > 0.0
            && self.decay > self.rise * (1.0 + 1e-9);
        if ok {
            Ok(())
        } else {
            Err(ModelError::InvalidShape {
                rise: self.rise,
                decay: self.decay,
            })
        }
    }

    /// The unit shape `f(s) = e^{-s/τd} − e^{-s/τr}` at `s ≥ 0` ns after onset (0 before).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::PulseShape;
    ///
    /// let shape = PulseShape::new(1.0, 2.0)?;
    /// assert_eq!(shape.unit_value(-1.0), 0.0);
    /// let expected = (-0.5f64).exp() - (-1.0f64).exp();
    /// assert!((shape.unit_value(1.0) - expected).abs() < 1e-12);
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn unit_value(&self, s: f64) -> f64 {
        if s <= 0.0 {
            0.0
        } else {
            (-s / self.decay).exp() - (-s / self.rise).exp()
        }
    }

    /// Time from onset to peak, `τr·τd/(τd−τr)·ln(τd/τr)`, in ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::PulseShape;
    ///
    /// // τr = 1, τd = 2: s_p = 1·2/(2−1)·ln 2 = 2 ln 2.
    /// let shape = PulseShape::new(1.0, 2.0)?;
    /// assert!((shape.peak_offset() - 2.0 * 2f64.ln()).abs() < 1e-12);
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn peak_offset(&self) -> f64 {
        (self.decay / self.rise).ln() / (1.0 / self.rise - 1.0 / self.decay)
    }

    /// Peak value of the unit shape, `g = f(s_p)`; the peak height is `A·g`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::PulseShape;
    ///
    /// // τr = 1, τd = 2: g = e^{-ln 2} − e^{-2 ln 2} = 1/2 − 1/4.
    /// let shape = PulseShape::new(1.0, 2.0)?;
    /// assert!((shape.unit_peak() - 0.25).abs() < 1e-12);
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn unit_peak(&self) -> f64 {
        self.unit_value(self.peak_offset())
    }

    /// Time from onset to where the rising edge reaches `fraction` of the peak, in ns.
    ///
    /// Returns `None` unless `0 < fraction < 1`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::PulseShape;
    ///
    /// let shape = PulseShape::SCINTILLATOR;
    /// let s = shape.fraction_offset(0.5).unwrap();
    /// assert!(0.0 < s && s < shape.peak_offset());
    /// assert!((shape.unit_value(s) - 0.5 * shape.unit_peak()).abs() < 1e-9);
    /// assert_eq!(shape.fraction_offset(1.0), None);
    /// ```
    pub fn fraction_offset(&self, fraction: f64) -> Option<f64> {
        (fraction > 0.0 && fraction < 1.0).then(|| unit_crossing(self, fraction, Edge::Rising))
    }

    /// ∂f/∂τd and ∂f/∂τr at offset `s`.
    pub(super) fn shape_gradient(&self, s: f64) -> (f64, f64) {
        let d = s / (self.decay * self.decay) * (-s / self.decay).exp();
        let r = -s / (self.rise * self.rise) * (-s / self.rise).exp();
        (d, r)
    }

    /// ∂s_p/∂τd and ∂s_p/∂τr.
    pub(super) fn peak_offset_gradient(&self) -> (f64, f64) {
        let d = 1.0 / self.rise - 1.0 / self.decay;
        let lg = (self.decay / self.rise).ln();
        let dd = (d / self.decay - lg / (self.decay * self.decay)) / (d * d);
        let dr = (-d / self.rise + lg / (self.rise * self.rise)) / (d * d);
        (dd, dr)
    }

    /// `f''(s)`, the curvature of the unit shape.
    pub(super) fn curvature(&self, s: f64) -> f64 {
        (-s / self.decay).exp() / (self.decay * self.decay)
            - (-s / self.rise).exp() / (self.rise * self.rise)
    }
}

/// Offset `s` where the unit shape equals `y·g` on the given edge, for `0 < y < 1`.
pub(super) fn unit_crossing(shape: &PulseShape, y: f64, edge: Edge) -> f64 {
    ShapeConstants::new(shape).crossing(y, edge, f64::NAN).s
}

/// What every crossing-time evaluation of one shape needs, computed once per shape.
///
/// The fitter evaluates the crossings of the same (calibrated) shape thousands of times
/// per second; the logarithm and five exponentials here would otherwise be recomputed
/// for every evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ShapeConstants {
    /// The shape.
    pub(super) shape: PulseShape,
    inv_rise: f64,
    inv_decay: f64,
    /// Peak offset `s_p`, ns.
    pub(super) sp: f64,
    /// Unit peak `g = f(s_p)`.
    pub(super) g: f64,
    /// `(∂g/∂τd, ∂g/∂τr)`.
    pub(super) g_grad: (f64, f64),
    /// `(∂s_p/∂τd, ∂s_p/∂τr)`.
    pub(super) sp_grad: (f64, f64),
    /// `√(2g/|f''(s_p)|)`: near the peak a level `y·g` is crossed at `s_p ± κ·√(1 − y)`.
    pub(super) kappa: f64,
    /// `f'(0)`.
    slope0: f64,
    /// Time scale of the shape, `τd + s_p`, for tolerances.
    scale: f64,
}

/// A crossing offset `s` with the two exponentials `e^{-s/τd}`, `e^{-s/τr}` at it, from
/// which the slope and the shape gradient follow without further exponentials.
#[derive(Debug, Clone, Copy)]
pub(super) struct UnitCrossing {
    /// Offset from onset, ns.
    pub(super) s: f64,
    ed: f64,
    er: f64,
}

impl ShapeConstants {
    pub(super) fn new(shape: &PulseShape) -> Self {
        let sp = shape.peak_offset();
        let g = shape.unit_value(sp);
        ShapeConstants {
            shape: *shape,
            inv_rise: 1.0 / shape.rise,
            inv_decay: 1.0 / shape.decay,
            sp,
            g,
            g_grad: shape.shape_gradient(sp),
            sp_grad: shape.peak_offset_gradient(),
            kappa: (2.0 * g / (-shape.curvature(sp)).max(f64::MIN_POSITIVE)).sqrt(),
            slope0: 1.0 / shape.rise - 1.0 / shape.decay,
            scale: shape.decay + sp,
        }
    }

    /// `f'(s)` at a crossing.
    pub(super) fn slope(&self, c: &UnitCrossing) -> f64 {
        c.er * self.inv_rise - c.ed * self.inv_decay
    }

    /// `(∂f/∂τd, ∂f/∂τr)` at a crossing.
    pub(super) fn shape_gradient(&self, c: &UnitCrossing) -> (f64, f64) {
        (
            c.s * self.inv_decay * self.inv_decay * c.ed,
            -c.s * self.inv_rise * self.inv_rise * c.er,
        )
    }

    /// Offset where the unit shape equals `y·g` on the given edge, for `0 < y < 1`;
    /// `warm` (if finite and inside the bracket) is the first guess.
    ///
    /// Safeguarded Halley iteration: the rising root lies in `(0, s_p)`, the falling
    /// root in `(s_p, −τd·ln(y·g))` because `f(s) < e^{-s/τd}`, and `f − y·g` is monotonic
    /// in each bracket. A step that leaves the bracket falls back to Newton, then to
    /// bisection, so the iteration always converges. Halley's error after a step `d` is
    /// of order `d³/w²` (`w` = distance from the peak, where `f'` vanishes), so a step
    /// below `1e-5·w` ends the iteration with an error far below `1e-12` ns.
    pub(super) fn crossing(&self, y: f64, edge: Edge, warm: f64) -> UnitCrossing {
        self.crossing_within(y, edge, warm, 1e-5)
    }

    /// [`Self::crossing`], ending after a Halley step below `rel_step·w`: an error of order
    /// `rel_step³·w`. The fitter uses `1e-3` (errors ~1e-9 ns, far below its timing
    /// errors) and so usually stops after one step from a warm start.
    pub(super) fn crossing_within(
        &self,
        y: f64,
        edge: Edge,
        warm: f64,
        rel_step: f64,
    ) -> UnitCrossing {
        let target = y * self.g;
        let near_peak = y > 0.6;
        let (sign, mut lo, mut hi, mut s) = match edge {
            Edge::Rising => {
                let guess = if near_peak {
                    self.sp - self.kappa * (1.0 - y).sqrt()
                } else {
                    target / self.slope0
                };
                (1.0, 0.0, self.sp, guess)
            }
            Edge::Falling if near_peak => {
                // The upper bracket costs a logarithm: found lazily, only if a step needs it.
                let guess = self.sp + self.kappa * (1.0 - y).sqrt();
                (-1.0, self.sp, f64::INFINITY, guess)
            }
            Edge::Falling if warm > self.sp && warm.is_finite() => {
                // A warm start needs no first guess: the bound (a logarithm) only if used.
                (-1.0, self.sp, f64::INFINITY, warm)
            }
            Edge::Falling => {
                // e^{-s/τd} = y·g + e^{-s/τr}: the bound, corrected to first order.
                let bound = (-self.shape.decay * target.ln()).max(self.sp);
                let guess = bound - self.shape.decay * (-bound * self.inv_rise).exp() / target;
                (-1.0, self.sp, bound, guess)
            }
        };
        if warm > lo && warm < hi {
            s = warm;
        }
        let upper = |hi: &mut f64| {
            if hi.is_infinite() {
                *hi = (-self.shape.decay * target.ln()).max(self.sp);
            }
            *hi
        };
        // (An infinite `hi` is a valid upper end here: no logarithm unless bisecting.)
        if !(s > lo && s < hi) {
            s = 0.5 * (lo + upper(&mut hi));
        }
        let tol = 1e-13 * self.scale;
        for _ in 0..100 {
            let ed = (-s * self.inv_decay).exp();
            let er = (-s * self.inv_rise).exp();
            let h = sign * (ed - er - target);
            if h > 0.0 {
                hi = s;
            } else {
                lo = s;
            }
            let d1 = sign * (er * self.inv_rise - ed * self.inv_decay);
            let d2 =
                sign * (ed * self.inv_decay * self.inv_decay - er * self.inv_rise * self.inv_rise);
            let newton = h / d1;
            let halley = newton / (1.0 - 0.5 * newton * d2 / d1);
            let inside = |x: f64| x > lo && x < hi;
            let (next, fast) = if d1 > 0.0 && inside(s - halley) {
                (s - halley, true)
            } else if d1 > 0.0 && inside(s - newton) {
                (s - newton, false)
            } else {
                (0.5 * (lo + upper(&mut hi)), false)
            };
            let step = next - s;
            let width = (s - self.sp).abs().min(self.scale);
            if (fast && step.abs() <= rel_step * width) || step.abs() <= tol || hi - lo <= tol {
                // Carry the exponentials across the last (tiny) step to second order.
                let (xd, xr) = (step * self.inv_decay, step * self.inv_rise);
                return UnitCrossing {
                    s: next,
                    ed: ed * (1.0 - xd + 0.5 * xd * xd),
                    er: er * (1.0 - xr + 0.5 * xr * xr),
                };
            }
            s = next;
        }
        UnitCrossing {
            s,
            ed: (-s * self.inv_decay).exp(),
            er: (-s * self.inv_rise).exp(),
        }
    }
}

/// One bi-exponential pulse: amplitude, onset and shape.
///
/// # Examples
///
/// ```rust
/// use components::physics::model::{BiExpPulse, PulseShape};
///
/// let pulse = BiExpPulse::new(2.0, 0.0, PulseShape::new(0.9, 2.1)?)?;
/// assert!((pulse.area() - 2.0 * (2.1 - 0.9)).abs() < 1e-12);
/// assert!((pulse.value(pulse.peak_time()) - pulse.peak_height()).abs() < 1e-12);
/// # Ok::<(), components::physics::error::ModelError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BiExpPulse {
    /// Amplitude `A` in V (positive; see the module's sign convention).
    pub amplitude: f64,
    /// Onset `t0` in ns.
    pub onset: f64,
    /// Rise and decay time constants.
    pub shape: PulseShape,
}

impl BiExpPulse {
    /// A validated pulse from its amplitude `A`.
    ///
    /// # Errors
    ///
    /// [`ModelError`] when the amplitude is not finite and positive, the onset not
    /// finite, or the shape invalid.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::error::ModelError;
    /// use components::physics::model::{BiExpPulse, PulseShape};
    ///
    /// let pulse = BiExpPulse::new(1.5, 20.0, PulseShape::SCINTILLATOR)?;
    /// assert_eq!(pulse.amplitude, 1.5);
    /// assert!(matches!(
    ///     BiExpPulse::new(-1.0, 0.0, PulseShape::SCINTILLATOR),
    ///     Err(ModelError::InvalidAmplitude(_))
    /// ));
    /// assert!(matches!(
    ///     BiExpPulse::new(1.0, f64::NAN, PulseShape::SCINTILLATOR),
    ///     Err(ModelError::InvalidOnset(_))
    /// ));
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn new(amplitude: f64, onset: f64, shape: PulseShape) -> Result<Self, ModelError> {
        shape.validate()?;
        if !(amplitude.is_finite() && amplitude > 0.0) {
            return Err(ModelError::InvalidAmplitude(amplitude));
        }
        if !onset.is_finite() {
            return Err(ModelError::InvalidOnset(onset));
        }
        Ok(BiExpPulse {
            amplitude,
            onset,
            shape,
        })
    }

    /// A validated pulse from its peak height `H = A·g`.
    ///
    /// # Errors
    ///
    /// As [`BiExpPulse::new`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::{BiExpPulse, PulseShape};
    ///
    /// let pulse = BiExpPulse::from_peak(0.8, 5.0, PulseShape::SCINTILLATOR)?;
    /// assert!((pulse.peak_height() - 0.8).abs() < 1e-12);
    /// assert!(BiExpPulse::from_peak(0.0, 5.0, PulseShape::SCINTILLATOR).is_err());
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn from_peak(peak_height: f64, onset: f64, shape: PulseShape) -> Result<Self, ModelError> {
        shape.validate()?;
        Self::new(peak_height / shape.unit_peak(), onset, shape)
    }

    /// Voltage (positive convention) at time `t` ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::{BiExpPulse, PulseShape};
    ///
    /// let pulse = BiExpPulse::new(2.0, 10.0, PulseShape::SCINTILLATOR)?;
    /// assert_eq!(pulse.value(9.0), 0.0); // before onset
    /// assert!((pulse.value(11.0) - 2.0 * pulse.shape.unit_value(1.0)).abs() < 1e-12);
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn value(&self, t: f64) -> f64 {
        self.amplitude * self.shape.unit_value(t - self.onset)
    }

    /// Time of the maximum, ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::{BiExpPulse, PulseShape};
    ///
    /// let pulse = BiExpPulse::new(1.0, 10.0, PulseShape::SCINTILLATOR)?;
    /// assert_eq!(pulse.peak_time(), 10.0 + PulseShape::SCINTILLATOR.peak_offset());
    /// let peak = pulse.value(pulse.peak_time());
    /// assert!(pulse.value(pulse.peak_time() - 0.1) < peak);
    /// assert!(pulse.value(pulse.peak_time() + 0.1) < peak);
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn peak_time(&self) -> f64 {
        self.onset + self.shape.peak_offset()
    }

    /// Height of the maximum, V.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::{BiExpPulse, PulseShape};
    ///
    /// // τr = 1, τd = 2 has unit peak 1/4.
    /// let pulse = BiExpPulse::new(2.0, 0.0, PulseShape::new(1.0, 2.0)?)?;
    /// assert!((pulse.peak_height() - 0.5).abs() < 1e-12);
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn peak_height(&self) -> f64 {
        self.amplitude * self.shape.unit_peak()
    }

    /// Integral of the pulse, `A·(τd − τr)`, in V·ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::{BiExpPulse, PulseShape};
    ///
    /// let pulse = BiExpPulse::new(0.5, 0.0, PulseShape::new(1.0, 3.0)?)?;
    /// assert!((pulse.area() - 1.0).abs() < 1e-12);
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn area(&self) -> f64 {
        self.amplitude * (self.shape.decay - self.shape.rise)
    }

    /// Time on the rising edge where the pulse reaches `fraction` of its peak height.
    ///
    /// Returns `None` unless `0 < fraction < 1`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::{BiExpPulse, PulseShape};
    ///
    /// let pulse = BiExpPulse::from_peak(0.8, 10.0, PulseShape::SCINTILLATOR)?;
    /// let t = pulse.cf_time(0.25).unwrap();
    /// assert!(10.0 < t && t < pulse.peak_time());
    /// assert!((pulse.value(t) - 0.2).abs() < 1e-9);
    /// assert_eq!(pulse.cf_time(0.0), None);
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn cf_time(&self, fraction: f64) -> Option<f64> {
        self.shape.fraction_offset(fraction).map(|s| self.onset + s)
    }

    /// Time at which the given edge crosses `level` V.
    ///
    /// Returns `None` when the level is not strictly between 0 and the peak height.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::model::{BiExpPulse, Edge, PulseShape};
    ///
    /// let pulse = BiExpPulse::from_peak(0.8, 0.0, PulseShape::SCINTILLATOR)?;
    /// let fall = pulse.crossing(0.3, Edge::Falling).unwrap();
    /// assert!(fall > pulse.peak_time());
    /// assert!((pulse.value(fall) - 0.3).abs() < 1e-9);
    /// assert_eq!(pulse.crossing(0.9, Edge::Rising), None); // above the peak
    /// # Ok::<(), components::physics::error::ModelError>(())
    /// ```
    pub fn crossing(&self, level: f64, edge: Edge) -> Option<f64> {
        let y = level / self.peak_height();
        (y > 0.0 && y < 1.0).then(|| self.onset + unit_crossing(&self.shape, y, edge))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_hit_the_level_on_both_edges() {
        let shapes = [
            PulseShape::SCINTILLATOR,
            PulseShape {
                rise: 3.0,
                decay: 10.0,
            },
            PulseShape {
                rise: 1.0,
                decay: 1.05,
            },
        ];
        for shape in shapes {
            let pulse = BiExpPulse::from_peak(1.0, 5.0, shape).expect("valid");
            for y in [1e-6, 0.01, 0.2, 0.5, 0.9, 0.999, 0.999_999] {
                let r = pulse.crossing(y, Edge::Rising).expect("below peak");
                let f = pulse.crossing(y, Edge::Falling).expect("below peak");
                assert!(r <= pulse.peak_time() && f >= pulse.peak_time());
                let tol = 1e-9_f64.max(1e-6 * (1.0 - y));
                assert!((pulse.value(r) - y).abs() < tol, "{shape:?} y={y} rise");
                assert!((pulse.value(f) - y).abs() < tol, "{shape:?} y={y} fall");
            }
            assert_eq!(pulse.crossing(1.0, Edge::Rising), None);
            assert_eq!(pulse.crossing(-0.1, Edge::Falling), None);
        }
    }

    #[test]
    fn peak_time_is_the_maximum() {
        let pulse = BiExpPulse::new(1.0, 0.0, PulseShape::SCINTILLATOR).expect("valid");
        let tp = pulse.peak_time();
        assert!(pulse.value(tp) > pulse.value(tp - 1e-3));
        assert!(pulse.value(tp) > pulse.value(tp + 1e-3));
        assert!((tp - 1.334_3).abs() < 1e-3);
    }

    #[test]
    fn area_matches_numeric_integral() {
        let pulse = BiExpPulse::new(
            1.3,
            2.0,
            PulseShape {
                rise: 1.5,
                decay: 6.0,
            },
        )
        .expect("ok");
        let dt = 1e-3;
        let sum: f64 = (0..200_000).map(|i| pulse.value(i as f64 * dt) * dt).sum();
        assert!((sum - pulse.area()).abs() < 1e-3);
    }

    #[test]
    fn cf_time_is_on_the_rising_edge() {
        let pulse = BiExpPulse::from_peak(0.5, 0.0, PulseShape::SCINTILLATOR).expect("ok");
        let t = pulse.cf_time(0.3).expect("valid fraction");
        assert!((pulse.value(t) - 0.15).abs() < 1e-9);
        assert!(t < pulse.peak_time());
        assert_eq!(pulse.cf_time(1.2), None);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(PulseShape::new(0.0, 1.0).is_err());
        assert!(PulseShape::new(1.0, 1.0).is_err());
        assert!(PulseShape::new(f64::NAN, 1.0).is_err());
        assert!(BiExpPulse::new(-1.0, 0.0, PulseShape::SCINTILLATOR).is_err());
        assert!(BiExpPulse::new(1.0, f64::INFINITY, PulseShape::SCINTILLATOR).is_err());
    }

    #[test]
    fn analytic_gradients_match_finite_differences() {
        let shape = PulseShape {
            rise: 1.1,
            decay: 3.4,
        };
        let h = 1e-6;
        let (dd, dr) = shape.peak_offset_gradient();
        let up_d = PulseShape {
            decay: shape.decay + h,
            ..shape
        }
        .peak_offset();
        let dn_d = PulseShape {
            decay: shape.decay - h,
            ..shape
        }
        .peak_offset();
        let up_r = PulseShape {
            rise: shape.rise + h,
            ..shape
        }
        .peak_offset();
        let dn_r = PulseShape {
            rise: shape.rise - h,
            ..shape
        }
        .peak_offset();
        assert!((dd - (up_d - dn_d) / (2.0 * h)).abs() < 1e-6);
        assert!((dr - (up_r - dn_r) / (2.0 * h)).abs() < 1e-6);
        let s = 2.3;
        let (fd, fr) = shape.shape_gradient(s);
        let num_d = (PulseShape {
            decay: shape.decay + h,
            ..shape
        }
        .unit_value(s)
            - PulseShape {
                decay: shape.decay - h,
                ..shape
            }
            .unit_value(s))
            / (2.0 * h);
        let num_r = (PulseShape {
            rise: shape.rise + h,
            ..shape
        }
        .unit_value(s)
            - PulseShape {
                rise: shape.rise - h,
                ..shape
            }
            .unit_value(s))
            / (2.0 * h);
        assert!((fd - num_d).abs() < 1e-7 && (fr - num_r).abs() < 1e-7);
    }
}
