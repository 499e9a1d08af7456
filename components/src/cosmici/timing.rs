//! [`PulseClock`]: the time chain as a component — `CON_PULSE`s in, pulses with
//! absolute UTC times out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use axon::{BoxError, Component, Context, LinkError, Setup};

use super::lines::NodeUartLine;
use super::progress::ChainProgress;
use super::time_order::NodeMerge;
use super::timechain::{TimeChain, TimeChainConfig};
use super::wire::gps::Rmc;
use super::wire::pulse::{ConPulse, Edge};
use super::wire::uart::UartLine;
use super::wire::utc::UtcNanos;

/// How many pulses wait at most for the time chain to calibrate.
const MAX_WAITING: usize = 100_000;

/// How long (wall time) a FEDM node may send nothing, while the clock has nothing
/// else to read, before timed pulses stop waiting for it ([`NodeMerge`]). A FEDM
/// sends `NC_PULSES` every second.
pub const NODE_SILENCE: Duration = Duration::from_secs(3);

/// How many timed pulses wait at most for the other nodes to catch up.
const MAX_HELD: usize = 100_000;

/// A pulse with its absolute time and the threshold voltages of its node.
///
/// # Examples
///
/// ```
/// use components::cosmici::timing::TimedPulse;
/// use components::cosmici::{ConPulse, UtcNanos};
///
/// let pulse: ConPulse = "CON_PULSE,1,0,1,1,500,1,(0,3)".parse().unwrap();
/// let timed = TimedPulse {
///     node: 1,
///     pulse,
///     utc: UtcNanos::from_unix_seconds(1_700_000_000),
///     levels: vec![0.2, 0.299],
///     clock_period_ns: 2.0,
/// };
/// assert_eq!(timed.levels[0], 0.2);
/// assert_eq!(timed.utc.unix_seconds(), 1_700_000_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimedPulse {
    /// The FEDM node.
    pub node: u32,
    /// The pulse as sent.
    pub pulse: ConPulse,
    /// UTC of the pulse's first rising edge.
    pub utc: UtcNanos,
    /// The node's usable threshold ladder, volts, lowest first (empty until its
    /// `DAC_LEVELS` arrived).
    pub levels: Vec<f64>,
    /// FEDM clock period of the node, ns (from the calibrated time chain).
    pub clock_period_ns: f64,
}

impl TimedPulse {
    /// The pulse's crossings as `(level, edge, ns after the first rise)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::timing::TimedPulse;
    /// use components::cosmici::{ConPulse, Edge, UtcNanos};
    ///
    /// let pulse: ConPulse = "CON_PULSE,1,0,1,1,500,1,(0,3)".parse().unwrap();
    /// let timed = TimedPulse { node: 1, pulse, utc: UtcNanos(0), levels: vec![], clock_period_ns: 2.0 };
    /// // Three 2 ns cycles from rise to fall.
    /// assert_eq!(timed.crossing_times(), [(1, Edge::Rising, 0.0), (1, Edge::Falling, 6.0)]);
    /// ```
    pub fn crossing_times(&self) -> Vec<(u8, Edge, f64)> {
        self.pulse
            .crossings()
            .into_iter()
            .map(|c| (c.level, c.edge, c.cycles as f64 * self.clock_period_ns))
            .collect()
    }
}

/// The usable threshold ladder from a `DAC_LEVELS` line: magnitudes, ascending,
/// the lowest `usable` kept (the broken channel reads far above the ladder).
///
/// # Examples
///
/// ```
/// use components::cosmici::timing::usable_levels;
///
/// let levels = usable_levels(&[-0.2, -2.5, -0.299, -0.447, -0.669, -1.0], 5);
/// assert_eq!(levels, [0.2, 0.299, 0.447, 0.669, 1.0]);
/// ```
pub fn usable_levels(dac: &[f64], usable: usize) -> Vec<f64> {
    let mut levels: Vec<f64> = dac
        .iter()
        .map(|v| v.abs())
        .filter(|v| v.is_finite())
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.truncate(usable);
    levels
}

