//! Making, changing and removing links between boxes.

use super::Runtime;
use crate::boxes::{BoxId, BoxRef, ComponentId, Policy};
use crate::error::LinkError;
use crate::introspect::GraphEvent;

impl Runtime {
    /// The id of a component's box.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownComponent`] or [`LinkError::UnknownBox`] (listing the boxes it has).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let id = rt.box_id(p.id(), "outbox").unwrap();
    /// assert_eq!(id, p.outbox().id());
    /// assert!(rt.box_id(p.id(), "nope").is_err());
    /// # }
    /// ```
    pub fn box_id(&self, component: ComponentId, name: &str) -> Result<BoxId, LinkError> {
        self.lock().box_id(component, name)
    }

    /// A typed reference to a component's box, checking its type.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] or [`LinkError::WrongType`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let outbox = rt.box_ref::<u8>(p.id(), "outbox").unwrap();
    /// assert_eq!(outbox.id(), p.outbox().id());
    /// assert!(matches!(rt.box_ref::<String>(p.id(), "outbox"), Err(axon::LinkError::WrongType { .. })));
    /// # }
    /// ```
    pub fn box_ref<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: &str,
    ) -> Result<BoxRef<T>, LinkError> {
        let st = self.lock();
        let id = st.box_id(component, name)?;
        let b = st.get_box(id).ok_or_else(|| LinkError::UnknownComponent {
            component: format!("#{}", component.0),
        })?;
        if b.node.msg_type() != std::any::TypeId::of::<T>() {
            return Err(LinkError::WrongType {
                component: st.entry(component)?.label(component),
                name: name.to_string(),
                actual: b.node.type_name(),
                asked: std::any::type_name::<T>(),
            });
        }
        Ok(BoxRef::new(id))
    }

    /// Link `from` (an outbox, or a composite's passthrough inbox) to `to`, blocking
    /// when `to` is full. The types are checked by the compiler.
    ///
    /// # Errors
    ///
    /// [`LinkError::AlreadyLinked`] if `from` has a destination,
    /// [`LinkError::WrongDirection`], [`LinkError::Cycle`], or an unknown box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, LinkError, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// // A source has one destination.
    /// assert!(matches!(rt.link(a.outbox(), b.inbox()), Err(LinkError::AlreadyLinked { .. })));
    /// # }
    /// ```
    pub fn link<T: Send + 'static>(&self, from: BoxRef<T>, to: BoxRef<T>) -> Result<(), LinkError> {
        self.link_ids(from.id, to.id, Policy::Block)
    }

    /// [`link`](Runtime::link) with an overflow [`Policy`].
    ///
    /// # Errors
    ///
    /// As [`link`](Runtime::link).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Policy, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link_with(a.outbox(), b.inbox(), Policy::KeepLatest).unwrap();
    /// assert_eq!(rt.snapshot().links[0].policy, Policy::KeepLatest);
    /// # }
    /// ```
    pub fn link_with<T: Send + 'static>(
        &self,
        from: BoxRef<T>,
        to: BoxRef<T>,
        policy: Policy,
    ) -> Result<(), LinkError> {
        self.link_ids(from.id, to.id, policy)
    }

    /// Link two boxes by id, checking when made that they carry the same type.
    ///
    /// # Errors
    ///
    /// [`LinkError::TypeMismatch`] naming both ends and types, and as [`link`](Runtime::link).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, LinkError, Policy, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// let (from, to) = (rt.box_id(a.id(), "outbox").unwrap(), rt.box_id(b.id(), "inbox").unwrap());
    /// let err = rt.link_ids(from, to, Policy::Block).unwrap_err();
    /// assert!(matches!(err, LinkError::TypeMismatch { .. }));
    /// # }
    /// ```
    pub fn link_ids(&self, from: BoxId, to: BoxId, policy: Policy) -> Result<(), LinkError> {
        let labels = {
            let mut st = self.lock();
            st.link(from, to, policy, false)?;
            // Labels are strings: make them only for someone watching.
            self.watched().then(|| (st.label(from), st.label(to)))
        };
        if let Some((from, to)) = labels {
            self.emit(|| GraphEvent::Linked { from, to, policy });
        }
        Ok(())
    }

    /// Link two boxes by component and box name, checking names and types when made.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownBox`] listing the boxes that exist, and as [`link_ids`](Runtime::link_ids).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Runtime, Context, Policy, component::from_fn};
    /// let rt = Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), String>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<Vec<u8>, ()>| async { Ok(()) })).unwrap();
    /// let err = rt.link_named((a.id(), "outbox"), (b.id(), "inbox"), Policy::Block).unwrap_err();
    /// let text = err.to_string();
    /// assert!(text.contains("a#") && text.contains("b#") && text.contains("String"), "{text}");
    /// # }
    /// ```
    pub fn link_named(
        &self,
        from: (ComponentId, &str),
        to: (ComponentId, &str),
        policy: Policy,
    ) -> Result<(), LinkError> {
        let (f, t) = {
            let st = self.lock();
            (st.box_id(from.0, from.1)?, st.box_id(to.0, to.1)?)
        };
        self.link_ids(f, t, policy)
    }

    /// Point `from` at a new destination in one step: every message is delivered to
    /// the old destination or the new one, exactly once.
    ///
    /// # Errors
    ///
    /// As [`link_ids`](Runtime::link_ids), except that an existing link is replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Policy, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// let c = rt.add(from_fn("c", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// rt.relink_ids(a.outbox().id(), c.inbox().id(), Policy::DropNewest).unwrap();
    /// let links = rt.snapshot().links;
    /// assert_eq!((links.len(), links[0].to_component), (1, c.id()));
    /// # }
    /// ```
    pub fn relink_ids(&self, from: BoxId, to: BoxId, policy: Policy) -> Result<(), LinkError> {
        let (old, labels) = {
            let mut st = self.lock();
            let old = st.link(from, to, policy, true)?;
            (old.map(|o| st.label(o)), (st.label(from), st.label(to)))
        };
        if let Some(old) = old {
            self.emit(|| GraphEvent::Unlinked {
                from: labels.0.clone(),
                to: old,
            });
        }
        self.emit(|| GraphEvent::Linked {
            from: labels.0,
            to: labels.1,
            policy,
        });
        Ok(())
    }

    /// Typed [`relink_ids`](Runtime::relink_ids).
    ///
    /// # Errors
    ///
    /// As [`relink_ids`](Runtime::relink_ids).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// let c = rt.add(from_fn("c", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// rt.relink(a.outbox(), c.inbox()).unwrap();
    /// assert_eq!(rt.snapshot().links[0].to_component, c.id());
    /// # }
    /// ```
    pub fn relink<T: Send + 'static>(
        &self,
        from: BoxRef<T>,
        to: BoxRef<T>,
    ) -> Result<(), LinkError> {
        self.relink_ids(from.id, to.id, Policy::Block)
    }

    /// Remove the link from `from`. Messages already delivered stay where they landed;
    /// later sends on `from` are handed back as undelivered.
    ///
    /// # Errors
    ///
    /// [`LinkError::NotLinked`] if there is no link.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, LinkError, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// rt.unlink(a.outbox().id()).unwrap();
    /// assert!(rt.snapshot().links.is_empty());
    /// assert!(matches!(rt.unlink(a.outbox().id()), Err(LinkError::NotLinked { .. })));
    /// # }
    /// ```
    pub fn unlink(&self, from: BoxId) -> Result<(), LinkError> {
        let labels = {
            let mut st = self.lock();
            let to = st.unlink(from)?;
            (st.label(from), st.label(to))
        };
        self.emit(|| GraphEvent::Unlinked {
            from: labels.0,
            to: labels.1,
        });
        Ok(())
    }
}
