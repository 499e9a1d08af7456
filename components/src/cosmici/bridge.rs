//! Bridges: on a node's first `POWERED_ON`, its AUXIO and UART servers, each with an
//! operator terminal port, a timestamped transcript per connection and the log.
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

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{LineWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use axon::Request;
use axon::{
    BoxError, BoxRef, Component, ComponentId, Context, Control, LinkError, Outbox, Policy, Setup,
};
use bytes::Bytes;
use chassis::backplane::{Backplane, Subscription, subscriptions_service};
use chassis::tcp::{ConnectionInfo, ServerCore};
use tokio::sync::watch;

use super::lines::{LineBuffer, LinkKind, NodeLine, utc_now};
use super::main_server::NetEvent;

/// Longest bridged line kept whole in transcripts and [`NodeLine`]s, bytes.
const MAX_BRIDGE_LINE: usize = 64 * 1024;

/// How long the manager waits for its servers to drain on shutdown.
const TEARDOWN_LIMIT: Duration = Duration::from_secs(5);

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
    /// Address the bridge and terminal servers bind to.
    pub host: IpAddr,
    /// AUXIO port base (node id added); 0 = a free port for every node.
    pub auxio_base: u16,
    /// UART port base (node id added); 0 = a free port for every node.
    pub uart_base: u16,
    /// Terminal port base: AUXIO terminal of node N at `base + 2N`, UART terminal at
    /// `base + 2N + 1`; 0 = free ports.
    pub terminal_base: u16,
    /// Directory for transcripts; `None` = no transcripts.
    pub transcript_dir: Option<PathBuf>,
    /// Service the UART [`NodeLine`]s go to, if registered.
    pub uart_lines_service: Option<String>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            auxio_base: LinkKind::Auxio.default_base(),
            uart_base: LinkKind::Uart.default_base(),
            terminal_base: 40000,
            transcript_dir: None,
            uart_lines_service: None,
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
        let base = match link {
            LinkKind::Auxio => self.auxio_base,
            LinkKind::Uart => self.uart_base,
        };
        Some(SocketAddr::new(self.host, Self::port(base, node)?))
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
    /// assert_eq!(config.terminal_addr(3, LinkKind::Auxio).unwrap().port(), 40006);
    /// assert_eq!(config.terminal_addr(3, LinkKind::Uart).unwrap().port(), 40007);
    /// assert_eq!(config.terminal_addr(20_000, LinkKind::Auxio), None);
    /// ```
    pub fn terminal_addr(&self, node: u32, link: LinkKind) -> Option<SocketAddr> {
        let offset = node
            .checked_mul(2)?
            .checked_add(u32::from(link == LinkKind::Uart))?;
        Some(SocketAddr::new(
            self.host,
            Self::port(self.terminal_base, offset)?,
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
/// assert_eq!((addrs.node.port(), addrs.terminal.port()), (63767, 40003));
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
    tx: watch::Sender<BTreeMap<(u32, LinkKind), BridgeAddrs>>,
}

impl Default for BridgeDirectory {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(BTreeMap::new()),
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
        self.tx.borrow().get(&(node, link)).copied()
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
            if let Some(a) = rx.borrow_and_update().get(&(node, link)) {
                return *a;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    fn insert(&self, node: u32, link: LinkKind, addrs: BridgeAddrs) {
        self.tx.send_modify(|m| {
            m.insert((node, link), addrs);
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
/// connections), then the Backplanes, waits for them all (at most 5 s) and ends.
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

    async fn open(
        &self,
        ctx: &mut Context<NetEvent, BridgeEvent>,
        node: u32,
        link: LinkKind,
        servers: &mut Vec<ComponentId>,
        backplanes: &mut Vec<ComponentId>,
    ) -> Result<BridgeAddrs, String> {
        let up = backplane_name(node, link, "up");
        let down = backplane_name(node, link, "down");
        for name in [&up, &down] {
            let p = ctx
                .add_child(Backplane::<Bytes>::new(name.clone()))
                .map_err(|e| e.to_string())?;
            backplanes.push(p.id());
            p.start();
        }
        let link_config = LinkSettings {
            node,
            link,
            up: up.clone(),
            down: down.clone(),
            transcript_dir: self.config.transcript_dir.clone(),
            lines_service: match link {
                LinkKind::Uart => self.config.uart_lines_service.clone(),
                LinkKind::Auxio => None,
            },
        };
        let out_of_range = || format!("node {node} {link}: its port would be past 65535");
        let node_addr = self.config.node_addr(node, link).ok_or_else(out_of_range)?;
        let terminal_addr = self
            .config
            .terminal_addr(node, link)
            .ok_or_else(out_of_range)?;
        let node_server = ServerCore::bind(node_addr, move |info: &ConnectionInfo| {
            BridgeLink::new(*info, link_config.clone())
        })
        .await
        .map_err(|e| e.to_string())?;
        let (up_t, down_t) = (up.clone(), down.clone());
        let terminal_server = ServerCore::bind(terminal_addr, move |info: &ConnectionInfo| {
            OperatorTerminal::new(*info, node, link, up_t.clone(), down_t.clone())
        })
        .await
        .map_err(|e| e.to_string())?;
        let addrs = BridgeAddrs {
            node: node_server.local_addr(),
            terminal: terminal_server.local_addr(),
        };
        for server in [node_server.into_dyn(), terminal_server.into_dyn()] {
            let p = ctx.add_child_dyn(server).map_err(|e| e.to_string())?;
            servers.push(p.id());
            p.start();
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

impl Component for BridgeManager {
    type In = NetEvent;
    type Out = BridgeEvent;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "power-ons from SensorNet")?;
        s.describe("outbox", "bridges opened or failed")
    }

    async fn run(self, mut ctx: Context<NetEvent, BridgeEvent>) -> Result<(), BoxError> {
        let mut bridged = BTreeSet::new();
        let mut servers = Vec::new();
        let mut backplanes = Vec::new();
        while let Some(event) = ctx.recv().await {
            let NetEvent::PoweredOn { node, .. } = event else {
                continue;
            };
            if !bridged.insert(node) {
                continue;
            }
            for link in LinkKind::ALL {
                let report = match self
                    .open(&mut ctx, node, link, &mut servers, &mut backplanes)
                    .await
                {
                    Ok(addrs) => {
                        self.directory.insert(node, link, addrs);
                        BridgeEvent::Opened { node, link, addrs }
                    }
                    Err(error) => {
                        tracing::error!(node, "node {node} {link} bridge failed: {error}");
                        BridgeEvent::Failed { node, link, error }
                    }
                };
                let _ = ctx.send(report).await;
            }
        }
        let rt = ctx.runtime().clone();
        let me = ctx.id();
        // Servers first, so their connections finish while the Backplanes still exist.
        for ids in [&servers, &backplanes] {
            for &id in ids.iter() {
                let _ = rt.send_control(id, Control::Shutdown).await;
            }
            let wait = async {
                while ids.iter().any(|&id| rt.children_of(me).contains(&id)) {
                    if ctx.next_child_exit().await.is_none() {
                        break;
                    }
                }
            };
            if tokio::time::timeout(TEARDOWN_LIMIT, wait).await.is_err() {
                tracing::warn!("bridge teardown did not finish in {TEARDOWN_LIMIT:?}");
            }
        }
        tracing::info!("bridges torn down: {} nodes", bridged.len());
        Ok(())
    }
}

/// What a [`BridgeLink`] needs to know about its stream.
#[derive(Debug, Clone)]
struct LinkSettings {
    node: u32,
    link: LinkKind,
    up: String,
    down: String,
    transcript_dir: Option<PathBuf>,
    lines_service: Option<String>,
}

/// The handler of one node connection on a bridge server.
///
/// Publishes the node's bytes on the `up` Backplane (operators see them live),
/// writes every line with a timestamp to its transcript file
/// (`node<N>-<link>-conn<C>-<UTC>.log`; `<` from the node, `>` to the node), logs it
/// at debug level, and sends it as a [`NodeLine`] to the lines service if one is
/// configured. What operators type (the `down` Backplane) goes to the node.
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

    fn open_transcript(&self) -> Option<LineWriter<File>> {
        let dir = self.settings.transcript_dir.as_ref()?;
        let stamp = utc_now().to_string().replace(':', "");
        let path = dir.join(format!(
            "node{}-{}-conn{}-{stamp}.log",
            self.settings.node, self.settings.link, self.info.id
        ));
        let opened = std::fs::create_dir_all(dir).and_then(|()| File::create(&path));
        match opened {
            Ok(f) => Some(LineWriter::new(f)),
            Err(e) => {
                tracing::warn!("cannot write transcript {}: {e}", path.display());
                None
            }
        }
    }
}

fn transcribe(file: &mut Option<LineWriter<File>>, direction: char, line: &str) {
    if let Some(f) = file
        && let Err(e) = writeln!(f, "{} {direction} {line}", utc_now())
    {
        tracing::warn!("transcript write failed, transcript stopped: {e}");
        *file = None;
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
        if let Some(deliver_to) = self.down_inbox {
            // Joining is asked, not awaited: the bridge serves its node either way.
            let (join, _) = Request::new(Subscription::Join {
                subscriber: me,
                deliver_to,
                policy: Policy::Block,
            });
            let _ = requests.send(join).await;
        }
        let (node, link) = (self.settings.node, self.settings.link);
        tracing::info!(node, "node {node} {link} connected: {}", self.info);
        let mut transcript = self.open_transcript();
        let mut buffer = LineBuffer::new(MAX_BRIDGE_LINE);
        let mut lines = Vec::new();
        let mut down_open = true;
        loop {
            tokio::select! {
                bytes = ctx.recv() => {
                    let Some(bytes) = bytes else { break };
                    // Operators may come and go; nobody watching is fine.
                    let _ = up.send(bytes.clone()).await;
                    if buffer.push(&bytes, &mut lines) > 0 {
                        tracing::warn!(node, "node {node} {link}: over-long line dropped");
                    }
                    for line in lines.drain(..) {
                        transcribe(&mut transcript, '<', &line);
                        tracing::debug!(target: "cosmici::bridge", node, "{link} < {line}");
                        let _ = lines_out.send(NodeLine { node, link, line }).await;
                    }
                }
                typed = down.recv(), if down_open => {
                    let Some(bytes) = typed else {
                        down_open = false;
                        continue;
                    };
                    let text = String::from_utf8_lossy(&bytes);
                    for line in text.lines() {
                        transcribe(&mut transcript, '>', line);
                        tracing::info!(node, "operator -> node {node} {link}: {line}");
                    }
                    if ctx.send(bytes).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = requests.try_send(Request::new(Subscription::Leave { subscriber: me }).0);
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
