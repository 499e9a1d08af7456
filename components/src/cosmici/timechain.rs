//! The time chain: from a FEDM clock cycle to UTC.
//!
//! ```text
//! FEDM cycle ──(sync number, cycles since that sync)──▶ CTU counter
//!            ──(fit of PPSCNTR points)──▶ PPS edge number + ns ──(UTC anchor)──▶ UTC
//! ```
//!
//! 1. The FEDM's `NC_PULSES`, `FIFO_FULL` and `CON_PULSE` lines carry
//!    `<sync>,<pll>`: the number of the last CTU sync pulse and the FEDM PLL
//!    counter when it arrived. A pulse's own PLL
//!    counter minus that `pll` is its cycles since the sync.
//! 2. The CTU emits sync pulse `n` when its fast counter reaches
//!    `sync_zero_count + n·2¹⁸` *(reading: both start at zero on `START`)*.
//!    FEDM cycles are converted to CTU counts with the measured ratio of FEDM
//!    cycles per sync period ([`TimeChain::observe_sync`]), or the nominal one
//!    until two distinct syncs have been seen.
//! 3. [`PpsFit`] fits the CTU counter against PPS edge numbers (`PPSCNTR`
//!    points; the 32-bit counter is unwrapped) by least squares over a sliding
//!    window, giving the counter's frequency and phase, and inverts it.
//! 4. [`TimeChain::anchor`] ties one PPS edge to its UTC second (from the
//!    `GPRMC` that follows it, say), which makes times absolute.
//!
//! # Units and readings
//!
//! * Absolute times are [`UtcNanos`]: nanoseconds since 1970-01-01T00:00:00 UTC,
//!   POSIX style (leap seconds not counted). GPS time itself is not used: the
//!   receiver's `GPRMC` already reports UTC, so no leap-second table is needed.
//! * *(reading)* CTU fast counter: 750 MHz (the original firmware's 750 Mcps
//!   counter, ≈1.333 ns per count), 32 bits, the first `PPSCNTR` of a run taken
//!   as unwrapped. Sync every 2¹⁸ counts (≈349.5 µs).
//! * *(reading)* FEDM PLL clock: 500 MHz (2 ns per cycle), 32 bits.
//! * All of these are [`TimeChainConfig`] fields.
//!
//! # Examples
//!
//! ```
//! use components::cosmici::TimeChain;
//!
//! let mut chain = TimeChain::default();
//! // An ideal 750 MHz counter that read 0 at PPS #10.
//! for pps in 10..14u32 {
//!     chain.ingest_pps(pps, (pps - 10) * 750_000_000).unwrap();
//! }
//! chain.anchor(10, 1_700_000_000);
//! // Sync #1 is 2^18 counts after PPS #10; 500 FEDM cycles (1 µs) later:
//! let t = chain.utc(1, 500).unwrap();
//! assert_eq!(t.as_nanos(), 1_700_000_000 * 1_000_000_000 + 349_525 + 1_000);
//! ```

use std::collections::VecDeque;

use super::wire::error::TimeChainError;
use super::wire::pulse::ConPulse;
use super::wire::uart::UartLine;
use super::wire::utc::UtcNanos;

const NS_PER_S: i64 = 1_000_000_000;
const WRAP: i64 = 1 << 32;

/// An instant on the PPS scale: a PPS edge number plus nanoseconds after it.
///
/// # Examples
///
/// ```
/// use components::cosmici::PpsFit;
///
/// let mut fit = PpsFit::new(750e6, 8, 100_000.0);
/// fit.ingest(7, 0).unwrap();
/// fit.ingest(8, 750_000_000).unwrap();
/// let at = fit.time_of_count(375_000_000).unwrap();
/// assert_eq!(at.pps, 7);
/// assert!((at.nanos - 5e8).abs() < 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PpsInstant {
    /// The PPS edge at or before the instant.
    pub pps: i64,
    /// Nanoseconds after that edge, in `0.0..1e9`.
    pub nanos: f64,
}

/// Settings of a [`TimeChain`]; the defaults are the readings in the
/// [module docs](self).
///
/// # Examples
///
/// ```
/// use components::cosmici::{TimeChain, TimeChainConfig};
///
/// let config = TimeChainConfig { window: 4, ..Default::default() };
/// assert_eq!(config.ctu_hz, 750e6);
/// let chain = TimeChain::new(config);
/// assert_eq!(chain.config().window, 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimeChainConfig {
    /// Nominal CTU fast-counter frequency, Hz (used until two PPS points are in).
    pub ctu_hz: f64,
    /// Nominal FEDM PLL frequency, Hz (used until two distinct syncs are seen).
    pub fedm_hz: f64,
    /// CTU counts between sync pulses.
    pub sync_period_counts: u64,
    /// Unwrapped CTU count at sync pulse #0.
    pub sync_zero_count: i64,
    /// `PPSCNTR` points in the sliding fit window (at least 2).
    pub window: usize,
    /// A `PPSCNTR` further than this from the fit's prediction is refused, ns.
    pub max_pps_residual_ns: f64,
}

