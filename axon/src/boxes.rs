//! Boxes: the typed inboxes and outboxes a component owns, and the nodes behind them.
//!
//! An inbox is a bounded queue with one reader, its component. An outbox is a handle
//! that sends to whatever its link resolves to: following passthrough links to the
//! final real inbox, so a message is enqueued once however many composite
//! boundaries it crosses. The resolution is cached in the outbox and refreshed only
//! when a link on its path changes (a version counter is checked on every send).

use std::any::{Any, TypeId};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use serde::{Deserialize, Serialize};

use crate::control::Control;
use crate::drops::DropReport;
use crate::error::{SendError, TryRecvError, TrySendError};
use crate::queue::{Empty, PushError, PushPoll, PushWait, Queue};
use crate::sync::Mutex;
use crate::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

/// Capacity of an inbox unless its component or link says otherwise.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, DEFAULT_CAPACITY, component::from_fn};
/// let rt = axon::Runtime::new();
/// let p = rt.add(from_fn("x", |_c: Context<u8, ()>| async { Ok(()) })).unwrap();
/// let snap = rt.snapshot();
/// let inbox = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "inbox").unwrap();
/// assert_eq!(inbox.capacity, Some(DEFAULT_CAPACITY));
/// # }
/// ```
pub const DEFAULT_CAPACITY: usize = 64;

/// Capacity of a `control` inbox: lifecycle messages are few.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{CONTROL_CAPACITY, Context, component::from_fn};
/// let rt = axon::Runtime::new();
/// let p = rt.add(from_fn("x", |_c: Context<u8, ()>| async { Ok(()) })).unwrap();
/// let snap = rt.snapshot();
/// let control = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "control").unwrap();
/// assert_eq!(control.capacity, Some(CONTROL_CAPACITY));
/// # }
/// ```
pub const CONTROL_CAPACITY: usize = 4;

/// What a link does when its destination inbox is full. Every drop is counted on
/// both the source outbox and the destination inbox.
///
/// # Examples
///
/// ```
/// assert_eq!(axon::Policy::default(), axon::Policy::Block);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Wait for space: backpressure reaches the producer (the default).
    #[default]
    Block,
    /// Discard the message being sent.
    DropNewest,
    /// Discard the oldest queued message to make room.
    DropOldest,
    /// Discard everything queued, so the inbox holds only the newest message.
    KeepLatest,
}

/// Whether a box receives or sends.
///
/// # Examples
///
/// ```
/// assert_ne!(axon::Direction::In, axon::Direction::Out);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// An inbox.
    In,
    /// An outbox.
    Out,
}

/// The id of a component, unique within its [`Runtime`](crate::Runtime) and never reused.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let rt = axon::Runtime::new();
/// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<(), ()>| async { Ok(()) })).unwrap();
/// assert!(p.id().get() > 0);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ComponentId(pub(crate) u64);

impl ComponentId {
    /// The number behind the id.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(axon::ComponentId::from_raw(7).get(), 7);
    /// ```
    pub fn get(self) -> u64 {
        self.0
    }

    /// An id from its number (for look-ups; ids are handed out by the runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// let id = axon::ComponentId::from_raw(42);
    /// assert_eq!(id.to_string(), "42");
    /// assert!(rt.snapshot().component(id).is_none());
    /// ```
    pub fn from_raw(n: u64) -> Self {
        ComponentId(n)
    }
}

impl std::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The id of one box: its component and its slot.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let rt = axon::Runtime::new();
/// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<(), ()>| async { Ok(()) })).unwrap();
/// let id = rt.box_id(p.id(), "outbox").unwrap();
/// assert_eq!(id.component(), p.id());
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BoxId {
    pub(crate) component: ComponentId,
    pub(crate) index: u32,
}

impl BoxId {
    /// The component that owns the box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(p.outbox().id().component(), p.id());
    /// # }
    /// ```
    pub fn component(self) -> ComponentId {
        self.component
    }
}

