//! # Axon: components with named, typed boxes, linked into graphs on tokio
//!
//! A program is a graph of **components**. Each component owns named **inboxes** and
//! **outboxes**; **links** carry typed messages from an outbox to an inbox; a
//! component's body is one async task that reads its inboxes and writes its outboxes.
//! Composites (Pipeline, Graphline, ServerCore… in the `chassis` crate) are components
//! too. This is Kamaelia's model, with Rust types and tokio underneath.
//!
//! ```
//! use axon::{BoxError, Component, Context, Runtime, testing::Harness};
//!
//! /// Numbers every line it receives.
//! struct Numberer;
//!
//! impl Component for Numberer {
//!     type In = String;
//!     type Out = String;
//!     async fn run(self, mut ctx: Context<String, String>) -> Result<(), BoxError> {
//!         let mut n = 0;
//!         while let Some(line) = ctx.recv().await {
//!             n += 1;
//!             ctx.send(format!("{n}: {line}")).await?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let mut h = Harness::new(Numberer);
//! h.send("hello".into()).await;
//! assert_eq!(h.recv().await.as_deref(), Some("1: hello"));
//! # }
//! ```
//!
//! ## The pieces
//!
//! - [`Component`]: the trait; [`component::from_fn`] makes one from a closure;
//!   [`threaded::threaded`] runs a body on a blocking thread.
//! - [`Context`]: what a body runs with: `inbox`, `control`, `outbox`, `signal`, and
//!   [`Context::recv`], which watches data and lifecycle together.
//! - [`Runtime`]: add, link (typed with [`Runtime::link`], by name with
//!   [`Runtime::link_named`]), relink, start, kill; a service registry; introspection
//!   ([`Runtime::snapshot`], [`Runtime::subscribe`]).
//! - [`Control`]: `ProducerFinished`, `Shutdown`, `SocketShutdown`; [`Exit`]: why a
//!   component ended.
//! - [`record`]: tap a link to a file and replay a recording into an inbox.
//! - [`testing::Harness`]: run one component and drive its boxes from a test.
//!
//! The runtime semantics (ordering, backpressure, relinking, lifecycle, exits) are
//! written down in `docs/runtime-semantics.md` at the root of the repository.

mod ask;
mod boxes;
pub mod component;
mod control;
#[cfg(feature = "dashboard")]
pub mod dashboard;
mod drops;
mod error;
mod exit;
mod exit_reports;
mod external;
mod graph;
pub mod introspect;
mod queue;
pub mod record;
mod runtime;
mod size;
mod sync;
pub mod testing;
pub mod threaded;
mod together;

pub use ask::{AskError, AskInfo, PendingReply, Replier, ReplyError, Request};
pub use boxes::{
    BoxDoc, BoxId, BoxRef, CONTROL_CAPACITY, ComponentId, DEFAULT_CAPACITY, Direction, Inbox,
    InboxKey, Outbox, OutboxKey, Policy,
};
/// Byte buffers, re-exported because [`MessageSize`] and the TCP parts of the API use them.
pub use bytes::{self, Bytes};
pub use component::{Child, ChildExits, Component, Context, DynComponent, Setup};
pub use control::Control;
pub use error::{LinkError, SendError, TryRecvError, TrySendError};
pub use exit::{BoxError, ChildExit, Exit};
pub use external::External;
pub use introspect::{GraphEvent, Snapshot};
pub use runtime::ShutdownSummary;
pub use runtime::{Handle, Prepared, PreparedDyn, Runtime};
pub use size::MessageSize;