/// Counters of a [`PulseClock`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use components::cosmici::timing::PulseClock;
/// use components::cosmici::{NodeUartLine, UartLine};
///
/// let clock = PulseClock::new(0, Default::default());
/// let stats = clock.stats();
/// let mut h = axon::testing::Harness::new(clock);
/// // Without PPS points the pulse can never be timed.
/// let line = UartLine::parse("CON_PULSE,1,0,1,1,500,1,(0,3)").unwrap();
/// h.send(NodeUartLine { node: 1, line }).await;
/// h.finish().await;
/// h.exit().await;
/// assert_eq!((stats.timed(), stats.dropped()), (0, 1));
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClockStats {
    inner: Arc<[AtomicU64; 3]>,
}

impl ClockStats {
    /// Pulses given a time.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::timing::PulseClock;
    /// use components::cosmici::{NodeUartLine, UartLine};
    ///
    /// let clock = PulseClock::new(0, Default::default());
    /// let stats = clock.stats();
    /// let mut h = axon::testing::Harness::new(clock);
    /// for (node, line) in [
    ///     (0, "PPSCNTR,10,0"),
    ///     (0, "PPSCNTR,11,750000000"),
    ///     (0, "GPRMC,000000.000,A,0,N,0,W,0,0,010124,,"),
    ///     (1, "CON_PULSE,1,0,1,1,500,1,(0,3)"),
    /// ] {
    ///     h.send(NodeUartLine { node, line: UartLine::parse(line).unwrap() }).await;
    /// }
    /// h.recv().await.unwrap();
    /// assert_eq!(stats.timed(), 1);
    /// # }
    /// ```
    pub fn timed(&self) -> u64 {
        self.inner[0].load(Ordering::Relaxed)
    }
    /// Pulses dropped: too many waiting for calibration, or no time computable.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::timing::PulseClock;
    /// use components::cosmici::{NodeUartLine, UartLine};
    ///
    /// let clock = PulseClock::new(0, Default::default());
    /// let stats = clock.stats();
    /// let mut h = axon::testing::Harness::new(clock);
    /// // A pulse still waiting for calibration when the input ends is dropped.
    /// let line = UartLine::parse("CON_PULSE,1,0,1,1,500,1,(0,3)").unwrap();
    /// h.send(NodeUartLine { node: 1, line }).await;
    /// h.finish().await;
    /// h.exit().await;
    /// assert_eq!(stats.dropped(), 1);
    /// # }
    /// ```
    pub fn dropped(&self) -> u64 {
        self.inner[1].load(Ordering::Relaxed)
    }
    /// `PPSCNTR` points refused by the fit.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::timing::PulseClock;
    /// use components::cosmici::{NodeUartLine, UartLine};
    ///
    /// let clock = PulseClock::new(0, Default::default());
    /// let stats = clock.stats();
    /// let mut h = axon::testing::Harness::new(clock);
    /// // The second point does not advance the PPS number.
    /// for line in ["PPSCNTR,10,0", "PPSCNTR,10,5"] {
    ///     h.send(NodeUartLine { node: 0, line: UartLine::parse(line).unwrap() }).await;
    /// }
    /// h.finish().await;
    /// h.exit().await;
    /// assert_eq!(stats.refused_pps(), 1);
    /// # }
    /// ```
    pub fn refused_pps(&self) -> u64 {
        self.inner[2].load(Ordering::Relaxed)
    }
}

