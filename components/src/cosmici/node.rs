//! The server's model of the sensor nodes: a pure state machine per node, a
//! registry fed by MAIN commands, and the run-readiness check.
//!
//! Nothing here reads a clock: every method that needs the time takes `now`,
//! nanoseconds on any monotonic scale the caller likes.
//!
//! ```text
//!            PoweredOn / any message
//!  UNSEEN ───────────────────────────▶ ON ◀──────── any message ──────── ON_AWOL
//!                                      │  ╲──── silence > awol_after ────▶   │
//!                         RunStarted ▲ │ RunEnded                 RunStarted │ ▲ RunEnded
//!                                    │ ▼                                     ▼ │
//!                                   RUNNING ── silence > awol_after ──▶ RUNNING_AWOL
//!                                      ▲──────────── any message ────────────╯
//! ```
//!
//! `PoweredOn` from any state leads to ON: a node that rebooted is no longer
//! running. *(ours)* A node is AWOL when nothing at all was heard from it for
//! more than [`NodeConfig::awol_after_ns`], by default one 5-minute heartbeat
//! period plus 10% for jitter; any message brings it back.
//!
//! # Examples
//!
//! ```
//! use components::cosmici::{Node, NodeConfig, NodeEvent, NodeState};
//!
//! let mut node = Node::new(NodeConfig { awol_after_ns: 10 });
//! node.handle(NodeEvent::PoweredOn, 0);
//! node.handle(NodeEvent::RunStarted, 1);
//! assert_eq!(node.tick(11).map(|t| t.to), Some(NodeState::RunningAwol));
//! node.handle(NodeEvent::Heard, 12);
//! assert_eq!(node.state(), NodeState::Running);
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use super::wire::gps::{Rmc, Traim};
use super::wire::main_cmd::{BridgeMode, MacAddr, MainCommand};
use super::wire::uart::{HostKind, UartLine};

/// Where a node stands, as the server sees it.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Node, NodeEvent, NodeState};
///
/// let mut node = Node::new(Default::default());
/// assert_eq!(node.state(), NodeState::Unseen);
/// node.handle(NodeEvent::PoweredOn, 0);
/// assert_eq!(node.state(), NodeState::On);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// Never heard from.
    Unseen,
    /// Powered on and heard from recently, no run in progress.
    On,
    /// Powered on, but silent for too long.
    OnAwol,
    /// Taking part in a run and heard from recently.
    Running,
    /// Taking part in a run, but silent for too long.
    RunningAwol,
}

impl NodeState {
    /// The state's name as the original server wrote it.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::NodeState;
    ///
    /// assert_eq!(NodeState::RunningAwol.as_str(), "RUNNING_AWOL");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unseen => "UNSEEN",
            Self::On => "ON",
            Self::OnAwol => "ON_AWOL",
            Self::Running => "RUNNING",
            Self::RunningAwol => "RUNNING_AWOL",
        }
    }

    /// Whether the node is silent for too long.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::NodeState;
    ///
    /// assert!(NodeState::OnAwol.is_awol());
    /// assert!(!NodeState::Running.is_awol());
    /// ```
    pub fn is_awol(self) -> bool {
        matches!(self, Self::OnAwol | Self::RunningAwol)
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened to a node.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Node, NodeEvent, NodeState};
///
/// let mut node = Node::new(Default::default());
/// node.handle(NodeEvent::PoweredOn, 0);
/// node.handle(NodeEvent::RunStarted, 1);
/// assert_eq!(node.state(), NodeState::Running);
/// node.handle(NodeEvent::RunEnded, 2);
/// assert_eq!(node.state(), NodeState::On);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeEvent {
    /// The node sent `POWERED_ON`.
    PoweredOn,
    /// Any other message arrived from the node (heartbeat, log, data …).
    Heard,
    /// The server started a run including this node.
    RunStarted,
    /// The run ended.
    RunEnded,
}

