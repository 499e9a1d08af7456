//! The graph's side of a box: the type-erased [`Node`], a real inbox's queue
//! ([`InboxNode`]), a passthrough ([`PassNode`]) and an outbox's route ([`OutboxNode`]).

use super::Policy;
use crate::ask::{AskInfo, AskStats};
use crate::drops::DropReport;
use crate::queue::Queue;
use crate::sync::Mutex;
use crate::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use rustc_hash::FxHashMap;
use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock, OnceLock};

/// What sort of node a box is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// A real inbox with a queue.
    Inbox,
    /// A composite's boundary inbox that only forwards along its link.
    Passthrough,
    /// An outbox (which may also be the target of a child's outbox).
    Outbox,
}

/// Counters of one box, read without stopping anything.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NodeStats {
    pub(crate) depth: usize,
    pub(crate) capacity: Option<usize>,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) dropped: u64,
    pub(crate) undelivered: u64,
    /// Bytes queued and the byte budget, for an inbox that has one.
    pub(crate) bytes: Option<(usize, usize)>,
    /// Requests sent and how they ended, for an outbox that has sent any.
    pub(crate) asks: Option<AskInfo>,
}

/// The type-erased face of a box node, kept in the graph.
pub(crate) trait Node: Send + Sync + 'static {
    fn msg_type(&self) -> TypeId;
    fn type_name(&self) -> &'static str;
    fn kind(&self) -> NodeKind;
    fn stats(&self) -> NodeStats;
    /// Messages dropped by lossy links at this box (cheaper than `stats`).
    fn dropped(&self) -> u64 {
        0
    }
    /// Close an inbox's queue: blocked senders wake and re-resolve, and what is still
    /// queued is dropped (nobody will read it; a request in it is answered with an
    /// error at once). Returns how many messages were dropped so.
    fn close(&self) -> u64;
    /// Point an outbox at a real inbox (or at nothing); a lossy route carries the
    /// report its drops are told to.
    fn set_route(&self, target: Option<(&Arc<dyn Node>, Policy)>, report: Option<Arc<DropReport>>);
    fn as_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// An inbox whose reader has been handed out (only real inboxes can be).
    fn is_taken(&self) -> bool {
        false
    }
    /// Record that the inbox's reader has been handed out.
    fn set_taken(&self) {}
    /// A new node of the same message type.
    fn new_like(&self, kind: NodeKind, capacity: usize) -> Arc<dyn Node>;
    /// A new hold of the same message type (see [`HoldNode`]).
    fn new_hold(&self, capacity: usize) -> Arc<dyn Node>;
    /// For a hold: the queue that keeps what is sent while it leads nowhere.
    fn held(&self) -> Option<Arc<dyn Node>> {
        None
    }
    /// For a hold that leads somewhere again: move what it kept to the front of
    /// `target` (the inbox it now resolves to) and start a fresh, empty hold. Returns
    /// how many messages could not be moved (the target closed) and were dropped.
    fn release_into(&self, _target: &Arc<dyn Node>) -> u64 {
        0
    }
    /// For an inbox that is going away behind a hold: close it and move what is still
    /// queued to the front of the hold, for the next instance. `None` if this node
    /// cannot (not an inbox, or another type); `Some(lost)` counts what the hold,
    /// closed meanwhile, could not take.
    fn hand_over(&self, _hold: &Arc<dyn Node>) -> Option<u64> {
        None
    }
}

pub(crate) fn make_node<T: Send + 'static>(kind: NodeKind, capacity: usize) -> Arc<dyn Node> {
    match kind {
        NodeKind::Inbox => Arc::new(InboxNode::<T>::new(capacity)),
        NodeKind::Passthrough => Arc::new(PassNode::<T>(PhantomData)),
        NodeKind::Outbox => Arc::new(OutboxNode::<T>::new()),
    }
}

/// The queue behind a real inbox. Its buffer grows with use (see [`Queue`]), so an
/// idle component holds no queue memory.
pub(crate) struct InboxNode<T> {
    // Its received and dropped counts live in the queue, on the reader's cache line.
    pub(super) queue: Queue<T>,
}

impl<T> InboxNode<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        InboxNode {
            queue: Queue::new(capacity),
        }
    }

    /// The last lifecycle message read from this inbox (only used for `control`),
    /// as its [`Control::code`].
    #[inline]
    pub(crate) fn lifecycle(&self) -> &AtomicU8 {
        &self.queue.tag
    }

    #[inline]
    pub(crate) fn queue(&self) -> &Queue<T> {
        &self.queue
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.len() == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    #[inline]
    pub(crate) fn parked_since(&self) -> u64 {
        self.queue.parked_since()
    }

    /// Close the queue and wake whoever waits on it.
    pub(crate) fn shut(&self) {
        self.queue.close();
    }
}

