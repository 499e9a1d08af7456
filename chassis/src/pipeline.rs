//! # Pipeline: components in a chain
//!
//! A [`Pipeline`] runs its stages as children and wires them one after another: each
//! stage's `outbox` to the next stage's `inbox`, and each stage's `signal` to the next
//! stage's `control`, so data and lifecycle travel down the chain together. The
//! Pipeline's own `inbox` and `control` lead to the first stage, and the last stage's
//! `outbox` and `signal` leave through the Pipeline's `outbox` and `signal`. The chain
//! is typed: [`Pipeline::then`] only accepts a stage whose input is the previous
//! stage's output, so a mis-wired pipeline does not compile.
//!
//! ## Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axon::{Context, Control, component::from_fn, testing::Harness};
//! use chassis::pipeline;
//!
//! let parse = from_fn("parse", |mut ctx: Context<String, u32>| async move {
//!     while let Some(line) = ctx.recv().await {
//!         ctx.send(line.trim().parse()?).await?;
//!     }
//!     Ok(())
//! });
//! let double = from_fn("double", |mut ctx: Context<u32, u32>| async move {
//!     while let Some(n) = ctx.recv().await {
//!         ctx.send(n * 2).await?;
//!     }
//!     Ok(())
//! });
//! let mut h = Harness::new(pipeline![parse, double]);
//! h.send("21".to_string()).await;
//! h.finish().await;
//! assert_eq!(h.recv().await, Some(42));
//! assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
//! assert!(h.exit().await.is_clean());
//! # }
//! ```
//!
//! ## How it works
//!
//! In `setup` the Pipeline adds its stages as children, turns its `inbox` and `control`
//! into passthroughs linked to the first stage's, links the stages to each other, and
//! links the last stage's `outbox` and `signal` to its own (outbox -> outbox links). A
//! message sent to the Pipeline is therefore enqueued once, straight into the first
//! stage's inbox, however deeply Pipelines are nested; the Pipeline's body never
//! touches data. It waits for its children to end and ends after the last of them.
//!
//! Lifecycle needs no help from the body: `ProducerFinished` or `Shutdown` sent to the
//! Pipeline reaches the first stage, each stage passes it on through its `signal` when
//! it ends, and the last stage's leaves through the Pipeline's `signal`. Because a
//! child speaks on the Pipeline's `signal`, the Pipeline sends nothing there itself.
//! Its exit is [`Exit::ShutDown`] if a stage was shut down, [`Exit::Finished`] otherwise.
//!
//! ## Failures
//!
//! When a stage fails, panics or is aborted, the runtime sends `Shutdown` on that
//! stage's `signal` (so the stages after it stop) and the Pipeline asks every other
//! live stage to shut down through its `control` (so the stages before it stop too).
//! Once all stages have ended, the Pipeline ends [`Exit::Failed`] with a
//! [`ChildFailed`] naming the stage. Later failures caused by the first one (a stage
//! whose next stage vanished fails to send) are not reported; on a multi-threaded
//! runtime such a follow-on failure can be reported before the one that caused it.
//! Sibling components and the runtime are not affected.
//!
//! ## Boxes
//!
//! | box | direction | type | what |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `I` | passthrough to the first stage's `inbox` |
//! | `control` | in | [`Control`] | passthrough to the first stage's `control` |
//! | `outbox` | out | `O` | the last stage's `outbox` |
//! | `signal` | out | [`Control`] | the last stage's `signal` |

use std::borrow::Cow;
use std::marker::PhantomData;

use axon::{
    BoxError, ChildExit, Component, ComponentId, Context, Control, DynComponent, Exit, LinkError,
    Policy, Setup,
};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

