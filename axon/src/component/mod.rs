//! The [`Component`] trait, the [`Context`] a body runs with, and [`Setup`] for
//! declaring boxes and children.

use std::borrow::Cow;
use std::future::Future;

use crate::boxes::ComponentId;
use crate::error::LinkError;
use crate::exit::BoxError;
use crate::runtime::{PreparedDyn, Runtime};

mod children;
mod context;
mod declare;
mod function;
mod setup;

pub use children::ChildExits;
pub use context::Context;
pub use function::{FnComponent, from_fn};
pub use setup::{Child, Setup};

/// A component: a value whose body is one async task, with named, typed boxes.
///
/// Every component has four boxes, as in Kamaelia:
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Self::In` | data |
/// | `control` | in | [`Control`](crate::Control) | lifecycle messages |
/// | `outbox` | out | `Self::Out` | data |
/// | `signal` | out | [`Control`](crate::Control) | lifecycle messages |
///
/// [`setup`](Component::setup) may declare more boxes, describe them, add children
/// and link them; it runs when the component is added to a [`Runtime`], before
/// anything starts. [`run`](Component::run) is the body.
///
/// When the body returns `Ok`, the runtime passes the lifecycle on through
/// `signal` (see [`Control`](crate::Control)); when it fails or panics, `signal` carries
/// `Shutdown`, its links are removed and its parent is told.
///
/// # Examples
///
/// ```
/// use axon::{Component, Context, BoxError};
///
/// /// Upper-cases every line.
/// struct Upper;
///
/// impl Component for Upper {
///     type In = String;
///     type Out = String;
///
///     async fn run(self, mut ctx: Context<String, String>) -> Result<(), BoxError> {
///         while let Some(line) = ctx.recv().await {
///             ctx.send(line.to_uppercase()).await?;
///         }
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut h = axon::testing::Harness::new(Upper);
/// h.send("hi".to_string()).await;
/// assert_eq!(h.recv().await.as_deref(), Some("HI"));
/// # }
/// ```
pub trait Component: Send + Sized + 'static {
    /// The message type of `inbox`.
    type In: Send + 'static;
    /// The message type of `outbox`.
    type Out: Send + 'static;

    /// The name shown in introspection and errors; the type's name by default.
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(short_type_name::<Self>())
    }

    /// Declare boxes beyond the four defaults, describe boxes, add children and link
    /// them. Runs once, when the component is added to a runtime.
    ///
    /// # Errors
    ///
    /// A [`LinkError`] refuses the component; nothing of it stays in the graph.
    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        let _ = setup;
        Ok(())
    }

    /// The body: one async task.
    fn run(
        self,
        ctx: Context<Self::In, Self::Out>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// A component of any type, boxed: what composites hold their children as.
///
/// Every [`Component`] is a `DynComponent`; box one with `Box::new(c)`.
///
/// # Examples
///
/// ```
/// use axon::component::{from_fn, DynComponent};
/// let c: Box<dyn DynComponent> =
///     Box::new(from_fn("noop", |_ctx: axon::Context<(), ()>| async { Ok(()) }));
/// assert_eq!(c.dyn_name(), "noop");
/// ```
pub trait DynComponent: Send + 'static {
    /// The component's name.
    fn dyn_name(&self) -> Cow<'static, str>;

    /// Add the component to `rt` under `parent`, without starting it.
    ///
    /// # Errors
    ///
    /// As [`Component::setup`].
    fn prepare_dyn(
        self: Box<Self>,
        rt: &Runtime,
        parent: Option<ComponentId>,
    ) -> Result<PreparedDyn, LinkError>;
}

impl<C: Component> DynComponent for C {
    fn dyn_name(&self) -> Cow<'static, str> {
        self.name()
    }

    fn prepare_dyn(
        self: Box<Self>,
        rt: &Runtime,
        parent: Option<ComponentId>,
    ) -> Result<PreparedDyn, LinkError> {
        let p = rt.prepare(*self, parent)?;
        Ok(PreparedDyn::new(p))
    }
}
