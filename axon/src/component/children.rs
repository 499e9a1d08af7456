//! A parent's view of its children ending: [`ChildExits`].

use crate::boxes::ComponentId;
use crate::exit::ChildExit;
use crate::runtime::Runtime;
use tokio::sync::mpsc::UnboundedReceiver;

pub(super) async fn next_exit(
    rt: &Runtime,
    id: ComponentId,
    rx: &mut UnboundedReceiver<ChildExit>,
) -> Option<ChildExit> {
    // Children leave the list under the graph's lock (`Runtime::retire`).
    crate::exit_reports::next_report(rx, || rt.live_children(id) > 0).await
}

/// The exits of a component's children, detached from its [`Context`](crate::Context) by
/// [`Context::take_child_exits`](crate::Context::take_child_exits).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, component::from_fn, testing::Harness};
/// let mut h = Harness::new(from_fn("parent", |mut ctx: Context<(), String>| async move {
///     let mut exits = ctx.take_child_exits();
///     ctx.add_child(from_fn("kid", |_c: Context<(), ()>| async { Ok(()) }))?.start();
///     while let Some(e) = exits.next().await {
///         ctx.send(format!("{}: {}", e.name, e.exit)).await?;
///     }
///     Ok(())
/// }));
/// assert_eq!(h.recv().await.as_deref(), Some("kid: finished"));
/// # }
/// ```
pub struct ChildExits {
    pub(super) rt: Runtime,
    pub(super) id: ComponentId,
    pub(super) rx: Option<UnboundedReceiver<ChildExit>>,
}

impl std::fmt::Debug for ChildExits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildExits")
            .field("parent", &self.id)
            .finish()
    }
}

impl ChildExits {
    /// Wait for the next child to end; `None` when no children are left.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<(), ()>) {
    /// let mut exits = ctx.take_child_exits();
    /// while let Some(e) = exits.next().await {
    ///     if !e.exit.is_clean() {
    ///         tracing::warn!("{} ended: {}", e.name, e.exit);
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn next(&mut self) -> Option<ChildExit> {
        next_exit(&self.rt, self.id, self.rx.as_mut()?).await
    }
}
