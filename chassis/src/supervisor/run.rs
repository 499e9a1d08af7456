//! A supervisor's body: watch the children, restart them by strategy, intensity and
//! backoff, pass control on, and give up when restarts come too often.

use std::collections::VecDeque;

use axon::{BoxError, ChildExit, ComponentId, Context, Control, Inbox, LinkError, Policy, Runtime};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::Supervisor;
use super::error::SupervisorGaveUp;
use super::policy::Strategy;
use super::setup::Wiring;
use super::spec::ChildSpec;
use crate::own_control::CONTROL_IN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// An instance runs.
    Running,
    /// Asked to stop so that it restarts with a sibling.
    Stopping,
    /// Ended; a restart is due.
    Waiting,
    /// Ended for good.
    Done,
}

struct Kid {
    spec: ChildSpec,
    id: Option<ComponentId>,
    state: State,
    restarts: u32,
    last_failure: String,
}

struct Body<I, O> {
    label: String,
    me: ComponentId,
    rt: Runtime,
    strategy: Strategy,
    intensity: super::Intensity,
    backoff: super::Backoff,
    kids: Vec<Kid>,
    wiring: Wiring,
    /// When the restarts in the intensity window happened.
    times: VecDeque<Instant>,
    restart_at: Option<Instant>,
    due: bool,
    stop: Option<Control>,
    gave_up: Option<SupervisorGaveUp>,
    requests: FuturesUnordered<BoxFuture<'static, ()>>,
    /// Holds of children that ended for good, removed.
    gone: Vec<axon::BoxId>,
    _t: std::marker::PhantomData<fn(I) -> O>,
}

pub(super) async fn run<I: Send + 'static, O: Send + 'static>(
    mut sup: Supervisor<I, O>,
    mut ctx: Context<I, O>,
) -> Result<(), BoxError> {
    let wiring = sup.wiring.take().ok_or("supervisor run without setup")?;
    let kids = sup
        .children
        .drain(..)
        .zip(wiring.ids.iter().copied())
        .map(|(spec, id)| Kid {
            spec,
            id: Some(id),
            state: State::Running,
            restarts: 0,
            last_failure: String::new(),
        })
        .collect();
    let mut body = Body {
        label: format!("{}#{}", sup.name, ctx.id()),
        me: ctx.id(),
        rt: ctx.runtime().clone(),
        strategy: sup.strategy,
        intensity: sup.intensity,
        backoff: sup.backoff,
        kids,
        wiring,
        times: VecDeque::new(),
        restart_at: None,
        due: false,
        stop: None,
        gave_up: None,
        requests: FuturesUnordered::new(),
        gone: Vec::new(),
        _t: std::marker::PhantomData,
    };
    let mut control = Some(ctx.take_inbox::<Control>(CONTROL_IN)?);
    while !body.finished() {
        let alive = body.kids.iter().any(|k| k.id.is_some());
        tokio::select! {
            biased;
            c = recv_some(&mut control) => match c {
                Some(c) => body.stop_all(c),
                None => control = None,
            },
            exit = ctx.next_child_exit(), if alive => {
                if let Some(exit) = exit {
                    body.child_ended(&mut ctx, exit);
                }
            }
            () = sleep_opt(body.restart_at) => {
                body.restart_at = None;
                body.due = true;
            }
            () = progress(&mut body.requests) => {}
        }
        body.restart_due(&mut ctx);
    }
    if let Some(gave_up) = body.gave_up {
        return Err(Box::new(gave_up));
    }
    if body.stop == Some(Control::Shutdown) {
        ctx.mark_shut_down();
    }
    Ok(())
}

impl<I: Send + 'static, O: Send + 'static> Body<I, O> {
    /// Every child has ended for good.
    fn finished(&self) -> bool {
        self.kids.iter().all(|k| k.state == State::Done)
    }

    fn ask_to_stop(&mut self, id: ComponentId, how: Control) {
        let rt = self.rt.clone();
        self.requests.push(Box::pin(async move {
            // A child that has ended meanwhile needs no request.
            let _ = rt.send_control(id, how).await;
        }));
    }

