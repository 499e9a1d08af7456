//! What one page draws: the snapshot folded for display (collapsed composites, a
//! big composite's children grouped by name), and the change between two views.

use std::collections::{BTreeMap, HashSet};

use rustc_hash::FxHashMap;
use serde::Serialize;
use tokio::time::Instant;

use super::FOLD_ABOVE;
use super::metrics::Tally;
use crate::boxes::{ComponentId, Direction};
use crate::graph::{GraphState, Phase};
use crate::introspect::{ComponentInfo, Counter, LinkInfo, Snapshot, component_info};
use crate::record::RecordingInfo;

/// Most members of an expanded group drawn one by one; the rest stay in the group.
pub(crate) const MAX_EXPANDED: usize = 200;

/// One reading of the graph, shared by every page, with the members of folded
/// groups that no page expanded already merged: one entry stands for the group
/// (counters summed), the members' own children are left out, and their links are
/// merged too. So a server with 10 000 connections costs a few entries here, not
/// 20 000, and no snapshot of them is ever made.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) at: Instant,
    pub(crate) snap: Snapshot,
    index: FxHashMap<ComponentId, usize>,
    children: FxHashMap<ComponentId, usize>,
    /// (composite, child name) of each group: two or more children of one name of a
    /// composite with more than [`FOLD_ABOVE`] children.
    groups: HashSet<(ComponentId, String)>,
    /// For an entry standing for several group members: (members, running).
    weights: FxHashMap<ComponentId, (usize, usize)>,
    /// How many links each entry of `snap.links` stands for (absent: 1).
    link_weights: Vec<usize>,
}

