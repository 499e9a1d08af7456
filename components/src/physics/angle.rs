//! `AngleFinder`: shower direction from detector arrival times (flat front).
//!
//! # Model
//!
//! A flat front from the direction `n = (sinθ cosφ, sinθ sinφ, cosθ)` (where the shower
//! comes *from*; zenith `θ` from `+z` up, azimuth `φ` from `+x` (east) towards `+y`
//! (north), in `(−π, π]`) moves along `u = −n` and reaches the detector at `r_i` at
//!
//! ```text
//! t_i = t0 + u·r_i/c = t0 − (a_x x_i + a_y y_i + a_z z_i)/c,   a = n, |a| = 1
//! ```
//!
//! # Solutions
//!
//! - **Flat layout** (all hit detectors at one height): `z` drops out and `(t0, a_x, a_y)`
//!   enter linearly: closed form for three hits, weighted least squares for more, then
//!   `a_z = √(1 − a_x² − a_y²)`. `|a_xy| > 1` has no physical direction.
//! - **Detectors at different heights, three hits**: the two time differences fix `a` on a
//!   line perpendicular to the detectors' plane, which meets the unit sphere in zero, one
//!   or two points. Every exact solution from above the horizon is reported: two give
//!   [`DirectionStatus::Ambiguous`] with the second in [`ShowerDirection::second`].
//! - **Detectors at different heights, four or more hits**: the least-squares direction on
//!   the unit sphere (`t0` profiled out, χ² a quadratic form in `a`), by Newton steps in
//!   the tangent plane from the unconstrained solution (or, for heights small beside the
//!   distances, the horizontal one). When the Lagrange multiplier does not certify that
//!   minimum as global (`Q + λI` positive definite) or it lies below the horizon, a second
//!   run starts from its mirror image through the detectors' best plane, to find the other
//!   local minimum (a quadratic on the sphere has at most one besides the global); the
//!   lowest χ² from above the horizon wins. A run that does not converge is [`DirectionStatus::NotConverged`].
//!
//! A result is never `found` unless the times fit it: with degrees of freedom, a χ²
//! whose probability is below the finder's limit ([`AngleFinder::with_min_probability`],
//! default 0.001) is [`DirectionStatus::PoorFit`]; with none, the residuals must vanish.
//! No direction from above the horizon is [`DirectionStatus::Unphysical`], reported at
//! `θ = 90°`. Errors come from the Fisher information of the direction in the tangent
//! plane (for a flat layout, the `(a_x, a_y)` covariance), propagated to `θ` and `φ`.
//!
//! Times are `f64` ns; give them relative to the event (e.g. with
//! [`ExactTime`](super::direction::time::ExactTime)): a time so large that `f64` cannot
//! hold it to its timing error is refused with [`AngleError::Imprecise`].
//!
//! # Examples
//!
//! ```rust
//! use components::physics::angle::{AngleFinder, DirectionStatus};
//! use components::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};
//!
//! let layout = DetectorLayout::grid(2, 2, 10.0)?;
//! let finder = AngleFinder::new(layout.clone(), 1.0)?;
//! // A vertical shower hits every detector at once.
//! let hits: Vec<(usize, f64)> = (0..4).map(|d| (d, 100.0)).collect();
//! let dir = finder.find(&hits)?;
//! assert!(dir.zenith.value.abs() < 1e-9);
//! assert_eq!(dir.status, DirectionStatus::Found);
//!
//! // Detectors at different heights: a front from 40° zenith, 30° azimuth.
//! let layout = DetectorLayout::new(vec![[0.0, 0.0, 0.0], [10.0, 0.0, 3.0], [0.0, 10.0, -2.0], [8.0, 9.0, 15.0]])?;
//! let (theta, phi) = (40f64.to_radians(), 30f64.to_radians());
//! let n = [theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos()];
//! let hits: Vec<(usize, f64)> = layout.positions().iter().enumerate()
//!     .map(|(d, r)| (d, 50.0 - (n[0] * r[0] + n[1] * r[1] + n[2] * r[2]) / SPEED_OF_LIGHT))
//!     .collect();
//! let dir = AngleFinder::new(layout, 1.0)?.find(&hits)?;
//! assert!((dir.zenith.value - theta).abs() < 1e-9 && (dir.azimuth.value - phi).abs() < 1e-9);
//! assert_eq!(dir.status, DirectionStatus::Found);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::direction::sphere::{self, Normal, ThreeHits, V3};
use super::error::{AngleError, ConfigError};
use super::fit::Measured;
use super::layout::{DetectorLayout, SPEED_OF_LIGHT};

