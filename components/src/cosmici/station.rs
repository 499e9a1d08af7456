//! The whole COSMICi server as one graph: MAIN server, node model, bridges, UART
//! parsing, time chain, run manager, pulse fitting, shower finding and storage.
//! Needs the `store` feature.
//!
//! ```text
//!  nodes ─MAIN─► ServerCore(MainConnection) ─► SensorNet ─NetEvent─► BridgeManager ─► per node: AUXIO/UART servers
//!                                                ▲ node_events           BridgeLink (UART) ─NodeLine─┐
//!                                                │                                                   ▼
//!                        RunManager.notices ─────┘◄── host, gps ── UartParser ◄──────────────────────┘
//!                        RunManager.start ──► CTU's UART down Backplane        │ outbox (every line)
//!                                                                              ▼
//!            PulseClock ─TimedPulse─► PulseReconstructor ─► ShowerFinder ─Record─► RunArchive (SQLite)
//! ```
//!
//! Lifecycle: [`Station::shutdown`] stops the MAIN server and the bridges (their
//! connections drain), then sends `ProducerFinished` into the UART parser; it flows
//! down the chain (each `signal` is linked to the next `control`), so the shower
//! finder decides its last candidates and the archive commits before it ends.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axon::{Control, Exit, Handle, Runtime};

use super::archive::{ArchiveStats, RunArchive};
use super::bridge::{BridgeConfig, BridgeDirectory, BridgeManager};
use super::main_server::{
    MainStats, NODE_EVENTS_SERVICE, NodeView, SensorNet, SensorNetConfig, main_server,
};
use super::reconstruct::{DetectorMap, PulseReconstructor, ReconstructStats, ShowerFinder};
use super::run_manager::RunManager;
use super::timechain::TimeChainConfig;
use super::timing::{ClockStats, PulseClock};
use super::uart_component::{UART_LINES_SERVICE, UartParser, UartStats};
use crate::physics::fit::PulseFitterConfig;
use crate::physics::layout::DetectorLayout;
use crate::physics::shower::ShowerFilterConfig;

/// How long [`Station::shutdown`] waits for each stage.
const STAGE_LIMIT: Duration = Duration::from_secs(10);

/// Why a station could not start.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::station::{Station, StationConfig, StationError};
/// use components::physics::layout::DetectorLayout;
///
/// let rt = axon::Runtime::new();
/// // The database is opened first: nothing is bound when it fails.
/// let config = StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "/nonexistent-dir/sensornet.db");
/// let err = Station::start(&rt, config).await.unwrap_err();
/// assert!(matches!(err, StationError::Database(_)));
/// assert!(err.to_string().starts_with("database: "));
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    /// The MAIN port could not be bound.
    #[error("MAIN server: {0}")]
    Bind(#[from] chassis::tcp::BindError),
    /// The database could not be opened.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A physics setting is invalid.
    #[error("settings: {0}")]
    Config(#[from] crate::physics::error::ConfigError),
    /// The graph could not be wired.
    #[error("graph: {0}")]
    Link(#[from] axon::LinkError),
}

/// Settings of a [`Station`].
///
/// # Examples
///
/// ```
/// use components::cosmici::station::StationConfig;
/// use components::physics::layout::DetectorLayout;
///
/// let config = StationConfig {
///     listen: "0.0.0.0:26766".parse()?,
///     timing_sigma: 2.0,
///     ..StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "sensornet.db")
/// };
/// assert_eq!(config.layout.len(), 4);
/// assert_eq!(config.db, std::path::Path::new("sensornet.db"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StationConfig {
    /// MAIN listen address (COSMO port 26766 by default).
    pub listen: SocketAddr,
    /// Bridge ports, transcripts.
    pub bridges: BridgeConfig,
    /// Node model settings.
    pub net: SensorNetConfig,
    /// Detector positions (detector `d` = channel `d % 3 + 1` of FEDM node `d / 3 + 1`).
    pub layout: DetectorLayout,
    /// Shower filter settings (lateness must cover the skew between FEDM links).
    pub shower_filter: ShowerFilterConfig,
    /// Per-detector timing error for the direction fit, ns.
    pub timing_sigma: f64,
    /// Pulse fitter settings.
    pub fitter: PulseFitterConfig,
    /// The SQLite file.
    pub db: PathBuf,
}

impl StationConfig {
    /// Defaults for `layout`, storing into `db`, MAIN on 127.0.0.1:26766.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::station::StationConfig;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "sensornet.db");
    /// assert_eq!(config.listen.to_string(), "127.0.0.1:26766");
    /// // Pulses from several FEDM links may arrive up to a second apart.
    /// assert_eq!(config.shower_filter.lateness, 1e9);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(layout: DetectorLayout, db: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], super::main_server::MAIN_PORT)),
            bridges: BridgeConfig::default(),
            net: SensorNetConfig::default(),
            layout,
            shower_filter: ShowerFilterConfig {
                lateness: 1e9,
                ..ShowerFilterConfig::default()
            },
            timing_sigma: 1.0,
            fitter: PulseFitterConfig::default(),
            db: db.into(),
        }
    }
}