impl Frame {
    /// Read the graph in one pass under its lock: the members of folded groups that
    /// no page expanded (`expanded`: every page's expanded groups) are merged as they
    /// are read, so they cost no entry of their own; every component's counters also
    /// go to `tally` (the metrics).
    pub(crate) fn read(
        st: &GraphState,
        at: Instant,
        expanded: &HashSet<String>,
        tally: &mut Tally<'_>,
    ) -> Self {
        let mut ids: Vec<ComponentId> = st.components.keys().copied().collect();
        ids.sort_unstable();
        let mut children: FxHashMap<ComponentId, usize> = FxHashMap::default();
        for e in st.components.values() {
            if let Some(p) = e.parent() {
                *children.entry(p).or_default() += 1;
            }
        }
        let folds = |id: ComponentId| children.get(&id).copied().unwrap_or(0) > FOLD_ABOVE;
        // A folding composite's children of one name form a group when there are
        // two or more of them (a lone child stays itself).
        let mut named: FxHashMap<(ComponentId, &str), usize> = FxHashMap::default();
        for e in st.components.values() {
            if let Some(p) = e.parent().filter(|p| folds(*p)) {
                *named.entry((p, e.name())).or_default() += 1;
            }
        }
        let grouped = |p: ComponentId, name: &str| {
            named.get(&(p, name)).is_some_and(|n| *n > 1)
                && (expanded.is_empty() || !expanded.contains(&group_key(p, name)))
        };
        let mut reps: FxHashMap<(ComponentId, &str), usize> = FxHashMap::default();
        let mut weights: FxHashMap<ComponentId, (usize, usize)> = FxHashMap::default();
        let mut components: Vec<ComponentInfo> = Vec::new();
        let mut scratch = Vec::new();
        for &id in &ids {
            let e = &st.components[&id];
            let running = e.phase == Phase::Running;
            let pid = tally.component(
                id,
                e.parent(),
                e.name(),
                children.contains_key(&id),
                running,
            );
            for b in e.boxes.iter().flatten() {
                let s = b.node.stats();
                tally.boxed(pid, b.label.name(), b.direction() == Direction::In, &s);
            }
            if let Some(read) = st.published.get(&id) {
                for (name, value) in read() {
                    tally.published(pid, Counter { name, value });
                }
            }
            // Inside a merged member (a connection's handler's children): left out.
            if e.parent()
                .is_some_and(|p| stand_in(st, &grouped, &reps, p).is_some())
            {
                continue;
            }
            let group = e.parent().filter(|p| grouped(*p, e.name()));
            match group.and_then(|p| reps.get(&(p, e.name())).map(|&i| (p, i))) {
                Some((_, i)) => {
                    let rep = &mut components[i];
                    merge(rep, st, id);
                    let w = weights.entry(rep.id).or_insert((1, 0));
                    w.0 += 1;
                    w.1 += usize::from(running);
                }
                None => {
                    if let Some(p) = group {
                        reps.insert((p, e.name()), components.len());
                        weights.insert(id, (1, usize::from(running)));
                    }
                    components.push(component_info(st, id, &mut scratch));
                    scratch.clear();
                }
            }
        }
        // Links, each end moved to the entry that stands for it, merged; read from
        // the graph without copying names until one is kept.
        let alias =
            |c: ComponentId| stand_in(st, &grouped, &reps, c).map_or(c, |i| components[i].id);
        let mut merged: FxHashMap<(ComponentId, &str, ComponentId, &str), usize> =
            FxHashMap::default();
        let mut kept: Vec<LinkInfo> = Vec::new();
        let mut link_weights = Vec::new();
        for &id in &ids {
            let from = alias(id);
            for b in st.components[&id].boxes.iter().flatten() {
                let Some(l) = b.link() else { continue };
                let Some(to_box) = st.get_box(l.to) else {
                    continue;
                };
                let to = alias(l.to.component);
                let key = (from, b.label.name(), to, to_box.label.name());
                match merged.get(&key) {
                    Some(&i) => link_weights[i] += 1,
                    None => {
                        merged.insert(key, kept.len());
                        kept.push(LinkInfo {
                            from_component: from,
                            from_box: key.1.to_string(),
                            to_component: to,
                            to_box: key.3.to_string(),
                            policy: l.policy,
                        });
                        link_weights.push(1);
                    }
                }
            }
        }
        let index = components
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let groups = named
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|((p, name), _)| (p, name.to_string()))
            .collect();
        Frame {
            at,
            snap: Snapshot {
                components,
                links: kept,
                services: Vec::new(),
                recordings: Vec::new(),
            },
            index,
            children,
            groups,
            weights,
            link_weights,
        }
    }

    fn get(&self, id: ComponentId) -> Option<&ComponentInfo> {
        self.index.get(&id).map(|&i| &self.snap.components[i])
    }

    /// True if `id` has children (is drawn as a composite).
    fn has_children(&self, id: ComponentId) -> bool {
        self.children.contains_key(&id)
    }

    /// True if `parent`'s children named `name` are drawn as one group.
    fn grouped(&self, parent: ComponentId, name: &str) -> bool {
        self.groups.contains(&(parent, name.to_string()))
    }

    /// (members, running) that the entry `c` stands for.
    fn weight(&self, c: &ComponentInfo) -> (usize, usize) {
        self.weights
            .get(&c.id)
            .copied()
            .unwrap_or((1, usize::from(c.state == "running")))
    }
}

/// The index of the entry that stands for `c` if `c` is merged into a group's entry
/// (a group member, or inside one), found by walking up its parents.
fn stand_in<'a>(
    st: &'a GraphState,
    grouped: &impl Fn(ComponentId, &str) -> bool,
    reps: &FxHashMap<(ComponentId, &'a str), usize>,
    c: ComponentId,
) -> Option<usize> {
    let mut at = c;
    for _ in 0..64 {
        let e = st.components.get(&at)?;
        let p = e.parent()?;
        if grouped(p, e.name()) {
            return reps.get(&(p, e.name())).copied();
        }
        at = p;
    }
    None
}