/// A change of [`NodeState`].
///
/// # Examples
///
/// ```
/// use components::cosmici::{Node, NodeEvent, NodeState, Transition};
///
/// let mut node = Node::new(Default::default());
/// node.handle(NodeEvent::PoweredOn, 0);
/// let t: Transition = node.handle(NodeEvent::RunStarted, 1).unwrap();
/// assert_eq!((t.from, t.to), (NodeState::On, NodeState::Running));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The state before.
    pub from: NodeState,
    /// The state after.
    pub to: NodeState,
}

/// Settings of the node state machine.
///
/// # Examples
///
/// ```
/// use components::cosmici::NodeConfig;
///
/// let config = NodeConfig::default();
/// assert_eq!(config.awol_after_ns, 330_000_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeConfig {
    /// Silence longer than this (ns) makes a node AWOL.
    pub awol_after_ns: u64,
}

impl NodeConfig {
    /// The heartbeat period the defaults assume: 5 minutes.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::NodeConfig;
    ///
    /// assert_eq!(NodeConfig::HEARTBEAT_PERIOD_NS, 5 * 60 * 1_000_000_000);
    /// ```
    pub const HEARTBEAT_PERIOD_NS: u64 = 300_000_000_000;
}

impl Default for NodeConfig {
    /// One heartbeat period plus 10%.
    fn default() -> Self {
        Self {
            awol_after_ns: Self::HEARTBEAT_PERIOD_NS + Self::HEARTBEAT_PERIOD_NS / 10,
        }
    }
}

/// One node's state machine.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Node, NodeConfig, NodeEvent, NodeState};
///
/// let mut node = Node::new(NodeConfig { awol_after_ns: 10 });
/// node.handle(NodeEvent::Heard, 0);
/// assert_eq!(node.tick(11).map(|t| t.to), Some(NodeState::OnAwol));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    config: NodeConfig,
    state: NodeState,
    last_heard_ns: Option<u64>,
}

impl Node {
    /// A node not yet heard from.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Node, NodeState};
    ///
    /// let node = Node::new(Default::default());
    /// assert_eq!(node.state(), NodeState::Unseen);
    /// assert_eq!(node.last_heard_ns(), None);
    /// ```
    pub fn new(config: NodeConfig) -> Self {
        Self {
            config,
            state: NodeState::Unseen,
            last_heard_ns: None,
        }
    }

    /// The current state.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Node, NodeEvent, NodeState};
    ///
    /// let mut node = Node::new(Default::default());
    /// node.handle(NodeEvent::Heard, 7);
    /// assert_eq!(node.state(), NodeState::On);
    /// ```
    pub fn state(&self) -> NodeState {
        self.state
    }

    /// When the node was last heard from.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Node, NodeEvent};
    ///
    /// let mut node = Node::new(Default::default());
    /// node.handle(NodeEvent::Heard, 20);
    /// // An earlier time does not move the record back.
    /// node.handle(NodeEvent::Heard, 10);
    /// assert_eq!(node.last_heard_ns(), Some(20));
    /// ```
    pub fn last_heard_ns(&self) -> Option<u64> {
        self.last_heard_ns
    }

    /// Applies an event at time `now`; returns the transition, if the state changed.
    ///
    /// `PoweredOn` and `Heard` also record `now` as the last time heard
    /// (a `now` earlier than the recorded time is ignored for that purpose).
    /// Run events on an UNSEEN node change nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Node, NodeEvent, NodeState, Transition};
    ///
    /// let mut node = Node::new(Default::default());
    /// assert_eq!(node.handle(NodeEvent::RunStarted, 0), None);
    /// assert_eq!(
    ///     node.handle(NodeEvent::Heard, 0),
    ///     Some(Transition { from: NodeState::Unseen, to: NodeState::On })
    /// );
    /// ```
    pub fn handle(&mut self, event: NodeEvent, now: u64) -> Option<Transition> {
        use NodeState::*;
        if matches!(event, NodeEvent::PoweredOn | NodeEvent::Heard) {
            self.last_heard_ns = Some(self.last_heard_ns.map_or(now, |t| t.max(now)));
        }
        let to = match (event, self.state) {
            (NodeEvent::PoweredOn, _) => On,
            (NodeEvent::Heard, Unseen | On | OnAwol) => On,
            (NodeEvent::Heard, Running | RunningAwol) => Running,
            (NodeEvent::RunStarted, On) => Running,
            (NodeEvent::RunStarted, OnAwol) => RunningAwol,
            (NodeEvent::RunEnded, Running) => On,
            (NodeEvent::RunEnded, RunningAwol) => OnAwol,
            (NodeEvent::RunStarted | NodeEvent::RunEnded, state) => state,
        };
        self.set(to)
    }

