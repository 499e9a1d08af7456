//! The [`Runtime`]: adds, links, starts, watches and removes components.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, ready};

use futures::FutureExt;
use futures::future::CatchUnwind;
use tokio::sync::broadcast;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::boxes::{
    BoxId, BoxRef, ComponentId, Inbox, InboxNode, Node, NodeKind, Outbox, OutboxNode, Policy,
    make_node,
};
use crate::component::{Component, Context, Setup};
use crate::control::Control;
use crate::error::{LinkError, SendError};
use crate::exit::{ChildExit, Exit};
use crate::exit_reports;
use crate::graph::{BoxEntry, BoxLabel, ComponentEntry, GraphState, Phase, Stopper};
use crate::introspect::{GraphEvent, Snapshot};
use crate::size::MessageSize;

const EVENT_CAPACITY: usize = 4096;

/// A graph of components running on the current tokio runtime.
///
/// Cheap to clone: clones share one graph. Components are added (boxes declared,
/// children prepared), linked, then started; a started component's body runs as one
/// tokio task. Everything alive can be listed with [`snapshot`](Runtime::snapshot) and
/// followed with [`subscribe`](Runtime::subscribe).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Runtime, Context, component::from_fn};
///
/// let rt = Runtime::new();
/// let numbers = rt.add(from_fn("numbers", |mut ctx: Context<(), u32>| async move {
///     for n in 1..=3 { ctx.send(n).await?; }
///     Ok(())
/// })).unwrap();
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let sum = rt.add(from_fn("sum", move |mut ctx: Context<u32, ()>| async move {
///     let mut total = 0;
///     while let Some(n) = ctx.recv().await { total += n; }
///     let _ = tx.send(total);
///     Ok(())
/// })).unwrap();
/// rt.link(numbers.outbox(), sum.inbox()).unwrap();
/// rt.link(numbers.signal(), sum.control()).unwrap();
/// let (a, b) = (numbers.start(), sum.start());
/// assert_eq!(rx.await.unwrap(), 6);
/// assert!(a.join().await.is_clean() && b.join().await.is_clean());
/// # }
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<GraphState>,
    next_id: AtomicU64,
    events: broadcast::Sender<GraphEvent>,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("components", &self.live_components())
            .finish()
    }
}

pub(crate) trait Startable: Send {
    fn start_boxed(self: Box<Self>) -> Handle;
}

/// A component added to a runtime but not started: link it, then [`start`](Prepared::start).
/// Dropping it unstarted removes it (and its children) from the graph.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let rt = axon::Runtime::new();
/// let p = rt.add(axon::component::from_fn("idle", |_c: axon::Context<(), ()>| async { Ok(()) })).unwrap();
/// assert_eq!(rt.live_components(), 1);
/// drop(p);
/// assert_eq!(rt.live_components(), 0);
/// # }
/// ```
pub struct Prepared<C: Component> {
    rt: Runtime,
    id: ComponentId,
    component: Option<C>,
    children: Vec<Box<dyn Startable>>,
    tag: Option<u64>,
}

impl<C: Component> std::fmt::Debug for Prepared<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("id", &self.id).finish()
    }
}

impl<C: Component> Prepared<C> {
    /// Tag this component for its parent: the tag comes back in the
    /// [`ChildExit`](crate::ChildExit) its parent receives when it ends, so a parent
    /// with many children can tell what each one was for without keeping a map of
    /// their ids (a server tags a connection's components with the connection's id).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let parent = rt.spawn(from_fn("parent", |mut ctx: Context<(), ()>| async move {
    ///     ctx.add_child(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }))?
    ///         .tag(42)
    ///         .start();
    ///     let exit = ctx.next_child_exit().await.expect("one child");
    ///     assert_eq!(exit.tag, Some(42));
    ///     Ok(())
    /// })).unwrap();
    /// assert!(parent.join().await.is_clean());
    /// # }
    /// ```
    pub fn tag(mut self, tag: u64) -> Self {
        self.tag = Some(tag);
        self
    }

    /// The component's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(rt.snapshot().component(p.id()).unwrap().state, "prepared");
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// Its `inbox`.
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
    pub fn inbox(&self) -> BoxRef<C::In> {
        crate::Child::<C::In, C::Out>::new(self.id).inbox()
    }

    /// Its `control` inbox.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(p.control().id(), rt.box_id(p.id(), "control").unwrap());
    /// # }
    /// ```
    pub fn control(&self) -> BoxRef<Control> {
        crate::Child::<C::In, C::Out>::new(self.id).control()
    }

    /// Its `outbox`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let q = rt.add(axon::component::from_fn("y", |_c: axon::Context<u8, ()>| async { Ok(()) })).unwrap();
    /// rt.link(p.outbox(), q.inbox()).unwrap();
    /// assert_eq!(rt.snapshot().links.len(), 1);
    /// # }
    /// ```
    pub fn outbox(&self) -> BoxRef<C::Out> {
        crate::Child::<C::In, C::Out>::new(self.id).outbox()
    }

    /// Its `signal` outbox.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(p.signal().id(), rt.box_id(p.id(), "signal").unwrap());
    /// # }
    /// ```
    pub fn signal(&self) -> BoxRef<Control> {
        crate::Child::<C::In, C::Out>::new(self.id).signal()
    }

    /// Typed references to its default boxes, to keep after starting.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let child = p.child();
    /// let h = p.start();
    /// assert_eq!(child.inbox().id().component(), h.id());
    /// # }
    /// ```
    pub fn child(&self) -> crate::Child<C::In, C::Out> {
        crate::Child::new(self.id)
    }

    /// Start the component's children, then its body.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let h = p.start();
    /// assert!(h.join().await.is_clean());
    /// # }
    /// ```
    pub fn start(mut self) -> Handle {
        let component = self.component.take();
        let children = std::mem::take(&mut self.children);
        match component {
            Some(c) => self.rt.start(self.id, c, children, self.tag),
            None => Handle::detached(self.rt.clone(), self.id),
        }
    }
}

impl<C: Component> Prepared<C> {
    /// Start this component and `other` together in **one task**: each keeps its own
    /// boxes, links, exit reason, panic isolation and handle, but their bodies are
    /// polled by the same tokio task. Use it for a pair that talks mostly to each
    /// other — a socket adapter and its protocol handler: a message from one to the
    /// other is then handled in the same task poll, with no trip through the
    /// scheduler. Their children (if either is a composite) get tasks of their own.
    ///
    /// The two bodies never run in parallel, so a body that blocks the thread (or
    /// spins without awaiting) stalls both; keep such work in
    /// [`threaded`](crate::threaded) components.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), axon::LinkError> {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let ping = rt.add(from_fn("ping", |mut ctx: Context<u32, u32>| async move {
    ///     ctx.send(1).await?;
    ///     let back = ctx.recv().await;
    ///     assert_eq!(back, Some(2));
    ///     Ok(())
    /// }))?;
    /// let pong = rt.add(from_fn("pong", |mut ctx: Context<u32, u32>| async move {
    ///     while let Some(n) = ctx.recv().await {
    ///         ctx.send(n + 1).await?;
    ///     }
    ///     Ok(())
    /// }))?;
    /// rt.link(ping.outbox(), pong.inbox())?;
    /// rt.link(pong.outbox(), ping.inbox())?;
    /// rt.link(ping.signal(), pong.control())?;
    /// let (a, b) = ping.start_with(pong);
    /// assert!(a.join().await.is_clean());
    /// assert!(b.join().await.is_clean());
    /// # Ok(()) }
    /// ```
    pub fn start_with<D: Component>(self, other: Prepared<D>) -> (Handle, Handle) {
        self.pair(other, true)
    }

