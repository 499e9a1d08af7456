//! Flat-front least squares on the unit sphere: the arithmetic behind
//! [`AngleFinder`](crate::physics::angle::AngleFinder).
//!
//! With the front time `t0` profiled out, the χ² of a direction `a` (unit vector towards
//! the source) is the quadratic form
//!
//! ```text
//! χ²(a) = Σ w_i (τ̃_i + a·p̃_i)² = aᵀQa + 2bᵀa + c,   Q = Σ w p̃ p̃ᵀ,  b = Σ w τ̃ p̃
//! ```
//!
//! where `p̃_i` are the detector positions divided by `c` and `τ̃_i` the arrival times,
//! both centred on their weighted means. [`Normal`] accumulates it; [`three_hits`] solves
//! three hits exactly (a line of solutions of the two time differences meets the sphere in
//! zero, one or two points); [`minimise`] finds a local minimum on the sphere by Newton
//! steps in the tangent plane, with a convergence flag.

/// A 3-vector.
pub(crate) type V3 = [f64; 3];

pub(crate) fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn scale(a: V3, k: f64) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

pub(crate) fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub(crate) fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

fn mat_vec(q: &[V3; 3], a: V3) -> V3 {
    [dot(q[0], a), dot(q[1], a), dot(q[2], a)]
}

/// The profiled χ² of the hits as a quadratic form in the direction.
#[derive(Debug, Clone)]
pub(crate) struct Normal {
    /// `Σ w p̃ p̃ᵀ`, ns².
    pub(crate) q: [V3; 3],
    /// `Σ w τ̃ p̃`.
    pub(crate) b: V3,
    /// `Σ w τ̃²`.
    pub(crate) c: f64,
    /// `Σ w`.
    pub(crate) weight: f64,
    /// Weighted mean of `p`, ns.
    pub(crate) p_mean: V3,
    /// Weighted mean of `τ`, ns.
    pub(crate) t_mean: f64,
}

impl Normal {
    /// Accumulates `(p, τ, w)` triples given twice (two passes keep the centring exact).
    pub(crate) fn new<I: Iterator<Item = (V3, f64, f64)>>(
        first: I,
        second: impl Iterator<Item = (V3, f64, f64)>,
    ) -> Self {
        let (mut sw, mut sp, mut st) = (0.0, [0.0; 3], 0.0);
        for (p, t, w) in first {
            sw += w;
            sp = add(sp, scale(p, w));
            st += w * t;
        }
        let p_mean = scale(sp, 1.0 / sw);
        let t_mean = st / sw;
        let mut q = [[0.0; 3]; 3];
        let (mut b, mut c) = ([0.0; 3], 0.0);
        for (p, t, w) in second {
            let d = [p[0] - p_mean[0], p[1] - p_mean[1], p[2] - p_mean[2]];
            let dt = t - t_mean;
            for (r, row) in q.iter_mut().enumerate() {
                for (k, v) in row.iter_mut().enumerate() {
                    *v += w * d[r] * d[k];
                }
            }
            b = add(b, scale(d, w * dt));
            c += w * dt * dt;
        }
        Normal {
            q,
            b,
            c,
            weight: sw,
            p_mean,
            t_mean,
        }
    }

    /// χ² at `a` from the quadratic form (rounding near zero can make it slightly negative).
    pub(crate) fn chi2(&self, a: V3) -> f64 {
        dot(a, mat_vec(&self.q, a)) + 2.0 * dot(self.b, a) + self.c
    }

    /// `true` when the hit detectors span less than a plane.
    pub(crate) fn collinear(&self) -> bool {
        let q = &self.q;
        let trace = q[0][0] + q[1][1] + q[2][2];
        let minors = q[0][0] * q[1][1] - q[0][1] * q[0][1] + q[0][0] * q[2][2] - q[0][2] * q[0][2]
            + q[1][1] * q[2][2]
            - q[1][2] * q[1][2];
        minors.is_nan() || minors <= 1e-10 * trace * trace
    }

    /// Fisher information of the tangent-plane coordinates along `e1`, `e2`.
    pub(crate) fn tangent_information(&self, e1: V3, e2: V3) -> [[f64; 2]; 2] {
        let (q1, q2) = (mat_vec(&self.q, e1), mat_vec(&self.q, e2));
        [[dot(e1, q1), dot(e1, q2)], [dot(e2, q1), dot(e2, q2)]]
    }

