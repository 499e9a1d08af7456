//! `sensornet`: the COSMICi sensor-network server as one graph — MAIN server, node
//! model, bridges with operator terminals and transcripts, UART parsing, time chain,
//! run manager, pulse fitting, shower filtering, direction finding and SQLite storage.
//!
//! ```text
//! cargo run --release --example sensornet -- --simulate 4 --duration 10
//! ```
//!
//! Across hosts (feature `zenoh`): `--role station` runs everything up to the fitted
//! pulses next to the detectors and sends them, with their records, over a remote link
//! to `--role central`, which finds showers and directions and stores them for every
//! station in `--stations` (see `components::cosmici::split`):
//!
//! ```text
//! cargo run --release -p examples --features zenoh --example sensornet -- --role central --stations a --zenoh-listen 127.0.0.1:7447
//! cargo run --release -p examples --features zenoh --example sensornet -- --role station --name a --zenoh-connect 127.0.0.1:7447 --simulate 4 --duration 10
//! ```
//!
//! Several stations may share one array: each names its detectors with
//! `--station-detectors` (numbered as in the whole array) and simulates or replays only
//! those, so a central fed by all of them sees what one process would. Stations that
//! simulate their parts share a seed and a time zero (`--sim-start`):
//!
//! ```text
//! T=$(( $(date +%s) + 5 ))
//! sensornet --role central --stations a,b --zenoh-listen 127.0.0.1:7447 --detectors 4
//! sensornet --role station --name a --zenoh-connect 127.0.0.1:7447 --simulate 4 --station-detectors 0,1 --sim-start $T --duration 20
//! sensornet --role station --name b --zenoh-connect 127.0.0.1:7447 --simulate 4 --station-detectors 2,3 --sim-start $T --duration 20 --listen 127.0.0.1:26767
//! ```
//!
//! `--simulate N` starts N simulated detectors (a CTU and ⌈N/3⌉ FEDM nodes) in-process,
//! connected over loopback exactly as real nodes connect. A one-line status is printed
//! every second; SIGINT/SIGTERM (or `--duration`) shut the graph down in order and
//! print a summary. Logs `listening on ADDR:PORT` for MAIN and for every bridge
//! (bridges and terminals bind the `--listen` host). A bridge that cannot bind, or an
//! archive that fails, shows as `ERROR …` on the status line and in the summary; with
//! `--simulate`, a run whose UART bridges could not all be made, or whose archive
//! stopped, exits non-zero with the reason.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its status and summary"
)]

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use components::cosmici::admission::NodeLimits;
use components::cosmici::bridge::{BridgeConfig, BridgeDirectory, DEFAULT_TERMINAL_BASE};
use components::cosmici::main_server::SensorNetConfig;
use components::cosmici::sim::truth_check::compare_with_truth;
use components::cosmici::sim::{BridgePorts, DetectorSim, DetectorSimConfig, SimTruth};
use components::cosmici::station::{Station, StationConfig, StationStats};
use components::cosmici::transcript::TranscriptLimits;
use components::cosmici::{LinkKind, NodeState};
use components::physics::layout::DetectorLayout;
use components::physics::simulate::ShowerSimConfig;
use components::physics::sky::Site;

