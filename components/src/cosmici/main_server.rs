//! The MAIN server: one [`MainConnection`] handler per node connection on the COSMO
//! port, and the [`SensorNet`] node model they all report to.
//!
//! ```text
//!  node ──MAIN──► ServerCore(MainConnection) ──MainEvent──► SensorNet ──NetEvent──► BridgeManager
//!                   │ answers ACK / ERR                        ▲ node_events (NodeNotice: UART heard, run started)
//! ```
//!
//! # Answers
//!
//! The original protocol only acknowledges. A [`MainConnection`] answers every line:
//!
//! | line | answer | state |
//! | --- | --- | --- |
//! | `POWERED_ON`, `LOGMSG`, `HEARTBEAT`, `BRIDGE_MODE`, well formed | `ACK <COMMAND> <id>` | applied by [`SensorNet`] |
//! | the same, for an id the [`NodeAdmission`] refuses (out of range, table full, live from another address) | `ERR <reason>` naming the limit (logged at warn) | unchanged |
//! | `PULSE_DATA`, `1ST_SYNC`, `MISSING_SYNCS`, `CALIBRATE_TIMING` | `ERR NOT_IMPLEMENTED <COMMAND>` (logged) | unchanged |
//! | anything malformed | `ERR <reason>` (logged with the line) | unchanged |
//!
//! # Examples
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use components::cosmici::main_server::{MainStats, SensorNet, SensorNetConfig, main_server};
//!
//! let rt = axon::Runtime::new();
//! let net = SensorNet::new(SensorNetConfig::default());
//! let view = net.view();
//! let _net = rt.spawn(net)?;
//! let stats = MainStats::default();
//! let admission = components::cosmici::admission::NodeAdmission::default();
//! let server = main_server("127.0.0.1:26766".parse()?, stats.clone(), admission).await?;
//! tracing::info!("listening on {}", server.local_addr());
//! let _server = rt.spawn(server)?;
//! # let _ = view; Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axon::{BoxError, Component, Context, LinkError, Outbox, Setup};
use bytes::Bytes;
use chassis::tcp::{BindError, ConnectionInfo, ServerCore};
use tokio::time::Instant;

use super::admission::NodeAdmission;
use super::lines::{LineBuffer, NodeNotice};
use super::node::{NodeConfig, NodeRegistry, NodeState, Transition};
use super::wire::main_cmd::{BridgeMode, LogLevel, MainCommand};

/// The COSMO port nodes connect to.
///
/// # Examples
///
/// ```
/// use components::cosmici::main_server::MAIN_PORT;
///
/// let listen = std::net::SocketAddr::from(([0, 0, 0, 0], MAIN_PORT));
/// assert_eq!(listen.to_string(), "0.0.0.0:26766");
/// ```
pub const MAIN_PORT: u16 = 26766;

/// Service name of [`SensorNet`]'s `inbox` ([`MainEvent`]s).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use components::cosmici::main_server::{MainEvent, SENSORNET_SERVICE, SensorNet};
///
/// let h = axon::testing::Harness::new(SensorNet::new(Default::default()));
/// assert!(h.runtime().service::<MainEvent>(SENSORNET_SERVICE).is_ok());
/// # }
/// ```
pub const SENSORNET_SERVICE: &str = "cosmici.sensornet";

/// Service name of [`SensorNet`]'s `node_events` inbox ([`NodeNotice`]s).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use components::cosmici::NodeNotice;
/// use components::cosmici::main_server::{NODE_EVENTS_SERVICE, SensorNet};
///
/// let h = axon::testing::Harness::new(SensorNet::new(Default::default()));
/// assert!(h.runtime().service::<NodeNotice>(NODE_EVENTS_SERVICE).is_ok());
/// # }
/// ```
pub const NODE_EVENTS_SERVICE: &str = "cosmici.node_events";

/// Longest MAIN line accepted, bytes.
const MAX_MAIN_LINE: usize = 4096;

