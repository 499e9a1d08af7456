//! Components whose body runs on a blocking thread (Kamaelia's ThreadedComponent), for
//! CPU-heavy or blocking-I/O stages. The hand-off to and from the async graph is the
//! component's own bounded boxes, so backpressure works as everywhere else.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;

use std::sync::Arc;

use crate::boxes::InboxNode;
use crate::component::{Component, Context};
use crate::control::Control;
use crate::error::SendError;
use crate::exit::BoxError;

/// The context of a threaded body: the same boxes, with blocking methods.
///
/// # Examples
///
/// ```
/// fn body(mut ctx: axon::threaded::BlockingContext<u64, u64>) -> Result<(), axon::BoxError> {
///     while let Some(n) = ctx.recv() {
///         ctx.send(n.pow(2))?;
///     }
///     Ok(())
/// }
/// ```
pub struct BlockingContext<I, O> {
    /// The async context; its boxes also offer `recv_blocking`/`send_blocking`.
    pub ctx: Context<I, O>,
}

impl<I, O> std::fmt::Debug for BlockingContext<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingContext")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> BlockingContext<I, O> {
    /// Block until the next data message; `None` when the component should end (as
    /// [`Context::recv`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use axon::{testing::Harness, threaded::{BlockingContext, threaded}};
    /// let total = threaded("total", |mut ctx: BlockingContext<u32, u32>| {
    ///     let mut sum = 0;
    ///     while let Some(n) = ctx.recv() { sum += n; }
    ///     ctx.send(sum)?;
    ///     Ok(())
    /// });
    /// let mut h = Harness::new(total);
    /// h.send(2).await;
    /// h.send(3).await;
    /// h.finish().await;
    /// assert_eq!(h.recv().await, Some(5));
    /// # }
    /// ```
    pub fn recv(&mut self) -> Option<I> {
        futures::executor::block_on(self.ctx.recv())
    }

    /// Block until `msg` is sent on `outbox`.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message if `outbox` has no destination.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use axon::{testing::Harness, threaded::{BlockingContext, threaded}};
    /// let hello = threaded("hello", |mut ctx: BlockingContext<(), &'static str>| {
    ///     ctx.send("hello")?;
    ///     Ok(())
    /// });
    /// let mut h = Harness::new(hello);
    /// assert_eq!(h.recv().await, Some("hello"));
    /// # }
    /// ```
    pub fn send(&mut self, msg: O) -> Result<(), SendError<O>> {
        futures::executor::block_on(self.ctx.outbox.send(msg))
    }
}

/// A component whose body is a blocking closure, run on tokio's blocking pool.
/// A panic in the closure ends the component with [`Exit::Panicked`](crate::Exit::Panicked).
///
/// Killing it stops waiting for the thread, but the thread itself runs until its next
/// `recv` or `send` finds the boxes closed.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// use axon::{threaded::threaded, testing::Harness};
///
/// let square = threaded("square", |mut ctx: axon::threaded::BlockingContext<u64, u64>| {
///     while let Some(n) = ctx.recv() {
///         ctx.send(n * n)?;
///     }
///     Ok(())
/// });
/// let mut h = Harness::new(square);
/// h.send(12).await;
/// assert_eq!(h.recv().await, Some(144));
/// # }
/// ```
pub fn threaded<I, O, F>(name: impl Into<Cow<'static, str>>, body: F) -> Threaded<I, O, F>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(BlockingContext<I, O>) -> Result<(), BoxError> + Send + 'static,
{
    Threaded {
        name: name.into(),
        body,
        _t: PhantomData,
    }
}

/// A threaded transform: applies `f` to every message on a blocking thread.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// let mut h = axon::testing::Harness::new(axon::threaded::map_blocking("len", |s: String| s.len()));
/// h.send("four".to_string()).await;
/// assert_eq!(h.recv().await, Some(4));
/// # }
/// ```
pub fn map_blocking<I, O, F>(
    name: impl Into<Cow<'static, str>>,
    mut f: F,
) -> Threaded<I, O, BlockingBody<I, O>>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnMut(I) -> O + Send + 'static,
{
    let body: BlockingBody<I, O> = Box::new(move |mut ctx: BlockingContext<I, O>| {
        while let Some(x) = ctx.recv() {
            if ctx.send(f(x)).is_err() {
                break;
            }
        }
        Ok(())
    });
    threaded(name, body)
}

/// A boxed blocking body, as [`map_blocking`] builds.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// use axon::{testing::Harness, threaded::{BlockingBody, BlockingContext, threaded}};
/// let body: BlockingBody<u8, u8> = Box::new(|mut ctx: BlockingContext<u8, u8>| {
///     while let Some(b) = ctx.recv() { ctx.send(b.wrapping_add(1))?; }
///     Ok(())
/// });
/// let mut h = Harness::new(threaded("inc", body));
/// h.send(1).await;
/// assert_eq!(h.recv().await, Some(2));
/// # }
/// ```
pub type BlockingBody<I, O> =
    Box<dyn FnOnce(BlockingContext<I, O>) -> Result<(), BoxError> + Send + 'static>;

/// The component [`threaded`] makes.
///
/// # Examples
///
/// ```
/// use axon::{Component, threaded::{BlockingContext, Threaded, threaded}};
///
/// let t: Threaded<u8, u8, _> = threaded("noop", |_ctx: BlockingContext<u8, u8>| Ok(()));
/// assert_eq!(t.name(), "noop");
/// ```
pub struct Threaded<I, O, F> {
    name: Cow<'static, str>,
    body: F,
    _t: PhantomData<fn() -> (I, O)>,
}

impl<I, O, F> std::fmt::Debug for Threaded<I, O, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Threaded")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<I, O, F> Component for Threaded<I, O, F>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(BlockingContext<I, O>) -> Result<(), BoxError> + Send + 'static,
{
    type In = I;
    type Out = O;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn run(self, ctx: Context<I, O>) -> impl Future<Output = Result<(), BoxError>> + Send {
        let body = self.body;
        // If this task is dropped (killed, or the tokio runtime shuts down), closing the
        // inboxes wakes the thread from `recv` so it can end instead of blocking forever.
        let guard = CloseOnDrop {
            inbox: ctx.inbox.node.clone(),
            control: ctx.control.node.clone(),
        };
        async move {
            let _guard = guard;
            match tokio::task::spawn_blocking(move || body(BlockingContext { ctx })).await {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => Err(Box::new(e) as BoxError),
            }
        }
    }
}

struct CloseOnDrop<I> {
    inbox: Arc<InboxNode<I>>,
    control: Arc<InboxNode<Control>>,
}

impl<I> Drop for CloseOnDrop<I> {
    fn drop(&mut self) {
        self.inbox.shut();
        self.control.shut();
    }
}