/// The COSMICi sensor-network server, optionally with simulated detectors.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// MAIN (COSMO) address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:26766")]
    listen: SocketAddr,
    /// Serve the live dashboard (graph, counters, `/metrics`) on this address.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<SocketAddr>,
    /// AUXIO bridge port base, the protocol's (node id added); 0 = free ports.
    #[arg(long, default_value_t = LinkKind::Auxio.default_base())]
    auxio_base: u16,
    /// UART bridge port base, the protocol's (node id added); 0 = free ports.
    #[arg(long, default_value_t = LinkKind::Uart.default_base())]
    uart_base: u16,
    /// Bridge port base replacing both protocol bases: AUXIO of node N at base+2N, UART
    /// at base+2N+1; 0 = free ports (reported in the log).
    #[arg(long)]
    bridge_base: Option<u16>,
    /// Operator terminal port base: AUXIO of node N at base+2N, UART at base+2N+1;
    /// 0 = free ports. The default is above Linux's ephemeral range (32768-60999).
    #[arg(long, default_value_t = DEFAULT_TERMINAL_BASE)]
    terminal_base: u16,
    /// Most nodes known at once; MAIN refuses further ids with `ERR TOO_MANY_NODES`.
    #[arg(long, default_value_t = 64)]
    max_nodes: usize,
    /// Node ids accepted, LO-HI; MAIN refuses others with `ERR NODE_ID_OUT_OF_RANGE`.
    #[arg(long, default_value = "0-63", value_parser = parse_id_range)]
    node_ids: std::ops::RangeInclusive<u32>,
    /// Seconds of silence after which a node's bridge link gives way to a second
    /// connection (before that, a second connection is refused).
    #[arg(long, default_value_t = 30.0)]
    link_takeover: f64,
    /// Directory for the bridge transcripts (one per node, link and run).
    #[arg(long, default_value = "sensornet-transcripts")]
    transcripts: PathBuf,
    /// Size at which a transcript is rotated, MiB.
    #[arg(long, default_value_t = 64)]
    transcript_max_mib: u64,
    /// Rotated transcripts kept per node and link (the oldest beyond is deleted).
    #[arg(long, default_value_t = 4)]
    transcript_keep: usize,
    /// SQLite file for pulses and showers.
    #[arg(long, default_value = "sensornet.db")]
    db: PathBuf,
    /// Start this many simulated detectors in-process.
    #[arg(long, default_value_t = 0)]
    simulate: usize,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Detector grid spacing, m (detectors on a square grid, row by row).
    #[arg(long, default_value_t = 10.0)]
    spacing: f64,
    /// Simulated shower rate, Hz.
    #[arg(long, default_value_t = 1.0)]
    shower_rate: f64,
    /// Simulated background rate per detector, Hz.
    #[arg(long, default_value_t = 200.0)]
    background_rate: f64,
    /// Simulation seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The simulation's time zero, UTC unix seconds [default: when the simulated CTU
    /// receives START]. Stations that simulate parts of one array
    /// (`--station-detectors`) need the same one, and the same seed, a few seconds
    /// after they have all started: e.g. `--sim-start $(( $(date +%s) + 5 ))`.
    #[arg(long, value_name = "UNIX_SECONDS")]
    sim_start: Option<f64>,
    /// Write the simulator's ground truth here (JSON lines).
    #[arg(long)]
    truth: Option<PathBuf>,
    /// How long the shower filter keeps a window open for a late pulse, s of data
    /// time (the time chain already releases pulses in UTC order across FEDM links,
    /// so fast replays need no more than the default).
    #[arg(long, default_value_t = 1.0)]
    lateness: f64,
    /// Seconds of silence after which a node is AWOL.
    #[arg(long, default_value_t = 330.0)]
    awol: f64,
    /// Number of detectors in the layout when not simulating.
    #[arg(long, default_value_t = 4)]
    detectors: usize,
    /// The detectors of the layout this station has, when it has part of the array
    /// (`--role station`), e.g. `0,1` or `2-3`, numbered as in the whole array (whose
    /// size is `--simulate N` or `--detectors N`): its time chain waits only for the
    /// FEDM nodes that carry them, and it simulates (`--simulate`) or replays
    /// (`--replay`) only their pulses, with its own CTU. Default: all.
    #[arg(long, value_name = "LIST", value_parser = parse_detector_list)]
    station_detectors: Option<BTreeSet<usize>>,
    /// The detector site, LAT,LON[,ALT] (degrees north, east; metres), for sky
    /// coordinates [default: the COSMICi site, 30.428,-84.285,20].
    #[arg(long, conflicts_with = "site_file")]
    site: Option<Site>,
    /// A JSON site file: {"latitude_deg": .., "longitude_deg": .., "altitude_m": ..}.
    #[arg(long)]
    site_file: Option<PathBuf>,
    /// Split across hosts (needs the `zenoh` feature): `station` runs MAIN, bridges,
    /// UART parsing, time chain and fitting and sends the fitted pulses to the central;
    /// `central` finds showers and directions and stores them. Default: one process.
    #[arg(long, value_enum)]
    role: Option<Role>,
    /// This station's name (`--role station`); the central lists it in `--stations`.
    #[arg(long, default_value = "station")]
    name: String,
    /// The central's graph name (both roles).
    #[arg(long, default_value = "central")]
    central: String,
    /// The stations a central takes, comma-separated names (`--role central`).
    #[arg(long, default_value = "station", value_delimiter = ',')]
    stations: Vec<String>,
    /// Zenoh endpoint to listen on, ADDR:PORT (with `--role`; repeatable).
    #[arg(long)]
    zenoh_listen: Vec<String>,
    /// Zenoh endpoint to connect to, ADDR:PORT (with `--role`; repeatable).
    #[arg(long)]
    zenoh_connect: Vec<String>,
    /// Replay the bridge transcripts in DIR as fast as the server takes them, then stop
    /// (one process or `--role station`; e.g. the `--transcripts` of an earlier run).
    #[arg(long, conflicts_with = "simulate")]
    replay: Option<PathBuf>,
}