/// Every counter of a running station.
///
/// # Examples
///
/// ```
/// use components::cosmici::station::StationStats;
///
/// let stats = StationStats::default();
/// assert_eq!((stats.uart.lines(), stats.clock.timed(), stats.archive.pulses()), (0, 0, 0));
/// assert!(stats.nodes.states().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StationStats {
    /// MAIN commands.
    pub main: MainStats,
    /// UART lines.
    pub uart: UartStats,
    /// Pulse timing.
    pub clock: ClockStats,
    /// Fits and showers.
    pub reconstruct: ReconstructStats,
    /// Stored rows.
    pub archive: ArchiveStats,
    /// Node states.
    pub nodes: NodeView,
}

/// A running COSMICi server; see the [module docs](self).
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::station::{Station, StationConfig};
/// use components::physics::layout::DetectorLayout;
///
/// let rt = axon::Runtime::new();
/// let station = Station::start(&rt, StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "sensornet.db")).await?;
/// println!("listening on {}", station.main_addr());
/// let exits = station.shutdown().await;
/// # let _ = exits; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Station {
    rt: Runtime,
    main_addr: SocketAddr,
    directory: BridgeDirectory,
    stats: StationStats,
    main: Handle,
    bridges: Handle,
    net: Handle,
    run: Handle,
    parser: Handle,
    chain: Vec<Handle>,
}

impl Station {
    /// Builds and starts the graph in `rt`.
    ///
    /// # Errors
    ///
    /// [`StationError`] if the MAIN port cannot be bound, the database opened, a
    /// setting is invalid, or (a bug) the graph cannot be wired.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::station::{Station, StationConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let rt = axon::Runtime::new();
    /// let mut config = StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "sensornet.db");
    /// config.listen = "127.0.0.1:0".parse()?; // any free port
    /// let station = Station::start(&rt, config).await?;
    /// assert_ne!(station.main_addr().port(), 0);
    /// station.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn start(rt: &Runtime, config: StationConfig) -> Result<Self, StationError> {
        let mut stats = StationStats::default();
        let archive = RunArchive::open(&config.db)?;
        stats.archive = archive.stats();
        let net = SensorNet::new(config.net);
        stats.nodes = net.view();
        let net = rt.add(net)?;
        let mut bridge_config = config.bridges.clone();
        bridge_config.uart_lines_service = Some(UART_LINES_SERVICE.to_owned());
        let bridges = BridgeManager::new(bridge_config);
        let directory = bridges.directory();
        let bridges = rt.add(bridges)?;
        rt.link(net.outbox(), bridges.inbox())?;

