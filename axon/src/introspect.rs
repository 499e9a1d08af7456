//! Introspection: what is alive, as a snapshot or a stream of changes, exportable as
//! JSON, Graphviz DOT and Mermaid.

use std::fmt::Write as _;

use serde::Serialize;

use crate::boxes::{ComponentId, Direction, NodeKind, Policy};
use crate::graph::{GraphState, Phase};

/// A change to the graph, as sent by [`Runtime::subscribe`](crate::Runtime::subscribe).
/// Boxes are named `name#id.box`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{GraphEvent, component::from_fn};
/// let rt = axon::Runtime::new();
/// let mut events = rt.subscribe();
/// let p = rt.add(from_fn("x", |_c: axon::Context<(), ()>| async { Ok(()) })).unwrap();
/// match events.recv().await.unwrap() {
///     GraphEvent::Added { id, name, parent } => assert_eq!((id, name.as_str(), parent), (p.id(), "x", None)),
///     other => panic!("unexpected {other:?}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum GraphEvent {
    /// A component was added (not yet started).
    Added {
        /// Its id.
        id: ComponentId,
        /// Its name.
        name: String,
        /// Its parent, if any.
        parent: Option<ComponentId>,
    },
    /// A component's body started.
    Started {
        /// Its id.
        id: ComponentId,
    },
    /// A component ended and was removed with its boxes and links.
    Exited {
        /// Its id.
        id: ComponentId,
        /// Its name.
        name: String,
        /// Why it ended ([`Exit`](crate::Exit) as text).
        exit: String,
        /// Messages its links lost under lossy policies, sending and receiving.
        dropped: u64,
        /// Messages still queued in its inboxes when it ended, dropped with them.
        unread: u64,
    },
    /// A link was made.
    Linked {
        /// The source box.
        from: String,
        /// The destination box.
        to: String,
        /// Its overflow policy.
        policy: Policy,
    },
    /// A link was removed.
    Unlinked {
        /// The source box.
        from: String,
        /// The destination box.
        to: String,
    },
    /// A box was added while the component existed.
    BoxAdded {
        /// The component.
        component: ComponentId,
        /// The box name.
        name: String,
    },
    /// A box was removed.
    BoxRemoved {
        /// The component.
        component: ComponentId,
        /// The box name.
        name: String,
    },
    /// A supervisor restarted a child: `id` is the new instance.
    Restarted {
        /// The supervisor.
        supervisor: ComponentId,
        /// The child's name in the supervisor.
        child: String,
        /// The new instance.
        id: ComponentId,
        /// Restarts of this child so far, this one included.
        restarts: u32,
        /// Why the previous instance ended.
        reason: String,
    },
}

/// Everything alive at one moment. See [`Runtime::snapshot`](crate::Runtime::snapshot).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, component::from_fn};
/// let rt = axon::Runtime::new();
/// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
/// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
/// rt.link(a.outbox(), b.inbox()).unwrap();
/// let snap = rt.snapshot();
/// assert_eq!((snap.components.len(), snap.links.len()), (2, 1));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Live components, by id.
    pub components: Vec<ComponentInfo>,
    /// Links, by source.
    pub links: Vec<LinkInfo>,
    /// Registered services, by name.
    pub services: Vec<ServiceInfo>,
    /// Tapped links and their recordings ([`crate::record`]).
    pub recordings: Vec<crate::record::RecordingInfo>,
}

/// One registered service: a box findable by name
/// ([`Runtime::register_service`](crate::Runtime::register_service)).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, component::from_fn};
/// let rt = axon::Runtime::new();
/// let store = rt.add(from_fn("store", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
/// rt.register_service("kv-store", store.inbox()).unwrap();
/// let s = &rt.snapshot().services[0];
/// assert_eq!((s.name.as_str(), s.component, s.box_name.as_str()), ("kv-store", store.id(), "inbox"));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    /// The name it is found by.
    pub name: String,
    /// The component whose box it is.
    pub component: ComponentId,
    /// The box.
    pub box_name: String,
}

