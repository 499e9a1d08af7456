//! [`ChainProgress`]: how far a station's chain has got in data time, for a quiet
//! station's progress watermark.
//!
//! A station of a [split](super::split) server sends its pulses in UTC order, and the
//! central merges the stations' streams by UTC: it holds every pulse until each
//! station has shown a later time. A station whose detectors are quiet shows no pulse,
//! yet its time chain knows how far its nodes have got (the FEDMs report their sync
//! counter every second). The [`PulseClock`](super::timing::PulseClock) records, each
//! time it has released what it could, how many pulses it has released and the UTC
//! before which nothing more will come out of it (its merge's frontier); the
//! [`FitJoiner`](super::pipeline::FitJoiner) counts the pulses it has passed on. When
//! the two counts agree, no pulse is between the clock and the station's uplink, so
//! the clock's frontier is the station's: [`ChainProgress::watermark`].
//!
//! # Examples
//!
//! ```
//! use components::cosmici::UtcNanos;
//! use components::cosmici::progress::ChainProgress;
//!
//! let progress = ChainProgress::default();
//! assert_eq!(progress.watermark(), None); // the clock has shown no time yet
//! progress.clock_released(2, Some(UtcNanos(5_000)));
//! assert_eq!(progress.watermark(), None); // two pulses are still being fitted
//! progress.pulse_joined();
//! progress.pulse_joined();
//! assert_eq!(progress.watermark(), Some(UtcNanos(5_000)));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::wire::utc::UtcNanos;

/// What the clock last recorded: pulses released so far, and its frontier then.
#[derive(Debug, Clone, Copy, Default)]
struct ClockMark {
    released: u64,
    frontier: Option<UtcNanos>,
}

/// A station chain's progress in data time, shared by its clock, its joiner and its
/// uplink; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct ChainProgress {
    clock: Arc<Mutex<ClockMark>>,
    joined: Arc<AtomicU64>,
}

impl ChainProgress {
    /// The clock has released `released` pulses in all, and nothing before `frontier`
    /// will leave it (`None`: it cannot say yet).
    pub fn clock_released(&self, released: u64, frontier: Option<UtcNanos>) {
        if let Ok(mut mark) = self.clock.lock() {
            *mark = ClockMark { released, frontier };
        }
    }

    /// The joiner has passed on one more pulse (after its send, if it sent one).
    pub fn pulse_joined(&self) {
        self.joined.fetch_add(1, Ordering::Release);
    }

    /// The UTC before which no pulse will come out of the joiner: the clock's
    /// frontier, once every pulse the clock had released by then has passed the
    /// joiner; `None` while some are in between, or the clock cannot say.
    pub fn watermark(&self) -> Option<UtcNanos> {
        // The clock's mark first: the pulses it counts were sent before it was set.
        let mark = self.clock.lock().map(|m| *m).unwrap_or_default();
        let joined = self.joined.load(Ordering::Acquire);
        if joined >= mark.released {
            mark.frontier
        } else {
            None
        }
    }
}
