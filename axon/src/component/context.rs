//! [`Context`]: what a running component's body works with (its boxes, lifecycle,
//! children and the runtime).

use super::children::{ChildExits, next_exit};
use super::{Component, DynComponent};
use crate::boxes::{BoxRef, ComponentId, Inbox, Outbox};
use crate::control::Control;
use crate::error::{LinkError, SendError};
use crate::exit::ChildExit;
use crate::runtime::{Prepared, PreparedDyn, Runtime};
use std::borrow::Cow;
use std::future::Future;
use std::task::Poll;
use tokio::sync::mpsc::UnboundedReceiver;

/// What a component body runs with: its four default boxes as public fields (so
/// they can be borrowed separately, e.g. in `tokio::select!`), and access to the
/// runtime for extra boxes, children and links.
///
/// # Examples
///
/// ```
/// use axon::{Context, BoxError};
///
/// // Forward data until the input ends or a Shutdown arrives.
/// async fn body(mut ctx: Context<u32, u32>) -> Result<(), BoxError> {
///     while let Some(n) = ctx.recv().await {
///         ctx.send(n * 2).await?;
///     }
///     Ok(())
/// }
/// ```
pub struct Context<I, O> {
    /// Data in.
    pub inbox: Inbox<I>,
    /// Lifecycle messages in.
    pub control: Inbox<Control>,
    /// Data out.
    pub outbox: Outbox<O>,
    /// Lifecycle messages out.
    pub signal: Outbox<Control>,
    pub(crate) rt: Runtime,
    pub(crate) id: ComponentId,
    pub(crate) ending: Option<Control>,
    pub(crate) children_rx: Option<UnboundedReceiver<ChildExit>>,
    /// The waker `poll_recv` last parked in `control`, and the parking generation that
    /// leaves it there.
    pub(crate) parked: Option<std::task::Waker>,
    pub(crate) control_parked: u64,
}