/// A chain of components: stage *k*'s `outbox` feeds stage *k+1*'s `inbox`, and its
/// `signal` feeds stage *k+1*'s `control`. See the [module docs](self).
///
/// `I` is the first stage's input, `O` the last stage's output.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, Runtime, component::from_fn};
/// use chassis::pipeline::Pipeline;
///
/// let count = from_fn("count", |mut ctx: Context<(), u32>| async move {
///     for n in 1..=3 { ctx.send(n).await?; }
///     Ok(())
/// });
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let sum = from_fn("sum", move |mut ctx: Context<u32, ()>| async move {
///     let mut total = 0;
///     while let Some(n) = ctx.recv().await { total += n; }
///     let _ = tx.send(total);
///     Ok(())
/// });
/// let p: Pipeline<(), ()> = Pipeline::new(count).then(sum);
/// let h = Runtime::new().spawn(p).unwrap();
/// assert_eq!(rx.await.unwrap(), 6);
/// assert!(h.join().await.is_clean());
/// # }
/// ```
pub struct Pipeline<I, O> {
    name: Cow<'static, str>,
    stages: Vec<Box<dyn DynComponent>>,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O> std::fmt::Debug for Pipeline<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.name)
            .field("stages", &self.stages.len())
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Pipeline<I, O> {
    /// A Pipeline of one stage; add more with [`then`](Pipeline::then).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let p = chassis::pipeline::Pipeline::new(from_fn("echo", |_c: Context<u8, u8>| async { Ok(()) }));
    /// # let _ = p;
    /// ```
    pub fn new<C: Component<In = I, Out = O>>(first: C) -> Self {
        Pipeline {
            name: Cow::Borrowed("Pipeline"),
            stages: vec![Box::new(first)],
            _t: PhantomData,
        }
    }

    /// Append a stage whose input is this Pipeline's output.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// use chassis::pipeline::Pipeline;
    /// let p: Pipeline<String, usize> = Pipeline::new(from_fn("a", |_c: Context<String, String>| async { Ok(()) }))
    ///     .then(from_fn("len", |_c: Context<String, usize>| async { Ok(()) }));
    /// # let _ = p;
    /// ```
    pub fn then<C: Component<In = O>>(mut self, next: C) -> Pipeline<I, C::Out> {
        self.stages.push(Box::new(next));
        Pipeline {
            name: self.name,
            stages: self.stages,
            _t: PhantomData,
        }
    }

    /// The name shown in introspection and errors (`Pipeline` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Component, Context, component::from_fn};
    /// let p = chassis::pipeline::Pipeline::new(from_fn("a", |_c: Context<u8, u8>| async { Ok(()) }))
    ///     .named("decoder");
    /// assert_eq!(p.name(), "decoder");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }
}

/// Build a [`Pipeline`] from a list of stages: `pipeline![a, b, c]` is
/// `Pipeline::new(a).then(b).then(c)`.
///
/// # Examples
///
/// ```
/// use axon::{Context, component::from_fn};
/// use chassis::pipeline::Pipeline;
///
/// let p: Pipeline<u8, String> = chassis::pipeline![
///     from_fn("a", |_c: Context<u8, u16>| async { Ok(()) }),
///     from_fn("b", |_c: Context<u16, String>| async { Ok(()) }),
/// ];
/// # let _ = p;
/// ```
#[macro_export]
macro_rules! pipeline {
    ($first:expr $(, $rest:expr)* $(,)?) => {
        $crate::pipeline::Pipeline::new($first)$(.then($rest))*
    };
}

impl<I: Send + 'static, O: Send + 'static> Component for Pipeline<I, O> {
    type In = I;
    type Out = O;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let rt = s.runtime().clone();
        let me = s.id();
        let mut ids = Vec::with_capacity(self.stages.len());
        for stage in self.stages.drain(..) {
            ids.push(s.add_child_dyn(stage)?);
        }
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            return Ok(());
        };
        s.make_passthrough("inbox")?;
        s.make_passthrough("control")?;
        s.describe("inbox", "passthrough to the first stage's inbox")?;
        s.describe("control", "passthrough to the first stage's control")?;
        s.describe("outbox", "the last stage's outbox")?;
        s.describe("signal", "the last stage's signal")?;
        let link = |s: &mut Setup<'_>, from: (ComponentId, &str), to: (ComponentId, &str)| {
            s.link_ids(
                rt.box_id(from.0, from.1)?,
                rt.box_id(to.0, to.1)?,
                Policy::Block,
            )
        };
        link(s, (me, "inbox"), (first, "inbox"))?;
        link(s, (me, "control"), (first, "control"))?;
        for pair in ids.windows(2) {
            link(s, (pair[0], "outbox"), (pair[1], "inbox"))?;
            link(s, (pair[0], "signal"), (pair[1], "control"))?;
        }
        link(s, (last, "outbox"), (me, "outbox"))?;
        link(s, (last, "signal"), (me, "signal"))
    }

    async fn run(self, mut ctx: Context<I, O>) -> Result<(), BoxError> {
        let mut sup = ChildWatch::new();
        loop {
            tokio::select! {
                exit = ctx.next_child_exit() => match exit {
                    Some(exit) => sup.child_ended(&ctx, exit),
                    None => break,
                },
                () = sup.progress() => {}
            }
        }
        let shut_down = sup.any_shut_down();
        sup.finish(&mut ctx, shut_down)
    }
}