/// Add component `id`'s box counters to `rep`'s (two members of one folded group).
fn merge(rep: &mut ComponentInfo, st: &GraphState, id: ComponentId) {
    let e = &st.components[&id];
    rep.restarts += st.restarts.get(&id).map_or(0, |r| r.restarts);
    for b in e.boxes.iter().flatten() {
        let name = b.label.name();
        if let Some(r) = rep.boxes.iter_mut().find(|r| r.name == name) {
            let s = b.node.stats();
            r.depth += s.depth;
            r.capacity = add_opt(r.capacity, s.capacity);
            r.bytes = add_opt(r.bytes, s.bytes.map(|(used, _)| used));
            r.sent += s.sent;
            r.received += s.received;
            r.dropped += s.dropped;
            r.undelivered += s.undelivered;
        }
    }
    if let Some(read) = st.published.get(&id) {
        for (name, value) in read() {
            if let Some(r) = rep.counters.iter_mut().find(|r| r.name == name) {
                r.value += value;
            }
        }
    }
}

/// What a page asked to see differently from the default.
#[derive(Debug, Default, Clone)]
pub(crate) struct ViewChoice {
    /// Composites drawn as one box.
    pub(crate) collapsed: HashSet<ComponentId>,
    /// Groups (`g<parent>:<name>`) drawn member by member.
    pub(crate) expanded: HashSet<String>,
}

/// One box's counters as drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BoxView {
    name: String,
    /// `in` or `out`.
    dir: &'static str,
    depth: usize,
    capacity: Option<usize>,
    bytes: Option<usize>,
    sent: u64,
    received: u64,
    dropped: u64,
    /// Messages a second through this box since the last reading.
    rate: f64,
}

/// One drawn box: a component, or a group of a composite's children of one name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct NodeView {
    key: String,
    label: String,
    parent: Option<String>,
    /// `component`, `composite`, `collapsed` or `group`.
    kind: &'static str,
    /// Components it stands for (1 unless a group or collapsed composite).
    members: usize,
    /// `prepared`, `running`, or for a group how many are running.
    state: String,
    restarts: u32,
    last_failure: Option<String>,
    boxes: Vec<BoxView>,
    counters: Vec<(String, u64)>,
    /// For a folded group: whether the page expanded it.
    expanded: Option<bool>,
}

/// One drawn link (links between the same drawn boxes and box names are one edge).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct EdgeView {
    key: String,
    from: String,
    to: String,
    label: String,
    count: usize,
    /// The link's ends as `name#id.box` (what the recording routes take), when the
    /// edge stands for exactly one link.
    link: Option<(String, String)>,
}

/// A page's whole view.
#[derive(Debug, Default, Clone)]
pub(crate) struct View {
    pub(crate) nodes: BTreeMap<String, NodeView>,
    pub(crate) edges: BTreeMap<String, EdgeView>,
    /// Tapped links and their recordings' counters.
    recordings: Vec<RecordingInfo>,
    at: Option<Instant>,
}

/// What changed between two views: what to draw anew and what to remove.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Delta {
    nodes: Vec<NodeView>,
    removed_nodes: Vec<String>,
    edges: Vec<EdgeView>,
    removed_edges: Vec<String>,
    /// The whole list of tapped links, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    recordings: Option<Vec<RecordingInfo>>,
}

impl Delta {
    pub(crate) fn is_empty(&self) -> bool {
        self.recordings.is_none()
            && self.nodes.is_empty()
            && self.removed_nodes.is_empty()
            && self.edges.is_empty()
            && self.removed_edges.is_empty()
    }
}

fn group_key(parent: ComponentId, name: &str) -> String {
    format!("g{}:{}", parent.0, name)
}

fn component_key(id: ComponentId) -> String {
    format!("c{}", id.0)
}

/// Where each component is drawn.
struct Placement<'a> {
    frame: &'a Frame,
    choice: &'a ViewChoice,
    memo: FxHashMap<ComponentId, String>,
    shown: FxHashMap<String, usize>,
}

