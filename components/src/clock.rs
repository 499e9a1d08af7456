//! [`Clock`]: a component that ticks at a fixed period.

use std::borrow::Cow;
use std::time::Duration;

use axon::{BoxError, Component, Context, LinkError, Setup};
use thiserror::Error;
pub use tokio::time::MissedTickBehavior;

/// Why a clock ended with a failure.
///
/// # Examples
///
/// ```
/// let e = components::clock::Error::NoDestination;
/// assert!(e.to_string().contains("no destination"));
/// ```
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A tick could not be sent: the `outbox` has no destination.
    #[error("the outbox has no destination; a tick could not be delivered")]
    NoDestination,
}

/// Sends a tick every period: Kamaelia's `CheapAndCheerfulClock`.
///
/// # What it does
///
/// `Clock::every(period)` sends `1u64` one period after it starts, `2` a period later,
/// and so on: each tick is the number of ticks sent so far, counting this one. It
/// runs until a message arrives on `control` (any of them: a clock has no queued work
/// to finish) or until [`max_ticks`](Clock::max_ticks) ticks have been sent.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use axon::testing::Harness;
/// use components::clock::Clock;
///
/// let mut h = Harness::new(Clock::every(Duration::from_secs(1)).max_ticks(2));
/// assert_eq!(h.recv().await, Some(1));
/// assert_eq!(h.recv().await, Some(2));
/// assert_eq!(h.recv().await, None);
/// # }
/// ```
///
/// # How it works
///
/// A [`tokio::time::Interval`] drives it, so it is idle between ticks and runs on
/// tokio's paused clock in tests. The ticks stay on the grid `start + k × period`.
/// When a tick is late, because the task was starved or because sending waited for a
/// full destination (backpressure), the [`MissedTickBehavior`] decides what happens;
/// the default here is [`MissedTickBehavior::Skip`]: the one overdue tick is sent at
/// once, then the clock returns to the grid, skipping the points it missed, so a slow
/// consumer never receives a burst of stale ticks. The count numbers the ticks sent,
/// so it has no gaps for the skipped ones.
/// Choose [`MissedTickBehavior::Burst`] to catch up or
/// [`MissedTickBehavior::Delay`] to restart the grid from the late tick, with
/// [`missed_tick_behavior`](Clock::missed_tick_behavior).
///
/// A clock whose `outbox` has no destination ends with [`Error::NoDestination`].
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `()` | unused |
/// | `control` | in | [`Control`](axon::Control) | any message stops the clock |
/// | `outbox` | out | `u64` | the tick count, 1, 2, 3… one per period |
/// | `signal` | out | [`Control`](axon::Control) | `ProducerFinished` after the last tick, `Shutdown` if shut down |
#[derive(Debug, Clone)]
pub struct Clock {
    period: Duration,
    missed: MissedTickBehavior,
    max_ticks: Option<u64>,
}

impl Clock {
    /// A clock ticking every `period`, first one `period` after it starts.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = components::clock::Clock::every(std::time::Duration::from_millis(250));
    /// ```
    pub fn every(period: Duration) -> Self {
        assert!(!period.is_zero(), "a Clock's period must be more than zero");
        Clock {
            period,
            missed: MissedTickBehavior::Skip,
            max_ticks: None,
        }
    }

    /// Choose what happens to ticks that are late (see "How it works" above).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::clock::{Clock, MissedTickBehavior};
    /// let clock = Clock::every(std::time::Duration::from_secs(1))
    ///     .missed_tick_behavior(MissedTickBehavior::Delay);
    /// ```
    pub fn missed_tick_behavior(mut self, behavior: MissedTickBehavior) -> Self {
        self.missed = behavior;
        self
    }

    /// End after sending `n` ticks (then `signal` carries `ProducerFinished`).
    ///
    /// # Examples
    ///
    /// ```
    /// let countdown = components::clock::Clock::every(std::time::Duration::from_secs(1)).max_ticks(10);
    /// ```
    pub fn max_ticks(mut self, n: u64) -> Self {
        self.max_ticks = Some(n);
        self
    }
}

impl Component for Clock {
    type In = ();
    type Out = u64;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("Clock")
    }

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "unused")?;
        setup.describe("outbox", "the tick count, one per period")
    }

    async fn run(self, mut ctx: Context<(), u64>) -> Result<(), BoxError> {
        let first = tokio::time::Instant::now() + self.period;
        let mut interval = tokio::time::interval_at(first, self.period);
        interval.set_missed_tick_behavior(self.missed);
        let mut count: u64 = 0;
        while self.max_ticks.is_none_or(|max| count < max) {
            // Any message on `control`, or `control` closing, stops the clock.
            tokio::select! {
                biased;
                _ = ctx.control.recv() => return Ok(()),
                _ = interval.tick() => {}
            }
            count += 1;
            let sent = tokio::select! {
                biased;
                _ = ctx.control.recv() => return Ok(()),
                sent = ctx.outbox.send(count) => sent,
            };
            if sent.is_err() {
                return Err(Error::NoDestination.into());
            }
        }
        Ok(())
    }
}
