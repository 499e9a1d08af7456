//! The [`Runtime`]: adds, links, starts, watches and removes components.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::boxes::{ComponentId, InboxNode, Node, NodeKind, OutboxNode, make_node};
use crate::component::{Component, Setup};
use crate::control::Control;
use crate::error::{LinkError, SendError};
use crate::exit::ChildExit;
use crate::graph::{BoxEntry, BoxLabel, ComponentEntry, GraphState, Phase};
use crate::introspect::{GraphEvent, Snapshot};

mod handle;
mod links;
mod nodes;
mod prepared;
mod services;
mod shutdown;
mod task;

pub use handle::Handle;
pub use prepared::{Prepared, PreparedDyn};
pub use shutdown::ShutdownSummary;

const EVENT_CAPACITY: usize = 4096;

/// A graph of components running on the current tokio runtime.
///
/// Cheap to clone: clones share one graph. Components are added (boxes declared,
/// children prepared), linked, then started; a started component's body runs as one
/// tokio task. Everything alive can be listed with [`snapshot`](Runtime::snapshot) and
/// followed with [`subscribe`](Runtime::subscribe).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Runtime, Context, component::from_fn};
///
/// let rt = Runtime::new();
/// let numbers = rt.add(from_fn("numbers", |mut ctx: Context<(), u32>| async move {
///     for n in 1..=3 { ctx.send(n).await?; }
///     Ok(())
/// })).unwrap();
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let sum = rt.add(from_fn("sum", move |mut ctx: Context<u32, ()>| async move {
///     let mut total = 0;
///     while let Some(n) = ctx.recv().await { total += n; }
///     let _ = tx.send(total);
///     Ok(())
/// })).unwrap();
/// rt.link(numbers.outbox(), sum.inbox()).unwrap();
/// rt.link(numbers.signal(), sum.control()).unwrap();
/// let (a, b) = (numbers.start(), sum.start());
/// assert_eq!(rx.await.unwrap(), 6);
/// assert!(a.join().await.is_clean() && b.join().await.is_clean());
/// # }
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    state: Mutex<GraphState>,
    next_id: AtomicU64,
    events: broadcast::Sender<GraphEvent>,
    /// Recordable types and tapped links ([`crate::record`]).
    recorder: crate::record::Registry,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("components", &self.live_components())
            .finish()
    }
}

pub(crate) trait Startable: Send {
    fn start_boxed(self: Box<Self>) -> Handle;
}

impl Runtime {
    /// An empty graph.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// assert_eq!(rt.live_components(), 0);
    /// ```
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Runtime {
            inner: Arc::new(Inner {
                state: Mutex::new(GraphState::default()),
                next_id: AtomicU64::new(1),
                events,
                recorder: crate::record::Registry::default(),
            }),
        }
    }

    pub(crate) fn recorder(&self) -> &crate::record::Registry {
        &self.inner.recorder
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, GraphState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True if anyone subscribed to graph events.
    pub(crate) fn watched(&self) -> bool {
        self.inner.events.receiver_count() > 0
    }

    pub(crate) fn emit(&self, event: impl FnOnce() -> GraphEvent) {
        if self.watched() {
            let _ = self.inner.events.send(event());
        }
    }

    /// Add a component and run its [`setup`](Component::setup), without starting it.
    ///
    /// # Errors
    ///
    /// As the component's `setup`; nothing of it stays in the graph.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(from_fn("x", |_c: Context<u8, u8>| async { Ok(()) })).unwrap();
    /// assert_eq!(rt.snapshot().component(p.id()).unwrap().state, "prepared");
    /// let h = p.start();
    /// assert_eq!(rt.snapshot().component(h.id()).unwrap().state, "running");
    /// # }
    /// ```
    pub fn add<C: Component>(&self, component: C) -> Result<Prepared<C>, LinkError> {
        self.prepare(component, None)
    }

    /// Add a component and start it.
    ///
    /// # Errors
    ///
    /// As the component's `setup`.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("once", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// assert!(h.join().await.is_clean());
    /// assert_eq!(rt.live_components(), 0);
    /// # }
    /// ```
    pub fn spawn<C: Component>(&self, component: C) -> Result<Handle, LinkError> {
        Ok(self.add(component)?.start())
    }

    pub(crate) fn prepare<C: Component>(
        &self,
        mut component: C,
        parent: Option<ComponentId>,
    ) -> Result<Prepared<C>, LinkError> {
        let id = self.next_component_id();
        let name = component.name();
        let boxes = vec![
            Some(entry(
                "inbox",
                "data in",
                Arc::new(InboxNode::<C::In>::new(crate::DEFAULT_CAPACITY)),
            )),
            Some(entry(
                "control",
                "lifecycle messages in",
                Arc::new(InboxNode::<Control>::new(crate::CONTROL_CAPACITY)),
            )),
            Some(entry(
                "outbox",
                "data out",
                Arc::new(OutboxNode::<C::Out>::default_outbox()),
            )),
            Some(new_box::<Control>(
                "signal",
                "lifecycle messages out",
                NodeKind::Outbox,
                0,
            )),
        ];
        {
            let mut st = self.lock();
            if let Some(p) = parent {
                let pe = st.entry_mut(p)?;
                pe.child_channel().children.push(id);
            }
            st.components.insert(
                id,
                Box::new(ComponentEntry::new(
                    name.clone(),
                    parent,
                    boxes,
                    Phase::Prepared,
                )),
            );
        }
        let mut children = Vec::new();
        let result = component.setup(&mut Setup {
            rt: self,
            id,
            children: &mut children,
        });
        if let Err(e) = result {
            drop(children);
            self.discard(id);
            return Err(e);
        }
        self.emit(|| GraphEvent::Added {
            id,
            name: name.to_string(),
            parent,
        });
        Ok(Prepared {
            rt: self.clone(),
            id,
            component: Some(component),
            children,
            tag: None,
        })
    }

    pub(crate) fn next_component_id(&self) -> ComponentId {
        ComponentId(self.inner.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Stop a component's body where it is ([`Exit::Aborted`](crate::Exit::Aborted)). Does nothing if it has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Runtime, Context, Exit, component::from_fn};
    /// let rt = Runtime::new();
    /// let h = rt.spawn(from_fn("stuck", |_c: Context<(), ()>| std::future::pending())).unwrap();
    /// rt.kill(h.id());
    /// assert!(matches!(h.join().await, Exit::Aborted));
    /// # }
    /// ```
    pub fn kill(&self, id: ComponentId) {
        let abort = {
            let mut st = self.lock();
            match st.components.get_mut(&id) {
                Some(e) if e.abort.is_none() && e.phase == Phase::Running => {
                    // Starting: stopped as soon as it can be.
                    e.kill_pending = true;
                    None
                }
                Some(e) => e.abort.clone(),
                None => None,
            }
        };
        if let Some(a) = abort {
            a.stop();
        }
    }

    /// Send a lifecycle message to a component's `control`, following passthroughs.
    ///
    /// # Errors
    ///
    /// [`SendError`] if the component has ended or its `control` leads nowhere.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in the sense that dropping the future before it completes leaves `msg`
    /// unsent (it is never half-sent); call again to retry.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Control, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("idle", |mut ctx: Context<u8, ()>| async move {
    ///     while ctx.recv().await.is_some() {}
    ///     Ok(())
    /// })).unwrap();
    /// rt.send_control(h.id(), Control::ProducerFinished).await.unwrap();
    /// assert!(h.join().await.is_clean());
    /// # }
    /// ```
    pub async fn send_control(
        &self,
        id: ComponentId,
        msg: Control,
    ) -> Result<(), SendError<Control>> {
        let target = {
            let st = self.lock();
            let Ok(start) = st.box_id(id, "control") else {
                return Err(SendError::new(msg));
            };
            let mut cur = start;
            let mut found = None;
            for _ in 0..1024 {
                let Some(b) = st.get_box(cur) else { break };
                if b.node.kind() == NodeKind::Inbox {
                    found = Some(b.node.clone());
                    break;
                }
                match b.link() {
                    Some(l) => cur = l.to,
                    None => break,
                }
            }
            found
        };
        let Some(node) = target.and_then(|n| n.as_any_arc().downcast::<InboxNode<Control>>().ok())
        else {
            return Err(SendError::new(msg));
        };
        node.queue().push(msg).await.map_err(SendError::new)?;
        Ok(())
    }

    pub(crate) fn take_child_rx(&self, id: ComponentId) -> Option<UnboundedReceiver<ChildExit>> {
        let mut st = self.lock();
        st.components.get_mut(&id)?.child_channel().child_rx.take()
    }

    pub(crate) fn live_children(&self, id: ComponentId) -> usize {
        self.lock()
            .components
            .get(&id)
            .map_or(0, |e| e.children().len())
    }

    /// The ids of a component's live children.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// assert!(rt.children_of(axon::ComponentId::from_raw(1)).is_empty());
    /// ```
    pub fn children_of(&self, id: ComponentId) -> Vec<ComponentId> {
        self.lock()
            .components
            .get(&id)
            .map(|e| e.children().to_vec())
            .unwrap_or_default()
    }

    /// True while the component is in the graph (added and not yet ended and removed).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("once", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// let id = h.id();
    /// h.join().await;
    /// assert!(!rt.is_alive(id));
    /// # }
    /// ```
    pub fn is_alive(&self, id: ComponentId) -> bool {
        self.lock().components.contains_key(&id)
    }

    /// Record that `id` is a restarted instance of a supervisor's child: the snapshot
    /// shows `restarts` and `last_failure` on it, and subscribers get
    /// [`GraphEvent::Restarted`]. Supervisors call this; a hand-written one can too.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let sup = rt.add(from_fn("sup", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// let again = rt.add(from_fn("worker", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// rt.mark_restarted(sup.id(), "worker", again.id(), 1, "panicked: boom");
    /// let snap = rt.snapshot();
    /// let info = snap.component(again.id()).unwrap();
    /// assert_eq!((info.restarts, info.last_failure.as_deref()), (1, Some("panicked: boom")));
    /// # }
    /// ```
    pub fn mark_restarted(
        &self,
        supervisor: ComponentId,
        child: &str,
        id: ComponentId,
        restarts: u32,
        reason: &str,
    ) {
        {
            let mut st = self.lock();
            if !st.components.contains_key(&id) {
                return;
            }
            st.restarts.insert(
                id,
                crate::graph::RestartRecord {
                    restarts,
                    last_failure: reason.to_string(),
                },
            );
        }
        self.emit(|| GraphEvent::Restarted {
            supervisor,
            child: child.to_string(),
            id,
            restarts,
            reason: reason.to_string(),
        });
    }

    /// Publish counters of `id` that are not box counters (a server's accepted and
    /// rejected sockets, say): [`snapshot`](Runtime::snapshot) calls `read` and lists
    /// what it returns in [`ComponentInfo::counters`](crate::introspect::ComponentInfo::counters),
    /// and the dashboard's `/metrics` page shows each as `axon_<name>`. Names ending
    /// in `_total` are counters (only ever grow); others are gauges. `read` is called
    /// with the graph locked: it must only load atomics. Replaces what `id` published
    /// before; dropped when `id` ends. Does nothing if `id` is not alive.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(from_fn("server", |_c: Context<(), ()>| async { Ok(()) })).unwrap();
    /// let accepted = Arc::new(AtomicU64::new(3));
    /// let seen = accepted.clone();
    /// rt.publish_counters(p.id(), move || vec![("accepted_total", seen.load(Ordering::Relaxed))]);
    /// let snap = rt.snapshot();
    /// let c = &snap.component(p.id()).unwrap().counters[0];
    /// assert_eq!((c.name, c.value), ("accepted_total", 3));
    /// # }
    /// ```
    pub fn publish_counters(
        &self,
        id: ComponentId,
        read: impl Fn() -> Vec<(&'static str, u64)> + Send + Sync + 'static,
    ) {
        let mut st = self.lock();
        if st.components.contains_key(&id) {
            st.published.insert(id, std::sync::Arc::new(read));
        }
    }

    /// From now on, keep the final box counters of components that end, summed by
    /// (parent, name, box), for counters that must only grow (the dashboard's
    /// `/metrics`).
    #[cfg(feature = "dashboard")]
    pub(crate) fn keep_ended_totals(&self) {
        self.lock().ended.get_or_insert_with(Default::default);
    }

    /// How many components are alive (added and not yet ended).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(axon::Runtime::new().live_components(), 0);
    /// ```
    pub fn live_components(&self) -> usize {
        self.lock().components.len()
    }

    /// Everything alive now: components, boxes with their counters, and links.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let _p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let snap = rt.snapshot();
    /// assert_eq!(snap.components.len(), 1);
    /// assert!(snap.to_json().contains("\"x\""));
    /// # }
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let mut snap = crate::introspect::snapshot(&self.lock());
        snap.recordings = self.recordings();
        snap
    }

    /// A stream of changes to the graph from now on: components added, started and
    /// ended (with their exit reason), boxes added and removed, links made and removed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::GraphEvent;
    /// let rt = axon::Runtime::new();
    /// let mut events = rt.subscribe();
    /// let h = rt.spawn(axon::component::from_fn("once", |_c: axon::Context<(), ()>| async { Ok(()) })).unwrap();
    /// h.join().await;
    /// let mut saw_exit = false;
    /// while let Ok(ev) = events.try_recv() {
    ///     saw_exit |= matches!(ev, GraphEvent::Exited { .. });
    /// }
    /// assert!(saw_exit);
    /// # }
    /// ```
    pub fn subscribe(&self) -> broadcast::Receiver<GraphEvent> {
        self.inner.events.subscribe()
    }
}

pub(super) fn new_box<T: Send + 'static>(
    name: &'static str,
    description: &'static str,
    kind: NodeKind,
    capacity: usize,
) -> BoxEntry {
    entry(name, description, make_node::<T>(kind, capacity))
}

pub(super) fn entry(
    name: &'static str,
    description: &'static str,
    node: Arc<dyn Node>,
) -> BoxEntry {
    BoxEntry::new(BoxLabel::new(Cow::Borrowed(name), description), node)
}
