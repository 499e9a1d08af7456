//! Replay benchmark: a 4-detector simulation (the README's main job's rates) is
//! recorded by a server's bridges for `--seconds`, then replayed as fast as a fresh
//! server takes it; prints the recorded span, the replay's wall time, their ratio
//! (target ≥ 10x) and what each server stored.
//!
//! ```text
//! cargo run --release -p examples --example bench_replay -- --seconds 10
//! ```
#![allow(
    clippy::print_stdout,
    reason = "a benchmark program prints its figures"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use components::cosmici::bridge::BridgeConfig;
use components::cosmici::sim::replay::{Recording, ReplayConfig, replay};
use components::cosmici::sim::{BridgePorts, DetectorSim, DetectorSimConfig};
use components::cosmici::station::{Station, StationConfig, StationStats};
use components::physics::layout::DetectorLayout;

/// Replay at full speed against the real-time rate of the simulation.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Seconds of simulated run to record.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Working directory (transcripts and databases; emptied first).
    #[arg(long, default_value = "bench-replay")]
    dir: std::path::PathBuf,
}

fn config(layout: &DetectorLayout, db: &Path, transcripts: Option<&Path>) -> StationConfig {
    let mut config = StationConfig::new(layout.clone(), db);
    config.listen = "127.0.0.1:0".parse().expect("an address");
    config.bridges = BridgeConfig {
        auxio_base: 0,
        uart_base: 0,
        terminal_base: 0,
        transcript_dir: transcripts.map(Path::to_path_buf),
        ..BridgeConfig::default()
    };
    // The default shower lateness (1 s): the time chain puts the FEDM links' pulses
    // back in UTC order however far one link runs ahead in a full-speed replay.
    config
}

fn stored(stats: &StationStats) -> String {
    format!(
        "{} pulses, {} showers",
        stats.store.pulses(),
        stats.store.showers()
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("warn");
    let args = Args::parse();
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir).context("work directory")?;
    let layout = DetectorLayout::grid(2, 2, 10.0)?;
    let transcripts = args.dir.join("transcripts");

    let rt = axon::Runtime::new();
    let station = Station::start(
        &rt,
        config(&layout, &args.dir.join("recorded.db"), Some(&transcripts)),
    )
    .await?;
    let recorded_stats = station.stats().clone();
    let mut sim = DetectorSimConfig::new(station.main_addr(), layout.clone());
    sim.bridges = BridgePorts::Directory(station.directory());
    let mut sim = DetectorSim::new(sim)?.start();
    tokio::time::timeout(Duration::from_secs(30), sim.wait_started())
        .await
        .context("the run did not start")?;
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    sim.stop().await;
    station.shutdown().await;

    let recording = Recording::from_dir(&transcripts)?;
    let span = recording.span_ns() as f64 / 1e9;
    let rt = axon::Runtime::new();
    let station = Station::start(&rt, config(&layout, &args.dir.join("replayed.db"), None)).await?;
    let replayed_stats = station.stats().clone();
    let replay_config = ReplayConfig {
        bridges: BridgePorts::Directory(station.directory()),
        speed: None,
        ..ReplayConfig::new(station.main_addr())
    };
    let started = Instant::now();
    replay(&recording, &replay_config, |_| {}).await?;
    station.shutdown().await;
    let took = started.elapsed().as_secs_f64();
    println!(
        "| recording | lines | recorded span | replay wall time (full speed, to the last commit) | ratio |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| 4 detectors, {:.0} s | {} | {span:.2} s | {took:.2} s | **{:.1}x** (target >= 10x) |",
        args.seconds,
        recording.len(),
        span / took
    );
    println!(
        "recorded run stored {}; replay stored {}",
        stored(&recorded_stats),
        stored(&replayed_stats)
    );
    Ok(())
}
