//! The graph behind a runtime: live components, their boxes, and the links between them.
//!
//! All changes happen under one lock. After a link changes, every outbox whose route
//! passes through the changed box is re-resolved and its cached route replaced.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::boxes::{BoxId, ComponentId, Direction, Node, NodeKind, Policy};
use crate::drops::DropReport;
use crate::error::LinkError;
use crate::exit::ChildExit;

/// Passthrough chains longer than this are refused as loops.
const MAX_CHAIN: usize = 1024;

#[derive(Clone, Copy)]
pub(crate) struct Link {
    pub(crate) to: BoxId,
    pub(crate) policy: Policy,
}

/// A box's links: where it links to and which boxes link into it. Almost every box
/// has at most one of the two, and at most one source, so those cases are kept inline
/// in the space of one link; anything else is boxed.
///
/// The ids are kept as their parts, not as `BoxId`s, so that a link's policy sits in
/// the padding after the box index and a wiring is two words.
enum Wiring {
    None,
    Out {
        component: ComponentId,
        index: u32,
        policy: Policy,
    },
    In {
        component: ComponentId,
        index: u32,
    },
    Full(Box<(Option<Link>, SmallVec<[BoxId; 1]>)>),
}

impl Wiring {
    fn from_parts(link: Option<Link>, incoming: SmallVec<[BoxId; 1]>) -> Self {
        match (link, incoming.as_slice()) {
            (None, []) => Wiring::None,
            (Some(l), []) => Wiring::Out {
                component: l.to.component,
                index: l.to.index,
                policy: l.policy,
            },
            (None, [one]) => Wiring::In {
                component: one.component,
                index: one.index,
            },
            _ => Wiring::Full(Box::new((link, incoming))),
        }
    }

    fn into_parts(self) -> (Option<Link>, SmallVec<[BoxId; 1]>) {
        match self {
            Wiring::None => (None, SmallVec::new()),
            Wiring::Out {
                component,
                index,
                policy,
            } => (
                Some(Link {
                    to: BoxId { component, index },
                    policy,
                }),
                SmallVec::new(),
            ),
            Wiring::In { component, index } => {
                (None, smallvec::smallvec![BoxId { component, index }])
            }
            Wiring::Full(f) => *f,
        }
    }
}

/// A box's name and description.
pub(crate) struct Label {
    name: Cow<'static, str>,
    description: &'static str,
}

/// A box's [`Label`]: shared when both strings are static (one label per distinct
/// pair, interned for the life of the program, so the number kept is bounded by the
/// program's string literals), its own when the name was made at run time. One
/// pointer either way (a graph entry's box is five words), for a name and a
/// description.
pub(crate) struct BoxLabel(Arc<Label>);

const DEFAULT_LABELS: [(&str, &str); 4] = [
    ("inbox", "data in"),
    ("control", "lifecycle messages in"),
    ("outbox", "data out"),
    ("signal", "lifecycle messages out"),
];

type LabelTable = FxHashMap<(&'static str, &'static str), Arc<Label>>;

fn intern(name: &'static str, description: &'static str) -> Arc<Label> {
    static DEFAULTS: std::sync::LazyLock<[Arc<Label>; 4]> = std::sync::LazyLock::new(|| {
        DEFAULT_LABELS.map(|(name, description)| {
            Arc::new(Label {
                name: Cow::Borrowed(name),
                description,
            })
        })
    });
    // The default boxes of every component: found without a lock.
    if let Some(l) = DEFAULTS
        .iter()
        .find(|l| l.name == name && l.description == description)
    {
        return l.clone();
    }
    static TABLE: std::sync::LazyLock<std::sync::RwLock<LabelTable>> =
        std::sync::LazyLock::new(Default::default);
    let key = (name, description);
    if let Some(l) = TABLE.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return l.clone();
    }
    TABLE
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_insert_with(|| {
            Arc::new(Label {
                name: Cow::Borrowed(name),
                description,
            })
        })
        .clone()
}