/// A well-formed command received on a MAIN connection.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use bytes::Bytes;
/// use components::cosmici::MainCommand;
/// use components::cosmici::main_server::{MainConnection, MainEvent, MainStats};
///
/// # let info = chassis::tcp::ConnectionInfo {
/// #     id: 1,
/// #     peer: "127.0.0.1:5000".parse().unwrap(),
/// #     local: "127.0.0.1:26766".parse().unwrap(),
/// # };
/// let mut h = axon::testing::Harness::new(MainConnection::new(info, MainStats::default()));
/// let mut commands = h.outbox_receiver::<MainEvent>("commands").unwrap();
/// h.send(Bytes::from_static(b"HEARTBEAT 3 17\r\n")).await;
/// let event = commands.recv().await.unwrap();
/// assert_eq!(event.conn.id, 1);
/// assert_eq!(event.command, MainCommand::parse("HEARTBEAT 3 17").unwrap());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainEvent {
    /// The connection it came on.
    pub conn: ConnectionInfo,
    /// The command.
    pub command: MainCommand,
}

/// Counters shared by every [`MainConnection`] of a server.
///
/// # Examples
///
/// ```
/// let stats = components::cosmici::main_server::MainStats::default();
/// assert_eq!(stats.malformed(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MainStats {
    inner: Arc<MainCounters>,
}

#[derive(Debug, Default)]
struct MainCounters {
    commands: AtomicU64,
    unimplemented: AtomicU64,
    malformed: AtomicU64,
    refused: AtomicU64,
}

impl MainStats {
    /// Well-formed, implemented commands received.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use bytes::Bytes;
    /// use components::cosmici::main_server::{MainConnection, MainStats};
    ///
    /// # let info = chassis::tcp::ConnectionInfo {
    /// #     id: 1,
    /// #     peer: "127.0.0.1:5000".parse().unwrap(),
    /// #     local: "127.0.0.1:26766".parse().unwrap(),
    /// # };
    /// let stats = MainStats::default();
    /// let mut h = axon::testing::Harness::new(MainConnection::new(info, stats.clone()));
    /// h.send(Bytes::from_static(b"HEARTBEAT 3 17\r\n")).await;
    /// assert_eq!(h.recv().await.unwrap(), Bytes::from_static(b"ACK HEARTBEAT 3\r\n"));
    /// assert_eq!(stats.commands(), 1);
    /// # }
    /// ```
    pub fn commands(&self) -> u64 {
        self.inner.commands.load(Ordering::Relaxed)
    }
    /// Declared-but-unwritten commands received.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use bytes::Bytes;
    /// use components::cosmici::main_server::{MainConnection, MainStats};
    ///
    /// # let info = chassis::tcp::ConnectionInfo {
    /// #     id: 1,
    /// #     peer: "127.0.0.1:5000".parse().unwrap(),
    /// #     local: "127.0.0.1:26766".parse().unwrap(),
    /// # };
    /// let stats = MainStats::default();
    /// let mut h = axon::testing::Harness::new(MainConnection::new(info, stats.clone()));
    /// h.send(Bytes::from_static(b"PULSE_DATA 3 x\r\n")).await;
    /// let answer = h.recv().await.unwrap();
    /// assert_eq!(answer, Bytes::from_static(b"ERR NOT_IMPLEMENTED PULSE_DATA\r\n"));
    /// assert_eq!((stats.unimplemented(), stats.commands()), (1, 0));
    /// # }
    /// ```
    pub fn unimplemented(&self) -> u64 {
        self.inner.unimplemented.load(Ordering::Relaxed)
    }
    /// Malformed lines received (including over-long ones).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use bytes::Bytes;
    /// use components::cosmici::main_server::{MainConnection, MainStats};
    ///
    /// # let info = chassis::tcp::ConnectionInfo {
    /// #     id: 1,
    /// #     peer: "127.0.0.1:5000".parse().unwrap(),
    /// #     local: "127.0.0.1:26766".parse().unwrap(),
    /// # };
    /// let stats = MainStats::default();
    /// let mut h = axon::testing::Harness::new(MainConnection::new(info, stats.clone()));
    /// h.send(Bytes::from_static(b"HEARTBEAT 1 x\r\n")).await;
    /// assert!(h.recv().await.unwrap().starts_with(b"ERR "));
    /// assert_eq!(stats.malformed(), 1);
    /// # }
    /// ```
    pub fn malformed(&self) -> u64 {
        self.inner.malformed.load(Ordering::Relaxed)
    }

