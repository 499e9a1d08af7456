//! A component's task: starting it, its body with panic isolation, and the lifecycle
//! epilogue that says so on `signal`, logs and retires it from the graph.

use super::handle::{Handle, Joiner};
use super::{Runtime, Startable};
use crate::boxes::{BoxId, ComponentId, Inbox, InboxNode, Node, Outbox, OutboxNode};
use crate::component::{Component, Context};
use crate::control::Control;
use crate::exit::{ChildExit, Exit};
use crate::exit_reports;
use crate::graph::{Phase, Stopper};
use crate::introspect::GraphEvent;
use futures::FutureExt;
use futures::future::CatchUnwind;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context as TaskContext, Poll, ready};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A box node of a component being retired, and the hold its messages go back to, if any.
type Retiring = (Arc<dyn Node>, Option<Arc<dyn Node>>);

impl Runtime {
    pub(super) fn start<C: Component>(
        &self,
        id: ComponentId,
        component: C,
        children: Vec<Box<dyn Startable>>,
        tag: Option<u64>,
    ) -> Handle {
        match self.launch(id, component, children, tag) {
            Some(task) => Handle {
                rt: self.clone(),
                id,
                join: Some(Joiner::Task(self.spawn_task(id, task))),
            },
            None => Handle::detached(self.clone(), id),
        }
    }

    /// Spawn a component's own task and keep its abort handle in the graph.
    pub(super) fn spawn_task(
        &self,
        id: ComponentId,
        task: impl Future<Output = Exit> + Send + 'static,
    ) -> JoinHandle<Exit> {
        let join = tokio::spawn(task);
        self.set_stopper(id, Stopper::Task(join.abort_handle()));
        join
    }

    /// Record how to stop a component that is starting; if it was killed meanwhile,
    /// stop it now.
    pub(super) fn set_stopper(&self, id: ComponentId, stopper: Stopper) {
        let kill = {
            let mut st = self.lock();
            let Some(entry) = st.components.get_mut(&id) else {
                return;
            };
            if entry.kill_pending {
                true
            } else {
                entry.abort = Some(stopper.clone());
                false
            }
        };
        if kill {
            stopper.stop();
        }
    }

