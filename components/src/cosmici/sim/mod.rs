//! A detector simulator: CTU and FEDM nodes that connect to a COSMICi server exactly
//! as real ones do, driven by [`ShowerSim`], writing the ground truth. Needs the
//! `physics` feature.
//!
//! # What it sends
//!
//! Every node connects MAIN (`POWERED_ON`, `LOGMSG`, `HEARTBEAT`), then its AUXIO
//! bridge (console text) and its UART bridge (NMEA-framed lines), retrying while the
//! server sets its bridges up.
//!
//! * CTU (node 0): `HOST_STARTING,CTU_GPS,…`, `HOST_READY`, a good `PDMETRAIM` every
//!   second. On `START` it answers `ACK,START`, its counter (750 MHz, +0.2 ppm) starts
//!   at zero, and at every GPS PPS edge (whole UTC seconds) it sends `PPSCNTR`,
//!   `GPRMC` and `PDMETRAIM`.
//! * FEDM (nodes 1…, three channels each): `HOST_STARTING,FEDM,…`, `HOST_READY`,
//!   `DAC_LEVELS` (the 1.5 ladder, one broken channel), then a `CON_PULSE` per pulse
//!   on its channels and an `NC_PULSES` every second, timed against the CTU's sync pulses (every 2¹⁸ counts) with a
//!   500 MHz PLL counter starting at a random value.
//!
//! * Every node answers each line the server sends down its UART link (an operator's
//!   typed line, `START`) with `ACK,<the line>`, as the nodes' `ACK,…` acknowledges a
//!   command, and [`SimHandle::heard`] lists what each node heard.
//!
//! Pulses are bi-exponential ([`PulseSynth`]) crossing the geometric ladder, with
//! 0.3 ns jitter, floored to the 2 ns clock. Showers and background come from a
//! [`ShowerSim`] over the layout, paced in real time from `START`.
//!
//! # Part of an array
//!
//! A station of a [split](super::split) server that has part of an array simulates
//! its part: [`DetectorSimConfig::detectors`] names its detectors. The whole array is
//! still simulated (every random draw as for the whole), but only those detectors'
//! pulses are sent, by the FEDM nodes that carry them (with their own node ids and
//! channels), besides the station's CTU. Stations that share a seed and a time zero
//! ([`DetectorSimConfig::epoch`]) thus send, between them, what one simulator of the
//! whole array sends.
//!
//! # Ground truth
//!
//! [`SimTruth`] keeps the run's start (UTC), every sent pulse ([`SentPulse`]: node,
//! channel, pulse number, first-rise time and the simulator's [`SimPulse`]) and every
//! shower (the simulator's [`TrueShower`]), times in ns since the start, and writes
//! them as JSON lines to a file if asked (a `start` line first).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub mod replay;
#[cfg(feature = "store")]
pub mod truth_check;

use super::bridge::BridgeDirectory;
use super::lines::{LinkKind, utc_now};
use super::reconstruct::DetectorMap;
use super::wire::nmea;
use super::wire::pulse::{ConPulse, Crossing, Deltas, Edge};
use super::wire::utc::UtcNanos;
use crate::physics::layout::DetectorLayout;
use crate::physics::model::BiExpPulse;
use crate::physics::simulate::{
    PulseSynth, PulseSynthConfig, ShowerSim, ShowerSimConfig, SimEvent, SimPulse, TrueShower,
    fedm_ladder,
};

/// How many times a node tries to connect before giving up (every 50 ms).
const CONNECT_ATTEMPTS: u32 = 200;

/// Where the simulated nodes find their bridges.
///
/// # Examples
///
/// ```
/// use components::cosmici::bridge::BridgeDirectory;
/// use components::cosmici::sim::{BridgePorts, DetectorSimConfig};
/// use components::physics::layout::DetectorLayout;
///
/// let mut config = DetectorSimConfig::new("10.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
/// // By default the bridges are at the protocol's bases on the server's host.
/// assert!(matches!(config.bridges, BridgePorts::Bases { auxio: 52737, uart: 63766, .. }));
/// // With an in-process server on free ports, look them up instead.
/// config.bridges = BridgePorts::Directory(BridgeDirectory::default());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub enum BridgePorts {
    /// Fixed port bases, as the real nodes use (node id added).
    Bases {
        /// The server's address.
        host: IpAddr,
        /// AUXIO base (52737).
        auxio: u16,
        /// UART base (63766).
        uart: u16,
    },
    /// Whatever an in-process [`BridgeManager`](super::bridge::BridgeManager) bound.
    Directory(BridgeDirectory),
}

