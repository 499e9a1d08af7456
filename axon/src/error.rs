//! Errors of boxes and links.

use crate::boxes::OutboxName;

use thiserror::Error;

/// A send found no destination: the outbox is not linked, or its destination's
/// component has ended. The message is handed back (field `0`), and the error names
/// the outbox and its component where it is known (boxes declared by name, and sends
/// through [`Context::send`](crate::Context::send)).
///
/// # Examples
///
/// ```
/// let err = axon::SendError::new(5u32);
/// assert_eq!(err.0, 5);
/// assert_eq!(err.into_inner(), 5);
/// ```
#[derive(Debug)]
pub struct SendError<T>(pub T, pub(crate) Option<OutboxName>);

impl<T> SendError<T> {
    /// A send error for `msg` that names no outbox.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = axon::SendError::new("late");
    /// assert_eq!(err.to_string(), "outbox has no destination (not linked, or its destination has ended)");
    /// ```
    pub fn new(msg: T) -> Self {
        SendError(msg, None)
    }

    /// The message that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = axon::SendError::new("late".to_string());
    /// assert_eq!(err.into_inner(), "late");
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }

    /// The outbox that found no destination, as `` outbox `name` of Component#id ``, if
    /// known (made when asked for: a failed send costs no formatting).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(axon::SendError::new(1).outbox(), None);
    /// ```
    pub fn outbox(&self) -> Option<String> {
        self.1.as_ref().map(ToString::to_string)
    }

    pub(crate) fn labelled(msg: T, name: Option<OutboxName>) -> Self {
        SendError(msg, name)
    }
}

impl<T: PartialEq> PartialEq for SendError<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T: Eq> Eq for SendError<T> {}

impl<T> std::fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.1 {
            Some(label) => write!(
                f,
                "{label} has no destination (not linked, or its destination has ended)"
            ),
            None => {
                f.write_str("outbox has no destination (not linked, or its destination has ended)")
            }
        }
    }
}

impl<T: std::fmt::Debug> std::error::Error for SendError<T> {}

/// Why [`Outbox::try_send`](crate::Outbox::try_send) did not send. The message is handed back.
///
/// # Examples
///
/// ```
/// use axon::TrySendError;
///
/// let e = TrySendError::Full(1u8);
/// assert!(e.is_full());
/// assert_eq!(e.into_inner(), 1);
/// ```
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The destination inbox is full (and the link's policy is `Block`).
    #[error("the destination inbox is full")]
    Full(T),
    /// No destination: not linked, or the destination has ended.
    #[error("no destination: the outbox is not linked or its destination has ended")]
    Unlinked(T),
}

impl<T> TrySendError<T> {
    /// The message that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = axon::TrySendError::Unlinked(3u8);
    /// assert_eq!(err.into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(t) | TrySendError::Unlinked(t) => t,
        }
    }

    /// True if the destination was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(axon::TrySendError::Full(0u8).is_full());
    /// assert!(!axon::TrySendError::Unlinked(0u8).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
}

/// Why [`Inbox::try_recv`](crate::Inbox::try_recv) returned nothing.
///
/// # Examples
///
/// ```
/// assert_ne!(axon::TryRecvError::Empty, axon::TryRecvError::Closed);
/// ```
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is queued.
    #[error("the inbox is empty")]
    Empty,
    /// The inbox was removed or its component ended.
    #[error("the inbox is closed")]
    Closed,
}

/// A link, box or component operation was refused. Every variant names the boxes
/// involved as `component#id.box`, and the ones about unknown names list what exists.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Runtime, LinkError};
/// use axon::component::from_fn;
///
/// let rt = Runtime::new();
/// let a = rt.add(from_fn("a", |_ctx: axon::Context<u32, u32>| async { Ok(()) })).unwrap();
/// let err = rt.box_id(a.id(), "outbxo").unwrap_err();
/// assert!(matches!(err, LinkError::UnknownBox { .. }));
/// assert!(err.to_string().contains("outbox"), "{err}");
/// # }
/// ```
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// No live component has that id or name.
    #[error("no component {component}")]
    UnknownComponent {
        /// The id or name asked for.
        component: String,
    },
    /// The component has no box of that name.
    #[error("{component} has no box named {name:?}; it has: {existing}")]
    UnknownBox {
        /// The component (`name#id`).
        component: String,
        /// The box asked for.
        name: String,
        /// The boxes that exist, comma separated.
        existing: String,
    },
    /// The two ends carry different message types.
    #[error("cannot link {from} ({from_type}) -> {to} ({to_type}): the message types differ")]
    TypeMismatch {
        /// The source box.
        from: String,
        /// The source's message type.
        from_type: &'static str,
        /// The destination box.
        to: String,
        /// The destination's message type.
        to_type: &'static str,
    },
    /// The source box already has a destination; fan-out must be explicit.
    #[error(
        "cannot link {from} -> {to}: {from} is already linked to {existing} (a source has one destination; use a splitter or Backplane to fan out)"
    )]
    AlreadyLinked {
        /// The source box.
        from: String,
        /// The destination asked for.
        to: String,
        /// The destination it already has.
        existing: String,
    },
    /// The source cannot send (a plain inbox) or the destination cannot receive.
    #[error("cannot link {from} -> {to}: {reason}")]
    WrongDirection {
        /// The source box.
        from: String,
        /// The destination box.
        to: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The link would make messages go round in a loop of passthroughs.
    #[error("cannot link {from} -> {to}: it would close a loop of passthrough links")]
    Cycle {
        /// The source box.
        from: String,
        /// The destination box.
        to: String,
    },
    /// A box of that name already exists on the component.
    #[error("{component} already has a box named {name:?}")]
    DuplicateBox {
        /// The component (`name#id`).
        component: String,
        /// The box name.
        name: String,
    },
    /// The box exists but its message type is not the one asked for.
    #[error("{component}.{name} carries {actual}, not {asked}")]
    WrongType {
        /// The component (`name#id`).
        component: String,
        /// The box name.
        name: String,
        /// The type it carries.
        actual: &'static str,
        /// The type asked for.
        asked: &'static str,
    },
    /// The inbox's receiving handle was already taken by its component.
    #[error("{component}.{name} was already taken")]
    AlreadyTaken {
        /// The component (`name#id`).
        component: String,
        /// The box name.
        name: String,
    },
    /// The source box has no link to remove.
    #[error("{from} is not linked")]
    NotLinked {
        /// The source box.
        from: String,
    },
    /// No service is registered under that name.
    #[error("no service named {name:?}; registered: {existing}")]
    UnknownService {
        /// The name asked for.
        name: String,
        /// The services that exist, comma separated, or `none`.
        existing: String,
    },
    /// A service of that name already exists.
    #[error("a service named {name:?} is already registered")]
    DuplicateService {
        /// The name.
        name: String,
    },
    /// A component could not be made (a supervisor's factory failed).
    #[error("{component} could not be made: {reason}")]
    NotMade {
        /// The component, as its parent names it.
        component: String,
        /// Why, as the factory said.
        reason: String,
    },
}