    /// [`start_with`](Self::start_with) for a caller that will not join either
    /// component: the same single task, without the two exit channels the handles
    /// would read (about 150 bytes per pair). Exits still reach the parent (as
    /// [`ChildExit`](crate::ChildExit)s) and graph watchers, and
    /// [`Runtime::kill`](crate::Runtime::kill) still stops either side. A server that
    /// starts one pair per connection and learns of their ends as children uses this.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), axon::LinkError> {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// let ping = rt.add(from_fn("ping", |mut ctx: Context<u32, u32>| async move {
    ///     ctx.send(1).await?;
    ///     Ok(())
    /// }))?;
    /// let pong = rt.add(from_fn("pong", move |mut ctx: Context<u32, u32>| async move {
    ///     let _ = tx.send(ctx.recv().await);
    ///     Ok(())
    /// }))?;
    /// rt.link(ping.outbox(), pong.inbox())?;
    /// ping.start_with_detached(pong);
    /// assert_eq!(rx.await.unwrap(), Some(1));
    /// # Ok(()) }
    /// ```
    pub fn start_with_detached<D: Component>(self, other: Prepared<D>) {
        drop(self.pair(other, false));
    }

    fn pair<D: Component>(mut self, mut other: Prepared<D>, joined: bool) -> (Handle, Handle) {
        let rt = self.rt.clone();
        let task_a = self.component.take().and_then(|c| {
            let children = std::mem::take(&mut self.children);
            rt.launch(self.id, c, children, self.tag)
        });
        let task_b = other.component.take().and_then(|c| {
            let children = std::mem::take(&mut other.children);
            rt.launch(other.id, c, children, other.tag)
        });
        let handle = |id, join| Handle {
            rt: rt.clone(),
            id,
            join,
        };
        match (task_a, task_b) {
            (Some(a), Some(b)) => {
                let sides = crate::together::Sides::new();
                let (stop_a, stop_b) = sides.stops();
                rt.set_stopper(self.id, Stopper::Side(stop_a));
                rt.set_stopper(other.id, Stopper::Side(stop_b));
                let (mut join_a, mut join_b) = (None, None);
                if joined {
                    let (exit_a, rx_a) = oneshot::channel();
                    let (exit_b, rx_b) = oneshot::channel();
                    (join_a, join_b) = (Some(Joiner::Shared(rx_a)), Some(Joiner::Shared(rx_b)));
                    tokio::spawn(crate::together::Together::with(
                        sides,
                        ReportExit {
                            task: a,
                            to: Some(exit_a),
                        },
                        ReportExit {
                            task: b,
                            to: Some(exit_b),
                        },
                    ));
                } else {
                    // Nobody will join: the exits go only to the parent and the graph.
                    tokio::spawn(crate::together::Together::with(sides, a, b));
                }
                (handle(self.id, join_a), handle(other.id, join_b))
            }
            (a, b) => (
                handle(self.id, a.map(|t| Joiner::Task(rt.spawn_task(self.id, t)))),
                handle(
                    other.id,
                    b.map(|t| Joiner::Task(rt.spawn_task(other.id, t))),
                ),
            ),
        }
    }
}

impl<C: Component> Startable for Prepared<C> {
    fn start_boxed(self: Box<Self>) -> Handle {
        (*self).start()
    }
}

impl<C: Component> Drop for Prepared<C> {
    fn drop(&mut self) {
        if self.component.is_some() {
            self.children.clear();
            self.rt.discard(self.id);
        }
    }
}

/// A prepared component of any type; see [`Prepared`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{DynComponent, PreparedDyn, component::from_fn};
/// let rt = axon::Runtime::new();
/// let boxed: Box<dyn DynComponent> = Box::new(from_fn("x", |_c: axon::Context<(), ()>| async { Ok(()) }));
/// let p: PreparedDyn = boxed.prepare_dyn(&rt, None).unwrap();
/// assert!(p.start().join().await.is_clean());
/// # }
/// ```
pub struct PreparedDyn {
    id: ComponentId,
    inner: Box<dyn Startable>,
}

impl std::fmt::Debug for PreparedDyn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedDyn").field("id", &self.id).finish()
    }
}

impl PreparedDyn {
    pub(crate) fn new<C: Component>(p: Prepared<C>) -> Self {
        PreparedDyn {
            id: p.id(),
            inner: Box::new(p),
        }
    }

    /// The component's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{DynComponent, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let boxed: Box<dyn DynComponent> = Box::new(from_fn("x", |_c: axon::Context<(), ()>| async { Ok(()) }));
    /// let p = boxed.prepare_dyn(&rt, None).unwrap();
    /// assert_eq!(rt.snapshot().component(p.id()).unwrap().name, "x");
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// Start it.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{DynComponent, Exit, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let boxed: Box<dyn DynComponent> = Box::new(from_fn("x", |_c: axon::Context<(), ()>| async { Ok(()) }));
    /// let h = boxed.prepare_dyn(&rt, None).unwrap().start();
    /// assert!(matches!(h.join().await, Exit::Finished));
    /// # }
    /// ```
    pub fn start(self) -> Handle {
        self.inner.start_boxed()
    }
}

impl Startable for PreparedDyn {
    fn start_boxed(self: Box<Self>) -> Handle {
        self.inner.start_boxed()
    }
}

/// A started component: wait for its exit, ask it to stop, or abort it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Runtime, Context, Exit, component::from_fn};
/// let rt = Runtime::new();
/// let h = rt.spawn(from_fn("waits", |mut ctx: Context<u8, ()>| async move {
///     while ctx.recv().await.is_some() {}
///     Ok(())
/// })).unwrap();
/// h.shutdown().await.unwrap();
/// assert!(matches!(h.join().await, Exit::ShutDown));
/// # }
/// ```
pub struct Handle {
    rt: Runtime,
    id: ComponentId,
    join: Option<Joiner>,
}

/// How a handle learns its component's exit.
enum Joiner {
    /// The component has a task of its own.
    Task(JoinHandle<Exit>),
    /// The component shares a task ([`Prepared::start_with`]), which reports here.
    Shared(oneshot::Receiver<Exit>),
}

impl Joiner {
    async fn exit(&mut self) -> Exit {
        match self {
            Joiner::Task(j) => j.await.unwrap_or(Exit::Aborted),
            Joiner::Shared(r) => r.await.unwrap_or(Exit::Aborted),
        }
    }

    fn is_finished(&self) -> bool {
        match self {
            Joiner::Task(j) => j.is_finished(),
            Joiner::Shared(r) => !r.is_empty() || r.is_terminated(),
        }
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").field("id", &self.id).finish()
    }
}

impl Handle {
    fn detached(rt: Runtime, id: ComponentId) -> Self {
        Handle { rt, id, join: None }
    }