pub(super) fn bump(counter: &AtomicU64) {
    // Each counter has one writer at a time (the box's owner), so a load and a store suffice.
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl<T: Send + 'static> Node for InboxNode<T> {
    fn msg_type(&self) -> TypeId {
        TypeId::of::<T>()
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn kind(&self) -> NodeKind {
        NodeKind::Inbox
    }
    fn stats(&self) -> NodeStats {
        NodeStats {
            depth: self.len(),
            capacity: Some(self.queue.capacity()),
            received: self.queue.received().load(Ordering::Relaxed),
            dropped: self.queue.dropped().load(Ordering::Relaxed),
            bytes: self.queue.bytes(),
            ..NodeStats::default()
        }
    }
    fn dropped(&self) -> u64 {
        self.queue.dropped().load(Ordering::Relaxed)
    }
    fn close(&self) -> u64 {
        self.shut();
        self.queue.clear() as u64
    }
    fn hand_over(&self, hold: &Arc<dyn Node>) -> Option<u64> {
        let held = hold.held()?.as_any_arc().downcast::<InboxNode<T>>().ok()?;
        let queued = self.queue.close_take();
        Some(match held.queue.prepend(queued) {
            Ok(()) => 0,
            Err(lost) => lost.len() as u64,
        })
    }
    fn is_taken(&self) -> bool {
        self.queue.taken.load(Ordering::Relaxed)
    }
    fn set_taken(&self) {
        self.queue.taken.store(true, Ordering::Relaxed);
    }
    fn set_route(&self, _target: Option<(&Arc<dyn Node>, Policy)>, _r: Option<Arc<DropReport>>) {}
    fn as_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn new_like(&self, kind: NodeKind, capacity: usize) -> Arc<dyn Node> {
        match kind {
            NodeKind::Inbox => {
                let node = InboxNode::<T>::new(capacity);
                // A new capacity keeps the byte budget.
                node.queue.set_budget(self.queue.budget());
                Arc::new(node)
            }
            _ => make_node::<T>(kind, capacity),
        }
    }
    fn new_hold(&self, capacity: usize) -> Arc<dyn Node> {
        Arc::new(HoldNode::<T>::new(capacity))
    }
}

/// A passthrough inbox: no queue, only a type.
pub(crate) struct PassNode<T>(PhantomData<fn() -> T>);

impl<T: Send + 'static> Node for PassNode<T> {
    fn msg_type(&self) -> TypeId {
        TypeId::of::<T>()
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn kind(&self) -> NodeKind {
        NodeKind::Passthrough
    }
    fn stats(&self) -> NodeStats {
        NodeStats::default()
    }
    fn close(&self) -> u64 {
        0
    }
    fn set_route(&self, _target: Option<(&Arc<dyn Node>, Policy)>, _r: Option<Arc<DropReport>>) {}
    fn as_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn new_like(&self, kind: NodeKind, capacity: usize) -> Arc<dyn Node> {
        make_node::<T>(kind, capacity)
    }
    fn new_hold(&self, capacity: usize) -> Arc<dyn Node> {
        Arc::new(HoldNode::<T>::new(capacity))
    }
}

/// A passthrough that holds: a composite's boundary inbox (a supervisor's) that,
/// while it leads nowhere — the child behind it is being restarted — keeps what is
/// sent to it in a bounded queue of its own, so senders wait (backpressure) instead of
/// failing. When it is linked again, what it kept goes to the front of the new
/// destination, ahead of anything sent there since, so each sender's order holds.
pub(crate) struct HoldNode<T> {
    hold: Mutex<Arc<InboxNode<T>>>,
    capacity: usize,
}

impl<T> HoldNode<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        HoldNode {
            hold: Mutex::new(Arc::new(InboxNode::new(capacity))),
            capacity,
        }
    }

    fn current(&self) -> Arc<InboxNode<T>> {
        self.hold.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl<T: Send + 'static> Node for HoldNode<T> {
    fn msg_type(&self) -> TypeId {
        TypeId::of::<T>()
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn kind(&self) -> NodeKind {
        NodeKind::Passthrough
    }
    fn stats(&self) -> NodeStats {
        let hold = self.current();
        NodeStats {
            depth: hold.len(),
            capacity: Some(self.capacity),
            received: hold.queue.received().load(Ordering::Relaxed),
            dropped: hold.queue.dropped().load(Ordering::Relaxed),
            ..NodeStats::default()
        }
    }
    fn close(&self) -> u64 {
        self.current().close()
    }
    fn set_route(&self, _target: Option<(&Arc<dyn Node>, Policy)>, _r: Option<Arc<DropReport>>) {}
    fn as_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn new_like(&self, kind: NodeKind, capacity: usize) -> Arc<dyn Node> {
        make_node::<T>(kind, capacity)
    }
    fn new_hold(&self, capacity: usize) -> Arc<dyn Node> {
        Arc::new(HoldNode::<T>::new(capacity))
    }
    fn held(&self) -> Option<Arc<dyn Node>> {
        Some(self.current())
    }
    fn release_into(&self, target: &Arc<dyn Node>) -> u64 {
        let old = {
            // Always a fresh hold: a sender that read the old route just before the
            // relink may still push into the old one, and must find it closed.
            let mut hold = self.hold.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *hold, Arc::new(InboxNode::new(self.capacity)))
        };
        // Closing wakes senders waiting for room in the hold; their routes were
        // refreshed before this, so they retry on the new destination.
        let kept = old.queue.close_take();
        let target = target.clone().as_any_arc().downcast::<InboxNode<T>>();
        match target {
            Ok(t) => match t.queue.prepend(kept) {
                Ok(()) => 0,
                Err(lost) => lost.len() as u64,
            },
            Err(_) => kept.len() as u64,
        }
    }
}

