//! Boxes of components: adding, describing, reshaping (passthrough, capacity, byte
//! budget), handing out and removing their nodes.

use super::Runtime;
use crate::boxes::{
    BoxId, BoxRef, ComponentId, Inbox, InboxNode, Node, NodeKind, Outbox, OutboxMeta, OutboxNode,
    make_node,
};
use crate::error::LinkError;
use crate::graph::{BoxEntry, BoxLabel};
use crate::introspect::GraphEvent;
use crate::size::MessageSize;
use std::borrow::Cow;
use std::sync::Arc;

impl Runtime {
    pub(super) fn add_node(
        &self,
        component: ComponentId,
        name: Cow<'static, str>,
        description: &'static str,
        node: Arc<dyn Node>,
    ) -> Result<BoxId, LinkError> {
        let id = {
            let mut st = self.lock();
            let entry = st.entry_mut(component)?;
            if entry.find(&name).is_some() {
                return Err(LinkError::DuplicateBox {
                    component: entry.label(component),
                    name: name.to_string(),
                });
            }
            let index = entry.boxes.len() as u32;
            // Exactly as many slots as boxes: most components add boxes only during
            // setup, and a graph entry keeps no spare room.
            let mut boxes = std::mem::take(&mut entry.boxes).into_vec();
            boxes.reserve_exact(1);
            boxes.push(Some(BoxEntry::new(
                BoxLabel::new(name.clone(), description),
                node,
            )));
            entry.boxes = boxes.into_boxed_slice();
            BoxId { component, index }
        };
        self.emit(|| GraphEvent::BoxAdded {
            component,
            name: name.to_string(),
        });
        Ok(id)
    }