    /// The component's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let id = p.id();
    /// let h = p.start();
    /// assert_eq!(h.id(), id);
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// Send [`Control::Shutdown`] to its `control` inbox (through any passthrough).
    ///
    /// # Errors
    ///
    /// [`SendError`] if the component has already ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in the sense that dropping the future before it completes leaves
    /// `Shutdown` unsent (it is never half-sent); call again to retry.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Exit, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("idle", |mut ctx: Context<u8, ()>| async move {
    ///     while ctx.recv().await.is_some() {}
    ///     Ok(())
    /// })).unwrap();
    /// h.shutdown().await.unwrap();
    /// assert!(matches!(h.join().await, Exit::ShutDown));
    /// # }
    /// ```
    pub async fn shutdown(&self) -> Result<(), SendError<Control>> {
        self.rt.send_control(self.id, Control::Shutdown).await
    }

    /// Stop the body where it is: its exit reason is [`Exit::Aborted`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Exit, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("stuck", |_c: Context<(), ()>| std::future::pending())).unwrap();
    /// h.kill();
    /// assert!(matches!(h.join().await, Exit::Aborted));
    /// # }
    /// ```
    pub fn kill(&self) {
        self.rt.kill(self.id);
    }

    /// Wait for the component to end.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the exit reason is lost if the future is dropped (the
    /// component keeps running).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Exit, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("fails", |_c: Context<(), ()>| async { Err("no config".into()) })).unwrap();
    /// let exit = h.join().await;
    /// assert!(matches!(exit, Exit::Failed(_)));
    /// assert_eq!(exit.to_string(), "failed: no config");
    /// # }
    /// ```
    pub async fn join(self) -> Exit {
        match self.join {
            Some(mut j) => j.exit().await,
            None => Exit::Aborted,
        }
    }

    /// Wait for the component to end, keeping the handle (for `select!`).
    pub(crate) async fn join_mut(&mut self) -> Exit {
        match self.join.as_mut() {
            Some(j) => {
                let exit = j.exit().await;
                self.join = None;
                exit
            }
            None => Exit::Aborted,
        }
    }

    /// True once the component has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("stuck", |_c: Context<(), ()>| std::future::pending())).unwrap();
    /// assert!(!h.is_finished());
    /// h.kill();
    /// while !h.is_finished() { tokio::task::yield_now().await; }
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(Joiner::is_finished)
    }
}

