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
use components::cosmici::sim::{BridgePorts, DetectorSim, DetectorSimConfig};
use components::physics::layout::DetectorLayout;
use components::physics::simulate::ShowerSimConfig;

/// Simulated COSMICi detectors for a sensornet server.
#[derive(Debug, Parser)]
#[command(version, about)]
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
    /// Ground-truth file (JSON lines: pulses and showers).
    #[arg(long, default_value = "detector_sim_truth.jsonl")]
    truth: PathBuf,
    /// Node heartbeat period on MAIN, s.
    #[arg(long, default_value_t = 5.0)]
    heartbeat: f64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("info");
    let args = Args::parse();
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
        showers.iter().filter(|s| s.hits >= 3).count(),
        args.truth.display()
    );
    Ok(())
}
