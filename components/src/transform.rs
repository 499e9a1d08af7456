//! Stateless message transforms: [`Transform`] maps a function over every message,
//! [`FilterMap`] maps and drops, [`Filter`] keeps the messages a predicate accepts.
//!
//! All three are typed (`In = A`, `Out = B`), so a chain of them type-checks when it is
//! linked, and all three behave the same way:
//!
//! | box | direction | type | for |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `A` | messages to transform |
//! | `control` | in | [`Control`](axon::Control) | `ProducerFinished` / `SocketShutdown`: transform what is queued, then end; `Shutdown`: end now |
//! | `outbox` | out | `B` | the transformed messages, in order |
//! | `signal` | out | [`Control`](axon::Control) | passes the lifecycle on when the transform ends |
//!
//! The function runs inside the component's task, so it should be quick; put slow or
//! blocking work in [`axon::threaded::map_blocking`].
//!
//! If the `outbox` has no destination (it was never linked, or its destination ended),
//! the component ends with [`Error::NoDestination`]: its upstream then finds its own
//! outbox without a destination, so a broken chain closes instead of consuming input
//! that nobody receives.

use std::borrow::Cow;
use std::marker::PhantomData;

use axon::{BoxError, Component, Context};
use thiserror::Error;

/// Why a transform ended with a failure.
///
/// # Examples
///
/// ```
/// let e = components::transform::Error::NoDestination;
/// assert!(e.to_string().contains("no destination"));
/// ```
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A result could not be sent: the `outbox` has no destination.
    #[error("the outbox has no destination; a transformed message could not be delivered")]
    NoDestination,
}

/// Receive every message, pass it through `f`, send what it returns (if anything).
async fn drive<A, B>(
    ctx: &mut Context<A, B>,
    mut f: impl FnMut(A) -> Option<B> + Send,
) -> Result<(), BoxError>
where
    A: Send + 'static,
    B: Send + 'static,
{
    while let Some(msg) = ctx.recv().await {
        if let Some(out) = f(msg)
            && ctx.send(out).await.is_err()
        {
            return Err(Error::NoDestination.into());
        }
    }
    Ok(())
}

/// Maps a function over every message: Kamaelia's `PureTransformer`.
///
/// Each message `a` on `inbox` becomes `f(a)` on `outbox`, in order. The component ends
/// as described in the [module documentation](self).
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `A` | messages to transform |
/// | `control` | in | [`Control`](axon::Control) | finish the queue, or stop |
/// | `outbox` | out | `B` | `f(a)` for each message `a` |
/// | `signal` | out | [`Control`](axon::Control) | passes the lifecycle on |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use components::transform::Transform;
///
/// let mut h = Harness::new(Transform::new(|line: String| line.len()).named("length"));
/// h.send("four".to_string()).await;
/// assert_eq!(h.recv().await, Some(4));
/// # }
/// ```
pub struct Transform<A, B, F> {
    f: F,
    name: Cow<'static, str>,
    _t: PhantomData<fn(A) -> B>,
}

impl<A, B, F> std::fmt::Debug for Transform<A, B, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<A, B, F> Transform<A, B, F>
where
    A: Send + 'static,
    B: Send + 'static,
    F: FnMut(A) -> B + Send + 'static,
{
    /// A transform applying `f` to every message.
    ///
    /// # Examples
    ///
    /// ```
    /// let double = components::transform::Transform::new(|n: u32| n * 2);
    /// ```
    pub fn new(f: F) -> Self {
        Transform {
            f,
            name: Cow::Borrowed("Transform"),
            _t: PhantomData,
        }
    }

    /// Set the name shown in introspection and errors (`Transform` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// let upper = components::transform::Transform::new(|s: String| s.to_uppercase()).named("upper");
    /// assert_eq!(upper.name(), "upper");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }
}

impl<A, B, F> Component for Transform<A, B, F>
where
    A: Send + 'static,
    B: Send + 'static,
    F: FnMut(A) -> B + Send + 'static,
{
    type In = A;
    type Out = B;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    async fn run(self, mut ctx: Context<A, B>) -> Result<(), BoxError> {
        let mut f = self.f;
        drive(&mut ctx, move |a| Some(f(a))).await
    }
}