impl BoxLabel {
    pub(crate) fn new(name: Cow<'static, str>, description: &'static str) -> Self {
        match name {
            Cow::Borrowed(name) => BoxLabel(intern(name, description)),
            name @ Cow::Owned(_) => BoxLabel(Arc::new(Label { name, description })),
        }
    }

    fn label(&self) -> &Label {
        &self.0
    }

    pub(crate) fn name(&self) -> &str {
        &self.label().name
    }

    pub(crate) fn description(&self) -> &'static str {
        self.label().description
    }

    /// The name, if it is a string literal.
    pub(crate) fn static_name(&self) -> Option<&'static str> {
        match self.0.name {
            Cow::Borrowed(name) => Some(name),
            Cow::Owned(_) => None,
        }
    }

    /// The name, without copying a static one.
    pub(crate) fn into_name(self) -> Cow<'static, str> {
        match Arc::try_unwrap(self.0) {
            Ok(l) => l.name,
            Err(shared) => shared.name.clone(),
        }
    }

    pub(crate) fn set_description(&mut self, description: &'static str) {
        if let Cow::Borrowed(name) = self.0.name {
            self.0 = intern(name, description);
        } else if let Some(own) = Arc::get_mut(&mut self.0) {
            own.description = description;
        } else {
            let name = self.0.name.clone();
            self.0 = Arc::new(Label { name, description });
        }
    }
}

pub(crate) struct BoxEntry {
    pub(crate) label: BoxLabel,
    pub(crate) node: Arc<dyn Node>,
    wiring: Wiring,
}

impl BoxEntry {
    pub(crate) fn new(label: BoxLabel, node: Arc<dyn Node>) -> Self {
        BoxEntry {
            label,
            node,
            wiring: Wiring::None,
        }
    }

    /// Where this box links to, if anywhere.
    pub(crate) fn link(&self) -> Option<Link> {
        match &self.wiring {
            &Wiring::Out {
                component,
                index,
                policy,
            } => Some(Link {
                to: BoxId { component, index },
                policy,
            }),
            Wiring::Full(f) => f.0,
            _ => None,
        }
    }

    /// The boxes that link into this one.
    pub(crate) fn incoming(&self) -> SmallVec<[BoxId; 1]> {
        match &self.wiring {
            &Wiring::In { component, index } => smallvec::smallvec![BoxId { component, index }],
            Wiring::Full(f) => f.1.clone(),
            _ => SmallVec::new(),
        }
    }

    fn rewire(&mut self, change: impl FnOnce(&mut Option<Link>, &mut SmallVec<[BoxId; 1]>)) {
        let (mut link, mut incoming) =
            std::mem::replace(&mut self.wiring, Wiring::None).into_parts();
        change(&mut link, &mut incoming);
        self.wiring = Wiring::from_parts(link, incoming);
    }

    /// Replace the outgoing link; returns the old one.
    pub(crate) fn set_link(&mut self, new: Option<Link>) -> Option<Link> {
        let mut old = None;
        self.rewire(|link, _| old = std::mem::replace(link, new));
        old
    }

    pub(crate) fn add_incoming(&mut self, from: BoxId) {
        self.rewire(|_, incoming| incoming.push(from));
    }

    pub(crate) fn remove_incoming(&mut self, from: BoxId) {
        self.rewire(|_, incoming| incoming.retain(|s| *s != from));
    }