impl Runtime {
    /// An empty graph.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// assert_eq!(rt.live_components(), 0);
    /// ```
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Runtime {
            inner: Arc::new(Inner {
                state: Mutex::new(GraphState::default()),
                next_id: AtomicU64::new(1),
                events,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, GraphState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True if anyone subscribed to graph events.
    pub(crate) fn watched(&self) -> bool {
        self.inner.events.receiver_count() > 0
    }

    pub(crate) fn emit(&self, event: impl FnOnce() -> GraphEvent) {
        if self.watched() {
            let _ = self.inner.events.send(event());
        }
    }

    /// Add a component and run its [`setup`](Component::setup), without starting it.
    ///
    /// # Errors
    ///
    /// As the component's `setup`; nothing of it stays in the graph.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(from_fn("x", |_c: Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(rt.snapshot().component(p.id()).unwrap().state, "prepared");
    /// let h = p.start();
    /// assert_eq!(rt.snapshot().component(h.id()).unwrap().state, "running");
    /// # }
    /// ```
    pub fn add<C: Component>(&self, component: C) -> Result<Prepared<C>, LinkError> {
        self.prepare(component, None)
    }

    /// Add a component and start it.
    ///
    /// # Errors
    ///
    /// As the component's `setup`.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("once", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// assert!(h.join().await.is_clean());
    /// assert_eq!(rt.live_components(), 0);
    /// # }
    /// ```
    pub fn spawn<C: Component>(&self, component: C) -> Result<Handle, LinkError> {
        Ok(self.add(component)?.start())
    }

    pub(crate) fn prepare<C: Component>(
        &self,
        mut component: C,
        parent: Option<ComponentId>,
    ) -> Result<Prepared<C>, LinkError> {
        let id = self.next_component_id();
        let name = component.name();
        let boxes = vec![
            Some(entry(
                "inbox",
                "data in",
                Arc::new(InboxNode::<C::In>::new(crate::DEFAULT_CAPACITY)),
            )),
            Some(entry(
                "control",
                "lifecycle messages in",
                Arc::new(InboxNode::<Control>::new(crate::CONTROL_CAPACITY)),
            )),
            Some(entry(
                "outbox",
                "data out",
                Arc::new(OutboxNode::<C::Out>::default_outbox()),
            )),
            Some(new_box::<Control>(
                "signal",
                "lifecycle messages out",
                NodeKind::Outbox,
                0,
            )),
        ];
        {
            let mut st = self.lock();
            if let Some(p) = parent {
                let pe = st.entry_mut(p)?;
                pe.child_channel().children.push(id);
            }
            st.components.insert(
                id,
                Box::new(ComponentEntry::new(
                    name.clone(),
                    parent,
                    boxes,
                    Phase::Prepared,
                )),
            );
        }
        let mut children = Vec::new();
        let result = component.setup(&mut Setup {
            rt: self,
            id,
            children: &mut children,
        });
        if let Err(e) = result {
            drop(children);
            self.discard(id);
            return Err(e);
        }
        self.emit(|| GraphEvent::Added {
            id,
            name: name.to_string(),
            parent,
        });
        Ok(Prepared {
            rt: self.clone(),
            id,
            component: Some(component),
            children,
            tag: None,
        })
    }

    fn start<C: Component>(
        &self,
        id: ComponentId,
        component: C,
        children: Vec<Box<dyn Startable>>,
        tag: Option<u64>,
    ) -> Handle {
        match self.launch(id, component, children, tag) {
            Some(task) => Handle {
                rt: self.clone(),
                id,
                join: Some(Joiner::Task(self.spawn_task(id, task))),
            },
            None => Handle::detached(self.clone(), id),
        }
    }

    /// Spawn a component's own task and keep its abort handle in the graph.
    fn spawn_task(
        &self,
        id: ComponentId,
        task: impl Future<Output = Exit> + Send + 'static,
    ) -> JoinHandle<Exit> {
        let join = tokio::spawn(task);
        self.set_stopper(id, Stopper::Task(join.abort_handle()));
        join
    }

    /// Record how to stop a component that is starting; if it was killed meanwhile,
    /// stop it now.
    fn set_stopper(&self, id: ComponentId, stopper: Stopper) {
        let kill = {
            let mut st = self.lock();
            let Some(entry) = st.components.get_mut(&id) else {
                return;
            };
            if entry.kill_pending {
                true
            } else {
                entry.abort = Some(stopper.clone());
                false
            }
        };
        if kill {
            stopper.stop();
        }
    }

    /// Mark the component running, start its children and return its task: the body
    /// with panic isolation, then the lifecycle epilogue (signal, log, retire).
    /// `None` if the component is no longer in the graph.
    fn launch<C: Component>(
        &self,
        id: ComponentId,
        component: C,
        children: Vec<Box<dyn Startable>>,
        tag: Option<u64>,
    ) -> Option<impl Future<Output = Exit> + Send + 'static> {
        let (ctx, control_node) = {
            let mut st = self.lock();
            let entry = st.components.get_mut(&id)?;
            entry.phase = Phase::Running;
            let node = |i: usize| entry.boxes[i].as_ref().map(|b| b.node.clone());
            let inbox_node =
                node(0).and_then(|n| n.as_any_arc().downcast::<InboxNode<C::In>>().ok());
            let control_node =
                node(1).and_then(|n| n.as_any_arc().downcast::<InboxNode<Control>>().ok());
            let outbox_node =
                node(2).and_then(|n| n.as_any_arc().downcast::<OutboxNode<C::Out>>().ok());
            let signal_node =
                node(3).and_then(|n| n.as_any_arc().downcast::<OutboxNode<Control>>().ok());
            for b in entry.boxes.iter().take(2).flatten() {
                b.node.set_taken();
            }
            let ctx = Context {
                inbox: inbox_node.map(Inbox::new).unwrap_or_else(Inbox::closed),
                control: control_node.map(Inbox::new).unwrap_or_else(Inbox::closed),
                outbox: outbox_node
                    .map(Outbox::new)
                    .unwrap_or_else(Outbox::detached),
                signal: signal_node
                    .map(Outbox::new)
                    .unwrap_or_else(Outbox::detached),
                rt: self.clone(),
                id,
                ending: None,
                children_rx: None,
                parked: None,
                control_parked: u64::MAX,
            };
            let control_node = ctx.control.node.clone();
            (ctx, control_node)
        };
        for child in children {
            // Children report to us through the channel; their handles are not needed.
            drop(child.start_boxed());
        }
        self.emit(|| GraphEvent::Started { id });
        Some(Running {
            stage: Stage::Body {
                body: AssertUnwindSafe(component.run(ctx)).catch_unwind(),
            },
            end: Some(Ending {
                rt: self.clone(),
                id,
                control_node,
                tag,
            }),
        })
    }

    /// Remove a component that ended (or was never started), its boxes, its links,
    /// and abort its live children.
    /// `ended`: the component's body ran and ended: say how (at `warn` for a failure,
    /// `error` for a panic) and tell its parent, before anyone else hears of the exit.
    fn retire(&self, id: ComponentId, exit: &Exit, ended: bool, tag: Option<u64>) {
        let mut nodes: Vec<Arc<dyn Node>> = Vec::new();
        let mut unlinked = Vec::new();
        let mut aborts = Vec::new();
        let mut labels = Vec::new();
        let mut dropped = 0u64;
        let (name, parent, orphans) = {
            let mut st = self.lock();
            let Some(entry) = st.components.get(&id) else {
                return;
            };
            let count = entry.boxes.len();
            for index in 0..count {
                let bid = BoxId {
                    component: id,
                    index: index as u32,
                };
                if self.inner.events.receiver_count() > 0
                    && let Some(b) = st.get_box(bid)
                {
                    {
                        if let Some(l) = b.link() {
                            labels.push((st.label(bid), st.label(l.to)));
                        }
                        for src in b.incoming() {
                            labels.push((st.label(src), st.label(bid)));
                        }
                    }
                }
                if let Some((b, removed)) = st.remove_box(bid) {
                    dropped += b.node.dropped();
                    nodes.push(b.node);
                    unlinked.extend(removed);
                }
            }
            let Some(entry) = st.components.remove(&id) else {
                return;
            };
            let mut orphans = Vec::new();
            for child in entry.children() {
                if let Some(c) = st.components.get_mut(child) {
                    match (&c.abort, c.phase) {
                        (Some(a), _) => aborts.push(a.clone()),
                        // Starting: it stops as soon as it can be stopped.
                        (None, Phase::Running) => c.kill_pending = true,
                        (None, Phase::Prepared) => orphans.push(*child),
                    }
                }
            }
            let parent = entry.parent();
            (entry.into_name(), parent, orphans)
        };
        if ended {
            match exit {
                Exit::Failed(e) => {
                    tracing::warn!(component = %name, id = id.0, error = %e, "component failed")
                }
                Exit::Panicked(m) => {
                    tracing::error!(component = %name, id = id.0, panic = %m, "component panicked")
                }
                _ => tracing::trace!(component = %name, id = id.0, %exit, "component ended"),
            }
        }
        if dropped > 0 {
            tracing::warn!(
                component = %name,
                id = id.0,
                dropped,
                "{name}#{} ended ({exit}); lossy links dropped {dropped} of its messages",
                id.0
            );
        }
        for node in &nodes {
            node.close();
        }
        for a in aborts {
            a.stop();
        }
        for orphan in orphans {
            self.discard(orphan);
        }
        if let Some(p) = parent {
            let mut st = self.lock();
            if let Some(f) = st.components.get_mut(&p).and_then(|pe| pe.family.as_mut()) {
                // Under the graph's lock, which `next_exit` takes to look at the list.
                let reports = f.child_tx.as_ref().filter(|_| ended);
                exit_reports::leave(&mut f.children, &id, reports, || ChildExit {
                    id,
                    name: name.to_string(),
                    exit: exit.clone(),
                    tag,
                });
            }
        }
        for (from, to) in labels {
            self.emit(|| GraphEvent::Unlinked { from, to });
        }
        self.emit(|| GraphEvent::Exited {
            id,
            name: name.to_string(),
            exit: exit.to_string(),
            dropped,
        });
    }

    /// An ending component's `signal` outbox, unless a link into it was ever made (a
    /// composite whose child speaks for it).
    fn ending_signal(&self, id: ComponentId) -> Option<Arc<OutboxNode<Control>>> {
        let st = self.lock();
        if st.components.get(&id)?.signal_fed {
            return None;
        }
        let b = st.box_id(id, "signal").ok().and_then(|b| st.get_box(b))?;
        b.node
            .clone()
            .as_any_arc()
            .downcast::<OutboxNode<Control>>()
            .ok()
    }

    pub(crate) fn next_component_id(&self) -> ComponentId {
        ComponentId(self.inner.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn retire_external(&self, id: ComponentId, exit: &Exit) {
        self.retire(id, exit, false, None);
    }

    /// Remove a component that was never started.
    pub(crate) fn discard(&self, id: ComponentId) {
        self.retire(id, &Exit::Aborted, false, None);
    }

    /// Stop a component's body where it is ([`Exit::Aborted`]). Does nothing if it has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Runtime, Context, Exit, component::from_fn};
    /// let rt = Runtime::new();
    /// let h = rt.spawn(from_fn("stuck", |_c: Context<(), ()>| std::future::pending())).unwrap();
    /// rt.kill(h.id());
    /// assert!(matches!(h.join().await, Exit::Aborted));
    /// # }
    /// ```
    pub fn kill(&self, id: ComponentId) {
        let abort = {
            let mut st = self.lock();
            match st.components.get_mut(&id) {
                Some(e) if e.abort.is_none() && e.phase == Phase::Running => {
                    // Starting: stopped as soon as it can be.
                    e.kill_pending = true;
                    None
                }
                Some(e) => e.abort.clone(),
                None => None,
            }
        };
        if let Some(a) = abort {
            a.stop();
        }
    }

    /// Send a lifecycle message to a component's `control`, following passthroughs.
    ///
    /// # Errors
    ///
    /// [`SendError`] if the component has ended or its `control` leads nowhere.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in the sense that dropping the future before it completes leaves `msg`
    /// unsent (it is never half-sent); call again to retry.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Control, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("idle", |mut ctx: Context<u8, ()>| async move {
    ///     while ctx.recv().await.is_some() {}
    ///     Ok(())
    /// })).unwrap();
    /// rt.send_control(h.id(), Control::ProducerFinished).await.unwrap();
    /// assert!(h.join().await.is_clean());
    /// # }
    /// ```
    pub async fn send_control(
        &self,
        id: ComponentId,
        msg: Control,
    ) -> Result<(), SendError<Control>> {
        let target = {
            let st = self.lock();
            let Ok(start) = st.box_id(id, "control") else {
                return Err(SendError::new(msg));
            };
            let mut cur = start;
            let mut found = None;
            for _ in 0..1024 {
                let Some(b) = st.get_box(cur) else { break };
                if b.node.kind() == NodeKind::Inbox {
                    found = Some(b.node.clone());
                    break;
                }
                match b.link() {
                    Some(l) => cur = l.to,
                    None => break,
                }
            }
            found
        };
        let Some(node) = target.and_then(|n| n.as_any_arc().downcast::<InboxNode<Control>>().ok())
        else {
            return Err(SendError::new(msg));
        };
        node.queue().push(msg).await.map_err(SendError::new)?;
        Ok(())
    }

    /// The id of a component's box.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownComponent`] or [`LinkError::UnknownBox`] (listing the boxes it has).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let id = rt.box_id(p.id(), "outbox").unwrap();
    /// assert_eq!(id, p.outbox().id());
    /// assert!(rt.box_id(p.id(), "nope").is_err());
    /// # }
    /// ```
    pub fn box_id(&self, component: ComponentId, name: &str) -> Result<BoxId, LinkError> {
        self.lock().box_id(component, name)
    }

    /// A typed reference to a component's box, checking its type.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] or [`LinkError::WrongType`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let outbox = rt.box_ref::<u8>(p.id(), "outbox").unwrap();
    /// assert_eq!(outbox.id(), p.outbox().id());
    /// assert!(matches!(rt.box_ref::<String>(p.id(), "outbox"), Err(axon::LinkError::WrongType { .. })));
    /// # }
    /// ```
    pub fn box_ref<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: &str,
    ) -> Result<BoxRef<T>, LinkError> {
        let st = self.lock();
        let id = st.box_id(component, name)?;
        let b = st.get_box(id).ok_or_else(|| LinkError::UnknownComponent {
            component: format!("#{}", component.0),
        })?;
        if b.node.msg_type() != std::any::TypeId::of::<T>() {
            return Err(LinkError::WrongType {
                component: st.entry(component)?.label(component),
                name: name.to_string(),
                actual: b.node.type_name(),
                asked: std::any::type_name::<T>(),
            });
        }
        Ok(BoxRef::new(id))
    }

    /// Link `from` (an outbox, or a composite's passthrough inbox) to `to`, blocking
    /// when `to` is full. The types are checked by the compiler.
    ///
    /// # Errors
    ///
    /// [`LinkError::AlreadyLinked`] if `from` has a destination,
    /// [`LinkError::WrongDirection`], [`LinkError::Cycle`], or an unknown box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, LinkError, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// // A source has one destination.
    /// assert!(matches!(rt.link(a.outbox(), b.inbox()), Err(LinkError::AlreadyLinked { .. })));
    /// # }
    /// ```
    pub fn link<T: Send + 'static>(&self, from: BoxRef<T>, to: BoxRef<T>) -> Result<(), LinkError> {
        self.link_ids(from.id, to.id, Policy::Block)
    }

    /// [`link`](Runtime::link) with an overflow [`Policy`].
    ///
    /// # Errors
    ///
    /// As [`link`](Runtime::link).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Policy, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link_with(a.outbox(), b.inbox(), Policy::KeepLatest).unwrap();
    /// assert_eq!(rt.snapshot().links[0].policy, Policy::KeepLatest);
    /// # }
    /// ```
    pub fn link_with<T: Send + 'static>(
        &self,
        from: BoxRef<T>,
        to: BoxRef<T>,
        policy: Policy,
    ) -> Result<(), LinkError> {
        self.link_ids(from.id, to.id, policy)
    }

    /// Link two boxes by id, checking when made that they carry the same type.
    ///
    /// # Errors
    ///
    /// [`LinkError::TypeMismatch`] naming both ends and types, and as [`link`](Runtime::link).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, LinkError, Policy, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// let (from, to) = (rt.box_id(a.id(), "outbox").unwrap(), rt.box_id(b.id(), "inbox").unwrap());
    /// let err = rt.link_ids(from, to, Policy::Block).unwrap_err();
    /// assert!(matches!(err, LinkError::TypeMismatch { .. }));
    /// # }
    /// ```
    pub fn link_ids(&self, from: BoxId, to: BoxId, policy: Policy) -> Result<(), LinkError> {
        let labels = {
            let mut st = self.lock();
            st.link(from, to, policy, false)?;
            // Labels are strings: make them only for someone watching.
            self.watched().then(|| (st.label(from), st.label(to)))
        };
        if let Some((from, to)) = labels {
            self.emit(|| GraphEvent::Linked { from, to, policy });
        }
        Ok(())
    }

    /// Link two boxes by component and box name, checking names and types when made.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] listing the boxes that exist, and as [`link_ids`](Runtime::link_ids).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Runtime, Context, Policy, component::from_fn};
    /// let rt = Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), String>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<Vec<u8>, ()>| async { Ok(()) })).unwrap();
    /// let err = rt.link_named((a.id(), "outbox"), (b.id(), "inbox"), Policy::Block).unwrap_err();
    /// let text = err.to_string();
    /// assert!(text.contains("a#") && text.contains("b#") && text.contains("String"), "{text}");
    /// # }
    /// ```
    pub fn link_named(
        &self,
        from: (ComponentId, &str),
        to: (ComponentId, &str),
        policy: Policy,
    ) -> Result<(), LinkError> {
        let (f, t) = {
            let st = self.lock();
            (st.box_id(from.0, from.1)?, st.box_id(to.0, to.1)?)
        };
        self.link_ids(f, t, policy)
    }

    /// Point `from` at a new destination in one step: every message is delivered to
    /// the old destination or the new one, exactly once.
    ///
    /// # Errors
    ///
    /// As [`link_ids`](Runtime::link_ids), except that an existing link is replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Policy, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// let c = rt.add(from_fn("c", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// rt.relink_ids(a.outbox().id(), c.inbox().id(), Policy::DropNewest).unwrap();
    /// let links = rt.snapshot().links;
    /// assert_eq!((links.len(), links[0].to_component), (1, c.id()));
    /// # }
    /// ```
    pub fn relink_ids(&self, from: BoxId, to: BoxId, policy: Policy) -> Result<(), LinkError> {
        let (old, labels) = {
            let mut st = self.lock();
            let old = st.link(from, to, policy, true)?;
            (old.map(|o| st.label(o)), (st.label(from), st.label(to)))
        };
        if let Some(old) = old {
            self.emit(|| GraphEvent::Unlinked {
                from: labels.0.clone(),
                to: old,
            });
        }
        self.emit(|| GraphEvent::Linked {
            from: labels.0,
            to: labels.1,
            policy,
        });
        Ok(())
    }

    /// Typed [`relink_ids`](Runtime::relink_ids).
    ///
    /// # Errors
    ///
    /// As [`relink_ids`](Runtime::relink_ids).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// let c = rt.add(from_fn("c", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// rt.relink(a.outbox(), c.inbox()).unwrap();
    /// assert_eq!(rt.snapshot().links[0].to_component, c.id());
    /// # }
    /// ```
    pub fn relink<T: Send + 'static>(
        &self,
        from: BoxRef<T>,
        to: BoxRef<T>,
    ) -> Result<(), LinkError> {
        self.relink_ids(from.id, to.id, Policy::Block)
    }

