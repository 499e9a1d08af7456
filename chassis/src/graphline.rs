//! # Graphline: named children linked by name
//!
//! A [`Graphline`] holds named children and a list of links between their boxes, given
//! by name: `("parser", "outbox") -> ("store", "inbox")`. The name `"self"` means the
//! Graphline's own boundary: a link from `("self", "inbox")` lets data sent to the
//! Graphline reach a child, and a link to `("self", "outbox")` lets a child's output
//! leave it. Other `"self"` box names create extra boundary boxes on this Graphline
//! instance (never on other instances).
//!
//! ## Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axon::{Context, Control, component::from_fn, testing::Harness};
//! use chassis::graphline::Graphline;
//!
//! let upper = from_fn("upper", |mut ctx: Context<String, String>| async move {
//!     while let Some(s) = ctx.recv().await { ctx.send(s.to_uppercase()).await?; }
//!     Ok(())
//! });
//! let exclaim = from_fn("exclaim", |mut ctx: Context<String, String>| async move {
//!     while let Some(s) = ctx.recv().await { ctx.send(s + "!").await?; }
//!     Ok(())
//! });
//! let g = Graphline::<String, String>::new()
//!     .child("upper", upper)
//!     .child("exclaim", exclaim)
//!     .link(("self", "inbox"), ("upper", "inbox"))
//!     .link(("upper", "outbox"), ("exclaim", "inbox"))
//!     .link(("upper", "signal"), ("exclaim", "control"))
//!     .link(("exclaim", "outbox"), ("self", "outbox"));
//! let mut h = Harness::new(g);
//! h.send("hi".into()).await;
//! assert_eq!(h.recv().await.as_deref(), Some("HI!"));
//! h.finish().await;
//! assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
//! assert_eq!(h.recv_signal().await, None);
//! # }
//! ```
//!
//! ## How it works
//!
//! In `setup` the Graphline adds its children, then makes the links in the order
//! given. A link from a `"self"` inbox turns that inbox into a passthrough (one enqueue,
//! straight into the child); a link to a `"self"` outbox is an outbox -> outbox link.
//! Every link is checked when made; an unknown child, an unknown box (the error lists
//! the boxes that exist), a type mismatch (naming both ends and both types), a second
//! destination for one source, or a wrong direction refuses the whole Graphline with a
//! [`LinkError`] from `setup` — nothing of it stays in the graph.
//!
//! Control follows Kamaelia. Unless the layout links `("self", "control")` to a child
//! (then `control` is a plain passthrough to that child), the Graphline reads its own
//! `control` and forwards every message to each child whose `control` the layout does
//! not wire, through one outbox per such child named `control->NAME`. Children whose
//! `control` is wired (typically from a sibling's `signal`) hear of the end from there.
//!
//! The Graphline ends when all its children have ended. If the layout links a child to
//! `("self", "signal")`, that child speaks for the Graphline and the Graphline sends
//! nothing on `signal`; otherwise it sends `ProducerFinished` there, or `Shutdown` if
//! it received `Shutdown` (or, when `control` is a passthrough, if a child ended shut
//! down).
//!
//! A child that fails, panics or is aborted makes the Graphline ask every other child to
//! shut down, and the Graphline then ends failed with a
//! [`ChildFailed`](crate::pipeline::ChildFailed) naming it (as a Pipeline does).
//!
//! ## Boxes
//!
//! | box | direction | type | what |
//! | --- | --- | --- | --- |
//! | `inbox` | in | `I` | passthrough to the child the layout links `("self", "inbox")` to |
//! | `control` | in | [`Control`] | forwarded to every child whose `control` is not wired (or a passthrough, if linked) |
//! | `outbox` | out | `O` | what the child linked to `("self", "outbox")` sends |
//! | `signal` | out | [`Control`] | `ProducerFinished`/`Shutdown` when done, or the linked child's signal |
//! | `control->NAME` | out | [`Control`] | forwards `control` to child `NAME` |
//! | other `"self"` boxes | in/out | as linked | extra boundary boxes named in the layout |

use std::borrow::Cow;
use std::collections::HashSet;
use std::marker::PhantomData;

use axon::{
    BoxError, BoxId, Component, ComponentId, Context, Control, DynComponent, Inbox, LinkError,
    Policy, Setup,
};

use crate::own_control::{CONTROL_IN, read_own_control};
use crate::pipeline::ChildWatch;