    /// Marks the node AWOL if it has been silent for more than
    /// [`NodeConfig::awol_after_ns`] at time `now`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Node, NodeConfig, NodeEvent, NodeState};
    ///
    /// let mut node = Node::new(NodeConfig { awol_after_ns: 10 });
    /// node.handle(NodeEvent::Heard, 0);
    /// assert_eq!(node.tick(10), None);
    /// assert_eq!(node.tick(11).map(|t| t.to), Some(NodeState::OnAwol));
    /// ```
    pub fn tick(&mut self, now: u64) -> Option<Transition> {
        let silent_too_long = self
            .silence_ns(now)
            .is_some_and(|s| s > self.config.awol_after_ns);
        let to = match self.state {
            NodeState::On if silent_too_long => NodeState::OnAwol,
            NodeState::Running if silent_too_long => NodeState::RunningAwol,
            state => state,
        };
        self.set(to)
    }

    /// How long the node has been silent at `now` (zero if `now` is earlier
    /// than the last message), or `None` if never heard from.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Node, NodeEvent};
    ///
    /// let mut node = Node::new(Default::default());
    /// assert_eq!(node.silence_ns(5), None);
    /// node.handle(NodeEvent::Heard, 5);
    /// assert_eq!(node.silence_ns(12), Some(7));
    /// assert_eq!(node.silence_ns(3), Some(0));
    /// ```
    pub fn silence_ns(&self, now: u64) -> Option<u64> {
        self.last_heard_ns.map(|t| now.saturating_sub(t))
    }

    fn set(&mut self, to: NodeState) -> Option<Transition> {
        let from = std::mem::replace(&mut self.state, to);
        (from != to).then_some(Transition { from, to })
    }
}

/// What the registry knows about one node.
///
/// # Examples
///
/// ```
/// use components::cosmici::{MainCommand, NodeRegistry};
///
/// let mut nodes = NodeRegistry::default();
/// nodes.apply(&MainCommand::parse("HEARTBEAT 2 17").unwrap(), 0);
/// let record = nodes.get(2).unwrap();
/// assert_eq!(record.last_heartbeat, Some(17));
/// assert_eq!(record.ip, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's state machine.
    pub node: Node,
    /// Address from the latest `POWERED_ON`.
    pub ip: Option<IpAddr>,
    /// MAC from the latest `POWERED_ON`.
    pub mac: Option<MacAddr>,
    /// Mode from the latest `BRIDGE_MODE`.
    pub bridge_mode: Option<BridgeMode>,
    /// Number of the latest `HEARTBEAT`.
    pub last_heartbeat: Option<u64>,
}

/// The outcome of [`NodeRegistry::apply`].
///
/// # Examples
///
/// ```
/// use components::cosmici::{Applied, MainCommand, NodeRegistry, NodeState};
///
/// let mut nodes = NodeRegistry::default();
/// let cmd = MainCommand::parse("POWERED_ON 4 10.0.0.9 00:11:22:33:44:55").unwrap();
/// let applied: Applied = nodes.apply(&cmd, 0).unwrap();
/// assert_eq!(applied.id, 4);
/// assert_eq!(applied.transition.map(|t| t.to), Some(NodeState::On));
/// assert!(applied.first_power_on);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The node the command came from.
    pub id: u32,
    /// The node's state change, if any.
    pub transition: Option<Transition>,
    /// This was the node's first `POWERED_ON`: create its bridge servers now.
    pub first_power_on: bool,
}