    /// Remove the link from `from`. Messages already delivered stay where they landed;
    /// later sends on `from` are handed back as undelivered.
    ///
    /// # Errors
    ///
    /// [`LinkError::NotLinked`] if there is no link.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, LinkError, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// rt.unlink(a.outbox().id()).unwrap();
    /// assert!(rt.snapshot().links.is_empty());
    /// assert!(matches!(rt.unlink(a.outbox().id()), Err(LinkError::NotLinked { .. })));
    /// # }
    /// ```
    pub fn unlink(&self, from: BoxId) -> Result<(), LinkError> {
        let labels = {
            let mut st = self.lock();
            let to = st.unlink(from)?;
            (st.label(from), st.label(to))
        };
        self.emit(|| GraphEvent::Unlinked {
            from: labels.0,
            to: labels.1,
        });
        Ok(())
    }

    fn add_node(
        &self,
        component: ComponentId,
        name: Cow<'static, str>,
        description: &'static str,
        node: Arc<dyn Node>,
    ) -> Result<BoxId, LinkError> {
        let id = {
            let mut st = self.lock();
            let entry = st.entry_mut(component)?;
            if entry.find(&name).is_some() {
                return Err(LinkError::DuplicateBox {
                    component: entry.label(component),
                    name: name.to_string(),
                });
            }
            let index = entry.boxes.len() as u32;
            // Exactly as many slots as boxes: most components add boxes only during
            // setup, and a graph entry keeps no spare room.
            let mut boxes = std::mem::take(&mut entry.boxes).into_vec();
            boxes.reserve_exact(1);
            boxes.push(Some(BoxEntry::new(
                BoxLabel::new(name.clone(), description),
                node,
            )));
            entry.boxes = boxes.into_boxed_slice();
            BoxId { component, index }
        };
        self.emit(|| GraphEvent::BoxAdded {
            component,
            name: name.to_string(),
        });
        Ok(id)
    }

