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
//!   PulseClock ─► PulseIntake ─► PulseFitter ─► FitJoiner ─► ShowerFilter ─► ShowerEvents ─► AngleFinder ─► EventMapper ─► Transform
//!                      │ records                   │ records                    │ records                                  │
//!                      └───────────────────────────┴────────────────────────────┴──────────► StoreWriter (SQLite) ◄─────────┘
//! ```
//!
//! The physics stages are the components of [`crate::physics`] that the `cosmici`
//! tool and the tests run; [`pipeline`](super::pipeline) has the joints between them.
//! Every record goes to one [`StoreWriter`], which commits in batches; the run is a
//! row of the store's `runs` table, and ids continue from what the file holds. If the
//! database fails mid-run, the writer spills every record from then on to
//! `<db stem>.spill-run<N>.db` (same schema) and [`StoreStats::error`] says so; if that
//! fails too, the writer stops with both reasons and the chain stops behind it — no
//! record is discarded.
//!
//! Lifecycle: [`Station::shutdown`] stops the MAIN server and the bridges (their
//! connections drain), then sends `ProducerFinished` into the UART parser; it flows
//! down the chain (each `signal` is linked to the next `control`), so the shower
//! filter decides its last candidates and the store commits before it ends.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axon::{BoxRef, Control, Exit, Handle, Runtime};

use super::admission::{NodeAdmission, NodeLimits};
use super::bridge::{BridgeConfig, BridgeDirectory, BridgeManager};
use super::main_server::{
    MainStats, NODE_EVENTS_SERVICE, NodeView, SensorNet, SensorNetConfig, main_server,
};
use super::pipeline::{FitJoiner, PendingPulse, PipelineStats, PulseIntake, ShowerEvents};
use super::progress::ChainProgress;
use super::reconstruct::DetectorMap;
use super::run_manager::RunManager;
use super::split::{Starter, StationMessage, starter};
use super::timechain::TimeChainConfig;
use super::timing::{ClockStats, PulseClock};
use super::uart_component::{UART_LINES_SERVICE, UartParser, UartStats};
use crate::physics::components::{
    AngleFinderComponent, PulseFitterComponent, ShowerFilterComponent,
};
use crate::physics::event_mapper::{EventMapperComponent, MappedEvent, TimeOrigin};
use crate::physics::fit::PulseFitterConfig;
use crate::physics::layout::DetectorLayout;
use crate::physics::shower::ShowerFilterConfig;
use crate::physics::sky::{EventMapper, Site};
use crate::store::{Durability, Record, RecordKind, Store, StoreError, StoreStats, StoreWriter};
use crate::transform::Transform;

/// How long [`Station::shutdown`] waits for each stage.
const STAGE_LIMIT: Duration = Duration::from_secs(10);

