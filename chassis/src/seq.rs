//! # Seq: components one after another
//!
//! A [`Seq`] runs a list of components in turn: the first runs until it ends, then the
//! second, and so on; the Seq ends after the last. The Seq's `inbox` feeds whichever
//! child is running and the running child's `outbox` leaves through the Seq's `outbox`,
//! so a protocol made of phases (greet, talk, say goodbye) can be written as one
//! component per phase (Kamaelia's Seq).
//!
//! ## Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axon::{Context, Control, component::from_fn, testing::Harness};
//! use chassis::seq::Seq;
//!
//! let say = |line: &'static str| {
//!     from_fn("say", move |mut ctx: Context<String, String>| async move {
//!         ctx.send(line.to_string()).await?;
//!         Ok(())
//!     })
//! };
//! let mut h = Harness::new(Seq::new(say("hello")).then(say("goodbye")));
//! assert_eq!(h.recv().await.as_deref(), Some("hello"));
//! assert_eq!(h.recv().await.as_deref(), Some("goodbye"));
//! assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
//! assert!(h.exit().await.is_clean());
//! # }
//! ```
//!
//! ## How it works
//!
//! Each child is added (and its `setup` run) only when its turn comes. The Seq reads its
//! `inbox` and forwards each message to the running child through a private outbox that
//! is relinked to each child in turn; the running child's `outbox` is linked straight to
//! the Seq's `outbox`. Data that arrives between two children waits in the Seq's inbox;
//! a message the Seq was forwarding when its child ended goes to the next child.
//! Messages already queued in a child's inbox when that child ends are discarded with
//! it, so a child should read until its input ends if it must see everything.
//!
//! `ProducerFinished` on `control` means no more input: the running child is handed
//! what is queued and then `ProducerFinished`; every later child still runs (a closing
//! phase may have something to say) but is told `ProducerFinished` as it starts.
//! `Shutdown` is passed to the running child at once and no later child starts. The
//! Seq's `signal` carries `ProducerFinished` (or `Shutdown`) when the Seq ends; the
//! children's own `signal`s are not linked anywhere.
//!
//! A child that fails, panics or is aborted ends the Seq at once, failed with a
//! [`ChildFailed`] naming it; later children do not start.
//!
//! ## Boxes
//!
//! | box | direction | type | what |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `I` | data for the running child |
//! | `control` | in | [`Control`] | `ProducerFinished` / `Shutdown` for the Seq and its running child |
//! | `outbox` | out | `O` | the running child's output |
//! | `signal` | out | [`Control`] | how the Seq ended |

use std::marker::PhantomData;

use axon::{BoxError, Component, Context, Control, DynComponent, LinkError, Setup};

use crate::carousel::Slot;
use crate::pipeline::ChildFailed;

/// Components run one after another, all with input `I` and output `O`. See the
/// [module docs](self).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, Runtime, component::from_fn};
/// use chassis::seq::Seq;
///
/// let (tx, rx) = std::sync::mpsc::channel();
/// let step = |n: u32| {
///     let tx = tx.clone();
///     from_fn("step", move |_ctx: Context<(), ()>| async move {
///         tx.send(n)?;
///         Ok(())
///     })
/// };
/// let h = Runtime::new().spawn(Seq::new(step(1)).then(step(2)).then(step(3))).unwrap();
/// assert!(h.join().await.is_clean());
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
/// # }
/// ```
pub struct Seq<I, O> {
    children: Vec<Box<dyn DynComponent>>,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O> std::fmt::Debug for Seq<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seq")
            .field("children", &self.children.len())
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Seq<I, O> {
    /// A Seq of one child; add more with [`then`](Seq::then).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let s = chassis::seq::Seq::new(from_fn("only", |_c: Context<u8, u8>| async { Ok(()) }));
    /// # let _ = s;
    /// ```
    pub fn new<C: Component<In = I, Out = O>>(first: C) -> Self {
        Seq {
            children: vec![Box::new(first)],
            _t: PhantomData,
        }
    }

    /// Append a child to run after the others.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let s = chassis::seq::Seq::new(from_fn("a", |_c: Context<u8, u8>| async { Ok(()) }))
    ///     .then(from_fn("b", |_c: Context<u8, u8>| async { Ok(()) }));
    /// # let _ = s;
    /// ```
    pub fn then<C: Component<In = I, Out = O>>(mut self, next: C) -> Self {
        self.children.push(Box::new(next));
        self
    }
}

impl<I: Send + 'static, O: Send + 'static> Component for Seq<I, O> {
    type In = I;
    type Out = O;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        Slot::<I>::declare(s)?;
        s.describe("inbox", "data for the running child")?;
        s.describe("outbox", "the running child's output")?;
        s.describe(
            "control",
            "ProducerFinished / Shutdown for the Seq and its running child",
        )?;
        s.describe("signal", "how the Seq ended")?;
        Ok(())
    }

    async fn run(mut self, mut ctx: Context<I, O>) -> Result<(), BoxError> {
        let mut slot = Slot::take(&mut ctx)?;
        let mut queue = std::mem::take(&mut self.children).into_iter();
        loop {
            if slot.current.is_none() {
                if slot.ending == Some(Control::Shutdown) {
                    break;
                }
                match queue.next() {
                    Some(child) => slot.install(&mut ctx, child).await?,
                    None => break,
                }
            }
            tokio::select! {
                biased;
                c = slot.control.recv(), if slot.ending.is_none() => slot.on_control(c).await,
                exit = ctx.next_child_exit() => match exit {
                    Some(exit) => {
                        slot.child_ended(exit.id);
                        if !exit.exit.is_clean() {
                            return Err(Box::new(ChildFailed::from(exit)));
                        }
                    }
                    None => slot.current = None,
                },
                m = slot.input.recv(), if slot.ending.is_none() && slot.held.is_none() => match m {
                    Some(m) => slot.forward(m).await,
                    None => slot.ending = Some(Control::ProducerFinished),
                },
            }
        }
        if slot.ending == Some(Control::Shutdown) {
            ctx.mark_shut_down();
        }
        Ok(())
    }
}