    pub(crate) fn add_inbox_node<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
        capacity: usize,
    ) -> Result<BoxId, LinkError> {
        self.add_node(
            component,
            name.into(),
            description,
            make_node::<T>(NodeKind::Inbox, capacity),
        )
    }

    pub(crate) fn add_outbox_node<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
    ) -> Result<BoxId, LinkError> {
        let name = name.into();
        let label = {
            let st = self.lock();
            format!(
                "outbox `{name}` of {}",
                st.entry(component)?.label(component)
            )
        };
        self.add_node(
            component,
            name,
            description,
            Arc::new(OutboxNode::<T>::labelled(Arc::new(label))),
        )
    }

    pub(crate) fn add_passthrough_node<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
    ) -> Result<BoxId, LinkError> {
        self.add_node(
            component,
            name.into(),
            description,
            make_node::<T>(NodeKind::Passthrough, 0),
        )
    }

    /// Add a box shaped like another box (same message type), for composites that
    /// expose a child's box under their own name.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownComponent`] if `like` does not exist, [`LinkError::DuplicateBox`] for `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let inner = rt.add(from_fn("inner", |_c: Context<u8, String>| async { Ok(()) })).unwrap();
    /// let outer = rt.add(from_fn("outer", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// let lines = rt.add_box_like(outer.id(), "lines", "the inner outbox", inner.outbox().id()).unwrap();
    /// // The new box carries the same type, so a typed reference to it checks out.
    /// assert_eq!(rt.box_ref::<String>(outer.id(), "lines").unwrap().id(), lines);
    /// # }
    /// ```
    pub fn add_box_like(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
        like: BoxId,
    ) -> Result<BoxId, LinkError> {
        let node = {
            let st = self.lock();
            let b = st
                .get_box(like)
                .ok_or_else(|| LinkError::UnknownComponent {
                    component: st.label(like),
                })?;
            let kind = match b.node.kind() {
                NodeKind::Outbox => NodeKind::Outbox,
                _ => NodeKind::Passthrough,
            };
            b.node.new_like(kind, 0)
        };
        self.add_node(component, name.into(), description, node)
    }

    pub(crate) fn describe_box(
        &self,
        component: ComponentId,
        name: &str,
        description: &'static str,
    ) -> Result<(), LinkError> {
        let mut st = self.lock();
        let id = st.box_id(component, name)?;
        if let Some(b) = st.entry_mut(component)?.boxes[id.index as usize].as_mut() {
            b.label.set_description(description);
        }
        Ok(())
    }

    fn replace_node(
        &self,
        component: ComponentId,
        name: &str,
        kind: NodeKind,
        capacity: usize,
    ) -> Result<(), LinkError> {
        let mut st = self.lock();
        let id = st.box_id(component, name)?;
        let entry = st.entry_mut(component)?;
        let Some(b) = entry.boxes[id.index as usize].as_ref() else {
            return Ok(());
        };
        if b.node.kind() == NodeKind::Outbox || b.node.is_taken() {
            let label = entry.label(component);
            return Err(LinkError::WrongDirection {
                from: format!("{label}.{name}"),
                to: format!("{label}.{name}"),
                reason: "only an inbox not yet in use can change its kind or capacity",
            });
        }
        if let Some(b) = entry.boxes[id.index as usize].as_mut() {
            b.node = b.node.new_like(kind, capacity);
        }
        st.refresh_from(id);
        let incoming = st
            .get_box(id)
            .map(|b| b.incoming().to_vec())
            .unwrap_or_default();
        for src in incoming {
            st.refresh_from(src);
        }
        Ok(())
    }

    pub(crate) fn make_passthrough(
        &self,
        component: ComponentId,
        name: &str,
    ) -> Result<(), LinkError> {
        self.replace_node(component, name, NodeKind::Passthrough, 0)
    }

    pub(crate) fn set_capacity(
        &self,
        component: ComponentId,
        name: &str,
        capacity: usize,
    ) -> Result<(), LinkError> {
        self.replace_node(component, name, NodeKind::Inbox, capacity)
    }

    /// Bound a queued inbox in bytes as well as in messages: a send waits (or the
    /// link's policy applies) once the messages queued there add up to `bytes`, as
    /// measured by [`MessageSize`]. A message larger than the whole budget still enters
    /// an empty inbox, so what waits is bounded by about `bytes` plus one message. The
    /// budget can be set before or while the component runs, and is kept by a later
    /// [`Setup::set_capacity`](crate::Setup::set_capacity).
    ///
    /// A passthrough inbox (a composite's boundary) passes the budget on to the queued
    /// inbox it leads to.
    ///
    /// # Errors
    ///
    /// [`LinkError::WrongDirection`] if `inbox` is an outbox or a passthrough that
    /// leads to no queued inbox yet; an unknown box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Bytes, Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let writer = rt.add(from_fn("writer", |mut c: Context<Bytes, ()>| async move {
    ///     while c.recv().await.is_some() {}
    ///     Ok(())
    /// })).unwrap();
    /// rt.set_byte_budget(writer.inbox(), 256 * 1024).unwrap();
    /// let snap = rt.snapshot();
    /// let inbox = snap.component(writer.id()).unwrap().boxes.iter().find(|b| b.name == "inbox").unwrap();
    /// assert_eq!((inbox.bytes, inbox.byte_budget), (Some(0), Some(256 * 1024)));
    /// # }
    /// ```
    pub fn set_byte_budget<T: MessageSize + Send + 'static>(
        &self,
        inbox: BoxRef<T>,
        bytes: usize,
    ) -> Result<(), LinkError> {
        let id = inbox.id();
        let node = {
            let st = self.lock();
            let entry = st.entry(id.component)?;
            let b = st.get_box(id).ok_or_else(|| LinkError::UnknownComponent {
                component: entry.label(id.component),
            })?;
            let label = format!("{}.{}", entry.label(id.component), b.label.name());
            let wrong = |reason| LinkError::WrongDirection {
                from: label.clone(),
                to: label.clone(),
                reason,
            };
            let node = match b.node.kind() {
                NodeKind::Inbox => b.node.clone(),
                // A composite's boundary: the budget goes on the inbox it leads to.
                NodeKind::Passthrough => st
                    .resolve(id)
                    .map(|(n, _, _)| n)
                    .ok_or_else(|| wrong("a passthrough inbox that leads to no queued inbox"))?,
                NodeKind::Outbox => return Err(wrong("an outbox has no queue to bound")),
            };
            node.as_any_arc()
                .downcast::<InboxNode<T>>()
                .map_err(|_| wrong("not an inbox of this message type"))?
        };
        node.queue()
            .set_budget(Some((bytes, <T as MessageSize>::message_size)));
        Ok(())
    }

    pub(crate) fn take_inbox<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: &str,
    ) -> Result<Inbox<T>, LinkError> {
        self.typed_node::<InboxNode<T>, T>(component, name, true)
            .map(Inbox::new)
    }

    pub(crate) fn outbox_handle<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: &str,
    ) -> Result<Outbox<T>, LinkError> {
        self.typed_node::<OutboxNode<T>, T>(component, name, false)
            .map(Outbox::new)
    }

    /// A box's node as its concrete type `N` (carrying `T`); with `take`, the box is
    /// marked taken and a second take is refused.
    fn typed_node<N: Send + Sync + 'static, T>(
        &self,
        component: ComponentId,
        name: &str,
        take: bool,
    ) -> Result<Arc<N>, LinkError> {
        let mut st = self.lock();
        let id = st.box_id(component, name)?;
        let label = st.entry(component)?.label(component);
        let Some(b) = st.entry_mut(component)?.boxes[id.index as usize].as_mut() else {
            return Err(LinkError::UnknownComponent { component: label });
        };
        if take && b.node.is_taken() {
            return Err(LinkError::AlreadyTaken {
                component: label,
                name: name.to_string(),
            });
        }
        let actual = b.node.type_name();
        let node =
            b.node
                .clone()
                .as_any_arc()
                .downcast::<N>()
                .map_err(|_| LinkError::WrongType {
                    component: label,
                    name: name.to_string(),
                    actual,
                    asked: std::any::type_name::<T>(),
                })?;
        if take {
            b.node.set_taken();
        }
        Ok(node)
    }

    pub(crate) fn remove_box(&self, component: ComponentId, name: &str) -> Result<(), LinkError> {
        let (node, labels) = {
            let mut st = self.lock();
            let id = st.box_id(component, name)?;
            let (entry, removed) =
                st.remove_box(id)
                    .ok_or_else(|| LinkError::UnknownComponent {
                        component: format!("#{}", component.0),
                    })?;
            let labels: Vec<(BoxId, BoxId)> = removed;
            (entry.node, labels)
        };
        node.close();
        for (from, to) in labels {
            self.emit(|| GraphEvent::Unlinked {
                from: format!("#{}:{}", from.component.0, from.index),
                to: format!("#{}:{}", to.component.0, to.index),
            });
        }
        self.emit(|| GraphEvent::BoxRemoved {
            component,
            name: name.to_string(),
        });
        Ok(())
    }

    pub(crate) fn take_child_rx(&self, id: ComponentId) -> Option<UnboundedReceiver<ChildExit>> {
        let mut st = self.lock();
        st.components.get_mut(&id)?.child_channel().child_rx.take()
    }

    pub(crate) fn live_children(&self, id: ComponentId) -> usize {
        self.lock()
            .components
            .get(&id)
            .map_or(0, |e| e.children().len())
    }

    /// The ids of a component's live children.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// assert!(rt.children_of(axon::ComponentId::from_raw(1)).is_empty());
    /// ```
    pub fn children_of(&self, id: ComponentId) -> Vec<ComponentId> {
        self.lock()
            .components
            .get(&id)
            .map(|e| e.children().to_vec())
            .unwrap_or_default()
    }

    /// True while the component is in the graph (added and not yet ended and removed).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("once", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// let id = h.id();
    /// h.join().await;
    /// assert!(!rt.is_alive(id));
    /// # }
    /// ```
    pub fn is_alive(&self, id: ComponentId) -> bool {
        self.lock().components.contains_key(&id)
    }

    /// How many components are alive (added and not yet ended).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(axon::Runtime::new().live_components(), 0);
    /// ```
    pub fn live_components(&self) -> usize {
        self.lock().components.len()
    }

    /// Register a box (typically a shared component's inbox) under a name, so that
    /// components made later can find it: Kamaelia's coordinating assistant tracker.
    /// The entry goes when the box's component ends.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateService`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Runtime, Context, component::from_fn};
    /// let rt = Runtime::new();
    /// let registry = rt.add(from_fn("registry", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// rt.register_service("registry", registry.inbox()).unwrap();
    /// let found = rt.service::<String>("registry").unwrap();
    /// assert_eq!(found.id(), registry.inbox().id());
    /// assert!(rt.service::<u32>("registry").is_err());
    /// # }
    /// ```
    pub fn register_service<T: Send + 'static>(
        &self,
        name: impl Into<String>,
        inbox: BoxRef<T>,
    ) -> Result<(), LinkError> {
        let name = name.into();
        let mut st = self.lock();
        if st.services.contains_key(&name) {
            return Err(LinkError::DuplicateService { name });
        }
        st.services.insert(name, inbox.id);
        Ok(())
    }

    /// Find a registered service's box, checking its type.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownService`] listing what is registered, or [`LinkError::WrongType`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, LinkError, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let log = rt.add(from_fn("log", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// rt.register_service("log", log.inbox()).unwrap();
    /// assert_eq!(rt.service::<String>("log").unwrap().id(), log.inbox().id());
    /// assert!(matches!(rt.service::<String>("metrics"), Err(LinkError::UnknownService { .. })));
    /// # }
    /// ```
    pub fn service<T: Send + 'static>(&self, name: &str) -> Result<BoxRef<T>, LinkError> {
        let id = {
            let st = self.lock();
            match st.services.get(name) {
                Some(id) => *id,
                None => {
                    let mut names: Vec<&str> = st.services.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    return Err(LinkError::UnknownService {
                        name: name.to_string(),
                        existing: if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        },
                    });
                }
            }
        };
        let box_name = {
            let st = self.lock();
            st.get_box(id)
                .map(|b| b.label.name().to_string())
                .unwrap_or_default()
        };
        self.box_ref::<T>(id.component, &box_name)
    }

    /// Remove a service entry. Returns whether it existed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let log = rt.add(from_fn("log", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// rt.register_service("log", log.inbox()).unwrap();
    /// assert!(rt.unregister_service("log"));
    /// assert!(!rt.unregister_service("log"));
    /// assert!(rt.service::<String>("log").is_err());
    /// # }
    /// ```
    pub fn unregister_service(&self, name: &str) -> bool {
        self.lock().services.remove(name).is_some()
    }

    /// Everything alive now: components, boxes with their counters, and links.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let _p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let snap = rt.snapshot();
    /// assert_eq!(snap.components.len(), 1);
    /// assert!(snap.to_json().contains("\"x\""));
    /// # }
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        crate::introspect::snapshot(&self.lock())
    }

    /// A stream of changes to the graph from now on: components added, started and
    /// ended (with their exit reason), boxes added and removed, links made and removed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::GraphEvent;
    /// let rt = axon::Runtime::new();
    /// let mut events = rt.subscribe();
    /// let h = rt.spawn(axon::component::from_fn("once", |_c: axon::Context<(), ()>| async { Ok(()) })).unwrap();
    /// h.join().await;
    /// let mut saw_exit = false;
    /// while let Ok(ev) = events.try_recv() {
    ///     saw_exit |= matches!(ev, GraphEvent::Exited { .. });
    /// }
    /// assert!(saw_exit);
    /// # }
    /// ```
    pub fn subscribe(&self) -> broadcast::Receiver<GraphEvent> {
        self.inner.events.subscribe()
    }
}