/// Every node the server has heard of, by id: O(1) lookup, and the AWOL deadlines
/// kept in order so that finding the next one is O(log n), not a scan.
///
/// # Examples
///
/// ```
/// use components::cosmici::{MainCommand, NodeRegistry, NodeState};
///
/// let mut nodes = NodeRegistry::default();
/// let cmd = MainCommand::parse("POWERED_ON 1 10.0.0.2 00:11:22:33:44:55").unwrap();
/// let applied = nodes.apply(&cmd, 0).unwrap();
/// assert!(applied.first_power_on);
/// assert_eq!(nodes.get(1).unwrap().node.state(), NodeState::On);
/// assert!(!nodes.apply(&cmd, 5).unwrap().first_power_on);
/// ```
#[derive(Debug, Clone)]
pub struct NodeRegistry {
    config: NodeConfig,
    max_nodes: usize,
    nodes: HashMap<u32, NodeRecord>,
    /// `(deadline, id)` of every node that could go AWOL; `deadline_of` mirrors it.
    deadlines: BTreeSet<(u64, u32)>,
    deadline_of: HashMap<u32, u64>,
}

impl Default for NodeRegistry {
    fn default() -> Self {
        Self::new(NodeConfig::default())
    }
}

impl NodeRegistry {
    /// An empty registry whose nodes use `config`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{NodeConfig, NodeRegistry};
    ///
    /// let nodes = NodeRegistry::new(NodeConfig { awol_after_ns: 1_000 });
    /// assert_eq!(nodes.iter().count(), 0);
    /// ```
    pub fn new(config: NodeConfig) -> Self {
        Self {
            config,
            max_nodes: usize::MAX,
            nodes: HashMap::new(),
            deadlines: BTreeSet::new(),
            deadline_of: HashMap::new(),
        }
    }

    /// At most `max` records: events for a further id are ignored (`None`).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{MainCommand, NodeRegistry};
    ///
    /// let mut nodes = NodeRegistry::default().max_nodes(1);
    /// assert!(nodes.apply(&MainCommand::parse("HEARTBEAT 1 1").unwrap(), 0).is_some());
    /// assert!(nodes.apply(&MainCommand::parse("HEARTBEAT 2 1").unwrap(), 0).is_none());
    /// assert_eq!(nodes.len(), 1);
    /// ```
    pub fn max_nodes(mut self, max: usize) -> Self {
        self.max_nodes = max;
        self
    }

    /// Records held.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::cosmici::NodeRegistry::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is known.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(components::cosmici::NodeRegistry::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The earliest moment a node that is not yet AWOL could become so: when
    /// [`tick`](Self::tick) has something to do.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{NodeConfig, NodeEvent, NodeRegistry};
    ///
    /// let mut nodes = NodeRegistry::new(NodeConfig { awol_after_ns: 10 });
    /// assert_eq!(nodes.next_awol_deadline(), None);
    /// nodes.handle(1, NodeEvent::Heard, 5);
    /// nodes.handle(2, NodeEvent::Heard, 3);
    /// assert_eq!(nodes.next_awol_deadline(), Some(14));
    /// ```
    pub fn next_awol_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Re-files node `id`'s AWOL deadline after its record changed.
    fn refile(&mut self, id: u32) {
        if let Some(old) = self.deadline_of.remove(&id) {
            self.deadlines.remove(&(old, id));
        }
        let Some(record) = self.nodes.get(&id) else {
            return;
        };
        let state = record.node.state();
        if state.is_awol() || state == NodeState::Unseen {
            return;
        }
        if let Some(last) = record.node.last_heard_ns() {
            let at = last
                .saturating_add(self.config.awol_after_ns)
                .saturating_add(1);
            self.deadlines.insert((at, id));
            self.deadline_of.insert(id, at);
        }
    }