/// Settings of a [`DetectorSim`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
/// use components::physics::layout::DetectorLayout;
///
/// let config = DetectorSimConfig {
///     seed: 42,
///     heartbeat: Duration::from_secs(1),
///     ..DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(3, 1, 10.0)?)
/// };
/// assert_eq!(config.layout.len(), 3);
/// let _sim = DetectorSim::new(config)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DetectorSimConfig {
    /// The server's MAIN address.
    pub main: SocketAddr,
    /// Where the bridges are.
    pub bridges: BridgePorts,
    /// Detector positions; detector `d` is channel `d % 3 + 1` of FEDM node `d / 3 + 1`.
    pub layout: DetectorLayout,
    /// Shower and background rates, timing error, amplitudes.
    pub showers: ShowerSimConfig,
    /// Seed of every random draw.
    pub seed: u64,
    /// Node heartbeat period on MAIN.
    pub heartbeat: Duration,
    /// File for the ground truth (JSON lines); `None` = kept in memory only.
    pub truth_file: Option<PathBuf>,
    /// The detectors of `layout` whose pulses are sent (a station's part of an array:
    /// see the [module docs](self#part-of-an-array)); `None` = all.
    pub detectors: Option<BTreeSet<usize>>,
    /// The simulation's time zero, UTC ns; `None` = when the CTU receives `START`.
    /// Simulators of parts of one array need the same one, after every one's `START`
    /// (events before a simulator's `START` are not sent, with a warning).
    pub epoch: Option<i64>,
}

impl DetectorSimConfig {
    /// Settings for `layout` reporting to a server at `main` with bridges at the
    /// protocol's port bases on the same host.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::cosmici::sim::DetectorSimConfig;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// assert_eq!((config.seed, config.heartbeat), (1, Duration::from_secs(5)));
    /// assert!(config.truth_file.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(main: SocketAddr, layout: DetectorLayout) -> Self {
        Self {
            main,
            bridges: BridgePorts::Bases {
                host: main.ip(),
                auxio: LinkKind::Auxio.default_base(),
                uart: LinkKind::Uart.default_base(),
            },
            layout,
            showers: ShowerSimConfig::default(),
            seed: 1,
            heartbeat: Duration::from_secs(5),
            truth_file: None,
            detectors: None,
            epoch: None,
        }
    }

    /// Whether detector `d`'s pulses are sent.
    fn sends(&self, d: usize) -> bool {
        self.detectors.as_ref().is_none_or(|mine| mine.contains(&d))
    }
}

/// One pulse as a simulated FEDM node sent it: the simulator's pulse and what the
/// node's `CON_PULSE` called it. Times are ns since the run's start
/// ([`SimTruth::utc_ns`] turns them into UTC).
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
/// use components::physics::layout::DetectorLayout;
///
/// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
/// let sim = DetectorSim::new(config)?.start();
/// tokio::time::sleep(std::time::Duration::from_secs(10)).await;
/// for p in sim.stop().await.pulses() {
///     assert!(p.first_rise >= p.pulse.time);
///     println!("node {} ch {}: {:.3} V, shower {:?}", p.node, p.ch, p.pulse.peak_height, p.pulse.shower);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentPulse {
    /// FEDM node.
    pub node: u32,
    /// Channel.
    pub ch: u8,
    /// The pulse number sent in its `CON_PULSE`.
    pub pulse_num: u32,
    /// The simulated pulse: detector, true onset, peak height, shower.
    pub pulse: SimPulse,
    /// First rising edge as the FEDM clock saw it, ns since the run's start.
    pub first_rise: f64,
    /// Levels crossed.
    pub levels: usize,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum TruthLine<'a> {
    /// The run's time zero: every other line's times count from it.
    Start {
        utc_ns: i64,
    },
    Pulse(&'a SentPulse),
    Shower(&'a TrueShower),
}

#[derive(Debug, Default)]
struct TruthLog {
    start_utc_ns: i64,
    pulses: Vec<SentPulse>,
    showers: Vec<TrueShower>,
    file: Option<BufWriter<File>>,
}

/// The ground truth of a simulation, shared while it runs.
///
/// # Examples
///
/// ```
/// use components::cosmici::sim::SimTruth;
///
/// let truth = SimTruth::default();
/// assert!(truth.pulses().is_empty() && truth.showers().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct SimTruth {
    inner: Arc<Mutex<TruthLog>>,
}

