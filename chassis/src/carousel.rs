//! # Carousel: a new child for each message on `next`
//!
//! A [`Carousel`] holds at most one child at a time, made by a factory from each
//! message that arrives on its `next` inbox. The Carousel's `inbox` feeds the current
//! child and the child's `outbox` leaves through the Carousel's `outbox`, so from
//! outside the Carousel looks like whichever child is current. When a child ends by
//! itself the Carousel says so on `requestNext`, so that whoever drives it can send the
//! next message (Kamaelia's Carousel; think of a playlist, or a reconnecting client).
//!
//! ## Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axon::{Context, Control, Runtime, component::from_fn};
//! use chassis::carousel::Carousel;
//!
//! // Each child greets in the language it was made for.
//! let carousel = Carousel::new(|greeting: &'static str| {
//!     from_fn("greeter", move |mut ctx: Context<String, String>| async move {
//!         while let Some(name) = ctx.recv().await {
//!             ctx.send(format!("{greeting} {name}")).await?;
//!         }
//!         Ok(())
//!     })
//! });
//! let rt = Runtime::new();
//! let c = rt.add(carousel).unwrap();
//! let mut ext = rt.external("test");
//! let (r, mut next) = ext.add_outbox::<&'static str>("next").unwrap();
//! rt.link(r, rt.box_ref(c.id(), "next").unwrap()).unwrap();
//! let (r, mut names) = ext.add_outbox::<String>("names").unwrap();
//! rt.link(r, c.inbox()).unwrap();
//! let (r, mut greetings) = ext.add_inbox::<String>("greetings", 8).unwrap();
//! rt.link(c.outbox(), r).unwrap();
//! let h = c.start();
//!
//! next.send("hello").await.unwrap();
//! names.send("Ada".into()).await.unwrap();
//! assert_eq!(greetings.recv().await.as_deref(), Some("hello Ada"));
//! next.send("bonjour").await.unwrap();
//! names.send("Blaise".into()).await.unwrap();
//! assert_eq!(greetings.recv().await.as_deref(), Some("bonjour Blaise"));
//! h.shutdown().await.unwrap();
//! assert!(h.join().await.is_clean());
//! # }
//! ```
//!
//! ## How it works
//!
//! A message on `next` is given to the factory, and the component it returns is added
//! as a child, linked and started. If a child is running, it is first asked to shut
//! down (`Shutdown` on its `control`) and the new child starts once it has ended, so
//! the outputs of two children never interleave. A child that ends by itself (not
//! replaced) makes the Carousel send `()` on `requestNext`; so does the start of the
//! Carousel, unless [`first_request(false)`](Carousel::first_request) is set.
//!
//! The Carousel reads its `inbox` and forwards each message to the current child
//! through a private outbox that is relinked to each new child. Data that arrives
//! while no child runs waits in the Carousel's inbox (backpressure reaches the sender)
//! instead of being handed back, and a message the Carousel was forwarding when its
//! child ended goes to the next child. Messages already queued in a child's inbox when
//! that child ends are discarded with it. The child's `outbox` is linked straight to
//! the Carousel's `outbox` (no extra hop).
//!
//! `ProducerFinished` on `control` means no more input, and the Carousel finishes its
//! queued work: the current child is handed what is queued and then told
//! `ProducerFinished`; once it has ended, a child is still made for each message
//! already queued on `next` (each told `ProducerFinished` as it starts, the first after
//! being handed any data still queued), and then the Carousel ends. `Shutdown` is
//! passed to the current child at once, and no child is made after it. The Carousel's
//! `signal` carries `ProducerFinished` or `Shutdown` when it ends (children's `signal`s
//! are not linked anywhere), and `requestNext` is silent once `control` has spoken.
//!
//! A child that fails, panics or is aborted makes the Carousel end failed with a
//! [`ChildFailed`] naming it.
//!
//! ## Boxes
//!
//! | box | direction | type | what |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `C::In` | data for the current child |
//! | `control` | in | [`Control`] | `ProducerFinished` / `Shutdown` for the Carousel and its child |
//! | `next` | in | `M` | make a new child from this message |
//! | `outbox` | out | `C::Out` | the current child's output |
//! | `signal` | out | [`Control`] | how the Carousel ended |
//! | `requestNext` | out | `()` | the current child has ended; send the next message |

