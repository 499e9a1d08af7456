//! The [`Component`] trait, the [`Context`] a body runs with, and [`Setup`] for
//! declaring boxes and children.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::task::Poll;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::boxes::{BoxId, BoxRef, ComponentId, Inbox, Outbox, Policy};
use crate::control::Control;
use crate::error::{LinkError, SendError};
use crate::exit::{BoxError, ChildExit};
use crate::runtime::{Prepared, PreparedDyn, Runtime, Startable};

/// A component: a value whose body is one async task, with named, typed boxes.
///
/// Every component has four boxes, as in Kamaelia:
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Self::In` | data |
/// | `control` | in | [`Control`] | lifecycle messages |
/// | `outbox` | out | `Self::Out` | data |
/// | `signal` | out | [`Control`] | lifecycle messages |
///
/// [`setup`](Component::setup) may declare more boxes, describe them, add children
/// and link them; it runs when the component is added to a [`Runtime`], before
/// anything starts. [`run`](Component::run) is the body.
///
/// When the body returns `Ok`, the runtime passes the lifecycle on through
/// `signal` (see [`Control`]); when it fails or panics, `signal` carries
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

/// Declares a component's boxes, children and links; given to [`Component::setup`].
///
/// # Examples
///
/// ```
/// use axon::{BoxError, BoxRef, Component, Context, Setup, LinkError};
///
/// struct Clocked { tick: Option<BoxRef<u64>> }
///
/// impl Component for Clocked {
///     type In = String;
///     type Out = String;
///     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
///         s.describe("inbox", "lines to stamp")?;
///         self.tick = Some(s.inbox::<u64>("tick", "the current time in seconds")?);
///         Ok(())
///     }
///     async fn run(self, mut ctx: Context<String, String>) -> Result<(), BoxError> {
///         let mut tick = ctx.take_inbox::<u64>("tick")?;
///         let _ = tick.try_recv();
///         Ok(())
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let rt = axon::Runtime::new();
/// let p = rt.add(Clocked { tick: None }).unwrap();
/// assert!(rt.box_id(p.id(), "tick").is_ok());
/// # }
/// ```
pub struct Setup<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) id: ComponentId,
    pub(crate) children: &'a mut Vec<Box<dyn Startable>>,
}