/// Maps a function over every message and forwards only the `Some` results.
///
/// Each message `a` on `inbox` becomes `b` on `outbox` when `f(a)` is `Some(b)`, and
/// nothing when it is `None`. It ends as described in the [module documentation](self).
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `A` | messages to transform |
/// | `control` | in | [`Control`](axon::Control) | finish the queue, or stop |
/// | `outbox` | out | `B` | `b` for each message `a` with `f(a) == Some(b)` |
/// | `signal` | out | [`Control`](axon::Control) | passes the lifecycle on |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use components::transform::FilterMap;
///
/// let mut h = Harness::new(FilterMap::new(|s: String| s.trim().parse::<i64>().ok()));
/// h.send("12".to_string()).await;
/// h.send("twelve".to_string()).await;
/// h.send(" 7 ".to_string()).await;
/// assert_eq!(h.recv().await, Some(12));
/// assert_eq!(h.recv().await, Some(7));
/// # }
/// ```
pub struct FilterMap<A, B, F> {
    f: F,
    name: Cow<'static, str>,
    _t: PhantomData<fn(A) -> B>,
}

impl<A, B, F> std::fmt::Debug for FilterMap<A, B, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterMap")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<A, B, F> FilterMap<A, B, F>
where
    A: Send + 'static,
    B: Send + 'static,
    F: FnMut(A) -> Option<B> + Send + 'static,
{
    /// A filter-map applying `f` to every message.
    ///
    /// # Examples
    ///
    /// ```
    /// let numbers = components::transform::FilterMap::new(|s: String| s.parse::<u32>().ok());
    /// ```
    pub fn new(f: F) -> Self {
        FilterMap {
            f,
            name: Cow::Borrowed("FilterMap"),
            _t: PhantomData,
        }
    }

    /// Set the name shown in introspection and errors (`FilterMap` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// let f = components::transform::FilterMap::new(|n: u8| n.checked_sub(1)).named("decrement");
    /// assert_eq!(f.name(), "decrement");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }
}

impl<A, B, F> Component for FilterMap<A, B, F>
where
    A: Send + 'static,
    B: Send + 'static,
    F: FnMut(A) -> Option<B> + Send + 'static,
{
    type In = A;
    type Out = B;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    async fn run(self, mut ctx: Context<A, B>) -> Result<(), BoxError> {
        drive(&mut ctx, self.f).await
    }
}

/// Forwards only the messages a predicate accepts.
///
/// A message `t` on `inbox` goes on to `outbox` unchanged when `keep(&t)` is true.
/// It ends as described in the [module documentation](self).
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `T` | messages to filter |
/// | `control` | in | [`Control`](axon::Control) | finish the queue, or stop |
/// | `outbox` | out | `T` | the messages `keep` accepts, unchanged |
/// | `signal` | out | [`Control`](axon::Control) | passes the lifecycle on |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use components::transform::Filter;
///
/// let mut h = Harness::new(Filter::new(|line: &String| !line.starts_with('#')));
/// h.send("# comment".to_string()).await;
/// h.send("data".to_string()).await;
/// assert_eq!(h.recv().await.as_deref(), Some("data"));
/// # }
/// ```
pub struct Filter<T, P> {
    keep: P,
    name: Cow<'static, str>,
    _t: PhantomData<fn(T) -> T>,
}

impl<T, P> std::fmt::Debug for Filter<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<T, P> Filter<T, P>
where
    T: Send + 'static,
    P: FnMut(&T) -> bool + Send + 'static,
{
    /// A filter keeping the messages for which `keep` returns true.
    ///
    /// # Examples
    ///
    /// ```
    /// let even = components::transform::Filter::new(|n: &u64| n.is_multiple_of(2));
    /// ```
    pub fn new(keep: P) -> Self {
        Filter {
            keep,
            name: Cow::Borrowed("Filter"),
            _t: PhantomData,
        }
    }

    /// Set the name shown in introspection and errors (`Filter` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// let f = components::transform::Filter::new(|s: &String| !s.is_empty()).named("non-empty");
    /// assert_eq!(f.name(), "non-empty");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }
}

impl<T, P> Component for Filter<T, P>
where
    T: Send + 'static,
    P: FnMut(&T) -> bool + Send + 'static,
{
    type In = T;
    type Out = T;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    async fn run(self, mut ctx: Context<T, T>) -> Result<(), BoxError> {
        let mut keep = self.keep;
        drive(&mut ctx, move |t| keep(&t).then_some(t)).await
    }
}