    /// Applies a MAIN command received at `now`; `None` for commands that
    /// carry no node id.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{MainCommand, NodeRegistry};
    ///
    /// let mut nodes = NodeRegistry::default();
    /// let cmd = MainCommand::parse("BRIDGE_MODE 3 TREFOIL").unwrap();
    /// let applied = nodes.apply(&cmd, 0).unwrap();
    /// assert_eq!(applied.id, 3);
    /// assert!(!applied.first_power_on);
    /// assert!(nodes.get(3).unwrap().bridge_mode.is_some());
    /// ```
    pub fn apply(&mut self, cmd: &MainCommand, now: u64) -> Option<Applied> {
        let id = cmd.node_id()?;
        let record = self.record(id)?;
        let mut first_power_on = false;
        let event = match cmd {
            MainCommand::PoweredOn { ip, mac, .. } => {
                first_power_on = record.ip.is_none();
                record.ip = Some(*ip);
                record.mac = Some(*mac);
                NodeEvent::PoweredOn
            }
            MainCommand::Heartbeat { n, .. } => {
                record.last_heartbeat = Some(*n);
                NodeEvent::Heard
            }
            MainCommand::BridgeMode { mode, .. } => {
                record.bridge_mode = Some(*mode);
                NodeEvent::Heard
            }
            _ => NodeEvent::Heard,
        };
        let transition = record.node.handle(event, now);
        self.refile(id);
        Some(Applied {
            id,
            transition,
            first_power_on,
        })
    }

    /// Applies a non-MAIN event (a UART line heard, a run started …) to node `id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{NodeEvent, NodeRegistry, NodeState};
    ///
    /// let mut nodes = NodeRegistry::default();
    /// nodes.handle(1, NodeEvent::PoweredOn, 0);
    /// let t = nodes.handle(1, NodeEvent::RunStarted, 1).unwrap();
    /// assert_eq!(t.to, NodeState::Running);
    /// ```
    pub fn handle(&mut self, id: u32, event: NodeEvent, now: u64) -> Option<Transition> {
        let transition = self.record(id)?.node.handle(event, now);
        self.refile(id);
        transition
    }

    /// Checks every node for silence at `now`; returns the nodes that went AWOL.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{NodeConfig, NodeEvent, NodeRegistry, NodeState};
    ///
    /// let mut nodes = NodeRegistry::new(NodeConfig { awol_after_ns: 10 });
    /// nodes.handle(1, NodeEvent::Heard, 0);
    /// nodes.handle(2, NodeEvent::Heard, 5);
    /// let awol = nodes.tick(12);
    /// assert_eq!(awol.len(), 1);
    /// assert_eq!((awol[0].0, awol[0].1.to), (1, NodeState::OnAwol));
    /// ```
    pub fn tick(&mut self, now: u64) -> Vec<(u32, Transition)> {
        let mut awol = Vec::new();
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            // Taken off the list whatever happens, so the loop always ends; a node
            // that went AWOL has no deadline until it is heard from again.
            self.deadlines.remove(&(at, id));
            self.deadline_of.remove(&id);
            if let Some(t) = self.nodes.get_mut(&id).and_then(|r| r.node.tick(now)) {
                awol.push((id, t));
            }
        }
        awol.sort_by_key(|&(id, _)| id);
        awol
    }

    /// The record of node `id`, if it was ever heard of.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{NodeEvent, NodeRegistry};
    ///
    /// let mut nodes = NodeRegistry::default();
    /// nodes.handle(1, NodeEvent::Heard, 0);
    /// assert!(nodes.get(1).is_some());
    /// assert!(nodes.get(2).is_none());
    /// ```
    pub fn get(&self, id: u32) -> Option<&NodeRecord> {
        self.nodes.get(&id)
    }

    /// All records, by ascending id.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{NodeEvent, NodeRegistry};
    ///
    /// let mut nodes = NodeRegistry::default();
    /// nodes.handle(9, NodeEvent::Heard, 0);
    /// nodes.handle(2, NodeEvent::Heard, 0);
    /// let ids: Vec<u32> = nodes.iter().map(|(id, _)| id).collect();
    /// assert_eq!(ids, [2, 9]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (u32, &NodeRecord)> {
        let mut all: Vec<(u32, &NodeRecord)> = self
            .nodes
            .iter()
            .map(|(&id, record)| (id, record))
            .collect();
        all.sort_unstable_by_key(|&(id, _)| id);
        all.into_iter()
    }

    fn record(&mut self, id: u32) -> Option<&mut NodeRecord> {
        let config = self.config;
        let full = self.nodes.len() >= self.max_nodes;
        match self.nodes.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(_) if full => None,
            std::collections::hash_map::Entry::Vacant(e) => Some(e.insert(NodeRecord {
                node: Node::new(config),
                ip: None,
                mac: None,
                bridge_mode: None,
                last_heartbeat: None,
            })),
        }
    }
}