fn new_box<T: Send + 'static>(
    name: &'static str,
    description: &'static str,
    kind: NodeKind,
    capacity: usize,
) -> BoxEntry {
    entry(name, description, make_node::<T>(kind, capacity))
}

fn entry(name: &'static str, description: &'static str, node: Arc<dyn Node>) -> BoxEntry {
    BoxEntry::new(BoxLabel::new(Cow::Borrowed(name), description), node)
}

/// What a component's task does after its body: say so on `signal`, log, retire.
/// Everything else it needs is looked up in the graph then, so a waiting component's
/// task carries only this.
struct Ending {
    rt: Runtime,
    id: ComponentId,
    /// The `control` its body read (where the last lifecycle message is noted; not
    /// necessarily the graph's, which a composite turns into a passthrough).
    control_node: Arc<InboxNode<Control>>,
    /// Given by the parent ([`Prepared::tag`]), returned in the [`ChildExit`].
    tag: Option<u64>,
}

/// The rare wait for room on `signal` after the body ended; it yields the exit.
type SignalWait = Pin<Box<dyn Future<Output = Exit> + Send>>;

pin_project_lite::pin_project! {
    /// Where a component's task is: in its body, or (rarely) waiting for room on `signal`.
    #[project = StageProj]
    enum Stage<F> {
        Body { #[pin] body: CatchUnwind<AssertUnwindSafe<F>> },
        Signalling { wait: SignalWait },
        Done,
    }
}

pin_project_lite::pin_project! {
    /// A component's task: its body with panic isolation, then the lifecycle epilogue.
    /// A hand-written future rather than an `async` block, so that the body is stored
    /// once, inline (an `async` block would keep both its capture and the awaited
    /// copy), and the rare wait for room on `signal` takes the body's place only when
    /// it happens.
    ///
    /// Stopping a component ([`Runtime::kill`]) drops this future where it is: the drop
    /// runs the epilogue with [`Exit::Aborted`], after dropping the body.
    pub(crate) struct Running<F> {
        #[pin]
        stage: Stage<F>,
        end: Option<Ending>,
    }

    impl<F> PinnedDrop for Running<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let Some(end) = this.end.take() {
                // The body's state goes before anyone hears of the exit.
                let was_signalling = matches!(this.stage.as_mut().project(), StageProj::Signalling { .. });
                this.stage.set(Stage::Done);
                if !was_signalling {
                    let _ = end.say_ended(&Exit::Aborted);
                }
                end.rt.retire(end.id, &Exit::Aborted, true, end.tag);
            }
        }
    }
}

