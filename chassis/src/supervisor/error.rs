//! [`SupervisorGaveUp`]: why a supervisor failed.

use std::time::Duration;

/// The exit error of a supervisor whose children failed more often than its
/// [`Intensity`](super::Intensity) allows. It names the child whose failure was one
/// too many, and why that child ended.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use chassis::supervisor::SupervisorGaveUp;
/// let e = SupervisorGaveUp {
///     supervisor: "Supervisor#3".into(),
///     child: "store".into(),
///     restarts: 3,
///     window: Duration::from_secs(5),
///     last_failure: "panicked: boom".into(),
/// };
/// assert_eq!(
///     e.to_string(),
///     "Supervisor#3 gave up: child \"store\" ended (panicked: boom) after 3 restarts within 5s"
/// );
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{supervisor} gave up: child {child:?} ended ({last_failure}) after {restarts} restarts within {window:?}"
)]
pub struct SupervisorGaveUp {
    /// The supervisor, as `name#id`.
    pub supervisor: String,
    /// The child whose end was one too many.
    pub child: String,
    /// Restarts made within the window before giving up.
    pub restarts: u32,
    /// The intensity window.
    pub window: Duration,
    /// How that child ended.
    pub last_failure: String,
}