impl Default for TimeChainConfig {
    fn default() -> Self {
        Self {
            ctu_hz: 750e6,
            fedm_hz: 500e6,
            sync_period_counts: 1 << 18,
            sync_zero_count: 0,
            window: 16,
            max_pps_residual_ns: 100_000.0,
        }
    }
}

/// Least-squares fit of the CTU counter against PPS edge number over a
/// sliding window of `PPSCNTR` points, with 32-bit counter unwrapping.
///
/// # Examples
///
/// ```
/// use components::cosmici::PpsFit;
///
/// let mut fit = PpsFit::new(750e6, 8, 100_000.0);
/// let mut count = 4_000_000_000u32;
/// for pps in 0..4 {
///     fit.ingest(pps, count).unwrap();
///     count = count.wrapping_add(750_000_300); // 0.4 ppm fast; wraps after the first
/// }
/// assert!((fit.frequency_hz().unwrap() - 750_000_300.0).abs() < 1e-3);
/// // One millisecond after PPS #2:
/// let at = fit.time_of_count(4_000_000_000 + 2 * 750_000_300 + 750_000).unwrap();
/// assert_eq!(at.pps, 2);
/// assert!((at.nanos - 1e6).abs() < 1.0);
/// ```
#[derive(Debug, Clone)]
pub struct PpsFit {
    nominal_hz: f64,
    window: usize,
    max_residual_ns: f64,
    /// (PPS number, unwrapped counter), oldest first.
    points: VecDeque<(i64, i64)>,
    line: Option<Line>,
}

/// `counter - c0 = alpha + beta·(pps - p0)` where `(p0, c0)` is the window's
/// oldest point, which keeps the floating-point terms small.
#[derive(Debug, Clone, Copy)]
struct Line {
    p0: i64,
    c0: i64,
    alpha: f64,
    beta: f64,
}

impl PpsFit {
    /// An empty fit. `window` is raised to 2 if smaller.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::PpsFit;
    ///
    /// let fit = PpsFit::new(750e6, 0, 100_000.0);
    /// assert!(fit.is_empty());
    /// assert_eq!(fit.frequency_hz(), None);
    /// ```
    pub fn new(nominal_hz: f64, window: usize, max_residual_ns: f64) -> Self {
        Self {
            nominal_hz,
            window: window.max(2),
            max_residual_ns,
            points: VecDeque::new(),
            line: None,
        }
    }

    /// Adds the counter value latched at PPS edge `pps_num`.
    ///
    /// The counter is unwrapped to the 2³²-multiple nearest the value the fit
    /// (or the nominal frequency) predicts, so gaps of many seconds are fine.
    ///
    /// # Errors
    ///
    /// [`TimeChainError::PpsNotIncreasing`] when `pps_num` does not exceed the
    /// last accepted one, [`TimeChainError::PpsOutlier`] when a fit exists and
    /// the counter is further than the residual limit from its prediction.
    /// A refused point leaves the fit unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{PpsFit, TimeChainError};
    ///
    /// let mut fit = PpsFit::new(750e6, 8, 100_000.0);
    /// fit.ingest(1, 0).unwrap();
    /// fit.ingest(2, 750_000_000).unwrap();
    /// assert!(matches!(fit.ingest(2, 0), Err(TimeChainError::PpsNotIncreasing { .. })));
    /// // 1 ms off the prediction is refused.
    /// assert!(matches!(fit.ingest(3, 1_500_750_000), Err(TimeChainError::PpsOutlier { .. })));
    /// assert_eq!(fit.len(), 2);
    /// ```
    pub fn ingest(&mut self, pps_num: u32, fast_cnt: u32) -> Result<(), TimeChainError> {
        let pps = i64::from(pps_num);
        let raw = i64::from(fast_cnt);
        let counter = match self.points.back() {
            None => raw,
            Some(&(last_pps, last_counter)) => {
                if pps <= last_pps {
                    return Err(TimeChainError::PpsNotIncreasing {
                        previous: u32::try_from(last_pps).unwrap_or(u32::MAX),
                        got: pps_num,
                    });
                }
                let predicted = match self.line {
                    Some(line) => line.counter_at(pps),
                    None => last_counter as f64 + (pps - last_pps) as f64 * self.nominal_hz,
                };
                let wraps = ((predicted - raw as f64) / WRAP as f64).round();
                let counter = raw.saturating_add((wraps as i64).saturating_mul(WRAP));
                if let Some(line) = self.line {
                    let residual_ns = (counter as f64 - predicted) / line.beta * 1e9;
                    if residual_ns.abs() > self.max_residual_ns || !residual_ns.is_finite() {
                        return Err(TimeChainError::PpsOutlier {
                            pps_num,
                            residual_ns,
                        });
                    }
                }
                counter
            }
        };
        self.points.push_back((pps, counter));
        if self.points.len() > self.window {
            self.points.pop_front();
        }
        self.line = Line::fit(&self.points);
        Ok(())
    }