    /// Mark the component running, start its children and return its task: the body
    /// with panic isolation, then the lifecycle epilogue (signal, log, retire).
    /// `None` if the component is no longer in the graph.
    pub(super) fn launch<C: Component>(
        &self,
        id: ComponentId,
        component: C,
        children: Vec<Box<dyn Startable>>,
        tag: Option<u64>,
    ) -> Option<impl Future<Output = Exit> + Send + 'static> {
        let (ctx, control_node) = {
            let mut st = self.lock();
            let entry = st.components.get_mut(&id)?;
            entry.phase = Phase::Running;
            let node = |i: usize| entry.boxes[i].as_ref().map(|b| b.node.clone());
            let inbox_node =
                node(0).and_then(|n| n.as_any_arc().downcast::<InboxNode<C::In>>().ok());
            let control_node =
                node(1).and_then(|n| n.as_any_arc().downcast::<InboxNode<Control>>().ok());
            let outbox_node =
                node(2).and_then(|n| n.as_any_arc().downcast::<OutboxNode<C::Out>>().ok());
            let signal_node =
                node(3).and_then(|n| n.as_any_arc().downcast::<OutboxNode<Control>>().ok());
            for b in entry.boxes.iter().take(2).flatten() {
                b.node.set_taken();
            }
            let ctx = Context {
                inbox: inbox_node.map(Inbox::new).unwrap_or_else(Inbox::closed),
                control: control_node.map(Inbox::new).unwrap_or_else(Inbox::closed),
                outbox: outbox_node
                    .map(Outbox::new)
                    .unwrap_or_else(Outbox::detached),
                signal: signal_node
                    .map(Outbox::new)
                    .unwrap_or_else(Outbox::detached),
                rt: self.clone(),
                id,
                ending: None,
                children_rx: None,
                parked: None,
                control_parked: u64::MAX,
            };
            let control_node = ctx.control.node.clone();
            (ctx, control_node)
        };
        for child in children {
            // Children report to us through the channel; their handles are not needed.
            drop(child.start_boxed());
        }
        self.emit(|| GraphEvent::Started { id });
        Some(Running {
            stage: Stage::Body {
                body: AssertUnwindSafe(component.run(ctx)).catch_unwind(),
            },
            end: Some(Ending {
                rt: self.clone(),
                id,
                control_node,
                tag,
            }),
        })
    }

    /// Remove a component that ended (or was never started), its boxes, its links,
    /// and abort its live children.
    /// `ended`: the component's body ran and ended: say how (at `warn` for a failure,
    /// `error` for a panic) and tell its parent, before anyone else hears of the exit.
    pub(super) fn retire(&self, id: ComponentId, exit: &Exit, ended: bool, tag: Option<u64>) {
        let mut nodes: Vec<Retiring> = Vec::new();
        let mut unlinked = Vec::new();
        let mut aborts = Vec::new();
        let mut labels = Vec::new();
        let mut dropped = 0u64;
        let (name, parent, orphans) = {
            let mut st = self.lock();
            let Some(entry) = st.components.get(&id) else {
                return;
            };
            let count = entry.boxes.len();
            for index in 0..count {
                let bid = BoxId {
                    component: id,
                    index: index as u32,
                };
                if self.inner.events.receiver_count() > 0
                    && let Some(b) = st.get_box(bid)
                {
                    {
                        if let Some(l) = b.link() {
                            labels.push((st.label(bid), st.label(l.to)));
                        }
                        for src in b.incoming() {
                            labels.push((st.label(src), st.label(bid)));
                        }
                    }
                }
                if st.ended.is_some() {
                    note_ended(&mut st, bid);
                }
                if let Some((b, removed)) = st.remove_box(bid) {
                    dropped += b.node.dropped();
                    // An inbox reached through a hold (a supervisor's) hands what is
                    // still queued to the hold, for the next instance.
                    let hold = removed
                        .iter()
                        .filter(|(_, to)| *to == bid)
                        .filter_map(|(from, _)| st.get_box(*from))
                        .find(|h| h.node.held().is_some())
                        .map(|h| h.node.clone());
                    nodes.push((b.node, hold));
                    unlinked.extend(removed);
                }
            }
            let Some(entry) = st.components.remove(&id) else {
                return;
            };
            if !st.restarts.is_empty() {
                st.restarts.remove(&id);
            }
            if !st.published.is_empty() {
                st.published.remove(&id);
            }
            let mut orphans = Vec::new();
            for child in entry.children() {
                if let Some(c) = st.components.get_mut(child) {
                    match (&c.abort, c.phase) {
                        (Some(a), _) => aborts.push(a.clone()),
                        // Starting: it stops as soon as it can be stopped.
                        (None, Phase::Running) => c.kill_pending = true,
                        (None, Phase::Prepared) => orphans.push(*child),
                    }
                }
            }
            let parent = entry.parent();
            (entry.into_name(), parent, orphans)
        };
        if ended {
            match exit {
                Exit::Failed(e) => {
                    tracing::warn!(component = %name, id = id.0, error = %e, "component failed")
                }
                Exit::Panicked(m) => {
                    tracing::error!(component = %name, id = id.0, panic = %m, "component panicked")
                }
                _ => tracing::trace!(component = %name, id = id.0, %exit, "component ended"),
            }
        }
        let unread: u64 = nodes
            .iter()
            .map(|(node, hold)| {
                hold.as_ref()
                    .and_then(|h| node.hand_over(h))
                    .unwrap_or_else(|| node.close())
            })
            .sum();
        if dropped > 0 || unread > 0 {
            tracing::warn!(
                component = %name,
                id = id.0,
                dropped,
                unread,
                "{name}#{} ended ({exit}); lossy links dropped {dropped} of its messages, {unread} were left unread",
                id.0
            );
        }
        for a in aborts {
            a.stop();
        }
        for orphan in orphans {
            self.discard(orphan);
        }
        if let Some(p) = parent {
            let mut st = self.lock();
            if let Some(f) = st.components.get_mut(&p).and_then(|pe| pe.family.as_mut()) {
                // Under the graph's lock, which `next_exit` takes to look at the list.
                let reports = f.child_tx.as_ref().filter(|_| ended);
                exit_reports::leave(&mut f.children, &id, reports, || ChildExit {
                    id,
                    name: name.to_string(),
                    exit: exit.clone(),
                    tag,
                    unread,
                });
            }
        }
        for (from, to) in labels {
            self.emit(|| GraphEvent::Unlinked { from, to });
        }
        self.emit(|| GraphEvent::Exited {
            id,
            name: name.to_string(),
            exit: exit.to_string(),
            dropped,
            unread,
        });
    }

    /// An ending component's `signal` outbox, unless a link into it was ever made (a
    /// composite whose child speaks for it).
    pub(super) fn ending_signal(&self, id: ComponentId) -> Option<Arc<OutboxNode<Control>>> {
        let st = self.lock();
        if st.components.get(&id)?.signal_fed {
            return None;
        }
        let b = st.box_id(id, "signal").ok().and_then(|b| st.get_box(b))?;
        b.node
            .clone()
            .as_any_arc()
            .downcast::<OutboxNode<Control>>()
            .ok()
    }

    pub(crate) fn retire_external(&self, id: ComponentId, exit: &Exit) {
        self.retire(id, exit, false, None);
    }

    /// Remove a component that was never started.
    pub(crate) fn discard(&self, id: ComponentId) {
        self.retire(id, &Exit::Aborted, false, None);
    }
}