    /// Well-formed commands refused by the [`NodeAdmission`] (id out of range, too
    /// many nodes, node live from another address).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use bytes::Bytes;
    /// use components::cosmici::admission::NodeAdmission;
    /// use components::cosmici::main_server::{MainConnection, MainStats};
    ///
    /// # let info = chassis::tcp::ConnectionInfo {
    /// #     id: 1,
    /// #     peer: "127.0.0.1:5000".parse().unwrap(),
    /// #     local: "127.0.0.1:26766".parse().unwrap(),
    /// # };
    /// let stats = MainStats::default();
    /// let handler = MainConnection::new(info, stats.clone()).admission(NodeAdmission::default());
    /// let mut h = axon::testing::Harness::new(handler);
    /// h.send(Bytes::from_static(b"HEARTBEAT 99 1\r\n")).await;
    /// let answer = h.recv().await.unwrap();
    /// assert!(answer.starts_with(b"ERR NODE_ID_OUT_OF_RANGE 99"));
    /// assert_eq!((stats.refused(), stats.commands()), (1, 0));
    /// # }
    /// ```
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }
}

/// The protocol handler of one MAIN connection.
///
/// Parses each line as a [`MainCommand`], answers it (see the [module docs](self)),
/// and sends well-formed commands to the [`SensorNet`] registered in the runtime.
/// Malformed lines are logged with the connection and the line and never reach the
/// node model.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | bytes from the node |
/// | `control` | in | `Control` | `SocketShutdown` when the node hangs up |
/// | `outbox` | out | `Bytes` | answers to the node |
/// | `signal` | out | `Control` | passed on when it ends |
/// | `commands` | out | [`MainEvent`] | to [`SENSORNET_SERVICE`], if registered |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use bytes::Bytes;
/// use components::cosmici::main_server::{MainConnection, MainStats};
///
/// let info = chassis::tcp::ConnectionInfo {
///     id: 1,
///     peer: "127.0.0.1:5000".parse().unwrap(),
///     local: "127.0.0.1:26766".parse().unwrap(),
/// };
/// let mut h = axon::testing::Harness::new(MainConnection::new(info, MainStats::default()));
/// h.send(Bytes::from_static(b"HEARTBEAT 1 x\r\n")).await;
/// let answer = h.recv().await.unwrap();
/// assert!(answer.starts_with(b"ERR "));
/// # }
/// ```
#[derive(Debug)]
pub struct MainConnection {
    info: ConnectionInfo,
    stats: MainStats,
    admission: Option<NodeAdmission>,
}

impl MainConnection {
    /// A handler for connection `info`, counting into `stats`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use bytes::Bytes;
    /// use components::cosmici::main_server::{MainConnection, MainStats};
    ///
    /// let info = chassis::tcp::ConnectionInfo {
    ///     id: 7,
    ///     peer: "10.0.0.2:5000".parse().unwrap(),
    ///     local: "10.0.0.1:26766".parse().unwrap(),
    /// };
    /// let mut h = axon::testing::Harness::new(MainConnection::new(info, MainStats::default()));
    /// h.send(Bytes::from_static(b"POWERED_ON 2 10.0.0.2 00:11:22:33:44:55\r\n")).await;
    /// assert_eq!(h.recv().await.unwrap(), Bytes::from_static(b"ACK POWERED_ON 2\r\n"));
    /// # }
    /// ```
    pub fn new(info: ConnectionInfo, stats: MainStats) -> Self {
        Self {
            info,
            stats,
            admission: None,
        }
    }

    /// Admits node ids through `admission` (shared by the server's connections);
    /// without one every id is accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use bytes::Bytes;
    /// use components::cosmici::admission::{NodeAdmission, NodeLimits};
    /// use components::cosmici::main_server::{MainConnection, MainStats};
    ///
    /// # let info = chassis::tcp::ConnectionInfo {
    /// #     id: 1,
    /// #     peer: "127.0.0.1:5000".parse().unwrap(),
    /// #     local: "127.0.0.1:26766".parse().unwrap(),
    /// # };
    /// let admission = NodeAdmission::new(NodeLimits { max_nodes: 1, ids: 0..=9 });
    /// let handler = MainConnection::new(info, MainStats::default()).admission(admission);
    /// let mut h = axon::testing::Harness::new(handler);
    /// h.send(Bytes::from_static(b"HEARTBEAT 1 1\r\nHEARTBEAT 2 1\r\n")).await;
    /// assert_eq!(h.recv().await.unwrap(), Bytes::from_static(b"ACK HEARTBEAT 1\r\n"));
    /// assert_eq!(
    ///     h.recv().await.unwrap(),
    ///     Bytes::from_static(b"ERR TOO_MANY_NODES 2 (limit 1, --max-nodes)\r\n")
    /// );
    /// # }
    /// ```
    pub fn admission(mut self, admission: NodeAdmission) -> Self {
        self.admission = Some(admission);
        self
    }