/// A typed reference to a box in a runtime's graph, used to make links that the
/// compiler checks: [`Runtime::link`](crate::Runtime::link) takes two `BoxRef<T>` of
/// the same `T`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Runtime, Context, component::from_fn};
/// let rt = Runtime::new();
/// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
/// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
/// rt.link(a.outbox(), b.inbox()).unwrap();
/// # }
/// ```
pub struct BoxRef<T> {
    pub(crate) id: BoxId,
    _t: PhantomData<fn() -> T>,
}

impl<T> BoxRef<T> {
    pub(crate) fn new(id: BoxId) -> Self {
        BoxRef {
            id,
            _t: PhantomData,
        }
    }

    /// The untyped id of the box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(p.inbox().id(), rt.box_id(p.id(), "inbox").unwrap());
    /// # }
    /// ```
    pub fn id(&self) -> BoxId {
        self.id
    }
}

impl<T> Clone for BoxRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for BoxRef<T> {}

impl<T> std::fmt::Debug for BoxRef<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxRef").field("id", &self.id).finish()
    }
}

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
    /// Close an inbox's queue: blocked senders wake and re-resolve.
    fn close(&self);
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
    queue: Queue<T>,
    received: AtomicU64,
    dropped: AtomicU64,
}

impl<T> InboxNode<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        InboxNode {
            queue: Queue::new(capacity),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
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

fn bump(counter: &AtomicU64) {
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
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            bytes: self.queue.bytes(),
            ..NodeStats::default()
        }
    }
    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    fn close(&self) {
        self.shut();
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
    fn close(&self) {}
    fn set_route(&self, _target: Option<(&Arc<dyn Node>, Policy)>, _r: Option<Arc<DropReport>>) {}
    fn as_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn new_like(&self, kind: NodeKind, capacity: usize) -> Arc<dyn Node> {
        make_node::<T>(kind, capacity)
    }
}

/// Where an outbox's messages go: the final inbox and the policy of the link (with,
/// for a lossy link, where its drops are reported).
pub(crate) struct Route<T> {
    target: Arc<InboxNode<T>>,
    policy: Policy,
    report: Option<Arc<DropReport>>,
}

impl<T> Clone for Route<T> {
    fn clone(&self) -> Self {
        Route {
            target: self.target.clone(),
            policy: self.policy,
            report: self.report.clone(),
        }
    }
}

/// An outbox's copy of its route, and the version it was read at. Kept flat (the
/// policy and version share the word after the pointer) so an `Outbox` is three words.
struct Cached<T> {
    target: Option<Arc<InboxNode<T>>>,
    policy: Policy,
    /// Wraps; a stale copy would need exactly 2^32 link changes between two sends.
    version: u32,
}

/// The shared state of an outbox.
pub(crate) struct OutboxNode<T> {
    version: AtomicU32,
    route: Mutex<Option<Route<T>>>,
    sent: AtomicU64,
    dropped: AtomicU64,
    undelivered: AtomicU64,
    /// `` outbox `name` of Component#id `` for send errors, for outboxes declared by
    /// name (the default `outbox` is named by [`Context::send`](crate::Context::send)).
    label: Option<Arc<String>>,
}

impl<T> OutboxNode<T> {
    fn new() -> Self {
        OutboxNode {
            version: AtomicU32::new(0),
            route: Mutex::new(None),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            undelivered: AtomicU64::new(0),
            label: None,
        }
    }

    /// An outbox whose send errors name it.
    pub(crate) fn labelled(label: Arc<String>) -> Self {
        OutboxNode {
            label: Some(label),
            ..OutboxNode::new()
        }
    }