    pub(crate) fn direction(&self) -> Direction {
        match self.node.kind() {
            NodeKind::Outbox => Direction::Out,
            _ => Direction::In,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Prepared,
    Running,
}

pub(crate) struct ComponentEntry {
    /// Its name, kept like a box's label (a static name costs one pointer).
    name: BoxLabel,
    /// The parent's id, 0 for none (ids start at 1).
    parent: u64,
    pub(crate) boxes: Box<[Option<BoxEntry>]>,
    pub(crate) phase: Phase,
    /// How to stop it where it is, once it runs.
    pub(crate) abort: Option<Stopper>,
    /// Asked to stop while starting, before `abort` was set: stop as soon as it is.
    pub(crate) kill_pending: bool,
    /// A link into its `signal` was ever made: a child speaks there for it (a
    /// composite), so the runtime does not.
    pub(crate) signal_fed: bool,
    /// Children and the channel their exits come back on; boxed because most
    /// components never have children (keeps every entry of the graph small).
    pub(crate) family: Option<Box<Family>>,
}

/// How to stop a running component where it is ([`Exit::Aborted`](crate::Exit)):
/// its future is dropped, which runs its epilogue (signal, log, retire).
#[derive(Clone)]
pub(crate) enum Stopper {
    /// It has a tokio task of its own.
    Task(tokio::task::AbortHandle),
    /// It is one side of a shared task.
    Side(crate::together::Stop),
}

impl Stopper {
    pub(crate) fn stop(&self) {
        match self {
            Stopper::Task(t) => t.abort(),
            Stopper::Side(s) => s.stop(),
        }
    }
}

/// A composite's (or any parent's) side of its children.
#[derive(Default)]
pub(crate) struct Family {
    pub(crate) children: Vec<ComponentId>,
    pub(crate) child_tx: Option<UnboundedSender<ChildExit>>,
    pub(crate) child_rx: Option<UnboundedReceiver<ChildExit>>,
}

impl ComponentEntry {
    pub(crate) fn new(
        name: Cow<'static, str>,
        parent: Option<ComponentId>,
        boxes: Vec<Option<BoxEntry>>,
        phase: Phase,
    ) -> Self {
        ComponentEntry {
            name: BoxLabel::new(name, ""),
            parent: parent.map_or(0, |p| p.0),
            boxes: boxes.into_boxed_slice(),
            phase,
            abort: None,
            kill_pending: false,
            signal_fed: false,
            family: None,
        }
    }

    pub(crate) fn children(&self) -> &[ComponentId] {
        self.family.as_ref().map_or(&[], |f| &f.children)
    }

    pub(crate) fn family_mut(&mut self) -> &mut Family {
        self.family.get_or_insert_default()
    }

    /// The channel children report exits on, made on first use.
    pub(crate) fn child_channel(&mut self) -> &mut Family {
        let f = self.family_mut();
        if f.child_tx.is_none() {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            f.child_tx = Some(tx);
            f.child_rx = Some(rx);
        }
        f
    }

    pub(crate) fn label(&self, id: ComponentId) -> String {
        format!("{}#{}", self.name(), id.0)
    }

    pub(crate) fn name(&self) -> &str {
        self.name.name()
    }

    /// Its name, if it is a string literal (shared, not owned by the entry).
    pub(crate) fn static_name(&self) -> Option<&'static str> {
        self.name.static_name()
    }

    pub(crate) fn into_name(self) -> Cow<'static, str> {
        self.name.into_name()
    }

    pub(crate) fn parent(&self) -> Option<ComponentId> {
        (self.parent != 0).then_some(ComponentId(self.parent))
    }

    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        self.boxes
            .iter()
            .position(|b| b.as_ref().is_some_and(|b| b.label.name() == name))
            .map(|i| i as u32)
    }

    pub(crate) fn box_names(&self) -> String {
        let names: Vec<&str> = self
            .boxes
            .iter()
            .flatten()
            .map(|b| b.label.name())
            .collect();
        names.join(", ")
    }
}