impl Setup<'_> {
    /// The id of the component being set up.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     let inbox = s.own::<u32>("inbox")?;
    ///     assert_eq!(inbox.id().component(), s.id());
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let _ = p;
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// The runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     // The component is in the graph already while it sets up.
    ///     assert!(s.runtime().snapshot().component(s.id()).is_some());
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let _ = p;
    /// # }
    /// ```
    pub fn runtime(&self) -> &Runtime {
        self.rt
    }

    /// Give one of this component's boxes a one-line description.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] if there is no such box.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     s.describe("inbox", "numbers to double")?;
    ///     assert!(s.describe("inbxo", "typo").is_err());
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let snap = rt.snapshot();
    /// # let b = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "inbox").unwrap();
    /// assert_eq!(b.description, "numbers to double");
    /// # }
    /// ```
    pub fn describe(&mut self, name: &str, description: &'static str) -> Result<(), LinkError> {
        self.rt.describe_box(self.id, name, description)
    }

    /// Declare an inbox with the default capacity.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     s.inbox::<u64>("tick", "the current time in seconds")?;
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// assert!(rt.box_ref::<u64>(p.id(), "tick").is_ok());
    /// # }
    /// ```
    pub fn inbox<T: Send + 'static>(
        &mut self,
        name: &'static str,
        description: &'static str,
    ) -> Result<BoxRef<T>, LinkError> {
        self.rt
            .add_inbox_node::<T>(self.id, name, description, crate::DEFAULT_CAPACITY)
            .map(BoxRef::new)
    }

    /// Declare an inbox holding at most `capacity` messages.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     s.inbox_with_capacity::<u64>("tick", "the current time", 1)?;
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let snap = rt.snapshot();
    /// # let b = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "tick").unwrap();
    /// assert_eq!(b.capacity, Some(1));
    /// # }
    /// ```
    pub fn inbox_with_capacity<T: Send + 'static>(
        &mut self,
        name: &'static str,
        description: &'static str,
        capacity: usize,
    ) -> Result<BoxRef<T>, LinkError> {
        self.rt
            .add_inbox_node::<T>(self.id, name, description, capacity)
            .map(BoxRef::new)
    }

    /// Declare an outbox.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     s.outbox::<String>("log", "diagnostic lines")?;
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let snap = rt.snapshot();
    /// # let b = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "log").unwrap();
    /// assert_eq!(b.direction, axon::Direction::Out);
    /// # }
    /// ```
    pub fn outbox<T: Send + 'static>(
        &mut self,
        name: &'static str,
        description: &'static str,
    ) -> Result<BoxRef<T>, LinkError> {
        self.rt
            .add_outbox_node::<T>(self.id, name, description)
            .map(BoxRef::new)
    }

    /// Declare a passthrough inbox: it queues nothing, and forwards along its link
    /// (typically to a child's inbox), so messages are enqueued once, at the end.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     s.passthrough_inbox::<String>("commands", "forwarded to a child")?;
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let snap = rt.snapshot();
    /// # let b = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "commands").unwrap();
    /// assert!(b.passthrough && b.capacity.is_none());
    /// # }
    /// ```
    pub fn passthrough_inbox<T: Send + 'static>(
        &mut self,
        name: &'static str,
        description: &'static str,
    ) -> Result<BoxRef<T>, LinkError> {
        self.rt
            .add_passthrough_node::<T>(self.id, name, description)
            .map(BoxRef::new)
    }

    /// Turn one of this component's own queued inboxes (`inbox` or `control`, say)
    /// into a passthrough: the body will see it closed.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] if there is no such inbox.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     s.make_passthrough("control")?;
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let snap = rt.snapshot();
    /// # let b = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "control").unwrap();
    /// assert!(b.passthrough);
    /// # }
    /// ```
    pub fn make_passthrough(&mut self, name: &str) -> Result<(), LinkError> {
        self.rt.make_passthrough(self.id, name)
    }

    /// Set the capacity of one of this component's queued inboxes.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] if there is no such inbox.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     s.set_capacity("inbox", 2)?;
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let snap = rt.snapshot();
    /// # let b = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "inbox").unwrap();
    /// assert_eq!(b.capacity, Some(2));
    /// # }
    /// ```
    pub fn set_capacity(&mut self, name: &str, capacity: usize) -> Result<(), LinkError> {
        self.rt.set_capacity(self.id, name, capacity)
    }

    /// Bound one of this component's inboxes in bytes as well as in messages (see
    /// [`Runtime::set_byte_budget`]).
    ///
    /// # Errors
    ///
    /// As [`Runtime::set_byte_budget`], and [`LinkError::WrongType`] if the box does
    /// not carry `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Bytes, Component, Context, LinkError, Setup};
    /// struct Writer;
    /// impl Component for Writer {
    ///     type In = Bytes;
    ///     type Out = ();
    ///     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///         s.set_byte_budget::<Bytes>("inbox", 64 * 1024) // at most ~64 KiB waiting
    ///     }
    ///     async fn run(self, mut ctx: Context<Bytes, ()>) -> Result<(), BoxError> {
    ///         while ctx.recv().await.is_some() {}
    ///         Ok(())
    ///     }
    /// }
    /// # let _ = Writer;
    /// ```
    pub fn set_byte_budget<T: crate::MessageSize + Send + 'static>(
        &mut self,
        name: &str,
        bytes: usize,
    ) -> Result<(), LinkError> {
        let inbox = self.rt.box_ref::<T>(self.id, name)?;
        self.rt.set_byte_budget(inbox, bytes)
    }

    /// A typed reference to one of this component's own boxes.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] or [`LinkError::WrongType`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     let inbox = s.own::<u32>("inbox")?;
    ///     assert_eq!(inbox.id(), s.runtime().box_id(s.id(), "inbox")?);
    ///     assert!(s.own::<String>("inbox").is_err()); // wrong type
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// # let _ = p;
    /// # }
    /// ```
    pub fn own<T: Send + 'static>(&self, name: &str) -> Result<BoxRef<T>, LinkError> {
        self.rt.box_ref::<T>(self.id, name)
    }

    /// Add a child; it starts just before this component's body.
    ///
    /// # Errors
    ///
    /// As the child's [`Component::setup`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     let kid = s.add_child(axon::component::from_fn("kid", |_c: Context<u32, u32>| async { Ok(()) }))?;
    ///     assert_eq!(kid.inbox().id().component(), kid.id());
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// assert_eq!(rt.children_of(p.id()).len(), 1);
    /// # }
    /// ```
    pub fn add_child<C: Component>(&mut self, child: C) -> Result<Child<C::In, C::Out>, LinkError> {
        let p = self.rt.prepare(child, Some(self.id))?;
        let id = p.id();
        self.children.push(Box::new(p));
        Ok(Child::new(id))
    }

    /// Add a boxed child; it starts just before this component's body.
    ///
    /// # Errors
    ///
    /// As the child's [`Component::setup`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     let kid: Box<dyn axon::DynComponent> =
    ///         Box::new(axon::component::from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }));
    ///     let id = s.add_child_dyn(kid)?;
    ///     assert_ne!(id, s.id());
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// assert_eq!(rt.children_of(p.id()).len(), 1);
    /// # }
    /// ```
    pub fn add_child_dyn(
        &mut self,
        child: Box<dyn DynComponent>,
    ) -> Result<ComponentId, LinkError> {
        let p = child.prepare_dyn(self.rt, Some(self.id))?;
        let id = p.id();
        self.children.push(Box::new(p));
        Ok(id)
    }

    /// Link two boxes; see [`Runtime::link`].
    ///
    /// # Errors
    ///
    /// As [`Runtime::link`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     let kid = s.add_child(axon::component::from_fn("kid", |_c: Context<u32, u32>| async { Ok(()) }))?;
    ///     s.make_passthrough("inbox")?;
    ///     let own = s.own::<u32>("inbox")?;
    ///     s.link(own, kid.inbox())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// assert_eq!(rt.snapshot().links.len(), 1);
    /// # }
    /// ```
    pub fn link<T: Send + 'static>(
        &mut self,
        from: BoxRef<T>,
        to: BoxRef<T>,
    ) -> Result<(), LinkError> {
        self.rt.link(from, to)
    }

    /// Link two boxes by id, checking types when made; see [`Runtime::link_ids`].
    ///
    /// # Errors
    ///
    /// As [`Runtime::link_ids`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// # struct Demo;
    /// # impl Component for Demo {
    /// #     type In = u32;
    /// #     type Out = u32;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> { setup(s) }
    /// #     async fn run(self, _ctx: Context<u32, u32>) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// fn setup(s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///     let kid = s.add_child(axon::component::from_fn("kid", |_c: Context<u32, u32>| async { Ok(()) }))?;
    ///     let own = s.own::<u32>("outbox")?;
    ///     s.link_ids(kid.outbox().id(), own.id(), axon::Policy::DropOldest)
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo).unwrap();
    /// assert_eq!(rt.snapshot().links[0].policy, axon::Policy::DropOldest);
    /// # }
    /// ```
    pub fn link_ids(&mut self, from: BoxId, to: BoxId, policy: Policy) -> Result<(), LinkError> {
        self.rt.link_ids(from, to, policy)
    }
}

