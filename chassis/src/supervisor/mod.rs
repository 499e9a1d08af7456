//! # Supervisor: children that are restarted when they fail
//!
//! A [`Supervisor`] runs named children, each made by a factory ([`ChildSpec`]), and
//! when one ends it makes a new instance and puts it where the old one was: the links
//! to and from it, and the services it offered, are restored, so the components that
//! talk to it need no code to notice the restart. Which children are restarted is the
//! [`Strategy`] (one-for-one, one-for-all, rest-for-one) and each child's [`Restart`]
//! kind (permanent, transient, temporary); restarts wait a [`Backoff`]; more than the
//! [`Intensity`] allows (default 3 in 5 s) and the supervisor gives up: it stops its
//! children and fails with [`SupervisorGaveUp`], so its parent — another supervisor,
//! perhaps — hears why. Supervisors nest, and any component can be supervised,
//! composites included (a [`ServerCore`](crate::tcp::ServerCore), say).
//!
//! ## Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axon::{Context, Runtime, component::from_fn};
//! use chassis::supervisor::{ChildSpec, Supervisor};
//!
//! // A counter that panics on 0; each instance starts from scratch.
//! let counter = ChildSpec::new("counter", || {
//!     from_fn("counter", |mut c: Context<u32, u32>| async move {
//!         let mut total = 0;
//!         while let Some(n) = c.recv().await {
//!             assert!(n != 0, "zero");
//!             total += n;
//!             c.send(total).await?;
//!         }
//!         Ok(())
//!     })
//! })
//! .service("counter", "inbox");
//! let sup = Supervisor::<(), u32>::new()
//!     .child(counter)
//!     .link(("counter", "outbox"), ("self", "outbox"));
//!
//! let rt = Runtime::new();
//! let s = rt.add(sup).unwrap();
//! let mut ext = rt.external("client");
//! let (to, mut numbers) = ext.add_outbox::<u32>("numbers").unwrap();
//! rt.link(to, rt.service::<u32>("counter").unwrap()).unwrap();
//! let (from, mut totals) = ext.add_inbox::<u32>("totals", 8).unwrap();
//! rt.link(s.outbox(), from).unwrap();
//! let h = s.start();
//!
//! numbers.send(2).await.unwrap();
//! assert_eq!(totals.recv().await, Some(2));
//! numbers.send(0).await.unwrap(); // the counter panics and is restarted...
//! numbers.send(5).await.unwrap(); // ...and the same link reaches the new one
//! assert_eq!(totals.recv().await, Some(5)); // which started from scratch
//! assert_eq!(rt.snapshot().components.iter().map(|c| c.restarts).sum::<u32>(), 1);
//! h.shutdown().await.unwrap();
//! assert!(h.join().await.is_clean());
//! # }
//! ```
//!
//! ## How links survive a restart
//!
//! Every link whose destination is a child's inbox goes through a *hold* on the
//! supervisor, named `child.box` ([`Runtime::add_hold_like`](axon::Runtime::add_hold_like)):
//! a boundary box that passes messages straight on to the child's inbox (one enqueue,
//! no extra hop) while the child runs. When the child ends, the hold leads nowhere
//! and keeps what is sent to it, up to its capacity (then senders wait:
//! backpressure); when the new instance is linked, what the hold kept moves to the
//! front of the new instance's inbox, so each sender's order holds. A child's outboxes
//! are linked again from the layout. Services a child offers are registered on its
//! holds, so a name keeps its meaning across restarts. Link from outside to the
//! supervisor's boxes (its `inbox`, boundary boxes named in the layout, or a service)
//! rather than to a child's own boxes: a link to a child's own box ends with it.
//!
//! ## What a restart keeps, and what it loses
//!
//! - **Kept**: links (both ways), service names, and every message not yet taken by
//!   the failed instance: what was still queued in its inboxes behind holds moves back
//!   into the holds when it ends, what is sent while it is down waits there, and the
//!   new instance receives all of it first, in the order it was sent (Akka keeps a
//!   restarted actor's mailbox the same way). A request among them is answered by the
//!   new instance.
//! - **Not delivered again**: the message the child was handling when it failed. It
//!   had been received (its inbox counted it); a message that crashes a child must not
//!   crash every instance after it.
//! - **Lost, and counted**: messages queued in a child's inboxes that no hold leads to
//!   (boxes linked to the child directly rather than through the supervisor) are
//!   dropped with it and counted as `unread` in its
//!   [`GraphEvent::Exited`](axon::GraphEvent::Exited) and the supervisor's log line;
//!   requests among them are answered with an error at once. When the supervisor
//!   itself ends, what its holds kept is dropped and counted the same way.
//! - **Lost**: the child's state — each instance starts from its factory.
//!
//! A supervised composite restarts whole: a [`ServerCore`](crate::tcp::ServerCore)'s
//! connections are its children, so they close with it, and the new instance (made by
//! [`ChildSpec::try_new`], which binds the same address again) serves the connections
//! that come after.
//!
//! Restarts are data: [`GraphEvent::Restarted`](axon::GraphEvent::Restarted) in the
//! change stream, and each restarted instance shows its `restarts` count and
//! `last_failure` in the [`Snapshot`](axon::Snapshot).
//!
//! ## Control
//!
//! `ProducerFinished` or `Shutdown` on the supervisor's `control` goes to every
//! child. After `Shutdown` no child is restarted. After `ProducerFinished` (no more
//! input) a child that ends cleanly stays ended, but one that fails is still restarted,
//! within the intensity, and told at once that input has ended, so what was queued for
//! it is handled (a supervised stage in a batch Pipeline loses only the message that
//! crashed it). The supervisor ends when its children have all ended,
//! [`Exit::ShutDown`](axon::Exit::ShutDown) after `Shutdown`. A supervisor
//! whose children have all ended for good (temporary ones, transient ones that
//! finished) ends finished. Children's `signal`s are not linked: the supervisor
//! speaks for them on its own `signal` when it ends.
//!
//! ## Boxes
//!
//! | box | direction | type | what |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `I` | passthrough to the hold the layout links `("self", "inbox")` to |
//! | `control` | in | [`Control`](axon::Control) | forwarded to every child; after it, nothing is restarted |
//! | `outbox` | out | `O` | what the child linked to `("self", "outbox")` sends |
//! | `signal` | out | [`Control`](axon::Control) | `ProducerFinished`/`Shutdown` when the supervisor ends |
//! | `CHILD.BOX` | in | as the child's box | the hold in front of a child's inbox (links and services) |
//! | other `"self"` boxes | in/out | as linked | boundary boxes named in the layout |

