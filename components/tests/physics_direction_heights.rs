//! Shower directions on stations whose detectors stand at different heights: noiseless
//! fronts come back within 0.01° (both exact solutions of three hits are reported), noisy
//! ones have zenith and azimuth pulls ~N(0, 1), and non-solutions are never `found`.
#![cfg(feature = "physics")]

use components::physics::angle::{AngleFinder, DirectionStatus, ShowerDirection};
use components::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// A four-detector station: a centre detector and three on a circle (10 m triangle
/// sides), or a 10 m × 14 m rectangle; heights per detector.
fn station(kind: usize, heights: [f64; 4]) -> DetectorLayout {
    let xy: [[f64; 2]; 4] = if kind == 0 {
        let r = 10.0 / 3f64.sqrt();
        let b = |deg: f64| [r * deg.to_radians().sin(), r * deg.to_radians().cos()];
        [[0.0, 0.0], b(0.0), b(120.0), b(240.0)]
    } else {
        [[0.0, 0.0], [10.0, 0.0], [10.0, 14.0], [0.0, 14.0]]
    };
    DetectorLayout::new((0..4).map(|d| [xy[d][0], xy[d][1], heights[d]]).collect())
        .expect("valid layout")
}

/// Height sets: flat, the reported 0/+1/−0.7/+2 m, a 3 m spread and a 15.6 m spread.
const HEIGHTS: [[f64; 4]; 4] = [
    [0.0; 4],
    [0.0, 1.0, -0.7, 2.0],
    [0.0, 3.0, 1.2, 2.1],
    [0.0, 15.6, 4.0, 9.5],
];

fn unit(theta: f64, phi: f64) -> [f64; 3] {
    [
        theta.sin() * phi.cos(),
        theta.sin() * phi.sin(),
        theta.cos(),
    ]
}

fn arrival(layout: &DetectorLayout, n: [f64; 3], d: usize) -> f64 {
    let r = layout.positions()[d];
    40.0 - (n[0] * r[0] + n[1] * r[1] + n[2] * r[2]) / SPEED_OF_LIGHT
}

fn angle_between(a: [f64; 3], b: [f64; 3]) -> f64 {
    let dot: f64 = (0..3).map(|i| a[i] * b[i]).sum();
    dot.clamp(-1.0, 1.0).acos()
}

/// The reported directions: the primary and, when ambiguous, the second.
fn candidates(d: &ShowerDirection) -> Vec<(f64, f64, f64, f64)> {
    let mut c = vec![(
        d.zenith.value,
        d.azimuth.value,
        d.zenith.error,
        d.azimuth.error,
    )];
    if let Some(s) = d.second {
        c.push((
            s.zenith.value,
            s.azimuth.value,
            s.zenith.error,
            s.azimuth.error,
        ));
    }
    c
}

const SUBSETS: [[usize; 3]; 4] = [[0, 1, 2], [0, 2, 3], [1, 2, 3], [0, 1, 3]];