    /// A component's default `outbox`: its errors say which box (one label shared by
    /// every component; the component is named where its failure is logged).
    pub(crate) fn default_outbox() -> Self {
        static LABEL: std::sync::OnceLock<Arc<String>> = std::sync::OnceLock::new();
        Self::labelled(
            LABEL
                .get_or_init(|| Arc::new("outbox `outbox`".to_string()))
                .clone(),
        )
    }

    /// Tell the route's report (a lossy link's) about a drop.
    fn report_drop(&self) {
        let report = {
            let guard = self.route.lock().unwrap_or_else(|p| p.into_inner());
            guard.as_ref().and_then(|r| r.report.clone())
        };
        if let Some(r) = report {
            r.note(self.dropped.load(Ordering::Relaxed));
        }
    }

    fn current(&self) -> Cached<T> {
        let guard = self.route.lock().unwrap_or_else(|p| p.into_inner());
        // Read the version under the lock so it matches the route read with it.
        let version = self.version.load(Ordering::Acquire);
        match &*guard {
            Some(r) => Cached {
                target: Some(r.target.clone()),
                policy: r.policy,
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
            ..NodeStats::default()
        }
    }
    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    fn close(&self) {}
    fn set_route(&self, target: Option<(&Arc<dyn Node>, Policy)>, report: Option<Arc<DropReport>>) {
        let route = target.and_then(|(node, policy)| {
            node.clone()
                .as_any_arc()
                .downcast::<InboxNode<T>>()
                .ok()
                .map(|target| Route {
                    target,
                    policy,
                    report,
                })
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
}

/// The receiving end of an inbox, owned by its component.
///
/// Most components read through [`Context::recv`](crate::Context::recv), which also
/// watches `control`; use an `Inbox` directly for extra inboxes or in `select!`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, component::from_fn, testing::Harness};
///
/// let echo = from_fn("echo", |mut ctx: Context<u8, u8>| async move {
///     while let Some(b) = ctx.inbox.recv().await {
///         if ctx.outbox.send(b).await.is_err() { break; }
///     }
///     Ok(())
/// });
/// let mut h = Harness::new(echo);
/// h.send(7).await;
/// assert_eq!(h.recv().await, Some(7));
/// # }
/// ```
pub struct Inbox<T> {
    pub(crate) node: Arc<InboxNode<T>>,
}

impl<T: Send + 'static> Inbox<T> {
    pub(crate) fn new(node: Arc<InboxNode<T>>) -> Self {
        Inbox { node }
    }

    /// An inbox that is closed from the start: `recv` returns `None` at once. Used
    /// for boxes that are passthroughs, which never queue anything themselves.
    pub(crate) fn closed() -> Self {
        let node = InboxNode::new(1);
        node.shut();
        Inbox {
            node: Arc::new(node),
        }
    }

    #[inline]
    fn note(&self, msg: &T) {
        bump(&self.node.received);
        if TypeId::of::<T>() == TypeId::of::<Control>()
            && let Some(c) = (msg as &dyn Any).downcast_ref::<Control>()
        {
            self.node.lifecycle().store(c.code(), Ordering::Relaxed);
        }
    }

    /// Wait for the next message. Returns `None` only when the inbox is closed (its
    /// component is ending, or the box was removed); an inbox with no link simply waits.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no message is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<String, ()>) {
    /// while let Some(line) = ctx.inbox.recv().await {
    ///     tracing::info!("{line}");
    /// }
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        let msg = self.node.queue.pop().await?;
        self.note(&msg);
        Some(msg)
    }

    /// Poll for the next message: `Ready(Some)` with it, `Ready(None)` once the inbox
    /// is closed and empty, or `Pending` after arranging for `cx`'s task to be woken
    /// when a message arrives. For hand-written futures that wait on an inbox together
    /// with other sources (a socket, a timer) without boxing a `recv` future.
    ///
    /// An inbox has one reader: only the waker of the most recent `Pending` poll is
    /// woken.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<u32, ()>) {
    /// use std::future::poll_fn;
    /// let first = poll_fn(|cx| ctx.inbox.poll_recv(cx)).await;
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<T>> {
        self.poll_recv_noting(cx, &mut 0)
    }

    /// As [`poll_recv`](Inbox::poll_recv), also noting the parking generation on
    /// `Pending` (see `Queue::parked_since`).
    pub(crate) fn poll_recv_noting(
        &mut self,
        cx: &mut TaskContext<'_>,
        generation: &mut u64,
    ) -> Poll<Option<T>> {
        match self.node.queue.poll_recv_noting(cx, generation) {
            Poll::Ready(Some(msg)) => {
                self.note(&msg);
                Poll::Ready(Some(msg))
            }
            other => other,
        }
    }

    /// Take a message if one is queued.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is queued, [`TryRecvError::Closed`] if the
    /// inbox is closed and empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &mut axon::Context<u32, ()>) {
    /// while let Ok(n) = ctx.inbox.try_recv() {
    ///     tracing::debug!("{n}");
    /// }
    /// # }
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.node.queue.try_pop() {
            Ok(msg) => {
                self.note(&msg);
                Ok(msg)
            }
            Err(Empty::Empty) => Err(TryRecvError::Empty),
            Err(Empty::Closed) => Err(TryRecvError::Closed),
        }
    }

    /// Wait for the next message, blocking the thread. For components that run on a
    /// blocking thread (see [`threaded`](crate::threaded)); never call it in async code.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(mut inbox: axon::Inbox<u32>) {
    /// let first = inbox.recv_blocking();
    /// # }
    /// ```
    pub fn recv_blocking(&mut self) -> Option<T> {
        let msg = futures::executor::block_on(self.node.queue.pop())?;
        self.note(&msg);
        Some(msg)
    }

    /// How many messages are queued.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &axon::Context<u32, ()>) {
    /// let backlog = ctx.inbox.len();
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.node.len()
    }