    /// Points in the window.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::PpsFit;
    ///
    /// let mut fit = PpsFit::new(750e6, 2, 100_000.0);
    /// for pps in 0..3u32 {
    ///     fit.ingest(pps, pps * 750_000_000).unwrap();
    /// }
    /// assert_eq!(fit.len(), 2); // the window holds two points
    /// ```
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no point has been accepted since creation or the last reset.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::PpsFit;
    ///
    /// let mut fit = PpsFit::new(750e6, 8, 100_000.0);
    /// assert!(fit.is_empty());
    /// fit.ingest(0, 0).unwrap();
    /// assert!(!fit.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The fitted counter frequency (counts per PPS second), once two points are in.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::PpsFit;
    ///
    /// let mut fit = PpsFit::new(750e6, 8, 100_000.0);
    /// fit.ingest(0, 0).unwrap();
    /// assert_eq!(fit.frequency_hz(), None);
    /// fit.ingest(1, 750_000_100).unwrap();
    /// assert_eq!(fit.frequency_hz(), Some(750_000_100.0));
    /// ```
    pub fn frequency_hz(&self) -> Option<f64> {
        self.line.map(|line| line.beta)
    }

    /// The fitted (unwrapped) counter value at PPS edge `pps`: the fit's phase.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::PpsFit;
    ///
    /// let mut fit = PpsFit::new(750e6, 8, 100_000.0);
    /// fit.ingest(0, 100).unwrap();
    /// fit.ingest(1, 750_000_100).unwrap();
    /// assert_eq!(fit.counter_at(2), Some(1_500_000_100.0));
    /// ```
    pub fn counter_at(&self, pps: i64) -> Option<f64> {
        self.line.map(|line| line.counter_at(pps))
    }

    /// The instant at which the unwrapped counter reads `count`.
    ///
    /// # Errors
    ///
    /// [`TimeChainError::NotCalibrated`] with fewer than two points.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{PpsFit, TimeChainError};
    ///
    /// let mut fit = PpsFit::new(750e6, 8, 100_000.0);
    /// fit.ingest(0, 0).unwrap();
    /// assert!(matches!(fit.time_of_count(0), Err(TimeChainError::NotCalibrated { points: 1 })));
    /// fit.ingest(1, 750_000_000).unwrap();
    /// let at = fit.time_of_count(1_500_000_000).unwrap();
    /// assert_eq!(at.pps, 2);
    /// assert!(at.nanos.abs() < 1.0);
    /// ```
    pub fn time_of_count(&self, count: i64) -> Result<PpsInstant, TimeChainError> {
        self.time_of_fractional_count(count, 0.0)
    }

    /// As [`PpsFit::time_of_count`] for `count + fraction` counts.
    fn time_of_fractional_count(
        &self,
        count: i64,
        fraction: f64,
    ) -> Result<PpsInstant, TimeChainError> {
        let line = self.line.ok_or(TimeChainError::NotCalibrated {
            points: self.points.len(),
        })?;
        let y = count.saturating_sub(line.c0) as f64 + fraction;
        let x = (y - line.alpha) / line.beta;
        let whole = x.floor();
        let mut pps = line.p0.saturating_add(whole as i64);
        let mut nanos = (x - whole) * 1e9;
        if nanos >= 1e9 {
            pps = pps.saturating_add(1);
            nanos -= 1e9;
        }
        Ok(PpsInstant { pps, nanos })
    }

    /// Forgets every point (after a CTU restart, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::PpsFit;
    ///
    /// let mut fit = PpsFit::new(750e6, 8, 100_000.0);
    /// fit.ingest(5, 0).unwrap();
    /// fit.reset();
    /// assert!(fit.is_empty());
    /// // A lower PPS number is accepted again after the reset.
    /// fit.ingest(1, 0).unwrap();
    /// ```
    pub fn reset(&mut self) {
        self.points.clear();
        self.line = None;
    }
}

