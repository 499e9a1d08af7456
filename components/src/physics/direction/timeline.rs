//! `Timeline`: exact absolute times onto small `f64` times for the streaming shower
//! filter, and back.
//!
//! The shower filter works in `f64` ns. Absolute times (ns since 1970) would lose 256 ns
//! there, and even times counted from the start of a long file slowly lose precision. A
//! timeline keeps `f64` times small by closing the gaps: wherever the input pauses for
//! more than `gap` ns, the `f64` clock only advances by `gap`. Pulses closer than `gap`
//! keep their exact separation, so for a `gap` well above the filter's window and
//! lateness, coincidences are unchanged. [`Timeline::exact`] maps a filter time back to
//! the exact time (to the picosecond while a stretch without gaps stays below about
//! 10¹¹ ns).
//!
//! # Examples
//!
//! ```rust
//! use components::physics::direction::time::ExactTime;
//! use components::physics::direction::timeline::Timeline;
//!
//! let mut line = Timeline::new(10_000.0);
//! let t = |s: &str| ExactTime::parse(s).unwrap();
//! let a = line.map(t("1800000000000000000.5"));
//! let b = line.map(t("1800000000000000012.5"));
//! let c = line.map(t("1800000000099000000")); // 99 ms later: the gap is closed
//! assert_eq!(b - a, 12.0);
//! assert_eq!(c - b, 10_000.0);
//! assert_eq!(line.exact(c), t("1800000000099000000"));
//! assert_eq!(line.exact(b), t("1800000000000000012.5"));
//! ```

use std::collections::VecDeque;

use super::time::ExactTime;

/// Maps exact times to gap-closed `f64` ns and back; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Timeline {
    gap: f64,
    /// `(exact start, f64 start)` of each stretch without gaps, oldest first.
    segments: VecDeque<(ExactTime, f64)>,
    latest: Option<(ExactTime, f64)>,
}

impl Timeline {
    /// A timeline that closes pauses longer than `gap_ns` (positive).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::timeline::Timeline;
    /// let line = Timeline::new(1e4);
    /// assert_eq!(line.segments(), 0);
    /// ```
    pub fn new(gap_ns: f64) -> Self {
        Timeline {
            gap: gap_ns.max(1.0),
            segments: VecDeque::new(),
            latest: None,
        }
    }

    /// Number of stretches kept (bounded by [`forget_before`](Self::forget_before)).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// use components::physics::direction::timeline::Timeline;
    /// let mut line = Timeline::new(10.0);
    /// line.map(ExactTime::from_ns(0));
    /// line.map(ExactTime::from_ns(1000));
    /// assert_eq!(line.segments(), 2);
    /// ```
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    fn start_segment(&mut self, t: ExactTime) {
        let v = self.latest.map_or(0.0, |(_, v)| v + self.gap);
        self.segments.push_back((t, v));
        self.latest = Some((t, v));
    }

    /// The `f64` time of `t`: a new stretch when `t` is more than the gap after every
    /// earlier time. Times may come late (up to well under the gap).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// use components::physics::direction::timeline::Timeline;
    /// let mut line = Timeline::new(100.0);
    /// assert_eq!(line.map(ExactTime::from_ns(5000)), 0.0);
    /// assert_eq!(line.map(ExactTime::from_ns(4990)), -10.0); // late by 10 ns
    /// ```
    pub fn map(&mut self, t: ExactTime) -> f64 {
        match self.latest {
            Some((latest, _)) if t.ns_since(latest) <= self.gap => {}
            _ => self.start_segment(t),
        }
        let v = self.virtual_of(t);
        if let Some((latest, lv)) = self.latest.as_mut()
            && t > *latest
        {
            *latest = t;
            *lv = v;
        }
        v
    }

    /// Like [`map`](Self::map), but always starts a new stretch at `t`: for an event that
    /// must not meet its neighbours (e.g. one row of a one-row-per-event export).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// use components::physics::direction::timeline::Timeline;
    /// let mut line = Timeline::new(100.0);
    /// line.map(ExactTime::from_ns(0));
    /// assert_eq!(line.map_apart(ExactTime::from_ns(1)), 100.0);
    /// ```
    pub fn map_apart(&mut self, t: ExactTime) -> f64 {
        self.start_segment(t);
        self.virtual_of(t)
    }

    fn virtual_of(&self, t: ExactTime) -> f64 {
        let (start, v) = self.segments.back().copied().unwrap_or((t, 0.0));
        v + t.ns_since(start)
    }

    /// The exact time of a filter time `v` produced by this timeline (rounded to the
    /// picosecond).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// use components::physics::direction::timeline::Timeline;
    /// let mut line = Timeline::new(100.0);
    /// let v = line.map(ExactTime::from_ps(123_456));
    /// assert_eq!(line.exact(v), ExactTime::from_ps(123_456));
    /// ```
    pub fn exact(&self, v: f64) -> ExactTime {
        let half = 0.5 * self.gap;
        let (start, sv) = self
            .segments
            .iter()
            .rev()
            .find(|(_, sv)| sv - half <= v)
            .or(self.segments.front())
            .copied()
            .unwrap_or((ExactTime::ZERO, 0.0));
        start + ExactTime::from_ns_f64(v - sv)
    }

    /// Drops the stretches wholly before filter time `v` (call with the earliest time
    /// still to be mapped back).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// use components::physics::direction::timeline::Timeline;
    /// let mut line = Timeline::new(10.0);
    /// line.map(ExactTime::from_ns(0));
    /// let v = line.map(ExactTime::from_ns(1000));
    /// line.forget_before(v);
    /// assert_eq!(line.segments(), 1);
    /// assert_eq!(line.exact(v), ExactTime::from_ns(1000));
    /// ```
    pub fn forget_before(&mut self, v: f64) {
        let half = 0.5 * self.gap;
        while self.segments.len() > 1 && self.segments[1].1 - half <= v {
            self.segments.pop_front();
        }
    }
}