/// Where an outbox's messages go: the final inbox and, for a lossy link, the report its
/// drops are told to, which also holds the link's policy (a `Block` link has none).
/// Two words: the policy costs no space of its own.
pub(crate) struct Route<T> {
    pub(super) target: Arc<InboxNode<T>>,
    pub(super) report: Option<Arc<DropReport>>,
}

impl<T> Route<T> {
    fn policy(&self) -> Policy {
        self.report.as_ref().map_or(Policy::Block, |r| r.policy())
    }
}

impl<T> Clone for Route<T> {
    fn clone(&self) -> Self {
        Route {
            target: self.target.clone(),
            report: self.report.clone(),
        }
    }
}

/// An outbox's copy of its route, and the version it was read at. Kept flat (the
/// policy and version share the word after the pointer) so an `Outbox` is three words.
pub(super) struct Cached<T> {
    pub(super) target: Option<Arc<InboxNode<T>>>,
    pub(super) policy: Policy,
    /// Wraps; a stale copy would need exactly 2^32 link changes between two sends.
    pub(super) version: u32,
}

/// The shared state of an outbox.
pub(crate) struct OutboxNode<T> {
    pub(super) version: AtomicU32,
    pub(super) route: Mutex<Option<Route<T>>>,
    pub(super) sent: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) undelivered: AtomicU64,
    /// The component that owns it, for send errors (0: not named there).
    pub(crate) owner: u64,
    /// What names it in send errors and, for a named outbox of requests, counts its
    /// requests; shared by every outbox of the same name on components of the same
    /// name when it counts nothing (so a named outbox costs no allocation of its own).
    pub(crate) meta: Option<Arc<OutboxMeta>>,
}

/// An outbox's name for errors, and its request counters ([`ask`](crate::ask)).
#[derive(Debug)]
pub(crate) struct OutboxMeta {
    /// `` outbox `name` of Component `` (the owner's id is added from the node).
    what: Cow<'static, str>,
    /// Requests sent through it and how they ended; only on outboxes of requests.
    pub(crate) asks: Option<AskStats>,
}

impl OutboxMeta {
    /// The meta of outbox `name` on a component called `component`, each `Ok` if it is
    /// a string literal; shared when both are and requests are not counted (the table
    /// is bounded by the program's literals).
    pub(crate) fn named(
        name: Result<&'static str, &str>,
        component: Result<&'static str, &str>,
        counts_asks: bool,
    ) -> Arc<OutboxMeta> {
        let make = |name: &str, component: &str| OutboxMeta {
            what: Cow::Owned(format!("outbox `{name}` of {component}")),
            asks: counts_asks.then(AskStats::default),
        };
        let (Ok(name), Ok(component), false) = (name, component, counts_asks) else {
            let (name, component) = (name.unwrap_or_else(|s| s), component.unwrap_or_else(|s| s));
            return Arc::new(make(name, component));
        };
        type Table = FxHashMap<(&'static str, &'static str), Arc<OutboxMeta>>;
        static TABLE: LazyLock<std::sync::Mutex<Table>> = LazyLock::new(Default::default);
        TABLE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((name, component))
            .or_insert_with(|| Arc::new(make(name, component)))
            .clone()
    }
}