        let parser = rt.add(UartParser::new(stats.uart.clone()))?;
        let run = rt.add(RunManager::new(0))?;
        rt.link(
            rt.box_ref::<super::lines::NodeUartLine>(parser.id(), "host")?,
            run.inbox(),
        )?;
        rt.link(
            rt.box_ref::<super::lines::NodeUartLine>(parser.id(), "gps")?,
            run.inbox(),
        )?;
        rt.link(
            rt.box_ref::<super::lines::NodeNotice>(run.id(), "notices")?,
            rt.service(NODE_EVENTS_SERVICE)?,
        )?;

        let clock = PulseClock::new(0, TimeChainConfig::default());
        stats.clock = clock.stats();
        let clock = rt.add(clock)?;
        let fitter = rt.add(
            PulseReconstructor::new(
                config.fitter,
                DetectorMap::default(),
                stats.reconstruct.clone(),
            )?
            .into_component(),
        )?;
        let finder = rt.add(ShowerFinder::new(
            config.layout.clone(),
            config.shower_filter,
            config.timing_sigma,
            stats.reconstruct.clone(),
        )?)?;
        let store = rt.add(archive.into_component())?;
        rt.link(parser.outbox(), clock.inbox())?;
        rt.link(parser.signal(), clock.control())?;
        rt.link(clock.outbox(), fitter.inbox())?;
        rt.link(clock.signal(), fitter.control())?;
        rt.link(fitter.outbox(), finder.inbox())?;
        rt.link(fitter.signal(), finder.control())?;
        rt.link(finder.outbox(), store.inbox())?;
        rt.link(finder.signal(), store.control())?;

        let server = main_server(config.listen, stats.main.clone()).await?;
        let main_addr = server.local_addr();
        tracing::info!("MAIN listening on {main_addr}");
        let chain = vec![clock.start(), fitter.start(), finder.start(), store.start()];
        let station = Station {
            rt: rt.clone(),
            main_addr,
            directory,
            stats,
            net: net.start(),
            bridges: bridges.start(),
            run: run.start(),
            parser: parser.start(),
            main: rt.spawn(server)?,
            chain,
        };
        Ok(station)
    }

    /// The bound MAIN address.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::cosmici::station::{Station, StationConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let layout = DetectorLayout::grid(2, 2, 10.0)?;
    /// let rt = axon::Runtime::new();
    /// let mut config = StationConfig::new(layout.clone(), "sensornet.db");
    /// config.listen = "127.0.0.1:0".parse()?;
    /// let station = Station::start(&rt, config).await?;
    /// // Point a simulator at the port actually bound.
    /// let sim = DetectorSim::new(DetectorSimConfig::new(station.main_addr(), layout))?.start();
    /// # let _ = sim;
    /// # Ok(()) }
    /// ```
    pub fn main_addr(&self) -> SocketAddr {
        self.main_addr
    }

    /// Where the bridges are, as they open.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::station::{Station, StationConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let rt = axon::Runtime::new();
    /// let station = Station::start(&rt, StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "sensornet.db")).await?;
    /// // Once node 1 has powered on, its UART terminal is open for operators.
    /// let addrs = station.directory().wait(1, LinkKind::Uart).await;
    /// println!("node 1 UART terminal on {}", addrs.terminal);
    /// # Ok(()) }
    /// ```
    pub fn directory(&self) -> BridgeDirectory {
        self.directory.clone()
    }

    /// The counters.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::station::{Station, StationConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let rt = axon::Runtime::new();
    /// let station = Station::start(&rt, StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "sensornet.db")).await?;
    /// tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    /// let stats = station.stats();
    /// println!(
    ///     "{} UART lines, {} pulses timed, {} showers, nodes {:?}",
    ///     stats.uart.lines(),
    ///     stats.clock.timed(),
    ///     stats.reconstruct.showers(),
    ///     stats.nodes.states()
    /// );
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> &StationStats {
        &self.stats
    }

    /// The runtime it runs in.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::NodeLine;
    /// use components::cosmici::station::{Station, StationConfig};
    /// use components::cosmici::uart_component::UART_LINES_SERVICE;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let rt = axon::Runtime::new();
    /// let station = Station::start(&rt, StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "sensornet.db")).await?;
    /// // The station's parts are registered services of its runtime.
    /// assert!(station.runtime().service::<NodeLine>(UART_LINES_SERVICE).is_ok());
    /// # Ok(()) }
    /// ```
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Stops the station in order (see the [module docs](self)) and returns each
    /// part's exit.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::station::{Station, StationConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let rt = axon::Runtime::new();
    /// let station = Station::start(&rt, StationConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "sensornet.db")).await?;
    /// for (part, exit) in station.shutdown().await {
    ///     println!("{part}: {exit:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(self) -> Vec<(&'static str, Exit)> {
        let mut exits = Vec::new();
        async fn stop(h: Handle, how: Control, rt: &Runtime) -> Exit {
            let _ = rt.send_control(h.id(), how).await;
            match tokio::time::timeout(STAGE_LIMIT, h.join()).await {
                Ok(exit) => exit,
                Err(_) => Exit::Aborted,
            }
        }
        let rt = self.rt.clone();
        exits.push(("main server", stop(self.main, Control::Shutdown, &rt).await));
        exits.push(("bridges", stop(self.bridges, Control::Shutdown, &rt).await));
        exits.push((
            "uart parser",
            stop(self.parser, Control::ProducerFinished, &rt).await,
        ));
        for (name, h) in [
            "pulse clock",
            "pulse reconstructor",
            "shower finder",
            "archive",
        ]
        .into_iter()
        .zip(self.chain)
        {
            let exit = match tokio::time::timeout(STAGE_LIMIT, h.join()).await {
                Ok(exit) => exit,
                Err(_) => Exit::Aborted,
            };
            exits.push((name, exit));
        }
        exits.push(("run manager", stop(self.run, Control::Shutdown, &rt).await));
        exits.push(("sensor net", stop(self.net, Control::Shutdown, &rt).await));
        exits
    }
}

