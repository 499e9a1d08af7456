//! Components from async functions: [`from_fn`].

use super::Component;
use super::context::Context;
use crate::exit::BoxError;
use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;

/// A component made from a name and an async closure.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, component::from_fn, testing::Harness};
///
/// let double = from_fn("double", |mut ctx: Context<u32, u32>| async move {
///     while let Some(n) = ctx.recv().await {
///         ctx.send(n * 2).await?;
///     }
///     Ok(())
/// });
/// let mut h = Harness::new(double);
/// h.send(21).await;
/// assert_eq!(h.recv().await, Some(42));
/// # }
/// ```
pub fn from_fn<I, O, F, Fut>(name: impl Into<Cow<'static, str>>, body: F) -> FnComponent<I, O, F>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(Context<I, O>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    FnComponent {
        name: name.into(),
        body,
        _t: PhantomData,
    }
}

/// The component [`from_fn`] makes.
///
/// # Examples
///
/// ```
/// use axon::{Component, Context, component::{FnComponent, from_fn}};
///
/// let c: FnComponent<u8, u8, _> = from_fn("noop", |_ctx: Context<u8, u8>| async { Ok(()) });
/// assert_eq!(c.name(), "noop");
/// ```
pub struct FnComponent<I, O, F> {
    name: Cow<'static, str>,
    body: F,
    _t: PhantomData<fn() -> (I, O)>,
}

impl<I, O, F> std::fmt::Debug for FnComponent<I, O, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnComponent")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<I, O, F, Fut> Component for FnComponent<I, O, F>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(Context<I, O>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    type In = I;
    type Out = O;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn run(self, ctx: Context<I, O>) -> impl Future<Output = Result<(), BoxError>> + Send {
        (self.body)(ctx)
    }
}