/// The name that means the Graphline's own boundary in a link.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, component::from_fn, testing::Harness};
/// use chassis::graphline::{Graphline, SELF};
///
/// let double = from_fn("double", |mut c: Context<u32, u32>| async move {
///     while let Some(n) = c.recv().await { c.send(n * 2).await?; }
///     Ok(())
/// });
/// let g = Graphline::<u32, u32>::new()
///     .child("double", double)
///     .link((SELF, "inbox"), ("double", "inbox"))
///     .link(("double", "outbox"), (SELF, "outbox"));
/// let mut h = Harness::new(g);
/// h.send(4).await;
/// assert_eq!(h.recv().await, Some(8));
/// # }
/// ```
pub const SELF: &str = "self";

/// Named children linked by name, with a `"self"` boundary. See the [module docs](self).
///
/// `I` is the type of the Graphline's `inbox`, `O` of its `outbox` (use `()` for a box
/// the layout does not use).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, Runtime, component::from_fn};
/// use chassis::graphline::Graphline;
///
/// let g = Graphline::<(), ()>::new()
///     .child("a", from_fn("a", |_c: Context<(), u32>| async { Ok(()) }))
///     .child("b", from_fn("b", |_c: Context<String, ()>| async { Ok(()) }))
///     .link(("a", "outbox"), ("b", "inbox"));
/// let err = Runtime::new().add(g).unwrap_err();
/// assert!(err.to_string().contains("u32") && err.to_string().contains("String"), "{err}");
/// # }
/// ```
pub struct Graphline<I, O> {
    name: Cow<'static, str>,
    children: Vec<(String, Box<dyn DynComponent>)>,
    links: Vec<LinkSpec>,
    forward: Vec<String>,
    reads_control: bool,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O> std::fmt::Debug for Graphline<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graphline")
            .field("name", &self.name)
            .field(
                "children",
                &self
                    .children
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// One link of a layout, by child and box names (`"self"` for the composite's own).
pub(crate) struct LinkSpec {
    pub(crate) from: (String, String),
    pub(crate) to: (String, String),
    pub(crate) policy: Policy,
}

impl<I: Send + 'static, O: Send + 'static> Default for Graphline<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: Send + 'static, O: Send + 'static> Graphline<I, O> {
    /// An empty Graphline.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = chassis::graphline::Graphline::<String, String>::new();
    /// # let _ = g;
    /// ```
    pub fn new() -> Self {
        Graphline {
            name: Cow::Borrowed("Graphline"),
            children: Vec::new(),
            links: Vec::new(),
            forward: Vec::new(),
            reads_control: false,
            _t: PhantomData,
        }
    }

    /// Add a child under a name unique in this Graphline (not `"self"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let g = chassis::graphline::Graphline::<(), ()>::new()
    ///     .child("idle", from_fn("idle", |_c: Context<(), ()>| async { Ok(()) }));
    /// # let _ = g;
    /// ```
    pub fn child(mut self, name: impl Into<String>, component: impl Component) -> Self {
        self.children.push((name.into(), Box::new(component)));
        self
    }

    /// Add a boxed child (for children built at run time).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, DynComponent, component::from_fn};
    /// let c: Box<dyn DynComponent> = Box::new(from_fn("idle", |_c: Context<(), ()>| async { Ok(()) }));
    /// let g = chassis::graphline::Graphline::<(), ()>::new().child_dyn("idle", c);
    /// # let _ = g;
    /// ```
    pub fn child_dyn(mut self, name: impl Into<String>, component: Box<dyn DynComponent>) -> Self {
        self.children.push((name.into(), component));
        self
    }

    /// Link `(child, box)` to `(child, box)`, blocking when the destination is full.
    /// Use [`SELF`] as the child name for the Graphline's own boundary.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let g = chassis::graphline::Graphline::<u8, u8>::new()
    ///     .child("echo", from_fn("echo", |_c: Context<u8, u8>| async { Ok(()) }))
    ///     .link(("self", "inbox"), ("echo", "inbox"))
    ///     .link(("echo", "outbox"), ("self", "outbox"));
    /// # let _ = g;
    /// ```
    pub fn link(self, from: (&str, &str), to: (&str, &str)) -> Self {
        self.link_with(from, to, Policy::Block)
    }

    /// [`link`](Graphline::link) with an overflow [`Policy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, Policy, component::from_fn};
    /// let g = chassis::graphline::Graphline::<(), ()>::new()
    ///     .child("ticks", from_fn("ticks", |_c: Context<(), u64>| async { Ok(()) }))
    ///     .child("view", from_fn("view", |_c: Context<u64, ()>| async { Ok(()) }))
    ///     .link_with(("ticks", "outbox"), ("view", "inbox"), Policy::KeepLatest);
    /// # let _ = g;
    /// ```
    pub fn link_with(mut self, from: (&str, &str), to: (&str, &str), policy: Policy) -> Self {
        self.links.push(LinkSpec {
            from: (from.0.to_string(), from.1.to_string()),
            to: (to.0.to_string(), to.1.to_string()),
            policy,
        });
        self
    }

    /// The name shown in introspection and errors (`Graphline` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// let g = chassis::graphline::Graphline::<(), ()>::new().named("session");
    /// assert_eq!(g.name(), "session");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }
}

/// What `setup` knows while it makes the layout's links.
struct Layout<'a> {
    label: String,
    me: ComponentId,
    children: &'a [(String, ComponentId)],
    /// Own boxes that can be link sources (inboxes), and destinations (outboxes).
    sources: Vec<String>,
    destinations: Vec<String>,
    passthroughs: HashSet<String>,
}

impl Layout<'_> {
    fn child(&self, key: &str) -> Result<ComponentId, LinkError> {
        self.children
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, id)| *id)
            .ok_or_else(|| {
                let names: Vec<&str> = self.children.iter().map(|(k, _)| k.as_str()).collect();
                LinkError::UnknownComponent {
                    component: format!(
                        "{key:?} in {}; its children are: {} (and {SELF:?} for its own boxes)",
                        self.label,
                        names.join(", ")
                    ),
                }
            })
    }

    fn child_box(&self, s: &Setup<'_>, (key, name): &(String, String)) -> Result<BoxId, LinkError> {
        let id = self.child(key)?;
        s.runtime().box_id(id, name).map_err(|e| match e {
            LinkError::UnknownBox {
                component,
                name,
                existing,
            } => LinkError::UnknownBox {
                component: format!("child {key:?} ({component}) of {}", self.label),
                name,
                existing,
            },
            other => other,
        })
    }

    fn wrong_direction(&self, spec: &LinkSpec, reason: &'static str) -> LinkError {
        LinkError::WrongDirection {
            from: format!("{}.{}", spec.from.0, spec.from.1),
            to: format!("{}.{}", spec.to.0, spec.to.1),
            reason,
        }
    }

    /// The Graphline's own box `name` as the source of a link to `to`.
    fn own_source(
        &mut self,
        s: &mut Setup<'_>,
        spec: &LinkSpec,
        to: BoxId,
    ) -> Result<BoxId, LinkError> {
        let name = spec.from.1.as_str();
        if self.destinations.iter().any(|n| n == name) {
            return Err(self.wrong_direction(
                spec,
                "a Graphline's \"self\" outboxes can only be link destinations",
            ));
        }
        if self.sources.iter().any(|n| n == name) {
            if (name == "inbox" || name == "control") && self.passthroughs.insert(name.to_string())
            {
                s.make_passthrough(name)?;
            }
            return s.runtime().box_id(self.me, name);
        }
        let id = s.runtime().add_box_like(
            self.me,
            name.to_string(),
            "a boundary inbox named in the layout, passed through to a child",
            to,
        )?;
        self.sources.push(name.to_string());
        Ok(id)
    }

    /// The Graphline's own box `name` as the destination of a link from `from`.
    fn own_destination(
        &mut self,
        s: &mut Setup<'_>,
        spec: &LinkSpec,
        from: BoxId,
    ) -> Result<BoxId, LinkError> {
        let name = spec.to.1.as_str();
        if self.sources.iter().any(|n| n == name) {
            return Err(self.wrong_direction(
                spec,
                "a Graphline's \"self\" inboxes can only be link sources",
            ));
        }
        if self.destinations.iter().any(|n| n == name) {
            return s.runtime().box_id(self.me, name);
        }
        let id = s.runtime().add_box_like(
            self.me,
            name.to_string(),
            "a boundary outbox named in the layout, fed by a child",
            from,
        )?;
        self.destinations.push(name.to_string());
        Ok(id)
    }
}

