//! Helpers shared by the `supervisor_*` tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axon::component::from_fn;
use axon::{BoxError, Component, ComponentId, Context, GraphEvent, Runtime};
use chassis::supervisor::ChildSpec;
use tokio::time::Instant;

/// The longest any single wait in these tests may take.
pub const LIMIT: Duration = Duration::from_secs(30);

/// What a worker does with a number.
pub const PANIC: u32 = 0;
pub const FAIL: u32 = 1_000_000;
pub const FINISH: u32 = 2_000_000;

/// When each instance of a worker started, shared with the test.
#[derive(Clone, Default)]
pub struct Starts(pub Arc<Mutex<Vec<Instant>>>);

impl Starts {
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    pub fn times(&self) -> Vec<Instant> {
        self.0.lock().unwrap().clone()
    }
}

/// A worker that passes each number on tagged with its name, panics on [`PANIC`],
/// fails on [`FAIL`] and ends cleanly on [`FINISH`].
pub fn worker(name: &'static str, starts: Starts) -> impl Component<In = u32, Out = (String, u32)> {
    let starts = starts.0;
    from_fn(name, move |mut c: Context<u32, (String, u32)>| async move {
        starts.lock().unwrap().push(Instant::now());
        while let Some(n) = c.recv().await {
            match n {
                PANIC => panic!("{name} got zero"),
                FAIL => return Err::<(), BoxError>(format!("{name} refused").into()),
                FINISH => return Ok(()),
                n => c.send((name.to_string(), n)).await?,
            }
        }
        Ok(())
    })
}

/// A spec for [`worker`].
pub fn worker_spec(name: &'static str, starts: &Starts) -> ChildSpec {
    let starts = starts.clone();
    ChildSpec::new(name, move || worker(name, starts.clone()))
}

/// Run `fut`, panicking if it takes longer than [`LIMIT`].
pub async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Wait for the next `Restarted` event; returns (child, new id, restarts, reason).
pub async fn next_restart(
    events: &mut tokio::sync::broadcast::Receiver<GraphEvent>,
) -> (String, ComponentId, u32, String) {
    bounded("a restart", async {
        loop {
            if let GraphEvent::Restarted {
                child,
                id,
                restarts,
                reason,
                ..
            } = events.recv().await.expect("event stream")
            {
                return (child, id, restarts, reason);
            }
        }
    })
    .await
}

/// Ids of the live components named `name`.
pub fn ids_named(rt: &Runtime, name: &str) -> Vec<ComponentId> {
    rt.snapshot()
        .components
        .iter()
        .filter(|c| c.name == name)
        .map(|c| c.id)
        .collect()
}

/// Wait until a component named `name` has ended (its `Exited` event).
pub async fn wait_exited(events: &mut tokio::sync::broadcast::Receiver<GraphEvent>, name: &str) {
    bounded("an exit", async {
        loop {
            if let GraphEvent::Exited { name: n, .. } = events.recv().await.expect("event stream")
                && n == name
            {
                return;
            }
        }
    })
    .await
}