impl SimTruth {
    /// The pulses sent so far.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// let mut sim = DetectorSim::new(config)?.start();
    /// sim.wait_started().await;
    /// tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    /// // Read while it runs: a snapshot.
    /// let sent = sim.truth().pulses().len();
    /// println!("{sent} pulses so far");
    /// # Ok(()) }
    /// ```
    pub fn pulses(&self) -> Vec<SentPulse> {
        self.inner
            .lock()
            .map(|t| t.pulses.clone())
            .unwrap_or_default()
    }

    /// The showers simulated so far.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// let sim = DetectorSim::new(config)?.start();
    /// tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    /// let truth = sim.stop().await;
    /// let in_showers = truth.pulses().iter().filter(|p| p.pulse.shower.is_some()).count();
    /// println!("{} showers, {in_showers} pulses from them", truth.showers().len());
    /// # Ok(()) }
    /// ```
    pub fn showers(&self) -> Vec<TrueShower> {
        self.inner
            .lock()
            .map(|t| t.showers.clone())
            .unwrap_or_default()
    }

    /// UTC (ns) of a simulation time `t` (ns since the run's start; the start is 0
    /// until the CTU has received `START`).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::sim::SimTruth;
    ///
    /// // Before START the run's start is the epoch.
    /// assert_eq!(SimTruth::default().utc_ns(12.6), 13);
    /// ```
    pub fn utc_ns(&self, t: f64) -> i64 {
        let start = self.inner.lock().map(|l| l.start_utc_ns).unwrap_or(0);
        start.saturating_add(t.round() as i64)
    }

    /// Flushes the truth file.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::sim::SimTruth;
    ///
    /// // Without a truth file there is nothing to flush; it is harmless.
    /// let truth = SimTruth::default();
    /// truth.flush();
    /// assert!(truth.pulses().is_empty());
    /// ```
    pub fn flush(&self) {
        if let Ok(mut t) = self.inner.lock()
            && let Some(f) = t.file.as_mut()
        {
            let _ = f.flush();
        }
    }

    fn record(&self, line: TruthLine<'_>) {
        let Ok(mut t) = self.inner.lock() else { return };
        if let Some(f) = t.file.as_mut()
            && let Ok(text) = serde_json::to_string(&line)
        {
            let _ = writeln!(f, "{text}");
        }
        match line {
            TruthLine::Start { utc_ns } => t.start_utc_ns = utc_ns,
            TruthLine::Pulse(p) => t.pulses.push(p.clone()),
            TruthLine::Shower(s) => t.showers.push(s.clone()),
        }
    }
}

/// The moment the CTU received `START`: the simulation's time zero.
#[derive(Debug, Clone, Copy)]
struct RunStart {
    at: Instant,
    utc: UtcNanos,
}

/// A running simulation: its node tasks, its truth.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
/// use components::physics::layout::DetectorLayout;
///
/// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
/// let mut sim = DetectorSim::new(config)?.start();
/// sim.wait_started().await;
/// assert!(sim.run_started());
/// let truth = sim.stop().await;
/// # let _ = truth;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SimHandle {
    tasks: JoinSet<()>,
    /// The FEDM nodes: on stop they write out every line already handed to them.
    fedms: JoinSet<()>,
    /// The task that makes events; stopped first, so no line is half-made.
    driver: tokio::task::AbortHandle,
    truth: SimTruth,
    started: watch::Receiver<Option<RunStart>>,
    heard: watch::Receiver<Vec<HeardLine>>,
}

/// A line a simulated node received from the server on its UART link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeardLine {
    /// The node that heard it.
    pub node: u32,
    /// The line, without its line ending.
    pub line: String,
}

/// Most lines [`SimHandle::heard`] keeps (the oldest go first).
const HEARD_KEPT: usize = 1000;

/// Where the nodes note what they heard, and the ACK each answers.
#[derive(Debug, Clone)]
struct Ears(Arc<watch::Sender<Vec<HeardLine>>>);