    fn answer(&self, line: &str, named: &mut Vec<u32>) -> (String, Option<MainCommand>) {
        match MainCommand::parse(line) {
            Ok(cmd) if cmd.is_implemented() => {
                if let (Some(admission), Some(id)) = (&self.admission, cmd.node_id()) {
                    if let Err(refusal) = admission.admit(id, self.info.peer.ip(), self.info.id) {
                        self.stats.inner.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(conn = %self.info, node = id, "MAIN {} refused: {refusal}", cmd.name());
                        return (format!("ERR {refusal}"), None);
                    }
                    if !named.contains(&id) {
                        named.push(id);
                    }
                }
                self.stats.inner.commands.fetch_add(1, Ordering::Relaxed);
                let id = cmd.node_id().unwrap_or_default();
                (format!("ACK {} {id}", cmd.name()), Some(cmd))
            }
            Ok(cmd) => {
                self.stats
                    .inner
                    .unimplemented
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(conn = %self.info, "MAIN command {} is declared but not implemented: {line:?}", cmd.name());
                (format!("ERR NOT_IMPLEMENTED {}", cmd.name()), None)
            }
            Err(e) => {
                self.stats.inner.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(conn = %self.info, "malformed MAIN line {line:?}: {e}");
                (format!("ERR {e}"), None)
            }
        }
    }
}

impl Component for MainConnection {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "bytes from the node")?;
        s.describe("outbox", "answers to the node")?;
        let commands = s.outbox::<MainEvent>("commands", "well-formed commands for SensorNet")?;
        if let Ok(net) = s.runtime().service::<MainEvent>(SENSORNET_SERVICE) {
            s.link(commands, net)?;
        }
        Ok(())
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        // The nodes this connection named (at most `max_nodes`), released when it ends.
        let mut named = Vec::new();
        let result = self.serve(&mut ctx, &mut named).await;
        if let Some(admission) = &self.admission {
            admission.release(self.info.id, named);
        }
        result
    }
}