#[test]
fn noiseless_fronts_are_recovered_within_a_hundredth_of_a_degree() {
    let mut checked = 0;
    for kind in 0..2 {
        for heights in HEIGHTS {
            let layout = station(kind, heights);
            let finder = AngleFinder::new(layout.clone(), 1.0).expect("valid");
            for zenith_deg in (0..=85).step_by(5) {
                for azimuth_deg in (-180..180).step_by(15) {
                    let (theta, phi) = (
                        f64::from(zenith_deg).to_radians(),
                        f64::from(azimuth_deg).to_radians(),
                    );
                    let truth = unit(theta, phi);
                    let all: Vec<(usize, f64)> =
                        (0..4).map(|d| (d, arrival(&layout, truth, d))).collect();
                    let d = finder.find(&all).expect("solvable");
                    let err = angle_between(d.direction, truth).to_degrees();
                    assert!(
                        d.status == DirectionStatus::Found && err < 0.01,
                        "4 hits, heights {heights:?}, θ={zenith_deg} φ={azimuth_deg}: {err}° {d:?}"
                    );
                    for subset in SUBSETS {
                        let hits: Vec<(usize, f64)> = subset.iter().map(|&i| all[i]).collect();
                        let d = finder.find(&hits).expect("solvable");
                        assert!(
                            matches!(
                                d.status,
                                DirectionStatus::Found | DirectionStatus::Ambiguous
                            ),
                            "3 hits {subset:?}, heights {heights:?}, θ={zenith_deg} φ={azimuth_deg}: {d:?}"
                        );
                        let best = candidates(&d)
                            .iter()
                            .map(|&(z, a, _, _)| angle_between(unit(z, a), truth).to_degrees())
                            .fold(f64::INFINITY, f64::min);
                        assert!(
                            best < 0.01,
                            "3 hits {subset:?}, heights {heights:?}, θ={zenith_deg} φ={azimuth_deg}: {best}° {d:?}"
                        );
                        if heights == [0.0; 4] {
                            assert_eq!(d.status, DirectionStatus::Found, "flat: one solution");
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 4 * 18 * 24 * 4);
}

/// Pull mean and width of `(fit − truth)/error`.
fn moments(pulls: &[f64]) -> (f64, f64) {
    let n = pulls.len() as f64;
    let mean = pulls.iter().sum::<f64>() / n;
    let sd = (pulls.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean, sd)
}

fn wrap(angle: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    (angle + std::f64::consts::PI).rem_euclid(tau) - std::f64::consts::PI
}

#[test]
fn noisy_fronts_have_unit_pulls_on_layouts_with_heights() {
    let sigma = 1.5;
    let noise = Normal::new(0.0, sigma).expect("valid");
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    for heights in [HEIGHTS[1], HEIGHTS[2], HEIGHTS[3]] {
        // A 40 m station keeps the direction errors (about 1°) in the linear regime.
        let layout = DetectorLayout::new(
            station(1, heights)
                .positions()
                .iter()
                .map(|r| [r[0] * 4.0, r[1] * 4.0, r[2]])
                .collect(),
        )
        .expect("valid");
        let finder = AngleFinder::new(layout.clone(), sigma).expect("valid");
        for hits in [3, 4] {
            let (mut zenith_pulls, mut azimuth_pulls, mut chi2, mut poor) =
                (Vec::new(), Vec::new(), 0.0, 0);
            let events = 4000;
            for _ in 0..events {
                let theta = rng.random_range(15f64..50.0).to_radians();
                let phi = rng.random_range(-180f64..180.0).to_radians();
                let truth = unit(theta, phi);
                let times: Vec<(usize, f64)> = (0..hits)
                    .map(|d| (d, arrival(&layout, truth, d) + noise.sample(&mut rng)))
                    .collect();
                let d = finder.find(&times).expect("solvable");
                if d.status == DirectionStatus::PoorFit {
                    poor += 1;
                }
                if d.status == DirectionStatus::Unphysical {
                    continue;
                }
                // The reported solution nearest the truth (three hits can have two).
                let (z, a, ze, ae) = candidates(&d)
                    .into_iter()
                    .min_by(|x, y| {
                        angle_between(unit(x.0, x.1), truth)
                            .total_cmp(&angle_between(unit(y.0, y.1), truth))
                    })
                    .expect("one at least");
                zenith_pulls.push((z - theta) / ze);
                azimuth_pulls.push(wrap(a - phi) / ae);
                chi2 += d.chi2;
            }
            assert!(
                zenith_pulls.len() > events * 9 / 10,
                "heights {heights:?}, {hits} hits: only {} directions",
                zenith_pulls.len()
            );
            for (name, pulls) in [("zenith", &zenith_pulls), ("azimuth", &azimuth_pulls)] {
                let (mean, sd) = moments(pulls);
                assert!(
                    mean.abs() < 0.1 && (0.87..1.13).contains(&sd),
                    "heights {heights:?}, {hits} hits: {name} pulls {mean:.3} ± {sd:.3}"
                );
            }
            if hits == 4 {
                // One degree of freedom: mean χ² ≈ 1, and about 0.1% flagged poor.
                let mean_chi2 = chi2 / zenith_pulls.len() as f64;
                assert!((0.85..1.15).contains(&mean_chi2), "mean χ² {mean_chi2}");
                assert!(poor < events / 100, "{poor} poor fits");
            }
        }
    }
}

#[test]
fn times_no_direction_fits_are_never_found() {
    let layout = station(0, HEIGHTS[3]);
    let finder = AngleFinder::new(layout.clone(), 1.0).expect("valid");
    let truth = unit(0.5, 1.0);
    let mut times: Vec<(usize, f64)> = (0..4).map(|d| (d, arrival(&layout, truth, d))).collect();
    // Four hits, one 25 ns late: the best direction misses the times by far.
    times[2].1 += 25.0;
    let d = finder.find(&times).expect("solvable");
    assert_eq!(d.status, DirectionStatus::PoorFit, "{d:?}");
    assert!(d.chi2 > 10.0 && d.p_value().expect("dof") < 1e-3);
    // Three hits faster than light across the station: no direction at all.
    let fast = [(0, 0.0), (1, 200.0), (2, -200.0)];
    let d = finder.find(&fast).expect("solvable");
    assert_eq!(d.status, DirectionStatus::Unphysical, "{d:?}");
    assert!(d.unphysical);
    assert_eq!(d.zenith.value, std::f64::consts::FRAC_PI_2);
}

#[test]
fn absolute_nanoseconds_in_f64_are_refused_not_silently_vertical() {
    let layout = station(0, HEIGHTS[1]);
    let finder = AngleFinder::new(layout, 1.0).expect("valid");
    let t = 1.8e18;
    let hits = [(0, t), (1, t + 20.0), (2, t - 10.0), (3, t + 5.0)];
    assert!(matches!(
        finder.find(&hits),
        Err(components::physics::error::AngleError::Imprecise(0))
    ));
}