/// Typed references to the four default boxes of a component added to a runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Component, Context, BoxError, LinkError, Setup, Child, component::from_fn};
///
/// struct Pair;
/// impl Component for Pair {
///     type In = u32;
///     type Out = u32;
///     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
///         let a: Child<u32, u32> = s.add_child(from_fn("a", |_c: Context<u32, u32>| async { Ok(()) }))?;
///         s.make_passthrough("inbox")?;
///         let own_inbox = s.own::<u32>("inbox")?;
///         s.link(own_inbox, a.inbox())
///     }
///     async fn run(self, mut ctx: Context<u32, u32>) -> Result<(), BoxError> {
///         while ctx.next_child_exit().await.is_some() {}
///         Ok(())
///     }
/// }
/// let rt = axon::Runtime::new();
/// let exit = rt.spawn(Pair).unwrap().join().await;
/// assert!(exit.is_clean());
/// # }
/// ```
pub struct Child<I, O> {
    id: ComponentId,
    _t: PhantomData<fn() -> (I, O)>,
}

impl<I, O> Clone for Child<I, O> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<I, O> Copy for Child<I, O> {}

impl<I, O> std::fmt::Debug for Child<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child").field("id", &self.id).finish()
    }
}

impl<I, O> Child<I, O> {
    pub(crate) fn new(id: ComponentId) -> Self {
        Child {
            id,
            _t: PhantomData,
        }
    }