impl Line {
    fn fit(points: &VecDeque<(i64, i64)>) -> Option<Self> {
        let &(p0, c0) = points.front()?;
        if points.len() < 2 {
            return None;
        }
        let n = points.len() as f64;
        let xy = || {
            points
                .iter()
                .map(|&(p, c)| (p.saturating_sub(p0) as f64, c.saturating_sub(c0) as f64))
        };
        let (sx, sy) = xy().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
        let (mx, my) = (sx / n, sy / n);
        let (sxx, sxy) = xy().fold((0.0, 0.0), |(sxx, sxy), (x, y)| {
            (sxx + (x - mx) * (x - mx), sxy + (x - mx) * (y - my))
        });
        let beta = sxy / sxx;
        (beta.is_finite() && beta > 0.0).then_some(Self {
            p0,
            c0,
            alpha: my - beta * mx,
            beta,
        })
    }

    fn counter_at(&self, pps: i64) -> f64 {
        self.c0 as f64 + self.alpha + self.beta * (pps - self.p0) as f64
    }
}

/// The ratio of FEDM cycles to CTU sync periods, from two sync references.
#[derive(Debug, Clone, Copy)]
struct FedmRate {
    /// (sync number, unwrapped PLL counter) of the first and latest reference.
    first: Option<(u32, i64)>,
    last: Option<(u32, i64)>,
    nominal_cycles_per_sync: f64,
}

impl FedmRate {
    fn observe(&mut self, sync: u32, pll: u32) {
        let Some((last_sync, last_pll)) = self.last.filter(|&(last_sync, _)| sync >= last_sync)
        else {
            // First reference, or the sync count went back: the FEDM restarted.
            self.first = Some((sync, i64::from(pll)));
            self.last = self.first;
            return;
        };
        if sync == last_sync {
            return;
        }
        let expected = last_pll as f64 + f64::from(sync - last_sync) * self.cycles_per_sync();
        let raw = i64::from(pll);
        let wraps = ((expected - raw as f64) / WRAP as f64).round() as i64;
        self.last = Some((sync, raw.saturating_add(wraps.saturating_mul(WRAP))));
    }

    fn cycles_per_sync(&self) -> f64 {
        match (self.first, self.last) {
            (Some((s0, p0)), Some((s1, p1))) if s1 > s0 => {
                let measured = p1.saturating_sub(p0) as f64 / f64::from(s1 - s0);
                // A garbled reference must not turn time around.
                if measured > 0.0 {
                    measured
                } else {
                    self.nominal_cycles_per_sync
                }
            }
            _ => self.nominal_cycles_per_sync,
        }
    }
}

/// FEDM cycles → CTU counter → PPS scale → UTC (see the [module docs](self)).
///
/// # Examples
///
/// ```
/// use components::cosmici::TimeChain;
///
/// let mut chain = TimeChain::default();
/// chain.ingest_pps(0, 0).unwrap();
/// chain.ingest_pps(1, 750_000_000).unwrap();
/// chain.anchor(0, 1_000);
/// assert_eq!(chain.utc(0, 0).unwrap().unix_seconds(), 1_000);
/// ```
#[derive(Debug, Clone)]
pub struct TimeChain {
    config: TimeChainConfig,
    fit: PpsFit,
    fedm: FedmRate,
    /// UTC second of PPS edge 0.
    utc_of_pps_zero: Option<i64>,
}

impl Default for TimeChain {
    fn default() -> Self {
        Self::new(TimeChainConfig::default())
    }
}

impl TimeChain {
    /// An empty chain with the given settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{TimeChain, TimeChainConfig};
    ///
    /// let chain = TimeChain::new(TimeChainConfig { ctu_hz: 100e6, ..Default::default() });
    /// assert!(chain.fit().is_empty());
    /// assert!((chain.fedm_frequency_hz() - 500e6).abs() < 1e-3);
    /// ```
    pub fn new(config: TimeChainConfig) -> Self {
        let fit = PpsFit::new(config.ctu_hz, config.window, config.max_pps_residual_ns);
        let fedm = FedmRate {
            first: None,
            last: None,
            nominal_cycles_per_sync: config.fedm_hz * config.sync_period_counts as f64
                / config.ctu_hz,
        };
        Self {
            config,
            fit,
            fedm,
            utc_of_pps_zero: None,
        }
    }

    /// The settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let chain = TimeChain::default();
    /// assert_eq!(chain.config().sync_period_counts, 1 << 18);
    /// ```
    pub fn config(&self) -> &TimeChainConfig {
        &self.config
    }

    /// The CTU counter fit.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let mut chain = TimeChain::default();
    /// chain.ingest_pps(3, 0).unwrap();
    /// assert_eq!(chain.fit().len(), 1);
    /// ```
    pub fn fit(&self) -> &PpsFit {
        &self.fit
    }