use std::marker::PhantomData;

use axon::{
    BoxError, BoxId, CONTROL_CAPACITY, Component, ComponentId, Context, Control, DynComponent,
    Inbox, LinkError, Outbox, Policy, Setup,
};

use crate::pipeline::ChildFailed;

/// A composite that swaps in a new child, made by `factory`, for each message on its
/// `next` inbox. See the [module docs](self).
///
/// # Examples
///
/// ```
/// use axon::{Context, component::from_fn};
/// use chassis::carousel::Carousel;
///
/// // A new reader for every file name.
/// let readers = Carousel::new(|path: String| {
///     from_fn("reader", move |mut ctx: Context<(), String>| async move {
///         ctx.send(format!("would read {path}")).await?;
///         Ok(())
///     })
/// });
/// # let _ = readers;
/// ```
pub struct Carousel<M, C, F> {
    factory: F,
    first_request: bool,
    _t: PhantomData<fn(M) -> C>,
}

impl<M, C, F> std::fmt::Debug for Carousel<M, C, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carousel")
            .field("first_request", &self.first_request)
            .finish_non_exhaustive()
    }
}

impl<M, C, F> Carousel<M, C, F>
where
    M: Send + 'static,
    C: Component,
    F: FnMut(M) -> C + Send + 'static,
{
    /// A Carousel making its children with `factory`. It asks for its first child on
    /// `requestNext` when it starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let c = chassis::carousel::Carousel::new(|n: u32| {
    ///     from_fn("repeat", move |mut ctx: Context<(), u32>| async move {
    ///         for _ in 0..n { ctx.send(n).await?; }
    ///         Ok(())
    ///     })
    /// });
    /// # let _ = c;
    /// ```
    pub fn new(factory: F) -> Self {
        Carousel {
            factory,
            first_request: true,
            _t: PhantomData,
        }
    }

    /// Whether to send a request on `requestNext` when the Carousel starts (Kamaelia's
    /// `make1stRequest`; on by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let c = chassis::carousel::Carousel::new(|_: ()| from_fn("x", |_c: Context<(), ()>| async { Ok(()) }))
    ///     .first_request(false);
    /// # let _ = c;
    /// ```
    pub fn first_request(mut self, send: bool) -> Self {
        self.first_request = send;
        self
    }
}

