//! [`Setup`]: what a component declares before it runs (boxes, children, links), and
//! [`Child`], a typed handle on a child's boxes.

use super::{Component, DynComponent};
use crate::boxes::{BoxId, BoxRef, ComponentId, Policy};
use crate::control::Control;
use crate::error::LinkError;
use crate::runtime::{Runtime, Startable};
use std::marker::PhantomData;

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

impl std::fmt::Debug for Setup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
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

    /// Make links carrying `T` recordable and replayable by name: as
    /// [`Runtime::make_recordable`], for a component that opts its boxes in where it
    /// declares them.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, LinkError, Setup};
    /// struct Ticks;
    /// impl Component for Ticks {
    ///     type In = ();
    ///     type Out = u64;
    ///     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///         s.make_recordable::<u64>();
    ///         Ok(())
    ///     }
    ///     async fn run(self, _ctx: Context<(), u64>) -> Result<(), BoxError> { Ok(()) }
    /// }
    /// # let rt = axon::Runtime::new();
    /// # let _p = rt.add(Ticks).unwrap();
    /// ```
    pub fn make_recordable<T>(&mut self)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    {
        self.rt.make_recordable::<T>();
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

    /// Declare an inbox and get its typed key, for [`Context::open_inbox`] in `run`
    /// (what a [`boxes!`](crate::boxes!) declaration calls).
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, InboxKey, LinkError, Setup};
    /// struct Demo(InboxKey<u64>);
    /// impl Component for Demo {
    ///     type In = ();
    ///     type Out = ();
    ///     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///         self.0 = s.declare_inbox::<u64>("tick", "the current time in seconds")?;
    ///         Ok(())
    ///     }
    ///     async fn run(self, mut ctx: Context<(), ()>) -> Result<(), BoxError> {
    ///         let mut tick = ctx.open_inbox(self.0)?;
    ///         while let Some(_t) = tick.recv().await {}
    ///         Ok(())
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo(InboxKey::undeclared("tick"))).unwrap();
    /// assert!(rt.box_ref::<u64>(p.id(), "tick").is_ok());
    /// # }
    /// ```
    ///
    /// [`Context::open_inbox`]: crate::Context::open_inbox
    pub fn declare_inbox<T: Send + 'static>(
        &mut self,
        name: &'static str,
        description: &'static str,
    ) -> Result<crate::InboxKey<T>, LinkError> {
        let id =
            self.rt
                .add_inbox_node::<T>(self.id, name, description, crate::DEFAULT_CAPACITY)?;
        Ok(crate::InboxKey::declared(name, id))
    }

    /// Declare an outbox and get its typed key, for [`Context::open_outbox`] in `run`
    /// (what a [`boxes!`](crate::boxes!) declaration calls).
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use axon::{BoxError, Component, Context, OutboxKey, LinkError, Setup};
    /// struct Demo(OutboxKey<String>);
    /// impl Component for Demo {
    ///     type In = ();
    ///     type Out = ();
    ///     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
    ///         self.0 = s.declare_outbox::<String>("log", "diagnostic lines")?;
    ///         Ok(())
    ///     }
    ///     async fn run(self, mut ctx: Context<(), ()>) -> Result<(), BoxError> {
    ///         let mut log = ctx.open_outbox(self.0)?;
    ///         let _ = log.send("started".into()).await;
    ///         Ok(())
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(Demo(OutboxKey::undeclared("log"))).unwrap();
    /// assert!(rt.box_ref::<String>(p.id(), "log").is_ok());
    /// # }
    /// ```
    ///
    /// [`Context::open_outbox`]: crate::Context::open_outbox
    pub fn declare_outbox<T: Send + 'static>(
        &mut self,
        name: &'static str,
        description: &'static str,
    ) -> Result<crate::OutboxKey<T>, LinkError> {
        let id = self.rt.add_outbox_node::<T>(self.id, name, description)?;
        Ok(crate::OutboxKey::declared(name, id))
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