    /// The unconstrained minimum `−Q⁻¹b`, when `Q` is well conditioned.
    pub(crate) fn unconstrained(&self) -> Option<V3> {
        let q = &self.q;
        let cof = [cross(q[1], q[2]), cross(q[2], q[0]), cross(q[0], q[1])];
        let det = dot(q[0], cof[0]);
        let trace = q[0][0] + q[1][1] + q[2][2];
        if det.is_nan() || det <= 1e-12 * trace * trace * trace {
            return None;
        }
        // Q is symmetric, so its inverse is the cofactor matrix over the determinant.
        Some(scale(mat_vec(&cof, self.b), -1.0 / det))
    }

    /// The horizontal least-squares direction (heights first ignored, then two
    /// fixed-point corrections with `a_z` from the unit length), on the sphere.
    pub(crate) fn horizontal_start(&self) -> V3 {
        let q = &self.q;
        let det = q[0][0] * q[1][1] - q[0][1] * q[0][1];
        let (mut ax, mut ay, mut az) = (0.0, 0.0, 0.0);
        for _ in 0..3 {
            let (bx, by) = (self.b[0] + q[0][2] * az, self.b[1] + q[1][2] * az);
            ax = -(q[1][1] * bx - q[0][1] * by) / det;
            ay = -(q[0][0] * by - q[0][1] * bx) / det;
            let rho2 = ax * ax + ay * ay;
            if rho2 > 0.998 {
                let k = 0.999 / rho2.sqrt();
                (ax, ay) = (ax * k, ay * k);
            }
            az = (1.0 - ax * ax - ay * ay).sqrt();
        }
        [ax, ay, az]
    }

    /// Direction of least spread of the detectors (normal of their best plane).
    pub(crate) fn plane_normal(&self) -> V3 {
        // Inverse iteration with the cofactor matrix (Q⁻¹ up to a positive factor).
        let q = &self.q;
        let cof = [cross(q[1], q[2]), cross(q[2], q[0]), cross(q[0], q[1])];
        let mut m = [0.0, 0.0, 1.0];
        for _ in 0..6 {
            let next = mat_vec(&cof, m);
            let len = norm(next);
            if !(len > 0.0 && len.is_finite()) {
                break;
            }
            m = scale(next, 1.0 / len);
        }
        m
    }
}

/// An orthonormal pair spanning the plane perpendicular to the unit vector `a`.
pub(crate) fn tangent_basis(a: V3) -> (V3, V3) {
    let helper = if a[2].abs() < 0.9 {
        [0.0, 0.0, 1.0]
    } else {
        [1.0, 0.0, 0.0]
    };
    let e1 = cross(helper, a);
    let e1 = scale(e1, 1.0 / norm(e1));
    (e1, cross(a, e1))
}

/// The exact directions of three hits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ThreeHits {
    /// No unit vector satisfies the two time differences; the nearest direction.
    None(V3),
    /// The two solutions (equal when the line touches the sphere).
    Two(V3, V3),
}

/// Solves `(p_k − p_0)·a = −(τ_k − τ_0)`, `k = 1, 2`, `|a| = 1`.
pub(crate) fn three_hits(p: [V3; 3], t: [f64; 3]) -> ThreeHits {
    let d1 = [p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]];
    let d2 = [p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]];
    let (r1, r2) = (-(t[1] - t[0]), -(t[2] - t[0]));
    let (g11, g12, g22) = (dot(d1, d1), dot(d1, d2), dot(d2, d2));
    let det = g11 * g22 - g12 * g12;
    let alpha = (g22 * r1 - g12 * r2) / det;
    let beta = (g11 * r2 - g12 * r1) / det;
    let along = add(scale(d1, alpha), scale(d2, beta));
    let normal = cross(d1, d2);
    let normal = scale(normal, 1.0 / norm(normal));
    let h2 = 1.0 - dot(along, along);
    if h2 < 0.0 {
        return ThreeHits::None(scale(along, 1.0 / norm(along)));
    }
    let h = h2.sqrt();
    ThreeHits::Two(add(along, scale(normal, h)), add(along, scale(normal, -h)))
}

