//! A harness to test one component without a network or a hand-built graph: feed its
//! inboxes, read its outboxes, and (with `#[tokio::test(start_paused = true)]`) run
//! its timers on tokio's paused clock.

use crate::boxes::{ComponentId, Inbox, Outbox};
use crate::component::Component;
use crate::control::Control;
use crate::error::{LinkError, SendError};
use crate::exit::Exit;
use crate::external::External;
use crate::runtime::{Handle, Runtime};

/// Capacity of the harness's own inboxes.
const HARNESS_CAPACITY: usize = 1024;

/// Runs one component with its four default boxes linked to the test.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, Control, Exit, component::from_fn, testing::Harness};
///
/// let count = from_fn("count", |mut ctx: Context<String, usize>| async move {
///     let mut n = 0;
///     while ctx.recv().await.is_some() { n += 1; }
///     ctx.send(n).await?;
///     Ok(())
/// });
/// let mut h = Harness::new(count);
/// h.send("a".into()).await;
/// h.send("b".into()).await;
/// h.send_control(Control::ProducerFinished).await;
/// assert_eq!(h.recv().await, Some(2));
/// assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
/// assert!(matches!(h.exit().await, Exit::Finished));
/// # }
/// ```
pub struct Harness<I, O> {
    rt: Runtime,
    ext: External,
    id: ComponentId,
    to_inbox: Outbox<I>,
    to_control: Outbox<Control>,
    from_outbox: Inbox<O>,
    from_signal: Inbox<Control>,
    handle: Option<Handle>,
    exit: Option<Exit>,
    endpoints: usize,
}

impl<I, O> std::fmt::Debug for Harness<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Harness<I, O> {
    /// Start `component` in a fresh [`Runtime`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or if the component's `setup` fails (a test bug).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    ///     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    ///     Ok(())
    /// });
    /// let mut h = Harness::new(echo);
    /// h.send(5).await;
    /// assert_eq!(h.recv().await, Some(5));
    /// # }
    /// ```
    pub fn new<C: Component<In = I, Out = O>>(component: C) -> Self {
        Self::with_runtime(Runtime::new(), component)
    }

    /// Start `component` in `rt` (to share services with other components).
    ///
    /// # Panics
    ///
    /// As [`Harness::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Runtime, component::from_fn, testing::Harness};
    /// let rt = Runtime::new();
    /// let sink = rt.add(from_fn("sink", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// rt.register_service("sink", sink.inbox()).unwrap();
    /// let mut h = Harness::with_runtime(rt.clone(), from_fn("finds", |mut ctx: Context<(), bool>| async move {
    ///     let found = ctx.runtime().service::<String>("sink").is_ok();
    ///     ctx.send(found).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(true));
    /// # }
    /// ```
    pub fn with_runtime<C: Component<In = I, Out = O>>(rt: Runtime, component: C) -> Self {
        let prepared = match rt.add(component) {
            Ok(p) => p,
            Err(e) => panic!("the component under test refused setup: {e}"),
        };
        let mut ext = rt.external("harness");
        let wire = |ext: &mut External| -> Result<_, LinkError> {
            let (a, to_inbox) = ext.add_outbox::<I>("to_inbox")?;
            let (b, to_control) = ext.add_outbox::<Control>("to_control")?;
            let (c, from_outbox) = ext.add_inbox::<O>("from_outbox", HARNESS_CAPACITY)?;
            let (d, from_signal) = ext.add_inbox::<Control>("from_signal", HARNESS_CAPACITY)?;
            rt.link(a, prepared.inbox())?;
            rt.link(b, prepared.control())?;
            rt.link(prepared.outbox(), c)?;
            rt.link(prepared.signal(), d)?;
            Ok((to_inbox, to_control, from_outbox, from_signal))
        };
        let (to_inbox, to_control, from_outbox, from_signal) = match wire(&mut ext) {
            Ok(w) => w,
            Err(e) => panic!("the harness could not link the component: {e}"),
        };
        let id = prepared.id();
        let handle = prepared.start();
        Harness {
            rt,
            ext,
            id,
            to_inbox,
            to_control,
            from_outbox,
            from_signal,
            handle: Some(handle),
            exit: None,
            endpoints: 0,
        }
    }

