//! Bridges: on a node's first `POWERED_ON`, its AUXIO and UART servers, each with an
//! operator terminal port, one timestamped transcript per node, link and run
//! ([`super::transcript`]) and the log.
//!
//! ```text
//!                         Backplane node<N>.<link>.up ──► OperatorTerminal ──► operator
//!  node ──► BridgeLink ──┤                                     │ typed lines
//!       ◄──             ├─► transcript file, log, NodeLine     ▼
//!                         Backplane node<N>.<link>.down ◄──────┘
//! ```
//!
//! The [`BridgeManager`] makes, once per node, for each [`LinkKind`]: two Backplanes
//! (`up`: what the node sends; `down`: what operators type), a node server on
//! `base + id` whose handler is a [`BridgeLink`], and a terminal server whose
//! handler is an [`OperatorTerminal`]. Operators subscribe to `up` with
//! [`Policy::DropOldest`], so a slow or vanishing operator never holds up the node,
//! and joining or leaving changes nothing on the node's side.
//!
//! # Ports
//!
//! Node N's AUXIO bridge listens on [`BridgeConfig::auxio_base`] + N and its UART bridge
//! on [`BridgeConfig::uart_base`] + N (the protocol's 52737 and 63766), or, with
//! [`BridgeConfig::bridge_base`] B, on B + 2N and B + 2N + 1; its operator terminals on
//! [`BridgeConfig::terminal_base`] + 2N and + 2N + 1 (default 61000, above Linux's
//! ephemeral range 32768–60999, so an outgoing connection cannot hold one). A base of 0
//! means free ports; the bound ports are logged and kept in the [`BridgeDirectory`].
//! Everything binds [`BridgeConfig::host`].
//!
//! A bridge that cannot bind is logged at ERROR, reported as [`BridgeEvent::Failed`] and
//! listed by [`BridgeDirectory::failures`] (the status line shows it), and retried on
//! the node's next `POWERED_ON` and every [`BridgeConfig::retry_every`].
//!
//! # One link per node
//!
//! Each node's AUXIO and UART bridge serves one connection at a time. A second
//! connection is refused (closed at once) while the first is live; if the first has
//! been silent for [`BridgeConfig::takeover_after`], the second replaces it and the first
//! is closed. Both are logged at warn and marked in the transcript.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axon::Request;
use axon::{
    BoxError, BoxRef, Component, ComponentId, Context, Control, Handle, LinkError, Outbox, Policy,
    Runtime, Setup,
};
use bytes::Bytes;
use chassis::backplane::{Backplane, Subscription, subscriptions_service};
use chassis::tcp::{ConnectionInfo, ServerConfig, ServerCore};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::watch;
use tokio::time::Instant;

use super::lines::{LineBuffer, LinkKind, NodeLine};
use super::main_server::NetEvent;
use super::transcript::{Transcript, TranscriptLimits};

/// Longest bridged line kept whole in transcripts and [`NodeLine`]s, bytes.
const MAX_BRIDGE_LINE: usize = 64 * 1024;

/// On shutdown, how long the manager waits while its links deliver nothing before it
/// stops what is left (a link still delivering its node's last lines is waited for).
const STALL_LIMIT: Duration = Duration::from_secs(5);

/// On shutdown, the longest the manager waits for its links however busy they are
/// (a node that never stops sending cannot hold the server up for ever).
const TEARDOWN_MAX: Duration = Duration::from_secs(120);

/// A bridge server's own drain deadline: longer than [`TEARDOWN_MAX`], so a server
/// never cuts a link that is still delivering; the manager decides (progress-based).
const DRAIN_DEADLINE: Duration = Duration::from_secs(600);

/// How long stopped parts get to report their end.
const REAP_LIMIT: Duration = Duration::from_secs(1);

/// The default operator terminal port base: above Linux's ephemeral range.
pub const DEFAULT_TERMINAL_BASE: u16 = 61000;

/// The Backplane a node's stream is published on (`up`) or operator input goes to
/// (`down`).
///
/// # Examples
///
/// ```
/// use components::cosmici::{LinkKind, bridge::backplane_name};
/// assert_eq!(backplane_name(1, LinkKind::Uart, "down"), "cosmici.node1.uart.down");
/// ```
pub fn backplane_name(node: u32, link: LinkKind, direction: &str) -> String {
    format!("cosmici.node{node}.{link}.{direction}")
}

