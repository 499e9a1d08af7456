//! [`Handle`]: how the one who started a component stops it and waits for its exit.

use super::Runtime;
use crate::boxes::ComponentId;
use crate::control::Control;
use crate::error::SendError;
use crate::exit::Exit;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A started component: wait for its exit, ask it to stop, or abort it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Runtime, Context, Exit, component::from_fn};
/// let rt = Runtime::new();
/// let h = rt.spawn(from_fn("waits", |mut ctx: Context<u8, ()>| async move {
///     while ctx.recv().await.is_some() {}
///     Ok(())
/// })).unwrap();
/// h.shutdown().await.unwrap();
/// assert!(matches!(h.join().await, Exit::ShutDown));
/// # }
/// ```
pub struct Handle {
    pub(super) rt: Runtime,
    pub(super) id: ComponentId,
    pub(super) join: Option<Joiner>,
}

/// How a handle learns its component's exit.
pub(super) enum Joiner {
    /// The component has a task of its own.
    Task(JoinHandle<Exit>),
    /// The component shares a task ([`Prepared::start_with`]), which reports here.
    Shared(oneshot::Receiver<Exit>),
}

impl Joiner {
    pub(super) async fn exit(&mut self) -> Exit {
        match self {
            Joiner::Task(j) => j.await.unwrap_or(Exit::Aborted),
            Joiner::Shared(r) => r.await.unwrap_or(Exit::Aborted),
        }
    }

    pub(super) fn is_finished(&self) -> bool {
        match self {
            Joiner::Task(j) => j.is_finished(),
            Joiner::Shared(r) => !r.is_empty() || r.is_terminated(),
        }
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").field("id", &self.id).finish()
    }
}

impl Handle {
    pub(super) fn detached(rt: Runtime, id: ComponentId) -> Self {
        Handle { rt, id, join: None }
    }

    /// The component's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rt = axon::Runtime::new();
    /// let p = rt.add(axon::component::from_fn("x", |_c: axon::Context<u8, u8>| async { Ok(()) })).unwrap();
    /// let id = p.id();
    /// let h = p.start();
    /// assert_eq!(h.id(), id);
    /// # }
    /// ```
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// Send [`Control::Shutdown`] to its `control` inbox (through any passthrough).
    ///
    /// # Errors
    ///
    /// [`SendError`] if the component has already ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in the sense that dropping the future before it completes leaves
    /// `Shutdown` unsent (it is never half-sent); call again to retry.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Exit, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("idle", |mut ctx: Context<u8, ()>| async move {
    ///     while ctx.recv().await.is_some() {}
    ///     Ok(())
    /// })).unwrap();
    /// h.shutdown().await.unwrap();
    /// assert!(matches!(h.join().await, Exit::ShutDown));
    /// # }
    /// ```
    pub async fn shutdown(&self) -> Result<(), SendError<Control>> {
        self.rt.send_control(self.id, Control::Shutdown).await
    }

    /// Stop the body where it is: its exit reason is [`Exit::Aborted`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Exit, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("stuck", |_c: Context<(), ()>| std::future::pending())).unwrap();
    /// h.kill();
    /// assert!(matches!(h.join().await, Exit::Aborted));
    /// # }
    /// ```
    pub fn kill(&self) {
        self.rt.kill(self.id);
    }

    /// Wait for the component to end.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: the exit reason is lost if the future is dropped (the
    /// component keeps running).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, Exit, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("fails", |_c: Context<(), ()>| async { Err("no config".into()) })).unwrap();
    /// let exit = h.join().await;
    /// assert!(matches!(exit, Exit::Failed(_)));
    /// assert_eq!(exit.to_string(), "failed: no config");
    /// # }
    /// ```
    pub async fn join(self) -> Exit {
        match self.join {
            Some(mut j) => j.exit().await,
            None => Exit::Aborted,
        }
    }

    /// Wait for the component to end, keeping the handle (for `select!`).
    pub(crate) async fn join_mut(&mut self) -> Exit {
        match self.join.as_mut() {
            Some(j) => {
                let exit = j.exit().await;
                self.join = None;
                exit
            }
            None => Exit::Aborted,
        }
    }

    /// True once the component has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let h = rt.spawn(from_fn("stuck", |_c: Context<(), ()>| std::future::pending())).unwrap();
    /// assert!(!h.is_finished());
    /// h.kill();
    /// while !h.is_finished() { tokio::task::yield_now().await; }
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(Joiner::is_finished)
    }
}