    /// The component's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("c", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let child: axon::Child<u8, u8> = p.child();
    /// assert_eq!(child.id(), p.id());
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// Its `inbox`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("c", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let child: axon::Child<u8, u8> = p.child();
    /// assert_eq!(child.inbox().id(), rt.box_id(p.id(), "inbox").unwrap());
    /// # }
    /// ```
    pub fn inbox(&self) -> BoxRef<I> {
        BoxRef::new(BoxId {
            component: self.id,
            index: 0,
        })
    }

    /// Its `control` inbox.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("c", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let child: axon::Child<u8, u8> = p.child();
    /// assert_eq!(child.control().id(), rt.box_id(p.id(), "control").unwrap());
    /// # }
    /// ```
    pub fn control(&self) -> BoxRef<Control> {
        BoxRef::new(BoxId {
            component: self.id,
            index: 1,
        })
    }

    /// Its `outbox`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("c", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let child: axon::Child<u8, u8> = p.child();
    /// assert_eq!(child.outbox().id(), rt.box_id(p.id(), "outbox").unwrap());
    /// # }
    /// ```
    pub fn outbox(&self) -> BoxRef<O> {
        BoxRef::new(BoxId {
            component: self.id,
            index: 2,
        })
    }

    /// Its `signal` outbox.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("c", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let child: axon::Child<u8, u8> = p.child();
    /// assert_eq!(child.signal().id(), rt.box_id(p.id(), "signal").unwrap());
    /// # }
    /// ```
    pub fn signal(&self) -> BoxRef<Control> {
        BoxRef::new(BoxId {
            component: self.id,
            index: 3,
        })
    }
}

/// What a component body runs with: its four default boxes as public fields (so
/// they can be borrowed separately, e.g. in `tokio::select!`), and access to the
/// runtime for extra boxes, children and links.
///
/// # Examples
///
/// ```
/// use axon::{Context, BoxError};
///
/// // Forward data until the input ends or a Shutdown arrives.
/// async fn body(mut ctx: Context<u32, u32>) -> Result<(), BoxError> {
///     while let Some(n) = ctx.recv().await {
///         ctx.send(n * 2).await?;
///     }
///     Ok(())
/// }
/// ```
pub struct Context<I, O> {
    /// Data in.
    pub inbox: Inbox<I>,
    /// Lifecycle messages in.
    pub control: Inbox<Control>,
    /// Data out.
    pub outbox: Outbox<O>,
    /// Lifecycle messages out.
    pub signal: Outbox<Control>,
    pub(crate) rt: Runtime,
    pub(crate) id: ComponentId,
    pub(crate) ending: Option<Control>,
    pub(crate) children_rx: Option<UnboundedReceiver<ChildExit>>,
    /// The waker `poll_recv` last parked in `control`, and the parking generation that
    /// leaves it there.
    pub(crate) parked: Option<std::task::Waker>,
    pub(crate) control_parked: u64,
}