/// Puts absolute times on pulses: FEDM cycles → CTU sync → PPS counter fit → UTC.
///
/// # What it does
///
/// Feeds every CTU `PPSCNTR` into the fit, anchors the latest PPS edge to the UTC
/// second of the `GPRMC` that follows it, and keeps one FEDM clock calibration per
/// FEDM node (from the `<sync>,<pll>` of its `NC_PULSES`, `FIFO_FULL` and
/// `CON_PULSE` lines). A `CON_PULSE` is timed once the chain can place it (two
/// `PPSCNTR` points and an anchor); until then it waits, in order (at most 100 000
/// pulses; beyond that the oldest are dropped and counted).
///
/// Timed pulses leave in UTC order across nodes, whatever order the nodes' links
/// delivered them in: a pulse is held ([`NodeMerge`]) until every FEDM node heard
/// from has shown a later time (a pulse, or the sync of its once-a-second
/// `NC_PULSES`), however far behind in data time, so a fast replay or a stalled link
/// does not make one node's pulses late for the shower filter. The nodes of
/// [`PulseClock::expect_nodes`] are waited for from the start. A node that has sent
/// nothing for [`NODE_SILENCE`] while the clock had nothing else to read is not
/// waited for until it is heard again (so pulses are held at most that long past a
/// node that died); at most 100 000 pulses are held (beyond that the oldest goes on
/// early). At the end of the input the rest go on, in order.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`NodeUartLine`] | parsed UART lines of every node |
/// | `outbox` | out | [`TimedPulse`] | pulses with UTC times |
/// | `control` / `signal` | | `Control` | lifecycle |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use components::cosmici::timing::PulseClock;
/// use components::cosmici::{NodeUartLine, UartLine};
///
/// let mut h = axon::testing::Harness::new(PulseClock::new(0, Default::default()));
/// for line in ["PPSCNTR,10,0", "PPSCNTR,11,750000000",
///              "GPRMC,000000.000,A,0,N,0,W,0,0,010124,,", "CON_PULSE,1,0,1,1,500,1,(0,3)"] {
///     let node = if line.starts_with("CON") { 1 } else { 0 };
///     h.send(NodeUartLine { node, line: UartLine::parse(line).unwrap() }).await;
/// }
/// let timed = h.recv().await.unwrap();
/// // Sync 1 is 2^18 counts (349 525 ns) after PPS 10, the second before 00:00:00;
/// // the pulse is 500 cycles (1 µs) later.
/// assert_eq!(timed.utc.subsec_nanos(), 350_525);
/// # }
/// ```
#[derive(Debug)]
pub struct PulseClock {
    ctu: u32,
    config: TimeChainConfig,
    stats: ClockStats,
    expected: Vec<u32>,
    progress: Option<ChainProgress>,
}

impl PulseClock {
    /// A clock whose CTU is node `ctu`, with time-chain settings `config`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChainConfig;
    /// use components::cosmici::timing::PulseClock;
    ///
    /// let clock = PulseClock::new(0, TimeChainConfig { window: 8, ..Default::default() });
    /// assert_eq!(clock.stats().timed(), 0);
    /// ```
    pub fn new(ctu: u32, config: TimeChainConfig) -> Self {
        Self {
            ctu,
            config,
            stats: ClockStats::default(),
            expected: Vec::new(),
            progress: None,
        }
    }

    /// Waits for these FEDM nodes' pulses from the start (the layout's nodes), not
    /// only once they have been heard from: at the start of a fast replay one node's
    /// link may be read seconds of data ahead of another's first line.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::timing::PulseClock;
    ///
    /// let clock = PulseClock::new(0, Default::default()).expect_nodes([1, 2]);
    /// assert_eq!(clock.stats().timed(), 0);
    /// ```
    pub fn expect_nodes(mut self, nodes: impl IntoIterator<Item = u32>) -> Self {
        self.expected.extend(nodes);
        self
    }