/// A local minimum of χ² on the sphere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Minimum {
    /// The direction (unit vector).
    pub(crate) a: V3,
    /// The last Newton step was below the tolerance.
    pub(crate) converged: bool,
}

/// `true` when `a` (a stationary point on the sphere) is the global minimum of χ² over the
/// whole sphere: its Lagrange multiplier `λ = −aᵀ(Qa + b)` makes `Q + λI` positive
/// definite (the trust-region optimality condition, Moré & Sorensen 1983).
pub(crate) fn is_global(normal: &Normal, a: V3) -> bool {
    let lambda = -dot(a, add(mat_vec(&normal.q, a), normal.b));
    let q = &normal.q;
    let m = [
        [q[0][0] + lambda, q[0][1], q[0][2]],
        [q[1][0], q[1][1] + lambda, q[1][2]],
        [q[2][0], q[2][1], q[2][2] + lambda],
    ];
    let minor2 = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let det = dot(m[0], cross(m[1], m[2]));
    m[0][0] > 0.0 && minor2 > 0.0 && det > 0.0
}

/// Newton iterations in the tangent plane from the unit vector `start`, with step halving
/// so that χ² never rises; converged when a step is below 10⁻¹⁰ rad, a full Newton step is
/// below 10⁻⁷ rad (the next would be ~10⁻¹⁴), or no step lowers χ² beyond rounding.
pub(crate) fn minimise(normal: &Normal, start: V3) -> Minimum {
    let mut a = scale(start, 1.0 / norm(start));
    let mut f = normal.chi2(a);
    for _ in 0..60 {
        let g = scale(add(mat_vec(&normal.q, a), normal.b), 2.0);
        let (e1, e2) = tangent_basis(a);
        let grad = [dot(e1, g), dot(e2, g)];
        let info = normal.tangent_information(e1, e2);
        let mu = dot(a, g);
        let mut h = [
            [2.0 * info[0][0] - mu, 2.0 * info[0][1]],
            [2.0 * info[1][0], 2.0 * info[1][1] - mu],
        ];
        let mut det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
        if !(h[0][0] > 0.0 && det > 1e-18 * h[0][0] * h[0][0]) {
            // Not convex here: shift by the most negative eigenvalue.
            let mean = 0.5 * (h[0][0] + h[1][1]);
            let spread = (0.25 * (h[0][0] - h[1][1]).powi(2) + h[0][1] * h[0][1]).sqrt();
            let scale_h = (mean.abs() + spread).max(f64::MIN_POSITIVE);
            let shift = 1e-3 * scale_h - (mean - spread);
            h[0][0] += shift;
            h[1][1] += shift;
            det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
        }
        let inv = 1.0 / det;
        let mut u = [
            -(h[1][1] * grad[0] - h[0][1] * grad[1]) * inv,
            -(h[0][0] * grad[1] - h[1][0] * grad[0]) * inv,
        ];
        let len = (u[0] * u[0] + u[1] * u[1]).sqrt();
        if !len.is_finite() {
            return Minimum {
                a,
                converged: false,
            };
        }
        if len < 1e-10 {
            return Minimum { a, converged: true };
        }
        if len > 0.5 {
            u = [u[0] * 0.5 / len, u[1] * 0.5 / len];
        }
        let tolerance = 1e-14 * (f.abs() + normal.c.abs() + 1.0);
        let mut full = len <= 0.5;
        let mut accepted = false;
        for _ in 0..30 {
            let next = add(a, add(scale(e1, u[0]), scale(e2, u[1])));
            let next = scale(next, 1.0 / norm(next));
            let fn_ = normal.chi2(next);
            if fn_ <= f + tolerance {
                a = next;
                f = fn_;
                accepted = true;
                break;
            }
            full = false;
            u = [u[0] * 0.5, u[1] * 0.5];
        }
        if !accepted {
            // No step lowers χ² any more: the minimum to rounding.
            return Minimum { a, converged: true };
        }
        if full && len < 1e-7 {
            // A full Newton step this small: the next (quadratic convergence) is ~len².
            return Minimum { a, converged: true };
        }
    }
    Minimum {
        a,
        converged: false,
    }
}