/// How long [`Station::shutdown`] waits for the bridges, which bound their own wait by
/// progress (a UART link delivering its node's last lines is waited for).
const BRIDGES_LIMIT: Duration = Duration::from_secs(130);

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
    Database(#[from] StoreError),
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
    /// Which node ids MAIN accepts (`max_nodes` also bounds the node model).
    pub nodes: NodeLimits,
    /// Detector positions (detector `d` = channel `d % 3 + 1` of FEDM node `d / 3 + 1`).
    pub layout: DetectorLayout,
    /// The detectors of `layout` this station has, when it has part of an array (a
    /// [split](super::split) server's station): its time chain waits only for the
    /// FEDM nodes that carry them. `None`: all of them.
    pub detectors: Option<BTreeSet<usize>>,
    /// Shower filter settings (lateness must cover the skew between FEDM links).
    pub shower_filter: ShowerFilterConfig,
    /// Per-detector timing error for the direction fit, ns.
    pub timing_sigma: f64,
    /// Pulse fitter settings.
    pub fitter: PulseFitterConfig,
    /// Where the detectors stand (for sky coordinates).
    pub site: Site,
    /// The SQLite file.
    pub db: PathBuf,
    /// How much a commit survives.
    pub durability: Durability,
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
            nodes: NodeLimits::default(),
            layout,
            detectors: None,
            shower_filter: ShowerFilterConfig {
                lateness: 1e9,
                ..ShowerFilterConfig::default()
            },
            timing_sigma: 1.0,
            fitter: PulseFitterConfig::default(),
            site: Site::default(),
            db: db.into(),
            durability: Durability::Process,
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
/// assert_eq!((stats.uart.lines(), stats.clock.timed(), stats.store.pulses()), (0, 0, 0));
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
    /// Pulses, fit failures and showers in the pipeline.
    pub pipeline: PipelineStats,
    /// Committed records.
    pub store: StoreStats,
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
    chain: Vec<(&'static str, Handle)>,
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
        Self::start_with(rt, config, None).await
    }

    /// Starts the station's half of a [split](super::split) server in `rt`: everything
    /// up to the fitted pulses, with no database (`config.db` and the shower settings
    /// are not used). Its pulses and records leave as [`StationMessage`]s into `to`
    /// (a remote link's sending endpoint, say), with its progress in data time when
    /// it has advanced and no pulse is on its way (at most once a second; see
    /// [`split`](super::split)), its lifecycle into `control`; the caller starts that
    /// endpoint. Pulse ids count from 1.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start), but no database is opened.
    pub async fn start_uplink(
        rt: &Runtime,
        config: StationConfig,
        to: BoxRef<StationMessage>,
        control: BoxRef<Control>,
    ) -> Result<Self, StationError> {
        Self::start_with(rt, config, Some((to, control))).await
    }

    async fn start_with(
        rt: &Runtime,
        config: StationConfig,
        uplink: Option<(BoxRef<StationMessage>, BoxRef<Control>)>,
    ) -> Result<Self, StationError> {
        let mut stats = StationStats::default();
        let (writer, first_pulse, first_shower, run) = if uplink.is_none() {
            let mut store = Store::open(&config.db, config.durability)?;
            let first_pulse = store.next_id(RecordKind::Pulse)?;
            let first_shower = store.next_id(RecordKind::Shower)?;
            let run_id =
                store.begin_run("sensornet", super::lines::utc_now().0, Some(config.site))?;
            tracing::info!("run {run_id} in {}", config.db.display());
            let spill = spill_path(&config.db, run_id);
            let writer = StoreWriter::new(store).fallback(&spill, config.durability);
            stats.store = writer.stats();
            (
                Some(writer),
                first_pulse,
                first_shower,
                format!("run{run_id}"),
            )
        } else {
            let started = super::lines::utc_now().0.div_euclid(1_000_000_000);
            (None, 1, 1, format!("station{started}"))
        };
        let net = SensorNet::new(SensorNetConfig {
            max_nodes: config.nodes.max_nodes,
            ..config.net
        });
        stats.nodes = net.view();
        let net = rt.add(net)?;
        let mut bridge_config = config.bridges.clone();
        bridge_config.uart_lines_service = Some(UART_LINES_SERVICE.to_owned());
        bridge_config.run = run;
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

        let map = DetectorMap::default();
        let fedms: BTreeSet<u32> = match &config.detectors {
            Some(mine) => mine.iter().map(|d| map.channel(*d).0).collect(),
            None => {
                (map.first_fedm..map.first_fedm + map.fedm_nodes(config.layout.len())).collect()
            }
        };
        let progress = ChainProgress::default();
        let mut clock = PulseClock::new(0, TimeChainConfig::default()).expect_nodes(fedms);
        if uplink.is_some() {
            clock = clock.progress(progress.clone());
        }
        stats.clock = clock.stats();
        let origin = TimeOrigin::default();
        let clock = rt.add(clock)?;
        let intake = rt.add(PulseIntake::new(first_pulse, map, stats.pipeline.clone()))?;
        let fitter = rt.add(PulseFitterComponent::new(config.fitter)?)?;
        let mut joiner = FitJoiner::new(origin.clone(), stats.pipeline.clone());
        if uplink.is_some() {
            joiner = joiner.progress(progress.clone());
        }
        let joiner = rt.add(joiner)?;
        rt.link(parser.outbox(), clock.inbox())?;
        rt.link(parser.signal(), clock.control())?;
        rt.link(clock.outbox(), intake.inbox())?;
        rt.link(clock.signal(), intake.control())?;
        rt.link(intake.outbox(), fitter.inbox())?;
        rt.link(intake.signal(), fitter.control())?;
        rt.link(
            rt.box_ref::<PendingPulse>(intake.id(), "pending")?,
            rt.box_ref::<PendingPulse>(joiner.id(), "pending")?,
        )?;
        rt.link(fitter.outbox(), joiner.inbox())?;
        rt.link(fitter.signal(), joiner.control())?;
        let records = [
            rt.box_ref::<Record>(intake.id(), "records")?,
            rt.box_ref::<Record>(joiner.id(), "records")?,
        ];
        let mut chain: Vec<(&'static str, Starter)> = vec![
            ("pulse clock", starter(clock)),
            ("pulse intake", starter(intake)),
            ("pulse fitter", starter(fitter)),
        ];
        match (uplink, writer) {
            (Some((to, control)), _) => {
                let parts = super::split::uplink(
                    rt,
                    origin,
                    progress,
                    &records,
                    joiner.outbox(),
                    joiner.signal(),
                    to,
                    control,
                )?;
                chain.push(("fit joiner", starter(joiner)));
                chain.extend(parts);
            }
            (None, Some(writer)) => {
                let filter = rt.add(ShowerFilterComponent::new(
                    config.layout.clone(),
                    config.shower_filter,
                )?)?;
                let events = rt.add(ShowerEvents::new(first_shower, stats.pipeline.clone()))?;
                let finder = rt.add(AngleFinderComponent::new(
                    config.layout.clone(),
                    config.timing_sigma,
                )?)?;
                let mapper = rt.add(EventMapperComponent::new(
                    EventMapper::new(config.site),
                    origin,
                ))?;
                let to_record = rt.add(Transform::new(event_record).named("EventRecord"))?;
                let store = rt.add(writer)?;
                rt.link(joiner.outbox(), filter.inbox())?;
                rt.link(joiner.signal(), filter.control())?;
                rt.link(filter.outbox(), events.inbox())?;
                rt.link(filter.signal(), events.control())?;
                rt.link(events.outbox(), finder.inbox())?;
                rt.link(events.signal(), finder.control())?;
                rt.link(finder.outbox(), mapper.inbox())?;
                rt.link(finder.signal(), mapper.control())?;
                rt.link(mapper.outbox(), to_record.inbox())?;
                rt.link(mapper.signal(), to_record.control())?;
                for r in records
                    .into_iter()
                    .chain([rt.box_ref::<Record>(events.id(), "records")?])
                {
                    rt.link(r, store.inbox())?;
                }
                rt.link(to_record.outbox(), store.inbox())?;
                rt.link(to_record.signal(), store.control())?;
                chain.extend([
                    ("fit joiner", starter(joiner)),
                    ("shower filter", starter(filter)),
                    ("shower events", starter(events)),
                    ("angle finder", starter(finder)),
                    ("event mapper", starter(mapper)),
                    ("event record", starter(to_record)),
                    ("store", starter(store)),
                ]);
            }
            (None, None) => unreachable!("a whole station opens its store"),
        }

        let admission = NodeAdmission::new(config.nodes.clone());
        tracing::info!("MAIN admits {}", config.nodes);
        let server = main_server(config.listen, stats.main.clone(), admission).await?;
        let main_addr = server.local_addr();
        tracing::info!("MAIN listening on {main_addr}");
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
            chain: chain
                .into_iter()
                .map(|(name, start)| (name, start()))
                .collect(),
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
    ///     stats.pipeline.showers(),
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
        async fn stop_within(h: Handle, how: Control, rt: &Runtime, limit: Duration) -> Exit {
            let _ = rt.send_control(h.id(), how).await;
            match tokio::time::timeout(limit, h.join()).await {
                Ok(exit) => exit,
                Err(_) => Exit::Aborted,
            }
        }
        async fn stop(h: Handle, how: Control, rt: &Runtime) -> Exit {
            stop_within(h, how, rt, STAGE_LIMIT).await
        }
        let rt = self.rt.clone();
        exits.push(("main server", stop(self.main, Control::Shutdown, &rt).await));
        exits.push((
            "bridges",
            stop_within(self.bridges, Control::Shutdown, &rt, BRIDGES_LIMIT).await,
        ));
        exits.push((
            "uart parser",
            stop(self.parser, Control::ProducerFinished, &rt).await,
        ));
        for (name, h) in self.chain {
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

/// Where records go if the database fails mid-run: `<db stem>.spill-run<N>.db` next to it.
pub(super) fn spill_path(db: &std::path::Path, run: i64) -> PathBuf {
    let stem = db
        .file_stem()
        .map_or_else(|| "sensornet".into(), |s| s.to_string_lossy().into_owned());
    db.with_file_name(format!("{stem}.spill-run{run}.db"))
}

/// The record of a mapped event, logged as it passes.
pub(super) fn event_record(event: MappedEvent) -> Record {
    let utc = event.utc_ns.map(super::wire::utc::UtcNanos);
    match (&event.direction, &event.sky) {
        (Ok(d), Some(sky)) => tracing::info!(
            "shower {} at {}: {} detectors, zenith {:.1}°, azimuth {:.1}°, l {:.1}°, b {:.1}°",
            event.event,
            utc.map(|u| u.to_string()).unwrap_or_default(),
            event.hits.len(),
            d.zenith.value.to_degrees(),
            d.azimuth.value.to_degrees(),
            sky.galactic.lon_deg,
            sky.galactic.lat_deg
        ),
        (Ok(_), None) => tracing::info!(
            "shower {}: {} detectors, direction below the horizon (unphysical)",
            event.event,
            event.hits.len()
        ),
        (Err(e), _) => tracing::info!(
            "shower {}: {} detectors, no direction: {e}",
            event.event,
            event.hits.len()
        ),
    }
    Record::Event(event)
}
