//! Direction benchmark: shower directions per second on one core for 3- and 4-hit events,
//! on a flat station and on stations with detectors at different heights.
//!
//! ```text
//! cargo run --release -p examples --example bench_direction
//! ```
//!
//! `--accuracy` prints instead the accuracy table: height spread × hits × zenith band,
//! noiseless (max and median angular error of the nearest reported solution, share of
//! ambiguous three-hit events) and with 1 ns timing noise (median error, pull widths).
//!
//! The events are synthetic flat fronts (zenith 0–60°, every azimuth) with 1 ns Gaussian
//! timing noise on a four-detector station (a triangle of 10 m sides around a centre
//! detector, as many public stations are built). Each case is timed `--repeat` times over
//! the same events and the best run is reported, beside the flat layout's rate. Rates are
//! per second of this thread's CPU time (Linux `schedstat`; wall-clock elsewhere), so a
//! busy machine does not depress them.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark program prints its figures"
)]

use std::hint::black_box;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use components::physics::angle::{AngleFinder, DirectionStatus, ShowerDirection};
use components::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};

/// Direction benchmark (a program, not a test).
#[derive(Debug, Parser)]
struct Args {
    /// Events per case.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Timed repetitions per case; the best is reported.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Print the accuracy table instead of the rates.
    #[arg(long)]
    accuracy: bool,
}

/// splitmix64: a small deterministic generator, enough for benchmark inputs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gauss(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn station(heights: [f64; 4]) -> Result<DetectorLayout> {
    let r = 10.0 / 3f64.sqrt();
    let mut positions = vec![[0.0, 0.0, heights[0]]];
    for (k, h) in heights[1..].iter().enumerate() {
        let bearing = (k as f64 * 120.0).to_radians();
        positions.push([r * bearing.sin(), r * bearing.cos(), *h]);
    }
    Ok(DetectorLayout::new(positions)?)
}

fn events(layout: &DetectorLayout, hits: usize, count: usize, seed: u64) -> Vec<Vec<(usize, f64)>> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| {
            let theta = (rng.uniform() * 60f64.to_radians().sin().powi(2))
                .sqrt()
                .asin();
            let phi = rng.uniform() * std::f64::consts::TAU;
            let n = [
                theta.sin() * phi.cos(),
                theta.sin() * phi.sin(),
                theta.cos(),
            ];
            layout.positions()[..hits]
                .iter()
                .enumerate()
                .map(|(d, r)| {
                    let path = n[0] * r[0] + n[1] * r[1] + n[2] * r[2];
                    (d, 1000.0 - path / SPEED_OF_LIGHT + rng.gauss())
                })
                .collect()
        })
        .collect()
}

/// This thread's time on a CPU, s (Linux `schedstat`), so that other processes sharing
/// the machine do not count; wall-clock time elsewhere.
fn cpu_seconds(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns as f64 * 1e-9)
}

/// Best events per CPU-second over `repeat` passes, and how many results were errors.
fn rate(finder: &AngleFinder, events: &[Vec<(usize, f64)>], repeat: usize) -> (f64, usize) {
    let mut best = 0f64;
    let mut failed = 0;
    for _ in 0..repeat {
        failed = 0;
        let wall = Instant::now();
        let start = cpu_seconds(wall);
        for e in events {
            match finder.find(black_box(e)) {
                Ok(d) => {
                    black_box(d);
                }
                Err(_) => failed += 1,
            }
        }
        best = best.max(events.len() as f64 / (cpu_seconds(wall) - start));
    }
    (best, failed)
}

fn unit(theta: f64, phi: f64) -> [f64; 3] {
    [
        theta.sin() * phi.cos(),
        theta.sin() * phi.sin(),
        theta.cos(),
    ]
}

/// Angle between two unit vectors, precise at small angles.
fn angle_between(a: [f64; 3], b: [f64; 3]) -> f64 {
    let dot: f64 = (0..3).map(|i| a[i] * b[i]).sum();
    let cross = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    (cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2])
        .sqrt()
        .atan2(dot)
}