/// How a station's stored results compare with a simulator's ground truth.
///
/// # Examples
///
/// ```
/// use components::cosmici::station::TruthComparison;
///
/// let c = TruthComparison { pulses_sent: 10, pulses_matched: 9, ..Default::default() };
/// assert!(c.to_string().starts_with("pulses 9/10 matched"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TruthComparison {
    /// Pulses the simulator sent.
    pub pulses_sent: usize,
    /// Stored pulses that match a sent one (same node, channel, pulse number).
    pub pulses_matched: usize,
    /// Largest |stored − true| first-rise time, ns.
    pub max_time_error_ns: i64,
    /// Mean of stored − true onset, ns.
    pub onset_bias_ns: f64,
    /// RMS of stored − true onset, ns.
    pub onset_rms_ns: f64,
    /// RMS relative error of the fitted peak heights.
    pub peak_rms_rel: f64,
    /// Simulated showers that reached 3 or more detectors, before the last stored pulse.
    pub showers_visible: usize,
    /// Of those, how many were stored (within 200 ns) with a direction.
    pub showers_found: usize,
    /// Stored showers matching no simulated one.
    pub showers_extra: usize,
    /// Largest distance between true and found direction cosines.
    pub max_cosine_error: f64,
}

impl std::fmt::Display for TruthComparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pulses {}/{} matched, times within {} ns, onset bias {:.2} ns rms {:.2} ns, peak rms {:.1}%; \
             showers {}/{} found ({} extra), direction cosines within {:.3}",
            self.pulses_matched,
            self.pulses_sent,
            self.max_time_error_ns,
            self.onset_bias_ns,
            self.onset_rms_ns,
            100.0 * self.peak_rms_rel,
            self.showers_found,
            self.showers_visible,
            self.showers_extra,
            self.max_cosine_error
        )
    }
}

