//! [`UartParser`]: UART lines from the bridges into typed messages on named outboxes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axon::{BoxError, Component, Context, LinkError, Outbox, Setup};
use tokio::time::{Duration, Instant};

use super::lines::{NodeLine, NodeNotice, NodeUartLine};
use super::main_server::NODE_EVENTS_SERVICE;
use super::node::NodeEvent;
use super::wire::error::UartError;
use super::wire::pulse::ConPulse;
use super::wire::uart::UartLine;

/// Service name of a [`UartParser`]'s `inbox`, where UART bridges send lines.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use components::cosmici::uart_component::{UART_LINES_SERVICE, UartParser};
/// use components::cosmici::NodeLine;
///
/// let h = axon::testing::Harness::new(UartParser::new(Default::default()));
/// assert!(h.runtime().service::<NodeLine>(UART_LINES_SERVICE).is_ok());
/// # }
/// ```
pub const UART_LINES_SERVICE: &str = "cosmici.uart_lines";

/// How often at most a node's UART activity is reported to the node model.
const HEARD_EVERY: Duration = Duration::from_secs(1);

/// Counters of a [`UartParser`], readable while it runs.
///
/// # Examples
///
/// ```
/// let stats = components::cosmici::uart_component::UartStats::default();
/// assert_eq!(stats.bad_checksums(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct UartStats {
    inner: Arc<UartCounters>,
}

#[derive(Debug, Default)]
struct UartCounters {
    lines: AtomicU64,
    parsed: AtomicU64,
    bad_checksums: AtomicU64,
    malformed: AtomicU64,
    pulses: AtomicU64,
}

impl UartStats {
    /// Lines received.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::uart_component::{UartParser, UartStats};
    /// use components::cosmici::{LinkKind, NodeLine};
    ///
    /// let stats = UartStats::default();
    /// let mut h = axon::testing::Harness::new(UartParser::new(stats.clone()));
    /// for text in ["", "HOST_READY"] {
    ///     h.send(NodeLine { node: 0, link: LinkKind::Uart, line: text.into() }).await;
    /// }
    /// h.recv().await.unwrap();
    /// assert_eq!(stats.lines(), 2); // blank lines count too
    /// # }
    /// ```
    pub fn lines(&self) -> u64 {
        self.inner.lines.load(Ordering::Relaxed)
    }
    /// Lines parsed into a [`UartLine`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::uart_component::{UartParser, UartStats};
    /// use components::cosmici::{LinkKind, NodeLine};
    ///
    /// let stats = UartStats::default();
    /// let mut h = axon::testing::Harness::new(UartParser::new(stats.clone()));
    /// h.send(NodeLine { node: 0, link: LinkKind::Uart, line: "PPSCNTR,1,0".into() }).await;
    /// h.recv().await.unwrap();
    /// assert_eq!(stats.parsed(), 1);
    /// # }
    /// ```
    pub fn parsed(&self) -> u64 {
        self.inner.parsed.load(Ordering::Relaxed)
    }
    /// NMEA-framed lines dropped for a bad checksum.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::uart_component::{UartParser, UartStats};
    /// use components::cosmici::{LinkKind, NodeLine};
    ///
    /// let stats = UartStats::default();
    /// let mut h = axon::testing::Harness::new(UartParser::new(stats.clone()));
    /// h.send(NodeLine { node: 0, link: LinkKind::Uart, line: "$HOST_READY*00".into() }).await;
    /// h.finish().await;
    /// assert_eq!(h.recv().await, None);
    /// assert_eq!((stats.bad_checksums(), stats.malformed()), (1, 0));
    /// # }
    /// ```
    pub fn bad_checksums(&self) -> u64 {
        self.inner.bad_checksums.load(Ordering::Relaxed)
    }
    /// Other lines that did not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::uart_component::{UartParser, UartStats};
    /// use components::cosmici::{LinkKind, NodeLine};
    ///
    /// let stats = UartStats::default();
    /// let mut h = axon::testing::Harness::new(UartParser::new(stats.clone()));
    /// h.send(NodeLine { node: 0, link: LinkKind::Uart, line: "PPSCNTR,x,0".into() }).await;
    /// h.finish().await;
    /// assert_eq!(h.recv().await, None);
    /// assert_eq!((stats.malformed(), stats.parsed()), (1, 0));
    /// # }
    /// ```
    pub fn malformed(&self) -> u64 {
        self.inner.malformed.load(Ordering::Relaxed)
    }
    /// `CON_PULSE` lines parsed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::uart_component::{UartParser, UartStats};
    /// use components::cosmici::{LinkKind, NodeLine};
    ///
    /// let stats = UartStats::default();
    /// let mut h = axon::testing::Harness::new(UartParser::new(stats.clone()));
    /// let line = "CON_PULSE,1,0,1,1,500,1,(0,3)".into();
    /// h.send(NodeLine { node: 1, link: LinkKind::Uart, line }).await;
    /// h.recv().await.unwrap();
    /// assert_eq!(stats.pulses(), 1);
    /// # }
    /// ```
    pub fn pulses(&self) -> u64 {
        self.inner.pulses.load(Ordering::Relaxed)
    }
}

