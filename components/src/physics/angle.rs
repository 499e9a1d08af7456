//! `AngleFinder`: shower direction from detector arrival times (flat front).
//!
//! # Model
//!
//! A flat front from the direction `n = (sinθ cosφ, sinθ sinφ, cosθ)` (where the shower
//! comes *from*; zenith `θ` from `+z` up, azimuth `φ` from `+x` (east) towards `+y`
//! (north), in `(−π, π]`) moves along `u = −n` and reaches the detector at `r_i` at
//!
//! ```text
//! t_i = t0 + u·r_i/c = t0 − (a_x x_i + a_y y_i + a_z z_i)/c,   (a_x, a_y) = n_xy
//! ```
//!
//! Unknowns `(t0, a_x, a_y)` enter linearly. With three detectors the system is solved
//! exactly (closed form, Cramer's rule); with more, by weighted least squares with each
//! time's σ. Height differences are handled by iterating `a_z = √(1 − a_x² − a_y²)`
//! (exact for a flat layout, where `z` drops out). Then `θ = asin|a_xy|`,
//! `φ = atan2(a_y, a_x)`, with errors propagated from the `(a_x, a_y)` covariance.
//! `|a_xy| > 1` has no physical direction: the result is flagged
//! [`ShowerDirection::unphysical`] and reports `θ = 90°`.
//!
//! # Examples
//!
//! ```rust
//! use components::physics::angle::AngleFinder;
//! use components::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};
//!
//! let layout = DetectorLayout::grid(2, 2, 10.0)?;
//! let finder = AngleFinder::new(layout.clone(), 1.0)?;
//! // A vertical shower hits every detector at once.
//! let hits: Vec<(usize, f64)> = (0..4).map(|d| (d, 100.0)).collect();
//! let dir = finder.find(&hits)?;
//! assert!(dir.zenith.value.abs() < 1e-9);
//! assert!(!dir.unphysical);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

use super::error::{AngleError, ConfigError};
use super::fit::Measured;
use super::layout::{DetectorLayout, SPEED_OF_LIGHT};

/// A reconstructed shower direction.
///
/// # Examples
///
/// ```rust
/// use components::physics::angle::AngleFinder;
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
    /// `|a_xy| > 1`: no direction fits the times.
    pub unphysical: bool,
}

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
        Ok(AngleFinder {
            layout,
            timing_sigma,
        })
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
    /// non-finite time or non-positive σ, or collinear detectors.
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

    fn solve(
        &self,
        n: usize,
        hit: impl Fn(usize) -> (usize, f64, f64),
    ) -> Result<ShowerDirection, AngleError> {
        if n < 3 {
            return Err(AngleError::TooFewHits(n));
        }
        for i in 0..n {
            let (d, t, s) = hit(i);
            if self.layout.position(d).is_none() {
                return Err(AngleError::UnknownDetector(d));
            }
            if (0..i).any(|j| hit(j).0 == d) {
                return Err(AngleError::DuplicateDetector(d));
            }
            if !(t.is_finite() && s.is_finite() && s > 0.0) {
                return Err(AngleError::NotFinite(i));
            }
        }
        // Times relative to the first hit keep the numbers small.
        let t_ref = hit(0).1;
        let pos = |i: usize| self.layout.position(hit(i).0).unwrap_or([0.0; 3]);
        // Normal matrix of the unknowns (t0, a_x, a_y): row_i = (1, −x_i/c, −y_i/c).
        let mut normal = Matrix3::<f64>::zeros();
        for i in 0..n {
            let r = pos(i);
            let row = Vector3::new(1.0, -r[0] / SPEED_OF_LIGHT, -r[1] / SPEED_OF_LIGHT);
            normal += row * row.transpose() / hit(i).2.powi(2);
        }
        let cov = normal.try_inverse().ok_or(AngleError::Degenerate)?;
        // Collinear detectors leave a (near) null direction: reject on conditioning.
        let eig = normal.symmetric_eigenvalues();
        let (lo, hi) = (eig.min(), eig.max());
        if lo.is_nan() || lo <= 1e-10 * hi {
            return Err(AngleError::Degenerate);
        }
        let mut az = 1.0;
        let mut x = Vector3::zeros();
        // Fixed point in a_z: exact at once for a flat layout, a few steps otherwise.
        for _ in 0..100 {
            let mut rhs = Vector3::<f64>::zeros();
            for i in 0..n {
                let r = pos(i);
                let (_, t, s) = hit(i);
                let row = Vector3::new(1.0, -r[0] / SPEED_OF_LIGHT, -r[1] / SPEED_OF_LIGHT);
                rhs += row * ((t - t_ref) + az * r[2] / SPEED_OF_LIGHT) / (s * s);
            }
            x = cov * rhs;
            let next = (1.0 - x[1] * x[1] - x[2] * x[2]).max(0.0).sqrt();
            let step = (next - az).abs();
            az = next;
            if step < 1e-13 {
                break;
            }
        }
        let mut chi2 = 0.0;
        for i in 0..n {
            let r = pos(i);
            let (_, t, s) = hit(i);
            let model = x[0] - (x[1] * r[0] + x[2] * r[1] + az * r[2]) / SPEED_OF_LIGHT;
            chi2 += ((t - t_ref - model) / s).powi(2);
        }
        let (ax, ay) = (x[1], x[2]);
        let rho = ax.hypot(ay);
        let unphysical = rho > 1.0;
        let zenith = if unphysical {
            std::f64::consts::FRAC_PI_2
        } else {
            rho.asin()
        };
        let azimuth = ay.atan2(ax);
        // Jacobians of θ and φ with respect to (a_x, a_y).
        let (cxx, cxy, cyy) = (cov[(1, 1)], cov[(1, 2)], cov[(2, 2)]);
        let zenith_err = if unphysical || rho == 0.0 {
            // At the zenith θ = |a| to first order: quote the radial spread.
            ((cxx + cyy) / 2.0).sqrt()
        } else {
            let k = 1.0 / (rho * (1.0 - rho * rho).max(1e-12).sqrt());
            let (gx, gy) = (ax * k, ay * k);
            (gx * gx * cxx + 2.0 * gx * gy * cxy + gy * gy * cyy)
                .max(0.0)
                .sqrt()
        };
        let azimuth_err = if rho > 0.0 {
            let (gx, gy) = (-ay / (rho * rho), ax / (rho * rho));
            (gx * gx * cxx + 2.0 * gx * gy * cxy + gy * gy * cyy)
                .max(0.0)
                .sqrt()
        } else {
            std::f64::consts::PI
        };
        let direction = if unphysical {
            [ax / rho, ay / rho, 0.0]
        } else {
            [ax, ay, az]
        };
        let mut covariance = [[0.0; 3]; 3];
        for (i, row) in covariance.iter_mut().enumerate() {
            for (j, c) in row.iter_mut().enumerate() {
                *c = cov[(i, j)];
            }
        }
        Ok(ShowerDirection {
            zenith: Measured {
                value: zenith,
                error: zenith_err,
            },
            azimuth: Measured {
                value: azimuth,
                error: azimuth_err,
            },
            time: Measured {
                value: t_ref + x[0],
                error: cov[(0, 0)].sqrt(),
            },
            direction,
            cosines: [ax, ay],
            covariance,
            chi2,
            dof: n - 3,
            unphysical,
        })
    }
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