    /// `control` spoke: pass it to every child. After `Shutdown` nothing is
    /// restarted; after `ProducerFinished` (no more input) a child that fails is still
    /// restarted, so that what was queued for it is handled, and told that input ended.
    fn stop_all(&mut self, c: Control) {
        if c.is_stop() {
            self.stop = Some(c);
            self.restart_at = None;
            self.due = false;
        } else if self.stop.is_none() {
            self.stop = Some(c);
        }
        let mut asks = Vec::new();
        for kid in &mut self.kids {
            match kid.state {
                State::Waiting if c.is_stop() => kid.state = State::Done,
                State::Running | State::Stopping => asks.extend(kid.id),
                State::Waiting | State::Done => {}
            }
        }
        for id in asks {
            self.ask_to_stop(id, c);
        }
    }

    fn child_ended(&mut self, ctx: &mut Context<I, O>, exit: ChildExit) {
        let Some(k) = self.kids.iter().position(|kid| kid.id == Some(exit.id)) else {
            return;
        };
        self.kids[k].id = None;
        let reason = exit.exit.to_string();
        if exit.unread > 0 {
            tracing::warn!(
                supervisor = %self.label,
                child = %self.kids[k].spec.name,
                unread = exit.unread,
                "{}: child {:?} ended ({reason}) with {} queued messages, dropped with it",
                self.label,
                self.kids[k].spec.name,
                exit.unread
            );
        }
        let ending = self.gave_up.is_some() || self.stop.is_some_and(Control::is_stop);
        if self.kids[k].state == State::Stopping {
            self.kids[k].state = if ending { State::Done } else { State::Waiting };
            return;
        }
        if ending {
            self.kids[k].state = State::Done;
            return;
        }
        let kind = self.kids[k].spec.restart;
        let again = if self.stop.is_some() {
            // Input has ended: a clean end is final; a failure is restarted (unless
            // temporary) so that what was queued for the child is still handled.
            !exit.exit.is_clean() && kind != super::Restart::Temporary
        } else {
            kind.restarts_after(&exit.exit)
        };
        if !again {
            tracing::debug!(supervisor = %self.label, child = %self.kids[k].spec.name, %reason, "child ended for good");
            self.kids[k].state = State::Done;
            self.release_holds(ctx, k);
            return;
        }
        self.failed(k, reason);
    }