    /// Adds a `PPSCNTR` point (see [`PpsFit::ingest`]).
    ///
    /// # Errors
    ///
    /// As [`PpsFit::ingest`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let mut chain = TimeChain::default();
    /// chain.ingest_pps(1, 0).unwrap();
    /// chain.ingest_pps(2, 750_000_000).unwrap();
    /// assert!(chain.ingest_pps(2, 750_000_000).is_err());
    /// assert_eq!(chain.fit().frequency_hz(), Some(750e6));
    /// ```
    pub fn ingest_pps(&mut self, pps_num: u32, fast_cnt: u32) -> Result<(), TimeChainError> {
        self.fit.ingest(pps_num, fast_cnt)
    }

    /// Records a FEDM sync reference: PLL counter `pll` when sync `sync` arrived.
    /// Two distinct syncs calibrate the FEDM clock against the CTU's; a sync
    /// number lower than the last one starts the calibration again.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let mut chain = TimeChain::default();
    /// // Nominal: 500 MHz FEDM.
    /// assert!((chain.fedm_frequency_hz() - 500e6).abs() < 1e-3);
    /// // Twice the nominal cycles per sync period: the FEDM runs at 1 GHz.
    /// chain.observe_sync(0, 0);
    /// chain.observe_sync(3, 1_048_576);
    /// assert!((chain.fedm_frequency_hz() - 1e9).abs() < 1e-3);
    /// ```
    pub fn observe_sync(&mut self, sync: u32, pll: u32) {
        self.fedm.observe(sync, pll);
    }

    /// Feeds whatever the chain uses from a UART line: `PPSCNTR` points and
    /// the sync references of `NC_PULSES`, `FIFO_FULL` and `CON_PULSE`.
    ///
    /// # Errors
    ///
    /// As [`PpsFit::ingest`] for a `PPSCNTR` line.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{TimeChain, UartLine};
    ///
    /// let mut chain = TimeChain::default();
    /// chain.observe(&UartLine::parse("PPSCNTR,1,0").unwrap()).unwrap();
    /// chain.observe(&UartLine::parse("PPSCNTR,2,750000000").unwrap()).unwrap();
    /// assert_eq!(chain.fit().frequency_hz(), Some(750e6));
    /// ```
    pub fn observe(&mut self, line: &UartLine) -> Result<(), TimeChainError> {
        match line {
            UartLine::PpsCntr { pps_num, fast_cnt } => self.ingest_pps(*pps_num, *fast_cnt)?,
            UartLine::NcPulses { sync, pll, .. } | UartLine::FifoFull { sync, pll, .. } => {
                self.observe_sync(*sync, *pll)
            }
            UartLine::ConPulse(pulse) => self.observe_sync(pulse.sync, pulse.pll),
            _ => {}
        }
        Ok(())
    }

    /// Ties PPS edge `pps_num` to the UTC second `utc_second` (POSIX seconds).
    /// Returns how many seconds the previous anchor disagreed by, if it did.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let mut chain = TimeChain::default();
    /// assert_eq!(chain.anchor(5, 1_000), None);
    /// assert_eq!(chain.anchor(6, 1_001), None);
    /// assert_eq!(chain.anchor(7, 1_003), Some(1));
    /// ```
    pub fn anchor(&mut self, pps_num: u32, utc_second: i64) -> Option<i64> {
        let offset = utc_second.saturating_sub(i64::from(pps_num));
        let previous = self.utc_of_pps_zero.replace(offset);
        previous
            .map(|p| offset.saturating_sub(p))
            .filter(|&shift| shift != 0)
    }

    /// FEDM clock frequency estimate, Hz: measured against the CTU fit once
    /// both are calibrated, nominal otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let mut chain = TimeChain::default();
    /// chain.ingest_pps(0, 0).unwrap();
    /// chain.ingest_pps(1, 750_000_000).unwrap();
    /// chain.observe_sync(0, 0);
    /// chain.observe_sync(1, 174_763);
    /// assert!((chain.fedm_frequency_hz() - 500e6).abs() < 1e4);
    /// ```
    pub fn fedm_frequency_hz(&self) -> f64 {
        let ctu_hz = self.fit.frequency_hz().unwrap_or(self.config.ctu_hz);
        self.fedm.cycles_per_sync() * ctu_hz / self.config.sync_period_counts as f64
    }

    /// The instant `fedm_cycles` FEDM cycles after sync pulse `sync`, on the
    /// PPS scale.
    ///
    /// # Errors
    ///
    /// [`TimeChainError::NotCalibrated`] with fewer than two `PPSCNTR` points.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let mut chain = TimeChain::default();
    /// assert!(chain.pps_time(1, 0).is_err());
    /// chain.ingest_pps(10, 0).unwrap();
    /// chain.ingest_pps(11, 750_000_000).unwrap();
    /// // Sync #1 is 2^18 counts after PPS #10 at 750 MHz.
    /// let at = chain.pps_time(1, 0).unwrap();
    /// assert_eq!(at.pps, 10);
    /// assert!((at.nanos - 262_144.0 / 0.75).abs() < 1.0);
    /// ```
    pub fn pps_time(&self, sync: u32, fedm_cycles: u64) -> Result<PpsInstant, TimeChainError> {
        let period = i64::try_from(self.config.sync_period_counts).unwrap_or(i64::MAX);
        let sync_count = self
            .config
            .sync_zero_count
            .saturating_add(i64::from(sync).saturating_mul(period));
        let counts = fedm_cycles as f64 * self.config.sync_period_counts as f64
            / self.fedm.cycles_per_sync();
        self.fit.time_of_fractional_count(sync_count, counts)
    }