/// Add the layout's names to the box labels of a link error, so both ends can be found.
fn in_layout(e: LinkError, spec: &LinkSpec) -> LinkError {
    let from = |label: String| format!("{}.{} [{label}]", spec.from.0, spec.from.1);
    let to = |label: String| format!("{}.{} [{label}]", spec.to.0, spec.to.1);
    match e {
        LinkError::TypeMismatch {
            from: f,
            from_type,
            to: t,
            to_type,
        } => LinkError::TypeMismatch {
            from: from(f),
            from_type,
            to: to(t),
            to_type,
        },
        LinkError::AlreadyLinked {
            from: f,
            to: t,
            existing,
        } => LinkError::AlreadyLinked {
            from: from(f),
            to: to(t),
            existing,
        },
        LinkError::WrongDirection {
            from: f,
            to: t,
            reason,
        } => LinkError::WrongDirection {
            from: from(f),
            to: to(t),
            reason,
        },
        other => other,
    }
}

impl<I: Send + 'static, O: Send + 'static> Component for Graphline<I, O> {
    type In = I;
    type Out = O;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let rt = s.runtime().clone();
        let me = s.id();
        let label = format!("{}#{}", self.name, me);
        let mut children: Vec<(String, ComponentId)> = Vec::with_capacity(self.children.len());
        for (key, child) in self.children.drain(..) {
            if key == SELF || children.iter().any(|(k, _)| *k == key) {
                return Err(LinkError::DuplicateBox {
                    component: format!("{label} (child names)"),
                    name: key,
                });
            }
            let id = s.add_child_dyn(child)?;
            children.push((key, id));
        }
        let mut layout = Layout {
            label,
            me,
            children: &children,
            sources: vec!["inbox".into(), "control".into()],
            destinations: vec!["outbox".into(), "signal".into()],
            passthroughs: HashSet::new(),
        };
        let mut wired = HashSet::new();
        for spec in std::mem::take(&mut self.links) {
            let (from, to) = match (spec.from.0 == SELF, spec.to.0 == SELF) {
                (true, true) => {
                    return Err(layout.wrong_direction(
                        &spec,
                        "a Graphline cannot link its own boundary boxes to each other",
                    ));
                }
                (true, false) => {
                    let to = layout.child_box(s, &spec.to)?;
                    (layout.own_source(s, &spec, to)?, to)
                }
                (false, true) => {
                    let from = layout.child_box(s, &spec.from)?;
                    (from, layout.own_destination(s, &spec, from)?)
                }
                (false, false) => (
                    layout.child_box(s, &spec.from)?,
                    layout.child_box(s, &spec.to)?,
                ),
            };
            s.link_ids(from, to, spec.policy)
                .map_err(|e| in_layout(e, &spec))?;
            if spec.to.0 != SELF && spec.to.1 == "control" {
                wired.insert(to.component());
            }
        }
        if layout.passthroughs.contains("control") {
            return Ok(());
        }
        let signal = rt.box_id(me, "signal")?;
        for (key, id) in &children {
            if wired.contains(id) {
                continue;
            }
            let name = format!("control->{key}");
            let out = rt.add_box_like(
                me,
                name.clone(),
                "forwards the Graphline's control to a child whose control is not wired",
                signal,
            )?;
            s.link_ids(out, rt.box_id(*id, "control")?, Policy::Block)?;
            self.forward.push(name);
        }
        // The body reads control next to its children's exits, so control passes
        // through to an inbox the body owns.
        read_own_control(
            s,
            "the Graphline's control, read by its body",
            "forwarded to every child whose control is not wired",
        )?;
        self.reads_control = true;
        Ok(())
    }

    async fn run(self, mut ctx: Context<I, O>) -> Result<(), BoxError> {
        let mut forward = Vec::with_capacity(self.forward.len());
        for name in &self.forward {
            forward.push(ctx.outbox_named::<Control>(name)?);
        }
        let mut control = if self.reads_control {
            Some(ctx.take_inbox::<Control>(CONTROL_IN)?)
        } else {
            None
        };
        let mut received_shutdown = false;
        let mut sup = ChildWatch::new();
        loop {
            tokio::select! {
                biased;
                c = recv_some(&mut control) => match c {
                    Some(c) => {
                        received_shutdown |= c.is_stop();
                        for out in &mut forward {
                            // A child that has ended no longer needs it.
                            let _ = out.send(c).await;
                        }
                    }
                    None => control = None,
                },
                exit = ctx.next_child_exit() => match exit {
                    Some(exit) => sup.child_ended(&ctx, exit),
                    None => break,
                },
                () = sup.progress() => {}
            }
        }
        let shut_down = if self.reads_control {
            received_shutdown
        } else {
            sup.any_shut_down()
        };
        sup.finish(&mut ctx, shut_down)
    }
}

/// Receive from an inbox if there is one; pend forever otherwise.
async fn recv_some(inbox: &mut Option<Inbox<Control>>) -> Option<Control> {
    match inbox {
        Some(inbox) => inbox.recv().await,
        None => std::future::pending().await,
    }
}