    /// True if nothing is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &axon::Context<u32, ()>) {
    /// if ctx.inbox.is_empty() { /* idle */ }
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.node.is_empty()
    }

    /// True once the inbox is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &axon::Context<u32, ()>) {
    /// assert!(!ctx.inbox.is_closed());
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.node.is_closed()
    }

    /// How many messages the inbox holds at most.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &axon::Context<u32, ()>) {
    /// assert!(ctx.inbox.capacity() >= 1);
    /// # }
    /// ```
    pub fn capacity(&self) -> usize {
        self.node.queue.capacity()
    }
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("len", &self.node.len())
            .finish()
    }
}

/// The outcome of one non-blocking send attempt.
enum Attempt<T> {
    /// Enqueued, or discarded under a lossy policy (counted).
    Done,
    /// The destination is full under `Block`.
    Full(T),
    /// The destination closed.
    Closed(T),
    /// No destination.
    NoRoute(T),
}

/// The sending end of an outbox, owned by its component.
///
/// A send goes to the final inbox its link resolves to, under the link's [`Policy`].
/// A send on an outbox with no link (or whose destination has ended) hands the
/// message back as [`SendError`] and counts it as *undelivered* in introspection.
///
/// # Examples
///
/// ```
/// # async fn demo(mut ctx: axon::Context<(), String>) -> Result<(), axon::BoxError> {
/// ctx.outbox.send("hello".to_string()).await?;
/// # Ok(()) }
/// ```
pub struct Outbox<T> {
    node: Arc<OutboxNode<T>>,
    cached: Cached<T>,
}

