//! Lifecycle messages that travel `signal -> control`.

use serde::{Deserialize, Serialize};

/// A lifecycle message, sent on a component's `signal` outbox and received on the
/// next component's `control` inbox.
///
/// | message | meaning | what [`Context::recv`](crate::Context::recv) does |
/// | --- | --- | --- |
/// | `ProducerFinished` | the producer sent its last message | delivers what is already queued, then returns `None` |
/// | `Shutdown` | stop now | returns `None` at once; queued data is left unread |
/// | `SocketShutdown` | the connection behind this component closed | as `ProducerFinished` |
///
/// When a component's body returns, the runtime passes the lifecycle on: it sends
/// `Shutdown` on `signal` if the component was shut down, `ProducerFinished` otherwise
/// (unless the body already sent a `Control` on `signal` itself).
///
/// # Examples
///
/// ```
/// use axon::Control;
///
/// assert!(Control::Shutdown.is_stop());
/// assert!(Control::ProducerFinished.ends_input());
/// assert!(!Control::ProducerFinished.is_stop());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Control {
    /// The producer has finished: finish queued work, then end and pass it on.
    ProducerFinished,
    /// Stop now (Kamaelia's `shutdownMicroprocess`).
    Shutdown,
    /// The socket behind a protocol handler closed (Kamaelia's `socketShutdown`).
    SocketShutdown,
}

impl Control {
    /// True for messages that mean "stop now, do not finish queued work".
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(axon::Control::Shutdown.is_stop());
    /// ```
    pub fn is_stop(self) -> bool {
        matches!(self, Control::Shutdown)
    }

    /// True for messages that mean "no more input will come; finish what is queued".
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(axon::Control::SocketShutdown.ends_input());
    /// ```
    pub fn ends_input(self) -> bool {
        matches!(self, Control::ProducerFinished | Control::SocketShutdown)
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Control::ProducerFinished => 1,
            Control::Shutdown => 2,
            Control::SocketShutdown => 3,
        }
    }
}