impl Placement<'_> {
    /// The key of the box `id` is drawn in.
    fn key(&mut self, id: ComponentId) -> String {
        if let Some(k) = self.memo.get(&id) {
            return k.clone();
        }
        let key = self.place(id);
        self.memo.insert(id, key.clone());
        key
    }

    fn place(&mut self, id: ComponentId) -> String {
        let Some(c) = self.frame.get(id) else {
            return component_key(id);
        };
        let Some(parent) = c.parent else {
            return component_key(id);
        };
        let parent_key = self.key(parent);
        if parent_key != component_key(parent) {
            // The parent is folded into a group or a collapsed ancestor: so is this.
            return parent_key;
        }
        if self.choice.collapsed.contains(&parent) {
            return parent_key;
        }
        if self.frame.grouped(parent, &c.name) {
            let g = group_key(parent, &c.name);
            if !self.choice.expanded.contains(&g) {
                return g;
            }
            let shown = self.shown.entry(g.clone()).or_default();
            if *shown >= MAX_EXPANDED {
                return g;
            }
            *shown += 1;
        }
        component_key(id)
    }
}

/// Sums of one box name over the components drawn in one node.
#[derive(Default)]
struct BoxSum {
    dir: &'static str,
    depth: usize,
    capacity: Option<usize>,
    bytes: Option<usize>,
    sent: u64,
    received: u64,
    dropped: u64,
}

#[derive(Default)]
struct NodeSum {
    label: String,
    parent: Option<String>,
    kind: &'static str,
    members: usize,
    running: usize,
    state: &'static str,
    restarts: u32,
    last_failure: Option<String>,
    boxes: BTreeMap<String, BoxSum>,
    counters: BTreeMap<String, u64>,
    expanded: Option<bool>,
}

impl NodeSum {
    fn add_boxes(&mut self, c: &ComponentInfo) {
        for b in &c.boxes {
            let s = self.boxes.entry(b.name.clone()).or_default();
            s.dir = match b.direction {
                Direction::In => "in",
                Direction::Out => "out",
            };
            s.depth += b.depth;
            s.capacity = add_opt(s.capacity, b.capacity);
            s.bytes = add_opt(s.bytes, b.bytes);
            s.sent += b.sent;
            s.received += b.received;
            s.dropped += b.dropped;
        }
    }
}

/// Count `c` in group `key`: its boxes and counters are summed into the group's.
/// Only direct members are summed (a member's own children are folded in with it,
/// but counted once, by their own name's group or not at all).
fn add_to_group(
    sum: &mut NodeSum,
    key: &str,
    c: &ComponentInfo,
    (members, running): (usize, usize),
    parent: Option<String>,
    choice: &ViewChoice,
) {
    let direct = key.ends_with(&format!(":{}", c.name))
        && c.parent
            .is_some_and(|p| key.starts_with(&format!("g{}:", p.0)));
    if sum.kind.is_empty() {
        sum.kind = "group";
        sum.label = key.split_once(':').map_or(key, |(_, n)| n).to_string();
        sum.parent = parent;
        sum.expanded = Some(choice.expanded.contains(key));
    }
    if !direct {
        return;
    }
    sum.members += members;
    sum.running += running;
    sum.restarts += c.restarts;
    for k in &c.counters {
        *sum.counters.entry(k.name.to_string()).or_default() += k.value;
    }
    sum.add_boxes(c);
}

