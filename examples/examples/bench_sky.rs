//! Event mapper benchmark: shower directions mapped to J2000 and galactic coordinates
//! with errors, per second on one core, for events spread over a day (so the sidereal
//! time changes every event) and over a year (so the precession cache refills).
//!
//! ```text
//! cargo run --release -p examples --example bench_sky -- --events 5000000
//! ```
#![allow(
    clippy::print_stdout,
    reason = "a benchmark program prints its figures"
)]

use std::hint::black_box;
use std::time::Instant;

use clap::Parser;
use components::physics::sky::{EventMapper, Site};

/// Event mapper throughput on one core.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Events per run.
    #[arg(long, default_value_t = 5_000_000)]
    events: usize,
    /// Runs; the median is printed.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// Evenly spread draws in [0, 1): the fractional parts of multiples of the golden
/// ratio (a low-discrepancy sequence; no generator needed).
struct Draws(f64);

impl Draws {
    fn next(&mut self) -> f64 {
        self.0 = (self.0 + 0.618_033_988_749_894_9).fract();
        self.0
    }
}

fn run(events: &[(i64, [f64; 2])], mapper: &mut EventMapper) -> f64 {
    let cov = [[1e-4, 2e-5], [2e-5, 1e-4]];
    let start = Instant::now();
    let mut sum = 0.0;
    for &(utc, cosines) in events {
        if let Some(sky) = mapper.map(utc, cosines, cov) {
            sum += sky.galactic.lat_deg + sky.equatorial.lon_err_deg;
        }
    }
    black_box(sum);
    events.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args = Args::parse();
    let mut draws = Draws(0.5);
    let t0 = 1_700_000_000_000_000_000_i64;
    let mut workloads = Vec::new();
    for (name, span_ns) in [("a day", 86_400e9), ("a year", 365.25 * 86_400e9)] {
        let mut events: Vec<(i64, [f64; 2])> = (0..args.events)
            .map(|i| {
                let t = t0 + (span_ns * i as f64 / args.events as f64) as i64;
                let zenith = draws.next().cbrt().acos();
                let azimuth = std::f64::consts::TAU * draws.next();
                (
                    t,
                    [zenith.sin() * azimuth.cos(), zenith.sin() * azimuth.sin()],
                )
            })
            .collect();
        events.sort_by_key(|e| e.0);
        workloads.push((name, events));
    }
    println!(
        "event mapper, one core, {} events per run, median of {}",
        args.events, args.runs
    );
    println!("| events spread over | events/s | ns/event |");
    println!("| --- | ---: | ---: |");
    for (name, events) in &workloads {
        let mut mapper = EventMapper::new(Site::default());
        let mut rates: Vec<f64> = (0..args.runs).map(|_| run(events, &mut mapper)).collect();
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        println!("| {name} | {median:.0} | {:.0} |", 1e9 / median);
    }
    println!("target: >= 1 000 000 events/s");
}