/// A condition for starting a run.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Requirement, RunReadiness};
///
/// let ready = RunReadiness::default();
/// assert_eq!(
///     ready.missing(),
///     [Requirement::CtuReady, Requirement::FedmReady, Requirement::GpsTimeGood]
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// A `CTU_GPS` host has sent `HOST_READY`.
    CtuReady,
    /// A `FEDM` host has sent `HOST_READY`.
    FedmReady,
    /// The latest `PDMETRAIM` reports good time.
    GpsTimeGood,
}

/// Tracks whether a run may start: CTU ready, FEDM ready and GPS time good.
/// When [`RunReadiness::ready_to_start`] holds the server sends `START` to the CTU.
///
/// `HOST_READY` does not say which host it comes from, so the tracker
/// remembers each node's latest `HOST_STARTING`. A host that starts again is
/// no longer ready. GPS time turns good or bad with each `PDMETRAIM`
/// ([`Traim::time_good`] at the configured threshold), and bad with a `GPRMC`
/// whose status is not valid.
///
/// # Examples
///
/// ```
/// use components::cosmici::{RunReadiness, UartLine};
///
/// let mut ready = RunReadiness::default();
/// for (node, line) in [
///     (0, "HOST_STARTING,CTU_GPS,1.0"),
///     (1, "HOST_STARTING,FEDM,1.0"),
///     (0, "HOST_READY"),
///     (1, "HOST_READY"),
///     (0, "PDMETRAIM,0,1,0.000000060,0"),
/// ] {
///     ready.observe(node, &UartLine::parse(line).unwrap());
/// }
/// assert!(ready.ready_to_start());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReadiness {
    time_good_ns: u64,
    hosts: BTreeMap<u32, HostKind>,
    ctu_ready: bool,
    fedm_ready: bool,
    gps_time_good: bool,
}

impl Default for RunReadiness {
    /// GPS time good at ±[`Traim::DEFAULT_TIME_GOOD_NS`].
    fn default() -> Self {
        Self::new(Traim::DEFAULT_TIME_GOOD_NS)
    }
}

impl RunReadiness {
    /// Nothing ready; GPS time counts as good within ±`time_good_ns`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Requirement, RunReadiness, UartLine};
    ///
    /// // 60 ns accuracy is not good enough at a 50 ns threshold.
    /// let mut ready = RunReadiness::new(50);
    /// ready.observe(0, &UartLine::parse("PDMETRAIM,0,1,0.000000060,0").unwrap());
    /// assert!(ready.missing().contains(&Requirement::GpsTimeGood));
    /// ```
    pub fn new(time_good_ns: u64) -> Self {
        Self {
            time_good_ns,
            hosts: BTreeMap::new(),
            ctu_ready: false,
            fedm_ready: false,
            gps_time_good: false,
        }
    }

    /// Takes note of a UART line from node `node`. Lines that say nothing
    /// about readiness, and GPS sentences that do not decode, are ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Requirement, RunReadiness, UartLine};
    ///
    /// let mut ready = RunReadiness::default();
    /// ready.observe(1, &UartLine::parse("HOST_STARTING,FEDM,1.0").unwrap());
    /// ready.observe(1, &UartLine::parse("HOST_READY").unwrap());
    /// assert!(!ready.missing().contains(&Requirement::FedmReady));
    /// ```
    pub fn observe(&mut self, node: u32, line: &UartLine) {
        match line {
            UartLine::HostStarting { host, .. } => {
                self.hosts.insert(node, *host);
                self.set_host_ready(*host, false);
            }
            UartLine::HostReady => {
                if let Some(&host) = self.hosts.get(&node) {
                    self.set_host_ready(host, true);
                }
            }
            UartLine::Gps(sentence) => {
                if let Ok(traim) = Traim::from_sentence(sentence) {
                    self.gps_time_good = traim.time_good(self.time_good_ns);
                } else if let Ok(rmc) = Rmc::from_sentence(sentence) {
                    self.gps_time_good &= rmc.valid;
                }
            }
            _ => {}
        }
    }