mod error;
mod policy;
mod run;
mod setup;
mod spec;

pub use error::SupervisorGaveUp;
pub use policy::{Backoff, Intensity, Restart, Strategy};
pub use spec::ChildSpec;

use std::borrow::Cow;
use std::marker::PhantomData;

use axon::{BoxError, Component, Context, LinkError, Policy, Setup};

use crate::graphline::LinkSpec;
use setup::Wiring;

/// How many messages a hold keeps while its child restarts, by default.
pub const DEFAULT_HOLD_CAPACITY: usize = axon::DEFAULT_CAPACITY;

/// Children restarted when they fail, with their links restored. See the
/// [module docs](self).
///
/// `I` is the type of the supervisor's `inbox`, `O` of its `outbox` (`()` for a box
/// the layout does not use).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use axon::{Context, component::from_fn};
/// use chassis::supervisor::{Backoff, ChildSpec, Intensity, Strategy, Supervisor};
///
/// let sup = Supervisor::<(), ()>::new()
///     .strategy(Strategy::OneForAll)
///     .intensity(Intensity::new(5, Duration::from_secs(10)))
///     .backoff(Backoff::new(Duration::from_millis(50), Duration::from_secs(2)))
///     .child(ChildSpec::new("a", || from_fn("a", |_c: Context<(), u8>| async { Ok(()) })))
///     .child(ChildSpec::new("b", || from_fn("b", |_c: Context<u8, ()>| async { Ok(()) })))
///     .link(("a", "outbox"), ("b", "inbox"));
/// # let _ = sup;
/// ```
pub struct Supervisor<I, O> {
    pub(crate) name: Cow<'static, str>,
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) backoff: Backoff,
    pub(crate) hold_capacity: usize,
    pub(crate) children: Vec<ChildSpec>,
    pub(crate) links: Vec<LinkSpec>,
    pub(crate) wiring: Option<Wiring>,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O> std::fmt::Debug for Supervisor<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("name", &self.name)
            .field("strategy", &self.strategy)
            .field("intensity", &self.intensity)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Default for Supervisor<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: Send + 'static, O: Send + 'static> Supervisor<I, O> {
    /// A supervisor with no children: one-for-one, 3 restarts in 5 s, the default
    /// [`Backoff`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = chassis::supervisor::Supervisor::<(), ()>::new();
    /// # let _ = s;
    /// ```
    pub fn new() -> Self {
        Supervisor {
            name: Cow::Borrowed("Supervisor"),
            strategy: Strategy::default(),
            intensity: Intensity::default(),
            backoff: Backoff::default(),
            hold_capacity: DEFAULT_HOLD_CAPACITY,
            children: Vec::new(),
            links: Vec::new(),
            wiring: None,
            _t: PhantomData,
        }
    }

    /// Add a child. Children start in the order added (and one-for-all and
    /// rest-for-one restart them in that order).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// use chassis::supervisor::{ChildSpec, Supervisor};
    /// let s = Supervisor::<(), ()>::new()
    ///     .child(ChildSpec::new("idle", || from_fn("idle", |_c: Context<(), ()>| async { Ok(()) })));
    /// # let _ = s;
    /// ```
    pub fn child(mut self, spec: ChildSpec) -> Self {
        self.children.push(spec);
        self
    }

    /// Link `(child, box)` to `(child, box)` by name, as in a
    /// [`Graphline`](crate::graphline::Graphline); `"self"` names the supervisor's own
    /// boundary. Links to a child's `control` or from its `signal` are the
    /// supervisor's own business and are refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// use chassis::supervisor::{ChildSpec, Supervisor};
    /// let s = Supervisor::<u8, u8>::new()
    ///     .child(ChildSpec::new("echo", || from_fn("echo", |_c: Context<u8, u8>| async { Ok(()) })))
    ///     .link(("self", "inbox"), ("echo", "inbox"))
    ///     .link(("echo", "outbox"), ("self", "outbox"));
    /// # let _ = s;
    /// ```
    pub fn link(self, from: (&str, &str), to: (&str, &str)) -> Self {
        self.link_with(from, to, Policy::Block)
    }

    /// [`link`](Supervisor::link) with an overflow [`Policy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, Policy, component::from_fn};
    /// use chassis::supervisor::{ChildSpec, Supervisor};
    /// let s = Supervisor::<(), ()>::new()
    ///     .child(ChildSpec::new("ticks", || from_fn("ticks", |_c: Context<(), u64>| async { Ok(()) })))
    ///     .child(ChildSpec::new("view", || from_fn("view", |_c: Context<u64, ()>| async { Ok(()) })))
    ///     .link_with(("ticks", "outbox"), ("view", "inbox"), Policy::KeepLatest);
    /// # let _ = s;
    /// ```
    pub fn link_with(mut self, from: (&str, &str), to: (&str, &str), policy: Policy) -> Self {
        self.links.push(LinkSpec {
            from: (from.0.to_string(), from.1.to_string()),
            to: (to.0.to_string(), to.1.to_string()),
            policy,
        });
        self
    }

    /// Which children a failure restarts (default [`Strategy::OneForOne`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::supervisor::{Strategy, Supervisor};
    /// let s = Supervisor::<(), ()>::new().strategy(Strategy::OneForAll);
    /// # let _ = s;
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// How many restarts within a window the supervisor makes before giving up.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use chassis::supervisor::{Intensity, Supervisor};
    /// let s = Supervisor::<(), ()>::new().intensity(Intensity::new(1, Duration::from_secs(60)));
    /// # let _ = s;
    /// ```
    pub fn intensity(mut self, intensity: Intensity) -> Self {
        self.intensity = intensity;
        self
    }

    /// How long to wait before each restart.
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::supervisor::{Backoff, Supervisor};
    /// let s = Supervisor::<(), ()>::new().backoff(Backoff::none());
    /// # let _ = s;
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How many messages each hold keeps while its child is down (default
    /// [`DEFAULT_HOLD_CAPACITY`]); senders wait beyond that.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = chassis::supervisor::Supervisor::<(), ()>::new().hold_capacity(1024);
    /// # let _ = s;
    /// ```
    pub fn hold_capacity(mut self, capacity: usize) -> Self {
        self.hold_capacity = capacity.max(1);
        self
    }

    /// The name shown in introspection and errors (`Supervisor` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// let s = chassis::supervisor::Supervisor::<(), ()>::new().named("services");
    /// assert_eq!(s.name(), "services");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }
}

impl<I: Send + 'static, O: Send + 'static> Component for Supervisor<I, O> {
    type In = I;
    type Out = O;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let wiring = setup::wire(self, s)?;
        self.wiring = Some(wiring);
        Ok(())
    }

    async fn run(self, ctx: Context<I, O>) -> Result<(), BoxError> {
        run::run(self, ctx).await
    }
}
