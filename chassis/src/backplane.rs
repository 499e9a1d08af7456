//! # Backplane: named publish/subscribe
//!
//! A [`Backplane`] is a named meeting point. Any number of [`PublishTo`] components
//! send messages to it by name, and every [`SubscribeTo`] of the same name emits on
//! its `outbox` every message published after it joined — Kamaelia's Backplane, for
//! fan-out that is explicit and findable by name (a chat room, a stream of readings
//! that several views follow).
//!
//! ## Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axon::{GraphEvent, Policy, Runtime};
//! use chassis::backplane::{Backplane, PublishTo, SubscribeTo};
//!
//! let rt = Runtime::new();
//! let mut events = rt.subscribe();
//! let board = rt.spawn(Backplane::<String>::new("news")).unwrap();
//! let mut ext = rt.external("test");
//!
//! let reader = rt.add(SubscribeTo::<String>::new("news").policy(Policy::Block)).unwrap();
//! let (r, mut read) = ext.add_inbox::<String>("read", 8).unwrap();
//! rt.link(reader.outbox(), r).unwrap();
//! let reader = reader.start();
//! // Wait until the Backplane has linked the new subscriber in.
//! while let Ok(ev) = events.recv().await {
//!     if matches!(&ev, GraphEvent::Linked { to, .. } if to.ends_with(&format!("#{}.outbox", reader.id()))) {
//!         break;
//!     }
//! }
//!
//! let writer = rt.add(PublishTo::<String>::new("news")).unwrap();
//! let (r, mut write) = ext.add_outbox::<String>("write").unwrap();
//! rt.link(r, writer.inbox()).unwrap();
//! let _writer = writer.start();
//! write.send("extra!".into()).await.unwrap();
//! assert_eq!(read.recv().await.as_deref(), Some("extra!"));
//!
//! board.shutdown().await.unwrap();
//! assert!(board.join().await.is_clean());
//! assert!(reader.join().await.is_clean());
//! # }
//! ```
//!
//! ## How it works
//!
//! `Backplane::new("news")` registers two services when it is added to a runtime:
//! `"news"`, its `inbox`, where messages are published, and `"news.subscriptions"`,
//! its `subscriptions` inbox, which takes [`Subscription`] requests (as
//! [`Request`]s: the Backplane answers each once it has acted on it). A second Backplane
//! of the same name is refused with [`LinkError::DuplicateService`].
//!
//! A [`PublishTo`] finds the `"news"` service in its `setup` and turns its own `inbox`
//! into a passthrough to it: what is sent to a PublishTo is enqueued once, in the
//! Backplane. Many publishers may feed one Backplane; each one's order is kept.
//!
//! A [`SubscribeTo`] asks [`Subscription::Join`] when it starts, naming its own
//! `outbox`, and waits on its `control` only once the Backplane has answered. A Join the
//! Backplane never takes (it ended first) is dropped with its inbox, which fails the
//! request at once, and the SubscribeTo ends: it never waits for a Backplane that is
//! gone. The Backplane then adds an outbox for it (named `subscriber#ID`) and links it
//! to the subscriber's `outbox` (an outbox -> outbox link), with the subscriber's
//! [`Policy`]. From then on each published message is cloned to every subscriber, in
//! the order they joined, and enqueued once, directly in the inbox the subscriber's
//! `outbox` leads to. A subscriber has joined when that link exists (introspection
//! shows it as a [`GraphEvent::Linked`](axon::GraphEvent::Linked)); it sees every
//! message the Backplane takes after that, and none before.
//!
//! The default subscriber policy is [`Policy::DropOldest`]: a slow subscriber loses its
//! oldest queued messages (counted as `dropped` on the inbox it feeds, in
//! introspection) and never stalls the Backplane or the other subscribers. A subscriber that
//! must not lose anything chooses [`Policy::Block`], and then a full subscriber holds
//! up the Backplane, and so every subscriber, until it has room. A message for a
//! subscriber whose `outbox` leads nowhere is counted `undelivered`.
//!
//! When a SubscribeTo ends (on `ProducerFinished` or `Shutdown` on its `control`) it
//! sends [`Subscription::Leave`] and the Backplane removes its outbox. When the
//! Backplane ends (on `ProducerFinished`, after publishing what is queued, or on
//! `Shutdown`) it passes that message to every subscriber's `control`, so subscribers
//! end, and whatever follows them hears of it through their `signal`.
//!
//! ## Boxes
//!
//! Backplane:
//!
//! | box | direction | type | what |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `T` | messages to publish (the service named after the Backplane) |
//! | `subscriptions` | in | [`Request<Subscription<T>, ()>`] | joins and leaves (the service `NAME.subscriptions`), answered once done |
//! | `control` | in | [`Control`] | `ProducerFinished` / `Shutdown` end the Backplane |
//! | `outbox` | out | `()` | unused |
//! | `signal` | out | [`Control`] | how the Backplane ended |
//! | `subscriber#ID` | out | `T` | one per subscriber, linked to its `outbox` |
//!
//! PublishTo:
//!
//! | box | direction | type | what |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `T` | passthrough to the Backplane's `inbox` |
//! | `control` | in | [`Control`] | `ProducerFinished` / `Shutdown` end it |
//! | `outbox` | out | `()` | unused |
//! | `signal` | out | [`Control`] | passes on how it ended |
//!
//! SubscribeTo:
//!
//! | box | direction | type | what |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `()` | unused |
//! | `control` | in | [`Control`] | `ProducerFinished` / `Shutdown` make it leave and end |
//! | `outbox` | out | `T` | every message published since it joined |
//! | `signal` | out | [`Control`] | passes on how it ended |
//! | `_backplane` | out | [`Request<Subscription<T>, ()>`] | its join and leave requests |