impl<I: Send + 'static, O: Send + 'static> Context<I, O> {
    /// The component's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{ComponentId, Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("me", |mut ctx: Context<(), ComponentId>| async move {
    ///     let id = ctx.id();
    ///     ctx.send(id).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(h.id()));
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// The runtime the component runs in.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("count", |mut ctx: Context<(), usize>| async move {
    ///     let n = ctx.runtime().live_components();
    ///     ctx.send(n).await?;
    ///     Ok(())
    /// }));
    /// // The component itself and the harness's endpoint.
    /// assert_eq!(h.recv().await, Some(2));
    /// # }
    /// ```
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The lifecycle message that ended [`recv`](Context::recv), if one did.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<u8, ()>) {
    /// while ctx.recv().await.is_some() {}
    /// if ctx.ended_by() == Some(axon::Control::Shutdown) { /* skip the final report */ }
    /// # }
    /// ```
    pub fn ended_by(&self) -> Option<Control> {
        self.ending
    }

    /// Wait for the next data message, watching `control` at the same time.
    ///
    /// Returns `None` when the component should end: at once on
    /// [`Control::Shutdown`]; after the queued data has been handed out on
    /// [`Control::ProducerFinished`] or [`Control::SocketShutdown`]; or when both
    /// inboxes are closed. Control messages take priority over data.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no message is lost if the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<String, usize>) -> Result<(), axon::BoxError> {
    /// while let Some(line) = ctx.recv().await {
    ///     ctx.send(line.len()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn recv(&mut self) -> Option<I> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll behind [`recv`](Context::recv), for hand-written futures.
    ///
    /// The task parks in both queues. A component's `control` is nearly always empty,
    /// so while this task's waker is still parked there (nothing has been sent or
    /// taken since) it is not locked again on every call.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<u32, ()>) {
    /// let first = std::future::poll_fn(|cx| ctx.poll_recv(cx)).await;
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Option<I>> {
        loop {
            if let Some(c) = self.ending {
                if c.is_stop() {
                    return Poll::Ready(None);
                }
                return Poll::Ready(self.inbox.try_recv().ok());
            }
            let control = &self.control.node;
            let still_parked = control.is_empty()
                && control.parked_since() == self.control_parked
                && !control.is_closed()
                && self
                    .parked
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()));
            if !still_parked {
                match self.control.poll_recv_noting(cx, &mut self.control_parked) {
                    Poll::Ready(Some(c)) => {
                        self.on_control(c);
                        continue;
                    }
                    // No more lifecycle messages: only data matters.
                    Poll::Ready(None) => return self.inbox.poll_recv(cx),
                    Poll::Pending => {
                        if !self
                            .parked
                            .as_ref()
                            .is_some_and(|w| w.will_wake(cx.waker()))
                        {
                            self.parked = Some(cx.waker().clone());
                        }
                    }
                }
            }
            // A closed inbox leaves us waiting for `control` (parked above).
            return match self.inbox.poll_recv(cx) {
                Poll::Ready(None) => Poll::Pending,
                other => other,
            };
        }
    }

    /// Record that this component is ending because it was shut down, so that its
    /// exit reason is [`Exit::ShutDown`](crate::Exit::ShutDown) and `Shutdown` is passed
    /// on. For composites, whose `control` is a passthrough they never read.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Control, Exit, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("quits", |mut ctx: Context<(), ()>| async move {
    ///     ctx.mark_shut_down();
    ///     Ok(())
    /// }));
    /// assert!(matches!(h.exit().await, Exit::ShutDown));
    /// assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
    /// # }
    /// ```
    pub fn mark_shut_down(&mut self) {
        self.control.node.lifecycle().store(
            Control::Shutdown.code(),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.ending = Some(Control::Shutdown);
    }

    fn on_control(&mut self, c: Control) {
        if c.is_stop() || c.ends_input() {
            self.ending = Some(c);
        }
    }

    /// Send on `outbox`; see [`Outbox::send`].
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message if `outbox` has no destination.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: as [`Outbox::send`], the message is lost if the future is dropped
    /// while waiting for space.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<(), &'static str>) -> Result<(), axon::BoxError> {
    /// ctx.send("ready").await?;
    /// # Ok(()) }
    /// ```
    pub fn send(&mut self, msg: O) -> impl Future<Output = Result<(), SendError<O>>> + '_ {
        // The outbox's own future, not a wrapper holding a second copy of the message.
        self.outbox.send(msg)
    }

    /// Take the receiving handle of a declared inbox (once).
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`], [`LinkError::WrongType`] or [`LinkError::AlreadyTaken`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup, testing::Harness};
    /// # struct Ticks;
    /// # impl Component for Ticks {
    /// #     type In = ();
    /// #     type Out = u64;
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    /// #         s.inbox::<u64>("tick", "seconds").map(drop)
    /// #     }
    /// #     async fn run(self, ctx: Context<(), u64>) -> Result<(), BoxError> { body(ctx).await }
    /// # }
    /// async fn body(mut ctx: Context<(), u64>) -> Result<(), BoxError> {
    ///     let mut tick = ctx.take_inbox::<u64>("tick")?;
    ///     while let Some(t) = tick.recv().await {
    ///         ctx.send(t * 10).await?;
    ///     }
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut h = Harness::new(Ticks);
    /// let mut tick = h.inbox_sender::<u64>("tick").unwrap();
    /// tick.send(4).await.unwrap();
    /// assert_eq!(h.recv().await, Some(40));
    /// # }
    /// ```
    pub fn take_inbox<T: Send + 'static>(&mut self, name: &str) -> Result<Inbox<T>, LinkError> {
        self.rt.take_inbox::<T>(self.id, name)
    }

    /// A sending handle for a declared outbox.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] or [`LinkError::WrongType`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup, testing::Harness};
    /// # struct Alarm;
    /// # impl Component for Alarm {
    /// #     type In = ();
    /// #     type Out = ();
    /// #     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    /// #         s.outbox::<String>("alarm", "warnings").map(drop)
    /// #     }
    /// #     async fn run(self, ctx: Context<(), ()>) -> Result<(), BoxError> { body(ctx).await }
    /// # }
    /// async fn body(mut ctx: Context<(), ()>) -> Result<(), BoxError> {
    ///     let mut alarm = ctx.outbox_named::<String>("alarm")?;
    ///     alarm.send("disk full".to_string()).await?;
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut h = Harness::new(Alarm);
    /// let mut alarms = h.outbox_receiver::<String>("alarm").unwrap();
    /// assert_eq!(alarms.recv().await.as_deref(), Some("disk full"));
    /// # }
    /// ```
    pub fn outbox_named<T: Send + 'static>(&mut self, name: &str) -> Result<Outbox<T>, LinkError> {
        self.rt.outbox_handle::<T>(self.id, name)
    }

    /// Add an inbox while running and take its receiving handle.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("grows", |mut ctx: Context<(), usize>| async move {
    ///     let (_r, extra) = ctx.add_inbox::<String>("extra", "more lines", 8)?;
    ///     ctx.send(extra.capacity()).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(8));
    /// # }
    /// ```
    pub fn add_inbox<T: Send + 'static>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
        capacity: usize,
    ) -> Result<(BoxRef<T>, Inbox<T>), LinkError> {
        let name = name.into();
        let id = self
            .rt
            .add_inbox_node::<T>(self.id, name.clone(), description, capacity)?;
        let inbox = self.rt.take_inbox::<T>(self.id, &name)?;
        Ok((BoxRef::new(id), inbox))
    }

    /// Add an outbox while running.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("grows", |mut ctx: Context<(), bool>| async move {
    ///     let (_r, mut log) = ctx.add_outbox::<String>("log", "diagnostics")?;
    ///     let linked = log.is_linked();
    ///     ctx.send(linked).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(false)); // nothing links to it yet
    /// # }
    /// ```
    pub fn add_outbox<T: Send + 'static>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
    ) -> Result<(BoxRef<T>, Outbox<T>), LinkError> {
        let name = name.into();
        let id = self
            .rt
            .add_outbox_node::<T>(self.id, name.clone(), description)?;
        let outbox = self.rt.outbox_handle::<T>(self.id, &name)?;
        Ok((BoxRef::new(id), outbox))
    }

    /// Remove one of this component's boxes while running, with every link to and
    /// from it. Messages queued in a removed inbox are discarded.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] if there is no such box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("shrinks", |mut ctx: Context<(), bool>| async move {
    ///     ctx.add_outbox::<String>("log", "diagnostics")?;
    ///     ctx.remove_box("log")?;
    ///     let gone = ctx.runtime().box_id(ctx.id(), "log").is_err();
    ///     ctx.send(gone).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(true));
    /// # }
    /// ```
    pub fn remove_box(&mut self, name: &str) -> Result<(), LinkError> {
        self.rt.remove_box(self.id, name)
    }

    /// Add a child while running, without starting it: link it, then
    /// [`start`](Prepared::start) it. Its exit is reported to
    /// [`next_child_exit`](Context::next_child_exit).
    ///
    /// # Errors
    ///
    /// As the child's [`Component::setup`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("parent", |mut ctx: Context<(), String>| async move {
    ///     let kid = ctx.add_child(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }))?;
    ///     kid.start();
    ///     if let Some(exit) = ctx.next_child_exit().await {
    ///         ctx.send(exit.name).await?;
    ///     }
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await.as_deref(), Some("kid"));
    /// # }
    /// ```
    pub fn add_child<C: Component>(&mut self, child: C) -> Result<Prepared<C>, LinkError> {
        self.rt.prepare(child, Some(self.id))
    }

    /// Add a boxed child while running, without starting it.
    ///
    /// # Errors
    ///
    /// As the child's [`Component::setup`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, DynComponent, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("parent", |mut ctx: Context<(), bool>| async move {
    ///     let kid: Box<dyn DynComponent> = Box::new(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }));
    ///     ctx.add_child_dyn(kid)?.start();
    ///     let exit = ctx.next_child_exit().await;
    ///     ctx.send(exit.is_some_and(|e| e.exit.is_clean())).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(true));
    /// # }
    /// ```
    pub fn add_child_dyn(
        &mut self,
        child: Box<dyn DynComponent>,
    ) -> Result<PreparedDyn, LinkError> {
        child.prepare_dyn(&self.rt, Some(self.id))
    }

    /// Wait for the next child to end. Returns `None` when no children are left.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<(), ()>) {
    /// while let Some(c) = ctx.next_child_exit().await {
    ///     if !c.exit.is_clean() { tracing::warn!("{} {}", c.name, c.exit); }
    /// }
    /// # }
    /// ```
    pub async fn next_child_exit(&mut self) -> Option<ChildExit> {
        if self.children_rx.is_none() {
            self.children_rx = self.rt.take_child_rx(self.id);
        }
        next_exit(&self.rt, self.id, self.children_rx.as_mut()?).await
    }

    /// Move the stream of child exits out of the context, so a body can wait on its
    /// inboxes and its children in one `tokio::select!`. After this,
    /// [`next_child_exit`](Context::next_child_exit) returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<u8, ()>) {
    /// let mut exits = ctx.take_child_exits();
    /// loop {
    ///     tokio::select! {
    ///         c = ctx.control.recv() => { if c.is_none() { break } }
    ///         e = exits.next() => { if e.is_none() { break } }
    ///     }
    /// }
    /// # }
    /// ```
    pub fn take_child_exits(&mut self) -> ChildExits {
        let rx = self
            .children_rx
            .take()
            .or_else(|| self.rt.take_child_rx(self.id));
        ChildExits {
            rt: self.rt.clone(),
            id: self.id,
            rx,
        }
    }

    /// The ids of the children still alive.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, testing::Harness};
    /// let mut h = Harness::new(from_fn("parent", |mut ctx: Context<(), usize>| async move {
    ///     let _kid = ctx.add_child(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }))?;
    ///     let n = ctx.children().len();
    ///     ctx.send(n).await?;
    ///     Ok(())
    /// }));
    /// assert_eq!(h.recv().await, Some(1));
    /// # }
    /// ```
    pub fn children(&self) -> Vec<ComponentId> {
        self.rt.children_of(self.id)
    }
}