    /// Child `k` ended (or could not be made) and is to be restarted: count it
    /// against the intensity, stop the siblings the strategy restarts with it, and
    /// set the backoff.
    fn failed(&mut self, k: usize, reason: String) {
        self.kids[k].last_failure = reason.clone();
        let now = Instant::now();
        let window = self.intensity.window;
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.times.pop_front();
        }
        if self.times.len() as u64 >= u64::from(self.intensity.max_restarts) {
            self.give_up(k, reason);
            return;
        }
        self.times.push_back(now);
        let group: Vec<usize> = match self.strategy {
            Strategy::OneForOne => vec![k],
            Strategy::OneForAll => (0..self.kids.len()).collect(),
            Strategy::RestForOne => (k..self.kids.len()).collect(),
        };
        let name = self.kids[k].spec.name.clone();
        let mut asks = Vec::new();
        for j in group {
            let kid = &mut self.kids[j];
            if j == k {
                kid.state = State::Waiting;
            } else if kid.state == State::Running {
                kid.state = State::Stopping;
                kid.last_failure = format!("restarted with {name:?} ({reason})");
                asks.extend(kid.id);
            }
        }
        for id in asks {
            self.ask_to_stop(id, Control::Shutdown);
        }
        let delay = self
            .backoff
            .delay_with(self.times.len() as u32, rand::random::<f64>());
        tracing::warn!(
            supervisor = %self.label,
            child = %name,
            %reason,
            restarts_in_window = self.times.len(),
            ?delay,
            "{}: child {name:?} ended ({reason}); restarting in {delay:?}",
            self.label
        );
        let at = now + delay;
        self.restart_at = Some(self.restart_at.map_or(at, |t| t.max(at)));
    }

    /// Too many restarts: stop everything and fail.
    fn give_up(&mut self, k: usize, reason: String) {
        let gave_up = SupervisorGaveUp {
            supervisor: self.label.clone(),
            child: self.kids[k].spec.name.clone(),
            restarts: self.times.len() as u32,
            window: self.intensity.window,
            last_failure: reason,
        };
        tracing::error!(supervisor = %self.label, "{gave_up}");
        self.gave_up = Some(gave_up);
        self.kids[k].state = State::Done;
        self.restart_at = None;
        self.due = false;
        let mut asks = Vec::new();
        for kid in &mut self.kids {
            match kid.state {
                State::Waiting => kid.state = State::Done,
                State::Running => {
                    kid.state = State::Stopping;
                    asks.extend(kid.id);
                }
                State::Stopping | State::Done => {}
            }
        }
        for id in asks {
            self.ask_to_stop(id, Control::Shutdown);
        }
    }

    /// A child that will not come back: its holds stop holding (senders are told
    /// there is no destination) and its services go with them.
    fn release_holds(&mut self, ctx: &mut Context<I, O>, k: usize) {
        for h in self.wiring.holds.iter().filter(|h| h.child == k) {
            self.gone.push(h.hold);
            if let Err(e) = ctx.remove_box(&h.name) {
                tracing::debug!(supervisor = %self.label, hold = %h.name, error = %e, "hold already gone");
            }
        }
    }

    /// Restart the waiting children once the backoff is over and the siblings
    /// stopping with them have ended.
    fn restart_due(&mut self, ctx: &mut Context<I, O>) {
        if !self.due || self.kids.iter().any(|k| k.state == State::Stopping) {
            return;
        }
        self.due = false;
        for k in 0..self.kids.len() {
            if self.kids[k].state != State::Waiting {
                continue;
            }
            if let Err(e) = self.restart(ctx, k) {
                tracing::warn!(supervisor = %self.label, child = %self.kids[k].spec.name, error = %e, "restart failed");
                self.failed(k, e.to_string());
            }
        }
    }

    fn restart(&mut self, ctx: &mut Context<I, O>, k: usize) -> Result<(), LinkError> {
        let p = ctx.add_child_dyn(self.kids[k].spec.make()?)?;
        let id = p.id();
        let rt = &self.rt;
        for o in self.wiring.outs.iter().filter(|o| o.child == k) {
            // A link to a sibling that has ended for good (its hold is gone) stays
            // unmade: sends on it are handed back, as they were before the restart.
            if self.gone.contains(&o.to) {
                continue;
            }
            rt.link_ids(rt.box_id(id, &o.from_box)?, o.to, o.policy)?;
        }
        for h in self.wiring.holds.iter().filter(|h| h.child == k) {
            // Hands what the hold kept to the new instance, ahead of anything newer.
            rt.relink_ids(h.hold, rt.box_id(id, &h.to_box)?, Policy::Block)?;
        }
        let kid = &mut self.kids[k];
        kid.restarts += 1;
        kid.id = Some(id);
        kid.state = State::Running;
        rt.mark_restarted(self.me, &kid.spec.name, id, kid.restarts, &kid.last_failure);
        tracing::info!(supervisor = %self.label, child = %kid.spec.name, restarts = kid.restarts, "restarted");
        drop(p.start());
        if let Some(c) = self.stop {
            // Input had ended before this instance: it finishes what is queued.
            self.ask_to_stop(id, c);
        }
        Ok(())
    }
}

/// Receive from an inbox if there is one; pend forever otherwise.
async fn recv_some(inbox: &mut Option<Inbox<Control>>) -> Option<Control> {
    match inbox {
        Some(inbox) => inbox.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn progress(requests: &mut FuturesUnordered<BoxFuture<'static, ()>>) {
    if requests.next().await.is_none() {
        std::future::pending::<()>().await;
    }
}
