//! Endpoints for code outside the graph: a component entry with no body, whose boxes
//! are driven by the caller.

use std::borrow::Cow;

use crate::boxes::{BoxRef, ComponentId, Inbox, Outbox};
use crate::error::LinkError;
use crate::exit::Exit;
use crate::graph::{ComponentEntry, Phase};
use crate::introspect::GraphEvent;
use crate::runtime::Runtime;

/// A component with no body: plain code (a `main`, a test, a foreign callback) owns
/// its boxes and sends and receives through them, so it can take part in the graph
/// with links, policies and counters like any component. It leaves the graph when
/// dropped.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Runtime, Context, component::from_fn};
///
/// let rt = Runtime::new();
/// let double = rt.add(from_fn("double", |mut ctx: Context<u32, u32>| async move {
///     while let Some(n) = ctx.recv().await { ctx.send(n * 2).await?; }
///     Ok(())
/// })).unwrap();
/// let mut ext = rt.external("main");
/// let (to_ref, mut to) = ext.add_outbox::<u32>("numbers").unwrap();
/// let (from_ref, mut from) = ext.add_inbox::<u32>("results", 16).unwrap();
/// rt.link(to_ref, double.inbox()).unwrap();
/// rt.link(double.outbox(), from_ref).unwrap();
/// let _h = double.start();
/// to.send(21).await.unwrap();
/// assert_eq!(from.recv().await, Some(42));
/// # }
/// ```
pub struct External {
    rt: Runtime,
    id: ComponentId,
}

impl std::fmt::Debug for External {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("External").field("id", &self.id).finish()
    }
}

impl Runtime {
    /// Add an [`External`] component with no boxes.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// let ext = rt.external("main");
    /// assert_eq!(rt.snapshot().named("main").map(|c| c.id), Some(ext.id()));
    /// drop(ext);
    /// assert_eq!(rt.live_components(), 0);
    /// ```
    pub fn external(&self, name: impl Into<Cow<'static, str>>) -> External {
        let id = self.next_component_id();
        let name = name.into();
        self.lock().components.insert(
            id,
            Box::new(ComponentEntry::new(
                name.clone(),
                None,
                Vec::new(),
                Phase::Running,
            )),
        );
        self.emit(|| GraphEvent::Added {
            id,
            name: name.to_string(),
            parent: None,
        });
        External {
            rt: self.clone(),
            id,
        }
    }
}

impl External {
    /// Its id.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// let ext = rt.external("main");
    /// assert_eq!(rt.snapshot().component(ext.id()).unwrap().name, "main");
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// Add an inbox holding at most `capacity` messages, and take its handle.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// let mut ext = rt.external("main");
    /// let (_r, mut results) = ext.add_inbox::<u32>("results", 4).unwrap();
    /// assert_eq!(results.capacity(), 4);
    /// assert_eq!(results.try_recv(), Err(axon::TryRecvError::Empty));
    /// assert!(ext.add_inbox::<u32>("results", 4).is_err());
    /// ```
    pub fn add_inbox<T: Send + 'static>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        capacity: usize,
    ) -> Result<(BoxRef<T>, Inbox<T>), LinkError> {
        let name = name.into();
        let id = self
            .rt
            .add_inbox_node::<T>(self.id, name.clone(), "external inbox", capacity)?;
        Ok((BoxRef::new(id), self.rt.take_inbox::<T>(self.id, &name)?))
    }

    /// Add an outbox and get its handle.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateBox`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let mut ext = rt.external("main");
    /// let (_r, mut numbers) = ext.add_outbox::<u32>("numbers").unwrap();
    /// // Not linked yet: the message is handed back.
    /// assert_eq!(numbers.send(1).await, Err(axon::SendError::new(1)));
    /// # }
    /// ```
    pub fn add_outbox<T: Send + 'static>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
    ) -> Result<(BoxRef<T>, Outbox<T>), LinkError> {
        let name = name.into();
        let id = self
            .rt
            .add_outbox_node::<T>(self.id, name.clone(), "external outbox")?;
        Ok((BoxRef::new(id), self.rt.outbox_handle::<T>(self.id, &name)?))
    }
}

impl Drop for External {
    fn drop(&mut self) {
        self.rt.retire_external(self.id, &Exit::Finished);
    }
}
