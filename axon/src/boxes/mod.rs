//! Boxes: the typed inboxes and outboxes a component owns, and the nodes behind them.
//!
//! An inbox is a bounded queue with one reader, its component. An outbox is a handle
//! that sends to whatever its link resolves to: following passthrough links to the
//! final real inbox, so a message is enqueued once however many composite
//! boundaries it crosses. The resolution is cached in the outbox and refreshed only
//! when a link on its path changes (a version counter is checked on every send).

use serde::{Deserialize, Serialize};

mod ids;
mod inbox;
mod key;
mod node;
mod outbox;

pub use ids::{BoxId, BoxRef, ComponentId};
pub use inbox::Inbox;
pub use key::{BoxDoc, InboxKey, OutboxKey};
#[cfg(feature = "dashboard")]
pub(crate) use node::NodeStats;
pub(crate) use node::{InboxNode, Node, NodeKind, OutboxMeta, OutboxName, OutboxNode, make_node};
pub use outbox::Outbox;

/// Capacity of an inbox unless its component or link says otherwise.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, DEFAULT_CAPACITY, component::from_fn};
/// let rt = axon::Runtime::new();
/// let p = rt.add(from_fn("x", |_c: Context<u8, ()>| async { Ok(()) })).unwrap();
/// let snap = rt.snapshot();
/// let inbox = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "inbox").unwrap();
/// assert_eq!(inbox.capacity, Some(DEFAULT_CAPACITY));
/// # }
/// ```
pub const DEFAULT_CAPACITY: usize = 64;

/// Capacity of a `control` inbox: lifecycle messages are few.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{CONTROL_CAPACITY, Context, component::from_fn};
/// let rt = axon::Runtime::new();
/// let p = rt.add(from_fn("x", |_c: Context<u8, ()>| async { Ok(()) })).unwrap();
/// let snap = rt.snapshot();
/// let control = snap.component(p.id()).unwrap().boxes.iter().find(|b| b.name == "control").unwrap();
/// assert_eq!(control.capacity, Some(CONTROL_CAPACITY));
/// # }
/// ```
pub const CONTROL_CAPACITY: usize = 4;

/// What a link does when its destination inbox is full. Every drop is counted on
/// both the source outbox and the destination inbox.
///
/// # Examples
///
/// ```
/// assert_eq!(axon::Policy::default(), axon::Policy::Block);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Wait for space: backpressure reaches the producer (the default).
    #[default]
    Block,
    /// Discard the message being sent.
    DropNewest,
    /// Discard the oldest queued message to make room.
    DropOldest,
    /// Discard everything queued, so the inbox holds only the newest message.
    KeepLatest,
}

/// Whether a box receives or sends.
///
/// # Examples
///
/// ```
/// assert_ne!(axon::Direction::In, axon::Direction::Out);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// An inbox.
    In,
    /// An outbox.
    Out,
}

#[cfg(all(test, loom))]
mod tests {
    mod loom_hold;
    mod loom_outbox;
}