#[derive(Default)]
pub(crate) struct GraphState {
    /// Keyed by sequential ids: a plain multiplicative hash is enough and much
    /// cheaper than SipHash when connections come and go. Entries are boxed: the
    /// table keeps spare slots (it is between half and seven eighths full), and a
    /// spare slot then costs 16 bytes, not a whole entry; growing it moves pointers.
    pub(crate) components: FxHashMap<ComponentId, Box<ComponentEntry>>,
    pub(crate) services: HashMap<String, BoxId>,
    /// Components that are restarted instances (a supervisor's children): how many
    /// restarts came before them and why the last one was needed. Only restarted
    /// components have an entry, so the rest pay nothing.
    pub(crate) restarts: FxHashMap<ComponentId, RestartRecord>,
    /// Counters components publish about themselves (see
    /// [`Runtime::publish_counters`](crate::Runtime::publish_counters)); few have any.
    pub(crate) published: FxHashMap<ComponentId, crate::introspect::CounterSource>,
    /// Final box counters of ended components, summed by (parent, name, box), kept
    /// only once someone asked ([`Runtime::keep_ended_totals`](crate::Runtime)).
    pub(crate) ended: Option<crate::introspect::EndedTotals>,
}

/// What a supervisor said about a restarted child (see [`Runtime::mark_restarted`](crate::Runtime::mark_restarted)).
#[derive(Debug, Clone)]
pub(crate) struct RestartRecord {
    pub(crate) restarts: u32,
    pub(crate) last_failure: String,
}

impl GraphState {
    pub(crate) fn entry(&self, id: ComponentId) -> Result<&ComponentEntry, LinkError> {
        self.components
            .get(&id)
            .map(|e| &**e)
            .ok_or_else(|| LinkError::UnknownComponent {
                component: format!("#{}", id.0),
            })
    }

    pub(crate) fn entry_mut(&mut self, id: ComponentId) -> Result<&mut ComponentEntry, LinkError> {
        self.components
            .get_mut(&id)
            .map(|e| &mut **e)
            .ok_or_else(|| LinkError::UnknownComponent {
                component: format!("#{}", id.0),
            })
    }

    pub(crate) fn get_box(&self, id: BoxId) -> Option<&BoxEntry> {
        self.components
            .get(&id.component)?
            .boxes
            .get(id.index as usize)?
            .as_ref()
    }

    fn get_box_mut(&mut self, id: BoxId) -> Option<&mut BoxEntry> {
        self.components
            .get_mut(&id.component)?
            .boxes
            .get_mut(id.index as usize)?
            .as_mut()
    }

    /// `name#id.box` for error messages.
    pub(crate) fn label(&self, id: BoxId) -> String {
        match self.components.get(&id.component) {
            Some(c) => {
                let b = c
                    .boxes
                    .get(id.index as usize)
                    .and_then(|b| b.as_ref())
                    .map(|b| b.label.name())
                    .unwrap_or("?");
                format!("{}.{}", c.label(id.component), b)
            }
            None => format!("#{}.?{}", id.component.0, id.index),
        }
    }

    pub(crate) fn box_id(&self, component: ComponentId, name: &str) -> Result<BoxId, LinkError> {
        let entry = self.entry(component)?;
        entry
            .find(name)
            .map(|index| BoxId { component, index })
            .ok_or_else(|| LinkError::UnknownBox {
                component: entry.label(component),
                name: name.to_string(),
                existing: entry.box_names(),
            })
    }

    fn existing_box(&self, id: BoxId) -> Result<&BoxEntry, LinkError> {
        let entry = self.entry(id.component)?;
        entry
            .boxes
            .get(id.index as usize)
            .and_then(|b| b.as_ref())
            .ok_or_else(|| LinkError::UnknownBox {
                component: entry.label(id.component),
                name: format!("#{}", id.index),
                existing: entry.box_names(),
            })
    }