    /// The UTC instant `fedm_cycles` FEDM cycles after sync pulse `sync`.
    ///
    /// # Errors
    ///
    /// [`TimeChainError::NotCalibrated`] or [`TimeChainError::NoUtcAnchor`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{TimeChain, TimeChainError};
    ///
    /// let mut chain = TimeChain::default();
    /// chain.ingest_pps(0, 0).unwrap();
    /// chain.ingest_pps(1, 750_000_000).unwrap();
    /// assert_eq!(chain.utc(0, 0), Err(TimeChainError::NoUtcAnchor));
    /// chain.anchor(0, 1_700_000_000);
    /// // 500 FEDM cycles at 500 MHz: one microsecond after sync #0.
    /// assert_eq!(chain.utc(0, 500).unwrap().as_nanos(), 1_700_000_000_000_001_000);
    /// ```
    pub fn utc(&self, sync: u32, fedm_cycles: u64) -> Result<UtcNanos, TimeChainError> {
        let at = self.pps_time(sync, fedm_cycles)?;
        let zero = self.utc_of_pps_zero.ok_or(TimeChainError::NoUtcAnchor)?;
        let second = zero.saturating_add(at.pps);
        Ok(UtcNanos(
            second
                .saturating_mul(NS_PER_S)
                .saturating_add(at.nanos.round() as i64),
        ))
    }

    /// The UTC instant of FEDM PLL counter `pll`, given the PLL counter
    /// `sync_pll` at sync pulse `sync` (the counter may have wrapped between).
    ///
    /// # Errors
    ///
    /// As [`TimeChain::utc`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let mut chain = TimeChain::default();
    /// chain.ingest_pps(0, 0).unwrap();
    /// chain.ingest_pps(1, 750_000_000).unwrap();
    /// chain.anchor(0, 1_700_000_000);
    /// // The PLL counter wrapped between the sync and the pulse.
    /// let t = chain.utc_at_pll(1, u32::MAX - 99, 400).unwrap();
    /// assert_eq!(t, chain.utc(1, 500).unwrap());
    /// ```
    pub fn utc_at_pll(
        &self,
        sync: u32,
        sync_pll: u32,
        pll: u32,
    ) -> Result<UtcNanos, TimeChainError> {
        self.utc(sync, u64::from(pll.wrapping_sub(sync_pll)))
    }

    /// The UTC instant of a pulse's first rising edge.
    ///
    /// # Errors
    ///
    /// As [`TimeChain::utc`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{ConPulse, TimeChain};
    ///
    /// let mut chain = TimeChain::default();
    /// chain.ingest_pps(0, 0).unwrap();
    /// chain.ingest_pps(1, 750_000_000).unwrap();
    /// chain.anchor(0, 1_700_000_000);
    /// let pulse: ConPulse = "CON_PULSE,0,1000,3,1,1500,2,(0,(2,2),5)".parse().unwrap();
    /// assert_eq!(chain.pulse_utc(&pulse).unwrap(), chain.utc(0, 500).unwrap());
    /// ```
    pub fn pulse_utc(&self, pulse: &ConPulse) -> Result<UtcNanos, TimeChainError> {
        self.utc_at_pll(pulse.sync, pulse.pll, pulse.start_pll)
    }