impl MainConnection {
    async fn serve(
        &self,
        ctx: &mut Context<Bytes, Bytes>,
        named: &mut Vec<u32>,
    ) -> Result<(), BoxError> {
        let mut commands: Outbox<MainEvent> = ctx.outbox_named("commands")?;
        let mut lines = LineBuffer::new(MAX_MAIN_LINE);
        let mut batch = Vec::new();
        while let Some(bytes) = ctx.recv().await {
            let overlong = lines.push(&bytes, &mut batch);
            for _ in 0..overlong {
                self.stats.inner.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(conn = %self.info, "MAIN line longer than {MAX_MAIN_LINE} bytes dropped");
                ctx.send(Bytes::from("ERR line too long\r\n")).await?;
            }
            for line in batch.drain(..) {
                if line.trim().is_empty() {
                    continue;
                }
                let (answer, cmd) = self.answer(&line, named);
                if let Some(command) = cmd {
                    // Without a SensorNet the command is only acknowledged.
                    let _ = commands
                        .send(MainEvent {
                            conn: self.info,
                            command,
                        })
                        .await;
                }
                if ctx.send(Bytes::from(answer + "\r\n")).await.is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Binds a MAIN server on `listen` whose connections admit node ids through
/// `admission` and report to the [`SensorNet`] registered in the runtime it is added to.
///
/// # Errors
///
/// [`BindError`] if the address cannot be bound.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::main_server::{MAIN_PORT, MainStats, main_server};
///
/// let rt = axon::Runtime::new();
/// let stats = MainStats::default();
/// let listen = std::net::SocketAddr::from(([0, 0, 0, 0], MAIN_PORT));
/// let admission = components::cosmici::admission::NodeAdmission::default();
/// let server = main_server(listen, stats.clone(), admission).await?;
/// assert_eq!(server.local_addr().port(), MAIN_PORT);
/// let _server = rt.spawn(server)?;
/// # Ok(()) }
/// ```
pub async fn main_server(
    listen: SocketAddr,
    stats: MainStats,
    admission: NodeAdmission,
) -> Result<ServerCore<impl Fn(&ConnectionInfo) -> MainConnection + Send + Sync + 'static>, BindError>
{
    ServerCore::bind(listen, move |info: &ConnectionInfo| {
        MainConnection::new(*info, stats.clone()).admission(admission.clone())
    })
    .await
}

/// What the node model reports.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use components::cosmici::MainCommand;
/// use components::cosmici::main_server::{MainEvent, NetEvent, SensorNet};
///
/// # let conn = chassis::tcp::ConnectionInfo {
/// #     id: 1,
/// #     peer: "127.0.0.1:5000".parse().unwrap(),
/// #     local: "127.0.0.1:26766".parse().unwrap(),
/// # };
/// let mut h = axon::testing::Harness::new(SensorNet::new(Default::default()));
/// let command = MainCommand::parse("BRIDGE_MODE 2 FLYOVER").unwrap();
/// h.send(MainEvent { conn, command }).await;
/// assert!(matches!(h.recv().await, Some(NetEvent::BridgeMode { node: 2, .. })));
/// // The first message from the node also brings it ON.
/// assert!(matches!(h.recv().await, Some(NetEvent::StateChanged { node: 2, .. })));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetEvent {
    /// A node sent `POWERED_ON`; `first` the first time (create its bridges).
    PoweredOn {
        /// The node.
        node: u32,
        /// The address it announced.
        ip: IpAddr,
        /// Its first `POWERED_ON`.
        first: bool,
    },
    /// A node changed state (including going AWOL on the timer).
    StateChanged {
        /// The node.
        node: u32,
        /// The change.
        transition: Transition,
    },
    /// A node changed its bridging mode.
    BridgeMode {
        /// The node.
        node: u32,
        /// The new mode.
        mode: BridgeMode,
    },
}

/// Settings of [`SensorNet`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::cosmici::main_server::{SensorNet, SensorNetConfig};
///
/// let config = SensorNetConfig::default();
/// assert_eq!(config.awol_after, Duration::from_secs(330));
/// assert_eq!(config.heartbeat, Duration::from_secs(300));
/// let _net = SensorNet::new(SensorNetConfig { awol_after: Duration::from_secs(10), ..config });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensorNetConfig {
    /// Silence after which a node is AWOL (default: one heartbeat period plus 10%).
    pub awol_after: Duration,
    /// The server's own heartbeat log period (default 5 minutes).
    pub heartbeat: Duration,
    /// Most node records kept (default 64, as [`NodeLimits`](super::admission::NodeLimits));
    /// news of a further node is ignored. The MAIN server's admission refuses such
    /// nodes before they get here; this bounds the model whatever feeds it.
    pub max_nodes: usize,
}

impl Default for SensorNetConfig {
    fn default() -> Self {
        Self {
            awol_after: Duration::from_nanos(NodeConfig::default().awol_after_ns),
            heartbeat: Duration::from_secs(300),
            max_nodes: super::admission::NodeLimits::default().max_nodes,
        }
    }
}

/// A live read-only view of node states, for status displays.
///
/// # Examples
///
/// ```
/// let net = components::cosmici::main_server::SensorNet::new(Default::default());
/// assert!(net.view().states().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct NodeView {
    states: Arc<Mutex<BTreeMap<u32, NodeState>>>,
}

impl NodeView {
    /// Every node heard of, with its state, by id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use components::cosmici::main_server::{MainEvent, SensorNet};
    /// use components::cosmici::{MainCommand, NodeState};
    ///
    /// # let conn = chassis::tcp::ConnectionInfo {
    /// #     id: 1,
    /// #     peer: "127.0.0.1:5000".parse().unwrap(),
    /// #     local: "127.0.0.1:26766".parse().unwrap(),
    /// # };
    /// let net = SensorNet::new(Default::default());
    /// let view = net.view();
    /// let mut h = axon::testing::Harness::new(net);
    /// let command = MainCommand::parse("HEARTBEAT 4 1").unwrap();
    /// h.send(MainEvent { conn, command }).await;
    /// h.recv().await.unwrap(); // UNSEEN -> ON
    /// assert_eq!(view.states().get(&4), Some(&NodeState::On));
    /// # }
    /// ```
    pub fn states(&self) -> BTreeMap<u32, NodeState> {
        self.states.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn set(&self, node: u32, state: NodeState) {
        if let Ok(mut s) = self.states.lock() {
            s.insert(node, state);
        }
    }
}

/// The server's node model: applies MAIN commands and node notices to a
/// [`NodeRegistry`], logs node log messages, and marks silent nodes AWOL on a timer.
///
/// # What it does
///
/// Registers its `inbox` as [`SENSORNET_SERVICE`] and `node_events` as
/// [`NODE_EVENTS_SERVICE`], so MAIN handlers, the UART parser and the run manager
/// find it. `LOGMSG` lines are logged under the target `cosmici::node` with the node
/// id, at the matching level, indented two spaces per depth. A timer sleeps until the
/// earliest moment a node could become AWOL (no polling); with tokio's paused clock
/// the AWOL transitions are deterministic. It logs its own heartbeat every
/// [`SensorNetConfig::heartbeat`].
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`MainEvent`] | well-formed MAIN commands |
/// | `node_events` | in | [`NodeNotice`] | other news of nodes (UART heard, run started) |
/// | `control` | in | `Control` | `Shutdown` / `ProducerFinished` end it |
/// | `outbox` | out | [`NetEvent`] | power-ons, state changes, bridge modes |
/// | `signal` | out | `Control` | passed on when it ends |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use components::cosmici::main_server::{MainEvent, NetEvent, SensorNet};
/// use components::cosmici::MainCommand;
///
/// let mut h = axon::testing::Harness::new(SensorNet::new(Default::default()));
/// let conn = chassis::tcp::ConnectionInfo {
///     id: 1, peer: "127.0.0.1:5000".parse().unwrap(), local: "127.0.0.1:26766".parse().unwrap(),
/// };
/// let command = MainCommand::parse("POWERED_ON 1 10.0.0.2 00:11:22:33:44:55").unwrap();
/// h.send(MainEvent { conn, command }).await;
/// assert!(matches!(h.recv().await, Some(NetEvent::PoweredOn { node: 1, first: true, .. })));
/// # }
/// ```
#[derive(Debug)]
pub struct SensorNet {
    config: SensorNetConfig,
    view: NodeView,
}

impl SensorNet {
    /// A node model with `config`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::cosmici::main_server::{SensorNet, SensorNetConfig};
    ///
    /// let config = SensorNetConfig { awol_after: Duration::from_secs(60), ..Default::default() };
    /// let net = SensorNet::new(config);
    /// assert!(net.view().states().is_empty());
    /// ```
    pub fn new(config: SensorNetConfig) -> Self {
        Self {
            config,
            view: NodeView::default(),
        }
    }