    /// The runtime the component runs in.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// assert!(h.runtime().snapshot().named("echo").is_some());
    /// # }
    /// ```
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The component's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// assert_eq!(h.runtime().snapshot().component(h.id()).unwrap().name, "echo");
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// Send to the component's `inbox`, waiting for space.
    ///
    /// # Panics
    ///
    /// If the component has ended (use [`try_send`](Harness::try_send) to check).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the message is lost if the future is dropped while waiting for
    /// space.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// h.send(1).await;
    /// h.send(2).await;
    /// assert_eq!((h.recv().await, h.recv().await), (Some(1), Some(2)));
    /// # }
    /// ```
    pub async fn send(&mut self, msg: I) {
        if self.to_inbox.send(msg).await.is_err() {
            panic!("the component under test has ended; its inbox is gone");
        }
    }

    /// Send to the component's `inbox`.
    ///
    /// # Errors
    ///
    /// [`SendError`] if the component has ended.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the message is lost if the future is dropped while waiting for
    /// space.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// h.finish().await;
    /// assert!(h.exit().await.is_clean());
    /// assert_eq!(h.try_send(1).await, Err(axon::SendError::new(1)));
    /// # }
    /// ```
    pub async fn try_send(&mut self, msg: I) -> Result<(), SendError<I>> {
        self.to_inbox.send(msg).await
    }

    /// Send a lifecycle message to the component's `control`.
    ///
    /// # Panics
    ///
    /// If the component has ended.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes leaves `msg` unsent.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// h.send_control(axon::Control::Shutdown).await;
    /// assert!(matches!(h.exit().await, axon::Exit::ShutDown));
    /// # }
    /// ```
    pub async fn send_control(&mut self, msg: Control) {
        if self.to_control.send(msg).await.is_err() {
            panic!("the component under test has ended; its control inbox is gone");
        }
    }

    /// Ask the component to finish: [`Control::ProducerFinished`] on `control`.
    ///
    /// # Panics
    ///
    /// If the component has ended.
    ///
    /// # Cancel safety
    ///
    /// As [`send_control`](Harness::send_control).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// h.send(1).await;
    /// h.finish().await;
    /// // Queued data is still handed out before the component ends.
    /// assert_eq!(h.recv().await, Some(1));
    /// assert!(matches!(h.exit().await, axon::Exit::Finished));
    /// # }
    /// ```
    pub async fn finish(&mut self) {
        self.send_control(Control::ProducerFinished).await;
    }

    /// The next message from the component's `outbox`; `None` once it has ended and
    /// everything it sent has been read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no message is lost if the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// h.send(9).await;
    /// h.finish().await;
    /// assert_eq!(h.recv().await, Some(9));
    /// assert_eq!(h.recv().await, None); // ended, nothing left
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<O> {
        Self::recv_from(&mut self.from_outbox, &mut self.handle, &mut self.exit).await
    }

    /// The next message from the component's `signal`; `None` once it has ended and
    /// everything it signalled has been read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no message is lost if the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// h.finish().await;
    /// assert_eq!(h.recv_signal().await, Some(axon::Control::ProducerFinished));
    /// # }
    /// ```
    pub async fn recv_signal(&mut self) -> Option<Control> {
        Self::recv_from(&mut self.from_signal, &mut self.handle, &mut self.exit).await
    }

    /// A message from `outbox` if one is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// assert_eq!(h.try_recv(), None);
    /// h.send(3).await;
    /// assert_eq!(h.recv().await, Some(3));
    /// # }
    /// ```
    pub fn try_recv(&mut self) -> Option<O> {
        self.from_outbox.try_recv().ok()
    }

