//! Stopping a whole graph: [`Runtime::shutdown`].

use std::time::Duration;

use super::Runtime;
use crate::boxes::ComponentId;
use crate::control::Control;
use crate::introspect::GraphEvent;
use tokio::sync::broadcast::error::RecvError;

/// How long [`Runtime::shutdown`] waits for killed components to be removed.
const KILL_GRACE: Duration = Duration::from_secs(1);

/// What [`Runtime::shutdown`] did: the top-level components that ended when asked, and
/// those that had to be stopped where they were at the deadline.
///
/// # Examples
///
/// ```
/// let s = axon::ShutdownSummary::default();
/// assert!(s.is_clean());
/// assert_eq!(s.to_string(), "0 ended, 0 forced");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownSummary {
    /// `name#id: exit` of each component that ended within the deadline.
    pub ended: Vec<String>,
    /// `name#id` of each component still running at the deadline, then killed.
    pub forced: Vec<String>,
}

impl ShutdownSummary {
    /// True when nothing had to be forced.
    pub fn is_clean(&self) -> bool {
        self.forced.is_empty()
    }
}

impl std::fmt::Display for ShutdownSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ended, {} forced",
            self.ended.len(),
            self.forced.len()
        )?;
        if !self.forced.is_empty() {
            write!(f, ": {}", self.forced.join(", "))?;
        }
        Ok(())
    }
}

impl Runtime {
    /// Stop the whole graph: every top-level component, in the order it was added, is
    /// sent [`Control::Shutdown`] (a composite passes it on to its children); those still
    /// running when `deadline` has passed are stopped where they are
    /// ([`kill`](Runtime::kill), so their children go too). Returns what ended and what
    /// had to be forced. Components without a body ([`External`](crate::External)) are
    /// left to their owners.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped before the deadline, the components asked to stop may
    /// still be ending, and none is forced.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use axon::{Context, Runtime, component::from_fn};
    /// let rt = Runtime::new();
    /// rt.spawn(from_fn("polite", |mut c: Context<(), ()>| async move {
    ///     while c.recv().await.is_some() {}
    ///     Ok(())
    /// })).unwrap();
    /// rt.spawn(from_fn("stubborn", |_c: Context<(), ()>| std::future::pending())).unwrap();
    /// let summary = rt.shutdown(Duration::from_secs(5)).await;
    /// assert_eq!(summary.ended.len(), 1);
    /// assert!(summary.forced[0].starts_with("stubborn#"));
    /// assert_eq!(rt.live_components(), 0);
    /// # }
    /// ```
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownSummary {
        let until = tokio::time::Instant::now() + deadline;
        let mut events = self.subscribe();
        let roots: Vec<(ComponentId, String)> = {
            let st = self.lock();
            let mut roots: Vec<(ComponentId, String)> = st
                .components
                .iter()
                .filter(|(_, e)| e.parent().is_none() && e.abort.is_some())
                .map(|(id, e)| (*id, e.label(*id)))
                .collect();
            roots.sort_unstable_by_key(|(id, _)| *id);
            roots
        };
        for (id, _) in &roots {
            // A full `control` waits for room, but never past the deadline.
            let _ = tokio::time::timeout_at(until, self.send_control(*id, Control::Shutdown)).await;
        }
        let mut summary = ShutdownSummary::default();
        let mut waiting: Vec<(ComponentId, String)> = roots;
        // Each exit is heard on the change stream (it comes after the component has left
        // the graph); only if the stream lagged is liveness looked up instead.
        let heard = |ev: Result<GraphEvent, RecvError>,
                     waiting: &mut Vec<(ComponentId, String)>,
                     summary: &mut ShutdownSummary| match ev {
            Ok(GraphEvent::Exited { id, exit, .. }) => {
                if let Some(i) = waiting.iter().position(|(w, _)| *w == id) {
                    let (_, label) = waiting.swap_remove(i);
                    summary.ended.push(format!("{label}: {exit}"));
                }
            }
            Ok(_) => {}
            Err(_) => waiting.retain(|(id, label)| {
                let alive = self.is_alive(*id);
                if !alive {
                    summary.ended.push(format!("{label}: ended"));
                }
                alive
            }),
        };
        while !waiting.is_empty() {
            tokio::select! {
                ev = events.recv() => heard(ev, &mut waiting, &mut summary),
                () = tokio::time::sleep_until(until) => break,
            }
        }
        if waiting.is_empty() {
            return summary;
        }
        waiting.retain(|(id, label)| {
            let alive = self.is_alive(*id);
            if !alive {
                summary.ended.push(format!("{label}: ended"));
            }
            alive
        });
        waiting.sort_unstable_by_key(|(id, _)| *id);
        for (id, label) in &waiting {
            tracing::warn!(component = %label, "still running at the shutdown deadline; stopping it where it is");
            self.kill(*id);
            summary.forced.push(label.clone());
        }
        // A killed task is dropped (and its component removed) when its worker next
        // gets to it: wait for that, briefly, so the graph is empty on return.
        let grace = tokio::time::Instant::now() + KILL_GRACE;
        while waiting.iter().any(|(id, _)| self.is_alive(*id)) {
            tokio::select! {
                _ = events.recv() => {}
                () = tokio::time::sleep_until(grace) => break,
            }
        }
        summary
    }
}