    /// Follow links from `src` to the real inbox they end in, if any, and the policy
    /// that applies (the first non-blocking policy along the way).
    /// The queued inbox a chain of links from `src` ends at, with its id and the
    /// chain's policy (the first non-blocking one).
    pub(crate) fn resolve(&self, src: BoxId) -> Option<(Arc<dyn Node>, Policy, BoxId)> {
        let mut policy = Policy::Block;
        let mut cur = src;
        for _ in 0..MAX_CHAIN {
            let b = self.get_box(cur)?;
            let Some(link) = b.link() else {
                // A hold that leads nowhere keeps what is sent to it.
                return b.node.held().map(|h| (h, policy, cur));
            };
            if policy == Policy::Block {
                policy = link.policy;
            }
            let next = self.get_box(link.to)?;
            if next.node.kind() == NodeKind::Inbox {
                return Some((next.node.clone(), policy, link.to));
            }
            cur = link.to;
        }
        None
    }

    /// Re-resolve every outbox whose route passes through `changed`.
    pub(crate) fn refresh_from(&self, changed: BoxId) {
        let mut seen = HashSet::new();
        let mut stack = vec![changed];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(entry) = self.get_box(id) else {
                continue;
            };
            if entry.node.kind() == NodeKind::Outbox {
                let route = self.resolve(id);
                // A lossy route names its ends once, here, for the warnings its drops give.
                let report =
                    route
                        .as_ref()
                        .filter(|(_, p, _)| *p != Policy::Block)
                        .map(|(_, p, to)| {
                            let ends = format!("{} -> {}", self.label(id), self.label(*to));
                            Arc::new(DropReport::new(ends, *p))
                        });
                entry
                    .node
                    .set_route(route.as_ref().map(|(n, p, _)| (n, *p)), report);
            }
            // Sources that link into a real inbox are not affected by its changes.
            if entry.node.kind() != NodeKind::Inbox {
                stack.extend(entry.incoming().iter().copied());
            }
        }
    }

    fn check_link(&self, from: BoxId, to: BoxId) -> Result<(), LinkError> {
        let src = self.existing_box(from)?;
        let dst = self.existing_box(to)?;
        if src.node.kind() == NodeKind::Inbox {
            return Err(LinkError::WrongDirection {
                from: self.label(from),
                to: self.label(to),
                reason: "the source is an inbox that queues messages; only outboxes and passthrough inboxes can be sources",
            });
        }
        if src.node.kind() == NodeKind::Passthrough && dst.node.kind() == NodeKind::Outbox {
            return Err(LinkError::WrongDirection {
                from: self.label(from),
                to: self.label(to),
                reason: "an inbox cannot link to an outbox",
            });
        }
        if src.node.msg_type() != dst.node.msg_type() {
            return Err(LinkError::TypeMismatch {
                from: self.label(from),
                from_type: src.node.type_name(),
                to: self.label(to),
                to_type: dst.node.type_name(),
            });
        }
        // Refuse loops: following the destination's chain must not come back to the source.
        let mut cur = to;
        for _ in 0..MAX_CHAIN {
            if cur == from {
                return Err(LinkError::Cycle {
                    from: self.label(from),
                    to: self.label(to),
                });
            }
            match self.get_box(cur).and_then(|b| b.link()) {
                Some(l) => cur = l.to,
                None => return Ok(()),
            }
        }
        Err(LinkError::Cycle {
            from: self.label(from),
            to: self.label(to),
        })
    }

    /// Make or replace the link from `from`. With `replace` false an existing link is an error.
    pub(crate) fn link(
        &mut self,
        from: BoxId,
        to: BoxId,
        policy: Policy,
        replace: bool,
    ) -> Result<Option<BoxId>, LinkError> {
        self.check_link(from, to)?;
        let old = self.get_box(from).and_then(|b| b.link()).map(|l| l.to);
        if let (Some(existing), false) = (old, replace) {
            return Err(LinkError::AlreadyLinked {
                from: self.label(from),
                to: self.label(to),
                existing: self.label(existing),
            });
        }
        if let Some(old) = old
            && let Some(b) = self.get_box_mut(old)
        {
            b.remove_incoming(from);
        }
        if let Some(b) = self.get_box_mut(from) {
            b.set_link(Some(Link { to, policy }));
        }
        if let Some(b) = self.get_box_mut(to) {
            b.add_incoming(from);
        }
        if self.get_box(to).is_some_and(|b| b.label.name() == "signal")
            && let Some(e) = self.components.get_mut(&to.component)
        {
            e.signal_fed = true;
        }
        self.refresh_from(from);
        // A hold linked again hands what it kept to where it now leads (after the
        // routes above changed, so a sender that finds the hold closed retries there).
        if let Some(src) = self.get_box(from)
            && src.node.held().is_some()
            && let Some((target, _, _)) = self.resolve(from)
        {
            let lost = src.node.release_into(&target);
            if lost > 0 {
                tracing::warn!(
                    hold = %self.label(from),
                    lost,
                    "a hold's messages could not be handed on (its new destination closed)"
                );
            }
        }
        Ok(old)
    }

    /// Remove the link from `from`, returning its old destination.
    pub(crate) fn unlink(&mut self, from: BoxId) -> Result<BoxId, LinkError> {
        self.existing_box(from)?;
        let old = self
            .get_box_mut(from)
            .and_then(|b| b.set_link(None))
            .ok_or_else(|| LinkError::NotLinked {
                from: self.label(from),
            })?;
        if let Some(b) = self.get_box_mut(old.to) {
            b.remove_incoming(from);
        }
        self.refresh_from(from);
        Ok(old.to)
    }

    /// Remove one box: its link, and every link into it. Returns the removed entry and
    /// the (from, to) pairs of the links that went.
    pub(crate) fn remove_box(&mut self, id: BoxId) -> Option<(BoxEntry, Vec<(BoxId, BoxId)>)> {
        let mut removed = Vec::new();
        let entry = self
            .components
            .get_mut(&id.component)?
            .boxes
            .get_mut(id.index as usize)?
            .take()?;
        entry.node.set_route(None, None);
        if let Some(link) = entry.link() {
            if let Some(b) = self.get_box_mut(link.to) {
                b.remove_incoming(id);
            }
            removed.push((id, link.to));
        }
        for src in entry.incoming() {
            if let Some(b) = self.get_box_mut(src) {
                b.set_link(None);
            }
            removed.push((src, id));
            self.refresh_from(src);
        }
        self.services.retain(|_, b| *b != id);
        Some((entry, removed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_box_entry_stays_small() {
        // Every box of every live component has one: keep it within a cache line.
        assert!(std::mem::size_of::<Wiring>() <= 16);
        assert!(std::mem::size_of::<Option<BoxEntry>>() <= 48);
        // And every live component one of these in the graph's table.
        assert!(std::mem::size_of::<ComponentEntry>() <= 72);
        // A component's context holds two outboxes, and a waiting send one more.
        assert!(std::mem::size_of::<crate::Outbox<u64>>() <= 24);
    }

    #[test]
    fn wiring_keeps_links_and_sources_in_any_combination() {
        let id = |n| BoxId {
            component: ComponentId(n),
            index: 0,
        };
        let node = crate::boxes::make_node::<u8>(NodeKind::Outbox, 1);
        let mut b = BoxEntry::new(BoxLabel::new(Cow::Borrowed("outbox"), "data out"), node);
        assert!(b.link().is_none() && b.incoming().is_empty());
        b.add_incoming(id(1));
        assert_eq!(b.incoming().as_slice(), &[id(1)]);
        let link = Link {
            to: id(9),
            policy: Policy::DropNewest,
        };
        assert!(b.set_link(Some(link)).is_none());
        b.add_incoming(id(2));
        assert_eq!(b.incoming().as_slice(), &[id(1), id(2)]);
        assert_eq!(
            b.link().map(|l| (l.to, l.policy)),
            Some((id(9), Policy::DropNewest))
        );
        b.remove_incoming(id(1));
        b.remove_incoming(id(2));
        assert!(b.incoming().is_empty());
        assert_eq!(b.set_link(None).map(|l| l.to), Some(id(9)));
        assert!(b.link().is_none());
    }
}