use std::borrow::Cow;
use std::marker::PhantomData;
use std::time::Duration;

use axon::{
    BoxError, BoxRef, Component, ComponentId, Context, Control, LinkError, Outbox, Policy, Request,
    Setup,
};

/// The name of the service that takes a Backplane's [`Subscription`] requests.
///
/// # Examples
///
/// ```
/// assert_eq!(chassis::backplane::subscriptions_service("news"), "news.subscriptions");
/// ```
pub fn subscriptions_service(backplane: &str) -> String {
    format!("{backplane}.subscriptions")
}

/// A request to a [`Backplane`], sent to its `subscriptions` inbox. [`SubscribeTo`]
/// sends these; a hand-written subscriber may too.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, Policy, Runtime, component::from_fn};
/// use axon::Request;
/// use chassis::backplane::{Backplane, Subscription, subscriptions_service};
///
/// let rt = Runtime::new();
/// let _board = rt.spawn(Backplane::<u32>::new("counts")).unwrap();
/// let requests = rt.service::<Request<Subscription<u32>, ()>>(&subscriptions_service("counts")).unwrap();
/// let viewer = rt.add(from_fn("viewer", |mut ctx: Context<u32, ()>| async move {
///     while ctx.recv().await.is_some() {}
///     Ok(())
/// })).unwrap();
/// let join = Subscription::Join { subscriber: viewer.id(), deliver_to: viewer.inbox(), policy: Policy::KeepLatest };
/// let mut ext = rt.external("test");
/// let (r, mut out) = ext.add_outbox::<Request<Subscription<u32>, ()>>("requests").unwrap();
/// rt.link(r, requests).unwrap();
/// out.ask(join, std::time::Duration::from_secs(5)).await.unwrap(); // joined
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Subscription<T> {
    /// Link a new outbox of the Backplane to `deliver_to` with `policy`.
    Join {
        /// Who joins (the key for [`Subscription::Leave`]; one subscription each).
        subscriber: ComponentId,
        /// Where its messages go: any box a `T` outbox can link to (an inbox, or the
        /// subscriber's own `outbox`).
        deliver_to: BoxRef<T>,
        /// The overflow policy of the new link.
        policy: Policy,
    },
    /// Remove the subscriber's outbox.
    Leave {
        /// Who leaves.
        subscriber: ComponentId,
    },
}

/// Named publish/subscribe: every message sent to its `inbox` goes to every current
/// subscriber. See the [module docs](self).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{LinkError, Runtime};
/// use chassis::backplane::Backplane;
///
/// let rt = Runtime::new();
/// let _chat = rt.add(Backplane::<String>::new("chat")).unwrap();
/// assert!(rt.service::<String>("chat").is_ok());
/// let again = rt.add(Backplane::<String>::new("chat"));
/// assert!(matches!(again, Err(LinkError::DuplicateService { .. })));
/// # }
/// ```
pub struct Backplane<T> {
    name: String,
    _t: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for Backplane<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + 'static> Backplane<T> {
    /// A Backplane registered under `name` when added to a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = chassis::backplane::Backplane::<Vec<u8>>::new("frames");
    /// # let _ = b;
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Backplane {
            name: name.into(),
            _t: PhantomData,
        }
    }
}