/// Settings of a [`BridgeManager`].
///
/// # Examples
///
/// ```
/// use components::cosmici::LinkKind;
/// use components::cosmici::bridge::BridgeConfig;
///
/// let config = BridgeConfig {
///     uart_lines_service: Some("cosmici.uart_lines".into()),
///     ..Default::default()
/// };
/// assert_eq!(config.node_addr(2, LinkKind::Auxio).unwrap().to_string(), "127.0.0.1:52739");
/// assert!(config.transcript_dir.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Address the bridge and terminal servers bind to (the sensornet binds its
    /// `--listen` host).
    pub host: IpAddr,
    /// AUXIO port base (node id added); 0 = a free port for every node.
    pub auxio_base: u16,
    /// UART port base (node id added); 0 = a free port for every node.
    pub uart_base: u16,
    /// If set, overrides both bases: AUXIO of node N at `base + 2N`, UART at
    /// `base + 2N + 1`; 0 = free ports.
    pub bridge_base: Option<u16>,
    /// Terminal port base: AUXIO terminal of node N at `base + 2N`, UART terminal at
    /// `base + 2N + 1`; 0 = free ports. Default [`DEFAULT_TERMINAL_BASE`].
    pub terminal_base: u16,
    /// Directory for transcripts; `None` = no transcripts.
    pub transcript_dir: Option<PathBuf>,
    /// Size cap and rotation of each transcript.
    pub transcript_limits: TranscriptLimits,
    /// The run's name in transcript file names (`node<N>-<link>-<run>.log`).
    pub run: String,
    /// Service the UART [`NodeLine`]s go to, if registered.
    pub uart_lines_service: Option<String>,
    /// Silence after which a node's link gives way to a second connection
    /// (default 30 s); before that, a second connection is refused.
    pub takeover_after: Duration,
    /// How often bridges that failed to bind are retried (default 5 s).
    pub retry_every: Duration,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            auxio_base: LinkKind::Auxio.default_base(),
            uart_base: LinkKind::Uart.default_base(),
            bridge_base: None,
            terminal_base: DEFAULT_TERMINAL_BASE,
            transcript_dir: None,
            transcript_limits: TranscriptLimits::default(),
            run: "run".to_owned(),
            uart_lines_service: None,
            takeover_after: Duration::from_secs(30),
            retry_every: Duration::from_secs(5),
        }
    }
}

impl BridgeConfig {
    /// `base + offset`, or 0 (any free port) when the base is 0; `None` past 65535.
    fn port(base: u16, offset: u32) -> Option<u16> {
        if base == 0 {
            Some(0)
        } else {
            u32::from(base)
                .checked_add(offset)
                .and_then(|p| u16::try_from(p).ok())
        }
    }

    /// The node-side address of `node`'s `link` server (port 0 = any free port), or
    /// `None` if base + node id is past the last port.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::bridge::BridgeConfig;
    ///
    /// let config = BridgeConfig::default();
    /// assert_eq!(config.node_addr(3, LinkKind::Uart).unwrap().port(), 63769);
    /// assert_eq!(config.node_addr(2000, LinkKind::Uart), None);
    /// let free = BridgeConfig { uart_base: 0, ..Default::default() };
    /// assert_eq!(free.node_addr(3, LinkKind::Uart).unwrap().port(), 0);
    /// ```
    pub fn node_addr(&self, node: u32, link: LinkKind) -> Option<SocketAddr> {
        let port = match (self.bridge_base, link) {
            (Some(base), _) => Self::port(base, Self::interleaved(node, link)?)?,
            (None, LinkKind::Auxio) => Self::port(self.auxio_base, node)?,
            (None, LinkKind::Uart) => Self::port(self.uart_base, node)?,
        };
        Some(SocketAddr::new(self.host, port))
    }

    /// `2N` for AUXIO, `2N + 1` for UART.
    fn interleaved(node: u32, link: LinkKind) -> Option<u32> {
        node.checked_mul(2)?
            .checked_add(u32::from(link == LinkKind::Uart))
    }

    /// The operator terminal address of `node`'s `link` (port 0 = any free port), or
    /// `None` if it would be past the last port.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::bridge::BridgeConfig;
    ///
    /// let config = BridgeConfig::default();
    /// assert_eq!(config.terminal_addr(3, LinkKind::Auxio).unwrap().port(), 61006);
    /// assert_eq!(config.terminal_addr(3, LinkKind::Uart).unwrap().port(), 61007);
    /// assert_eq!(config.terminal_addr(20_000, LinkKind::Auxio), None);
    /// ```
    pub fn terminal_addr(&self, node: u32, link: LinkKind) -> Option<SocketAddr> {
        Some(SocketAddr::new(
            self.host,
            Self::port(self.terminal_base, Self::interleaved(node, link)?)?,
        ))
    }
}

/// The bound addresses of one bridged link.
///
/// # Examples
///
/// ```
/// use components::cosmici::LinkKind;
/// use components::cosmici::bridge::{BridgeAddrs, BridgeConfig};
///
/// let config = BridgeConfig::default();
/// let addrs = BridgeAddrs {
///     node: config.node_addr(1, LinkKind::Uart).unwrap(),
///     terminal: config.terminal_addr(1, LinkKind::Uart).unwrap(),
/// };
/// assert_eq!((addrs.node.port(), addrs.terminal.port()), (63767, 61003));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeAddrs {
    /// Where the node connects.
    pub node: SocketAddr,
    /// Where operators connect.
    pub terminal: SocketAddr,
}