/// What a reconstructed direction is worth.
///
/// # Examples
///
/// ```rust
/// use components::physics::angle::DirectionStatus;
///
/// assert_eq!(DirectionStatus::Ambiguous.as_str(), "ambiguous");
/// assert!(DirectionStatus::Found.is_found());
/// assert!(!DirectionStatus::PoorFit.is_found());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectionStatus {
    /// One direction fits the times within their errors.
    Found,
    /// Three hits at different heights: two directions from above the horizon fit the
    /// times exactly; the second is in [`ShowerDirection::second`].
    Ambiguous,
    /// No direction from above the horizon fits the times (zenith reported as 90°).
    Unphysical,
    /// The best direction's χ² is too large for the timing errors (probability below the
    /// finder's limit), or with no degrees of freedom its residuals do not vanish.
    PoorFit,
    /// The least-squares iteration did not converge; the direction is the last iterate.
    NotConverged,
}

impl DirectionStatus {
    /// The status as written in CSV files: `found`, `ambiguous`, `unphysical`,
    /// `poor_fit`, `not_converged`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::DirectionStatus;
    /// assert_eq!(DirectionStatus::NotConverged.as_str(), "not_converged");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            DirectionStatus::Found => "found",
            DirectionStatus::Ambiguous => "ambiguous",
            DirectionStatus::Unphysical => "unphysical",
            DirectionStatus::PoorFit => "poor_fit",
            DirectionStatus::NotConverged => "not_converged",
        }
    }

    /// `true` only for [`DirectionStatus::Found`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::DirectionStatus;
    /// assert!(DirectionStatus::Found.is_found() && !DirectionStatus::Ambiguous.is_found());
    /// ```
    pub fn is_found(self) -> bool {
        self == DirectionStatus::Found
    }
}

/// The other exact direction of an [ambiguous](DirectionStatus::Ambiguous) three-hit event.
///
/// # Examples
///
/// ```rust
/// use components::physics::angle::{AngleFinder, DirectionStatus};
/// use components::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};
///
/// // Three detectors on a plane tilted 45° about the x axis.
/// let layout = DetectorLayout::new(vec![[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 10.0]])?;
/// // A front from 20° zenith, azimuth +90° (north): its mirror image through the
/// // detectors' plane comes from 70° zenith, also from above the horizon.
/// let (theta, phi) = (20f64.to_radians(), 90f64.to_radians());
/// let n = [theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos()];
/// let hits: Vec<(usize, f64)> = layout.positions().iter().enumerate()
///     .map(|(d, r)| (d, -(n[0] * r[0] + n[1] * r[1] + n[2] * r[2]) / SPEED_OF_LIGHT))
///     .collect();
/// let dir = AngleFinder::new(layout, 1.0)?.find(&hits)?;
/// assert_eq!(dir.status, DirectionStatus::Ambiguous);
/// let second = dir.second.expect("two solutions");
/// let found = [dir.zenith.value, second.zenith.value];
/// assert!(found.iter().any(|z| (z - theta).abs() < 1e-9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecondDirection {
    /// Zenith angle θ, rad.
    pub zenith: Measured,
    /// Azimuth φ, rad, from `+x` towards `+y`, in `(−π, π]`.
    pub azimuth: Measured,
    /// Time the front passes the layout origin, ns.
    pub time: f64,
    /// Unit vector towards the source.
    pub direction: [f64; 3],
}

/// A reconstructed shower direction.
///
/// # Examples
///
/// ```rust
/// use components::physics::angle::{AngleFinder, DirectionStatus};
/// use components::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};
///
/// let finder = AngleFinder::new(DetectorLayout::grid(3, 3, 10.0)?, 1.0)?;
/// // A front from the east (+x) at 30° zenith: a_x = sin 30° = 0.5, so eastern
/// // detectors are hit first.
/// let hits: Vec<(usize, f64)> = (0..9)
///     .map(|d| (d, 100.0 - 0.5 * (d % 3) as f64 * 10.0 / SPEED_OF_LIGHT))
///     .collect();
/// let dir = finder.find(&hits)?;
/// assert!((dir.zenith.value - 30f64.to_radians()).abs() < 1e-9);
/// assert!(dir.azimuth.value.abs() < 1e-9);
/// assert!((dir.time.value - 100.0).abs() < 1e-9);
/// assert!((dir.cosines[0] - 0.5).abs() < 1e-9);
/// assert_eq!(dir.dof, 6);
/// assert!(dir.chi2 < 1e-12 && !dir.unphysical);
/// assert_eq!(dir.status, DirectionStatus::Found);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowerDirection {
    /// Zenith angle θ, rad.
    pub zenith: Measured,
    /// Azimuth φ, rad, from `+x` towards `+y`, in `(−π, π]`.
    pub azimuth: Measured,
    /// Time the front passes the layout origin, ns.
    pub time: Measured,
    /// Unit vector towards the source (`n`); for an unphysical fit, the horizontal
    /// direction of `(a_x, a_y)`.
    pub direction: [f64; 3],
    /// Fitted direction cosines `(a_x, a_y)`; `|a| > 1` is unphysical.
    pub cosines: [f64; 2],
    /// Covariance of `(t0, a_x, a_y)`.
    pub covariance: [[f64; 3]; 3],
    /// χ² of the arrival times (0 for three detectors).
    pub chi2: f64,
    /// Degrees of freedom: hits − 3.
    pub dof: usize,
    /// `status == Unphysical`: no direction from above the horizon fits the times.
    pub unphysical: bool,
    /// What the direction is worth; see [`DirectionStatus`].
    pub status: DirectionStatus,
    /// The other exact solution of an ambiguous three-hit event.
    pub second: Option<SecondDirection>,
}

