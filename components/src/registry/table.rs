//! The node table: registry state shared by the SmartGet datahub and the Lumina node server.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::Rng;
use rand::seq::index;

use super::error::TableError;
use super::lumina::{ColorState, Registration};

/// A node's id: 0 is the hub itself, nodes get 1, 2, 3 … in registration order.
///
/// Ids are never reused, not even after a node is deregistered.
///
/// # Examples
///
/// ```
/// use components::registry::NodeId;
///
/// assert_eq!(NodeId::HUB.get(), 0);
/// assert_eq!(NodeId::new(7).to_string(), "7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u64);

impl NodeId {
    /// The hub (the registry server) itself; never a node of the table.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{NodeId, NodeTable};
    /// assert_eq!(NodeId::HUB, NodeId::new(0));
    /// assert!(NodeTable::default().get(NodeId::HUB).is_none());
    /// ```
    pub const HUB: NodeId = NodeId(0);

    /// Wraps a raw id, e.g. one read from a `setstatus` request.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeId;
    /// let id = NodeId::new(42);
    /// assert_eq!(id.get(), 42);
    /// assert!(NodeId::HUB < id);
    /// ```
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw id.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeId;
    /// assert_eq!(NodeId::new(9).get(), 9);
    /// ```
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Lumina connection's sequence number: connections are counted 1, 2, 3 … as they open.
///
/// Handed out by [`NodeTable::open_connection`]; the Lumina dispatcher keys its
/// per-connection state by it.
///
/// # Examples
///
/// ```
/// use components::registry::NodeTable;
/// let mut table = NodeTable::default();
/// let first = table.open_connection();
/// let second = table.open_connection();
/// assert_eq!((first.get(), second.get()), (1, 2));
/// assert_eq!(second.to_string(), "2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    /// The raw sequence number.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeTable;
    /// let mut table = NodeTable::default();
    /// assert_eq!(table.open_connection().get(), 1);
    /// ```
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a node is reachable over a live connection.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use components::registry::{LinkState, NodeTable};
/// let mut table = NodeTable::default();
/// let (id, _) = table.register(IpAddr::V4(Ipv4Addr::LOCALHOST), 4000, Duration::ZERO)?;
/// assert_eq!(table.get(id).map(|node| node.link), Some(LinkState::Connectionless));
/// # Ok::<(), components::registry::TableError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// A datahub node: the protocol answers one request per connection and keeps none open.
    Connectionless,
    /// A Lumina node whose connection is open.
    Connected,
    /// A Lumina node whose connection closed; its name may be registered again.
    Disconnected,
}

impl LinkState {
    /// Lower-case name, as shown in status views.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::LinkState;
    /// assert_eq!(LinkState::Connected.as_str(), "connected");
    /// assert_eq!(LinkState::Disconnected.as_str(), "disconnected");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connectionless => "connectionless",
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
        }
    }
}

/// Who may `deregister` or `setstatus` a datahub node.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use components::registry::{NodeTable, Ownership, TableError};
/// let owner = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
/// let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
///
/// let mut strict = NodeTable::new(Ownership::Strict);
/// strict.register(owner, 4000, Duration::ZERO)?;
/// assert!(matches!(strict.deregister(owner, 4000, other), Err(TableError::NotOwner { .. })));
///
/// let mut open = NodeTable::new(Ownership::Open);
/// open.register(owner, 4000, Duration::ZERO)?;
/// assert!(open.deregister(owner, 4000, other).is_ok());
/// # Ok::<(), TableError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ownership {
    /// Only the peer IP that registered the node.
    #[default]
    Strict,
    /// Anyone, as in the original SmartGet datahub (compatibility switch).
    Open,
}

/// One node of the registry, as the table holds it.
///
/// Fields are read through the `&Node` the table hands out; only the table changes them.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use components::registry::NodeTable;
/// let mut table = NodeTable::default();
/// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
/// let (id, _) = table.register(ip, 4000, Duration::from_secs(3))?;
/// let node = table.get(id).ok_or("registered")?;
/// assert_eq!((node.ip, node.port, node.status), (ip, 4000, 0));
/// assert_eq!(node.name, None);
/// assert_eq!(node.last_activity, Duration::from_secs(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Node {
    /// The node's id.
    pub id: NodeId,
    /// The Lumina node name; `None` for datahub nodes.
    pub name: Option<String>,
    /// The peer IP the node registered from.
    pub ip: IpAddr,
    /// Datahub: the port the node listens on. Lumina: the peer port of its connection.
    pub port: u16,
    /// The id the Lumina node declares for itself (`nodeid`).
    pub declared_id: Option<String>,
    /// The Lumina node's host name (`hostname`).
    pub hostname: Option<String>,
    /// The Lumina node's host id (`hostid`).
    pub host_id: Option<String>,
    /// The Lumina node's module (`module`).
    pub module: Option<String>,
    /// Datahub status: 0 = not available, n ≥ 1 = free connections, -1 = zombie.
    pub status: i64,
    /// Why the Lumina node is in its [`color`](Self::color) state.
    pub status_reason: Option<String>,
    /// The Lumina node's reported state.
    pub color: ColorState,
    /// Whether the node is reachable over a live connection.
    pub link: LinkState,
    /// The Lumina connection the node registered over (its latest one once disconnected).
    pub sequence: Option<ConnectionId>,
    /// When the node was last heard from, in the caller's time base.
    pub last_activity: Duration,
    /// Declared event names, without the `<node>/` prefix.
    pub events: BTreeSet<String>,
    /// Declared command names, without the `<node>/` prefix.
    pub commands: BTreeSet<String>,
}

impl Node {
    fn new(id: NodeId, ip: IpAddr, port: u16, link: LinkState, now: Duration) -> Self {
        Self {
            id,
            name: None,
            ip,
            port,
            declared_id: None,
            hostname: None,
            host_id: None,
            module: None,
            status: 0,
            status_reason: None,
            color: ColorState::Off,
            link,
            sequence: None,
            last_activity: now,
            events: BTreeSet::new(),
            commands: BTreeSet::new(),
        }
    }
}