/// The reported solution nearest the truth: `(error rad, zenith, azimuth, σθ, σφ)`.
fn nearest(d: &ShowerDirection, truth: [f64; 3]) -> (f64, f64, f64, f64, f64) {
    let mut c = vec![(d.zenith, d.azimuth)];
    if let Some(s) = d.second {
        c.push((s.zenith, s.azimuth));
    }
    c.into_iter()
        .map(|(z, a)| {
            let err = angle_between(unit(z.value, a.value), truth);
            (err, z.value, a.value, z.error, a.error)
        })
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .expect("one solution")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn width(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n).sqrt()
}

fn accuracy(events: usize) -> Result<()> {
    let spreads = [
        ("0 m", [0.0; 4]),
        ("3 m", [0.0, 3.0, 1.2, 2.1]),
        ("15.6 m", [0.0, 15.6, 4.0, 9.5]),
    ];
    println!(
        "| height spread | hits | zenith | noiseless max error | noiseless median | ambiguous | 1 ns noise: median error | zenith pull width | azimuth pull width | not found |"
    );
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rng = Rng(11);
    for (name, heights) in spreads {
        let layout = station(heights)?;
        let finder = AngleFinder::new(layout.clone(), 1.0)?;
        for hits in [3, 4] {
            for (lo, hi) in [(0.0, 30.0), (30.0, 60.0), (60.0, 85.0)] {
                let (mut exact, mut noisy, mut zp, mut ap) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                let (mut ambiguous, mut not_found) = (0, 0);
                for _ in 0..events {
                    let theta = (lo + (hi - lo) * rng.uniform()).to_radians();
                    let phi = (rng.uniform() * 360.0 - 180.0).to_radians();
                    let truth = unit(theta, phi);
                    let time = |d: usize| {
                        let r = layout.positions()[d];
                        -(truth[0] * r[0] + truth[1] * r[1] + truth[2] * r[2]) / SPEED_OF_LIGHT
                    };
                    let clean: Vec<(usize, f64)> = (0..hits).map(|d| (d, time(d))).collect();
                    let d = finder.find(&clean)?;
                    ambiguous += usize::from(d.status == DirectionStatus::Ambiguous);
                    exact.push(nearest(&d, truth).0.to_degrees());
                    let rough: Vec<(usize, f64)> =
                        clean.iter().map(|&(k, t)| (k, t + rng.gauss())).collect();
                    let d = finder.find(&rough)?;
                    if !matches!(
                        d.status,
                        DirectionStatus::Found | DirectionStatus::Ambiguous
                    ) {
                        not_found += 1;
                        continue;
                    }
                    let (err, z, a, ze, ae) = nearest(&d, truth);
                    noisy.push(err.to_degrees());
                    zp.push((z - theta) / ze);
                    let da = (a - phi + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                        - std::f64::consts::PI;
                    ap.push(da / ae);
                }
                let max = exact.iter().copied().fold(0.0, f64::max);
                println!(
                    "| {name} | {hits} | {lo:.0}–{hi:.0}° | {max:.1e}° | {:.1e}° | {:.1}% | {:.2}° | {:.2} | {:.2} | {:.1}% |",
                    median(&mut exact),
                    100.0 * ambiguous as f64 / events as f64,
                    median(&mut noisy),
                    width(&zp),
                    width(&ap),
                    100.0 * not_found as f64 / events as f64,
                );
            }
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.accuracy {
        return accuracy(20_000);
    }
    let cases = [
        ("flat", [0.0, 0.0, 0.0, 0.0]),
        ("heights 0/+1/-0.7/+2 m", [0.0, 1.0, -0.7, 2.0]),
        ("heights spread 15 m", [0.0, 15.0, 4.0, 9.0]),
    ];
    println!(
        "{:<24} {:>5} {:>14} {:>10} {:>8}",
        "layout", "hits", "events/s", "vs flat", "errors"
    );
    for hits in [4, 3] {
        let mut flat_rate = None;
        for (name, heights) in cases {
            let layout = station(heights)?;
            let finder = AngleFinder::new(layout.clone(), 1.0)?;
            let evs = events(&layout, hits, args.events, 7);
            let (r, failed) = rate(&finder, &evs, args.repeat);
            let base = *flat_rate.get_or_insert(r);
            println!(
                "{name:<24} {hits:>5} {r:>14.0} {:>9.2}x {failed:>8}",
                r / base
            );
        }
    }
    Ok(())
}