/// Compares what a station stored in `db` with a simulator's ground truth.
///
/// # Errors
///
/// The SQLite error if the file cannot be read.
///
/// # Examples
///
/// ```
/// use components::cosmici::archive::RunArchive;
/// use components::cosmici::sim::SimTruth;
/// use components::cosmici::station::{TruthComparison, compare_with_truth};
///
/// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-compare.db", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// // An empty run against an empty simulation: nothing sent, nothing matched.
/// drop(RunArchive::open(&path)?);
/// let c = compare_with_truth(&path, &SimTruth::default())?;
/// assert_eq!(c, TruthComparison::default());
/// # for end in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
/// # }
/// # Ok::<(), rusqlite::Error>(())
/// ```
pub fn compare_with_truth(
    db: impl AsRef<std::path::Path>,
    truth: &super::sim::SimTruth,
) -> Result<TruthComparison, rusqlite::Error> {
    let (pulses, showers) = super::archive::read_back(db)?;
    let sent: std::collections::HashMap<(u32, u8, u32), super::sim::TruthPulse> = truth
        .pulses()
        .into_iter()
        .map(|p| ((p.node, p.ch, p.pulse_num), p))
        .collect();
    let mut c = TruthComparison {
        pulses_sent: sent.len(),
        ..TruthComparison::default()
    };
    let (mut sum, mut sum2, mut peak2, mut peaks) = (0.0, 0.0, 0.0, 0usize);
    for p in &pulses {
        let Some(t) = sent.get(&(p.node, p.ch, p.pulse_num)) else {
            continue;
        };
        c.pulses_matched += 1;
        c.max_time_error_ns = c
            .max_time_error_ns
            .max((p.utc_ns - t.first_rise_utc_ns).abs());
        let e = (p.onset_utc_ns - t.onset_utc_ns) as f64;
        sum += e;
        sum2 += e * e;
        if let Some(h) = p.peak_height {
            peaks += 1;
            peak2 += (h / t.peak_height - 1.0).powi(2);
        }
    }
    if c.pulses_matched > 0 {
        let n = c.pulses_matched as f64;
        c.onset_bias_ns = sum / n;
        c.onset_rms_ns = (sum2 / n).sqrt();
    }
    if peaks > 0 {
        c.peak_rms_rel = (peak2 / peaks as f64).sqrt();
    }
    let last = pulses.iter().map(|p| p.utc_ns).max().unwrap_or(i64::MIN);
    let cosines =
        |zenith: f64, azimuth: f64| (zenith.sin() * azimuth.cos(), zenith.sin() * azimuth.sin());
    let simulated = truth.showers();
    for s in simulated
        .iter()
        .filter(|s| s.hits >= 3 && s.utc_ns < last.saturating_sub(1_000_000))
    {
        c.showers_visible += 1;
        let found = showers.iter().find(|f| (f.utc_ns - s.utc_ns).abs() < 200);
        if let Some(StoredShowerDirection { zenith, azimuth }) =
            found.and_then(StoredShowerDirection::of)
        {
            c.showers_found += 1;
            let (u, v) = cosines(zenith, azimuth);
            let (tu, tv) = cosines(s.zenith, s.azimuth);
            c.max_cosine_error = c.max_cosine_error.max((u - tu).hypot(v - tv));
        }
    }
    c.showers_extra = showers
        .iter()
        .filter(|f| !simulated.iter().any(|s| (f.utc_ns - s.utc_ns).abs() < 200))
        .count();
    Ok(c)
}

struct StoredShowerDirection {
    zenith: f64,
    azimuth: f64,
}

impl StoredShowerDirection {
    fn of(s: &super::archive::StoredShower) -> Option<Self> {
        Some(Self {
            zenith: s.zenith?,
            azimuth: s.azimuth?,
        })
    }
}
