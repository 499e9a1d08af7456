//! Components added but not yet started: [`Prepared`] and [`PreparedDyn`], and starting
//! two in one task.

use super::handle::{Handle, Joiner};
use super::task::ReportExit;
use super::{Runtime, Startable};
use crate::boxes::{BoxRef, ComponentId};
use crate::component::Component;
use crate::control::Control;
use crate::graph::Stopper;
use tokio::sync::oneshot;

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
    pub(super) rt: Runtime,
    pub(super) id: ComponentId,
    pub(super) component: Option<C>,
    pub(super) children: Vec<Box<dyn Startable>>,
    pub(super) tag: Option<u64>,
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

    pub(super) fn pair<D: Component>(
        mut self,
        mut other: Prepared<D>,
        joined: bool,
    ) -> (Handle, Handle) {
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