impl<M, C, F> Component for Carousel<M, C, F>
where
    M: Send + 'static,
    C: Component,
    F: FnMut(M) -> C + Send + 'static,
{
    type In = C::In;
    type Out = C::Out;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        Slot::<C::In>::declare(s)?;
        s.inbox::<M>("next", "make a new child from this message")?;
        s.outbox::<()>(
            "requestNext",
            "the current child has ended; send the next message",
        )?;
        s.describe("inbox", "data for the current child")?;
        s.describe("outbox", "the current child's output")?;
        s.describe(
            "control",
            "ProducerFinished / Shutdown for the Carousel and its child",
        )?;
        s.describe("signal", "how the Carousel ended")?;
        Ok(())
    }

    async fn run(mut self, mut ctx: Context<C::In, C::Out>) -> Result<(), BoxError> {
        let mut slot = Slot::take(&mut ctx)?;
        let mut next = ctx.take_inbox::<M>("next")?;
        let mut request = ctx.outbox_named::<()>("requestNext")?;
        // A `next` message waiting for the child it replaces to end.
        let mut waiting: Option<M> = None;
        if self.first_request {
            // Nobody may be listening; that is their choice.
            let _ = request.send(()).await;
        }
        loop {
            if slot.current.is_none() {
                match slot.ending {
                    Some(c) if c.is_stop() => break,
                    // Finishing: a child for each `next` message already queued, then end.
                    Some(_) => match waiting.take().or_else(|| next.try_recv().ok()) {
                        Some(m) => {
                            slot.install(&mut ctx, Box::new((self.factory)(m))).await?;
                            continue;
                        }
                        None => break,
                    },
                    None => {}
                }
            }
            tokio::select! {
                biased;
                c = slot.control.recv(), if slot.ending.is_none() => {
                    // While a replacement waits, the old child has been told to stop;
                    // the new one is told when it starts.
                    if let Some(c) = slot.record(c)
                        && slot.current.is_some()
                        && waiting.is_none()
                    {
                        slot.finish_input(c).await;
                    }
                }
                exit = ctx.next_child_exit(), if slot.current.is_some() => {
                    let Some(exit) = exit else {
                        slot.current = None;
                        continue;
                    };
                    slot.child_ended(exit.id);
                    if !exit.exit.is_clean() {
                        return Err(Box::new(ChildFailed::from(exit)));
                    }
                    if slot.ending.is_some() {
                        continue;
                    }
                    match waiting.take() {
                        Some(m) => slot.install(&mut ctx, Box::new((self.factory)(m))).await?,
                        None => {
                            let _ = request.send(()).await;
                        }
                    }
                }
                m = next.recv(), if slot.ending.is_none() && waiting.is_none() => match m {
                    Some(m) if slot.current.is_some() => {
                        slot.tell(Control::Shutdown).await;
                        waiting = Some(m);
                    }
                    Some(m) => slot.install(&mut ctx, Box::new((self.factory)(m))).await?,
                    None => slot.ending = Some(Control::ProducerFinished),
                },
                m = slot.input.recv(),
                    if slot.current.is_some() && slot.ending.is_none() && waiting.is_none() && slot.held.is_none() =>
                {
                    match m {
                        Some(m) => slot.forward(m).await,
                        None => slot.ending = Some(Control::ProducerFinished),
                    }
                }
            }
        }
        if slot.ending == Some(Control::Shutdown) {
            ctx.mark_shut_down();
        }
        Ok(())
    }
}

/// The one-child-at-a-time machinery of Carousel and Seq: the composite's `inbox` and
/// `control` pass through to private inboxes its body reads, and two private outboxes
/// (relinked to each child in turn) carry data and lifecycle to the current child.
pub(crate) struct Slot<I> {
    pub(crate) input: Inbox<I>,
    pub(crate) control: Inbox<Control>,
    to_child: Outbox<I>,
    child_control: Outbox<Control>,
    to_child_id: BoxId,
    child_control_id: BoxId,
    outbox_id: BoxId,
    /// The running child.
    pub(crate) current: Option<ComponentId>,
    /// A message read for a child that ended before taking it.
    pub(crate) held: Option<I>,
    /// The lifecycle message that ended the composite's input.
    pub(crate) ending: Option<Control>,
}

const INPUT: &str = "_inbox";
const CONTROL_IN: &str = "_control";
const TO_CHILD: &str = "_to_child";
const CHILD_CONTROL: &str = "_child_control";