/// One live component.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let rt = axon::Runtime::new();
/// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
/// let snap = rt.snapshot();
/// let info = snap.component(p.id()).unwrap();
/// assert_eq!((info.name.as_str(), info.state, info.parent), ("x", "prepared", None));
/// assert_eq!(info.boxes.len(), 4); // inbox, control, outbox, signal
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    /// Its id.
    pub id: ComponentId,
    /// Its name.
    pub name: String,
    /// Its parent, if any.
    pub parent: Option<ComponentId>,
    /// `prepared` (added, not started) or `running`.
    pub state: &'static str,
    /// Its boxes.
    pub boxes: Vec<BoxInfo>,
    /// For a supervisor's restarted child: how many times the child was restarted
    /// before this instance (0 for everything else).
    pub restarts: u32,
    /// For a supervisor's restarted child: why the last instance ended.
    pub last_failure: Option<String>,
    /// Counters it publishes about itself
    /// ([`Runtime::publish_counters`](crate::Runtime::publish_counters)).
    pub counters: Vec<Counter>,
}

/// A counter a component publishes about itself, read when the snapshot was taken.
///
/// # Examples
///
/// ```
/// let c = axon::introspect::Counter { name: "accepted_total", value: 2 };
/// assert!(c.is_monotonic());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counter {
    /// Its name: `snake_case`, `_total` at the end for a count that only grows.
    pub name: &'static str,
    /// Its value.
    pub value: u64,
}

impl Counter {
    /// True for a count that only grows (its name ends in `_total`); false for a
    /// gauge.
    ///
    /// # Examples
    ///
    /// ```
    /// let open = axon::introspect::Counter { name: "open", value: 5 };
    /// assert!(!open.is_monotonic());
    /// ```
    pub fn is_monotonic(&self) -> bool {
        self.name.ends_with("_total")
    }
}

/// Final box counters of ended components, summed per (parent, component name, box
/// name): sent, received, dropped, undelivered. Bounded by the program's shape, not
/// by how many components came and went.
pub(crate) type EndedTotals =
    rustc_hash::FxHashMap<(Option<ComponentId>, String, String), [u64; 4]>;

/// How a component's published counters are read.
pub(crate) type CounterSource = std::sync::Arc<dyn Fn() -> Vec<(&'static str, u64)> + Send + Sync>;

/// One box and its counters.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, Direction, component::from_fn};
/// let rt = axon::Runtime::new();
/// let p = rt.add(from_fn("x", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
/// let snap = rt.snapshot();
/// let inbox = &snap.component(p.id()).unwrap().boxes[0];
/// assert_eq!((inbox.name.as_str(), inbox.direction), ("inbox", Direction::In));
/// assert!(inbox.message_type.ends_with("String"));
/// assert_eq!((inbox.depth, inbox.received, inbox.dropped), (0, 0, 0));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct BoxInfo {
    /// The box name.
    pub name: String,
    /// In or out.
    pub direction: Direction,
    /// True for a passthrough inbox (no queue of its own).
    pub passthrough: bool,
    /// The message type.
    pub message_type: &'static str,
    /// The one-line description.
    pub description: String,
    /// Capacity of a queued inbox.
    pub capacity: Option<usize>,
    /// Messages queued now (inboxes).
    pub depth: usize,
    /// Messages sent (outboxes).
    pub sent: u64,
    /// Messages received (inboxes).
    pub received: u64,
    /// Messages discarded by a lossy link policy (on both the outbox and the inbox).
    pub dropped: u64,
    /// Sends handed back because the outbox had no destination.
    pub undelivered: u64,
    /// Bytes queued now, for an inbox with a byte budget.
    pub bytes: Option<usize>,
    /// The inbox's byte budget, if it has one.
    pub byte_budget: Option<usize>,
    /// Requests sent through this outbox and how they ended, once it has sent any
    /// (outboxes declared by name).
    pub asks: Option<crate::AskInfo>,
}