impl<T: Send + 'static> Outbox<T> {
    pub(crate) fn new(node: Arc<OutboxNode<T>>) -> Self {
        Outbox {
            cached: node.current(),
            node,
        }
    }

    /// A detached outbox: every send is undelivered.
    pub(crate) fn detached() -> Self {
        Outbox::new(Arc::new(OutboxNode::new()))
    }

    #[inline]
    fn refresh(&mut self) {
        if self.node.version.load(Ordering::Acquire) != self.cached.version {
            self.cached = self.node.current();
        }
    }

    /// The cached destination and policy, if any.
    #[inline]
    fn route(&self) -> Option<(&Arc<InboxNode<T>>, Policy)> {
        self.cached.target.as_ref().map(|t| (t, self.cached.policy))
    }

    fn undelivered(&self, msg: T) -> SendError<T> {
        bump(&self.node.undelivered);
        SendError::labelled(msg, self.node.label.clone())
    }

    fn dropped(&self, target: &InboxNode<T>) {
        bump(&self.node.dropped);
        target.dropped.fetch_add(1, Ordering::Relaxed);
        self.node.report_drop();
    }

    /// Send a message, waiting for space if the destination is full and the link's
    /// policy is [`Policy::Block`]. With another policy a full destination loses a
    /// message (counted) instead of waiting.
    ///
    /// If the link is changed while the send waits, the message still goes to the
    /// destination it was waiting on; if that destination ends first, the send moves
    /// to the new destination. A message is delivered once or handed back, never twice.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message if the outbox has no destination.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped while waiting for space, the message
    /// is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<(), u64>) {
    /// if let Err(e) = ctx.outbox.send(42).await {
    ///     tracing::warn!("nobody listens; kept {}", e.0);
    /// }
    /// # }
    /// ```
    pub fn send(&mut self, msg: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        Sending {
            outbox: self,
            msg: Some(msg),
            waiting: None,
        }
    }

    /// The destination closed under a send. Its link was removed first, so a changed
    /// version means there may be a new route to try: `Ok` gives the message back to
    /// try again, `Err` hands it back to the caller as undelivered.
    fn after_close(&self, msg: T) -> Result<T, SendError<T>> {
        if self.node.version.load(Ordering::Acquire) == self.cached.version {
            Err(self.undelivered(msg))
        } else {
            Ok(msg)
        }
    }

    /// One attempt without waiting, on the current route.
    fn attempt(&mut self, msg: T) -> Attempt<T> {
        self.refresh();
        let Some((target, policy)) = self.route() else {
            return Attempt::NoRoute(msg);
        };
        let result = match policy {
            Policy::Block => match target.queue.try_push(msg) {
                Ok(()) => Ok(()),
                Err(PushError::Full(m)) => return Attempt::Full(m),
                Err(PushError::Closed(m)) => Err(m),
            },
            _ => match self.send_lossy(target, policy, msg) {
                Ok(true) => Ok(()),
                Ok(false) => {
                    self.dropped(target);
                    return Attempt::Done;
                }
                Err(m) => Err(m),
            },
        };
        match result {
            Ok(()) => {
                bump(&self.node.sent);
                Attempt::Done
            }
            Err(m) => Attempt::Closed(m),
        }
    }

    /// Enqueue under a lossy policy. `Ok(true)` sent, `Ok(false)` the message itself
    /// was dropped, `Err` the destination is closed.
    fn send_lossy(&self, target: &InboxNode<T>, policy: Policy, msg: T) -> Result<bool, T> {
        let queue = target.queue();
        let sent = match policy {
            Policy::DropNewest => match queue.try_push(msg) {
                Ok(()) => true,
                Err(PushError::Full(_)) => false,
                Err(PushError::Closed(m)) => return Err(m),
            },
            _ => {
                if policy == Policy::KeepLatest {
                    for _ in 0..queue.clear() {
                        self.dropped(target);
                    }
                }
                for _ in 0..queue.push_evicting(msg)? {
                    self.dropped(target);
                }
                true
            }
        };
        Ok(sent)
    }

    /// Send without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the destination is full under [`Policy::Block`];
    /// [`TrySendError::Unlinked`] if there is no destination. Both hand the message back.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &mut axon::Context<(), u8>) {
    /// match ctx.outbox.try_send(1) {
    ///     Ok(()) => {}
    ///     Err(e) if e.is_full() => { /* try later */ }
    ///     Err(_) => { /* not linked */ }
    /// }
    /// # }
    /// ```
    pub fn try_send(&mut self, msg: T) -> Result<(), TrySendError<T>> {
        let mut msg = msg;
        loop {
            match self.attempt(msg) {
                Attempt::Done => return Ok(()),
                Attempt::Full(m) => return Err(TrySendError::Full(m)),
                Attempt::NoRoute(m) => return Err(TrySendError::Unlinked(self.undelivered(m).0)),
                Attempt::Closed(m) => {
                    if self.node.version.load(Ordering::Acquire) == self.cached.version {
                        return Err(TrySendError::Unlinked(self.undelivered(m).0));
                    }
                    msg = m;
                }
            }
        }
    }

    /// Send from a blocking thread (see [`threaded`](crate::threaded)); never call it
    /// in async code.
    ///
    /// # Errors
    ///
    /// As [`Outbox::send`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(mut out: axon::Outbox<u32>) {
    /// let _ = out.send_blocking(1);
    /// # }
    /// ```
    pub fn send_blocking(&mut self, msg: T) -> Result<(), SendError<T>> {
        futures::executor::block_on(self.send(msg))
    }

    /// True if the outbox currently has a destination.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &mut axon::Context<(), u8>) {
    /// if !ctx.outbox.is_linked() { /* nobody listens yet */ }
    /// # }
    /// ```
    pub fn is_linked(&mut self) -> bool {
        self.refresh();
        self.cached.target.is_some()
    }
}