impl<I, O> std::fmt::Debug for Context<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Context<I, O> {
    /// The component's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{ComponentId, Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("me", |mut ctx: Context<(), ComponentId>| async move {
    ///     let id = ctx.id();
    ///     ctx.send(id).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(h.id()));
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// The runtime the component runs in.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("count", |mut ctx: Context<(), usize>| async move {
    ///     let n = ctx.runtime().live_components();
    ///     ctx.send(n).await?;
    ///     Ok(())
    /// }));
    /// // The component itself and the harness's endpoint.
    /// assert_eq!(h.recv().await, Some(2));
    /// # }
    /// ```
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The lifecycle message that ended [`recv`](Context::recv), if one did.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<u8, ()>) {
    /// while ctx.recv().await.is_some() {}
    /// if ctx.ended_by() == Some(axon::Control::Shutdown) { /* skip the final report */ }
    /// # }
    /// ```
    pub fn ended_by(&self) -> Option<Control> {
        self.ending
    }

    /// Wait for the next data message, watching `control` at the same time.
    ///
    /// Returns `None` when the component should end: at once on
    /// [`Control::Shutdown`]; after the queued data has been handed out on
    /// [`Control::ProducerFinished`] or [`Control::SocketShutdown`]; or when both
    /// inboxes are closed. Control messages take priority over data.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no message is lost if the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<String, usize>) -> Result<(), axon::BoxError> {
    /// while let Some(line) = ctx.recv().await {
    ///     ctx.send(line.len()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn recv(&mut self) -> Option<I> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll behind [`recv`](Context::recv), for hand-written futures.
    ///
    /// The task parks in both queues. A component's `control` is nearly always empty,
    /// so while this task's waker is still parked there (nothing has been sent or
    /// taken since) it is not locked again on every call.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<u32, ()>) {
    /// let first = std::future::poll_fn(|cx| ctx.poll_recv(cx)).await;
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Option<I>> {
        loop {
            if let Some(c) = self.ending {
                if c.is_stop() {
                    return Poll::Ready(None);
                }
                return Poll::Ready(self.inbox.try_recv().ok());
            }
            let control = &self.control.node;
            let still_parked = control.is_empty()
                && control.parked_since() == self.control_parked
                && !control.is_closed()
                && self
                    .parked
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()));
            if !still_parked {
                match self.control.poll_recv_noting(cx, &mut self.control_parked) {
                    Poll::Ready(Some(c)) => {
                        self.on_control(c);
                        continue;
                    }
                    // No more lifecycle messages: only data matters.
                    Poll::Ready(None) => return self.inbox.poll_recv(cx),
                    Poll::Pending => {
                        if !self
                            .parked
                            .as_ref()
                            .is_some_and(|w| w.will_wake(cx.waker()))
                        {
                            self.parked = Some(cx.waker().clone());
                        }
                    }
                }
            }
            // A closed inbox leaves us waiting for `control` (parked above).
            return match self.inbox.poll_recv(cx) {
                Poll::Ready(None) => Poll::Pending,
                other => other,
            };
        }
    }

    /// Record that this component is ending because it was shut down, so that its
    /// exit reason is [`Exit::ShutDown`](crate::Exit::ShutDown) and `Shutdown` is passed
    /// on. For composites, whose `control` is a passthrough they never read.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Control, Exit, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("quits", |mut ctx: Context<(), ()>| async move {
    ///     ctx.mark_shut_down();
    ///     Ok(())
    /// }));
    /// assert!(matches!(h.exit().await, Exit::ShutDown));
    /// assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
    /// # }
    /// ```
    pub fn mark_shut_down(&mut self) {
        self.control.node.lifecycle().store(
            Control::Shutdown.code(),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.ending = Some(Control::Shutdown);
    }

    fn on_control(&mut self, c: Control) {
        if c.is_stop() || c.ends_input() {
            self.ending = Some(c);
        }
    }

    /// Send on `outbox`; see [`Outbox::send`].
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message if `outbox` has no destination.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: as [`Outbox::send`], the message is lost if the future is dropped
    /// while waiting for space.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<(), &'static str>) -> Result<(), axon::BoxError> {
    /// ctx.send("ready").await?;
    /// # Ok(()) }
    /// ```
    pub fn send(&mut self, msg: O) -> impl Future<Output = Result<(), SendError<O>>> + '_ {
        // The outbox's own future, not a wrapper holding a second copy of the message.
        self.outbox.send(msg)
    }

    /// Open an inbox declared in `setup` by its key ([`boxes!`](crate::boxes!),
    /// [`Setup::declare_inbox`](crate::Setup::declare_inbox)): by id, no lookup by name.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] if the key was not declared by this component;
    /// [`LinkError::AlreadyTaken`] if it was opened before.
    ///
    /// # Examples
    ///
    /// See [`boxes!`](crate::boxes!).
    pub fn open_inbox<T: Send + 'static>(
        &mut self,
        key: crate::InboxKey<T>,
    ) -> Result<Inbox<T>, LinkError> {
        self.rt.take_inbox_key(self.id, key)
    }

    /// Open an outbox declared in `setup` by its key ([`boxes!`](crate::boxes!),
    /// [`Setup::declare_outbox`](crate::Setup::declare_outbox)): by id, no lookup by name.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] if the key was not declared by this component.
    ///
    /// # Examples
    ///
    /// See [`boxes!`](crate::boxes!).
    pub fn open_outbox<T: Send + 'static>(
        &mut self,
        key: crate::OutboxKey<T>,
    ) -> Result<Outbox<T>, LinkError> {
        self.rt.outbox_key(self.id, key)
    }

    /// Take the receiving handle of a declared inbox (once).
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`], [`LinkError::WrongType`] or [`LinkError::AlreadyTaken`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup, testing::Harness};
    /// # struct Ticks;
    /// # impl Component for Ticks {
    /// #     type In = ();
    /// #     type Out = u64;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    /// #         s.inbox::<u64>("tick", "seconds").map(drop)
    /// #     }
    /// #     async fn run(self, ctx: Context<(), u64>) -> Result<(), BoxError> { body(ctx).await }
    /// # }
    /// async fn body(mut ctx: Context<(), u64>) -> Result<(), BoxError> {
    ///     let mut tick = ctx.take_inbox::<u64>("tick")?;
    ///     while let Some(t) = tick.recv().await {
    ///         ctx.send(t * 10).await?;
    ///     }
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut h = Harness::new(Ticks);
    /// let mut tick = h.inbox_sender::<u64>("tick").unwrap();
    /// tick.send(4).await.unwrap();
    /// assert_eq!(h.recv().await, Some(40));
    /// # }
    /// ```
    pub fn take_inbox<T: Send + 'static>(&mut self, name: &str) -> Result<Inbox<T>, LinkError> {
        self.rt.take_inbox::<T>(self.id, name)
    }

    /// A sending handle for a declared outbox.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] or [`LinkError::WrongType`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup, testing::Harness};
    /// # struct Alarm;
    /// # impl Component for Alarm {
    /// #     type In = ();
    /// #     type Out = ();
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    /// #         s.outbox::<String>("alarm", "warnings").map(drop)
    /// #     }
    /// #     async fn run(self, ctx: Context<(), ()>) -> Result<(), BoxError> { body(ctx).await }
    /// # }
    /// async fn body(mut ctx: Context<(), ()>) -> Result<(), BoxError> {
    ///     let mut alarm = ctx.outbox_named::<String>("alarm")?;
    ///     alarm.send("disk full".to_string()).await?;
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut h = Harness::new(Alarm);
    /// let mut alarms = h.outbox_receiver::<String>("alarm").unwrap();
    /// assert_eq!(alarms.recv().await.as_deref(), Some("disk full"));
    /// # }
    /// ```
    pub fn outbox_named<T: Send + 'static>(&mut self, name: &str) -> Result<Outbox<T>, LinkError> {
        self.rt.outbox_handle::<T>(self.id, name)
    }

    /// Add an inbox while running and take its receiving handle.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("grows", |mut ctx: Context<(), usize>| async move {
    ///     let (_r, extra) = ctx.add_inbox::<String>("extra", "more lines", 8)?;
    ///     ctx.send(extra.capacity()).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(8));
    /// # }
    /// ```
    pub fn add_inbox<T: Send + 'static>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
        capacity: usize,
    ) -> Result<(BoxRef<T>, Inbox<T>), LinkError> {
        let name = name.into();
        let id = self
            .rt
            .add_inbox_node::<T>(self.id, name.clone(), description, capacity)?;
        let inbox = self.rt.take_inbox::<T>(self.id, &name)?;
        Ok((BoxRef::new(id), inbox))
    }

    /// Add an outbox while running.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("grows", |mut ctx: Context<(), bool>| async move {
    ///     let (_r, mut log) = ctx.add_outbox::<String>("log", "diagnostics")?;
    ///     let linked = log.is_linked();
    ///     ctx.send(linked).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(false)); // nothing links to it yet
    /// # }
    /// ```
    pub fn add_outbox<T: Send + 'static>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
    ) -> Result<(BoxRef<T>, Outbox<T>), LinkError> {
        let name = name.into();
        let id = self
            .rt
            .add_outbox_node::<T>(self.id, name.clone(), description)?;
        let outbox = self.rt.outbox_handle::<T>(self.id, &name)?;
        Ok((BoxRef::new(id), outbox))
    }

    /// Remove one of this component's boxes while running, with every link to and
    /// from it. Messages queued in a removed inbox are discarded.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] if there is no such box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("shrinks", |mut ctx: Context<(), bool>| async move {
    ///     ctx.add_outbox::<String>("log", "diagnostics")?;
    ///     ctx.remove_box("log")?;
    ///     let gone = ctx.runtime().box_id(ctx.id(), "log").is_err();
    ///     ctx.send(gone).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(true));
    /// # }
    /// ```
    pub fn remove_box(&mut self, name: &str) -> Result<(), LinkError> {
        self.rt.remove_box(self.id, name)
    }

    /// Add a child while running, without starting it: link it, then
    /// [`start`](Prepared::start) it. Its exit is reported to
    /// [`next_child_exit`](Context::next_child_exit).
    ///
    /// # Errors
    ///
    /// As the child's [`Component::setup`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("parent", |mut ctx: Context<(), String>| async move {
    ///     let kid = ctx.add_child(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }))?;
    ///     kid.start();
    ///     if let Some(exit) = ctx.next_child_exit().await {
    ///         ctx.send(exit.name).await?;
    ///     }
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await.as_deref(), Some("kid"));
    /// # }
    /// ```
    pub fn add_child<C: Component>(&mut self, child: C) -> Result<Prepared<C>, LinkError> {
        self.rt.prepare(child, Some(self.id))
    }

    /// Add a boxed child while running, without starting it.
    ///
    /// # Errors
    ///
    /// As the child's [`Component::setup`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, DynComponent, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("parent", |mut ctx: Context<(), bool>| async move {
    ///     let kid: Box<dyn DynComponent> = Box::new(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }));
    ///     ctx.add_child_dyn(kid)?.start();
    ///     let exit = ctx.next_child_exit().await;
    ///     ctx.send(exit.is_some_and(|e| e.exit.is_clean())).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(true));
    /// # }
    /// ```
    pub fn add_child_dyn(
        &mut self,
        child: Box<dyn DynComponent>,
    ) -> Result<PreparedDyn, LinkError> {
        child.prepare_dyn(&self.rt, Some(self.id))
    }

    /// Wait for the next child to end. Returns `None` when no children are left.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<(), ()>) {
    /// while let Some(c) = ctx.next_child_exit().await {
    ///     if !c.exit.is_clean() { tracing::warn!("{} {}", c.name, c.exit); }
    /// }
    /// # }
    /// ```
    pub async fn next_child_exit(&mut self) -> Option<ChildExit> {
        if self.children_rx.is_none() {
            self.children_rx = self.rt.take_child_rx(self.id);
        }
        next_exit(&self.rt, self.id, self.children_rx.as_mut()?).await
    }

    /// Move the stream of child exits out of the context, so a body can wait on its
    /// inboxes and its children in one `tokio::select!`. After this,
    /// [`next_child_exit`](Context::next_child_exit) returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<u8, ()>) {
    /// let mut exits = ctx.take_child_exits();
    /// loop {
    ///     tokio::select! {
    ///         c = ctx.control.recv() => { if c.is_none() { break } }
    ///         e = exits.next() => { if e.is_none() { break } }
    ///     }
    /// }
    /// # }
    /// ```
    pub fn take_child_exits(&mut self) -> ChildExits {
        let rx = self
            .children_rx
            .take()
            .or_else(|| self.rt.take_child_rx(self.id));
        ChildExits {
            rt: self.rt.clone(),
            id: self.id,
            rx,
        }
    }

    /// The ids of the children still alive.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("parent", |mut ctx: Context<(), usize>| async move {
    ///     let _kid = ctx.add_child(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }))?;
    ///     let n = ctx.children().len();
    ///     ctx.send(n).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(1));
    /// # }
    /// ```
    pub fn children(&self) -> Vec<ComponentId> {
        self.rt.children_of(self.id)
    }
}