/// What a component's task does after its body: say so on `signal`, log, retire.
/// Everything else it needs is looked up in the graph then, so a waiting component's
/// task carries only this.
pub(super) struct Ending {
    rt: Runtime,
    id: ComponentId,
    /// The `control` its body read (where the last lifecycle message is noted; not
    /// necessarily the graph's, which a composite turns into a passthrough).
    control_node: Arc<InboxNode<Control>>,
    /// Given by the parent ([`Prepared::tag`]), returned in the [`ChildExit`].
    tag: Option<u64>,
}

/// The rare wait for room on `signal` after the body ended; it yields the exit.
pub(super) type SignalWait = Pin<Box<dyn Future<Output = Exit> + Send>>;

pin_project_lite::pin_project! {
    /// Where a component's task is: in its body, or (rarely) waiting for room on `signal`.
    #[project = StageProj]
    enum Stage<F> {
        Body { #[pin] body: CatchUnwind<AssertUnwindSafe<F>> },
        Signalling { wait: SignalWait },
        Done,
    }
}

pin_project_lite::pin_project! {
    /// A component's task: its body with panic isolation, then the lifecycle epilogue.
    /// A hand-written future rather than an `async` block, so that the body is stored
    /// once, inline (an `async` block would keep both its capture and the awaited
    /// copy), and the rare wait for room on `signal` takes the body's place only when
    /// it happens.
    ///
    /// Stopping a component ([`Runtime::kill`]) drops this future where it is: the drop
    /// runs the epilogue with [`Exit::Aborted`], after dropping the body.
    pub(crate) struct Running<F> {
        #[pin]
        stage: Stage<F>,
        end: Option<Ending>,
    }

    impl<F> PinnedDrop for Running<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let Some(end) = this.end.take() {
                // The body's state goes before anyone hears of the exit.
                let was_signalling = matches!(this.stage.as_mut().project(), StageProj::Signalling { .. });
                this.stage.set(Stage::Done);
                if !was_signalling {
                    let _ = end.say_ended(&Exit::Aborted);
                }
                end.rt.retire(end.id, &Exit::Aborted, true, end.tag);
            }
        }
    }
}