/// [`Outbox::send`]'s future: the message is stored once (an `async fn` would keep a
/// copy in each of its states), so a component waiting to send is barely larger than
/// the message.
struct Sending<'a, T> {
    outbox: &'a mut Outbox<T>,
    msg: Option<T>,
    /// The destination being waited on for room, and the registration there.
    waiting: Option<(Arc<InboxNode<T>>, PushWait)>,
}

// Nothing here is pinned in place: the message is moved in and out by value.
impl<T> Unpin for Sending<'_, T> {}

impl<T: Send + 'static> Future for Sending<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut msg = this.msg.take().expect("send polled after completion");
        loop {
            if let Some((target, wait)) = this.waiting.as_mut() {
                // Waiting for room: the message goes where it waited, even if the link
                // changed meanwhile, unless that destination closes.
                match target.queue.poll_push(msg, wait, cx) {
                    PushPoll::Done => {
                        this.waiting = None;
                        bump(&this.outbox.node.sent);
                        return Poll::Ready(Ok(()));
                    }
                    PushPoll::Pending(m) => {
                        this.msg = Some(m);
                        return Poll::Pending;
                    }
                    PushPoll::Closed(m) => {
                        this.waiting = None;
                        msg = this.outbox.after_close(m)?;
                    }
                }
            }
            match this.outbox.attempt(msg) {
                Attempt::Done => return Poll::Ready(Ok(())),
                Attempt::NoRoute(m) => return Poll::Ready(Err(this.outbox.undelivered(m))),
                Attempt::Closed(m) => msg = this.outbox.after_close(m)?,
                Attempt::Full(m) => {
                    let Some((target, _)) = this.outbox.route() else {
                        return Poll::Ready(Err(this.outbox.undelivered(m)));
                    };
                    this.waiting = Some((target.clone(), PushWait::default()));
                    msg = m;
                }
            }
        }
    }
}

impl<T> Drop for Sending<'_, T> {
    fn drop(&mut self) {
        if let Some((target, wait)) = self.waiting.as_mut() {
            wait.cancel(&target.queue);
        }
    }
}

impl<T> std::fmt::Debug for Outbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("linked", &self.cached.target.is_some())
            .finish()
    }
}

#[cfg(all(test, loom))]
mod tests {
    mod loom_outbox;
}
