//! Physics benchmark: pulse fits per second on one core for 2-, 3- and 5-level pulses
//! with their accuracy, and pulses per second through the shower filter (the algorithm
//! alone and through its component, one pulse per message), 16 detectors at 400 Hz.
//!
//! ```text
//! cargo run --release -p examples --example bench_physics -- --csv pulses.csv --json ours.json
//! ```
//!
//! `--csv` writes the same synthetic pulses for `scripts/scipy_fit.py`; `--json` writes
//! the fitter's figures for its side-by-side table. `scripts/bench-physics.sh` runs both.
//! `--diagnose` prints the accuracy split by shape path, peak flags and where the true
//! peak lies between the top level and the next (plus model evaluations per fit) instead.
//! Accuracy columns: peak-height bias and RMS relative error ((fit − truth)/truth over the
//! fits that did not fail), pull mean/width ((fit − truth)/error) and coverage (fraction of
//! fits with |fit − truth| ≤ error; 68.3% for honest Gaussian errors).

#![allow(
    clippy::print_stdout,
    reason = "a benchmark program prints its figures"
)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axon::Runtime;
use clap::Parser;
use components::physics::components::ShowerFilterComponent;
use components::physics::fit::{Crossings, FitStatus, PulseFitter, PulseFitterConfig};
use components::physics::layout::DetectorLayout;
use components::physics::model::BiExpPulse;
use components::physics::shower::{ShowerCandidate, ShowerFilter, ShowerFilterConfig, ShowerPulse};
use components::physics::simulate::{
    AmplitudeDist, PulseSynth, PulseSynthConfig, ShowerSim, ShowerSimConfig, SimEvent, fedm_ladder,
};

/// Physics benchmark (a program, not a test).
#[derive(Debug, Parser)]
struct Args {
    /// Pulses per level count for the fit rate.
    #[arg(long, default_value_t = 20_000)]
    pulses: usize,
    /// Leading pulses per level count for the accuracy table (and for SciPy).
    #[arg(long, default_value_t = 2_000)]
    accuracy: usize,
    /// Pulses through the shower filter.
    #[arg(long, default_value_t = 2_000_000)]
    shower_pulses: usize,
    /// Timed repetitions; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Write the accuracy pulses here as CSV (for scripts/scipy_fit.py).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write the fitter's figures here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print the accuracy split by shape path and peak flags, then exit.
    #[arg(long)]
    diagnose: bool,
}

const LEVEL_COUNTS: [usize; 3] = [2, 3, 5];

/// Synthetic pulses crossing exactly `k` FEDM levels (peak log-uniform between level k
/// and level k+1), as in the acceptance tests.
fn pulses(k: usize, n: usize, seed: u64) -> Result<Vec<(BiExpPulse, Crossings)>> {
    let ladder = fedm_ladder();
    let lo = ladder[k - 1];
    let hi = ladder.get(k).copied().unwrap_or(lo * 1.5);
    let cfg = PulseSynthConfig {
        amplitude: AmplitudeDist::LogUniform { min: lo, max: hi },
        ..PulseSynthConfig::default()
    };
    let mut synth = PulseSynth::new(cfg, seed)?;
    Ok((0..n).map(|_| synth.next_pulse()).collect())
}

fn best_of<T>(repeat: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let r = f();
        best = best.min(start.elapsed());
        out = Some(r);
    }
    match out {
        Some(r) => (best, r),
        None => (best, f()),
    }
}