/// The outbox a send error names: `` outbox `name` of Component#id ``.
#[derive(Debug, Clone)]
pub(crate) struct OutboxName {
    meta: Arc<OutboxMeta>,
    owner: u64,
}

impl std::fmt::Display for OutboxName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.meta.what)?;
        if self.owner != 0 {
            write!(f, "#{}", self.owner)?;
        }
        Ok(())
    }
}

impl<T> OutboxNode<T> {
    pub(super) fn new() -> Self {
        OutboxNode {
            version: AtomicU32::new(0),
            route: Mutex::new(None),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            undelivered: AtomicU64::new(0),
            owner: 0,
            meta: None,
        }
    }

    /// An outbox declared by name on component `owner`: its send errors name it.
    pub(crate) fn labelled(meta: Arc<OutboxMeta>, owner: u64) -> Self {
        OutboxNode {
            owner,
            meta: Some(meta),
            ..OutboxNode::new()
        }
    }

    /// A component's default `outbox`: its errors say which box (one label shared by
    /// every component, so no per-component allocation; the component is named where
    /// its failure is logged). Requests through it are not counted.
    pub(crate) fn default_outbox() -> Self {
        static META: OnceLock<Arc<OutboxMeta>> = OnceLock::new();
        OutboxNode {
            meta: Some(
                META.get_or_init(|| {
                    Arc::new(OutboxMeta {
                        what: Cow::Borrowed("outbox `outbox`"),
                        asks: None,
                    })
                })
                .clone(),
            ),
            ..OutboxNode::new()
        }
    }

    /// What a send error on it names, if it is named.
    pub(crate) fn name(&self) -> Option<OutboxName> {
        self.meta.as_ref().map(|meta| OutboxName {
            meta: meta.clone(),
            owner: self.owner,
        })
    }

    /// Tell the route's report (a lossy link's) about a drop.
    pub(super) fn report_drop(&self) {
        let report = {
            let guard = self.route.lock().unwrap_or_else(|p| p.into_inner());
            guard.as_ref().and_then(|r| r.report.clone())
        };
        if let Some(r) = report {
            r.note(self.dropped.load(Ordering::Relaxed));
        }
    }

    pub(super) fn current(&self) -> Cached<T> {
        let guard = self.route.lock().unwrap_or_else(|p| p.into_inner());
        // Read the version under the lock so it matches the route read with it.
        let version = self.version.load(Ordering::Acquire);
        match &*guard {
            Some(r) => Cached {
                target: Some(r.target.clone()),
                policy: r.policy(),
                version,
            },
            None => Cached {
                target: None,
                policy: Policy::Block,
                version,
            },
        }
    }
}

impl<T: Send + 'static> Node for OutboxNode<T> {
    fn msg_type(&self) -> TypeId {
        TypeId::of::<T>()
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn kind(&self) -> NodeKind {
        NodeKind::Outbox
    }
    fn stats(&self) -> NodeStats {
        NodeStats {
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            undelivered: self.undelivered.load(Ordering::Relaxed),
            asks: self
                .meta
                .as_ref()
                .and_then(|m| m.asks.as_ref())
                .map(AskStats::read)
                .filter(|a| a.asked > 0),
            ..NodeStats::default()
        }
    }
    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    fn close(&self) -> u64 {
        0
    }
    fn set_route(&self, target: Option<(&Arc<dyn Node>, Policy)>, report: Option<Arc<DropReport>>) {
        let route = target.and_then(|(node, policy)| {
            // The report carries a lossy link's policy (the graph always makes one).
            let report = match (policy, report) {
                (Policy::Block, _) => None,
                (_, Some(r)) if r.policy() == policy => Some(r),
                (_, _) => Some(Arc::new(DropReport::new("(a link)".to_string(), policy))),
            };
            node.clone()
                .as_any_arc()
                .downcast::<InboxNode<T>>()
                .ok()
                .map(|target| Route { target, report })
        });
        let mut guard = self.route.lock().unwrap_or_else(|p| p.into_inner());
        *guard = route;
        self.version.fetch_add(1, Ordering::AcqRel);
    }
    fn as_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn new_like(&self, kind: NodeKind, capacity: usize) -> Arc<dyn Node> {
        make_node::<T>(kind, capacity)
    }
    fn new_hold(&self, capacity: usize) -> Arc<dyn Node> {
        Arc::new(HoldNode::<T>::new(capacity))
    }
}