/// A composite's exit when one of its children failed, panicked or was aborted:
/// names the child and says how it ended. Pipeline, Graphline, Carousel and Seq all
/// end with it (as [`Exit::Failed`]) after such a child.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, Exit, Runtime, component::from_fn};
/// use chassis::pipeline::{ChildFailed, Pipeline};
///
/// let broken = from_fn("broken", |_c: Context<(), ()>| async { Err("no config".into()) });
/// let exit = Runtime::new().spawn(Pipeline::new(broken)).unwrap().join().await;
/// let Exit::Failed(e) = exit else { panic!("{exit}") };
/// let failed = e.downcast_ref::<ChildFailed>().unwrap();
/// assert_eq!(failed.name, "broken");
/// assert_eq!(e.to_string(), format!("child broken#{} failed: no config", failed.id));
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("child {name}#{id} {exit}")]
pub struct ChildFailed {
    /// The child's name.
    pub name: String,
    /// The child's id.
    pub id: ComponentId,
    /// How it ended.
    pub exit: Exit,
}

impl From<ChildExit> for ChildFailed {
    fn from(c: ChildExit) -> Self {
        ChildFailed {
            name: c.name,
            id: c.id,
            exit: c.exit,
        }
    }
}

/// Watches a composite's children. The first child that ends unclean is remembered,
/// and every other live child is asked to shut down (the requests are sent while the
/// composite keeps watching, so a child with a full `control` cannot stall it).
pub(crate) struct ChildWatch {
    failure: Option<ChildFailed>,
    shut_down: bool,
    requests: FuturesUnordered<BoxFuture<'static, ()>>,
}

impl ChildWatch {
    pub(crate) fn new() -> Self {
        ChildWatch {
            failure: None,
            shut_down: false,
            requests: FuturesUnordered::new(),
        }
    }

    /// Record a child's exit; on the first unclean one, ask the others to shut down.
    pub(crate) fn child_ended<I: Send + 'static, O: Send + 'static>(
        &mut self,
        ctx: &Context<I, O>,
        exit: ChildExit,
    ) {
        match exit.exit {
            Exit::Finished => {}
            Exit::ShutDown => self.shut_down = true,
            _ => {
                if self.failure.is_some() {
                    tracing::debug!(child = %exit.name, exit = %exit.exit, "another child ended unclean");
                    return;
                }
                tracing::warn!(
                    composite = ctx.id().get(),
                    child = %exit.name,
                    exit = %exit.exit,
                    "child ended unclean; shutting down its siblings"
                );
                self.shut_down_others(ctx, Some(exit.id));
                self.failure = Some(exit.into());
            }
        }
    }

    /// Ask every live child except `except` to shut down.
    pub(crate) fn shut_down_others<I: Send + 'static, O: Send + 'static>(
        &mut self,
        ctx: &Context<I, O>,
        except: Option<ComponentId>,
    ) {
        for id in ctx.children() {
            if Some(id) == except {
                continue;
            }
            let rt = ctx.runtime().clone();
            self.requests.push(Box::pin(async move {
                // A child that has ended meanwhile needs no request.
                let _ = rt.send_control(id, Control::Shutdown).await;
            }));
        }
    }

    /// Wait for one pending shutdown request to be delivered; never completes when none
    /// is pending. For `select!` next to [`Context::next_child_exit`].
    pub(crate) async fn progress(&mut self) {
        if self.requests.next().await.is_none() {
            std::future::pending::<()>().await;
        }
    }

    /// True if a child ended shut down.
    pub(crate) fn any_shut_down(&self) -> bool {
        self.shut_down
    }

    /// The composite's result: the first failure, or `Ok` (marked shut down if asked).
    pub(crate) fn finish<I: Send + 'static, O: Send + 'static>(
        self,
        ctx: &mut Context<I, O>,
        shut_down: bool,
    ) -> Result<(), BoxError> {
        if let Some(failure) = self.failure {
            return Err(Box::new(failure));
        }
        if shut_down {
            ctx.mark_shut_down();
        }
        Ok(())
    }
}