/// What an operation changed in the table, for a component to publish.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use components::registry::{NodeTable, RegistryChange};
/// let mut table = NodeTable::default();
/// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
/// let (id, change) = table.register(ip, 4000, Duration::ZERO)?;
/// assert_eq!(change, RegistryChange::Registered { id, ip, port: 4000, name: None });
/// assert_eq!(table.deregister(ip, 4000, ip)?, RegistryChange::Deregistered { id });
/// # Ok::<(), components::registry::TableError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryChange {
    /// A node was added, or a disconnected Lumina node registered again under its old id.
    Registered {
        /// The node's id.
        id: NodeId,
        /// The peer IP it registered from.
        ip: IpAddr,
        /// Its port (see [`Node::port`]).
        port: u16,
        /// Its Lumina name.
        name: Option<String>,
    },
    /// A datahub node was removed.
    Deregistered {
        /// The removed node's id.
        id: NodeId,
    },
    /// A datahub node's status was set.
    StatusChanged {
        /// The node's id.
        id: NodeId,
        /// The new status.
        status: i64,
    },
    /// `requestnodes` handed nodes out and took one free connection from each.
    Reserved {
        /// Each chosen node with its status after the decrement.
        nodes: Vec<(NodeId, i64)>,
    },
    /// A Lumina node reported a new state or reason.
    ColorChanged {
        /// The node's id.
        id: NodeId,
        /// The new state.
        color: ColorState,
        /// The reason given.
        why: Option<String>,
    },
    /// A Lumina node's connection closed; its events and commands are gone.
    Disconnected {
        /// The node's id.
        id: NodeId,
    },
    /// A disconnected Lumina node was forgotten after the retention time: its name is
    /// free for anyone.
    Forgotten {
        /// The node's id.
        id: NodeId,
        /// Its name.
        name: Option<String>,
    },
}

/// The registry state: every node, its identity, status and declarations.
///
/// Pure and synchronous: no I/O, no clock (callers pass `now` as a [`Duration`] since an
/// epoch of their choosing) and randomness only through a caller-supplied RNG. Every
/// mutating operation returns a [`RegistryChange`] describing what it did.
///
/// Datahub nodes are identified by (peer IP, port); Lumina nodes by name.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use components::registry::{NodeTable, Ownership, RegistryChange};
///
/// let mut table = NodeTable::new(Ownership::Strict);
/// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
/// let (id, _) = table.register(ip, 4000, Duration::ZERO)?;
/// assert_eq!(id.get(), 1);
///
/// let change = table.set_status(id, 2, ip, Duration::from_secs(1))?;
/// assert_eq!(change, RegistryChange::StatusChanged { id, status: 2 });
///
/// let (nodes, _) = table.request_nodes(5, &mut rand::rng());
/// assert_eq!(nodes, vec![(ip, 4000)]);
/// assert_eq!(table.get(id).map(|node| node.status), Some(1));
/// # Ok::<(), components::registry::TableError>(())
/// ```
#[derive(Debug, Clone)]
pub struct NodeTable {
    ownership: Ownership,
    max_nodes: usize,
    nodes: BTreeMap<NodeId, Node>,
    endpoints: HashMap<(IpAddr, u16), NodeId>,
    names: HashMap<String, NodeId>,
    connections: HashMap<ConnectionId, NodeId>,
    /// Datahub nodes with status > 0, so `request_nodes` need not scan every node.
    free: Vec<NodeId>,
    /// Where each node of `free` sits in it.
    free_at: HashMap<NodeId, usize>,
    last_id: u64,
    last_connection: u64,
}

impl Default for NodeTable {
    fn default() -> Self {
        Self {
            ownership: Ownership::default(),
            max_nodes: Self::DEFAULT_MAX_NODES,
            nodes: BTreeMap::new(),
            endpoints: HashMap::new(),
            names: HashMap::new(),
            connections: HashMap::new(),
            free: Vec::new(),
            free_at: HashMap::new(),
            last_id: 0,
            last_connection: 0,
        }
    }
}

impl NodeTable {
    /// How many nodes a table holds at most unless told otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeTable;
    /// assert_eq!(NodeTable::default().node_limit(), NodeTable::DEFAULT_MAX_NODES);
    /// ```
    pub const DEFAULT_MAX_NODES: usize = 10_000;

    /// Hold at most `max` nodes; a registration beyond it is refused with
    /// [`TableError::Full`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::{NodeTable, TableError};
    /// let mut table = NodeTable::default().max_nodes(1);
    /// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    /// table.register(ip, 4000, Duration::ZERO)?;
    /// assert_eq!(table.register(ip, 4001, Duration::ZERO).map(|_| ()), Err(TableError::Full { max: 1 }));
    /// # Ok::<(), TableError>(())
    /// ```
    pub fn max_nodes(mut self, max: usize) -> Self {
        self.max_nodes = max;
        self
    }

    /// The most nodes this table holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeTable;
    /// assert_eq!(NodeTable::default().max_nodes(5).node_limit(), 5);
    /// ```
    pub fn node_limit(&self) -> usize {
        self.max_nodes
    }

    fn check_room(&self) -> Result<(), TableError> {
        if self.nodes.len() >= self.max_nodes {
            return Err(TableError::Full {
                max: self.max_nodes,
            });
        }
        Ok(())
    }

    /// An empty table with the given ownership rule.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{NodeTable, Ownership};
    /// let table = NodeTable::new(Ownership::Open);
    /// assert!(table.is_empty());
    /// assert_eq!(table.ownership(), Ownership::Open);
    /// ```
    pub fn new(ownership: Ownership) -> Self {
        Self {
            ownership,
            ..Self::default()
        }
    }

    /// The ownership rule in force.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{NodeTable, Ownership};
    /// assert_eq!(NodeTable::default().ownership(), Ownership::Strict);
    /// ```
    pub fn ownership(&self) -> Ownership {
        self.ownership
    }

