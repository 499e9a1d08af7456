//! [`Fanout`]: explicit fan-out, one inbox copied to several named outboxes.
//!
//! Axon links join one source to one destination, so a message never reaches two
//! places by accident; when it should, put a `Fanout` in between and name its branches.

use std::borrow::Cow;

use axon::{BoxError, Component, Context, Control, LinkError, Outbox, Setup};

/// Copies every message to each of its named outboxes: Kamaelia's `Splitter`, with
/// the branches declared up front.
///
/// # What it does
///
/// `Fanout::new(["log", "store"])` declares two outboxes, `log` and `store`; each
/// message that arrives on `inbox` is cloned and sent to `log`, then to `store`, in
/// the order the names were given. The name `outbox` is allowed and means the default
/// `outbox`, so a fan-out can sit in a chain and still copy to a side branch.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use components::fanout::Fanout;
///
/// let mut h = Harness::new(Fanout::<String>::new(["outbox", "audit"]));
/// let mut audit = h.outbox_receiver::<String>("audit").unwrap();
/// h.send("hello".to_string()).await;
/// assert_eq!(h.recv().await.as_deref(), Some("hello"));
/// assert_eq!(audit.recv().await.as_deref(), Some("hello"));
/// # }
/// ```
///
/// # How it works
///
/// The branches are sent to one after the other, each send awaited, so every branch
/// sees the messages in the order they arrived. What a branch does with a message it
/// cannot take right away is decided by the link leaving it, not by the fan-out:
///
/// - **Full destination.** Under the default [`Policy::Block`](axon::Policy::Block) the
///   fan-out waits for space, which holds back every branch: the branches move in
///   lockstep at the pace of the slowest. Link a branch that may lag (a display, a
///   log) with a lossy policy such as [`Policy::KeepLatest`](axon::Policy::KeepLatest)
///   or [`Policy::DropNewest`](axon::Policy::DropNewest) to decouple it; its drops
///   are counted in introspection.
/// - **No destination.** A branch that is not linked, or whose destination has ended,
///   does not receive that copy; the send is counted as *undelivered* on the branch's
///   outbox in introspection, logged once per branch at `debug`, and the other
///   branches are served as usual. Links may be made while the fan-out runs, so a
///   branch linked later receives the messages that arrive after its link.
///
/// It ends as its `control` says: after copying what is queued on `ProducerFinished`
/// or `SocketShutdown`, at once on `Shutdown`. A component's `signal` has one
/// destination, so the lifecycle is fanned out too: as it ends, the fan-out sends
/// `ProducerFinished` (or `Shutdown`, if it was shut down) straight to the `control` of
/// the component each named branch is linked to, as a Backplane does for its
/// subscribers, so that every branch finishes. The default `outbox`'s destination
/// hears through `signal`, linked as usual.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `T` | messages to copy |
/// | `control` | in | [`Control`] | lifecycle: finish or stop |
/// | *each name given* | out | `T` | a copy of every message |
/// | `outbox` | out | `T` | a copy of every message if `"outbox"` is one of the names, else unused |
/// | `signal` | out | [`Control`] | passes the lifecycle on when the fan-out ends (named branches get it on their `control` directly) |
pub struct Fanout<T> {
    branches: Vec<&'static str>,
    name: Cow<'static, str>,
    _t: std::marker::PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Fanout<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("name", &self.name)
            .field("branches", &self.branches)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + 'static> Fanout<T> {
    /// A fan-out to the outboxes named in `branches`, in that order.
    ///
    /// A name that clashes with another box (other than `outbox`) is refused when the
    /// component is added to a runtime, with [`LinkError::DuplicateBox`].
    ///
    /// # Examples
    ///
    /// ```
    /// let tee = components::fanout::Fanout::<u32>::new(["outbox", "stats"]);
    /// ```
    pub fn new(branches: impl IntoIterator<Item = &'static str>) -> Self {
        Fanout {
            branches: branches.into_iter().collect(),
            name: Cow::Borrowed("Fanout"),
            _t: std::marker::PhantomData,
        }
    }

    /// Set the name shown in introspection and errors (`Fanout` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// let tee = components::fanout::Fanout::<u32>::new(["a", "b"]).named("tee");
    /// assert_eq!(tee.name(), "tee");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }
}

impl<T: Clone + Send + 'static> Component for Fanout<T> {
    type In = T;
    type Out = T;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "messages to copy to every branch")?;
        for (i, branch) in self.branches.iter().enumerate() {
            // A name given twice would be a second destination for one message.
            if self.branches[..i].contains(branch) {
                return Err(LinkError::DuplicateBox {
                    component: format!("{}#{}", self.name, setup.id()),
                    name: branch.to_string(),
                });
            }
            if *branch == "outbox" {
                setup.describe("outbox", "a copy of every message")?;
            } else {
                setup.outbox::<T>(branch, "a copy of every message")?;
            }
        }
        if !self.branches.contains(&"outbox") {
            setup.describe("outbox", "unused: this fan-out sends on its named branches")?;
        }
        Ok(())
    }

    async fn run(self, mut ctx: Context<T, T>) -> Result<(), BoxError> {
        let mut outboxes: Vec<Branch<T>> = Vec::with_capacity(self.branches.len());
        for name in &self.branches {
            let outbox = if *name == "outbox" {
                None
            } else {
                Some(ctx.outbox_named::<T>(name)?)
            };
            outboxes.push(Branch {
                name,
                outbox,
                warned: false,
            });
        }
        while let Some(msg) = ctx.recv().await {
            let last = outboxes.len().saturating_sub(1);
            let mut msg = Some(msg);
            for (i, branch) in outboxes.iter_mut().enumerate() {
                // The last branch gets the original: one clone fewer per message.
                let copy = if i == last { msg.take() } else { msg.clone() };
                let Some(copy) = copy else { break };
                let outbox = match branch.outbox.as_mut() {
                    Some(o) => o,
                    None => &mut ctx.outbox,
                };
                if outbox.send(copy).await.is_err() && !branch.warned {
                    branch.warned = true;
                    tracing::debug!(
                        fanout = %self.name,
                        branch = branch.name,
                        "branch has no destination; its copies are counted as undelivered"
                    );
                }
            }
        }
        let ending = if ctx.ended_by() == Some(Control::Shutdown) {
            Control::Shutdown
        } else {
            Control::ProducerFinished
        };
        let links = ctx.runtime().snapshot().links;
        let me = ctx.id();
        for branch in outboxes.iter().filter(|b| b.outbox.is_some()) {
            let destination = links
                .iter()
                .find(|l| l.from_component == me && l.from_box == branch.name);
            if let Some(link) = destination {
                // A destination without a `control` (plain code's boxes) is simply skipped.
                let _ = ctx.runtime().send_control(link.to_component, ending).await;
            }
        }
        Ok(())
    }
}

/// One branch of a running fan-out; `outbox: None` is the default `outbox`.
struct Branch<T> {
    name: &'static str,
    outbox: Option<Outbox<T>>,
    warned: bool,
}
