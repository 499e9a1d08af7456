//! Lumina node server protocol: messages, states, registration and dispatch.
//!
//! TCP, default port [`DEFAULT_PORT`], one JSON [`Message`] per line (`\n`); an empty
//! line is a keepalive. A node's first request is `register` with a [`Registration`];
//! it then reports its [`ColorState`] with `status`, fires the events it declared, and
//! answers the commands it declared, which the server exposes to every connection as
//! `<node>/<cmd>`. The [`Dispatcher`] turns each received message into [`Action`]s for
//! the async layer to perform.
//!
//! # Built-ins: our reading
//!
//! The seed names `register`, `status` and `serverid`; Lumina's admin node also had
//! `info` and `server` views. We answer two built-ins with JSON objects:
//!
//! - `_info`: "what is there": the server's `hostname`, `hostid` and combined `status`,
//!   and `nodes`, every named node (disconnected ones too) with its `nodeid`,
//!   `hostname`, `hostid`, `module`, `sequence`, `status`, `status_why`, `link`, `ip`,
//!   `port`, `lastactivity` (seconds in the caller's time base) and full `events` and
//!   `commands` names.
//! - `_server`: "who am I": `hostname`, `hostid`, combined `status`, the connected
//!   `nodes` by name, their distinct `hosts`, and the counts `n_connections`,
//!   `n_events`, `n_commands`.
//!
//! # Examples
//!
//! ```
//! use components::registry::lumina::{ColorState, Message};
//!
//! let status = Message::parse_line(br#"{"name":"status","args":["RED","GREEN","disk full"]}"#)?;
//! let state: ColorState = status
//!     .and_then(|message| message.args.first()?.as_str()?.parse().ok())
//!     .unwrap_or_default();
//! assert_eq!(state, ColorState::Red);
//! # Ok::<(), components::registry::LuminaError>(())
//! ```

mod color;
mod dispatch;
mod message;
mod registration;
mod wire;

pub use color::ColorState;
pub use dispatch::{
    Action, Dispatcher, DispatcherConfig, MAX_LINE_TO_NODE, MAX_PENDING, REQUEST_TIMEOUT,
    RETENTION, RequestId, SILENCE_LIMIT, ServerIdentity,
};
pub use message::Message;
pub use registration::{Registration, RegistrationLimits};
pub use wire::{Unreadable, WireForm};

/// The Lumina server's usual TCP port.
///
/// # Examples
///
/// ```
/// assert_eq!(components::registry::lumina::DEFAULT_PORT, 5326);
/// ```
pub const DEFAULT_PORT: u16 = 5326;

#[cfg(test)]
mod tests;