impl Ears {
    /// Notes `line` heard by `node`; the acknowledgement to send back.
    fn hear(&self, node: u32, line: &str) -> String {
        let line = line.trim_end_matches(['\r', '\n']);
        self.0.send_modify(|heard| {
            if heard.len() >= HEARD_KEPT {
                heard.remove(0);
            }
            heard.push(HeardLine {
                node,
                line: line.to_owned(),
            });
        });
        framed(&format!("ACK,{line}"))
    }
}

/// How long `stop` waits for the FEDM nodes to write out what they were handed.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

impl SimHandle {
    /// The ground truth so far.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// let sim = DetectorSim::new(config)?.start();
    /// let truth = sim.truth().clone(); // shared: stays live while the nodes run
    /// tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    /// println!("{} pulses", truth.pulses().len());
    /// # Ok(()) }
    /// ```
    pub fn truth(&self) -> &SimTruth {
        &self.truth
    }

    /// Whether the CTU has received `START`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// let sim = DetectorSim::new(config)?.start();
    /// // Nothing starts the run until the server has sent START to the CTU.
    /// assert!(!sim.run_started());
    /// # Ok(()) }
    /// ```
    pub fn run_started(&self) -> bool {
        self.started.borrow().is_some()
    }

    /// Waits until the CTU has received `START` (the run's time zero).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// let mut sim = DetectorSim::new(config)?.start();
    /// tokio::time::timeout(Duration::from_secs(30), sim.wait_started()).await?;
    /// assert!(sim.run_started());
    /// # Ok(()) }
    /// ```
    pub async fn wait_started(&mut self) {
        loop {
            if self.started.borrow_and_update().is_some() {
                return;
            }
            if self.started.changed().await.is_err() {
                // The CTU is gone without starting: never.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The lines the nodes heard from the server on their UART links, oldest first
    /// (the last thousand).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// let mut sim = DetectorSim::new(config)?.start();
    /// sim.wait_started().await;
    /// // The server's START reached the CTU (node 0).
    /// assert!(sim.heard().iter().any(|h| h.node == 0 && h.line == "START"));
    /// # Ok(()) }
    /// ```
    pub fn heard(&self) -> Vec<HeardLine> {
        self.heard.borrow().clone()
    }

    /// Waits until a node has heard a line for which `f` holds, and returns it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// let mut sim = DetectorSim::new(config)?.start();
    /// // An operator types `STATUS` in node 1's UART terminal.
    /// let heard = sim.wait_heard(|h| h.node == 1 && h.line == "STATUS").await;
    /// println!("node {} heard {}", heard.node, heard.line);
    /// # Ok(()) }
    /// ```
    pub async fn wait_heard(&mut self, mut f: impl FnMut(&HeardLine) -> bool) -> HeardLine {
        let mut found = None;
        let waited = self
            .heard
            .wait_for(|heard| {
                found = heard.iter().find(|h| f(h)).cloned();
                found.is_some()
            })
            .await;
        match (waited, found) {
            (Ok(_), Some(h)) => h,
            // The nodes are gone: nothing more will be heard.
            _ => std::future::pending().await,
        }
    }

    /// Stops every node (their connections close) and flushes the truth file.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let mut config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// config.truth_file = Some("truth.jsonl".into());
    /// let sim = DetectorSim::new(config)?.start();
    /// tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    /// // The nodes disconnect and truth.jsonl is complete.
    /// let truth = sim.stop().await;
    /// println!("{} pulses", truth.pulses().len());
    /// # Ok(()) }
    /// ```
    pub async fn stop(mut self) -> SimTruth {
        // No more events; the FEDM nodes then write every line they were handed (the
        // truth records a pulse only once it is handed over) and close their sockets.
        self.driver.abort();
        let drained = tokio::time::timeout(DRAIN_LIMIT, async {
            while self.fedms.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("simulated FEDM nodes did not finish writing; some pulses may be cut");
            self.fedms.shutdown().await;
        }
        self.tasks.shutdown().await;
        self.truth.flush();
        self.truth
    }
}

/// The simulator; see the [module docs](self).
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
/// use components::physics::layout::DetectorLayout;
///
/// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
/// let sim = DetectorSim::new(config)?.start();
/// tokio::time::sleep(std::time::Duration::from_secs(10)).await;
/// let truth = sim.stop().await;
/// println!("{} pulses, {} showers", truth.pulses().len(), truth.showers().len());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DetectorSim {
    config: DetectorSimConfig,
    truth: SimTruth,
}

/// The thresholds the simulated FEDMs use and report, V (three decimals, as sent).
///
/// # Examples
///
/// ```
/// use components::cosmici::sim::sim_levels;
///
/// let levels = sim_levels();
/// assert_eq!(levels.len(), 5);
/// assert_eq!(levels[..4], [0.2, 0.3, 0.45, 0.675]);
/// ```
pub fn sim_levels() -> Vec<f64> {
    fedm_ladder()
        .into_iter()
        .map(|v| (v * 1000.0).round() / 1000.0)
        .collect()
}

/// Simulated CTU counter frequency, Hz.
const CTU_HZ: f64 = 750e6 * (1.0 + 0.2e-6);
/// FEDM cycle, ns.
const FEDM_NS: f64 = 2.0;
/// CTU counts per sync pulse.
const SYNC_COUNTS: f64 = 262_144.0;

impl DetectorSim {
    /// A simulator with `config`.
    ///
    /// # Errors
    ///
    /// The I/O error if the truth file cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let mut config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// config.truth_file = Some("/nonexistent-dir/truth.jsonl".into());
    /// assert!(DetectorSim::new(config).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: DetectorSimConfig) -> std::io::Result<Self> {
        let truth = SimTruth::default();
        if let Some(path) = &config.truth_file
            && let Ok(mut t) = truth.inner.lock()
        {
            t.file = Some(BufWriter::new(File::create(path)?));
        }
        Ok(Self { config, truth })
    }

    /// Starts every node; they run until [`SimHandle::stop`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use components::cosmici::sim::{DetectorSim, DetectorSimConfig};
    /// use components::physics::layout::DetectorLayout;
    ///
    /// // Four detectors: the CTU (node 0) and two FEDM nodes (1 and 2).
    /// let config = DetectorSimConfig::new("127.0.0.1:26766".parse()?, DetectorLayout::grid(2, 2, 10.0)?);
    /// let mut sim = DetectorSim::new(config)?.start();
    /// sim.wait_started().await;
    /// # Ok(()) }
    /// ```
    pub fn start(self) -> SimHandle {
        let config = Arc::new(self.config);
        let map = DetectorMap::default();
        let (started_tx, started) = watch::channel(None);
        let (heard_tx, heard) = watch::channel(Vec::new());
        let ears = Ears(Arc::new(heard_tx));
        let mut tasks = JoinSet::new();
        let mut fedm_tasks = JoinSet::new();
        let fedms = map.fedm_nodes(config.layout.len());
        let mine: BTreeSet<u32> = (0..config.layout.len())
            .filter(|d| config.sends(*d))
            .map(|d| map.channel(d).0)
            .collect();
        let mut senders = Vec::new();
        for node in map.first_fedm..map.first_fedm + fedms {
            if !mine.contains(&node) {
                senders.push(None);
                continue;
            }
            let (tx, rx) = mpsc::channel::<String>(4096);
            senders.push(Some(tx));
            let config = config.clone();
            let ears = ears.clone();
            fedm_tasks.spawn(async move {
                if let Err(e) = fedm_node(&config, node, rx, ears).await {
                    tracing::warn!("simulated FEDM node {node} stopped: {e}");
                }
            });
        }
        {
            let config = config.clone();
            tasks.spawn(async move {
                if let Err(e) = ctu_node(&config, started_tx, ears).await {
                    tracing::warn!("simulated CTU stopped: {e}");
                }
            });
        }
        let driver = {
            let config = config.clone();
            let truth = self.truth.clone();
            let started = started.clone();
            tasks.spawn(async move {
                if let Err(e) = drive(&config, map, started, senders, truth).await {
                    tracing::warn!("simulation stopped: {e}");
                }
            })
        };
        SimHandle {
            tasks,
            fedms: fedm_tasks,
            driver,
            truth: self.truth,
            started,
            heard,
        }
    }
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut last = None;
    for _ in 0..CONNECT_ATTEMPTS {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no connection attempt made")))
}

async fn bridge_addr(bridges: &BridgePorts, node: u32, link: LinkKind) -> SocketAddr {
    match bridges {
        BridgePorts::Bases { host, auxio, uart } => {
            let base = if link == LinkKind::Auxio {
                *auxio
            } else {
                *uart
            };
            SocketAddr::new(*host, u16::try_from(u32::from(base) + node).unwrap_or(0))
        }
        BridgePorts::Directory(dir) => dir.wait(node, link).await.node,
    }
}

/// Where a node connects: the server's MAIN address, its bridges, and how often it
/// sends a heartbeat.
pub(crate) struct NodeLinks<'a> {
    pub(crate) main: SocketAddr,
    pub(crate) bridges: &'a BridgePorts,
    pub(crate) heartbeat: Duration,
}

impl DetectorSimConfig {
    fn links(&self) -> NodeLinks<'_> {
        NodeLinks {
            main: self.main,
            bridges: &self.bridges,
            heartbeat: self.heartbeat,
        }
    }
}

/// Connects a node's three links; the MAIN and AUXIO answers are read and dropped.
pub(crate) async fn connect_node(
    config: &NodeLinks<'_>,
    node: u32,
    tasks: &mut JoinSet<()>,
    kind: &str,
) -> std::io::Result<TcpStream> {
    let mut main = connect(config.main).await?;
    let mac = format!("02:00:00:00:00:{:02x}", node & 0xff);
    let ip = match config.main.ip() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
    };
    main.write_all(format!("POWERED_ON {node} {ip} {mac}\r\n").as_bytes())
        .await?;
    main.write_all(format!("LOGMSG {node} NORMAL 0 {kind} script starting.\r\n").as_bytes())
        .await?;
    main.write_all(format!("LOGMSG {node} INFO 1 Connecting bridges.\r\n").as_bytes())
        .await?;
    let heartbeat = config.heartbeat;
    let (mut main_rx, mut main_tx) = main.into_split();
    tasks.spawn(async move {
        let _ = tokio::io::copy(&mut main_rx, &mut tokio::io::sink()).await;
    });
    tasks.spawn(async move {
        let mut tick = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        for n in 1u64.. {
            tick.tick().await;
            if main_tx
                .write_all(format!("HEARTBEAT {node} {n}\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut auxio = connect(bridge_addr(config.bridges, node, LinkKind::Auxio).await).await?;
    auxio
        .write_all(format!("{kind} Wi-Fi script console, node {node}.\r\n").as_bytes())
        .await?;
    tasks.spawn(async move {
        let (mut rx, _tx) = auxio.into_split();
        let _ = tokio::io::copy(&mut rx, &mut tokio::io::sink()).await;
    });
    connect(bridge_addr(config.bridges, node, LinkKind::Uart).await).await
}

fn framed(body: &str) -> String {
    nmea::frame(body) + "\r\n"
}

fn gprmc(second: i64) -> String {
    let s = UtcNanos::from_unix_seconds(second).to_string();
    let part = |a: usize, b: usize| s.get(a..b).unwrap_or("00").to_owned();
    format!(
        "GPRMC,{}{}{}.000,A,3025.676,N,08417.112,W,0.0,0.0,{}{}{},4.1,W",
        part(11, 13),
        part(14, 16),
        part(17, 19),
        part(8, 10),
        part(5, 7),
        part(2, 4)
    )
}

const TRAIM_GOOD: &str = "PDMETRAIM,0,1,0.000000020,0";

async fn ctu_node(
    config: &DetectorSimConfig,
    started: watch::Sender<Option<RunStart>>,
    ears: Ears,
) -> std::io::Result<()> {
    let mut tasks = JoinSet::new();
    let uart = connect_node(&config.links(), 0, &mut tasks, "CTU").await?;
    let (rx, mut tx) = uart.into_split();
    tx.write_all(framed("HOST_STARTING,CTU_GPS,1.0").as_bytes())
        .await?;
    tx.write_all(framed("HOST_READY").as_bytes()).await?;
    tx.write_all(framed(TRAIM_GOOD).as_bytes()).await?;
    let mut lines = BufReader::new(rx).lines();
    let mut gps_tick = tokio::time::interval(Duration::from_secs(1));
    // Before START: GPS status every second; after: PPS edges on whole UTC seconds.
    let mut run: Option<(RunStart, i64, u32)> = None;
    loop {
        let next_pps = run.map(|(start, second, _)| {
            let edge_ns = second * 1_000_000_000 - start.utc.0;
            start.at + Duration::from_nanos(u64::try_from(edge_ns).unwrap_or(0))
        });
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line? else { return Ok(()) };
                tx.write_all(ears.hear(0, &line).as_bytes()).await?;
                if line.trim() == "START" && run.is_none() {
                    let start = RunStart { at: Instant::now(), utc: utc_now() };
                    let first_second = start.utc.0.div_euclid(1_000_000_000) + 1;
                    run = Some((start, first_second, 1));
                    let _ = started.send(Some(start));
                    tracing::info!("simulated CTU: START received");
                }
            }
            _ = gps_tick.tick(), if run.is_none() => {
                tx.write_all(framed(TRAIM_GOOD).as_bytes()).await?;
            }
            () = async { if let Some(at) = next_pps { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {
                if let Some((start, second, pps)) = run.as_mut() {
                    let t_ns = (*second * 1_000_000_000 - start.utc.0) as f64;
                    let count = ((t_ns * CTU_HZ / 1e9).round() as u64 & 0xffff_ffff) as u32;
                    tx.write_all(framed(&format!("PPSCNTR,{pps},{count}")).as_bytes()).await?;
                    tx.write_all(framed(&gprmc(*second)).as_bytes()).await?;
                    tx.write_all(framed(TRAIM_GOOD).as_bytes()).await?;
                    *second += 1;
                    *pps += 1;
                }
            }
        }
    }
}

async fn fedm_node(
    config: &DetectorSimConfig,
    node: u32,
    mut lines: mpsc::Receiver<String>,
    ears: Ears,
) -> std::io::Result<()> {
    let mut tasks = JoinSet::new();
    let uart = connect_node(&config.links(), node, &mut tasks, "FEDM").await?;
    let (rx, mut tx) = uart.into_split();
    let mut heard = BufReader::new(rx).lines();
    tx.write_all(framed("HOST_STARTING,FEDM,1.0").as_bytes())
        .await?;
    tx.write_all(framed("HOST_READY").as_bytes()).await?;
    let levels = sim_levels();
    let mut dac: Vec<String> = levels.iter().map(|v| format!("{:.3}", -v)).collect();
    dac.insert(1, "-2.500".into());
    tx.write_all(framed(&format!("DAC_LEVELS,{}", dac.join(","))).as_bytes())
        .await?;
    // Until the driver stops handing lines: a line the server sends is answered
    // between two data lines; a closed UART link ends the node.
    let mut listening = true;
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => tx.write_all(framed(&line).as_bytes()).await?,
                None => return Ok(()),
            },
            line = heard.next_line(), if listening => match line? {
                Some(line) => tx.write_all(ears.hear(node, &line).as_bytes()).await?,
                None => listening = false,
            },
        }
    }
}

/// Per-FEDM clock state.
struct FedmClock {
    pll0: u32,
    pulse_num: [u32; 3],
}

fn pll_at(pll0: u32, t_ns: f64) -> u32 {
    pll0.wrapping_add(((t_ns / FEDM_NS).floor() as u64 & 0xffff_ffff) as u32)
}

async fn drive(
    config: &DetectorSimConfig,
    map: DetectorMap,
    mut started: watch::Receiver<Option<RunStart>>,
    senders: Vec<Option<mpsc::Sender<String>>>,
    truth: SimTruth,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let start = loop {
        if let Some(s) = *started.borrow_and_update() {
            break s;
        }
        started.changed().await?;
    };
    let zero = config.epoch.unwrap_or(start.utc.0);
    // From the CTU's START (where its counters start) to the simulation's time zero, ns.
    let off = zero.saturating_sub(start.utc.0) as f64;
    if off > 0.0 {
        tracing::info!(
            "simulation time zero {} ({:.3} s after START)",
            UtcNanos(zero),
            off / 1e9
        );
    }
    let mut warned_early = false;
    truth.record(TruthLine::Start { utc_ns: zero });
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed);
    let mut clocks: Vec<FedmClock> = senders
        .iter()
        .map(|_| FedmClock {
            pll0: rng.random(),
            pulse_num: [0; 3],
        })
        .collect();
    let synth_config = PulseSynthConfig {
        levels: sim_levels(),
        ..PulseSynthConfig::default()
    };
    let shape = synth_config.shape;
    let mut synth = PulseSynth::new(synth_config, config.seed ^ 0x9a15e)?;
    let sim = ShowerSim::new(config.layout.clone(), config.showers.clone(), config.seed)?;
    let sync_at = |t: f64| {
        let sync = (t * CTU_HZ / 1e9 / SYNC_COUNTS).floor();
        (sync, sync * SYNC_COUNTS * 1e9 / CTU_HZ)
    };
    let mut next_status = 1e9;
    let mut events = sim.peekable();
    let at = |local: f64| start.at + Duration::from_nanos(local.max(0.0) as u64);
    loop {
        // Times since START: what the counters and the pacing go by.
        let next = events.peek().map(|e| e.time() + off);
        // Once a second each FEDM reports its non-coincidence counters (none here),
        // events or not: before an event at the same time, as a node would.
        if next.is_none_or(|local| local >= next_status) {
            tokio::time::sleep_until(at(next_status)).await;
            let (sync, sync_t) = sync_at(next_status);
            for (clock, tx) in clocks.iter().zip(&senders) {
                let Some(tx) = tx else { continue };
                let line = format!(
                    "NC_PULSES,{},{},{},0,0,0",
                    sync as u32,
                    pll_at(clock.pll0, sync_t),
                    pll_at(clock.pll0, next_status)
                );
                if tx.send(line).await.is_err() {
                    return Ok(());
                }
            }
            next_status += 1e9;
            continue;
        }
        let Some(event) = events.next() else { break };
        tokio::time::sleep_until(at(event.time() + off)).await;
        match event {
            SimEvent::Shower(s) => truth.record(TruthLine::Shower(&s)),
            SimEvent::Pulse(p) => {
                let (node, ch) = map.channel(p.detector);
                let Some(idx) = node
                    .checked_sub(map.first_fedm)
                    .and_then(|i| usize::try_from(i).ok())
                else {
                    continue;
                };
                let (Some(clock), Some(tx)) = (clocks.get_mut(idx), senders.get(idx)) else {
                    continue;
                };
                let detector = p.detector;
                let pulse = BiExpPulse {
                    amplitude: p.peak_height / shape.unit_peak(),
                    onset: p.time,
                    shape,
                };
                let crossings = synth.crossings_for(&pulse);
                let Some(first) = crossings.levels.first().map(|l| l.rise) else {
                    continue;
                };
                let k = crossings.levels.len();
                let cycles = |t: f64| ((t - first) / FEDM_NS).round().max(0.0) as u64;
                let mut list: Vec<Crossing> = Vec::with_capacity(2 * k);
                for (i, l) in crossings.levels.iter().enumerate() {
                    list.push(Crossing {
                        level: (i + 1) as u8,
                        edge: Edge::Rising,
                        cycles: cycles(l.rise),
                    });
                }
                for (i, l) in crossings.levels.iter().enumerate().rev() {
                    list.push(Crossing {
                        level: (i + 1) as u8,
                        edge: Edge::Falling,
                        cycles: cycles(l.fall),
                    });
                }
                let Ok(deltas) = Deltas::from_crossings(&list) else {
                    continue;
                };
                let (sync, sync_t) = sync_at(first + off);
                let slot = usize::from(ch.saturating_sub(1)).min(2);
                clock.pulse_num[slot] += 1;
                // Every draw above is made for every pulse, sent or not: a part of an
                // array sends exactly what the whole would for its detectors.
                let Some(tx) = tx.as_ref().filter(|_| config.sends(detector)) else {
                    continue;
                };
                if first + off < 0.0 {
                    if !warned_early {
                        tracing::warn!(
                            "simulation time zero {} is before this simulator's START: pulses before START are not sent (nor in the truth)",
                            UtcNanos(zero)
                        );
                        warned_early = true;
                    }
                    continue;
                }
                let line = ConPulse::new(
                    sync as u32,
                    pll_at(clock.pll0, sync_t),
                    ch,
                    clock.pulse_num[slot],
                    pll_at(clock.pll0, first + off),
                    deltas,
                );
                // Recorded once handed to the node, which writes out all it was handed.
                if tx.send(line.to_string()).await.is_err() {
                    return Ok(());
                }
                truth.record(TruthLine::Pulse(&SentPulse {
                    node,
                    ch,
                    pulse_num: clock.pulse_num[slot],
                    pulse: p,
                    first_rise: first,
                    levels: k,
                }));
            }
        }
    }
    Ok(())
}