/// One link.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, Policy, component::from_fn};
/// let rt = axon::Runtime::new();
/// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
/// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
/// rt.link_with(a.outbox(), b.inbox(), Policy::DropNewest).unwrap();
/// let l = &rt.snapshot().links[0];
/// assert_eq!((l.from_component, l.from_box.as_str()), (a.id(), "outbox"));
/// assert_eq!((l.to_component, l.to_box.as_str(), l.policy), (b.id(), "inbox", Policy::DropNewest));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct LinkInfo {
    /// Source component.
    pub from_component: ComponentId,
    /// Source box.
    pub from_box: String,
    /// Destination component.
    pub to_component: ComponentId,
    /// Destination box.
    pub to_box: String,
    /// Overflow policy.
    pub policy: Policy,
}

pub(crate) fn snapshot(st: &GraphState) -> Snapshot {
    let mut ids: Vec<&ComponentId> = st.components.keys().collect();
    ids.sort_unstable();
    let mut components = Vec::with_capacity(ids.len());
    let mut links = Vec::new();
    for id in ids {
        components.push(component_info(st, *id, &mut links));
    }
    let mut services: Vec<ServiceInfo> = st
        .services
        .iter()
        .map(|(name, b)| ServiceInfo {
            name: name.clone(),
            component: b.component,
            box_name: st
                .get_box(*b)
                .map(|e| e.label.name().to_string())
                .unwrap_or_default(),
        })
        .collect();
    services.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Snapshot {
        components,
        links,
        services,
        recordings: Vec::new(),
    }
}

/// One box's counters as introspection shows them.
pub(crate) fn box_info(b: &crate::graph::BoxEntry) -> BoxInfo {
    let s = b.node.stats();
    BoxInfo {
        name: b.label.name().to_string(),
        direction: b.direction(),
        passthrough: b.node.kind() == NodeKind::Passthrough,
        message_type: b.node.type_name(),
        description: b.label.description().to_string(),
        capacity: s.capacity,
        depth: s.depth,
        sent: s.sent,
        received: s.received,
        dropped: s.dropped,
        undelivered: s.undelivered,
        bytes: s.bytes.map(|(used, _)| used),
        byte_budget: s.bytes.map(|(_, limit)| limit),
        asks: s.asks,
    }
}

/// The link leaving box `b` of component `id`, if any.
pub(crate) fn link_info(
    st: &GraphState,
    id: ComponentId,
    b: &crate::graph::BoxEntry,
) -> Option<LinkInfo> {
    let l = b.link()?;
    let to_box = st
        .get_box(l.to)
        .map(|t| t.label.name().to_string())
        .unwrap_or_default();
    Some(LinkInfo {
        from_component: id,
        from_box: b.label.name().to_string(),
        to_component: l.to.component,
        to_box,
        policy: l.policy,
    })
}

/// Component `id` as introspection shows it; its links are added to `links`.
pub(crate) fn component_info(
    st: &GraphState,
    id: ComponentId,
    links: &mut Vec<LinkInfo>,
) -> ComponentInfo {
    let entry = &st.components[&id];
    let mut boxes = Vec::with_capacity(entry.boxes.len());
    for b in entry.boxes.iter().flatten() {
        boxes.push(box_info(b));
        links.extend(link_info(st, id, b));
    }
    ComponentInfo {
        id,
        name: entry.name().to_string(),
        parent: entry.parent(),
        state: match entry.phase {
            Phase::Prepared => "prepared",
            Phase::Running => "running",
        },
        boxes,
        restarts: st.restarts.get(&id).map_or(0, |r| r.restarts),
        last_failure: st.restarts.get(&id).map(|r| r.last_failure.clone()),
        counters: st.published.get(&id).map_or_else(Vec::new, |read| {
            read()
                .into_iter()
                .map(|(name, value)| Counter { name, value })
                .collect()
        }),
    }
}