/// Which half of a split server this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    /// Next to the detectors: everything up to the fitted pulses.
    Station,
    /// Shower finding, directions and storage for several stations.
    Central,
}

fn parse_id_range(s: &str) -> Result<std::ops::RangeInclusive<u32>, String> {
    let (lo, hi) = s.split_once('-').unwrap_or((s, s));
    let parse = |x: &str| x.trim().parse::<u32>().map_err(|e| format!("{x:?}: {e}"));
    let (lo, hi) = (parse(lo)?, parse(hi)?);
    if lo > hi {
        return Err(format!("{lo} > {hi}"));
    }
    Ok(lo..=hi)
}

fn parse_detector_list(s: &str) -> Result<BTreeSet<usize>, String> {
    let mut set = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |x: &str| x.trim().parse::<usize>().map_err(|e| format!("{x:?}: {e}"));
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(format!("{lo} > {hi}"));
        }
        set.extend(lo..=hi);
    }
    if set.is_empty() {
        return Err("no detector named".into());
    }
    Ok(set)
}

/// The simulation's time zero, UTC ns, from `--sim-start`.
fn sim_epoch(args: &Args) -> Option<i64> {
    args.sim_start.map(|s| (s * 1e9).round() as i64)
}

fn grid_layout(n: usize, spacing: f64) -> anyhow::Result<DetectorLayout> {
    let nx = (n as f64).sqrt().ceil().max(1.0) as usize;
    let positions = (0..n)
        .map(|i| [(i % nx) as f64 * spacing, (i / nx) as f64 * spacing, 0.0])
        .collect();
    DetectorLayout::new(positions).context("detector layout")
}

fn node_summary(stats: &StationStats) -> String {
    let states = stats.nodes.states();
    let count = |f: fn(NodeState) -> bool| states.values().filter(|s| f(**s)).count();
    format!(
        "nodes {} (running {}, on {}, awol {})",
        states.len(),
        count(|s| s == NodeState::Running),
        count(|s| s == NodeState::On),
        count(NodeState::is_awol)
    )
}

/// Every error a run is in: bridges not made, the archive failing.
fn errors(stats: &StationStats, bridges: &BridgeDirectory) -> Vec<String> {
    let mut errors: Vec<String> = bridges
        .failures()
        .into_iter()
        .map(|(node, link, e)| format!("node {node} {link} bridge: {e}"))
        .collect();
    errors.extend(stats.store.error());
    errors
}