    /// Forgets the fit, the FEDM calibration and the anchor (a new run).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::TimeChain;
    ///
    /// let mut chain = TimeChain::default();
    /// chain.ingest_pps(0, 0).unwrap();
    /// chain.anchor(0, 1_000);
    /// chain.reset();
    /// assert!(chain.fit().is_empty());
    /// assert_eq!(chain.anchor(0, 1_000), None); // no previous anchor
    /// ```
    pub fn reset(&mut self) {
        *self = Self::new(self.config.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cosmici::test_rng::Rng;

    /// The synthetic hardware: a CTU oscillator with offset and drift, a FEDM
    /// oscillator with offset, PPS edges with jitter; times in true seconds
    /// since the CTU counter started at zero.
    struct Hardware {
        ctu_hz: f64,
        ctu_offset: f64,
        ctu_drift_per_s: f64,
        fedm_hz: f64,
        fedm_start: f64,
    }

    impl Hardware {
        fn ctu_count(&self, t: f64) -> f64 {
            self.ctu_hz * ((1.0 + self.ctu_offset) * t + 0.5 * self.ctu_drift_per_s * t * t)
        }

        /// Solves `ctu_count(t) = count` by Newton's method.
        fn time_of_ctu_count(&self, count: f64) -> f64 {
            let mut t = count / (self.ctu_hz * (1.0 + self.ctu_offset));
            for _ in 0..4 {
                let rate = self.ctu_hz * (1.0 + self.ctu_offset + self.ctu_drift_per_s * t);
                t -= (self.ctu_count(t) - count) / rate;
            }
            t
        }

        fn fedm_pll(&self, t: f64) -> u32 {
            ((self.fedm_start + self.fedm_hz * t).floor() as i64).rem_euclid(WRAP) as u32
        }
    }

    const PPS_START: u32 = 100;
    const PPS_PHASE_S: f64 = 0.3;
    const UTC_OF_FIRST_PPS: i64 = 1_700_000_000;

    /// Feeds 60 s of synthetic PPS and FEDM data with PPS jitter uniform in
    /// ±`jitter_ns`, converts 20 events per second (from the 9th on) and
    /// returns the worst and RMS error, ns, and the final chain.
    fn synthetic_run(jitter_ns: f64) -> (f64, f64, TimeChain, Hardware) {
        let hw = Hardware {
            ctu_hz: 750e6,
            ctu_offset: 3e-6,
            ctu_drift_per_s: 1e-12,
            fedm_hz: 500e6 * (1.0 - 20e-6),
            fedm_start: 4.0e9,
        };
        let mut rng = Rng(0x5eed_cafe);
        let mut chain = TimeChain::default();
        let (mut worst, mut sum_sq, mut events) = (0.0f64, 0.0, 0);
        for k in 0..60u32 {
            let jitter = (rng.unit() - 0.5) * 2.0 * jitter_ns * 1e-9;
            let t_pps = PPS_PHASE_S + f64::from(k) + jitter;
            let raw = (hw.ctu_count(t_pps).floor() as i64).rem_euclid(WRAP) as u32;
            chain.ingest_pps(PPS_START + k, raw).unwrap();
            assert_eq!(
                chain.anchor(PPS_START + k, UTC_OF_FIRST_PPS + i64::from(k)),
                None
            );
            // A FEDM line reports the sync reference of some sync in this second.
            let sync = (hw.ctu_count(t_pps + 0.5) / 262_144.0) as u32;
            chain.observe_sync(
                sync,
                hw.fedm_pll(hw.time_of_ctu_count(f64::from(sync) * 262_144.0)),
            );
            if k < 8 {
                continue;
            }
            for _ in 0..20 {
                // Events up to one second after the latest PPS, as in live use.
                let t_event = t_pps + rng.unit() * 0.999;
                let sync = (hw.ctu_count(t_event) / 262_144.0).floor();
                let t_sync = hw.time_of_ctu_count(sync * 262_144.0);
                let (sync_pll, event_pll) = (hw.fedm_pll(t_sync), hw.fedm_pll(t_event));
                let got = chain
                    .utc_at_pll(sync as u32, sync_pll, event_pll)
                    .unwrap()
                    .as_nanos();
                let truth_s = t_event - PPS_PHASE_S;
                let expected = (UTC_OF_FIRST_PPS + truth_s.floor() as i64) * NS_PER_S
                    + ((truth_s - truth_s.floor()) * 1e9).round() as i64;
                let error = (got - expected) as f64;
                worst = worst.max(error.abs());
                sum_sq += error * error;
                events += 1;
            }
        }
        assert_eq!(events, 52 * 20);
        (worst, (sum_sq / f64::from(events)).sqrt(), chain, hw)
    }

    #[test]
    fn synthetic_events_come_out_within_quantisation() {
        let (worst, rms, chain, hw) = synthetic_run(0.0);
        // One FEDM cycle (2 ns) from flooring two PLL reads, plus at most one
        // CTU count (1.33 ns) from flooring the PPS counter values.
        assert!(
            worst <= 2.0 + 4.0 / 3.0,
            "worst error {worst} ns, rms {rms} ns"
        );
        let fedm_hz = chain.fedm_frequency_hz();
        assert!(
            (fedm_hz / hw.fedm_hz - 1.0).abs() < 1e-7,
            "FEDM estimate {fedm_hz}"
        );
        let ctu_hz = chain.fit().frequency_hz().unwrap();
        assert!(
            (ctu_hz / (750e6 * (1.0 + 3e-6)) - 1.0).abs() < 1e-9,
            "CTU estimate {ctu_hz}"
        );
    }

    #[test]
    fn pps_jitter_is_averaged_by_the_fit() {
        // ±5 ns PPS jitter (σ ≈ 2.9 ns per edge) is averaged over the window.
        let (worst, rms, ..) = synthetic_run(5.0);
        assert!(rms < 2.0, "rms error {rms} ns");
        assert!(worst < 7.0, "worst error {worst} ns");
    }

    #[test]
    fn counter_unwraps_across_long_gaps() {
        let mut fit = PpsFit::new(750e6, 4, 100_000.0);
        let f = 750_000_123.0f64;
        let raw = |pps: u32| ((f64::from(pps) * f) as i64).rem_euclid(WRAP) as u32;
        fit.ingest(0, raw(0)).unwrap();
        fit.ingest(1, raw(1)).unwrap();
        // 1000 s of silence: about 175 wraps.
        fit.ingest(1001, raw(1001)).unwrap();
        let at = fit.time_of_count((1001.5 * f) as i64).unwrap();
        assert_eq!(at.pps, 1001);
        assert!((at.nanos - 5e8).abs() < 2.0, "{at:?}");
    }

    #[test]
    fn refused_points_leave_the_fit_alone() {
        let mut chain = TimeChain::default();
        assert_eq!(
            chain.pps_time(0, 0),
            Err(TimeChainError::NotCalibrated { points: 0 })
        );
        chain.ingest_pps(1, 0).unwrap();
        assert_eq!(
            chain.pps_time(0, 0),
            Err(TimeChainError::NotCalibrated { points: 1 })
        );
        chain.ingest_pps(2, 750_000_000).unwrap();
        assert_eq!(
            chain.ingest_pps(2, 1_500_000_000),
            Err(TimeChainError::PpsNotIncreasing {
                previous: 2,
                got: 2
            })
        );
        let Err(TimeChainError::PpsOutlier {
            pps_num: 3,
            residual_ns,
        }) = chain.ingest_pps(3, 1_500_750_000)
        else {
            panic!("1 ms jump accepted")
        };
        assert!((residual_ns - 1e6).abs() < 1.0);
        assert_eq!(chain.fit().len(), 2);
        assert_eq!(chain.utc(0, 0), Err(TimeChainError::NoUtcAnchor));
        chain.anchor(1, 10);
        assert_eq!(chain.utc(0, 0), Ok(UtcNanos(10 * NS_PER_S)));
        chain.reset();
        assert!(chain.fit().is_empty());
        assert_eq!(
            chain.utc(0, 0),
            Err(TimeChainError::NotCalibrated { points: 0 })
        );
    }

    #[test]
    fn fedm_calibration_restarts_when_sync_goes_back() {
        let mut chain = TimeChain::default();
        let nominal = chain.fedm_frequency_hz();
        chain.observe_sync(10, 0);
        chain.observe_sync(20, 1_747_700);
        // 174 770 cycles per 2^18 counts of a 750 MHz counter.
        assert!((chain.fedm_frequency_hz() - 174_770.0 * 750e6 / 262_144.0).abs() < 1e-3);
        chain.observe_sync(5, 123);
        assert_eq!(chain.fedm_frequency_hz(), nominal);
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(
            UtcNanos::from_civil(1970, 1, 1, 0, 0, 0, 0),
            Some(UtcNanos(0))
        );
        assert_eq!(UtcNanos(-1).to_string(), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            UtcNanos::from_civil(2000, 2, 29, 12, 0, 0, 0).map(|t| t.to_string()),
            Some("2000-02-29T12:00:00.000000000Z".into())
        );
        assert_eq!(UtcNanos::from_civil(1900, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(UtcNanos::from_civil(2024, 13, 1, 0, 0, 0, 0), None);
        assert_eq!(
            UtcNanos::from_civil(2016, 12, 31, 23, 59, 60, 0),
            UtcNanos::from_civil(2017, 1, 1, 0, 0, 0, 0)
        );
        let mut rng = Rng(7);
        for _ in 0..1000 {
            let t = UtcNanos(
                (rng.next() % (8_000_000_000 * NS_PER_S as u64)) as i64 - 4_000_000_000 * NS_PER_S,
            );
            let text = t.to_string();
            let (date, time) = text.split_once('T').unwrap();
            let d: Vec<i64> = date.rsplitn(3, '-').map(|s| s.parse().unwrap()).collect();
            let hms: Vec<u32> = time[..8].split(':').map(|s| s.parse().unwrap()).collect();
            let nanos: u32 = time[9..18].parse().unwrap();
            let back = UtcNanos::from_civil(
                d[2],
                d[1] as u32,
                d[0] as u32,
                hms[0],
                hms[1],
                hms[2],
                nanos,
            );
            assert_eq!(back, Some(t), "{text}");
        }
    }
}