    /// Records in `progress`, each time it has released what it could, how many pulses
    /// it has released and the UTC before which nothing more will leave it (its
    /// merge's [frontier](NodeMerge::frontier)): the source of a station's progress
    /// watermark ([`ChainProgress`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::progress::ChainProgress;
    /// use components::cosmici::timing::PulseClock;
    /// use components::cosmici::{NodeUartLine, UartLine};
    ///
    /// let progress = ChainProgress::default();
    /// let clock = PulseClock::new(0, Default::default()).expect_nodes([1]).progress(progress.clone());
    /// let mut h = axon::testing::Harness::new(clock);
    /// for (node, line) in [
    ///     (0, "PPSCNTR,10,0"),
    ///     (0, "PPSCNTR,11,750000000"),
    ///     (0, "GPRMC,000000.000,A,0,N,0,W,0,0,010124,,"),
    ///     (1, "NC_PULSES,3,1500,1500,0,0,0"), // node 1 is at sync 3, and sent no pulse
    /// ] {
    ///     h.send(NodeUartLine { node, line: UartLine::parse(line).unwrap() }).await;
    /// }
    /// h.finish().await;
    /// h.exit().await;
    /// // Sync 3 is 3·2^18 counts (1 048 576 ns) after PPS 10, the second before midnight.
    /// let w = progress.watermark().expect("a watermark");
    /// assert_eq!(w.subsec_nanos(), 1_048_576);
    /// # }
    /// ```
    pub fn progress(mut self, progress: ChainProgress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Its counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::timing::PulseClock;
    ///
    /// let clock = PulseClock::new(0, Default::default());
    /// // The handle shares its counters with the clock, even after it is moved away.
    /// let stats = clock.stats();
    /// assert_eq!((stats.timed(), stats.dropped(), stats.refused_pps()), (0, 0, 0));
    /// ```
    pub fn stats(&self) -> ClockStats {
        self.stats.clone()
    }
}

struct Chains {
    template: TimeChain,
    fedm: BTreeMap<u32, TimeChain>,
    levels: BTreeMap<u32, Vec<f64>>,
    last_pps: Option<u32>,
}

impl Chains {
    fn chain(&mut self, node: u32) -> &mut TimeChain {
        let template = &self.template;
        self.fedm.entry(node).or_insert_with(|| template.clone())
    }

    fn all(&mut self) -> impl Iterator<Item = &mut TimeChain> {
        std::iter::once(&mut self.template).chain(self.fedm.values_mut())
    }

