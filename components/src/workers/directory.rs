//! [`ConnectedWorkers`]: which workers are logged in to a master, and what they run.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::command::CommandState;

/// What the master knows of one logged-in worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerView {
    /// The worker's name.
    pub name: String,
    /// Its address.
    pub peer: SocketAddr,
    /// When anything was last heard from it.
    pub last_heard: Instant,
    /// Its commands not yet completed, by id (`Starting` or `Running`).
    pub running: BTreeMap<String, CommandState>,
}

#[derive(Debug)]
struct Entry {
    view: WorkerView,
    kick: Arc<Notify>,
}

/// The workers logged in to one master. Cheap to clone; clones share the table. Every
/// attach and detach bumps a generation, so a caller can wait for a change without
/// polling ([`wait_for`](Self::wait_for)).
///
/// # Examples
///
/// ```
/// let workers = components::workers::ConnectedWorkers::default();
/// assert!(!workers.is_attached("w1"));
/// assert!(workers.names().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct ConnectedWorkers {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    generation: Arc<watch::Sender<u64>>,
}

impl Default for ConnectedWorkers {
    fn default() -> Self {
        ConnectedWorkers {
            inner: Arc::default(),
            generation: Arc::new(watch::channel(0).0),
        }
    }
}

impl ConnectedWorkers {
    /// Whether `name` is logged in.
    pub fn is_attached(&self, name: &str) -> bool {
        self.lock().contains_key(name)
    }

    /// The names logged in, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().keys().cloned().collect();
        names.sort();
        names
    }

    /// A copy of what is known of `name`.
    pub fn view(&self, name: &str) -> Option<WorkerView> {
        self.lock().get(name).map(|e| e.view.clone())
    }

    /// Close `name`'s connection (its running commands complete as "connection
    /// lost"). Returns whether it was logged in.
    pub fn disconnect(&self, name: &str) -> bool {
        match self.lock().get(name) {
            Some(e) => {
                e.kick.notify_one();
                true
            }
            None => false,
        }
    }

    /// Wait until `ready` holds of this table, or `timeout` passes. Returns whether it
    /// holds.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_for(&self, timeout: Duration, ready: impl Fn(&Self) -> bool) -> bool {
        let mut changes = self.generation.subscribe();
        let wait = async {
            loop {
                if ready(self) {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok() && ready(self)
    }

    /// Add `name` and run `register` under the same lock, so that whoever sees it
    /// attached also finds what `register` set up. `None` if it is already there or
    /// `register` failed.
    pub(crate) fn attach_with(
        &self,
        name: &str,
        peer: SocketAddr,
        register: impl FnOnce() -> bool,
    ) -> Option<Arc<Notify>> {
        let kick = Arc::new(Notify::new());
        {
            let mut t = self.lock();
            if t.contains_key(name) || !register() {
                return None;
            }
            t.insert(
                name.to_string(),
                Entry {
                    view: WorkerView {
                        name: name.to_string(),
                        peer,
                        last_heard: Instant::now(),
                        running: BTreeMap::new(),
                    },
                    kick: kick.clone(),
                },
            );
        }
        self.generation.send_modify(|g| *g += 1);
        Some(kick)
    }

    /// Remove `name` and run `unregister` under the same lock.
    pub(crate) fn detach_with(&self, name: &str, unregister: impl FnOnce()) {
        {
            let mut t = self.lock();
            unregister();
            t.remove(name);
        }
        self.generation.send_modify(|g| *g += 1);
    }

    pub(crate) fn heard(&self, name: &str, at: Instant) {
        if let Some(e) = self.lock().get_mut(name) {
            e.view.last_heard = at;
        }
    }

    /// Set a command's state; `Completed` removes it.
    pub(crate) fn set_state(&self, name: &str, command_id: &str, state: CommandState) {
        if let Some(e) = self.lock().get_mut(name) {
            match state {
                CommandState::Completed(_) | CommandState::Idle => {
                    e.view.running.remove(command_id);
                }
                s => {
                    e.view.running.insert(command_id.to_string(), s);
                }
            }
        }
    }

    pub(crate) fn state(&self, name: &str, command_id: &str) -> CommandState {
        self.lock()
            .get(name)
            .and_then(|e| e.view.running.get(command_id).cloned())
            .unwrap_or(CommandState::Idle)
    }

    /// Take every command still running for `name`.
    pub(crate) fn take_running(&self, name: &str) -> Vec<String> {
        self.lock()
            .get_mut(name)
            .map(|e| std::mem::take(&mut e.view.running).into_keys().collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