struct Subscriber<T> {
    id: ComponentId,
    box_name: String,
    out: Outbox<T>,
}

impl<T: Clone + Send + 'static> Component for Backplane<T> {
    type In = T;
    type Out = ();

    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("Backplane({})", self.name))
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "messages to publish")?;
        s.describe("control", "ProducerFinished / Shutdown end the Backplane")?;
        s.describe("outbox", "unused")?;
        s.describe("signal", "how the Backplane ended")?;
        let requests = s.inbox::<Request<Subscription<T>, ()>>(
            "subscriptions",
            "joins and leaves, answered once done",
        )?;
        let inbox = s.own::<T>("inbox")?;
        let rt = s.runtime();
        rt.register_service(self.name.clone(), inbox)?;
        rt.register_service(subscriptions_service(&self.name), requests)?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<T, ()>) -> Result<(), BoxError> {
        let mut requests = ctx.take_inbox::<Request<Subscription<T>, ()>>("subscriptions")?;
        let mut subscribers: Vec<Subscriber<T>> = Vec::new();
        let ending = loop {
            tokio::select! {
                biased;
                c = ctx.control.recv() => match c {
                    Some(c) if c.is_stop() => break c,
                    Some(c) if c.ends_input() => {
                        while let Ok(msg) = ctx.inbox.try_recv() {
                            publish(&mut subscribers, msg).await;
                        }
                        break c;
                    }
                    Some(_) => {}
                    None => break Control::ProducerFinished,
                },
                r = requests.recv() => match r {
                    Some(request) => {
                        let (subscription, done) = request.into_parts();
                        match subscription {
                            Subscription::Join { subscriber, deliver_to, policy } => {
                                join(&mut ctx, &mut subscribers, subscriber, deliver_to, policy);
                            }
                            Subscription::Leave { subscriber } => {
                                if let Some(i) = subscribers.iter().position(|s| s.id == subscriber) {
                                    let gone = subscribers.remove(i);
                                    let _ = ctx.remove_box(&gone.box_name);
                                }
                            }
                        }
                        // Nobody waiting (a fire-and-forget Leave) is fine.
                        let _ = done.reply(());
                    }
                    None => break Control::ProducerFinished,
                },
                m = ctx.inbox.recv() => match m {
                    Some(msg) => publish(&mut subscribers, msg).await,
                    None => break Control::ProducerFinished,
                },
            }
        };
        for s in &subscribers {
            // A subscriber that has ended meanwhile needs no notice.
            let _ = ctx.runtime().send_control(s.id, ending).await;
        }
        if ending.is_stop() {
            ctx.mark_shut_down();
        }
        Ok(())
    }
}

fn join<T: Clone + Send + 'static>(
    ctx: &mut Context<T, ()>,
    subscribers: &mut Vec<Subscriber<T>>,
    subscriber: ComponentId,
    deliver_to: BoxRef<T>,
    policy: Policy,
) {
    if subscribers.iter().any(|s| s.id == subscriber) {
        return;
    }
    let box_name = format!("subscriber#{subscriber}");
    let (r, out) = match ctx.add_outbox::<T>(box_name.clone(), "messages for one subscriber") {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "subscription refused");
            return;
        }
    };
    if let Err(e) = ctx.runtime().link_with(r, deliver_to, policy) {
        // The subscriber ended before its request was read.
        tracing::debug!(error = %e, "subscriber gone before it joined");
        let _ = ctx.remove_box(&box_name);
        return;
    }
    subscribers.push(Subscriber {
        id: subscriber,
        box_name,
        out,
    });
}

async fn publish<T: Clone + Send + 'static>(subscribers: &mut [Subscriber<T>], msg: T) {
    let Some((last, rest)) = subscribers.split_last_mut() else {
        return;
    };
    for s in rest {
        // A subscriber whose outbox leads nowhere is counted undelivered.
        let _ = s.out.send(msg.clone()).await;
    }
    let _ = last.out.send(msg).await;
}

/// Sends what it receives to the [`Backplane`] of a name. See the [module docs](self).
///
/// Its `setup` fails with [`LinkError::UnknownService`] if no Backplane of that name
/// exists, and with [`LinkError::WrongType`] if it carries another type.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{LinkError, Runtime};
/// use chassis::backplane::{Backplane, PublishTo};
///
/// let rt = Runtime::new();
/// assert!(matches!(rt.add(PublishTo::<u32>::new("scores")), Err(LinkError::UnknownService { .. })));
/// let _board = rt.spawn(Backplane::<u32>::new("scores")).unwrap();
/// let publisher = rt.spawn(PublishTo::<u32>::new("scores")).unwrap();
/// publisher.shutdown().await.unwrap();
/// assert!(publisher.join().await.is_clean());
/// # }
/// ```
pub struct PublishTo<T> {
    name: String,
    _t: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for PublishTo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishTo")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> PublishTo<T> {
    /// A publisher to the Backplane named `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = chassis::backplane::PublishTo::<String>::new("chat");
    /// # let _ = p;
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        PublishTo {
            name: name.into(),
            _t: PhantomData,
        }
    }
}