impl<F: Future<Output = Result<(), crate::BoxError>>> Future for Running<F> {
    type Output = Exit;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Exit> {
        let mut this = self.project();
        let exit = match this.stage.as_mut().project() {
            StageProj::Signalling { wait } => ready!(wait.as_mut().poll(cx)),
            StageProj::Done => return Poll::Ready(Exit::Aborted),
            StageProj::Body { body } => {
                let outcome = ready!(body.poll(cx));
                this.stage.set(Stage::Done);
                let Some(end) = this.end.as_ref() else {
                    return Poll::Ready(Exit::Aborted);
                };
                let shut = end.control_node.lifecycle().load(Ordering::Relaxed)
                    == Control::Shutdown.code();
                let signal = end.rt.ending_signal(end.id);
                let exit = match outcome {
                    Err(panic) => Exit::from_panic(panic),
                    Ok(Err(e)) => Exit::Failed(Arc::from(e)),
                    Ok(Ok(())) if shut => Exit::ShutDown,
                    Ok(Ok(())) => Exit::Finished,
                };
                match Ending::say(signal, exit) {
                    Ok(exit) => exit,
                    Err(wait) => {
                        this.stage.set(Stage::Signalling { wait });
                        let StageProj::Signalling { wait } = this.stage.as_mut().project() else {
                            unreachable!("just set");
                        };
                        ready!(wait.as_mut().poll(cx))
                    }
                }
            }
        };
        this.stage.set(Stage::Done);
        if let Some(end) = this.end.take() {
            end.rt.retire(end.id, &exit, true, end.tag);
        }
        Poll::Ready(exit)
    }
}

impl Ending {
    /// [`say`](Ending::say) for a component stopped where it was.
    pub(super) fn say_ended(&self, exit: &Exit) -> Result<Exit, SignalWait> {
        Ending::say(self.rt.ending_signal(self.id), exit.clone())
    }

    /// Say on `signal` that the component ended, unless it already spoke there. `Err`
    /// with a wait in the rare case that a clean end must wait for room.
    pub(super) fn say(
        signal: Option<Arc<OutboxNode<Control>>>,
        exit: Exit,
    ) -> Result<Exit, SignalWait> {
        let Some(signal) = signal else {
            return Ok(exit);
        };
        if signal.stats().sent != 0 {
            return Ok(exit);
        }
        let mut out = Outbox::new(signal);
        let msg = if matches!(exit, Exit::Finished) {
            Control::ProducerFinished
        } else {
            Control::Shutdown
        };
        match out.try_send(msg) {
            Err(e) if e.is_full() && matches!(exit, Exit::Finished | Exit::ShutDown) => {
                // A clean end waits for room.
                let msg = e.into_inner();
                Err(Box::pin(async move {
                    let _ = out.send(msg).await;
                    exit
                }))
            }
            _ => Ok(exit),
        }
    }
}

pin_project_lite::pin_project! {
    /// Runs a component's task and hands its exit to the handle (for tasks that share
    /// a tokio task). Not an `async` block, which would store the task twice.
    pub(super) struct ReportExit<F> {
        #[pin]
        pub(super) task: F,
        pub(super) to: Option<oneshot::Sender<Exit>>,
    }
}

impl<F: Future<Output = Exit>> Future for ReportExit<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.project();
        let exit = ready!(this.task.poll(cx));
        if let Some(to) = this.to.take() {
            // Nobody waiting for the exit is fine.
            let _ = to.send(exit);
        }
        Poll::Ready(())
    }
}

/// Add an ending component's box counters to the ended totals.
fn note_ended(st: &mut crate::graph::GraphState, bid: BoxId) {
    let Some(entry) = st.components.get(&bid.component) else {
        return;
    };
    let Some(b) = entry.boxes.get(bid.index as usize).and_then(Option::as_ref) else {
        return;
    };
    let s = b.node.stats();
    if s.sent + s.received + s.dropped + s.undelivered == 0 {
        return;
    }
    let key = (
        entry.parent(),
        entry.name().to_string(),
        b.label.name().to_string(),
    );
    if let Some(totals) = st.ended.as_mut() {
        let t = totals.entry(key).or_default();
        t[0] += s.sent;
        t[1] += s.received;
        t[2] += s.dropped;
        t[3] += s.undelivered;
    }
}