    async fn recv_from<T: Send + 'static>(
        inbox: &mut Inbox<T>,
        handle: &mut Option<Handle>,
        exit: &mut Option<Exit>,
    ) -> Option<T> {
        if let Ok(m) = inbox.try_recv() {
            return Some(m);
        }
        let Some(h) = handle.as_mut() else {
            return inbox.try_recv().ok();
        };
        tokio::select! {
            biased;
            m = inbox.recv() => m,
            e = h.join_mut() => {
                *exit = Some(e);
                *handle = None;
                inbox.try_recv().ok()
            }
        }
    }

    /// A sending handle linked to one of the component's declared inboxes.
    ///
    /// # Errors
    ///
    /// [`LinkError`] if there is no such inbox of type `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{BoxError, Component, Context, LinkError, Setup, testing::Harness};
    /// # struct Limiter;
    /// # impl Component for Limiter {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    /// #         s.inbox::<u32>("limit", "the largest value to pass").map(drop)
    /// #     }
    /// #     async fn run(self, mut ctx: Context<u32, u32>) -> Result<(), BoxError> {
    /// #         let limit = ctx.take_inbox::<u32>("limit")?.recv().await.unwrap_or(u32::MAX);
    /// #         while let Some(n) = ctx.recv().await { ctx.send(n.min(limit)).await?; }
    /// #         Ok(())
    /// #     }
    /// # }
    /// // `Limiter` declares an extra inbox `limit: u32`.
    /// let mut h = Harness::new(Limiter);
    /// let mut limit = h.inbox_sender::<u32>("limit").unwrap();
    /// limit.send(10).await.unwrap();
    /// h.send(99).await;
    /// assert_eq!(h.recv().await, Some(10));
    /// assert!(h.inbox_sender::<String>("limit").is_err()); // wrong type
    /// # }
    /// ```
    pub fn inbox_sender<T: Send + 'static>(&mut self, name: &str) -> Result<Outbox<T>, LinkError> {
        let target = self.rt.box_ref::<T>(self.id, name)?;
        let endpoint = self.endpoint_name("to", name);
        let (r, out) = self.ext.add_outbox::<T>(endpoint)?;
        self.rt.link(r, target)?;
        Ok(out)
    }

    /// A receiving handle linked from one of the component's declared outboxes.
    ///
    /// # Errors
    ///
    /// [`LinkError`] if there is no such outbox of type `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{BoxError, Component, Context, LinkError, Setup, testing::Harness};
    /// # struct Alarm;
    /// # impl Component for Alarm {
    /// #     type In = ();
    /// #     type Out = ();
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    /// #         s.outbox::<String>("alarm", "warnings").map(drop)
    /// #     }
    /// #     async fn run(self, mut ctx: Context<(), ()>) -> Result<(), BoxError> {
    /// #         ctx.outbox_named::<String>("alarm")?.send("disk full".into()).await?;
    /// #         Ok(())
    /// #     }
    /// # }
    /// // `Alarm` declares an extra outbox `alarm: String`.
    /// let mut h = Harness::new(Alarm);
    /// let mut alarms = h.outbox_receiver::<String>("alarm").unwrap();
    /// assert_eq!(alarms.recv().await.as_deref(), Some("disk full"));
    /// assert!(h.outbox_receiver::<u32>("nope").is_err());
    /// # }
    /// ```
    pub fn outbox_receiver<T: Send + 'static>(
        &mut self,
        name: &str,
    ) -> Result<Inbox<T>, LinkError> {
        let source = self.rt.box_ref::<T>(self.id, name)?;
        let endpoint = self.endpoint_name("from", name);
        let (r, inbox) = self.ext.add_inbox::<T>(endpoint, HARNESS_CAPACITY)?;
        self.rt.link(source, r)?;
        Ok(inbox)
    }

    /// A fresh name for one of the harness's own endpoint boxes.
    fn endpoint_name(&mut self, side: &str, name: &str) -> String {
        self.endpoints += 1;
        format!("{side}_{name}_{}", self.endpoints)
    }

    /// Wait for the component to end and return why.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the exit reason is kept if the future is dropped, and a later call
    /// returns it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Exit, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("boom", |_c: Context<(), ()>| async { panic!("boom") }));
    /// assert!(matches!(h.exit().await, Exit::Panicked(m) if m == "boom"));
    /// # }
    /// ```
    pub async fn exit(&mut self) -> Exit {
        if let Some(h) = self.handle.as_mut() {
            let e = h.join_mut().await;
            self.exit = Some(e);
            self.handle = None;
        }
        self.exit.clone().unwrap_or(Exit::Aborted)
    }

    /// Abort the component.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use axon::{Context, component::from_fn, testing::Harness};
    /// # let echo = from_fn("echo", |mut ctx: Context<u32, u32>| async move {
    /// #     while let Some(n) = ctx.recv().await { ctx.send(n).await?; }
    /// #     Ok(())
    /// # });
    /// let mut h = Harness::new(echo);
    /// h.kill();
    /// assert!(matches!(h.exit().await, axon::Exit::Aborted));
    /// # }
    /// ```
    pub fn kill(&self) {
        self.rt.kill(self.id);
    }
}