impl<I: Send + 'static> Slot<I> {
    /// Declare the private boxes and the passthroughs into them.
    pub(crate) fn declare(s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.make_passthrough("inbox")?;
        s.make_passthrough("control")?;
        let input = s.inbox::<I>(INPUT, "data waiting for the current child")?;
        let control = s.inbox_with_capacity::<Control>(
            CONTROL_IN,
            "the composite's control, read by its body",
            CONTROL_CAPACITY,
        )?;
        let inbox = s.own::<I>("inbox")?;
        s.link(inbox, input)?;
        let own_control = s.own::<Control>("control")?;
        s.link(own_control, control)?;
        s.outbox::<I>(TO_CHILD, "data to the current child's inbox")?;
        s.outbox::<Control>(CHILD_CONTROL, "lifecycle to the current child's control")?;
        Ok(())
    }

    /// Take the private boxes declared by [`Slot::declare`].
    pub(crate) fn take<O: Send + 'static>(ctx: &mut Context<I, O>) -> Result<Self, LinkError> {
        let rt = ctx.runtime().clone();
        let me = ctx.id();
        Ok(Slot {
            input: ctx.take_inbox::<I>(INPUT)?,
            control: ctx.take_inbox::<Control>(CONTROL_IN)?,
            to_child: ctx.outbox_named::<I>(TO_CHILD)?,
            child_control: ctx.outbox_named::<Control>(CHILD_CONTROL)?,
            to_child_id: rt.box_id(me, TO_CHILD)?,
            child_control_id: rt.box_id(me, CHILD_CONTROL)?,
            outbox_id: rt.box_id(me, "outbox")?,
            current: None,
            held: None,
            ending: None,
        })
    }

    /// Add `child`, link it in place of the previous one, and start it. A held message
    /// goes to it first; if the input has already ended it is handed what is queued and
    /// told so at once.
    pub(crate) async fn install<O: Send + 'static>(
        &mut self,
        ctx: &mut Context<I, O>,
        child: Box<dyn DynComponent>,
    ) -> Result<(), LinkError> {
        let rt = ctx.runtime().clone();
        let prepared = ctx.add_child_dyn(child)?;
        let id = prepared.id();
        rt.relink_ids(self.to_child_id, rt.box_id(id, "inbox")?, Policy::Block)?;
        rt.relink_ids(
            self.child_control_id,
            rt.box_id(id, "control")?,
            Policy::Block,
        )?;
        rt.link_ids(rt.box_id(id, "outbox")?, self.outbox_id, Policy::Block)?;
        // The child reports its end through the composite's child exits.
        drop(prepared.start());
        self.current = Some(id);
        match self.ending {
            Some(c) => self.finish_input(c).await,
            None => {
                if let Some(m) = self.held.take() {
                    self.forward(m).await;
                }
            }
        }
        Ok(())
    }

    /// Forward one message to the current child; keep it if the child has gone.
    pub(crate) async fn forward(&mut self, msg: I) {
        if let Err(e) = self.to_child.send(msg).await {
            self.held = Some(e.into_inner());
        }
    }

    /// Send a lifecycle message to the current child.
    pub(crate) async fn tell(&mut self, c: Control) {
        // A child that has ended no longer needs it.
        let _ = self.child_control.send(c).await;
    }

    /// A child has ended.
    pub(crate) fn child_ended(&mut self, id: ComponentId) {
        if self.current == Some(id) {
            self.current = None;
        }
    }

    /// Handle a message on the composite's `control`: `Shutdown` is passed to the
    /// current child at once; `ProducerFinished` (or `SocketShutdown`) after the child
    /// has been handed everything queued.
    pub(crate) async fn on_control(&mut self, c: Option<Control>) {
        if let Some(c) = self.record(c)
            && self.current.is_some()
        {
            self.finish_input(c).await;
        }
    }

    /// Record a message from the composite's `control` (a closed `control` counts as
    /// `ProducerFinished`); returns it if it ends the input.
    pub(crate) fn record(&mut self, c: Option<Control>) -> Option<Control> {
        let c = c.unwrap_or(Control::ProducerFinished);
        if c.is_stop() || c.ends_input() {
            self.ending = Some(c);
            Some(c)
        } else {
            None
        }
    }

    /// Tell the current child its input has ended with `c`: unless `c` says stop now,
    /// first hand it the held message and everything queued.
    pub(crate) async fn finish_input(&mut self, c: Control) {
        if !c.is_stop() {
            if let Some(m) = self.held.take() {
                self.forward(m).await;
            }
            while self.held.is_none() {
                let Ok(m) = self.input.try_recv() else { break };
                self.forward(m).await;
            }
        }
        self.tell(c).await;
    }
}