impl<F: Future<Output = Result<(), crate::BoxError>>> Future for Running<F> {
    type Output = Exit;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Exit> {
        let mut this = self.project();
        let exit = match this.stage.as_mut().project() {
            StageProj::Signalling { wait } => ready!(wait.as_mut().poll(cx)),
            StageProj::Done => return Poll::Ready(Exit::Aborted),
            StageProj::Body { body } => {
                let outcome = ready!(body.poll(cx));
                this.stage.set(Stage::Done);
                let Some(end) = this.end.as_ref() else {
                    return Poll::Ready(Exit::Aborted);
                };
                let shut = end.control_node.lifecycle().load(Ordering::Relaxed)
                    == Control::Shutdown.code();
                let signal = end.rt.ending_signal(end.id);
                let exit = match outcome {
                    Err(panic) => Exit::from_panic(panic),
                    Ok(Err(e)) => Exit::Failed(Arc::from(e)),
                    Ok(Ok(())) if shut => Exit::ShutDown,
                    Ok(Ok(())) => Exit::Finished,
                };
                match Ending::say(signal, exit) {
                    Ok(exit) => exit,
                    Err(wait) => {
                        this.stage.set(Stage::Signalling { wait });
                        let StageProj::Signalling { wait } = this.stage.as_mut().project() else {
                            unreachable!("just set");
                        };
                        ready!(wait.as_mut().poll(cx))
                    }
                }
            }
        };
        this.stage.set(Stage::Done);
        if let Some(end) = this.end.take() {
            end.rt.retire(end.id, &exit, true, end.tag);
        }
        Poll::Ready(exit)
    }
}

impl Ending {
    /// [`say`](Ending::say) for a component stopped where it was.
    fn say_ended(&self, exit: &Exit) -> Result<Exit, SignalWait> {
        Ending::say(self.rt.ending_signal(self.id), exit.clone())
    }

    /// Say on `signal` that the component ended, unless it already spoke there. `Err`
    /// with a wait in the rare case that a clean end must wait for room.
    fn say(signal: Option<Arc<OutboxNode<Control>>>, exit: Exit) -> Result<Exit, SignalWait> {
        let Some(signal) = signal else {
            return Ok(exit);
        };
        if signal.stats().sent != 0 {
            return Ok(exit);
        }
        let mut out = Outbox::new(signal);
        let msg = if matches!(exit, Exit::Finished) {
            Control::ProducerFinished
        } else {
            Control::Shutdown
        };
        match out.try_send(msg) {
            Err(e) if e.is_full() && matches!(exit, Exit::Finished | Exit::ShutDown) => {
                // A clean end waits for room.
                let msg = e.into_inner();
                Err(Box::pin(async move {
                    let _ = out.send(msg).await;
                    exit
                }))
            }
            _ => Ok(exit),
        }
    }
}

pin_project_lite::pin_project! {
    /// Runs a component's task and hands its exit to the handle (for tasks that share
    /// a tokio task). Not an `async` block, which would store the task twice.
    struct ReportExit<F> {
        #[pin]
        task: F,
        to: Option<oneshot::Sender<Exit>>,
    }
}

impl<F: Future<Output = Exit>> Future for ReportExit<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.project();
        let exit = ready!(this.task.poll(cx));
        if let Some(to) = this.to.take() {
            // Nobody waiting for the exit is fine.
            let _ = to.send(exit);
        }
        Poll::Ready(())
    }
}
