//! `detector_sim`: simulated COSMICi detectors — a CTU and FEDM nodes that connect
//! to a server exactly as real ones do (MAIN, then the AUXIO and UART bridges) and
//! stream power-on, log messages, heartbeats, PPS counters, GPS, DAC levels and
//! pulses from showers and background, writing the ground truth to a file.
//!
//! ```text
//! cargo run --release --example sensornet            # in one terminal
//! cargo run --release --example detector_sim -- --detectors 4 --duration 30
//! ```
//!
//! The run starts when the server sends `START` to the CTU; pulses are paced in real
//! time from then on. SIGINT/SIGTERM or `--duration` stop it and print a summary.
//!
//! `--replay DIR` instead replays what real or simulated nodes sent in an earlier run:
//! the UART bridge transcripts a server wrote to DIR (`node<N>-uart-*.log`) and plain
//! recordings (`*.rec`: `<unix seconds> <node> <line>`), at `--speed` times the
//! recorded pace (`--speed 0`: as fast as the server takes them), with a progress bar
//! on a terminal. `--record FILE` writes DIR's lines as one plain recording.
//!
//! ```text
//! cargo run --release --example detector_sim -- --replay sensornet-transcripts --speed 10
//! ```
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its summary"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use components::cosmici::LinkKind;
use components::cosmici::sim::replay::{Recording, ReplayConfig, replay};
use components::cosmici::sim::{BridgePorts, DetectorSim, DetectorSimConfig};
use components::physics::layout::DetectorLayout;
use components::physics::simulate::ShowerSimConfig;

/// Simulated COSMICi detectors for a sensornet server.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The server's MAIN (COSMO) address.
    #[arg(long, default_value = "127.0.0.1:26766")]
    main: SocketAddr,
    /// The server's AUXIO bridge port base.
    #[arg(long, default_value_t = LinkKind::Auxio.default_base())]
    auxio_base: u16,
    /// The server's UART bridge port base.
    #[arg(long, default_value_t = LinkKind::Uart.default_base())]
    uart_base: u16,
    /// Number of detectors (three per FEDM node).
    #[arg(long, default_value_t = 4)]
    detectors: usize,
    /// Detector grid spacing, m (square grid, row by row; match the server's).
    #[arg(long, default_value_t = 10.0)]
    spacing: f64,
    /// Shower rate, Hz.
    #[arg(long, default_value_t = 0.65)]
    shower_rate: f64,
    /// Background rate per detector, Hz (100–400 is realistic).
    #[arg(long, default_value_t = 200.0)]
    background_rate: f64,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Ground-truth file (JSON lines: the run's start in UTC, then pulses and showers, times in ns since the start).
    #[arg(long, default_value = "detector_sim_truth.jsonl")]
    truth: PathBuf,
    /// Node heartbeat period on MAIN, s.
    #[arg(long, default_value_t = 5.0)]
    heartbeat: f64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Replay the UART transcripts (node<N>-uart-*.log) and *.rec recordings in this
    /// directory instead of simulating.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Replay speed: recorded time divided by this; 0 = as fast as the server takes it.
    #[arg(long, default_value_t = 1.0, requires = "replay")]
    speed: f64,
    /// With --replay: write the recording as one plain *.rec file and exit.
    #[arg(long, requires = "replay")]
    record: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("info");
    let args = Args::parse();
    if let Some(dir) = &args.replay {
        return replay_dir(&args, dir).await;
    }
    anyhow::ensure!(args.detectors > 0, "at least one detector");
    let nx = (args.detectors as f64).sqrt().ceil() as usize;
    let positions = (0..args.detectors)
        .map(|i| {
            [
                (i % nx) as f64 * args.spacing,
                (i / nx) as f64 * args.spacing,
                0.0,
            ]
        })
        .collect();
    let layout = DetectorLayout::new(positions).context("layout")?;
    let mut config = DetectorSimConfig::new(args.main, layout);
    config.bridges = BridgePorts::Bases {
        host: args.main.ip(),
        auxio: args.auxio_base,
        uart: args.uart_base,
    };
    config.showers = ShowerSimConfig {
        shower_rate: args.shower_rate,
        background_rate: args.background_rate,
        ..ShowerSimConfig::default()
    };
    config.seed = args.seed;
    config.heartbeat = Duration::from_secs_f64(args.heartbeat);
    config.truth_file = Some(args.truth.clone());
    let sim = DetectorSim::new(config).context("truth file")?.start();
    println!(
        "detector_sim: {} detectors (1 CTU, {} FEDM nodes) reporting to {}",
        args.detectors,
        args.detectors.div_ceil(3),
        args.main
    );
    match args.duration {
        Some(s) => tokio::select! {
            r = examples::stop_signal() => r?,
            () = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
        },
        None => examples::stop_signal().await?,
    }
    let started = sim.run_started();
    let truth = sim.stop().await;
    let showers = truth.showers();
    println!(
        "detector_sim: run {}; {} pulses sent, {} showers ({} reaching 3+ detectors); truth in {}",
        if started {
            "started"
        } else {
            "never started (no START from the server)"
        },
        truth.pulses().len(),
        showers.len(),
        showers.iter().filter(|s| s.hits.len() >= 3).count(),
        args.truth.display()
    );
    Ok(())
}

async fn replay_dir(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.speed >= 0.0 && args.speed.is_finite(),
        "--speed must be 0 (as fast as possible) or positive"
    );
    let recording = Recording::from_dir(dir)?;
    if let Some(path) = &args.record {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        recording.write_plain(&mut out)?;
        std::io::Write::flush(&mut out)?;
        println!(
            "detector_sim: {} lines of nodes {:?} written to {}",
            recording.len(),
            recording.nodes(),
            path.display()
        );
        return Ok(());
    }
    let config = ReplayConfig {
        bridges: BridgePorts::Bases {
            host: args.main.ip(),
            auxio: args.auxio_base,
            uart: args.uart_base,
        },
        speed: (args.speed > 0.0).then_some(args.speed),
        heartbeat: Duration::from_secs_f64(args.heartbeat),
        ..ReplayConfig::new(args.main)
    };
    let span = recording.span_ns() as f64 / 1e9;
    println!(
        "detector_sim: replaying {} lines of nodes {:?} ({span:.1} s recorded) from {} to {}",
        recording.len(),
        recording.nodes(),
        dir.display(),
        args.main
    );
    let bar = examples::progress_bar(recording.len() as u64, "lines");
    let started = std::time::Instant::now();
    let sent = tokio::select! {
        r = examples::stop_signal() => { r?; bar.abandon(); anyhow::bail!("stopped") }
        sent = replay(&recording, &config, |n| bar.set_position(n as u64)) => sent?,
    };
    bar.finish_and_clear();
    let took = started.elapsed().as_secs_f64();
    println!(
        "detector_sim: replayed {sent} lines in {took:.2} s ({:.1}x the recorded pace)",
        span / took.max(1e-9)
    );
    Ok(())
}