    /// Sets a host's readiness directly.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{HostKind, Requirement, RunReadiness};
    ///
    /// let mut ready = RunReadiness::default();
    /// ready.set_host_ready(HostKind::CtuGps, true);
    /// assert_eq!(ready.missing(), [Requirement::FedmReady, Requirement::GpsTimeGood]);
    /// ```
    pub fn set_host_ready(&mut self, host: HostKind, ready: bool) {
        match host {
            HostKind::CtuGps => self.ctu_ready = ready,
            HostKind::Fedm => self.fedm_ready = ready,
        }
    }

    /// Whether every [`Requirement`] is met.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{HostKind, RunReadiness};
    ///
    /// let mut ready = RunReadiness::default();
    /// ready.set_host_ready(HostKind::CtuGps, true);
    /// ready.set_host_ready(HostKind::Fedm, true);
    /// assert!(!ready.ready_to_start()); // GPS time not yet good
    /// ```
    pub fn ready_to_start(&self) -> bool {
        self.missing().is_empty()
    }

    /// The requirements not yet met, for the operator.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{Requirement, RunReadiness, UartLine};
    ///
    /// let mut ready = RunReadiness::default();
    /// ready.observe(0, &UartLine::parse("PDMETRAIM,0,1,0.000000060,0").unwrap());
    /// assert_eq!(ready.missing(), [Requirement::CtuReady, Requirement::FedmReady]);
    /// ```
    pub fn missing(&self) -> Vec<Requirement> {
        [
            (self.ctu_ready, Requirement::CtuReady),
            (self.fedm_ready, Requirement::FedmReady),
            (self.gps_time_good, Requirement::GpsTimeGood),
        ]
        .into_iter()
        .filter_map(|(met, requirement)| (!met).then_some(requirement))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NodeState::*;

    const AWOL: u64 = 100;

    fn node_in(state: NodeState) -> Node {
        let mut node = Node::new(NodeConfig {
            awol_after_ns: AWOL,
        });
        let steps: &[NodeEvent] = match state {
            Unseen => &[],
            On | OnAwol => &[NodeEvent::PoweredOn],
            Running | RunningAwol => &[NodeEvent::PoweredOn, NodeEvent::RunStarted],
        };
        for &event in steps {
            node.handle(event, 0);
        }
        if state.is_awol() {
            node.tick(AWOL + 1);
        }
        assert_eq!(node.state(), state);
        node
    }

    #[test]
    fn transition_table() {
        use NodeEvent::*;
        let table = [
            (Unseen, PoweredOn, On),
            (Unseen, Heard, On),
            (Unseen, RunStarted, Unseen),
            (Unseen, RunEnded, Unseen),
            (On, PoweredOn, On),
            (On, Heard, On),
            (On, RunStarted, Running),
            (On, RunEnded, On),
            (OnAwol, PoweredOn, On),
            (OnAwol, Heard, On),
            (OnAwol, RunStarted, RunningAwol),
            (OnAwol, RunEnded, OnAwol),
            (Running, PoweredOn, On),
            (Running, Heard, Running),
            (Running, RunStarted, Running),
            (Running, RunEnded, On),
            (RunningAwol, PoweredOn, On),
            (RunningAwol, Heard, Running),
            (RunningAwol, RunStarted, RunningAwol),
            (RunningAwol, RunEnded, OnAwol),
        ];
        for (from, event, to) in table {
            let mut node = node_in(from);
            let transition = node.handle(event, 1_000);
            assert_eq!(node.state(), to, "{from} + {event:?}");
            assert_eq!(transition, (from != to).then_some(Transition { from, to }));
        }
    }

    #[test]
    fn awol_needs_strictly_more_than_the_limit() {
        let mut node = node_in(On);
        assert_eq!(node.tick(AWOL), None);
        assert_eq!(
            node.tick(AWOL + 1),
            Some(Transition {
                from: On,
                to: OnAwol
            })
        );
        assert_eq!(node.tick(AWOL + 2), None);
        let mut unseen = node_in(Unseen);
        assert_eq!(unseen.tick(u64::MAX), None);
    }

    #[test]
    fn late_timestamps_do_not_rewind_last_heard() {
        let mut node = node_in(On);
        node.handle(NodeEvent::Heard, 50);
        node.handle(NodeEvent::Heard, 10);
        assert_eq!(node.last_heard_ns(), Some(50));
        assert_eq!(node.silence_ns(5), Some(0));
        assert_eq!(node.tick(50 + AWOL), None);
    }

    #[test]
    fn registry_tracks_commands_and_silence() {
        let mut nodes = NodeRegistry::new(NodeConfig {
            awol_after_ns: AWOL,
        });
        let cmd = |line: &str| MainCommand::parse(line).unwrap();
        assert_eq!(nodes.apply(&cmd("PULSE_DATA 1"), 0), None);
        let applied = nodes.apply(&cmd("HEARTBEAT 1 7"), 0).unwrap();
        assert_eq!(
            applied.transition,
            Some(Transition {
                from: Unseen,
                to: On
            })
        );
        assert!(!applied.first_power_on);
        assert!(
            nodes
                .apply(&cmd("POWERED_ON 1 10.0.0.2 00:11:22:33:44:55"), 1)
                .unwrap()
                .first_power_on
        );
        nodes.apply(&cmd("BRIDGE_MODE 1 TREFOIL"), 2);
        nodes.apply(&cmd("POWERED_ON 0 10.0.0.1 00:11:22:33:44:54"), 50);
        nodes.handle(0, NodeEvent::RunStarted, 50);
        let record = nodes.get(1).unwrap();
        assert_eq!(record.last_heartbeat, Some(7));
        assert_eq!(record.bridge_mode, Some(BridgeMode::Trefoil));
        assert_eq!(
            nodes.tick(2 + AWOL + 1),
            vec![(
                1,
                Transition {
                    from: On,
                    to: OnAwol
                }
            )]
        );
        assert_eq!(
            nodes.tick(50 + AWOL + 1),
            vec![(
                0,
                Transition {
                    from: Running,
                    to: RunningAwol
                }
            )]
        );
        nodes.apply(&cmd("LOGMSG 0 INFO 0 back"), 500);
        let states: Vec<_> = nodes.iter().map(|(id, r)| (id, r.node.state())).collect();
        assert_eq!(states, [(0, Running), (1, OnAwol)]);
    }

    #[test]
    fn readiness_needs_all_three_and_tracks_restarts() {
        let mut ready = RunReadiness::default();
        let line = |text: &str| UartLine::parse(text).unwrap();
        assert_eq!(
            ready.missing(),
            [
                Requirement::CtuReady,
                Requirement::FedmReady,
                Requirement::GpsTimeGood
            ]
        );
        // HOST_READY before any HOST_STARTING: unknown host, ignored.
        ready.observe(0, &line("HOST_READY"));
        assert_eq!(ready.missing().len(), 3);
        ready.observe(0, &line("HOST_STARTING,CTU_GPS,1"));
        ready.observe(0, &line("HOST_READY"));
        ready.observe(1, &line("HOST_STARTING,FEDM,1"));
        ready.observe(1, &line("HOST_READY"));
        ready.observe(0, &line("PDMETRAIM,0,1,0.000000150,0"));
        assert_eq!(ready.missing(), [Requirement::GpsTimeGood]);
        ready.observe(0, &line("PDMETRAIM,0,1,-0.000000100,0"));
        assert!(ready.ready_to_start());
        ready.observe(0, &line("GPRMC,120000,V,,,,,,,010112,,"));
        assert_eq!(ready.missing(), [Requirement::GpsTimeGood]);
        ready.observe(0, &line("PDMETRAIM,0,1,0.000000010,0"));
        ready.observe(1, &line("HOST_STARTING,FEDM,2"));
        assert_eq!(ready.missing(), [Requirement::FedmReady]);
    }
}