    /// How many nodes the table holds (disconnected Lumina nodes included).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// let mut table = NodeTable::default();
    /// let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    /// table.register(ip, 4000, Duration::ZERO)?;
    /// table.register(ip, 4001, Duration::ZERO)?;
    /// assert_eq!(table.len(), 2);
    /// # Ok::<(), components::registry::TableError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the table holds no node.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// let mut table = NodeTable::default();
    /// assert!(table.is_empty());
    /// table.register(IpAddr::V4(Ipv4Addr::LOCALHOST), 4000, Duration::ZERO)?;
    /// assert!(!table.is_empty());
    /// # Ok::<(), components::registry::TableError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node with this id.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::{NodeId, NodeTable};
    /// let mut table = NodeTable::default();
    /// let (id, _) = table.register(IpAddr::V4(Ipv4Addr::LOCALHOST), 4000, Duration::ZERO)?;
    /// assert_eq!(table.get(id).map(|node| node.port), Some(4000));
    /// assert!(table.get(NodeId::new(99)).is_none());
    /// # Ok::<(), components::registry::TableError>(())
    /// ```
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(&id)
    }

    /// The datahub node registered from `ip` listening on `port`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// let mut table = NodeTable::default();
    /// let v4 = Ipv4Addr::new(10, 0, 0, 5);
    /// let (id, _) = table.register(IpAddr::V4(v4), 4000, Duration::ZERO)?;
    /// // An IPv4-mapped IPv6 address finds the same node.
    /// let mapped = IpAddr::V6(v4.to_ipv6_mapped());
    /// assert_eq!(table.by_endpoint(mapped, 4000).map(|node| node.id), Some(id));
    /// assert!(table.by_endpoint(IpAddr::V4(v4), 4001).is_none());
    /// # Ok::<(), components::registry::TableError>(())
    /// ```
    pub fn by_endpoint(&self, ip: IpAddr, port: u16) -> Option<&Node> {
        let id = self.endpoints.get(&(ip.to_canonical(), port))?;
        self.nodes.get(id)
    }

    /// The Lumina node with this name, connected or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::Registration;
    /// let mut table = NodeTable::default();
    /// let conn = table.open_connection();
    /// let lamp = Registration { node: "lamp".into(), ..Registration::default() };
    /// let (id, _) = table.register_node(conn, "10.0.0.5:5000".parse()?, &lamp, Duration::ZERO)?;
    /// assert_eq!(table.by_name("lamp").map(|node| node.id), Some(id));
    /// assert!(table.by_name("fan").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn by_name(&self, name: &str) -> Option<&Node> {
        self.nodes.get(self.names.get(name)?)
    }

    /// The Lumina node registered over this connection, while it is open.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::Registration;
    /// let mut table = NodeTable::default();
    /// let conn = table.open_connection();
    /// let lamp = Registration { node: "lamp".into(), ..Registration::default() };
    /// table.register_node(conn, "10.0.0.5:5000".parse()?, &lamp, Duration::ZERO)?;
    /// assert_eq!(table.by_connection(conn).and_then(|node| node.name.as_deref()), Some("lamp"));
    /// table.disconnect(conn);
    /// assert!(table.by_connection(conn).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn by_connection(&self, conn: ConnectionId) -> Option<&Node> {
        self.nodes.get(self.connections.get(&conn)?)
    }

    /// Every node, in id order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// let mut table = NodeTable::default();
    /// let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    /// table.register(ip, 4001, Duration::ZERO)?;
    /// table.register(ip, 4000, Duration::ZERO)?;
    /// let ports: Vec<u16> = table.iter().map(|node| node.port).collect();
    /// assert_eq!(ports, [4001, 4000]); // id order, i.e. registration order
    /// # Ok::<(), components::registry::TableError>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    fn next_id(&mut self) -> NodeId {
        self.last_id += 1;
        NodeId(self.last_id)
    }

    // ---- SmartGet datahub ----

    /// Registers a datahub node identified by (`ip`, `port`) with status 0.
    ///
    /// IPv4-mapped IPv6 addresses are stored as IPv4, so a dual-stack listener and an
    /// IPv4 one see the same identities.
    ///
    /// # Errors
    ///
    /// [`TableError::Duplicate`] if that identity is already registered.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::{NodeTable, TableError};
    /// let mut table = NodeTable::default();
    /// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    /// let (id, _) = table.register(ip, 4000, Duration::ZERO)?;
    /// assert_eq!(id.get(), 1);
    /// assert!(matches!(table.register(ip, 4000, Duration::ZERO), Err(TableError::Duplicate { .. })));
    /// # Ok::<(), TableError>(())
    /// ```
    pub fn register(
        &mut self,
        ip: IpAddr,
        port: u16,
        now: Duration,
    ) -> Result<(NodeId, RegistryChange), TableError> {
        let ip = ip.to_canonical();
        if self.endpoints.contains_key(&(ip, port)) {
            return Err(TableError::Duplicate { ip, port });
        }
        self.check_room()?;
        let id = self.next_id();
        self.nodes
            .insert(id, Node::new(id, ip, port, LinkState::Connectionless, now));
        self.endpoints.insert((ip, port), id);
        let change = RegistryChange::Registered {
            id,
            ip,
            port,
            name: None,
        };
        Ok((id, change))
    }

    /// Removes the datahub node (`ip`, `port`) on behalf of `requester`.
    ///
    /// # Errors
    ///
    /// [`TableError::UnknownEndpoint`] if no such node is registered;
    /// [`TableError::NotOwner`] under [`Ownership::Strict`] when `requester` is not the
    /// IP the node registered from.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::{NodeTable, TableError};
    /// let mut table = NodeTable::default();
    /// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    /// table.register(ip, 4000, Duration::ZERO)?;
    /// table.deregister(ip, 4000, ip)?;
    /// assert!(table.is_empty());
    /// assert!(matches!(table.deregister(ip, 4000, ip), Err(TableError::UnknownEndpoint { .. })));
    /// # Ok::<(), TableError>(())
    /// ```
    pub fn deregister(
        &mut self,
        ip: IpAddr,
        port: u16,
        requester: IpAddr,
    ) -> Result<RegistryChange, TableError> {
        let ip = ip.to_canonical();
        let id = *self
            .endpoints
            .get(&(ip, port))
            .ok_or(TableError::UnknownEndpoint { ip, port })?;
        self.check_owner(id, ip, requester)?;
        self.endpoints.remove(&(ip, port));
        self.nodes.remove(&id);
        self.mark_free(id, false);
        Ok(RegistryChange::Deregistered { id })
    }

    /// Picks up to `n` nodes at random among those with status > 0 and takes one free
    /// connection from each (status − 1).
    ///
    /// Returns the chosen nodes' (IP, port) in random order, and a
    /// [`RegistryChange::Reserved`] unless nothing was chosen.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::{NodeTable, RegistryChange};
    /// let mut table = NodeTable::default();
    /// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    /// let (id, _) = table.register(ip, 4000, Duration::ZERO)?;
    /// table.register(ip, 4001, Duration::ZERO)?; // status 0: never handed out
    /// table.set_status(id, 1, ip, Duration::ZERO)?;
    ///
    /// let (nodes, change) = table.request_nodes(3, &mut rand::rng());
    /// assert_eq!(nodes, [(ip, 4000)]);
    /// assert_eq!(change, Some(RegistryChange::Reserved { nodes: vec![(id, 0)] }));
    /// // Its only free connection is taken now.
    /// assert_eq!(table.request_nodes(3, &mut rand::rng()), (vec![], None));
    /// # Ok::<(), components::registry::TableError>(())
    /// ```
    pub fn request_nodes<R: Rng + ?Sized>(
        &mut self,
        n: usize,
        rng: &mut R,
    ) -> (Vec<(IpAddr, u16)>, Option<RegistryChange>) {
        let amount = n.min(self.free.len());
        let chosen: Vec<NodeId> = index::sample(rng, self.free.len(), amount)
            .into_iter()
            .map(|at| self.free[at])
            .collect();
        let mut endpoints = Vec::with_capacity(chosen.len());
        let mut reserved = Vec::with_capacity(chosen.len());
        for id in chosen {
            let Some(node) = self.nodes.get_mut(&id) else {
                continue;
            };
            node.status -= 1;
            endpoints.push((node.ip, node.port));
            reserved.push((node.id, node.status));
            let still_free = node.status > 0;
            self.mark_free(id, still_free);
        }
        let change = (!reserved.is_empty()).then_some(RegistryChange::Reserved { nodes: reserved });
        (endpoints, change)
    }

    /// Keeps the index of free nodes in step with a node's status.
    fn mark_free(&mut self, id: NodeId, free: bool) {
        match (free, self.free_at.get(&id).copied()) {
            (true, None) => {
                self.free_at.insert(id, self.free.len());
                self.free.push(id);
            }
            (false, Some(at)) => {
                self.free_at.remove(&id);
                self.free.swap_remove(at);
                if let Some(&moved) = self.free.get(at) {
                    self.free_at.insert(moved, at);
                }
            }
            (true, Some(_)) | (false, None) => {}
        }
    }

    /// Sets a node's datahub status on behalf of `requester`.
    ///
    /// # Errors
    ///
    /// [`TableError::InvalidStatus`] for a status below -1; [`TableError::UnknownId`] for
    /// an id the table does not hold (including 0, the hub); [`TableError::NotOwner`]
    /// under [`Ownership::Strict`] when `requester` is not the IP the node registered from.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::{NodeId, NodeTable, TableError};
    /// let mut table = NodeTable::default();
    /// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    /// let (id, _) = table.register(ip, 4000, Duration::ZERO)?;
    /// table.set_status(id, 3, ip, Duration::from_secs(1))?;
    /// assert_eq!(table.get(id).map(|node| node.status), Some(3));
    /// assert!(matches!(table.set_status(id, -2, ip, Duration::ZERO), Err(TableError::InvalidStatus(-2))));
    /// assert!(matches!(table.set_status(NodeId::HUB, 1, ip, Duration::ZERO), Err(TableError::UnknownId(_))));
    /// # Ok::<(), TableError>(())
    /// ```
    pub fn set_status(
        &mut self,
        id: NodeId,
        status: i64,
        requester: IpAddr,
        now: Duration,
    ) -> Result<RegistryChange, TableError> {
        if status < -1 {
            return Err(TableError::InvalidStatus(status));
        }
        let owner = self.nodes.get(&id).ok_or(TableError::UnknownId(id))?.ip;
        self.check_owner(id, owner, requester)?;
        if let Some(node) = self.nodes.get_mut(&id) {
            node.status = status;
            node.last_activity = now;
        }
        self.mark_free(id, status > 0);
        Ok(RegistryChange::StatusChanged { id, status })
    }

    fn check_owner(&self, id: NodeId, owner: IpAddr, requester: IpAddr) -> Result<(), TableError> {
        let requester = requester.to_canonical();
        match self.ownership {
            Ownership::Strict if owner != requester => Err(TableError::NotOwner {
                id,
                owner,
                requester,
            }),
            Ownership::Strict | Ownership::Open => Ok(()),
        }
    }

    // ---- Lumina node server ----

    /// Hands out the next connection sequence number (1, 2, 3 …).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeTable;
    /// let mut table = NodeTable::default();
    /// let a = table.open_connection();
    /// let b = table.open_connection();
    /// assert!(a < b);
    /// assert!(table.is_empty()); // a connection is not a node
    /// ```
    pub fn open_connection(&mut self) -> ConnectionId {
        self.last_connection += 1;
        ConnectionId(self.last_connection)
    }

    /// Registers the Lumina node described by `registration` on connection `conn`, whose
    /// peer is `peer`.
    ///
    /// A name seen before whose node is disconnected is taken over: the node keeps its
    /// id and gets the new connection, details, events and commands. A new name gets a
    /// new id. The node starts in state OFF until it reports a status.
    ///
    /// # Errors
    ///
    /// [`TableError::NameTaken`] if a connected node holds the name;
    /// [`TableError::AlreadyRegistered`] if `conn` already registered a node.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{LinkState, NodeTable, TableError};
    /// use components::registry::lumina::Registration;
    /// let mut table = NodeTable::default();
    /// let lamp = Registration { node: "lamp".into(), ..Registration::default() };
    /// let peer = "10.0.0.5:5000".parse()?;
    ///
    /// let first = table.open_connection();
    /// let (id, _) = table.register_node(first, peer, &lamp, Duration::ZERO)?;
    /// let second = table.open_connection();
    /// assert!(matches!(
    ///     table.register_node(second, peer, &lamp, Duration::ZERO),
    ///     Err(TableError::NameTaken { .. })
    /// ));
    ///
    /// // Once disconnected, the name may register again and keeps its id.
    /// table.disconnect(first);
    /// let (again, _) = table.register_node(second, peer, &lamp, Duration::ZERO)?;
    /// assert_eq!(again, id);
    /// assert_eq!(table.get(id).map(|node| node.link), Some(LinkState::Connected));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_node(
        &mut self,
        conn: ConnectionId,
        peer: SocketAddr,
        registration: &Registration,
        now: Duration,
    ) -> Result<(NodeId, RegistryChange), TableError> {
        if let Some(node) = self.by_connection(conn) {
            return Err(TableError::AlreadyRegistered {
                conn,
                name: node.name.clone().unwrap_or_default(),
            });
        }
        let ip = peer.ip().to_canonical();
        let id = match self.by_name(&registration.node) {
            Some(node) if node.link == LinkState::Connected => {
                return Err(TableError::NameTaken {
                    name: registration.node.clone(),
                    peer: node.ip,
                });
            }
            Some(node) if node.ip != ip && self.ownership == Ownership::Strict => {
                return Err(TableError::NameReserved {
                    name: registration.node.clone(),
                    owner: node.ip,
                    requester: ip,
                });
            }
            Some(node) => node.id,
            None => {
                self.check_room()?;
                self.next_id()
            }
        };
        let mut node = Node::new(id, ip, peer.port(), LinkState::Connected, now);
        node.name = Some(registration.node.clone());
        node.declared_id.clone_from(&registration.node_id);
        node.hostname.clone_from(&registration.hostname);
        node.host_id.clone_from(&registration.host_id);
        node.module.clone_from(&registration.module);
        node.sequence = Some(conn);
        node.events.clone_from(&registration.events);
        node.commands.clone_from(&registration.commands);
        self.nodes.insert(id, node);
        // A name registering again starts over at status 0: not free.
        self.mark_free(id, false);
        self.names.insert(registration.node.clone(), id);
        self.connections.insert(conn, id);
        let change = RegistryChange::Registered {
            id,
            ip,
            port: peer.port(),
            name: Some(registration.node.clone()),
        };
        Ok((id, change))
    }

    /// Records the state a Lumina node reported over `conn`.
    ///
    /// Returns `None` when neither the state nor the reason changed.
    ///
    /// # Errors
    ///
    /// [`TableError::NotRegistered`] if no node is registered over `conn`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{NodeTable, RegistryChange};
    /// use components::registry::lumina::{ColorState, Registration};
    /// let mut table = NodeTable::default();
    /// let conn = table.open_connection();
    /// let lamp = Registration { node: "lamp".into(), ..Registration::default() };
    /// let (id, _) = table.register_node(conn, "10.0.0.5:5000".parse()?, &lamp, Duration::ZERO)?;
    ///
    /// let change = table.set_color(conn, ColorState::Green, None, Duration::ZERO)?;
    /// assert_eq!(change, Some(RegistryChange::ColorChanged { id, color: ColorState::Green, why: None }));
    /// // Reporting the same state again changes nothing.
    /// assert_eq!(table.set_color(conn, ColorState::Green, None, Duration::ZERO)?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_color(
        &mut self,
        conn: ConnectionId,
        color: ColorState,
        why: Option<String>,
        now: Duration,
    ) -> Result<Option<RegistryChange>, TableError> {
        let node = self
            .connections
            .get(&conn)
            .and_then(|id| self.nodes.get_mut(id))
            .ok_or(TableError::NotRegistered(conn))?;
        node.last_activity = now;
        if node.color == color && node.status_reason == why {
            return Ok(None);
        }
        node.color = color;
        node.status_reason.clone_from(&why);
        Ok(Some(RegistryChange::ColorChanged {
            id: node.id,
            color,
            why,
        }))
    }

    /// Notes that the node on `conn` (if any) was heard from at `now`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::Registration;
    /// let mut table = NodeTable::default();
    /// let conn = table.open_connection();
    /// let lamp = Registration { node: "lamp".into(), ..Registration::default() };
    /// let (id, _) = table.register_node(conn, "10.0.0.5:5000".parse()?, &lamp, Duration::ZERO)?;
    /// table.touch(conn, Duration::from_secs(30));
    /// assert_eq!(table.get(id).map(|node| node.last_activity), Some(Duration::from_secs(30)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn touch(&mut self, conn: ConnectionId, now: Duration) {
        if let Some(node) = self
            .connections
            .get(&conn)
            .and_then(|id| self.nodes.get_mut(id))
        {
            node.last_activity = now;
        }
    }

    /// Marks the node on `conn` disconnected: its events and commands are removed and
    /// its state becomes OFF. The record stays (for status views) and its name may be
    /// registered again.
    ///
    /// Returns `None` if no node was registered over `conn`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{LinkState, NodeTable, RegistryChange};
    /// use components::registry::lumina::Registration;
    /// let mut table = NodeTable::default();
    /// let conn = table.open_connection();
    /// let lamp = Registration {
    ///     node: "lamp".into(),
    ///     events: ["dimmed".to_string()].into(),
    ///     ..Registration::default()
    /// };
    /// let (id, _) = table.register_node(conn, "10.0.0.5:5000".parse()?, &lamp, Duration::ZERO)?;
    /// assert_eq!(table.disconnect(conn), Some(RegistryChange::Disconnected { id }));
    /// let node = table.get(id).ok_or("the record stays")?;
    /// assert_eq!(node.link, LinkState::Disconnected);
    /// assert!(node.events.is_empty());
    /// assert_eq!(table.disconnect(conn), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn disconnect(&mut self, conn: ConnectionId) -> Option<RegistryChange> {
        let id = self.connections.remove(&conn)?;
        let node = self.nodes.get_mut(&id)?;
        node.link = LinkState::Disconnected;
        // A node that is gone has no free connections to hand out.
        node.status = 0;
        node.color = ColorState::Off;
        node.status_reason = None;
        node.events.clear();
        node.commands.clear();
        self.mark_free(id, false);
        Some(RegistryChange::Disconnected { id })
    }

    /// Forgets every disconnected Lumina node last heard from at or before `cutoff`
    /// (now minus the retention time): its name becomes free for anyone.
    ///
    /// Returns a [`RegistryChange::Forgotten`] per node forgotten.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{NodeTable, RegistryChange};
    /// use components::registry::lumina::Registration;
    /// let mut table = NodeTable::default();
    /// let conn = table.open_connection();
    /// let lamp = Registration { node: "lamp".into(), ..Registration::default() };
    /// table.register_node(conn, "10.0.0.2:5000".parse()?, &lamp, Duration::from_secs(10))?;
    /// table.disconnect(conn);
    /// assert!(table.forget_disconnected(Duration::from_secs(9)).is_empty());
    /// let forgotten = table.forget_disconnected(Duration::from_secs(10));
    /// assert!(matches!(&forgotten[..], [RegistryChange::Forgotten { .. }]));
    /// assert!(table.by_name("lamp").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forget_disconnected(&mut self, cutoff: Duration) -> Vec<RegistryChange> {
        let stale: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|node| node.link == LinkState::Disconnected && node.last_activity <= cutoff)
            .map(|node| node.id)
            .collect();
        stale
            .into_iter()
            .filter_map(|id| {
                let node = self.nodes.remove(&id)?;
                if let Some(name) = &node.name {
                    self.names.remove(name);
                }
                self.mark_free(id, false);
                Some(RegistryChange::Forgotten {
                    id,
                    name: node.name,
                })
            })
            .collect()
    }

    /// When the earliest disconnected Lumina node was last heard from, if any is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeTable;
    /// assert_eq!(NodeTable::default().oldest_disconnected(), None);
    /// ```
    pub fn oldest_disconnected(&self) -> Option<Duration> {
        self.nodes
            .values()
            .filter(|node| node.link == LinkState::Disconnected)
            .map(|node| node.last_activity)
            .min()
    }

    /// The connected node declaring the event `<node>/<event>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::Registration;
    /// let mut table = NodeTable::default();
    /// let conn = table.open_connection();
    /// let lamp = Registration {
    ///     node: "hall/lamp".into(),
    ///     events: ["dimmed".to_string()].into(),
    ///     ..Registration::default()
    /// };
    /// let (id, _) = table.register_node(conn, "10.0.0.5:5000".parse()?, &lamp, Duration::ZERO)?;
    /// // Node names may contain `/`.
    /// assert_eq!(table.find_event("hall/lamp/dimmed"), Some(id));
    /// assert_eq!(table.find_event("hall/lamp/on"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_event(&self, full_name: &str) -> Option<NodeId> {
        self.split_target(full_name)
            .find(|(node, event)| node.events.contains(*event))
            .map(|(node, _)| node.id)
    }

    /// The connected node declaring the command `<node>/<cmd>`, with the connection to
    /// forward it over.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::Registration;
    /// let mut table = NodeTable::default();
    /// let conn = table.open_connection();
    /// let lamp = Registration {
    ///     node: "lamp".into(),
    ///     commands: ["on".to_string()].into(),
    ///     ..Registration::default()
    /// };
    /// let (id, _) = table.register_node(conn, "10.0.0.5:5000".parse()?, &lamp, Duration::ZERO)?;
    /// assert_eq!(table.find_command("lamp/on"), Some((id, conn)));
    /// table.disconnect(conn);
    /// assert_eq!(table.find_command("lamp/on"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_command(&self, full_name: &str) -> Option<(NodeId, ConnectionId)> {
        self.split_target(full_name)
            .find(|(node, command)| node.commands.contains(*command))
            .and_then(|(node, _)| Some((node.id, node.sequence?)))
    }

    /// Every way to read `full_name` as `<connected node>/<rest>`: node names may
    /// themselves contain `/`.
    fn split_target<'a>(&'a self, full_name: &'a str) -> impl Iterator<Item = (&'a Node, &'a str)> {
        full_name.match_indices('/').filter_map(move |(at, _)| {
            let node = self.by_name(&full_name[..at])?;
            let rest = &full_name[at + 1..];
            (node.link == LinkState::Connected).then_some((node, rest))
        })
    }

    /// The state of all connected Lumina nodes, combined by [`ColorState::combine`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{ColorState, Registration};
    /// let mut table = NodeTable::default();
    /// assert_eq!(table.combined_color(), ColorState::Off);
    /// for (name, color) in [("lamp", ColorState::Green), ("fan", ColorState::Red)] {
    ///     let conn = table.open_connection();
    ///     let node = Registration { node: name.into(), ..Registration::default() };
    ///     table.register_node(conn, "10.0.0.5:5000".parse()?, &node, Duration::ZERO)?;
    ///     table.set_color(conn, color, None, Duration::ZERO)?;
    /// }
    /// assert_eq!(table.combined_color(), ColorState::Red);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn combined_color(&self) -> ColorState {
        ColorState::combine(
            self.nodes
                .values()
                .filter(|node| node.link == LinkState::Connected)
                .map(|node| node.color),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const T0: Duration = Duration::ZERO;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn table_with_free(statuses: &[i64]) -> (NodeTable, Vec<NodeId>) {
        let mut table = NodeTable::default();
        let mut ids = Vec::new();
        for (port, &status) in (1000..).zip(statuses) {
            let Ok((id, _)) = table.register(ip(1), port, T0) else {
                panic!("fresh endpoint refused");
            };
            assert!(table.set_status(id, status, ip(1), T0).is_ok());
            ids.push(id);
        }
        (table, ids)
    }

    #[test]
    fn thousand_registrations_get_thousand_distinct_sequential_ids() {
        let mut table = NodeTable::default();
        let ids: Vec<u64> = (1..=1000u16)
            .map(|port| table.register(ip(1), port, T0).map(|(id, _)| id.get()))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        assert_eq!(ids, (1..=1000).collect::<Vec<_>>());
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1000);
        assert_eq!(table.len(), 1000);
    }

    #[test]
    fn ids_are_never_reused_after_deregister() {
        let mut table = NodeTable::default();
        assert!(table.register(ip(1), 1, T0).is_ok());
        assert!(table.deregister(ip(1), 1, ip(1)).is_ok());
        assert_eq!(table.register(ip(1), 1, T0).map(|(id, _)| id.get()), Ok(2));
    }

    #[test]
    fn identity_is_ip_and_port() {
        let mut table = NodeTable::default();
        assert!(table.register(ip(1), 80, T0).is_ok());
        assert!(table.register(ip(2), 80, T0).is_ok());
        assert!(table.register(ip(1), 81, T0).is_ok());
        assert_eq!(
            table.register(ip(1), 80, T0),
            Err(TableError::Duplicate {
                ip: ip(1),
                port: 80
            })
        );
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert!(matches!(
            table.register(mapped, 80, T0),
            Err(TableError::Duplicate { .. })
        ));
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn new_nodes_start_not_available() {
        let mut table = NodeTable::default();
        assert!(table.register(ip(1), 80, T0).is_ok());
        let (nodes, change) = table.request_nodes(3, &mut StdRng::seed_from_u64(1));
        assert!(nodes.is_empty());
        assert_eq!(change, None);
        assert_eq!(table.by_endpoint(ip(1), 80).map(|n| n.status), Some(0));
    }

    #[test]
    fn request_nodes_picks_only_free_nodes_and_decrements() {
        let (mut table, ids) = table_with_free(&[0, 2, -1, 1]);
        let mut rng = StdRng::seed_from_u64(7);
        let (nodes, change) = table.request_nodes(10, &mut rng);
        let mut ports: Vec<u16> = nodes.iter().map(|&(_, port)| port).collect();
        ports.sort_unstable();
        assert_eq!(ports, vec![1001, 1003]);
        let Some(RegistryChange::Reserved {
            nodes: mut reserved,
        }) = change
        else {
            panic!("expected a reservation, got {change:?}");
        };
        reserved.sort();
        assert_eq!(reserved, vec![(ids[1], 1), (ids[3], 0)]);
        let statuses: Vec<i64> = table.iter().map(|n| n.status).collect();
        assert_eq!(statuses, vec![0, 1, -1, 0]);

        let (nodes, _) = table.request_nodes(10, &mut rng);
        assert_eq!(nodes, vec![(ip(1), 1001)]);
        let (nodes, change) = table.request_nodes(10, &mut rng);
        assert!(nodes.is_empty());
        assert_eq!(change, None);
    }

    #[test]
    fn request_nodes_is_reproducible_with_a_seed_and_covers_every_free_node() {
        let pick = |seed| {
            let (mut table, _) = table_with_free(&[1; 10]);
            table.request_nodes(3, &mut StdRng::seed_from_u64(seed)).0
        };
        assert_eq!(pick(42), pick(42));
        let mut seen = HashSet::new();
        for seed in 0..200 {
            let picked = pick(seed);
            assert_eq!(picked.len(), 3);
            assert_eq!(picked.iter().collect::<HashSet<_>>().len(), 3);
            seen.extend(picked);
        }
        assert_eq!(seen.len(), 10, "some free node was never chosen");
        let first_differs = (0..50).map(pick).collect::<HashSet<_>>().len() > 1;
        assert!(first_differs, "different seeds always gave the same pick");
    }

    #[test]
    fn lumina_nodes_leave_the_free_list_when_they_disconnect_or_register_again() {
        let mut table = NodeTable::new(Ownership::Strict);
        let lamp = Registration {
            node: "lamp".into(),
            ..Registration::default()
        };
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let conn = table.open_connection();
        let (id, _) = table
            .register_node(
                conn,
                "10.0.0.5:5000".parse().unwrap(),
                &lamp,
                Duration::ZERO,
            )
            .unwrap();
        table.set_status(id, 1, ip, Duration::ZERO).unwrap();
        table.disconnect(conn);
        let mut rng = StdRng::seed_from_u64(1);
        let (nodes, _) = table.request_nodes(5, &mut rng);
        assert!(nodes.is_empty(), "a disconnected node was handed out");
        let conn2 = table.open_connection();
        table
            .register_node(
                conn2,
                "10.0.0.5:5001".parse().unwrap(),
                &lamp,
                Duration::ZERO,
            )
            .unwrap();
        let (nodes, _) = table.request_nodes(5, &mut rng);
        assert!(nodes.is_empty(), "a node back at status 0 was handed out");
        assert_eq!(table.get(id).map(|n| n.status), Some(0));
    }

    #[test]
    fn the_free_index_follows_every_status_change() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut table = NodeTable::default();
        for port in 1..=40u16 {
            assert!(table.register(ip(1), port, T0).is_ok());
        }
        for step in 0..2000u64 {
            let id = NodeId::new(rng.random_range(1..=45));
            match step % 4 {
                0 | 1 => {
                    let _ = table.set_status(id, rng.random_range(-1..4), ip(1), T0);
                }
                2 => {
                    let (nodes, _) = table.request_nodes(rng.random_range(0..6), &mut rng);
                    let distinct: HashSet<_> = nodes.iter().collect();
                    assert_eq!(distinct.len(), nodes.len(), "a node chosen twice");
                }
                _ => {
                    let port = u16::try_from(id.get()).unwrap_or(0);
                    if table.deregister(ip(1), port, ip(1)).is_ok() {
                        assert!(table.register(ip(1), port, T0).is_ok());
                    }
                }
            }
            let mut free: Vec<NodeId> = table.free.clone();
            free.sort();
            let expected: Vec<NodeId> = table
                .iter()
                .filter(|n| n.status > 0)
                .map(|n| n.id)
                .collect();
            assert_eq!(free, expected, "after step {step}");
            for (at, id) in table.free.iter().enumerate() {
                assert_eq!(table.free_at.get(id), Some(&at));
            }
        }
    }

    #[test]
    fn strict_ownership_refuses_other_peers() {
        let mut table = NodeTable::new(Ownership::Strict);
        let Ok((id, _)) = table.register(ip(1), 80, T0) else {
            panic!("register failed");
        };
        assert_eq!(
            table.set_status(id, 3, ip(2), T0),
            Err(TableError::NotOwner {
                id,
                owner: ip(1),
                requester: ip(2)
            })
        );
        assert!(matches!(
            table.deregister(ip(1), 80, ip(2)),
            Err(TableError::NotOwner { .. })
        ));
        assert_eq!(table.get(id).map(|n| n.status), Some(0));
        assert!(table.set_status(id, 3, ip(1), T0).is_ok());
        assert!(table.deregister(ip(1), 80, ip(1)).is_ok());
    }

    #[test]
    fn open_ownership_lets_anyone_change_any_node() {
        let mut table = NodeTable::new(Ownership::Open);
        let Ok((id, _)) = table.register(ip(1), 80, T0) else {
            panic!("register failed");
        };
        assert_eq!(
            table.set_status(id, 3, ip(9), T0),
            Ok(RegistryChange::StatusChanged { id, status: 3 })
        );
        assert_eq!(
            table.deregister(ip(1), 80, ip(9)),
            Ok(RegistryChange::Deregistered { id })
        );
        assert!(table.is_empty());
    }

    #[test]
    fn set_status_validates_id_and_range() {
        let mut table = NodeTable::default();
        assert!(table.register(ip(1), 80, T0).is_ok());
        assert_eq!(
            table.set_status(NodeId::HUB, 1, ip(1), T0),
            Err(TableError::UnknownId(NodeId::HUB))
        );
        assert_eq!(
            table.set_status(NodeId::new(1), -2, ip(1), T0),
            Err(TableError::InvalidStatus(-2))
        );
        assert!(
            table
                .set_status(NodeId::new(1), -1, ip(1), Duration::from_secs(5))
                .is_ok()
        );
        assert_eq!(
            table
                .get(NodeId::new(1))
                .map(|n| (n.status, n.last_activity)),
            Some((-1, Duration::from_secs(5)))
        );
    }

    fn registration(name: &str) -> Registration {
        Registration {
            node: name.to_owned(),
            events: BTreeSet::from(["ding".to_owned()]),
            commands: BTreeSet::from(["on".to_owned()]),
            ..Registration::default()
        }
    }

    fn peer() -> SocketAddr {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 40000)
    }

    #[test]
    fn lumina_names_are_unique_while_connected_and_keep_their_id() {
        let mut table = NodeTable::default();
        let (c1, c2) = (table.open_connection(), table.open_connection());
        assert_eq!((c1.get(), c2.get()), (1, 2));
        let Ok((id, _)) = table.register_node(c1, peer(), &registration("door"), T0) else {
            panic!("first registration refused");
        };
        assert!(matches!(
            table.register_node(c2, peer(), &registration("door"), T0),
            Err(TableError::NameTaken { .. })
        ));
        assert!(matches!(
            table.register_node(c1, peer(), &registration("bell"), T0),
            Err(TableError::AlreadyRegistered { .. })
        ));
        assert_eq!(table.find_command("door/on"), Some((id, c1)));
        assert_eq!(
            table.disconnect(c1),
            Some(RegistryChange::Disconnected { id })
        );
        assert_eq!(table.find_command("door/on"), None);
        assert_eq!(table.find_event("door/ding"), None);
        let again = table.register_node(c2, peer(), &registration("door"), T0);
        assert_eq!(again.map(|(again, _)| again), Ok(id));
        assert_eq!(table.find_event("door/ding"), Some(id));
        assert_eq!(table.by_name("door").and_then(|n| n.sequence), Some(c2));
    }

    #[test]
    fn lookup_handles_slashes_in_node_names() {
        let mut table = NodeTable::default();
        let conn = table.open_connection();
        let Ok((id, _)) = table.register_node(conn, peer(), &registration("hall/door"), T0) else {
            panic!("registration refused");
        };
        assert_eq!(table.find_event("hall/door/ding"), Some(id));
        assert_eq!(table.find_event("hall/ding"), None);
        assert_eq!(table.find_event("nothing"), None);
    }

    #[test]
    fn set_color_reports_only_changes_and_feeds_the_combined_state() {
        let mut table = NodeTable::default();
        let (c1, c2) = (table.open_connection(), table.open_connection());
        assert_eq!(table.combined_color(), ColorState::Off);
        assert!(
            table
                .register_node(c1, peer(), &registration("a"), T0)
                .is_ok()
        );
        assert!(
            table
                .register_node(c2, peer(), &registration("b"), T0)
                .is_ok()
        );
        let why = Some("up".to_owned());
        assert!(matches!(
            table.set_color(c1, ColorState::Green, why.clone(), T0),
            Ok(Some(RegistryChange::ColorChanged { .. }))
        ));
        assert_eq!(table.set_color(c1, ColorState::Green, why, T0), Ok(None));
        assert_eq!(table.combined_color(), ColorState::Yellow);
        assert!(table.set_color(c2, ColorState::Green, None, T0).is_ok());
        assert_eq!(table.combined_color(), ColorState::Green);
        assert!(table.disconnect(c2).is_some());
        assert_eq!(table.combined_color(), ColorState::Green);
        let stranger = table.open_connection();
        assert_eq!(
            table.set_color(stranger, ColorState::Red, None, T0),
            Err(TableError::NotRegistered(stranger))
        );
    }
}