/// Half the distance between the 16th and 84th percentiles: the width a Gaussian would
/// have, blind to a few wild values.
fn robust_width(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    0.5 * (q(0.8413) - q(0.1587))
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

/// Root mean square.
fn rms(v: &[f64]) -> f64 {
    (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt()
}

/// Fraction of pulls within ±1: how often `truth` lies in `fit ± error`.
fn coverage(pulls: &[f64]) -> f64 {
    pulls.iter().filter(|p| p.abs() <= 1.0).count() as f64 / pulls.len() as f64
}

struct Accuracy {
    n: usize,
    failed: usize,
    height_bias: f64,
    /// RMS of (fit − truth)/truth of the peak height over the fits that did not fail.
    height_rms: f64,
    /// Fractions of fits with |fit − truth| ≤ error: peak height, onset (68.3% if honest).
    coverage: (f64, f64),
    onset_bias: f64,
    height_pull: (f64, f64),
    onset_pull: (f64, f64),
    robust: (f64, f64),
}

fn accuracy(fitter: &PulseFitter, sample: &[(BiExpPulse, Crossings)]) -> Accuracy {
    let (mut hb, mut ob, mut hp, mut op) = (vec![], vec![], vec![], vec![]);
    let mut failed = 0;
    for (truth, crossings) in sample {
        match fitter.fit(crossings) {
            Ok(fit) if fit.status == FitStatus::Converged => {
                let dh = fit.peak_height.value - truth.peak_height();
                let dt = fit.onset.value - truth.onset;
                hb.push(dh / truth.peak_height());
                ob.push(dt);
                hp.push(dh / fit.peak_height.error);
                op.push(dt / fit.onset.error);
            }
            _ => failed += 1,
        }
    }
    Accuracy {
        n: hb.len(),
        failed,
        height_bias: mean_std(&hb).0,
        height_rms: rms(&hb),
        coverage: (coverage(&hp), coverage(&op)),
        onset_bias: mean_std(&ob).0,
        height_pull: mean_std(&hp),
        onset_pull: mean_std(&op),
        robust: (robust_width(&hp), robust_width(&op)),
    }
}

fn write_csv(
    path: &PathBuf,
    sets: &[(usize, Vec<(BiExpPulse, Crossings)>)],
    n: usize,
) -> Result<()> {
    let mut w =
        BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?);
    write!(w, "id,levels,next_level_v,true_peak_v,true_onset_ns")?;
    for i in 1..=5 {
        write!(w, ",level_{i}_v,rise_{i}_ns,fall_{i}_ns")?;
    }
    writeln!(w)?;
    let mut id = 0;
    for (k, set) in sets {
        for (truth, c) in set.iter().take(n) {
            let next = c.next_level.map(|l| format!("{l:.17}")).unwrap_or_default();
            write!(
                w,
                "{id},{k},{next},{:.17},{:.17}",
                truth.peak_height(),
                truth.onset
            )?;
            for i in 0..5 {
                match c.levels.get(i) {
                    Some(l) => write!(w, ",{:.17},{:.17},{:.17}", l.level, l.rise, l.fall)?,
                    None => write!(w, ",,,")?,
                }
            }
            writeln!(w)?;
            id += 1;
        }
    }
    w.flush()?;
    Ok(())
}

fn shower_stream(n: usize) -> Result<(DetectorLayout, Vec<ShowerPulse>)> {
    let layout = DetectorLayout::grid(4, 4, 10.0)?;
    let config = ShowerSimConfig {
        background_rate: 400.0,
        ..ShowerSimConfig::default()
    };
    let sim = ShowerSim::new(layout.clone(), config, 2024)?;
    let stream = sim
        .filter_map(|e| match e {
            SimEvent::Pulse(p) => Some(ShowerPulse {
                detector: p.detector,
                time: p.time,
                amplitude: p.peak_height,
                fit_ref: None,
            }),
            SimEvent::Shower(_) => None,
        })
        .take(n)
        .collect();
    Ok((layout, stream))
}

fn filter_algorithm(layout: &DetectorLayout, stream: &[ShowerPulse]) -> Result<u64> {
    let mut filter = ShowerFilter::new(layout.clone(), ShowerFilterConfig::default())?;
    let mut candidates = 0;
    for p in stream {
        // The simulated stream is time-ordered: nothing is late.
        filter.push(*p)?;
        while filter.pop_candidate().is_some() {
            candidates += 1;
        }
    }
    filter.flush();
    while filter.pop_candidate().is_some() {
        candidates += 1;
    }
    Ok(candidates)
}

async fn filter_component(layout: &DetectorLayout, stream: &[ShowerPulse]) -> Result<u64> {
    let rt = Runtime::new();
    let filter = rt.add(ShowerFilterComponent::new(
        layout.clone(),
        ShowerFilterConfig::default(),
    )?)?;
    let mut ext = rt.external("bench");
    let (to, mut pulses) = ext.add_outbox::<ShowerPulse>("pulses")?;
    let (end_ref, mut end) = ext.add_outbox::<axon::Control>("end")?;
    let (from, mut candidates) = ext.add_inbox::<ShowerCandidate>("candidates", 1024)?;
    let (signal_ref, mut signal) = ext.add_inbox::<axon::Control>("signal", 4)?;
    rt.link(to, filter.inbox())?;
    rt.link(end_ref, filter.control())?;
    rt.link(filter.outbox(), from)?;
    rt.link(filter.signal(), signal_ref)?;
    let handle = filter.start();
    let send = async {
        for p in stream {
            pulses.send(*p).await?;
        }
        end.send(axon::Control::ProducerFinished).await?;
        Ok::<(), anyhow::Error>(())
    };
    // An external inbox stays open when its source ends: the component's `signal`
    // says when everything it sent is queued.
    let receive = async {
        let mut n = 0;
        loop {
            tokio::select! {
                biased;
                c = candidates.recv() => match c {
                    Some(_) => n += 1,
                    None => break,
                },
                _ = signal.recv() => {
                    while candidates.try_recv().is_ok() {
                        n += 1;
                    }
                    break;
                }
            }
        }
        n
    };
    let (sent, n) = tokio::join!(send, receive);
    sent?;
    let exit = handle.join().await;
    anyhow::ensure!(exit.is_clean(), "shower filter component ended with {exit}");
    Ok(n)
}

/// Accuracy on the first `n` pulses of each level count, split by shape path and by the
/// peak flags, to find where a bias comes from.
fn diagnose(fitter: &PulseFitter, n: usize) -> Result<()> {
    println!(
        "{:>6} {:>24} {:>6} {:>8} {:>7} {:>8} {:>15} {:>15} {:>8} {:>6}",
        "levels",
        "group",
        "n",
        "H bias",
        "H rms",
        "t0 bias",
        "H pull m/w",
        "t0 pull m/w",
        "H relerr",
        "H cov"
    );
    for k in LEVEL_COUNTS {
        let set = pulses(k, n, 1000 + k as u64)?;
        let evaluations: usize = set
            .iter()
            .filter_map(|(_, c)| fitter.fit(c).ok())
            .map(|f| f.evaluations)
            .sum();
        println!(
            "{k:>6} model evaluations per fit: {:.1}",
            evaluations as f64 / set.len().max(1) as f64
        );
        let mut groups: Vec<(String, Vec<[f64; 5]>)> = Vec::new();
        for (truth, crossings) in &set {
            let Ok(fit) = fitter.fit(crossings) else {
                continue;
            };
            if fit.status != FitStatus::Converged {
                continue;
            }
            let dh = fit.peak_height.value - truth.peak_height();
            let dt = fit.onset.value - truth.onset;
            let row = [
                dh / truth.peak_height(),
                dt,
                dh / fit.peak_height.error,
                dt / fit.onset.error,
                fit.peak_height.error / fit.peak_height.value,
            ];
            let flag = if fit.flags.peak_at_limit {
                "limit"
            } else if fit.flags.peak_at_top_level {
                "top"
            } else {
                "inside"
            };
            // Where the truth lies between the top level and the next, in fifths.
            // (the generated range when no level above exists)
            let next = crossings
                .next_level
                .unwrap_or(1.5 * crossings.levels.last().map_or(0.0, |l| l.level));
            let top = crossings.levels.last().map_or(0.0, |l| l.level);
            let frac = ((truth.peak_height() / top).ln() / (next / top).ln() * 5.0).floor();
            for name in [
                "all".to_string(),
                format!("{:?}", fit.shape_path),
                format!("{:?}/{flag}", fit.shape_path),
                format!("truth fifth {frac}"),
            ] {
                match groups.iter_mut().find(|(g, _)| *g == name) {
                    Some((_, v)) => v.push(row),
                    None => groups.push((name, vec![row])),
                }
            }
        }
        for (name, rows) in &groups {
            let col = |c: usize| rows.iter().map(|r| r[c]).collect::<Vec<_>>();
            let (hp, op) = (mean_std(&col(2)), mean_std(&col(3)));
            println!(
                "{k:>6} {name:>24} {:>6} {:>+7.2}% {:>6.2}% {:>+8.3} {:>+7.3}/{:<7.3} {:>+7.3}/{:<7.3} {:>7.2}% {:>5.1}%",
                rows.len(),
                100.0 * mean_std(&col(0)).0,
                100.0 * rms(&col(0)),
                mean_std(&col(1)).0,
                hp.0,
                hp.1,
                op.0,
                op.1,
                100.0 * mean_std(&col(4)).0,
                100.0 * coverage(&col(2))
            );
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let fitter = PulseFitter::new(PulseFitterConfig::default())?;
    if args.diagnose {
        return diagnose(&fitter, args.accuracy);
    }
    println!(
        "Pulse fitter: one core, best of {} runs, {} pulses per level count",
        args.repeat, args.pulses
    );
    println!(
        "{:>6} {:>12} {:>10} | accuracy on the first {} pulses: {:>7} {:>6} {:>8} {:>15} {:>15} {:>11} {:>5}",
        "levels",
        "fits/s",
        "µs/fit",
        args.accuracy,
        "H bias",
        "H rms",
        "t0 bias",
        "H pull m/w",
        "t0 pull m/w",
        "cov H/t0",
        "fail"
    );
    let mut sets = Vec::new();
    let mut json = String::from("{\n");
    for (i, k) in LEVEL_COUNTS.into_iter().enumerate() {
        let set = pulses(k, args.pulses.max(args.accuracy), 1000 + k as u64)?;
        let (elapsed, fitted) = best_of(args.repeat, || {
            set.iter().filter(|(_, c)| fitter.fit(c).is_ok()).count()
        });
        anyhow::ensure!(fitted == set.len(), "a synthetic pulse was refused");
        let rate = set.len() as f64 / elapsed.as_secs_f64();
        let acc = accuracy(&fitter, &set[..args.accuracy.min(set.len())]);
        println!(
            "{k:>6} {rate:>12.0} {:>10.2} | {:>+37.2}% {:>5.2}% {:>+8.3} {:>+7.3}/{:<7.3} {:>+7.3}/{:<7.3} {:>5.1}/{:<5.1} {:>5}",
            1e6 / rate,
            100.0 * acc.height_bias,
            100.0 * acc.height_rms,
            acc.onset_bias,
            acc.height_pull.0,
            acc.height_pull.1,
            acc.onset_pull.0,
            acc.onset_pull.1,
            100.0 * acc.coverage.0,
            100.0 * acc.coverage.1,
            acc.failed
        );
        json += &format!(
            "  \"{k}\": {{\"n\": {}, \"failed\": {}, \"fits_per_s\": {rate:.1}, \"height_bias\": {:.6}, \"height_rms\": {:.6}, \"coverage\": [{:.6}, {:.6}], \"onset_bias\": {:.6}, \"height_pull\": [{:.6}, {:.6}], \"onset_pull\": [{:.6}, {:.6}], \"robust_pull_width\": [{:.6}, {:.6}]}}{}\n",
            acc.n,
            acc.failed,
            acc.height_bias,
            acc.height_rms,
            acc.coverage.0,
            acc.coverage.1,
            acc.onset_bias,
            acc.height_pull.0,
            acc.height_pull.1,
            acc.onset_pull.0,
            acc.onset_pull.1,
            acc.robust.0,
            acc.robust.1,
            if i + 1 < LEVEL_COUNTS.len() { "," } else { "" }
        );
        sets.push((k, set));
    }
    json += "}\n";
    if let Some(path) = &args.csv {
        write_csv(path, &sets, args.accuracy)?;
    }
    if let Some(path) = &args.json {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }

    let (layout, stream) = shower_stream(args.shower_pulses)?;
    let (elapsed, candidates) = best_of(args.repeat, || filter_algorithm(&layout, &stream));
    let candidates = candidates?;
    let algo_rate = stream.len() as f64 / elapsed.as_secs_f64();
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let mut component_best = Duration::MAX;
    for _ in 0..args.repeat.max(1) {
        let start = Instant::now();
        let n = rt.block_on(filter_component(&layout, &stream))?;
        component_best = component_best.min(start.elapsed());
        anyhow::ensure!(
            n == candidates,
            "component found {n} candidates, algorithm {candidates}"
        );
    }
    let component_rate = stream.len() as f64 / component_best.as_secs_f64();
    println!();
    println!(
        "Shower filter: 16 detectors (4x4, 10 m) at 400 Hz each, {} pulses, {candidates} candidates, one core",
        stream.len()
    );
    println!("  algorithm: {algo_rate:>12.0} pulses/s");
    println!(
        "  component: {component_rate:>12.0} pulses/s (one pulse per message, current-thread runtime)"
    );
    Ok(())
}