impl ShowerDirection {
    /// Probability of a χ² at least this large with [`dof`](Self::dof) degrees of
    /// freedom, or `None` without degrees of freedom.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::AngleFinder;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
    /// let dir = finder.find(&[(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0)])?;
    /// assert!((dir.p_value().unwrap() - 1.0).abs() < 1e-9);
    /// assert_eq!(finder.find(&[(0, 0.0), (1, 0.0), (2, 0.0)])?.p_value(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn p_value(&self) -> Option<f64> {
        if self.dof == 0 {
            return None;
        }
        ChiSquared::new(self.dof as f64)
            .ok()
            .map(|d| d.sf(self.chi2.max(0.0)))
    }
}

/// χ² quantiles cached for this many degrees of freedom.
const CACHED_DOF: usize = 32;

/// Finds shower directions for one layout; see the [module docs](self).
///
/// # Examples
///
/// ```rust
/// use components::physics::angle::AngleFinder;
/// use components::physics::layout::DetectorLayout;
///
/// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
/// let dir = finder.find(&[(0, 50.0), (1, 50.0), (2, 50.0)])?;
/// assert!(dir.zenith.value.abs() < 1e-9);
/// assert_eq!(dir.dof, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct AngleFinder {
    layout: DetectorLayout,
    timing_sigma: f64,
    min_probability: f64,
    /// χ² above which the probability is below `min_probability`, for dof 1..=CACHED_DOF.
    chi2_limits: Vec<f64>,
}

/// The χ² with upper-tail probability `p` at `dof` degrees of freedom.
fn chi2_limit(dof: usize, p: f64) -> f64 {
    ChiSquared::new(dof as f64)
        .map(|d| d.inverse_cdf(1.0 - p))
        .unwrap_or(f64::INFINITY)
}

/// A direction on the sphere and what it is worth, before errors are attached.
struct Solution {
    a: V3,
    status: DirectionStatus,
    second: Option<V3>,
}