impl<T: Send + 'static> Component for PublishTo<T> {
    type In = T;
    type Out = ();

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let target = s.runtime().service::<T>(&self.name)?;
        s.make_passthrough("inbox")?;
        s.describe("inbox", "passthrough to the Backplane's inbox")?;
        s.describe("control", "ProducerFinished / Shutdown end it")?;
        s.describe("outbox", "unused")?;
        let inbox = s.own::<T>("inbox")?;
        s.link(inbox, target)
    }

    async fn run(self, mut ctx: Context<T, ()>) -> Result<(), BoxError> {
        // Data goes straight to the Backplane; only the lifecycle passes through here.
        while let Some(c) = ctx.control.recv().await {
            if c.is_stop() || c.ends_input() {
                break;
            }
        }
        Ok(())
    }
}

/// Emits on its `outbox` every message published on the [`Backplane`] of a name after
/// it joined. See the [module docs](self).
///
/// Its `setup` fails with [`LinkError::UnknownService`] if no Backplane of that name
/// exists.
///
/// # Examples
///
/// ```
/// use axon::Policy;
/// use chassis::backplane::SubscribeTo;
///
/// // A view that may skip messages, and a log that must not.
/// let view = SubscribeTo::<String>::new("chat");
/// let log = SubscribeTo::<String>::new("chat").policy(Policy::Block);
/// # let _ = (view, log);
/// ```
pub struct SubscribeTo<T> {
    name: String,
    policy: Policy,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for SubscribeTo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscribeTo")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> SubscribeTo<T> {
    /// A subscriber to the Backplane named `name`, with [`Policy::DropOldest`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = chassis::backplane::SubscribeTo::<u64>::new("ticks");
    /// # let _ = s;
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        SubscribeTo {
            name: name.into(),
            policy: Policy::DropOldest,
            _t: PhantomData,
        }
    }

    /// What happens when the inbox this subscriber feeds is full: with
    /// [`Policy::Block`] the Backplane waits (and so do the other subscribers);
    /// otherwise messages for this subscriber are dropped, and counted.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = chassis::backplane::SubscribeTo::<u64>::new("ticks").policy(axon::Policy::KeepLatest);
    /// # let _ = s;
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
}

impl<T: Send + 'static> Component for SubscribeTo<T> {
    type In = ();
    type Out = T;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let requests = s
            .runtime()
            .service::<Request<Subscription<T>, ()>>(&subscriptions_service(&self.name))?;
        let out =
            s.outbox::<Request<Subscription<T>, ()>>("_backplane", "join and leave requests")?;
        s.link(out, requests)?;
        s.describe("inbox", "unused")?;
        s.describe(
            "control",
            "ProducerFinished / Shutdown make it leave and end",
        )?;
        s.describe("outbox", "every message published since it joined")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<(), T>) -> Result<(), BoxError> {
        let me = ctx.id();
        let mut backplane = ctx.outbox_named::<Request<Subscription<T>, ()>>("_backplane")?;
        let deliver_to = ctx.runtime().box_ref::<T>(me, "outbox")?;
        let join = Subscription::Join {
            subscriber: me,
            deliver_to,
            policy: self.policy,
        };
        let Ok(joined) = backplane.request(join).await else {
            // The Backplane has ended: nothing will ever be published.
            return Ok(());
        };
        // Joined once answered; a Join the Backplane never took fails at once.
        let answer = joined.wait(Duration::MAX);
        tokio::pin!(answer);
        let mut answered = false;
        loop {
            tokio::select! {
                a = &mut answer, if !answered => {
                    if a.is_err() {
                        return Ok(());
                    }
                    answered = true;
                }
                c = ctx.control.recv() => {
                    if c.is_none_or(|c| c.is_stop() || c.ends_input()) {
                        break;
                    }
                }
            }
        }
        let (leave, _) = Request::new(Subscription::Leave { subscriber: me });
        let _ = backplane.send(leave).await;
        Ok(())
    }
}
