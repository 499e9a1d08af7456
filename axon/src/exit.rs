//! Why a component ended.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// The error type a component body may return: any error, boxed.
///
/// # Examples
///
/// ```
/// fn parse(s: &str) -> Result<u32, axon::BoxError> {
///     Ok(s.trim().parse()?)
/// }
/// assert_eq!(parse(" 7 ").unwrap(), 7);
/// assert!(parse("seven").is_err());
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a component ended. Every component ends with exactly one of these; its parent
/// is told (see [`ChildExit`]), and the introspection stream reports it.
///
/// # Examples
///
/// ```
/// use axon::Exit;
///
/// assert!(Exit::Finished.is_clean());
/// assert!(!Exit::Panicked("boom".into()).is_clean());
/// assert_eq!(Exit::ShutDown.to_string(), "shut down");
/// ```
#[derive(Debug, Clone)]
pub enum Exit {
    /// The body returned `Ok` after its input ended (or it had nothing more to do).
    Finished,
    /// The body returned `Ok` after receiving [`Control::Shutdown`](crate::Control::Shutdown).
    ShutDown,
    /// The body returned an error.
    Failed(Arc<dyn std::error::Error + Send + Sync + 'static>),
    /// The body panicked; the payload's message is kept.
    Panicked(String),
    /// The component was stopped from outside ([`Handle::kill`](crate::Handle::kill), a
    /// parent that ended first, or a deadline) before its body returned.
    Aborted,
}

impl Exit {
    /// True for [`Exit::Finished`] and [`Exit::ShutDown`]: the component ended as asked.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(axon::Exit::ShutDown.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        matches!(self, Exit::Finished | Exit::ShutDown)
    }

    /// A short lower-case word for the reason: `finished`, `shut down`, `failed`,
    /// `panicked` or `aborted`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(axon::Exit::Aborted.kind(), "aborted");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Exit::Finished => "finished",
            Exit::ShutDown => "shut down",
            Exit::Failed(_) => "failed",
            Exit::Panicked(_) => "panicked",
            Exit::Aborted => "aborted",
        }
    }

    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Exit {
        let msg = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_string()
        };
        Exit::Panicked(msg)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Failed(e) => write!(f, "failed: {e}"),
            Exit::Panicked(m) => write!(f, "panicked: {m}"),
            other => f.write_str(other.kind()),
        }
    }
}

impl Serialize for Exit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A child's exit, as reported to its parent.
///
/// # Examples
///
/// ```
/// # async fn demo(mut ctx: axon::Context<(), ()>) {
/// while let Some(child) = ctx.next_child_exit().await {
///     tracing::info!("{} ended: {}", child.name, child.exit);
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ChildExit {
    /// The child's id.
    pub id: crate::ComponentId,
    /// The child's name.
    pub name: String,
    /// Why it ended.
    pub exit: Exit,
    /// The tag the parent gave it when starting it ([`Prepared::tag`](crate::Prepared::tag)).
    pub tag: Option<u64>,
    /// Messages still queued in its inboxes when it ended, dropped with them (also in
    /// [`GraphEvent::Exited`](crate::GraphEvent::Exited)).
    pub unread: u64,
}
