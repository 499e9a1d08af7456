//! How a supervisor restarts: [`Strategy`], [`Restart`], [`Intensity`] and [`Backoff`].

use std::time::Duration;

/// Which children a failure restarts.
///
/// # Examples
///
/// ```
/// use chassis::supervisor::{Strategy, Supervisor};
/// let s = Supervisor::<(), ()>::new().strategy(Strategy::RestForOne);
/// # let _ = s;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the child that ended is restarted (Erlang's `one_for_one`).
    #[default]
    OneForOne,
    /// Every child is stopped and all are restarted, in declaration order
    /// (`one_for_all`): for children that only work together.
    OneForAll,
    /// The child that ended and every child declared after it are stopped and
    /// restarted (`rest_for_one`): for children that depend on earlier ones.
    RestForOne,
}

/// When a child is restarted.
///
/// # Examples
///
/// ```
/// use axon::{Context, component::from_fn};
/// use chassis::supervisor::{ChildSpec, Restart};
/// let once = ChildSpec::new("once", || from_fn("once", |_c: Context<(), ()>| async { Ok(()) }))
///     .restart(Restart::Transient);
/// # let _ = once;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always restarted, whatever way it ended (a service that must run).
    #[default]
    Permanent,
    /// Restarted only if it failed, panicked or was killed; a clean end is final.
    Transient,
    /// Never restarted.
    Temporary,
}

impl Restart {
    /// Whether a child of this kind that ended with `exit` is restarted.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Exit;
    /// use chassis::supervisor::Restart;
    /// assert!(Restart::Transient.restarts_after(&Exit::Panicked("boom".into())));
    /// assert!(!Restart::Transient.restarts_after(&Exit::Finished));
    /// assert!(Restart::Permanent.restarts_after(&Exit::Finished));
    /// ```
    pub fn restarts_after(self, exit: &axon::Exit) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => !exit.is_clean(),
            Restart::Temporary => false,
        }
    }
}

/// The most restarts a supervisor makes within a sliding window before it gives up
/// and fails itself (its parent then hears why). Default: 3 in 5 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use chassis::supervisor::Intensity;
/// let i = Intensity::new(10, Duration::from_secs(60));
/// assert_eq!((i.max_restarts, i.window), (10, Duration::from_secs(60)));
/// assert_eq!(Intensity::default().max_restarts, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts allowed within `window`; one more makes the supervisor give up.
    pub max_restarts: u32,
    /// The sliding window.
    pub window: Duration,
}

impl Intensity {
    /// At most `max_restarts` restarts within `window`.
    ///
    /// # Examples
    ///
    /// ```
    /// let i = chassis::supervisor::Intensity::new(1, std::time::Duration::from_secs(1));
    /// # let _ = i;
    /// ```
    pub fn new(max_restarts: u32, window: Duration) -> Self {
        Intensity {
            max_restarts,
            window,
        }
    }
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity::new(3, Duration::from_secs(5))
    }
}

/// How long to wait before a restart: `min` for the first restart in the intensity
/// window, doubling with each further one up to `max`, plus up to `jitter` (a
/// fraction) of it at random so that many supervisors do not restart in step.
/// Default: 10 ms, 1 s, 0.1.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use chassis::supervisor::Backoff;
/// let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2)).jitter(0.0);
/// assert_eq!(b.delay(1), Duration::from_millis(100));
/// assert_eq!(b.delay(3), Duration::from_millis(400));
/// assert_eq!(b.delay(10), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The wait before the first restart.
    pub min: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Up to this fraction of the wait is added at random (0 for none).
    pub jitter: f64,
}

impl Backoff {
    /// Waits from `min` doubling up to `max`, with the default jitter (0.1).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = chassis::supervisor::Backoff::new(Duration::ZERO, Duration::ZERO);
    /// assert_eq!(b.delay(5), Duration::ZERO);
    /// ```
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
            jitter: 0.1,
        }
    }

    /// No wait at all: restart at once (as Erlang does).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = chassis::supervisor::Backoff::none();
    /// assert_eq!(b.delay(3), std::time::Duration::ZERO);
    /// ```
    pub fn none() -> Self {
        Backoff {
            min: Duration::ZERO,
            max: Duration::ZERO,
            jitter: 0.0,
        }
    }

    /// Set the jitter fraction (clamped to 0..=1).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = chassis::supervisor::Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).jitter(0.5);
    /// assert_eq!(b.jitter, 0.5);
    /// ```
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// The wait before the `nth` restart in the current window (1 for the first),
    /// without jitter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = chassis::supervisor::Backoff::default().jitter(0.0);
    /// assert_eq!(b.delay(2), Duration::from_millis(20));
    /// ```
    pub fn delay(&self, nth: u32) -> Duration {
        let doublings = nth.saturating_sub(1).min(31);
        self.min
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// [`delay`](Backoff::delay) with jitter drawn from `unit` (a number in `0..1`).
    pub(crate) fn delay_with(&self, nth: u32, unit: f64) -> Duration {
        let base = self.delay(nth);
        base.mul_f64(1.0 + self.jitter * unit.clamp(0.0, 1.0))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(10), Duration::from_secs(1))
    }
}