    /// A view of node states that stays live while it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use components::cosmici::main_server::{MainEvent, SensorNet, SensorNetConfig};
    /// use components::cosmici::{MainCommand, NodeState};
    ///
    /// # let conn = chassis::tcp::ConnectionInfo {
    /// #     id: 1,
    /// #     peer: "127.0.0.1:5000".parse().unwrap(),
    /// #     local: "127.0.0.1:26766".parse().unwrap(),
    /// # };
    /// let config = SensorNetConfig { awol_after: Duration::from_secs(10), ..Default::default() };
    /// let net = SensorNet::new(config);
    /// let view = net.view();
    /// let mut h = axon::testing::Harness::new(net);
    /// let command = MainCommand::parse("HEARTBEAT 4 1").unwrap();
    /// h.send(MainEvent { conn, command }).await;
    /// h.recv().await.unwrap(); // UNSEEN -> ON
    /// h.recv().await.unwrap(); // ON -> ON_AWOL, 10 s later on the paused clock
    /// assert_eq!(view.states().get(&4), Some(&NodeState::OnAwol));
    /// # }
    /// ```
    pub fn view(&self) -> NodeView {
        self.view.clone()
    }
}

/// A node's log message as logged: indented two spaces per call depth (at most 32).
fn indented(depth: u32, msg: &str) -> String {
    let indent = "  ".repeat(usize::try_from(depth.min(32)).unwrap_or(0));
    format!("{indent}{msg}")
}

fn log_node_message(node: u32, level: &LogLevel, depth: u32, msg: &str) {
    let line = indented(depth, msg);
    match level {
        LogLevel::Critical | LogLevel::Error | LogLevel::UwsErr => {
            tracing::error!(target: "cosmici::node", node, "{line}")
        }
        LogLevel::Warning => tracing::warn!(target: "cosmici::node", node, "{line}"),
        LogLevel::Normal | LogLevel::Info => {
            tracing::info!(target: "cosmici::node", node, "{line}")
        }
        LogLevel::Debug => tracing::debug!(target: "cosmici::node", node, "{line}"),
        LogLevel::Other(word) => {
            tracing::info!(target: "cosmici::node", node, level = %word, "{line}")
        }
    }
}

impl Component for SensorNet {
    type In = MainEvent;
    type Out = NetEvent;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "well-formed MAIN commands")?;
        s.describe("outbox", "power-ons, state changes, bridge modes")?;
        let notices = s.inbox::<NodeNotice>("node_events", "UART heard, run started")?;
        let inbox = s.own::<MainEvent>("inbox")?;
        s.runtime().register_service(SENSORNET_SERVICE, inbox)?;
        s.runtime().register_service(NODE_EVENTS_SERVICE, notices)?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<MainEvent, NetEvent>) -> Result<(), BoxError> {
        let mut notices = ctx.take_inbox::<NodeNotice>("node_events")?;
        let awol_ns = u64::try_from(self.config.awol_after.as_nanos()).unwrap_or(u64::MAX);
        let mut nodes = NodeRegistry::new(NodeConfig {
            awol_after_ns: awol_ns,
        })
        .max_nodes(self.config.max_nodes);
        let start = Instant::now();
        let now_ns = || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut heartbeat =
            tokio::time::interval_at(start + self.config.heartbeat, self.config.heartbeat);
        let mut beats = 0u64;
        let mut out = Vec::new();
        loop {
            // The earliest moment a node that is not yet AWOL may become so (no scan).
            let sleep_to = nodes
                .next_awol_deadline()
                .map(|ns| start + Duration::from_nanos(ns));
            tokio::select! {
                event = ctx.recv() => {
                    let Some(MainEvent { conn, command }) = event else { break };
                    let now = now_ns();
                    if let MainCommand::LogMsg { id, level, depth, msg } = &command {
                        log_node_message(*id, level, *depth, msg);
                    }
                    let Some(applied) = nodes.apply(&command, now) else { continue };
                    match &command {
                        MainCommand::PoweredOn { id, ip, .. } => {
                            tracing::info!(node = id, %conn, "node {id} powered on at {ip}");
                            out.push(NetEvent::PoweredOn { node: *id, ip: *ip, first: applied.first_power_on });
                        }
                        MainCommand::BridgeMode { id, mode } => {
                            tracing::info!(node = id, "node {id} bridge mode {mode}");
                            out.push(NetEvent::BridgeMode { node: *id, mode: *mode });
                        }
                        MainCommand::Heartbeat { id, n } => tracing::debug!(node = id, "heartbeat {n}"),
                        _ => {}
                    }
                    if let Some(t) = applied.transition {
                        out.push(NetEvent::StateChanged { node: applied.id, transition: t });
                    }
                }
                notice = notices.recv() => {
                    let Some(NodeNotice { node, event }) = notice else { continue };
                    if let Some(t) = nodes.handle(node, event, now_ns()) {
                        out.push(NetEvent::StateChanged { node, transition: t });
                    }
                }
                () = async { if let Some(at) = sleep_to { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {
                    for (node, t) in nodes.tick(now_ns()) {
                        tracing::warn!(node, "node {node} is AWOL ({} -> {})", t.from.as_str(), t.to.as_str());
                        out.push(NetEvent::StateChanged { node, transition: t });
                    }
                }
                _ = heartbeat.tick() => {
                    beats += 1;
                    tracing::info!("server heartbeat {beats}: {} nodes", nodes.len());
                }
            }
            for event in out.drain(..) {
                if let NetEvent::StateChanged { node, transition } = &event {
                    self.view.set(*node, transition.to);
                    tracing::info!(
                        node,
                        "node {node}: {} -> {}",
                        transition.from.as_str(),
                        transition.to.as_str()
                    );
                }
                // Nobody listening is fine: the model keeps its state either way.
                let _ = ctx.send(event).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::indented;

    #[test]
    fn node_log_lines_are_indented_by_depth() {
        assert_eq!(indented(0, "Connected."), "Connected.");
        assert_eq!(indented(2, "Bridge up."), "    Bridge up.");
        assert_eq!(indented(u32::MAX, "x").len(), 65);
    }
}
