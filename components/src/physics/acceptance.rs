#![allow(
    clippy::print_stdout,
    reason = "prints the accuracy table per level count for the issue notes"
)]
//! Statistical acceptance tests on synthetic data with fixed seeds.

use super::fit::{FitStatus, PulseFitter, PulseFitterConfig, ShapePath};
use super::simulate::{AmplitudeDist, PulseSynth, PulseSynthConfig, fedm_ladder};

/// Mean and standard deviation.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

#[derive(Debug)]
struct Row {
    levels: usize,
    n: usize,
    failed: usize,
    height_bias: f64,
    onset_bias: f64,
    height_pull: (f64, f64),
    onset_pull: (f64, f64),
    paths: [usize; 3],
}

fn run(
    levels_crossed: usize,
    pulses: usize,
    fitter: &PulseFitter,
    synth_cfg: &PulseSynthConfig,
    seed: u64,
) -> Row {
    let ladder = &synth_cfg.levels;
    let lo = ladder[levels_crossed - 1];
    let hi = ladder.get(levels_crossed).copied().unwrap_or(lo * 1.5);
    let cfg = PulseSynthConfig {
        amplitude: AmplitudeDist::LogUniform { min: lo, max: hi },
        ..synth_cfg.clone()
    };
    let mut synth = PulseSynth::new(cfg, seed).expect("valid synth config");
    let (mut hb, mut ob, mut hp, mut op) = (vec![], vec![], vec![], vec![]);
    let mut failed = 0;
    let mut paths = [0; 3];
    for _ in 0..pulses {
        let (truth, crossings) = synth.next_pulse();
        assert_eq!(crossings.levels.len(), levels_crossed);
        let fit = fitter.fit(&crossings).expect("consistent synthetic input");
        if fit.status != FitStatus::Converged {
            failed += 1;
            continue;
        }
        paths[match fit.shape_path {
            ShapePath::Fixed => 0,
            ShapePath::DecayFree => 1,
            ShapePath::Free => 2,
        }] += 1;
        let dh = fit.peak_height.value - truth.peak_height();
        let dt = fit.onset.value - truth.onset;
        hb.push(dh / truth.peak_height());
        ob.push(dt);
        hp.push(dh / fit.peak_height.error);
        op.push(dt / fit.onset.error);
    }
    Row {
        levels: levels_crossed,
        n: hb.len(),
        failed,
        height_bias: mean_std(&hb).0,
        onset_bias: mean_std(&ob).0,
        height_pull: mean_std(&hp),
        onset_pull: mean_std(&op),
        paths,
    }
}

fn table(title: &str, rows: &[Row]) -> String {
    let mut s = format!(
        "{title}\nlevels      n  fail  H bias  t0 bias  H pull mean/std  t0 pull mean/std  paths fixed/decay/free\n"
    );
    for r in rows {
        s += &format!(
            "{:>6} {:>6} {:>5} {:>+6.2}% {:>+7.3}  {:>+6.3} / {:>5.3}  {:>+7.3} / {:>5.3}    {}/{}/{}\n",
            r.levels,
            r.n,
            r.failed,
            100.0 * r.height_bias,
            r.onset_bias,
            r.height_pull.0,
            r.height_pull.1,
            r.onset_pull.0,
            r.onset_pull.1,
            r.paths[0],
            r.paths[1],
            r.paths[2]
        );
    }
    s
}

fn check(rows: &[Row]) {
    for r in rows {
        assert!(r.failed * 100 <= r.n, "{r:?}");
        assert!(r.height_bias.abs() < 0.03, "{r:?}");
        assert!(r.onset_bias.abs() < 0.3, "{r:?}");
        for (m, s) in [r.height_pull, r.onset_pull] {
            assert!(m.abs() <= 0.2 && (0.8..=1.2).contains(&s), "{r:?}");
        }
    }
}

#[test]
fn pulse_fitter_is_unbiased_with_honest_errors() {
    let synth = PulseSynthConfig {
        levels: fedm_ladder(),
        ..PulseSynthConfig::default()
    };
    let fitter = PulseFitter::new(PulseFitterConfig::default()).expect("valid");
    let rows: Vec<Row> = (2..=5)
        .map(|k| run(k, 2500, &fitter, &synth, 100 + k as u64))
        .collect();
    println!(
        "{}",
        table(
            "scintillator shape 0.9/2.1 ns, 2 ns clock, 0.3 ns jitter",
            &rows
        )
    );
    check(&rows);
}

#[test]
fn slow_pulses_free_the_shape_where_the_crossings_constrain_it() {
    // A large plate smears pulses to a few ns: the crossings then resolve the shape.
    let shape = super::model::PulseShape::new(2.5, 8.0).expect("valid");
    let synth = PulseSynthConfig {
        shape,
        ..PulseSynthConfig::default()
    };
    let fitter = PulseFitter::new(PulseFitterConfig {
        shape,
        ..PulseFitterConfig::default()
    })
    .expect("valid");
    let rows: Vec<Row> = (2..=5)
        .map(|k| run(k, 500, &fitter, &synth, 200 + k as u64))
        .collect();
    println!(
        "{}",
        table("smeared shape 2.5/8 ns (calibration = truth)", &rows)
    );
    // Two levels never free the rise; with five levels the decay is freed.
    assert_eq!(rows[0].paths[2], 0);
    assert!(
        (rows[3].paths[1] + rows[3].paths[2]) * 2 > rows[3].n,
        "{:?}",
        rows[3]
    );
    check(&rows);
}

#[test]
fn fast_pulses_keep_the_calibrated_shape_and_say_so() {
    let synth = PulseSynthConfig::default();
    let fitter = PulseFitter::new(PulseFitterConfig::default()).expect("valid");
    let mut source = PulseSynth::new(synth, 77).expect("valid");
    let mut fitted = 0;
    while fitted < 300 {
        let (_, crossings) = source.next_pulse();
        if crossings.levels.is_empty() {
            continue;
        }
        let fit = fitter.fit(&crossings).expect("consistent");
        // Sub-clock pulses cannot constrain a 0.9 ns rise: the rise is never freed.
        assert_ne!(fit.shape_path, ShapePath::Free);
        if fit.shape_path == ShapePath::Fixed {
            assert_eq!((fit.rise.error, fit.decay.error), (0.0, 0.0));
            assert_eq!(fit.rise.value, 0.9);
        }
        fitted += 1;
    }
}