async fn next_exit(
    rt: &Runtime,
    id: ComponentId,
    rx: &mut UnboundedReceiver<ChildExit>,
) -> Option<ChildExit> {
    // Children leave the list under the graph's lock (`Runtime::retire`).
    crate::exit_reports::next_report(rx, || rt.live_children(id) > 0).await
}

/// The exits of a component's children, detached from its [`Context`] by
/// [`Context::take_child_exits`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, component::from_fn, testing::Harness};
/// let mut h = Harness::new(from_fn("parent", |mut ctx: Context<(), String>| async move {
///     let mut exits = ctx.take_child_exits();
///     ctx.add_child(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }))?.start();
///     while let Some(e) = exits.next().await {
///         ctx.send(format!("{}: {}", e.name, e.exit)).await?;
///     }
///     Ok(())
/// }));
/// assert_eq!(h.recv().await.as_deref(), Some("kid: finished"));
/// # }
/// ```
pub struct ChildExits {
    rt: Runtime,
    id: ComponentId,
    rx: Option<UnboundedReceiver<ChildExit>>,
}

impl std::fmt::Debug for ChildExits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildExits")
            .field("parent", &self.id)
            .finish()
    }
}

impl ChildExits {
    /// Wait for the next child to end; `None` when no children are left.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<(), ()>) {
    /// let mut exits = ctx.take_child_exits();
    /// while let Some(e) = exits.next().await {
    ///     if !e.exit.is_clean() {
    ///         tracing::warn!("{} ended: {}", e.name, e.exit);
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn next(&mut self) -> Option<ChildExit> {
        next_exit(&self.rt, self.id, self.rx.as_mut()?).await
    }
}

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
