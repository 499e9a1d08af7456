//! Names of things in a graph: [`ComponentId`], [`BoxId`] and the typed [`BoxRef`].

use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// The id of a component, unique within its [`Runtime`](crate::Runtime) and never reused.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let rt = axon::Runtime::new();
/// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<(), ()>| async { Ok(()) })).unwrap();
/// assert!(p.id().get() > 0);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ComponentId(pub(crate) u64);

impl ComponentId {
    /// The number behind the id.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(axon::ComponentId::from_raw(7).get(), 7);
    /// ```
    pub fn get(self) -> u64 {
        self.0
    }

    /// An id from its number (for look-ups; ids are handed out by the runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// let id = axon::ComponentId::from_raw(42);
    /// assert_eq!(id.to_string(), "42");
    /// assert!(rt.snapshot().component(id).is_none());
    /// ```
    pub fn from_raw(n: u64) -> Self {
        ComponentId(n)
    }
}

impl std::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The id of one box: its component and its slot.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let rt = axon::Runtime::new();
/// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<(), ()>| async { Ok(()) })).unwrap();
/// let id = rt.box_id(p.id(), "outbox").unwrap();
/// assert_eq!(id.component(), p.id());
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BoxId {
    pub(crate) component: ComponentId,
    pub(crate) index: u32,
}

impl BoxId {
    /// The component that owns the box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(p.outbox().id().component(), p.id());
    /// # }
    /// ```
    pub fn component(self) -> ComponentId {
        self.component
    }
}

/// A typed reference to a box in a runtime's graph, used to make links that the
/// compiler checks: [`Runtime::link`](crate::Runtime::link) takes two `BoxRef<T>` of
/// the same `T`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Runtime, Context, component::from_fn};
/// let rt = Runtime::new();
/// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
/// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
/// rt.link(a.outbox(), b.inbox()).unwrap();
/// # }
/// ```
pub struct BoxRef<T> {
    pub(crate) id: BoxId,
    pub(super) _t: PhantomData<fn() -> T>,
}

impl<T> BoxRef<T> {
    pub(crate) fn new(id: BoxId) -> Self {
        BoxRef {
            id,
            _t: PhantomData,
        }
    }

    /// The untyped id of the box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(p.inbox().id(), rt.box_id(p.id(), "inbox").unwrap());
    /// # }
    /// ```
    pub fn id(&self) -> BoxId {
        self.id
    }
}

impl<T> Clone for BoxRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for BoxRef<T> {}

impl<T> std::fmt::Debug for BoxRef<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxRef").field("id", &self.id).finish()
    }
}