    pub(crate) fn add_inbox_node<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
        capacity: usize,
    ) -> Result<BoxId, LinkError> {
        self.add_node(
            component,
            name.into(),
            description,
            make_node::<T>(NodeKind::Inbox, capacity),
        )
    }

    pub(crate) fn add_outbox_node<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
    ) -> Result<BoxId, LinkError> {
        let name = name.into();
        let meta = {
            let st = self.lock();
            let entry = st.entry(component)?;
            let box_name = match &name {
                Cow::Borrowed(name) => Ok(*name),
                Cow::Owned(name) => Err(name.as_str()),
            };
            let component_name = entry.static_name().ok_or(entry.name());
            OutboxMeta::named(box_name, component_name, crate::ask::is_request::<T>())
        };
        self.add_node(
            component,
            name,
            description,
            Arc::new(OutboxNode::<T>::labelled(meta, component.0)),
        )
    }

    pub(crate) fn add_passthrough_node<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
    ) -> Result<BoxId, LinkError> {
        self.add_node(
            component,
            name.into(),
            description,
            make_node::<T>(NodeKind::Passthrough, 0),
        )
    }

    /// Add a box shaped like another box (same message type), for composites that
    /// expose a child's box under their own name.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownComponent`] if `like` does not exist, [`LinkError::DuplicateBox`] for `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let inner = rt.add(from_fn("inner", |_c: Context<u8, String>| async { Ok(()) })).unwrap();
    /// let outer = rt.add(from_fn("outer", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// let lines = rt.add_box_like(outer.id(), "lines", "the inner outbox", inner.outbox().id()).unwrap();
    /// // The new box carries the same type, so a typed reference to it checks out.
    /// assert_eq!(rt.box_ref::<String>(outer.id(), "lines").unwrap().id(), lines);
    /// # }
    /// ```
    pub fn add_box_like(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
        like: BoxId,
    ) -> Result<BoxId, LinkError> {
        let node = {
            let st = self.lock();
            let b = st
                .get_box(like)
                .ok_or_else(|| LinkError::UnknownComponent {
                    component: st.label(like),
                })?;
            let kind = match b.node.kind() {
                NodeKind::Outbox => NodeKind::Outbox,
                _ => NodeKind::Passthrough,
            };
            b.node.new_like(kind, 0)
        };
        self.add_node(component, name.into(), description, node)
    }

    /// Add a *hold* shaped like inbox `like` (same message type): a boundary inbox
    /// that passes messages along its link like a passthrough, and while it has no
    /// link (the inbox behind it ended and its replacement is not linked yet) keeps
    /// up to `capacity` of them, so senders wait instead of failing. Linking it again
    /// moves what it kept to the front of the new destination, ahead of anything sent
    /// there since. This is how a supervisor keeps its children's links across
    /// restarts; removing the hold drops what it kept (counted as unread).
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownComponent`] if `like` does not exist, [`LinkError::DuplicateBox`] for `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Policy, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let sup = rt.add(from_fn("sup", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// let first = rt.add(from_fn("first", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// let hold = rt.add_hold_like(sup.id(), "work", "kept across restarts", first.inbox().id(), 8).unwrap();
    /// let mut ext = rt.external("client");
    /// let (src, mut out) = ext.add_outbox::<u32>("out").unwrap();
    /// rt.link_ids(src.id(), hold, Policy::Block).unwrap();
    /// // Nothing behind the hold yet: the message waits in it.
    /// out.send(7).await.unwrap();
    /// rt.link_ids(hold, first.inbox().id(), Policy::Block).unwrap();
    /// // Linked: what it kept is now first's.
    /// let snap = rt.snapshot();
    /// assert_eq!(snap.component(first.id()).unwrap().boxes[0].depth, 1);
    /// # }
    /// ```
    pub fn add_hold_like(
        &self,
        component: ComponentId,
        name: impl Into<Cow<'static, str>>,
        description: &'static str,
        like: BoxId,
        capacity: usize,
    ) -> Result<BoxId, LinkError> {
        let node = {
            let st = self.lock();
            let b = st
                .get_box(like)
                .ok_or_else(|| LinkError::UnknownComponent {
                    component: st.label(like),
                })?;
            b.node.new_hold(capacity)
        };
        self.add_node(component, name.into(), description, node)
    }

    pub(crate) fn describe_box(
        &self,
        component: ComponentId,
        name: &str,
        description: &'static str,
    ) -> Result<(), LinkError> {
        let mut st = self.lock();
        let id = st.box_id(component, name)?;
        if let Some(b) = st.entry_mut(component)?.boxes[id.index as usize].as_mut() {
            b.label.set_description(description);
        }
        Ok(())
    }

    pub(super) fn replace_node(
        &self,
        component: ComponentId,
        name: &str,
        kind: NodeKind,
        capacity: usize,
    ) -> Result<(), LinkError> {
        let mut st = self.lock();
        let id = st.box_id(component, name)?;
        let entry = st.entry_mut(component)?;
        let Some(b) = entry.boxes[id.index as usize].as_ref() else {
            return Ok(());
        };
        if b.node.kind() == NodeKind::Outbox || b.node.is_taken() {
            let label = entry.label(component);
            return Err(LinkError::WrongDirection {
                from: format!("{label}.{name}"),
                to: format!("{label}.{name}"),
                reason: "only an inbox not yet in use can change its kind or capacity",
            });
        }
        if let Some(b) = entry.boxes[id.index as usize].as_mut() {
            b.node = b.node.new_like(kind, capacity);
        }
        st.refresh_from(id);
        let incoming = st
            .get_box(id)
            .map(|b| b.incoming().to_vec())
            .unwrap_or_default();
        for src in incoming {
            st.refresh_from(src);
        }
        Ok(())
    }

    pub(crate) fn make_passthrough(
        &self,
        component: ComponentId,
        name: &str,
    ) -> Result<(), LinkError> {
        self.replace_node(component, name, NodeKind::Passthrough, 0)
    }

    pub(crate) fn set_capacity(
        &self,
        component: ComponentId,
        name: &str,
        capacity: usize,
    ) -> Result<(), LinkError> {
        self.replace_node(component, name, NodeKind::Inbox, capacity)
    }

    /// Bound a queued inbox in bytes as well as in messages: a send waits (or the
    /// link's policy applies) once the messages queued there add up to `bytes`, as
    /// measured by [`MessageSize`]. A message larger than the whole budget still enters
    /// an empty inbox, so what waits is bounded by about `bytes` plus one message. The
    /// budget can be set before or while the component runs, and is kept by a later
    /// [`Setup::set_capacity`](crate::Setup::set_capacity). Budgets are counted in 32
    /// bits: one above 1 GiB bounds at 1 GiB, and a message above 1 GiB counts as 1 GiB.
    ///
    /// A passthrough inbox (a composite's boundary) passes the budget on to the queued
    /// inbox it leads to.
    ///
    /// # Errors
    ///
    /// [`LinkError::WrongDirection`] if `inbox` is an outbox or a passthrough that
    /// leads to no queued inbox yet; an unknown box.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Bytes, Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let writer = rt.add(from_fn("writer", |mut c: Context<Bytes, ()>| async move {
    ///     while c.recv().await.is_some() {}
    ///     Ok(())
    /// })).unwrap();
    /// rt.set_byte_budget(writer.inbox(), 256 * 1024).unwrap();
    /// let snap = rt.snapshot();
    /// let inbox = snap.component(writer.id()).unwrap().boxes.iter().find(|b| b.name == "inbox").unwrap();
    /// assert_eq!((inbox.bytes, inbox.byte_budget), (Some(0), Some(256 * 1024)));
    /// # }
    /// ```
    pub fn set_byte_budget<T: MessageSize + Send + 'static>(
        &self,
        inbox: BoxRef<T>,
        bytes: usize,
    ) -> Result<(), LinkError> {
        let id = inbox.id();
        let node = {
            let st = self.lock();
            let entry = st.entry(id.component)?;
            let b = st.get_box(id).ok_or_else(|| LinkError::UnknownComponent {
                component: entry.label(id.component),
            })?;
            // Named only on error: a server sets budgets on every connection.
            let wrong = |reason| {
                let label = format!("{}.{}", entry.label(id.component), b.label.name());
                LinkError::WrongDirection {
                    from: label.clone(),
                    to: label,
                    reason,
                }
            };
            let node = match b.node.kind() {
                NodeKind::Inbox => b.node.clone(),
                // A composite's boundary: the budget goes on the inbox it leads to.
                NodeKind::Passthrough => st
                    .resolve(id)
                    .map(|(n, _, _)| n)
                    .ok_or_else(|| wrong("a passthrough inbox that leads to no queued inbox"))?,
                NodeKind::Outbox => return Err(wrong("an outbox has no queue to bound")),
            };
            node.as_any_arc()
                .downcast::<InboxNode<T>>()
                .map_err(|_| wrong("not an inbox of this message type"))?
        };
        node.queue()
            .set_budget(Some((bytes, <T as MessageSize>::message_size)));
        Ok(())
    }

    pub(crate) fn take_inbox<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: &str,
    ) -> Result<Inbox<T>, LinkError> {
        self.typed_node::<InboxNode<T>, T>(component, name, true)
            .map(Inbox::new)
    }

    pub(crate) fn take_inbox_key<T: Send + 'static>(
        &self,
        component: ComponentId,
        key: crate::InboxKey<T>,
    ) -> Result<Inbox<T>, LinkError> {
        self.declared_node::<InboxNode<T>, T>(component, key.id(), key.name(), true)
            .map(Inbox::new)
    }

    pub(crate) fn outbox_key<T: Send + 'static>(
        &self,
        component: ComponentId,
        key: crate::OutboxKey<T>,
    ) -> Result<Outbox<T>, LinkError> {
        self.declared_node::<OutboxNode<T>, T>(component, key.id(), key.name(), false)
            .map(Outbox::new)
    }

    /// The node of a box declared by key: by its id, if this component declared it.
    fn declared_node<N: Send + Sync + 'static, T>(
        &self,
        component: ComponentId,
        id: Option<BoxId>,
        name: &str,
        take: bool,
    ) -> Result<Arc<N>, LinkError> {
        match id {
            Some(id) if id.component == component => {
                self.typed_node_at::<N, T>(component, name, Some(id.index), take)
            }
            _ => Err(undeclared(self, component, name)),
        }
    }

    pub(crate) fn outbox_handle<T: Send + 'static>(
        &self,
        component: ComponentId,
        name: &str,
    ) -> Result<Outbox<T>, LinkError> {
        self.typed_node::<OutboxNode<T>, T>(component, name, false)
            .map(Outbox::new)
    }

    /// A box's node as its concrete type `N` (carrying `T`); with `take`, the box is
    /// marked taken and a second take is refused.
    pub(super) fn typed_node<N: Send + Sync + 'static, T>(
        &self,
        component: ComponentId,
        name: &str,
        take: bool,
    ) -> Result<Arc<N>, LinkError> {
        self.typed_node_at::<N, T>(component, name, None, take)
    }

    /// [`typed_node`](Runtime::typed_node), at a known index (a declared key's id: no
    /// lookup by name) when given.
    pub(super) fn typed_node_at<N: Send + Sync + 'static, T>(
        &self,
        component: ComponentId,
        name: &str,
        index: Option<u32>,
        take: bool,
    ) -> Result<Arc<N>, LinkError> {
        let mut st = self.lock();
        let id = match index {
            Some(index) => BoxId { component, index },
            None => st.box_id(component, name)?,
        };
        let label = st.entry(component)?.label(component);
        if st.entry(component)?.boxes.get(id.index as usize).is_none() {
            return Err(LinkError::UnknownBox {
                component: label,
                name: name.to_string(),
                existing: st.entry(component)?.box_names(),
            });
        }
        let Some(b) = st.entry_mut(component)?.boxes[id.index as usize].as_mut() else {
            return Err(LinkError::UnknownComponent { component: label });
        };
        if take && b.node.is_taken() {
            return Err(LinkError::AlreadyTaken {
                component: label,
                name: name.to_string(),
            });
        }
        let actual = b.node.type_name();
        let node =
            b.node
                .clone()
                .as_any_arc()
                .downcast::<N>()
                .map_err(|_| LinkError::WrongType {
                    component: label,
                    name: name.to_string(),
                    actual,
                    asked: std::any::type_name::<T>(),
                })?;
        if take {
            b.node.set_taken();
        }
        Ok(node)
    }

    pub(crate) fn remove_box(&self, component: ComponentId, name: &str) -> Result<(), LinkError> {
        let (node, labels) = {
            let mut st = self.lock();
            let id = st.box_id(component, name)?;
            let (entry, removed) =
                st.remove_box(id)
                    .ok_or_else(|| LinkError::UnknownComponent {
                        component: format!("#{}", component.0),
                    })?;
            let labels: Vec<(BoxId, BoxId)> = removed;
            (entry.node, labels)
        };
        let unread = node.close();
        if unread > 0 {
            tracing::debug!(
                component = component.0,
                box_name = name,
                unread,
                "removed an inbox with messages unread"
            );
        }
        for (from, to) in labels {
            self.emit(|| GraphEvent::Unlinked {
                from: format!("#{}:{}", from.component.0, from.index),
                to: format!("#{}:{}", to.component.0, to.index),
            });
        }
        self.emit(|| GraphEvent::BoxRemoved {
            component,
            name: name.to_string(),
        });
        Ok(())
    }
}

/// A key opened before (or without) being declared by this component.
fn undeclared(rt: &Runtime, component: ComponentId, name: &str) -> LinkError {
    let st = rt.lock();
    match st.entry(component) {
        Ok(e) => LinkError::UnknownBox {
            component: format!(
                "{} (the key for {name:?} was not declared in its setup)",
                e.label(component)
            ),
            name: name.to_string(),
            existing: e.box_names(),
        },
        Err(e) => e,
    }
}