impl Snapshot {
    /// The component with this id, if alive.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let snap = rt.snapshot();
    /// assert_eq!(snap.component(p.id()).map(|c| c.name.as_str()), Some("x"));
    /// assert!(snap.component(axon::ComponentId::from_raw(999)).is_none());
    /// # }
    /// ```
    pub fn component(&self, id: ComponentId) -> Option<&ComponentInfo> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The first live component with this name.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let snap = rt.snapshot();
    /// assert_eq!(snap.named("x").map(|c| c.id), Some(p.id()));
    /// assert!(snap.named("y").is_none());
    /// # }
    /// ```
    pub fn named(&self, name: &str) -> Option<&ComponentInfo> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The snapshot as pretty JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let json: serde_json::Value = serde_json::from_str(&rt.snapshot().to_json()).unwrap();
    /// assert_eq!(json["components"][0]["name"], "x");
    /// assert_eq!(json["components"][0]["id"], p.id().get());
    /// # }
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The snapshot as a Graphviz DOT digraph: composites as clusters, boxes listed
    /// in each node's label, links as edges labelled `outbox -> inbox`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dot = axon::Runtime::new().snapshot().to_dot();
    /// assert!(dot.starts_with("digraph axon {"));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph axon {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
        );
        for c in self.components.iter().filter(|c| c.parent.is_none()) {
            self.dot_component(c, 1, &mut out);
        }
        for l in &self.links {
            let _ = writeln!(
                out,
                "  c{} -> c{} [label=\"{} -> {}{}\"];",
                l.from_component.0,
                l.to_component.0,
                escape(&l.from_box),
                escape(&l.to_box),
                policy_suffix(l.policy)
            );
        }
        out.push_str("}\n");
        out
    }

    fn dot_component(&self, c: &ComponentInfo, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let children: Vec<&ComponentInfo> = self
            .components
            .iter()
            .filter(|k| k.parent == Some(c.id))
            .collect();
        if children.is_empty() {
            let _ = writeln!(
                out,
                "{pad}c{} [label=\"{}#{}{}\"];",
                c.id.0,
                escape(&c.name),
                c.id.0,
                box_lines(c)
            );
        } else {
            let _ = writeln!(out, "{pad}subgraph cluster_{} {{", c.id.0);
            let _ = writeln!(out, "{pad}  label=\"{}#{}\";", escape(&c.name), c.id.0);
            let _ = writeln!(
                out,
                "{pad}  c{} [label=\"{}#{} (boundary){}\", shape=oval];",
                c.id.0,
                escape(&c.name),
                c.id.0,
                box_lines(c)
            );
            for k in children {
                self.dot_component(k, depth + 1, out);
            }
            let _ = writeln!(out, "{pad}}}");
        }
    }

    /// The snapshot as a Mermaid flowchart: composites as subgraphs, links as edges.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = axon::Runtime::new().snapshot().to_mermaid();
    /// assert!(m.starts_with("flowchart LR"));
    /// ```
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for c in self.components.iter().filter(|c| c.parent.is_none()) {
            self.mermaid_component(c, 1, &mut out);
        }
        for l in &self.links {
            let _ = writeln!(
                out,
                "  c{} -->|\"{} → {}{}\"| c{}",
                l.from_component.0,
                mermaid_escape(&l.from_box),
                mermaid_escape(&l.to_box),
                policy_suffix(l.policy),
                l.to_component.0
            );
        }
        out
    }

    fn mermaid_component(&self, c: &ComponentInfo, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let children: Vec<&ComponentInfo> = self
            .components
            .iter()
            .filter(|k| k.parent == Some(c.id))
            .collect();
        let _ = writeln!(
            out,
            "{pad}c{}[\"{}#{}\"]",
            c.id.0,
            mermaid_escape(&c.name),
            c.id.0
        );
        if !children.is_empty() {
            let _ = writeln!(
                out,
                "{pad}subgraph g{}[\"{}#{}\"]",
                c.id.0,
                mermaid_escape(&c.name),
                c.id.0
            );
            for k in children {
                self.mermaid_component(k, depth + 1, out);
            }
            let _ = writeln!(out, "{pad}end");
        }
    }
}

fn policy_suffix(p: Policy) -> &'static str {
    match p {
        Policy::Block => "",
        Policy::DropNewest => " (drop newest)",
        Policy::DropOldest => " (drop oldest)",
        Policy::KeepLatest => " (keep latest)",
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// A DOT label's box lines: `\nin: inbox, control\nout: outbox, signal`.
fn box_lines(c: &ComponentInfo) -> String {
    let names = |d: Direction| {
        c.boxes
            .iter()
            .filter(|b| b.direction == d)
            .map(|b| escape(&b.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "\\nin: {}\\nout: {}",
        names(Direction::In),
        names(Direction::Out)
    )
}