impl AngleFinder {
    /// A finder for `layout` with a common timing error per hit (ns).
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] unless `timing_sigma` is finite and positive.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::AngleFinder;
    /// use components::physics::error::ConfigError;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let layout = DetectorLayout::grid(2, 2, 10.0)?;
    /// assert!(AngleFinder::new(layout.clone(), 0.5).is_ok());
    /// assert!(matches!(
    ///     AngleFinder::new(layout, 0.0),
    ///     Err(ConfigError::OutOfRange { name: "timing_sigma", .. })
    /// ));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn new(layout: DetectorLayout, timing_sigma: f64) -> Result<Self, ConfigError> {
        if !(timing_sigma.is_finite() && timing_sigma > 0.0) {
            return Err(ConfigError::OutOfRange {
                name: "timing_sigma",
                value: timing_sigma,
                expected: "> 0",
            });
        }
        AngleFinder {
            layout,
            timing_sigma,
            min_probability: 0.0,
            chi2_limits: Vec::new(),
        }
        .with_min_probability(1e-3)
    }

    /// The same finder with another χ² probability limit: a fit whose χ² is less likely
    /// than `p` under the timing errors is [`DirectionStatus::PoorFit`] (0 flags none).
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] unless `0 ≤ p < 1`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::{AngleFinder, DirectionStatus};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
    /// // Detector 3 is 20 ns late: no plane front fits within 1 ns.
    /// let hits = [(0, 0.0), (1, 0.0), (2, 0.0), (3, 20.0)];
    /// assert_eq!(finder.find(&hits)?.status, DirectionStatus::PoorFit);
    /// let lenient = finder.with_min_probability(0.0)?;
    /// assert_eq!(lenient.find(&hits)?.status, DirectionStatus::Found);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_min_probability(mut self, p: f64) -> Result<Self, ConfigError> {
        if !(0.0..1.0).contains(&p) {
            return Err(ConfigError::OutOfRange {
                name: "min_probability",
                value: p,
                expected: "in [0, 1)",
            });
        }
        self.min_probability = p;
        self.chi2_limits = (1..=CACHED_DOF)
            .map(|dof| {
                if p == 0.0 {
                    f64::INFINITY
                } else {
                    chi2_limit(dof, p)
                }
            })
            .collect();
        Ok(self)
    }

    /// The detector layout.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::AngleFinder;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
    /// assert_eq!(finder.layout().len(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn layout(&self) -> &DetectorLayout {
        &self.layout
    }

    /// The common timing error per hit, ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::AngleFinder;
    /// use components::physics::layout::DetectorLayout;
    /// assert_eq!(AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.5)?.timing_sigma(), 1.5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timing_sigma(&self) -> f64 {
        self.timing_sigma
    }

    /// Direction from `(detector, time ns)` hits, all with the common timing error.
    ///
    /// # Errors
    ///
    /// As [`find_weighted`](Self::find_weighted).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::AngleFinder;
    /// use components::physics::error::AngleError;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
    /// let dir = finder.find(&[(0, 7.0), (1, 7.0), (2, 7.0), (3, 7.0)])?;
    /// assert!(dir.zenith.value.abs() < 1e-9);
    /// assert!((dir.time.value - 7.0).abs() < 1e-9);
    /// assert_eq!(finder.find(&[(0, 7.0), (1, 7.0)]), Err(AngleError::TooFewHits(2)));
    /// // Nanoseconds since 1970 are too coarse in f64 (steps of 256 ns): refused.
    /// assert_eq!(
    ///     finder.find(&[(0, 1.8e18), (1, 1.8e18), (2, 1.8e18)]),
    ///     Err(AngleError::Imprecise(0))
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(&self, hits: &[(usize, f64)]) -> Result<ShowerDirection, AngleError> {
        let sigma = self.timing_sigma;
        self.solve(hits.len(), |i| (hits[i].0, hits[i].1, sigma))
    }

    /// Direction from `(detector, time ns, σ ns)` hits.
    ///
    /// # Errors
    ///
    /// [`AngleError`] for fewer than three hits, an unknown or repeated detector, a
    /// non-finite time or non-positive σ, a time too large for `f64` to hold to its σ
    /// (beyond about 52 days in ns for σ = 1 ns), or collinear detectors.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::angle::AngleFinder;
    /// use components::physics::error::AngleError;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
    /// // Per-hit timing errors: detector 3 is less precise.
    /// let dir = finder.find_weighted(&[(0, 5.0, 0.5), (1, 5.0, 0.5), (2, 5.0, 0.5), (3, 5.0, 2.0)])?;
    /// assert!(dir.zenith.value.abs() < 1e-9);
    /// assert_eq!(
    ///     finder.find_weighted(&[(0, 5.0, 0.5), (1, 5.0, 0.5), (1, 5.0, 0.5)]),
    ///     Err(AngleError::DuplicateDetector(1))
    /// );
    /// assert_eq!(
    ///     finder.find_weighted(&[(0, 5.0, 0.5), (1, 5.0, 0.0), (2, 5.0, 0.5)]),
    ///     Err(AngleError::NotFinite(1))
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_weighted(&self, hits: &[(usize, f64, f64)]) -> Result<ShowerDirection, AngleError> {
        self.solve(hits.len(), |i| hits[i])
    }

    fn chi2_limit(&self, dof: usize) -> f64 {
        match self.chi2_limits.get(dof.wrapping_sub(1)) {
            Some(&limit) => limit,
            None if self.min_probability == 0.0 => f64::INFINITY,
            None => chi2_limit(dof, self.min_probability),
        }
    }

    fn solve(
        &self,
        n: usize,
        hit: impl Fn(usize) -> (usize, f64, f64),
    ) -> Result<ShowerDirection, AngleError> {
        if n < 3 {
            return Err(AngleError::TooFewHits(n));
        }
        let (mut z_min, mut z_max) = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..n {
            let (d, t, s) = hit(i);
            let Some(r) = self.layout.position(d) else {
                return Err(AngleError::UnknownDetector(d));
            };
            if (0..i).any(|j| hit(j).0 == d) {
                return Err(AngleError::DuplicateDetector(d));
            }
            if !(t.is_finite() && s.is_finite() && s > 0.0) {
                return Err(AngleError::NotFinite(i));
            }
            // f64 holds t to about |t|·2⁻⁵² ns.
            if t.abs() * f64::EPSILON > s {
                return Err(AngleError::Imprecise(i));
            }
            z_min = z_min.min(r[2]);
            z_max = z_max.max(r[2]);
        }
        // Times relative to the first hit keep the numbers small.
        let t_ref = hit(0).1;
        let pos = |i: usize| self.layout.position(hit(i).0).unwrap_or([0.0; 3]);
        let triple = |i: usize| {
            let (_, t, s) = hit(i);
            (
                sphere::scale(pos(i), 1.0 / SPEED_OF_LIGHT),
                t - t_ref,
                1.0 / (s * s),
            )
        };
        let normal = Normal::new((0..n).map(triple), (0..n).map(triple));
        if normal.collinear() {
            return Err(AngleError::Degenerate);
        }
        // A micrometre of height is a femtosecond of time: flat.
        let flat = z_max - z_min < 1e-6;
        let dof = n - 3;
        let (a, cov_a, status, second) = if flat {
            self.flat(&normal, dof)
        } else {
            let solution = if n == 3 {
                self.three(&normal, [triple(0), triple(1), triple(2)])
            } else {
                self.many(&normal, dof)
            };
            let cov_a = tangent_covariance(&normal, solution.a);
            (solution.a, cov_a, solution.status, solution.second)
        };
        // χ² from the residuals themselves: the quadratic form loses digits to cancellation.
        let chi2 = (0..n)
            .map(|i| {
                let (p, t, w) = triple(i);
                let dp = [
                    p[0] - normal.p_mean[0],
                    p[1] - normal.p_mean[1],
                    p[2] - normal.p_mean[2],
                ];
                w * (t - normal.t_mean + sphere::dot(a, dp)).powi(2)
            })
            .sum();
        Ok(self.direction(&normal, t_ref, a, cov_a, status, second, dof, chi2))
    }

    /// Flat layout: linear least squares in `(a_x, a_y)`; returns the direction cosines
    /// (with `a_z` from the unit length, 0 when unphysical) and their covariance.
    fn flat(
        &self,
        normal: &Normal,
        dof: usize,
    ) -> (V3, [[f64; 3]; 3], DirectionStatus, Option<V3>) {
        let q = &normal.q;
        let det = q[0][0] * q[1][1] - q[0][1] * q[0][1];
        let (cxx, cxy, cyy) = (q[1][1] / det, -q[0][1] / det, q[0][0] / det);
        let ax = -(cxx * normal.b[0] + cxy * normal.b[1]);
        let ay = -(cxy * normal.b[0] + cyy * normal.b[1]);
        let rho2 = ax * ax + ay * ay;
        let a = [ax, ay, (1.0 - rho2).max(0.0).sqrt()];
        let status = if rho2 > 1.0 {
            DirectionStatus::Unphysical
        } else {
            self.judge(normal, a, dof)
        };
        // Along the sphere a_z follows (a_x, a_y): da_z = −(a_x da_x + a_y da_y)/a_z.
        let (kx, ky) = if status == DirectionStatus::Unphysical {
            (0.0, 0.0)
        } else {
            let az = a[2].max(1e-9);
            (-ax / az, -ay / az)
        };
        let (czx, czy) = (kx * cxx + ky * cxy, kx * cxy + ky * cyy);
        let cov = [
            [cxx, cxy, czx],
            [cxy, cyy, czy],
            [czx, czy, kx * czx + ky * czy],
        ];
        (a, cov, status, None)
    }

    /// Three hits at different heights: the exact solutions from above the horizon.
    fn three(&self, normal: &Normal, hits: [(V3, f64, f64); 3]) -> Solution {
        let p = [hits[0].0, hits[1].0, hits[2].0];
        let t = [hits[0].1, hits[1].1, hits[2].1];
        match sphere::three_hits(p, t) {
            ThreeHits::None(nearest) => Solution {
                a: nearest,
                status: DirectionStatus::Unphysical,
                second: None,
            },
            ThreeHits::Two(u, v) => {
                // Above the horizon, allowing for rounding at exactly horizontal fronts.
                let (up, lo) = if u[2] >= v[2] { (u, v) } else { (v, u) };
                let from_above = |a: V3| a[2] >= -1e-12;
                let status = if !from_above(up) {
                    DirectionStatus::Unphysical
                } else {
                    self.judge(normal, up, 0)
                };
                let second = (from_above(lo) && sphere::dot(up, lo) < 1.0 - 1e-12).then_some(lo);
                let status = match (status, second) {
                    (DirectionStatus::Found, Some(_)) => DirectionStatus::Ambiguous,
                    (s, _) => s,
                };
                Solution {
                    a: up,
                    status,
                    second,
                }
            }
        }
    }

    /// Four or more hits at different heights: least squares on the sphere.
    fn many(&self, normal: &Normal, dof: usize) -> Solution {
        // Start from the unconstrained solution when it is near the sphere (heights well
        // spread), else from the horizontal one (heights small beside distances).
        let start = normal
            .unconstrained()
            .filter(|u| (sphere::norm(*u) - 1.0).abs() < 0.25)
            .unwrap_or_else(|| normal.horizontal_start());
        let first = sphere::minimise(normal, start);
        let best = |m: &mut dyn Iterator<Item = sphere::Minimum>| {
            m.min_by(|x, y| normal.chi2(x.a).total_cmp(&normal.chi2(y.a)))
        };
        // A certified global minimum from above the horizon is the answer. Otherwise the
        // other local minimum lies near the mirror image through the detectors' plane.
        let minima = if first.a[2] >= 0.0 && sphere::is_global(normal, first.a) {
            [first, first]
        } else {
            let m = normal.plane_normal();
            let mirror = sphere::add(first.a, sphere::scale(m, -2.0 * sphere::dot(first.a, m)));
            [first, sphere::minimise(normal, mirror)]
        };
        match best(&mut minima.iter().copied().filter(|m| m.a[2] >= 0.0)) {
            Some(m) => Solution {
                a: m.a,
                status: if m.converged {
                    self.judge(normal, m.a, dof)
                } else {
                    DirectionStatus::NotConverged
                },
                second: None,
            },
            None => Solution {
                a: best(&mut minima.iter().copied()).map_or([0.0, 0.0, 1.0], |m| m.a),
                status: DirectionStatus::Unphysical,
                second: None,
            },
        }
    }

    /// `Found` when the χ² at `a` is within the limit for `dof` (with none, when the
    /// residuals vanish to rounding), else `PoorFit`.
    fn judge(&self, normal: &Normal, a: V3, dof: usize) -> DirectionStatus {
        let chi2 = normal.chi2(a);
        let ok = if dof == 0 {
            // Rounding of the quadratic form: relative to the size of its terms.
            chi2 <= 1e-9 * (normal.c + 1.0)
        } else {
            chi2 <= self.chi2_limit(dof)
        };
        if ok {
            DirectionStatus::Found
        } else {
            DirectionStatus::PoorFit
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one private assembly step")]
    fn direction(
        &self,
        normal: &Normal,
        t_ref: f64,
        a: V3,
        cov_a: [[f64; 3]; 3],
        status: DirectionStatus,
        second: Option<V3>,
        dof: usize,
        chi2: f64,
    ) -> ShowerDirection {
        let unphysical = status == DirectionStatus::Unphysical;
        let (ax, ay) = (a[0], a[1]);
        let rho = (ax * ax + ay * ay).sqrt();
        let zenith = if unphysical {
            std::f64::consts::FRAC_PI_2
        } else {
            a[2].clamp(-1.0, 1.0).acos()
        };
        let azimuth = ay.atan2(ax);
        let (zenith_err, azimuth_err) = angle_errors(a, &cov_a, unphysical);
        let direction = if unphysical && rho > 0.0 {
            [ax / rho, ay / rho, 0.0]
        } else {
            a
        };
        // t0 = τ̄ + a·p̄ (the model is τ = t0 − a·p): variance 1/W + p̄ᵀ C p̄.
        let pm = normal.p_mean;
        let c_p = [
            sphere::dot(cov_a[0], pm),
            sphere::dot(cov_a[1], pm),
            sphere::dot(cov_a[2], pm),
        ];
        let t0 = normal.t_mean + sphere::dot(a, pm);
        let var_t0 = 1.0 / normal.weight + sphere::dot(pm, c_p);
        let covariance = [
            [var_t0, c_p[0], c_p[1]],
            [c_p[0], cov_a[0][0], cov_a[0][1]],
            [c_p[1], cov_a[1][0], cov_a[1][1]],
        ];
        let second = second.map(|s| {
            let cov_s = tangent_covariance(normal, s);
            let (ze, ae) = angle_errors(s, &cov_s, false);
            SecondDirection {
                zenith: Measured {
                    value: s[2].clamp(-1.0, 1.0).acos(),
                    error: ze,
                },
                azimuth: Measured {
                    value: s[1].atan2(s[0]),
                    error: ae,
                },
                time: t_ref + normal.t_mean + sphere::dot(s, pm),
                direction: s,
            }
        });
        ShowerDirection {
            zenith: Measured {
                value: zenith,
                error: zenith_err,
            },
            azimuth: Measured {
                value: azimuth,
                error: azimuth_err,
            },
            time: Measured {
                value: t_ref + t0,
                error: var_t0.max(0.0).sqrt(),
            },
            direction,
            cosines: [ax, ay],
            covariance,
            chi2,
            dof,
            unphysical,
            status,
            second,
        }
    }
}

/// Covariance of the direction `a` from the Fisher information in its tangent plane.
fn tangent_covariance(normal: &Normal, a: V3) -> [[f64; 3]; 3] {
    let (e1, e2) = sphere::tangent_basis(a);
    let f = normal.tangent_information(e1, e2);
    let det = f[0][0] * f[1][1] - f[0][1] * f[1][0];
    let c = [
        [f[1][1] / det, -f[0][1] / det],
        [-f[1][0] / det, f[0][0] / det],
    ];
    // cov = E C Eᵀ with E = [e1 e2].
    let mut cov = [[0.0; 3]; 3];
    for (r, row) in cov.iter_mut().enumerate() {
        let (u, v) = (
            e1[r] * c[0][0] + e2[r] * c[1][0],
            e1[r] * c[0][1] + e2[r] * c[1][1],
        );
        for (k, x) in row.iter_mut().enumerate() {
            *x = u * e1[k] + v * e2[k];
        }
    }
    cov
}

/// 1σ errors of θ and φ for the direction `a` with covariance `cov` of its components.
fn angle_errors(a: V3, cov: &[[f64; 3]; 3], unphysical: bool) -> (f64, f64) {
    let (ax, ay) = (a[0], a[1]);
    let rho = (ax * ax + ay * ay).sqrt();
    let (cxx, cxy, cyy) = (cov[0][0], cov[0][1], cov[1][1]);
    let zenith_err = if unphysical || rho == 0.0 {
        // At the zenith θ = |a_xy| to first order: quote the radial spread.
        ((cxx + cyy) / 2.0).max(0.0).sqrt()
    } else {
        // θ = acos(a_z): dθ = −da_z / sinθ, with a_z's variance along the sphere.
        let e_theta = [ax * a[2] / rho, ay * a[2] / rho, -rho];
        let var: f64 = (0..3)
            .flat_map(|i| (0..3).map(move |j| (i, j)))
            .map(|(i, j)| e_theta[i] * cov[i][j] * e_theta[j])
            .sum();
        var.max(0.0).sqrt()
    };
    let azimuth_err = if rho > 0.0 {
        let (gx, gy) = (-ay / (rho * rho), ax / (rho * rho));
        (gx * gx * cxx + 2.0 * gx * gy * cxy + gy * gy * cyy)
            .max(0.0)
            .sqrt()
    } else {
        std::f64::consts::PI
    };
    (zenith_err, azimuth_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::simulate::{ShowerSim, ShowerSimConfig, SimEvent};

    fn angle_between(a: [f64; 3], b: [f64; 3]) -> f64 {
        let dot: f64 = (0..3).map(|i| a[i] * b[i]).sum();
        dot.clamp(-1.0, 1.0).acos()
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn noiseless_fronts_are_recovered_exactly() {
        let layout = DetectorLayout::new(vec![
            [0.0, 0.0, 0.0],
            [12.0, 1.0, 0.5],
            [3.0, 9.0, -0.3],
            [10.0, 11.0, 0.0],
        ])
        .expect("valid");
        let finder = AngleFinder::new(layout.clone(), 0.5).expect("valid");
        for (theta, phi) in [(0.3f64, 1.0f64), (1.2, -2.5), (0.01, 3.0)] {
            let n = [
                theta.sin() * phi.cos(),
                theta.sin() * phi.sin(),
                theta.cos(),
            ];
            let hits: Vec<(usize, f64)> = layout
                .positions()
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        i,
                        50.0 - (n[0] * r[0] + n[1] * r[1] + n[2] * r[2]) / SPEED_OF_LIGHT,
                    )
                })
                .collect();
            for k in [3, 4] {
                let d = finder.find(&hits[..k]).expect("solvable");
                assert!((d.zenith.value - theta).abs() < 1e-6, "k={k} {d:?}");
                assert!((d.azimuth.value - phi).abs() < 1e-6, "k={k} {d:?}");
                assert!((d.time.value - 50.0).abs() < 1e-6);
                assert_eq!(d.dof, k - 3);
            }
        }
    }

    #[test]
    fn bad_input_is_rejected() {
        let layout = DetectorLayout::new(vec![
            [0.0; 3],
            [10.0, 0.0, 0.0],
            [20.0, 0.0, 0.0],
            [0.0, 5.0, 0.0],
        ])
        .expect("valid");
        let f = AngleFinder::new(layout, 1.0).expect("valid");
        assert_eq!(
            f.find(&[(0, 0.0), (1, 1.0)]),
            Err(AngleError::TooFewHits(2))
        );
        assert_eq!(
            f.find(&[(0, 0.0), (1, 1.0), (1, 2.0)]),
            Err(AngleError::DuplicateDetector(1))
        );
        assert_eq!(
            f.find(&[(0, 0.0), (1, 1.0), (7, 2.0)]),
            Err(AngleError::UnknownDetector(7))
        );
        assert_eq!(
            f.find(&[(0, 0.0), (1, 1.0), (2, 2.0)]),
            Err(AngleError::Degenerate)
        );
        assert_eq!(
            f.find(&[(0, 0.0), (1, f64::NAN), (3, 2.0)]),
            Err(AngleError::NotFinite(1))
        );
    }

    #[test]
    fn times_faster_than_light_are_flagged_unphysical() {
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let f = AngleFinder::new(layout, 1.0).expect("valid");
        // 60 ns earlier 10 m along x: a_x = 60·c/10 ≈ 1.8, faster than any real front.
        let d = f
            .find(&[(0, 100.0), (1, 40.0), (2, 100.0), (3, 40.0)])
            .expect("solvable");
        assert!(d.unphysical);
        assert_eq!(d.zenith.value, std::f64::consts::FRAC_PI_2);
    }

    #[test]
    fn simulated_showers_match_the_timing_resolution() {
        // 3×3 grid, 15 m spacing, σ_t = 1.5 ns.
        let (spacing, sigma_t) = (15.0, 1.5);
        let layout = DetectorLayout::grid(3, 3, spacing).expect("valid");
        let cfg = ShowerSimConfig {
            shower_rate: 100.0,
            background_rate: 0.0,
            timing_sigma: sigma_t,
            ..ShowerSimConfig::default()
        };
        let finder = AngleFinder::new(layout.clone(), sigma_t).expect("valid");
        let mut sim = ShowerSim::new(layout, cfg, 31).expect("valid");
        let (mut errors, mut zen_pulls, mut chi2) = (Vec::new(), Vec::new(), 0.0);
        let mut shower: Option<(f64, f64)> = None;
        let mut hits = Vec::new();
        let mut done = 0;
        while done < 2000 {
            match sim.next() {
                Some(SimEvent::Shower(s)) => {
                    hits.clear();
                    shower = Some((s.zenith, s.azimuth));
                }
                Some(SimEvent::Pulse(p)) => {
                    hits.push((p.detector, p.time));
                    if hits.len() == 9 {
                        let (theta, phi) = shower.expect("truth precedes its pulses");
                        let d = finder.find(&hits).expect("solvable");
                        let truth = [
                            theta.sin() * phi.cos(),
                            theta.sin() * phi.sin(),
                            theta.cos(),
                        ];
                        let fitted = [
                            d.cosines[0],
                            d.cosines[1],
                            (1.0 - d.cosines[0].powi(2) - d.cosines[1].powi(2))
                                .max(0.0)
                                .sqrt(),
                        ];
                        errors.push(angle_between(truth, fitted));
                        if theta < 1.0 && theta > 0.2 && !d.unphysical {
                            zen_pulls.push((d.zenith.value - theta) / d.zenith.error);
                        }
                        chi2 += d.chi2;
                        done += 1;
                    }
                }
                None => unreachable!("the stream is endless"),
            }
        }
        // Direction cosines have σ_a = c·σ_t/√(Σ(x−x̄)²) = c·σ_t/(spacing·√6) on a 3×3
        // grid. Near the zenith the space angle is |δa|, a 2-D Gaussian: median
        // σ_a·√(2 ln 2). Inclined showers add 1/cosθ along the zenith; allow for it.
        let sigma_a = SPEED_OF_LIGHT * sigma_t / (spacing * 6f64.sqrt());
        let expected = sigma_a * (2.0 * 2f64.ln()).sqrt();
        let med = median(errors);
        assert!(
            med > 0.9 * expected && med < 1.4 * expected,
            "median {med} vs {expected}"
        );
        let n = zen_pulls.len() as f64;
        let mean = zen_pulls.iter().sum::<f64>() / n;
        let sd = (zen_pulls.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(
            mean.abs() < 0.1 && (0.85..1.15).contains(&sd),
            "zenith pulls {mean} ± {sd}"
        );
        // χ²/dof ≈ 1 for 6 dof.
        assert!((chi2 / 2000.0 / 6.0 - 1.0).abs() < 0.1);
    }
}