fn status_line(stats: &StationStats, bridges: &BridgeDirectory, rate: f64) -> String {
    let errors = errors(stats, bridges);
    let prefix = if errors.is_empty() {
        String::new()
    } else {
        format!("ERROR {} | ", errors.join("; "))
    };
    format!(
        "{prefix}{} | pulses {:.0}/s, {} stored | showers {} | uart bad {} malformed {}",
        node_summary(stats),
        rate,
        stats.store.pulses(),
        stats.store.showers(),
        stats.uart.bad_checksums(),
        stats.uart.malformed(),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging(
        "warn,components::cosmici::station=info,components::cosmici::bridge=info,cosmici::node=info",
    );
    let args = Args::parse();
    let detectors = if args.simulate > 0 {
        args.simulate
    } else {
        args.detectors
    };
    let layout = grid_layout(detectors, args.spacing)?;
    if let Some(mine) = &args.station_detectors {
        anyhow::ensure!(
            args.role == Some(Role::Station),
            "--station-detectors is for --role station"
        );
        if let Some(d) = mine.iter().find(|d| **d >= detectors) {
            anyhow::bail!("--station-detectors: detector {d} is not in the array of {detectors}");
        }
        anyhow::ensure!(
            args.simulate == 0 || args.sim_start.is_some(),
            "stations simulating parts of one array need one time zero: give each the same --sim-start (and --seed)"
        );
    }
    if let Some(role) = args.role {
        return split::run(role, &args, layout).await;
    }
    let config = station_config(&args, layout.clone())?;
    let rt = axon::Runtime::new();
    // The nodes' lines and the shower candidates can be recorded from the dashboard
    // (a bridge's `lines` link, the shower filter's output) and replayed into them.
    rt.make_recordable::<components::cosmici::NodeLine>();
    rt.make_recordable::<components::physics::shower::ShowerCandidate>();
    let dashboard = examples::serve_dashboard(&rt, args.dashboard).await?;
    let station = Station::start(&rt, config)
        .await
        .context("starting sensornet")?;
    println!(
        "sensornet: MAIN listening on {}; database {}",
        station.main_addr(),
        args.db.display()
    );

    let sim = if args.simulate > 0 {
        let mut sim = DetectorSimConfig::new(station.main_addr(), layout);
        sim.bridges = BridgePorts::Directory(station.directory());
        sim.showers = ShowerSimConfig {
            shower_rate: args.shower_rate,
            background_rate: args.background_rate,
            ..ShowerSimConfig::default()
        };
        sim.seed = args.seed;
        sim.truth_file = args.truth.clone();
        sim.epoch = sim_epoch(&args);
        println!(
            "sensornet: simulating {} detectors (1 CTU, {} FEDM nodes)",
            args.simulate,
            args.simulate.div_ceil(3)
        );
        Some(DetectorSim::new(sim).context("simulator")?.start())
    } else {
        None
    };

    let stats = station.stats().clone();
    let bridges = station.directory();
    let live = std::io::stdout().is_terminal();
    let (main_addr, directory) = (station.main_addr(), station.directory());
    let deadline = async {
        if let Some(dir) = &args.replay {
            let replayed = replay_dir(dir, main_addr, directory, None);
            let limit = async {
                match args.duration {
                    Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = replayed => if let Err(e) = r { println!("sensornet: replay failed: {e:#}") },
                () = limit => {}
            }
            return;
        }
        match args.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let signal = examples::stop_signal();
    tokio::pin!(signal);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    #[cfg(feature = "dashboard")]
    let mut pages = SensornetPages::default();
    #[cfg(not(feature = "dashboard"))]
    let _ = &dashboard;
    let mut last = 0u64;
    loop {
        tokio::select! {
            r = &mut signal => { r?; break; }
            () = &mut deadline => break,
            _ = tick.tick() => {
                let now = stats.pipeline.pulses();
                let line = status_line(&stats, &bridges, (now - last) as f64);
                #[cfg(feature = "dashboard")]
                if let Some(d) = &dashboard {
                    pages.show(d, &stats, &bridges, now - last);
                    pages.show_archive(d, &args.db);
                }
                last = now;
                if live {
                    print!("\r{line}\x1b[K");
                    let _ = std::io::stdout().flush();
                } else {
                    println!("{line}");
                }
                if stats.store.stopped() {
                    // Nothing can be stored: stop rather than take in more.
                    break;
                }
            }
        }
    }
    if live {
        println!();
    }
    println!("sensornet: shutting down");
    let truth = match sim {
        Some(sim) => Some(sim.stop().await),
        None => None,
    };
    let final_nodes = node_summary(&stats);
    let final_errors = errors(&stats, &bridges);
    let bridge_failures = bridges.failures();
    let exits = station.shutdown().await;
    println!("sensornet summary");
    println!("  {final_nodes}");
    for e in errors(&stats, &bridges)
        .into_iter()
        .chain(final_errors)
        .collect::<std::collections::BTreeSet<_>>()
    {
        println!("  ERROR {e}");
    }
    println!(
        "  MAIN: {} commands, {} not implemented, {} malformed, {} refused",
        stats.main.commands(),
        stats.main.unimplemented(),
        stats.main.malformed(),
        stats.main.refused()
    );
    println!(
        "  UART: {} lines, {} parsed, {} bad checksums, {} malformed",
        stats.uart.lines(),
        stats.uart.parsed(),
        stats.uart.bad_checksums(),
        stats.uart.malformed()
    );
    println!(
        "  pulses: {} timed, {} untimed, {} fitted ({} fit failures), {} stored",
        stats.clock.timed(),
        stats.clock.dropped(),
        stats.pipeline.pulses(),
        stats.pipeline.fit_failures(),
        stats.store.pulses()
    );
    println!(
        "  showers: {} found, {} stored with {} directions in {}",
        stats.pipeline.showers(),
        stats.store.showers(),
        stats.store.events(),
        args.db.display()
    );
    if let Some(spill) = stats.store.spill_path() {
        println!(
            "  spilled: {} records in {} (the database failed)",
            stats.store.spilled(),
            spill.display()
        );
    }
    if let Some(truth) = truth {
        print_truth(&truth);
        match compare_with_truth(&args.db, &truth) {
            Ok(c) => println!("  stored vs truth: {c}"),
            Err(e) => println!("  cannot read {} back: {e}", args.db.display()),
        }
    }
    let mut clean = true;
    for (part, exit) in &exits {
        if !exit.is_clean() {
            clean = false;
            println!("  {part} ended: {exit}");
        }
    }
    anyhow::ensure!(
        !stats.store.stopped(),
        "the archive stopped: {}",
        stats.store.error().unwrap_or_default()
    );
    if args.simulate > 0 {
        let missing: Vec<String> = bridge_failures
            .iter()
            .filter(|(_, link, _)| *link == LinkKind::Uart)
            .map(|(node, _, e)| format!("node {node} uart bridge: {e}"))
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "no pulse could arrive from every node: {}",
            missing.join("; ")
        );
    }
    anyhow::ensure!(clean, "some parts did not end cleanly");
    Ok(())
}

/// The sensornet's panels on the dashboard: nodes and their states, rates, the time
/// chain's health, errors; and an operator terminal per node link as its bridge appears.
#[cfg(feature = "dashboard")]
#[derive(Debug, Default)]
struct SensornetPages {
    terminals: std::collections::BTreeSet<(u32, LinkKind)>,
    showers: u64,
    /// A reader of the archive, for the pulse display and the sky map.
    archive: Option<components::store::Store>,
}

#[cfg(feature = "dashboard")]
impl SensornetPages {
    fn show(
        &mut self,
        dashboard: &examples::Dashboard,
        stats: &StationStats,
        bridges: &BridgeDirectory,
        pulses: u64,
    ) {
        use axon::dashboard::Panel;
        let states = stats.nodes.states();
        let mut rows = Vec::new();
        for (&node, state) in &states {
            let mut ports = Vec::new();
            for link in LinkKind::ALL {
                if let Some(addrs) = bridges.get(node, link) {
                    ports.push(format!("{link} {}", addrs.node.port()));
                    if self.terminals.insert((node, link)) {
                        dashboard.add_terminal(&format!("node {node} {link}"), addrs.terminal);
                    }
                }
            }
            rows.push(vec![node.to_string(), state.to_string(), ports.join(", ")]);
        }
        dashboard.set_panel(
            "sensornet nodes",
            Panel::table(["node", "state", "bridges"], rows),
        );
        let showers = stats.pipeline.showers();
        let shower_rate = showers.saturating_sub(self.showers);
        self.showers = showers;
        let timed = stats.clock.timed();
        let untimed = stats.clock.dropped();
        let health = if timed + untimed == 0 {
            "no pulses yet".to_string()
        } else {
            format!(
                "{:.1}% timed",
                100.0 * timed as f64 / (timed + untimed) as f64
            )
        };
        let mut values = vec![
            ("pulses/s".to_string(), pulses.to_string()),
            ("showers/s".to_string(), shower_rate.to_string()),
            (
                "pulses stored".to_string(),
                stats.store.pulses().to_string(),
            ),
            (
                "showers stored".to_string(),
                stats.store.showers().to_string(),
            ),
            (
                "directions stored".to_string(),
                stats.store.events().to_string(),
            ),
            (
                "fit failures".to_string(),
                stats.pipeline.fit_failures().to_string(),
            ),
            (
                "time chain".to_string(),
                format!("{health} ({timed} timed, {untimed} untimed)"),
            ),
            (
                "uart bad / malformed".to_string(),
                format!(
                    "{} / {}",
                    stats.uart.bad_checksums(),
                    stats.uart.malformed()
                ),
            ),
        ];
        for e in errors(stats, bridges) {
            values.push(("ERROR".to_string(), e));
        }
        dashboard.set_panel("sensornet run", Panel::values(values));
    }

    /// The latest fitted pulse (its curve) and the sky map of the stored showers, read
    /// back from the archive (a second reader of the SQLite file).
    fn show_archive(&mut self, dashboard: &examples::Dashboard, db: &std::path::Path) {
        use axon::dashboard::Panel;
        use components::store::{Durability, RecordKind, Store};
        if self.archive.is_none() {
            self.archive = Store::open(db, Durability::Process).ok();
        }
        let Some(store) = &self.archive else { return };
        // The newest pulse with a fit among the last few (the fitter runs behind).
        let newest = store.next_id(RecordKind::Fit).unwrap_or(1);
        let fitted = (newest.saturating_sub(20)..newest)
            .rev()
            .find_map(|id| store.fitted_curve(id).ok().flatten().map(|c| (id, c)));
        if let Some((id, curve)) = fitted {
            let (t0, peak) = (curve.onset, curve.peak_time());
            let span = (peak - t0).max(1.0) * 6.0;
            let trace = (0..=120).map(|i| {
                let t = t0 - span * 0.1 + span * f64::from(i) / 120.0;
                (t - t0, curve.value(t) * 1e3)
            });
            dashboard.set_panel(
                "latest pulse",
                Panel::points(format!("pulse {id}: t − onset (ns)"), "fitted mV", trace).joined(),
            );
        }
        if let Ok(sky) = store.sky() {
            let points = sky
                .iter()
                .rev()
                .take(2000)
                .filter(|p| !p.unphysical)
                .map(|p| (p.azimuth_deg, 90.0 - p.zenith_deg));
            dashboard.set_panel(
                "sky map",
                Panel::points("azimuth (deg)", "elevation (deg)", points),
            );
        }
    }
}

/// Replays the transcripts in `dir` into the server at `main`, as fast as it takes them.
/// With `detectors`, only their part of it (see `Recording::for_detectors`).
async fn replay_dir(
    dir: &std::path::Path,
    main: SocketAddr,
    bridges: BridgeDirectory,
    detectors: Option<&BTreeSet<usize>>,
) -> anyhow::Result<()> {
    use components::cosmici::reconstruct::DetectorMap;
    use components::cosmici::sim::replay::{Recording, ReplayConfig, replay};
    let mut recording = Recording::from_dir(dir)?;
    if let Some(mine) = detectors {
        recording = recording.for_detectors(DetectorMap::default(), mine);
    }
    let config = ReplayConfig {
        bridges: BridgePorts::Directory(bridges),
        speed: None,
        ..ReplayConfig::new(main)
    };
    println!(
        "sensornet: replaying {} lines from {}",
        recording.len(),
        dir.display()
    );
    replay(&recording, &config, |_| {}).await?;
    Ok(())
}

/// The station's settings from the command line.
fn station_config(args: &Args, layout: DetectorLayout) -> anyhow::Result<StationConfig> {
    let mut config = StationConfig::new(layout, &args.db);
    config.detectors = args.station_detectors.clone();
    config.site = match (&args.site, &args.site_file) {
        (Some(site), _) => *site,
        (None, Some(file)) => Site::from_file(file)?,
        (None, None) => Site::default(),
    };
    config.listen = args.listen;
    config.shower_filter.lateness = args.lateness * 1e9;
    config.nodes = NodeLimits {
        max_nodes: args.max_nodes,
        ids: args.node_ids.clone(),
    };
    config.bridges = BridgeConfig {
        host: args.listen.ip(),
        auxio_base: args.auxio_base,
        uart_base: args.uart_base,
        bridge_base: args.bridge_base,
        terminal_base: args.terminal_base,
        transcript_dir: Some(args.transcripts.clone()),
        transcript_limits: TranscriptLimits {
            max_bytes: args.transcript_max_mib.saturating_mul(1 << 20).max(1),
            keep: args.transcript_keep,
        },
        takeover_after: Duration::from_secs_f64(args.link_takeover.max(0.0)),
        ..BridgeConfig::default()
    };
    config.net = SensorNetConfig {
        awol_after: Duration::from_secs_f64(args.awol),
        ..SensorNetConfig::default()
    };
    Ok(config)
}

fn print_truth(truth: &SimTruth) {
    let pulses = truth.pulses();
    let showers = truth.showers();
    let visible = showers.iter().filter(|s| s.hits.len() >= 3).count();
    println!(
        "  simulator truth: {} pulses sent, {} showers ({} reaching 3+ detectors)",
        pulses.len(),
        showers.len(),
        visible
    );
}

/// `--role`: the server split across hosts.
#[cfg(not(feature = "zenoh"))]
mod split {
    use super::{Args, DetectorLayout, Role};

    pub(super) async fn run(
        _role: Role,
        _args: &Args,
        _layout: DetectorLayout,
    ) -> anyhow::Result<()> {
        anyhow::bail!(
            "--role needs the zenoh feature: cargo run --release -p examples --features zenoh --example sensornet -- --role ..."
        )
    }
}

/// `--role`: the server split across hosts.
#[cfg(feature = "zenoh")]
mod split {
    use std::time::Duration;

    use anyhow::Context as _;
    use components::cosmici::sim::{BridgePorts, DetectorSim, DetectorSimConfig};
    use components::cosmici::split::{Central, CentralConfig, StationMessage};
    use components::cosmici::station::Station;
    use remote::{Remote, RemoteBox, ZenohConfig};

    use super::{Args, DetectorLayout, Role, station_config};

    /// How long a station waits for its last messages to cross.
    const FLUSH_LIMIT: Duration = Duration::from_secs(60);

    fn zenoh_config(args: &Args) -> anyhow::Result<ZenohConfig> {
        let mut c = ZenohConfig::default();
        for e in &args.zenoh_listen {
            c = c.listen(e)?;
        }
        for e in &args.zenoh_connect {
            c = c.connect(e)?;
        }
        Ok(c)
    }

    /// The inbox a station's stream goes to on the central: `CENTRAL/station-NAME/inbox`.
    fn station_box(central: &str, name: &str) -> RemoteBox {
        RemoteBox::new(central, &format!("station-{name}"), "inbox")
    }

    /// Until Ctrl-C or `--duration`.
    async fn stop(duration: Option<f64>) {
        let deadline = async {
            match duration {
                Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = examples::stop_signal() => {}
            () = deadline => {}
        }
    }

    pub(super) async fn run(role: Role, args: &Args, layout: DetectorLayout) -> anyhow::Result<()> {
        let zenoh = zenoh_config(args)?;
        match role {
            Role::Station => station(args, layout, &zenoh).await,
            Role::Central => central(args, layout, &zenoh).await,
        }
    }

    async fn station(
        args: &Args,
        layout: DetectorLayout,
        zenoh: &ZenohConfig,
    ) -> anyhow::Result<()> {
        let rt = axon::Runtime::new();
        let remote = Remote::open(&args.name, zenoh).await.context("zenoh")?;
        let to = station_box(&args.central, &args.name);
        let sender = rt.add(remote.sender::<StationMessage>(&to, false))?;
        let config = station_config(args, layout.clone())?;
        let station = Station::start_uplink(&rt, config, sender.inbox(), sender.control())
            .await
            .context("starting the station")?;
        let sender = sender.start();
        println!(
            "sensornet station {}: MAIN listening on {}; sending to {}",
            args.name,
            station.main_addr(),
            to.key()
        );
        let mut sim = None;
        if let Some(dir) = &args.replay {
            tokio::select! {
                r = super::replay_dir(dir, station.main_addr(), station.directory(), args.station_detectors.as_ref()) => r?,
                () = stop(args.duration) => {}
            }
        } else {
            if args.simulate > 0 {
                let mut config = DetectorSimConfig::new(station.main_addr(), layout);
                config.bridges = BridgePorts::Directory(station.directory());
                config.showers.shower_rate = args.shower_rate;
                config.showers.background_rate = args.background_rate;
                config.seed = args.seed;
                config.truth_file = args.truth.clone();
                config.detectors = args.station_detectors.clone();
                config.epoch = super::sim_epoch(args);
                sim = Some(DetectorSim::new(config).context("simulator")?.start());
            }
            stop(args.duration).await;
        }
        println!("sensornet station {}: shutting down", args.name);
        if let Some(sim) = sim {
            sim.stop().await;
        }
        let stats = station.stats().clone();
        let mut exits = station.shutdown().await;
        let sent = tokio::time::timeout(FLUSH_LIMIT, sender.join())
            .await
            .unwrap_or(axon::Exit::Aborted);
        exits.push(("remote link", sent));
        println!(
            "  pulses: {} timed, {} untimed, {} fitted ({} fit failures), sent to {}",
            stats.clock.timed(),
            stats.clock.dropped(),
            stats.pipeline.pulses(),
            stats.pipeline.fit_failures(),
            to.key()
        );
        for link in remote.links() {
            println!("  remote link: {link:?}");
        }
        report(&exits)
    }

    async fn central(
        args: &Args,
        layout: DetectorLayout,
        zenoh: &ZenohConfig,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(!args.stations.is_empty(), "--stations names none");
        let rt = axon::Runtime::new();
        let remote = Remote::open(&args.central, zenoh).await.context("zenoh")?;
        let mut config = CentralConfig::new(layout, &args.db, args.stations.clone());
        config.site = station_config(args, config.layout.clone())?.site;
        config.shower_filter.lateness = args.lateness * 1e9;
        let central = Central::build(&rt, config).context("starting the central")?;
        let mut receivers = Vec::new();
        for (i, name) in args.stations.iter().enumerate() {
            let inbox = central.station_inbox(i).context("a station inbox")?;
            let key = station_box(&args.central, name);
            receivers.push((
                name.clone(),
                remote.expose_as(&rt, inbox, &key.component, &key.box_name)?,
            ));
            println!("sensornet central: station {name} sends to {}", key.key());
        }
        let (store, pipeline) = (central.store.clone(), central.pipeline.clone());
        println!("sensornet central: database {}", args.db.display());
        let mut exits = central.start().run_until(stop(args.duration)).await;
        for (name, r) in receivers {
            let exit = tokio::time::timeout(FLUSH_LIMIT, r.join())
                .await
                .unwrap_or(axon::Exit::Aborted);
            exits.push((format!("link from {name}"), exit));
        }
        println!("sensornet central summary");
        println!(
            "  pulses: {} stored | showers: {} found, {} stored with {} directions in {}",
            store.pulses(),
            pipeline.showers(),
            store.showers(),
            store.events(),
            args.db.display()
        );
        if let Some(e) = store.error() {
            println!("  ERROR {e}");
        }
        anyhow::ensure!(
            !store.stopped(),
            "the archive stopped: {}",
            store.error().unwrap_or_default()
        );
        report(&exits)
    }

    fn report<N: std::fmt::Display>(exits: &[(N, axon::Exit)]) -> anyhow::Result<()> {
        let mut clean = true;
        for (part, exit) in exits {
            if !exit.is_clean() {
                clean = false;
                println!("  {part} ended: {exit}");
            }
        }
        anyhow::ensure!(clean, "some parts did not end cleanly");
        Ok(())
    }
}