/// A `CON_PULSE` from a node.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use components::cosmici::uart_component::{NodePulse, UartParser};
/// use components::cosmici::{LinkKind, NodeLine};
///
/// let mut h = axon::testing::Harness::new(UartParser::new(Default::default()));
/// let mut pulses = h.outbox_receiver::<NodePulse>("pulses").unwrap();
/// let line = "CON_PULSE,1,0,1,1,500,1,(0,3)".into();
/// h.send(NodeLine { node: 4, link: LinkKind::Uart, line }).await;
/// let NodePulse { node, pulse } = pulses.recv().await.unwrap();
/// assert_eq!((node, pulse.start_pll), (4, 500));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePulse {
    /// The FEDM node.
    pub node: u32,
    /// The pulse.
    pub pulse: ConPulse,
}

/// Parses bridged UART lines into [`UartLine`]s.
///
/// # What it does
///
/// Each [`NodeLine`] is unframed (a `$…*hh` line with a bad checksum is dropped and
/// counted) and parsed. A line that does not parse is counted and logged (warn) with
/// its node and text; nothing panics and nothing else happens. Every parsed line goes
/// to `outbox`, and also to the named outbox of its kind. Registers its `inbox` as
/// [`UART_LINES_SERVICE`] and, when a [`SensorNet`](super::main_server::SensorNet)
/// is registered, tells it (at most once a second per node) that the node was heard.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`NodeLine`] | lines from the UART bridges |
/// | `outbox` | out | [`NodeUartLine`] | every parsed line |
/// | `host` | out | [`NodeUartLine`] | `HOST_STARTING`, `HOST_READY`, `ACK`, `ERR` |
/// | `pps` | out | [`NodeUartLine`] | `PPSCNTR` |
/// | `gps` | out | [`NodeUartLine`] | GPS sentences |
/// | `fedm` | out | [`NodeUartLine`] | `DAC_LEVELS`, `NC_PULSES`, `FIFO_FULL`, `LOST_PULSES` |
/// | `pulses` | out | [`NodePulse`] | `CON_PULSE` |
/// | `heard` | out | [`NodeNotice`] | to the node model |
/// | `control` / `signal` | | `Control` | lifecycle |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use components::cosmici::uart_component::{UartParser, UartStats};
/// use components::cosmici::{LinkKind, NodeLine, UartLine};
///
/// let stats = UartStats::default();
/// let mut h = axon::testing::Harness::new(UartParser::new(stats.clone()));
/// h.send(NodeLine { node: 0, link: LinkKind::Uart, line: "$HOST_READY*15".into() }).await;
/// h.send(NodeLine { node: 0, link: LinkKind::Uart, line: "$HOST_READY*14".into() }).await;
/// assert_eq!(h.recv().await.unwrap().line, UartLine::HostReady);
/// assert_eq!(stats.bad_checksums(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct UartParser {
    stats: UartStats,
    register: bool,
}

impl UartParser {
    /// A parser counting into `stats`, registered as [`UART_LINES_SERVICE`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::uart_component::{UartParser, UartStats};
    /// use components::cosmici::{LinkKind, NodeLine, UartLine};
    ///
    /// let stats = UartStats::default();
    /// let mut h = axon::testing::Harness::new(UartParser::new(stats.clone()));
    /// h.send(NodeLine { node: 2, link: LinkKind::Uart, line: "ACK,START".into() }).await;
    /// let parsed = h.recv().await.unwrap();
    /// assert_eq!((parsed.node, parsed.line), (2, UartLine::Ack(vec!["START".into()])));
    /// assert_eq!(stats.parsed(), 1);
    /// # }
    /// ```
    pub fn new(stats: UartStats) -> Self {
        Self {
            stats,
            register: true,
        }
    }

    /// Do not register as [`UART_LINES_SERVICE`] (several parsers in one runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::NodeLine;
    /// use components::cosmici::uart_component::{UART_LINES_SERVICE, UartParser};
    ///
    /// let h = axon::testing::Harness::new(UartParser::new(Default::default()).unregistered());
    /// assert!(h.runtime().service::<NodeLine>(UART_LINES_SERVICE).is_err());
    /// # }
    /// ```
    pub fn unregistered(mut self) -> Self {
        self.register = false;
        self
    }
}