    fn time(&mut self, node: u32, pulse: &ConPulse) -> Option<TimedPulse> {
        let chain = self.chain(node);
        let utc = chain.pulse_utc(pulse).ok()?;
        let clock_period_ns = 1e9 / chain.fedm_frequency_hz();
        Some(TimedPulse {
            node,
            pulse: pulse.clone(),
            utc,
            levels: self.levels.get(&node).cloned().unwrap_or_default(),
            clock_period_ns,
        })
    }
}

impl Component for PulseClock {
    type In = NodeUartLine;
    type Out = TimedPulse;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "parsed UART lines of every node")?;
        s.describe("outbox", "pulses with UTC times")
    }

    async fn run(self, mut ctx: Context<NodeUartLine, TimedPulse>) -> Result<(), BoxError> {
        let mut chains = Chains {
            template: TimeChain::new(self.config.clone()),
            fedm: BTreeMap::new(),
            levels: BTreeMap::new(),
            last_pps: None,
        };
        let mut waiting: VecDeque<(u32, ConPulse)> = VecDeque::new();
        let mut merge = NodeMerge::new(MAX_HELD);
        // When each FEDM node was last heard from (wall time).
        let mut heard: BTreeMap<u32, Instant> = BTreeMap::new();
        for node in &self.expected {
            merge.expect(*node);
            heard.insert(*node, Instant::now());
        }
        let [timed, dropped, refused] = &*self.stats.inner;
        let mut released = 0u64;
        let publish = |released: u64, merge: &NodeMerge<TimedPulse>| {
            if let Some(p) = &self.progress {
                p.clock_released(released, merge.frontier());
            }
        };
        loop {
            // Only when the inbox is empty (biased) and pulses wait: nodes silent too
            // long stop being waited for.
            let check = heard.values().min().map(|t| *t + NODE_SILENCE);
            let next = tokio::select! {
                biased;
                next = ctx.recv() => next,
                () = sleep_until_some(check), if merge.held() > 0 => {
                    let now = Instant::now();
                    heard.retain(|node, at| {
                        let silent = now.duration_since(*at) >= NODE_SILENCE;
                        if silent {
                            tracing::debug!(node, "FEDM node silent; its pulses are no longer waited for");
                            merge.silence(*node);
                        }
                        !silent
                    });
                    while let Some(t) = merge.pop_ready() {
                        ctx.send(t).await?;
                        released += 1;
                    }
                    publish(released, &merge);
                    continue;
                }
            };
            let Some(NodeUartLine { node, line }) = next else {
                break;
            };
            if node != self.ctu {
                merge.expect(node);
                heard.insert(node, Instant::now());
            }
            let mut try_waiting = false;
            match &line {
                UartLine::PpsCntr { pps_num, fast_cnt } if node == self.ctu => {
                    let mut ok = true;
                    for chain in chains.all() {
                        ok &= chain.ingest_pps(*pps_num, *fast_cnt).is_ok();
                    }
                    if ok {
                        chains.last_pps = Some(*pps_num);
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("PPSCNTR {pps_num},{fast_cnt} refused by the counter fit");
                    }
                    try_waiting = true;
                }
                UartLine::Gps(sentence)
                    if node == self.ctu && sentence.sentence_id() == "GPRMC" =>
                {
                    if let (
                        Ok(Rmc {
                            valid: true,
                            utc: Some(utc),
                        }),
                        Some(pps),
                    ) = (Rmc::from_sentence(sentence), chains.last_pps)
                    {
                        let second = utc.nearest_second();
                        for chain in chains.all() {
                            if let Some(shift) = chain.anchor(pps, second) {
                                tracing::warn!("UTC anchor moved by {shift} s at PPS {pps}");
                            }
                        }
                        try_waiting = true;
                    }
                }
                UartLine::DacLevels(dac) => {
                    chains.levels.insert(node, usable_levels(dac, 5));
                }
                UartLine::NcPulses { sync, pll, .. } | UartLine::FifoFull { sync, pll, .. } => {
                    let chain = chains.chain(node);
                    chain.observe_sync(*sync, *pll);
                    // The node has nothing left to send before this sync.
                    if let Ok(utc) = chain.utc(*sync, 0) {
                        merge.advance(node, utc);
                    }
                }
                UartLine::ConPulse(pulse) => {
                    chains.chain(node).observe_sync(pulse.sync, pulse.pll);
                    if waiting.is_empty()
                        && let Some(t) = chains.time(node, pulse)
                    {
                        timed.fetch_add(1, Ordering::Relaxed);
                        merge.push(node, t.utc, t);
                    } else {
                        if waiting.len() >= MAX_WAITING {
                            waiting.pop_front();
                            dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        waiting.push_back((node, pulse.clone()));
                        try_waiting = true;
                    }
                }
                _ => {}
            }
            if try_waiting {
                while let Some((node, pulse)) = waiting.front() {
                    let Some(t) = chains.time(*node, pulse) else {
                        break;
                    };
                    waiting.pop_front();
                    timed.fetch_add(1, Ordering::Relaxed);
                    merge.push(t.node, t.utc, t);
                }
            }
            while let Some(t) = merge.pop_ready() {
                ctx.send(t).await?;
                released += 1;
            }
            publish(released, &merge);
        }
        while let Some(t) = merge.pop_any() {
            ctx.send(t).await?;
        }
        if !waiting.is_empty() {
            dropped.fetch_add(waiting.len() as u64, Ordering::Relaxed);
            tracing::warn!(
                "{} pulses never timed (no PPS fit or UTC anchor)",
                waiting.len()
            );
        }
        Ok(())
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