impl View {
    /// The view of `frame` a page with `choice` draws; `prev` (its last view) gives
    /// the message rates.
    pub(crate) fn project(frame: &Frame, choice: &ViewChoice, prev: &View) -> View {
        let mut place = Placement {
            frame,
            choice,
            memo: FxHashMap::default(),
            shown: FxHashMap::default(),
        };
        let mut sums: BTreeMap<String, NodeSum> = BTreeMap::new();
        for c in &frame.snap.components {
            let key = place.key(c.id);
            let own = key == component_key(c.id);
            let weight = frame.weight(c);
            let parent_key = match c.parent {
                Some(p) if !own && key.starts_with('g') => Some(place.key(p)),
                Some(p) => Some(place.key(p)).filter(|k| *k != key),
                None => None,
            };
            // A member of an expanded group is drawn inside the group's box, which
            // stays (with the group's totals) so the page can fold it again.
            let expanded_group = c
                .parent
                .filter(|p| own && frame.grouped(*p, &c.name) && place.key(*p) == component_key(*p))
                .map(|p| (group_key(p, &c.name), p));
            if let Some((g, p)) = &expanded_group {
                let group_parent = Some(place.key(*p));
                add_to_group(
                    sums.entry(g.clone()).or_default(),
                    g,
                    c,
                    weight,
                    group_parent,
                    choice,
                );
            }
            let parent_key = match expanded_group {
                Some((g, _)) => Some(g),
                None => parent_key,
            };
            let sum = sums.entry(key.clone()).or_default();
            if !own && key.starts_with('g') {
                add_to_group(sum, &key, c, weight, parent_key, choice);
                continue;
            }
            if own {
                sum.label = format!("{}#{}", c.name, c.id.0);
                sum.parent = parent_key;
                sum.state = c.state;
                sum.kind = if frame.has_children(c.id) {
                    if choice.collapsed.contains(&c.id) {
                        "collapsed"
                    } else {
                        "composite"
                    }
                } else {
                    "component"
                };
                sum.restarts = c.restarts;
                sum.last_failure.clone_from(&c.last_failure);
                for k in &c.counters {
                    sum.counters.insert(k.name.to_string(), k.value);
                }
            }
            sum.members += weight.0;
            sum.running += weight.1;
            // A collapsed composite shows only its own boxes.
            if own {
                sum.add_boxes(c);
            }
        }
        let dt = prev
            .at
            .map(|p| frame.at.saturating_duration_since(p).as_secs_f64())
            .filter(|d| *d > 0.0);
        let mut nodes = BTreeMap::new();
        for (key, s) in sums {
            let old = prev.nodes.get(&key);
            let boxes = s
                .boxes
                .into_iter()
                .map(|(name, b)| {
                    let through = b.sent + b.received;
                    let rate = match (
                        dt,
                        old.and_then(|o| o.boxes.iter().find(|x| x.name == name)),
                    ) {
                        (Some(dt), Some(o)) => {
                            let before = o.sent + o.received;
                            (through.saturating_sub(before) as f64 / dt * 10.0).round() / 10.0
                        }
                        _ => 0.0,
                    };
                    BoxView {
                        name,
                        dir: b.dir,
                        depth: b.depth,
                        capacity: b.capacity,
                        bytes: b.bytes,
                        sent: b.sent,
                        received: b.received,
                        dropped: b.dropped,
                        rate,
                    }
                })
                .collect();
            let state = if s.kind == "group" {
                format!("{} running", s.running)
            } else {
                s.state.to_string()
            };
            nodes.insert(
                key.clone(),
                NodeView {
                    key,
                    label: s.label,
                    parent: s.parent,
                    kind: s.kind,
                    members: s.members,
                    state,
                    restarts: s.restarts,
                    last_failure: s.last_failure,
                    boxes,
                    counters: s.counters.into_iter().collect(),
                    expanded: s.expanded,
                },
            );
        }
        let mut edges: BTreeMap<String, EdgeView> = BTreeMap::new();
        for (l, &weight) in frame.snap.links.iter().zip(&frame.link_weights) {
            let from = place.key(l.from_component);
            let to = place.key(l.to_component);
            if from == to || !nodes.contains_key(&from) || !nodes.contains_key(&to) {
                continue;
            }
            let key = format!("{from}.{}>{to}.{}", l.from_box, l.to_box);
            let name = |c: ComponentId, b: &str| {
                frame
                    .get(c)
                    .map(|info| format!("{}#{}.{b}", info.name, c.0))
            };
            let edge = edges.entry(key.clone()).or_insert_with(|| EdgeView {
                key,
                from,
                to,
                label: format!("{} → {}", l.from_box, l.to_box),
                count: 0,
                link: name(l.from_component, &l.from_box).zip(name(l.to_component, &l.to_box)),
            });
            edge.count += weight;
            if edge.count > 1 {
                edge.link = None;
            }
        }
        View {
            nodes,
            edges,
            recordings: frame.snap.recordings.clone(),
            at: Some(frame.at),
        }
    }