/// What a [`BridgeManager`] reports.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() {
/// use components::cosmici::LinkKind;
/// use components::cosmici::bridge::{BridgeConfig, BridgeEvent, BridgeManager};
/// use components::cosmici::main_server::NetEvent;
///
/// let config = BridgeConfig { auxio_base: 0, uart_base: 0, terminal_base: 0, ..Default::default() };
/// let mut h = axon::testing::Harness::new(BridgeManager::new(config));
/// h.send(NetEvent::PoweredOn { node: 1, ip: "127.0.0.1".parse().unwrap(), first: true }).await;
/// for _ in 0..2 {
///     match h.recv().await {
///         Some(BridgeEvent::Opened { node, link, addrs }) => {
///             assert_eq!(node, 1);
///             println!("node 1 {link}: node port {}, terminal port {}", addrs.node.port(), addrs.terminal.port());
///         }
///         Some(BridgeEvent::Failed { link, error, .. }) => panic!("{link} bridge failed: {error}"),
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// # let _ = LinkKind::Uart;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// A node's link is bridged: its servers are listening.
    Opened {
        /// The node.
        node: u32,
        /// The link.
        link: LinkKind,
        /// The bound addresses.
        addrs: BridgeAddrs,
    },
    /// A bridge could not be made (a port in use, say).
    Failed {
        /// The node.
        node: u32,
        /// The link.
        link: LinkKind,
        /// Why.
        error: String,
    },
}

/// A live map of the bridges made so far, for clients that must find a node's
/// ports (the in-process simulator with free ports, tests).
///
/// # Examples
///
/// ```
/// let dir = components::cosmici::bridge::BridgeDirectory::default();
/// assert!(dir.get(1, components::cosmici::LinkKind::Uart).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct BridgeDirectory {
    tx: watch::Sender<Bridges>,
}

#[derive(Debug, Default)]
struct Bridges {
    open: BTreeMap<(u32, LinkKind), BridgeAddrs>,
    failed: BTreeMap<(u32, LinkKind), String>,
}

impl Default for BridgeDirectory {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(Bridges::default()),
        }
    }
}

impl BridgeDirectory {
    /// The addresses of `node`'s `link`, if bridged.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::bridge::{BridgeConfig, BridgeEvent, BridgeManager};
    /// use components::cosmici::main_server::NetEvent;
    ///
    /// let config = BridgeConfig { auxio_base: 0, uart_base: 0, terminal_base: 0, ..Default::default() };
    /// let manager = BridgeManager::new(config);
    /// let dir = manager.directory();
    /// let mut h = axon::testing::Harness::new(manager);
    /// h.send(NetEvent::PoweredOn { node: 1, ip: "127.0.0.1".parse().unwrap(), first: true }).await;
    /// let Some(BridgeEvent::Opened { link, addrs, .. }) = h.recv().await else { panic!() };
    /// assert_eq!(dir.get(1, link), Some(addrs));
    /// assert_eq!(dir.get(2, link), None);
    /// # let _ = LinkKind::Uart;
    /// # }
    /// ```
    pub fn get(&self, node: u32, link: LinkKind) -> Option<BridgeAddrs> {
        self.tx.borrow().open.get(&(node, link)).copied()
    }

    /// The bridges that could not be made and are not made yet, with the reason:
    /// `(node, link, error)`, by node.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = components::cosmici::bridge::BridgeDirectory::default();
    /// assert!(dir.failures().is_empty());
    /// ```
    pub fn failures(&self) -> Vec<(u32, LinkKind, String)> {
        self.tx
            .borrow()
            .failed
            .iter()
            .map(|(&(node, link), e)| (node, link, e.clone()))
            .collect()
    }