impl Component for UartParser {
    type In = NodeLine;
    type Out = NodeUartLine;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "lines from the UART bridges")?;
        s.describe("outbox", "every parsed line")?;
        for (name, what) in [
            ("host", "HOST_STARTING, HOST_READY, ACK, ERR"),
            ("pps", "PPSCNTR"),
            ("gps", "GPS sentences"),
            ("fedm", "DAC_LEVELS, NC_PULSES, FIFO_FULL, LOST_PULSES"),
        ] {
            s.outbox::<NodeUartLine>(name, what)?;
        }
        s.outbox::<NodePulse>("pulses", "CON_PULSE")?;
        let heard = s.outbox::<NodeNotice>("heard", "nodes heard, to the node model")?;
        let rt = s.runtime().clone();
        if let Ok(net) = rt.service::<NodeNotice>(NODE_EVENTS_SERVICE) {
            s.link(heard, net)?;
        }
        if self.register {
            let inbox = s.own::<NodeLine>("inbox")?;
            rt.register_service(UART_LINES_SERVICE, inbox)?;
        }
        Ok(())
    }

    async fn run(self, mut ctx: Context<NodeLine, NodeUartLine>) -> Result<(), BoxError> {
        let mut host: Outbox<NodeUartLine> = ctx.outbox_named("host")?;
        let mut pps: Outbox<NodeUartLine> = ctx.outbox_named("pps")?;
        let mut gps: Outbox<NodeUartLine> = ctx.outbox_named("gps")?;
        let mut fedm: Outbox<NodeUartLine> = ctx.outbox_named("fedm")?;
        let mut pulses: Outbox<NodePulse> = ctx.outbox_named("pulses")?;
        let mut heard: Outbox<NodeNotice> = ctx.outbox_named("heard")?;
        let mut last_heard: HashMap<u32, Instant> = HashMap::new();
        let c = &self.stats.inner;
        while let Some(NodeLine { node, line, .. }) = ctx.recv().await {
            c.lines.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            if last_heard
                .get(&node)
                .is_none_or(|t| now.duration_since(*t) >= HEARD_EVERY)
            {
                last_heard.insert(node, now);
                let _ = heard.try_send(NodeNotice {
                    node,
                    event: NodeEvent::Heard,
                });
            }
            if line.trim().is_empty() {
                continue;
            }
            let parsed = match UartLine::parse_line(&line) {
                Ok(parsed) => parsed,
                Err(UartError::Nmea(e)) if e.is_bad_checksum() => {
                    c.bad_checksums.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(node, "node {node}: bad checksum, line dropped: {line:?}");
                    continue;
                }
                Err(e) => {
                    c.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(node, "node {node}: malformed UART line {line:?}: {e}");
                    continue;
                }
            };
            c.parsed.fetch_add(1, Ordering::Relaxed);
            let typed = NodeUartLine { node, line: parsed };
            // Named outboxes nobody linked are fine: each is for whoever wants it.
            match &typed.line {
                UartLine::HostStarting { .. }
                | UartLine::HostReady
                | UartLine::Ack(_)
                | UartLine::Err { .. } => {
                    if let UartLine::Err { kind, data } = &typed.line {
                        tracing::warn!(node, "node {node} reports ERR {kind}: {data}");
                    }
                    let _ = host.send(typed.clone()).await;
                }
                UartLine::PpsCntr { .. } => {
                    let _ = pps.send(typed.clone()).await;
                }
                UartLine::Gps(_) => {
                    let _ = gps.send(typed.clone()).await;
                }
                UartLine::DacLevels(_)
                | UartLine::NcPulses { .. }
                | UartLine::FifoFull { .. }
                | UartLine::LostPulses { .. } => {
                    if let UartLine::LostPulses { ch, n } = &typed.line {
                        tracing::warn!(node, "node {node} lost {n} pulses on channel {ch}");
                    }
                    let _ = fedm.send(typed.clone()).await;
                }
                UartLine::ConPulse(pulse) => {
                    c.pulses.fetch_add(1, Ordering::Relaxed);
                    if let Some(m) = pulse.level_count_mismatch() {
                        tracing::debug!(
                            node,
                            "node {node}: CON_PULSE states {} levels, lists {}",
                            m.stated,
                            m.actual
                        );
                    }
                    let _ = pulses
                        .send(NodePulse {
                            node,
                            pulse: pulse.clone(),
                        })
                        .await;
                }
            }
            if ctx.send(typed).await.is_err() {
                tracing::debug!("UART parser outbox unlinked");
            }
        }
        Ok(())
    }
}