    /// What changed from `prev` to `self`.
    pub(crate) fn delta(&self, prev: &View) -> Delta {
        Delta {
            nodes: self
                .nodes
                .iter()
                .filter(|(k, n)| prev.nodes.get(*k) != Some(*n))
                .map(|(_, n)| n.clone())
                .collect(),
            removed_nodes: prev
                .nodes
                .keys()
                .filter(|k| !self.nodes.contains_key(*k))
                .cloned()
                .collect(),
            edges: self
                .edges
                .iter()
                .filter(|(k, e)| prev.edges.get(*k) != Some(*e))
                .map(|(_, e)| e.clone())
                .collect(),
            removed_edges: prev
                .edges
                .keys()
                .filter(|k| !self.edges.contains_key(*k))
                .cloned()
                .collect(),
            recordings: (self.recordings != prev.recordings).then(|| self.recordings.clone()),
        }
    }
}

fn add_opt(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Context;
    use crate::component::from_fn;

    fn leaf(name: &'static str) -> impl crate::Component<In = u8, Out = u8> {
        from_fn(name, |_c: Context<u8, u8>| async { Ok(()) })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn many_children_fold_into_one_box_per_name_until_expanded() {
        let rt = crate::Runtime::new();
        let parent = rt
            .add(from_fn("server", |_c: Context<(), ()>| async { Ok(()) }))
            .unwrap();
        let mut kids = Vec::new();
        for _ in 0..FOLD_ABOVE + 4 {
            kids.push(rt.prepare(leaf("conn"), Some(parent.id())).unwrap());
        }
        let lone = rt.add(leaf("lone")).unwrap();
        rt.link(lone.outbox(), kids[0].inbox()).unwrap();
        let metrics = super::super::metrics::Metrics::new();
        let read = |expanded: &HashSet<String>| {
            Frame::read(&rt.lock(), Instant::now(), expanded, &mut metrics.tally())
        };
        let frame = read(&HashSet::new());
        assert_eq!(
            frame.snap.components.len(),
            3,
            "the members are merged into one"
        );
        let folded = View::project(&frame, &ViewChoice::default(), &View::default());
        let g = group_key(parent.id(), "conn");
        assert_eq!(folded.nodes[&g].members, FOLD_ABOVE + 4);
        assert_eq!(folded.nodes[&g].parent, Some(component_key(parent.id())));
        assert_eq!(folded.nodes.len(), 3, "{:?}", folded.nodes.keys());
        assert_eq!(folded.edges.len(), 1);

        let mut choice = ViewChoice::default();
        choice.expanded.insert(g.clone());
        let frame = read(&choice.expanded);
        let open = View::project(&frame, &choice, &folded);
        assert_eq!(open.nodes.len(), 3 + FOLD_ABOVE + 4);
        assert_eq!(
            open.nodes[&g].members,
            FOLD_ABOVE + 4,
            "the group stays, to fold again"
        );
        assert_eq!(
            open.nodes[&component_key(kids[0].id())].parent,
            Some(g.clone())
        );
        let delta = open.delta(&folded);
        assert_eq!(
            delta.nodes.len(),
            FOLD_ABOVE + 4 + 1,
            "members and the group's flag"
        );
        assert!(delta.removed_nodes.is_empty());

        choice.collapsed.insert(parent.id());
        let shut = View::project(&frame, &choice, &open);
        assert_eq!(
            shut.nodes[&component_key(parent.id())].members,
            FOLD_ABOVE + 5
        );
        assert_eq!(shut.nodes.len(), 2, "{:?}", shut.nodes.keys());
    }
}