    /// Waits until `node`'s `link` is bridged.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::bridge::{BridgeConfig, BridgeManager};
    /// use components::cosmici::main_server::NetEvent;
    ///
    /// let config = BridgeConfig { auxio_base: 0, uart_base: 0, terminal_base: 0, ..Default::default() };
    /// let manager = BridgeManager::new(config);
    /// let dir = manager.directory();
    /// let mut h = axon::testing::Harness::new(manager);
    /// h.send(NetEvent::PoweredOn { node: 1, ip: "127.0.0.1".parse().unwrap(), first: true }).await;
    /// let addrs = dir.wait(1, LinkKind::Uart).await;
    /// assert_ne!(addrs.node.port(), 0); // the free port actually bound
    /// # }
    /// ```
    pub async fn wait(&self, node: u32, link: LinkKind) -> BridgeAddrs {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(a) = rx.borrow_and_update().open.get(&(node, link)) {
                return *a;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    fn insert(&self, node: u32, link: LinkKind, addrs: BridgeAddrs) {
        self.tx.send_modify(|m| {
            m.failed.remove(&(node, link));
            m.open.insert((node, link), addrs);
        });
    }

    fn fail(&self, node: u32, link: LinkKind, error: String) {
        self.tx.send_modify(|m| {
            m.failed.insert((node, link), error);
        });
    }
}

/// Makes each node's bridge servers on its first `POWERED_ON`, once, and tears them
/// down when it ends.
///
/// # What it does
///
/// For a [`NetEvent::PoweredOn`] of a node it has not bridged yet, for AUXIO and
/// UART: adds the `up` and `down` Backplanes ([`backplane_name`]), a node server at
/// [`BridgeConfig::node_addr`] with a [`BridgeLink`] per connection and a terminal
/// server at [`BridgeConfig::terminal_addr`] with an [`OperatorTerminal`] per
/// connection, all as its children. Logs `node N LINK bridge listening on ADDR` and
/// `… terminal listening on ADDR`, records the addresses in its
/// [`BridgeDirectory`] and reports [`BridgeEvent`]s. Other events are ignored.
///
/// On `Shutdown` or `ProducerFinished` it shuts its servers down (each drains its
/// connections: a UART link delivers every line its node sent before it hung up, at
/// the pace of the pipeline behind it), then the Backplanes, and waits for each
/// through its handle as long as the links deliver, at most 120 s; after 5 s without
/// progress it stops what is left and ends with an error naming it.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`NetEvent`] | from [`SensorNet`](super::main_server::SensorNet) |
/// | `control` | in | `Control` | `Shutdown` / `ProducerFinished`: tear down and end |
/// | `outbox` | out | [`BridgeEvent`] | bridges opened or failed |
/// | `signal` | out | `Control` | passed on when it ends |
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() {
/// use components::cosmici::bridge::{BridgeConfig, BridgeEvent, BridgeManager};
/// use components::cosmici::main_server::NetEvent;
///
/// let manager = BridgeManager::new(BridgeConfig { auxio_base: 0, uart_base: 0, terminal_base: 0, ..Default::default() });
/// let mut h = axon::testing::Harness::new(manager);
/// h.send(NetEvent::PoweredOn { node: 1, ip: "127.0.0.1".parse().unwrap(), first: true }).await;
/// assert!(matches!(h.recv().await, Some(BridgeEvent::Opened { node: 1, .. })));
/// # }
/// ```
#[derive(Debug)]
pub struct BridgeManager {
    config: BridgeConfig,
    directory: BridgeDirectory,
    /// Chunks and lines its links have handled: teardown waits while it moves.
    progress: Arc<AtomicU64>,
}

impl BridgeManager {
    /// A manager with `config`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::bridge::{BridgeConfig, BridgeManager};
    ///
    /// let manager = BridgeManager::new(BridgeConfig::default());
    /// // Nothing is bridged before the first `POWERED_ON`.
    /// assert!(manager.directory().get(0, LinkKind::Auxio).is_none());
    /// ```
    pub fn new(config: BridgeConfig) -> Self {
        Self {
            config,
            directory: BridgeDirectory::default(),
            progress: Arc::default(),
        }
    }

    /// The directory of the bridges it makes.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::bridge::{BridgeConfig, BridgeManager};
    ///
    /// let manager = BridgeManager::new(BridgeConfig::default());
    /// let dir = manager.directory();
    /// // The directory is shared: it sees what the manager bridges after it is spawned.
    /// assert!(dir.get(1, LinkKind::Uart).is_none());
    /// ```
    pub fn directory(&self) -> BridgeDirectory {
        self.directory.clone()
    }

    /// Binds `node`'s `link` servers, then adds its Backplanes and servers as
    /// children: all or nothing, so a failed attempt can be retried.
    async fn open(
        &self,
        ctx: &mut Context<NetEvent, BridgeEvent>,
        node: u32,
        link: LinkKind,
        parts: &mut Parts,
    ) -> Result<BridgeAddrs, String> {
        let up = backplane_name(node, link, "up");
        let down = backplane_name(node, link, "down");
        let out_of_range = || format!("node {node} {link}: its port would be past 65535");
        let node_addr = self.config.node_addr(node, link).ok_or_else(out_of_range)?;
        let terminal_addr = self
            .config
            .terminal_addr(node, link)
            .ok_or_else(out_of_range)?;
        let slot = Arc::new(LinkSlot::new(self.config.transcript_dir.as_ref().map(
            |dir| {
                Transcript::new(
                    dir.clone(),
                    node,
                    link,
                    &self.config.run,
                    self.config.transcript_limits,
                )
            },
        )));
        let link_config = LinkSettings {
            node,
            link,
            up: up.clone(),
            down: down.clone(),
            slot,
            progress: self.progress.clone(),
            takeover_after: self.config.takeover_after,
            lines_service: match link {
                LinkKind::Uart => self.config.uart_lines_service.clone(),
                LinkKind::Auxio => None,
            },
        };
        let server_config = |addr| {
            let mut config = ServerConfig::new(addr);
            config.drain_deadline = DRAIN_DEADLINE;
            config
        };
        // A bind error names the address already.
        let bind_err = |what: &str, e: chassis::tcp::BindError| format!("{what}{e}");
        let node_server =
            ServerCore::new(server_config(node_addr), move |info: &ConnectionInfo| {
                BridgeLink::new(*info, link_config.clone())
            })
            .map_err(|e| bind_err("", e))?;
        let (up_t, down_t) = (up.clone(), down.clone());
        let terminal_server = ServerCore::new(
            server_config(terminal_addr),
            move |info: &ConnectionInfo| {
                OperatorTerminal::new(*info, node, link, up_t.clone(), down_t.clone())
            },
        )
        .map_err(|e| bind_err("terminal: ", e))?;
        let addrs = BridgeAddrs {
            node: node_server.local_addr(),
            terminal: terminal_server.local_addr(),
        };
        for name in [&up, &down] {
            let p = ctx
                .add_child(Backplane::<Bytes>::new(name.clone()))
                .map_err(|e| e.to_string())?;
            parts.backplanes.push((name.clone(), p.start()));
        }
        for (what, server) in [
            ("bridge", node_server.into_dyn()),
            ("terminal", terminal_server.into_dyn()),
        ] {
            let p = ctx.add_child_dyn(server).map_err(|e| e.to_string())?;
            parts
                .servers
                .push((format!("node {node} {link} {what} server"), p.start()));
        }
        tracing::info!(
            node,
            "node {node} {link} bridge listening on {}",
            addrs.node
        );
        tracing::info!(
            node,
            "node {node} {link} terminal listening on {}",
            addrs.terminal
        );
        Ok(addrs)
    }

    /// Opens `node`'s links that are not open yet, and reports each outcome.
    async fn open_missing(
        &self,
        ctx: &mut Context<NetEvent, BridgeEvent>,
        node: u32,
        parts: &mut Parts,
    ) {
        for link in LinkKind::ALL {
            if parts.open.contains(&(node, link)) {
                continue;
            }
            let retry = parts.failed.contains(&(node, link));
            let report = match self.open(ctx, node, link, parts).await {
                Ok(addrs) => {
                    if retry {
                        tracing::info!(node, "node {node} {link} bridge made on retry");
                    }
                    parts.failed.remove(&(node, link));
                    parts.open.insert((node, link));
                    self.directory.insert(node, link, addrs);
                    BridgeEvent::Opened { node, link, addrs }
                }
                Err(error) => {
                    tracing::error!(
                        node,
                        "node {node} {link} bridge failed: {error} (retried on its next POWERED_ON and every {:?})",
                        self.config.retry_every
                    );
                    parts.failed.insert((node, link));
                    self.directory.fail(node, link, error.clone());
                    BridgeEvent::Failed { node, link, error }
                }
            };
            let _ = ctx.send(report).await;
        }
    }
}

/// What a [`BridgeManager`] has made.
#[derive(Default)]
struct Parts {
    open: BTreeSet<(u32, LinkKind)>,
    failed: BTreeSet<(u32, LinkKind)>,
    servers: Vec<(String, Handle)>,
    backplanes: Vec<(String, Handle)>,
}

/// Shuts `parts` down and waits for each to end: as long as `progress` moves (links
/// still delivering their nodes' last lines) up to [`TEARDOWN_MAX`], else for
/// [`STALL_LIMIT`]. Stops what is left then, and returns its names.
async fn stop_all(rt: &Runtime, parts: Vec<(String, Handle)>, progress: &AtomicU64) -> Vec<String> {
    for (_, h) in &parts {
        // A part that has ended already needs no telling.
        let _ = h.shutdown().await;
    }
    let mut left: BTreeMap<String, ComponentId> = parts
        .iter()
        .map(|(name, h)| (name.clone(), h.id()))
        .collect();
    let mut joins: FuturesUnordered<_> = parts
        .into_iter()
        .map(|(name, h)| async move { (name, h.join().await) })
        .collect();
    let started = Instant::now();
    let mut seen = progress.load(Ordering::Relaxed);
    loop {
        match tokio::time::timeout(STALL_LIMIT, joins.next()).await {
            Ok(Some((name, exit))) => {
                if !exit.is_clean() {
                    tracing::warn!("{name} ended: {exit}");
                }
                left.remove(&name);
            }
            Ok(None) => return Vec::new(),
            Err(_) => {
                let now = progress.load(Ordering::Relaxed);
                if now == seen || started.elapsed() >= TEARDOWN_MAX {
                    break;
                }
                seen = now;
            }
        }
    }
    let stalled: Vec<String> = left.keys().cloned().collect();
    tracing::error!(
        "bridge teardown: no progress for {STALL_LIMIT:?} (or past {TEARDOWN_MAX:?}); stopping {}",
        stalled.join(", ")
    );
    for &id in left.values() {
        rt.kill(id);
    }
    let _ = tokio::time::timeout(REAP_LIMIT, async { while joins.next().await.is_some() {} }).await;
    stalled
}

/// Boxing helper so both server types go through one path.
trait IntoDyn {
    fn into_dyn(self) -> Box<dyn axon::DynComponent>;
}

impl<C: Component> IntoDyn for C {
    fn into_dyn(self) -> Box<dyn axon::DynComponent> {
        Box::new(self)
    }
}

/// Why the bridge teardown did not finish.
#[derive(Debug, thiserror::Error)]
#[error("bridge teardown stalled (nothing delivered for {STALL_LIMIT:?}, or past {TEARDOWN_MAX:?}); stopped: {}", parts.join(", "))]
struct TeardownStalled {
    parts: Vec<String>,
}

impl Component for BridgeManager {
    type In = NetEvent;
    type Out = BridgeEvent;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "power-ons from SensorNet")?;
        s.describe("outbox", "bridges opened or failed")
    }

    async fn run(self, mut ctx: Context<NetEvent, BridgeEvent>) -> Result<(), BoxError> {
        let mut parts = Parts::default();
        let mut nodes = BTreeSet::new();
        let retry_every = self.config.retry_every.max(Duration::from_millis(10));
        let mut next_retry = Instant::now() + retry_every;
        loop {
            tokio::select! {
                event = ctx.recv() => {
                    let Some(event) = event else { break };
                    let NetEvent::PoweredOn { node, .. } = event else { continue };
                    nodes.insert(node);
                    // First power-on: make the bridges; later ones: retry what failed.
                    self.open_missing(&mut ctx, node, &mut parts).await;
                }
                () = tokio::time::sleep_until(next_retry), if !parts.failed.is_empty() => {
                    let failed: BTreeSet<u32> = parts.failed.iter().map(|&(n, _)| n).collect();
                    for node in failed {
                        self.open_missing(&mut ctx, node, &mut parts).await;
                    }
                    next_retry = Instant::now() + retry_every;
                }
            }
            if parts.failed.is_empty() {
                next_retry = Instant::now() + retry_every;
            }
        }
        // Servers first, so their connections finish while the Backplanes still exist.
        // Each part is joined through its own handle: no reliance on the order in
        // which child exits are reported.
        // A link still delivering its node's last lines (paced by the pipeline behind
        // it) is waited for: the wait is bounded by progress, not by a fixed time.
        let rt = ctx.runtime().clone();
        let servers = std::mem::take(&mut parts.servers);
        let mut stalled = stop_all(&rt, servers, &self.progress).await;
        let backplanes = std::mem::take(&mut parts.backplanes);
        stalled.extend(stop_all(&rt, backplanes, &self.progress).await);
        if !stalled.is_empty() {
            return Err(TeardownStalled { parts: stalled }.into());
        }
        tracing::info!("bridges torn down: {} nodes", nodes.len());
        Ok(())
    }
}

/// Who holds a node's link, and the link's transcript.
#[derive(Debug)]
struct LinkSlot {
    state: Mutex<SlotState>,
}

#[derive(Debug)]
struct SlotState {
    holder: Option<Holder>,
    transcript: Option<Transcript>,
}

#[derive(Debug, Clone, Copy)]
struct Holder {
    conn: ConnectionInfo,
    component: ComponentId,
    last_heard: Instant,
}

/// The outcome of [`LinkSlot::claim`].
enum Claim {
    Granted,
    Replaced(Holder),
    Refused(Holder),
}

impl LinkSlot {
    fn new(transcript: Option<Transcript>) -> Self {
        Self {
            state: Mutex::new(SlotState {
                holder: None,
                transcript,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Every update is one step: a panic elsewhere leaves the state consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connection `conn` (handled by `component`) asks for the link.
    fn claim(
        &self,
        conn: ConnectionInfo,
        component: ComponentId,
        takeover_after: Duration,
        rt: &Runtime,
    ) -> Claim {
        let now = Instant::now();
        let mut st = self.lock();
        let claim = match st.holder {
            Some(h) if rt.is_alive(h.component) => {
                if now.saturating_duration_since(h.last_heard) >= takeover_after {
                    Claim::Replaced(h)
                } else {
                    return Claim::Refused(h);
                }
            }
            _ => Claim::Granted,
        };
        st.holder = Some(Holder {
            conn,
            component,
            last_heard: now,
        });
        claim
    }

    fn heard(&self, component: ComponentId) {
        if let Some(h) = &mut self.lock().holder
            && h.component == component
        {
            h.last_heard = Instant::now();
        }
    }

    fn release(&self, component: ComponentId) {
        let mut st = self.lock();
        if st.holder.is_some_and(|h| h.component == component) {
            st.holder = None;
        }
    }

    fn transcribe(&self, direction: char, line: &str) {
        if let Some(t) = &mut self.lock().transcript {
            t.line(direction, line);
        }
    }

    fn marker(&self, text: &str) {
        if let Some(t) = &mut self.lock().transcript {
            t.marker(text);
        }
    }
}

/// What a [`BridgeLink`] needs to know about its stream.
#[derive(Debug, Clone)]
struct LinkSettings {
    node: u32,
    link: LinkKind,
    up: String,
    down: String,
    slot: Arc<LinkSlot>,
    progress: Arc<AtomicU64>,
    takeover_after: Duration,
    lines_service: Option<String>,
}

/// The handler of one node connection on a bridge server.
///
/// Takes the node's link (one connection per node and link: see the
/// [module docs](self#one-link-per-node)), publishes the node's bytes on the `up`
/// Backplane (operators see them live), writes every line with a timestamp to the
/// node's transcript ([`super::transcript`]: `<` from the node, `>` to the node, `#`
/// connection markers), logs it at debug level, and sends it as a [`NodeLine`] to the
/// lines service if one is configured. What operators type (the `down` Backplane) goes
/// to the node.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | from the node |
/// | `outbox` | out | `Bytes` | to the node |
/// | `down` | in | `Bytes` | operator input, from the `down` Backplane |
/// | `up` | out | `Bytes` | the node's stream, to the `up` Backplane |
/// | `lines` | out | [`NodeLine`] | to the lines service |
/// | `_backplane` | out | [`Request<Subscription<Bytes>, ()>`] | join / leave `down` |
/// | `control` / `signal` | | `Control` | lifecycle |
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// use components::cosmici::LinkKind;
/// use components::cosmici::bridge::{BridgeConfig, BridgeManager};
/// use components::cosmici::main_server::NetEvent;
/// use tokio::io::AsyncWriteExt;
///
/// let config = BridgeConfig { auxio_base: 0, uart_base: 0, terminal_base: 0, ..Default::default() };
/// let manager = BridgeManager::new(config);
/// let dir = manager.directory();
/// let mut h = axon::testing::Harness::new(manager);
/// h.send(NetEvent::PoweredOn { node: 1, ip: "127.0.0.1".parse().unwrap(), first: true }).await;
/// // The node connects to its UART bridge: a `BridgeLink` handles the connection.
/// let addrs = dir.wait(1, LinkKind::Uart).await;
/// let mut node = tokio::net::TcpStream::connect(addrs.node).await?;
/// node.write_all(b"HOST_READY\r\n").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BridgeLink {
    info: ConnectionInfo,
    settings: LinkSettings,
    down_inbox: Option<BoxRef<Bytes>>,
}

impl BridgeLink {
    fn new(info: ConnectionInfo, settings: LinkSettings) -> Self {
        Self {
            info,
            settings,
            down_inbox: None,
        }
    }
}

impl Component for BridgeLink {
    type In = Bytes;
    type Out = Bytes;

    fn name(&self) -> std::borrow::Cow<'static, str> {
        format!(
            "BridgeLink(node{}.{})",
            self.settings.node, self.settings.link
        )
        .into()
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "from the node")?;
        s.describe("outbox", "to the node")?;
        self.down_inbox = Some(s.inbox::<Bytes>("down", "operator input")?);
        let up = s.outbox::<Bytes>("up", "the node's stream, to the up Backplane")?;
        let lines = s.outbox::<NodeLine>("lines", "the node's lines")?;
        let requests =
            s.outbox::<Request<Subscription<Bytes>, ()>>("_backplane", "join / leave down")?;
        let rt = s.runtime().clone();
        s.link(up, rt.service::<Bytes>(&self.settings.up)?)?;
        s.link(
            requests,
            rt.service::<Request<Subscription<Bytes>, ()>>(&subscriptions_service(
                &self.settings.down,
            ))?,
        )?;
        if let Some(service) = &self.settings.lines_service
            && let Ok(to) = rt.service::<NodeLine>(service)
        {
            s.link(lines, to)?;
        }
        Ok(())
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        let mut down = ctx.take_inbox::<Bytes>("down")?;
        let mut up: Outbox<Bytes> = ctx.outbox_named("up")?;
        let mut lines_out: Outbox<NodeLine> = ctx.outbox_named("lines")?;
        let mut requests: Outbox<Request<Subscription<Bytes>, ()>> =
            ctx.outbox_named("_backplane")?;
        let me = ctx.id();
        let (node, link) = (self.settings.node, self.settings.link);
        let slot = self.settings.slot.clone();
        let takeover = self.settings.takeover_after;
        match slot.claim(self.info, me, takeover, ctx.runtime()) {
            Claim::Granted => {}
            Claim::Refused(holder) => {
                tracing::warn!(
                    node,
                    "node {node} {link}: connection {} refused: the link is held by {} (live; a link silent for {takeover:?} gives way)",
                    self.info,
                    holder.conn
                );
                slot.marker(&format!("refused {}: held by {}", self.info, holder.conn));
                return Ok(());
            }
            Claim::Replaced(old) => {
                tracing::warn!(
                    node,
                    "node {node} {link}: {} silent for {:?}, replaced by {}",
                    old.conn,
                    old.last_heard.elapsed(),
                    self.info
                );
                slot.marker(&format!("replaced {} by {}", old.conn, self.info));
                let _ = ctx
                    .runtime()
                    .send_control(old.component, Control::Shutdown)
                    .await;
            }
        }
        if let Some(deliver_to) = self.down_inbox {
            // Joining is asked, not awaited: the bridge serves its node either way.
            let (join, _) = Request::new(Subscription::Join {
                subscriber: me,
                deliver_to,
                policy: Policy::Block,
            });
            let _ = requests.send(join).await;
        }
        tracing::info!(node, "node {node} {link} connected: {}", self.info);
        slot.marker(&format!("connected {}", self.info));
        let mut buffer = LineBuffer::new(MAX_BRIDGE_LINE);
        let mut lines = Vec::new();
        let mut down_open = true;
        loop {
            tokio::select! {
                bytes = ctx.recv() => {
                    let Some(bytes) = bytes else { break };
                    slot.heard(me);
                    self.settings.progress.fetch_add(1, Ordering::Relaxed);
                    // Operators may come and go; nobody watching is fine.
                    let _ = up.send(bytes.clone()).await;
                    if buffer.push(&bytes, &mut lines) > 0 {
                        tracing::warn!(node, "node {node} {link}: over-long line dropped");
                    }
                    for line in lines.drain(..) {
                        slot.transcribe('<', &line);
                        tracing::debug!(target: "cosmici::bridge", node, "{link} < {line}");
                        let _ = lines_out.send(NodeLine { node, link, line }).await;
                        self.settings.progress.fetch_add(1, Ordering::Relaxed);
                    }
                }
                typed = down.recv(), if down_open => {
                    let Some(bytes) = typed else {
                        down_open = false;
                        continue;
                    };
                    let text = String::from_utf8_lossy(&bytes);
                    for line in text.lines() {
                        slot.transcribe('>', line);
                        tracing::info!(node, "operator -> node {node} {link}: {line}");
                    }
                    if ctx.send(bytes).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = requests.try_send(Request::new(Subscription::Leave { subscriber: me }).0);
        slot.release(me);
        slot.marker(&format!("disconnected {}", self.info));
        tracing::info!(node, "node {node} {link} disconnected: {}", self.info);
        Ok(())
    }
}

/// The handler of one operator connection on a terminal server: shows the node's
/// stream live and sends what the operator types down the node's link.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | typed by the operator |
/// | `outbox` | out | `Bytes` | the node's stream, to the operator |
/// | `view` | in | `Bytes` | from the `up` Backplane |
/// | `typed` | out | `Bytes` | to the `down` Backplane |
/// | `_backplane` | out | [`Request<Subscription<Bytes>, ()>`] | join / leave `up` |
/// | `control` / `signal` | | `Control` | lifecycle |
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// use components::cosmici::LinkKind;
/// use components::cosmici::bridge::{BridgeConfig, BridgeManager};
/// use components::cosmici::main_server::NetEvent;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let config = BridgeConfig { auxio_base: 0, uart_base: 0, terminal_base: 0, ..Default::default() };
/// let manager = BridgeManager::new(config);
/// let dir = manager.directory();
/// let mut h = axon::testing::Harness::new(manager);
/// h.send(NetEvent::PoweredOn { node: 1, ip: "127.0.0.1".parse().unwrap(), first: true }).await;
/// let addrs = dir.wait(1, LinkKind::Uart).await;
/// // An operator connects to the terminal port: an `OperatorTerminal` handles it.
/// let mut operator = tokio::net::TcpStream::connect(addrs.terminal).await?;
/// let mut node = tokio::net::TcpStream::connect(addrs.node).await?;
/// node.write_all(b"HOST_READY\r\n").await?;
/// let mut seen = [0; 12];
/// operator.read_exact(&mut seen).await?;
/// assert_eq!(&seen, b"HOST_READY\r\n");
/// // What the operator types goes down to the node.
/// operator.write_all(b"START\r\n").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OperatorTerminal {
    info: ConnectionInfo,
    node: u32,
    link: LinkKind,
    up: String,
    down: String,
    view: Option<BoxRef<Bytes>>,
}

impl OperatorTerminal {
    fn new(info: ConnectionInfo, node: u32, link: LinkKind, up: String, down: String) -> Self {
        Self {
            info,
            node,
            link,
            up,
            down,
            view: None,
        }
    }
}

impl Component for OperatorTerminal {
    type In = Bytes;
    type Out = Bytes;

    fn name(&self) -> std::borrow::Cow<'static, str> {
        format!("OperatorTerminal(node{}.{})", self.node, self.link).into()
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "typed by the operator")?;
        s.describe("outbox", "the node's stream")?;
        self.view = Some(s.inbox::<Bytes>("view", "the node's stream, from the up Backplane")?);
        let typed = s.outbox::<Bytes>("typed", "operator input, to the down Backplane")?;
        let requests =
            s.outbox::<Request<Subscription<Bytes>, ()>>("_backplane", "join / leave up")?;
        let rt = s.runtime().clone();
        s.link(typed, rt.service::<Bytes>(&self.down)?)?;
        s.link(
            requests,
            rt.service::<Request<Subscription<Bytes>, ()>>(&subscriptions_service(&self.up))?,
        )
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        let mut view = ctx.take_inbox::<Bytes>("view")?;
        let mut typed: Outbox<Bytes> = ctx.outbox_named("typed")?;
        let mut requests: Outbox<Request<Subscription<Bytes>, ()>> =
            ctx.outbox_named("_backplane")?;
        let me = ctx.id();
        if let Some(deliver_to) = self.view {
            let (join, _) = Request::new(Subscription::Join {
                subscriber: me,
                deliver_to,
                policy: Policy::DropOldest,
            });
            let _ = requests.send(join).await;
        }
        tracing::info!(
            node = self.node,
            "operator joined node {} {}: {}",
            self.node,
            self.link,
            self.info
        );
        loop {
            tokio::select! {
                input = ctx.recv() => {
                    let Some(bytes) = input else { break };
                    let _ = typed.send(bytes).await;
                }
                shown = view.recv() => {
                    let Some(bytes) = shown else { break };
                    if ctx.send(bytes).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = requests.try_send(Request::new(Subscription::Leave { subscriber: me }).0);
        tracing::info!(
            node = self.node,
            "operator left node {} {}: {}",
            self.node,
            self.link,
            self.info
        );
        Ok(())
    }
}
