//! Events from station exports: one row per event (`t1…tN`) or one row per hit.
//!
//! [`EventReader`] takes the header row and then each data row (already split into
//! fields, with its line number) and hands back [`StationEvent`]s or [`Rejection`]s.
//!
//! - **Wide format** (chosen when the header has a `t1` column): one row per event;
//!   `t1…tN` (or `t1_ns…`) are detector 0…N−1's arrival times in ns; an optional event
//!   timestamp column (`timestamp_ns` or `ext_timestamp`, or one named in
//!   [`StationInput::timestamp_column`]) holds ns the `t` columns count from; an optional
//!   `event_id`, `shower_id` or `id` column names the event (else rows are numbered 0, 1, …).
//! - **Long format**: one row per hit, `shower_id`, `detector`, `time_ns`, optional
//!   `sigma_ns`; the rows of one event are consecutive.
//!
//! Times are read exactly ([`ExactTime`]). A time equal to a [sentinel](Sentinels) is not
//! a hit: "no signal" (default −999) or "no detector" (default −1), compared to the value
//! as written, before offsets. Each detector's [offset](StationInput::offsets) is then
//! subtracted. Ids must fit in `i64` (the store's integer): a larger one is refused.
//!
//! # Examples
//!
//! ```rust
//! use components::physics::direction::station::{EventReader, Outcome, StationInput};
//!
//! let mut reader = EventReader::new(&["ext_timestamp", "t1", "t2", "t3", "t4"], StationInput::default())?;
//! let out = reader.push(2, &["1800000000000000000", "12.5", "-999", "0", "-1"]);
//! let Outcome::Event(event) = &out[0] else { panic!("an event") };
//! assert_eq!(event.hits.len(), 2); // detector 1: no signal; detector 3: no detector
//! let (start, hits) = event.relative();
//! assert_eq!(start.to_string(), "1800000000000000000");
//! assert_eq!(hits, vec![(0, 12.5, None), (2, 0.0, None)]);
//! assert_eq!(reader.summary().no_signal, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use thiserror::Error;

use super::time::ExactTime;

/// Values that mean "not a time" in a time column.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::station::Sentinels;
/// use components::physics::direction::time::ExactTime;
///
/// let s = Sentinels::default();
/// assert_eq!(s.no_signal, Some(ExactTime::from_ns(-999)));
/// assert_eq!(s.no_detector, Some(ExactTime::from_ns(-1)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sentinels {
    /// The detector saw nothing (`None`: every value is a time).
    pub no_signal: Option<ExactTime>,
    /// The station has no such detector (`None`: every value is a time).
    pub no_detector: Option<ExactTime>,
}

impl Default for Sentinels {
    fn default() -> Self {
        Sentinels {
            no_signal: Some(ExactTime::from_ns(-999)),
            no_detector: Some(ExactTime::from_ns(-1)),
        }
    }
}

/// How to read a station's rows.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::station::StationInput;
/// use components::physics::direction::time::ExactTime;
///
/// let input = StationInput { offsets: vec![ExactTime::ZERO, ExactTime::parse("2.5")?], ..Default::default() };
/// assert_eq!(input.offset(1), ExactTime::from_ps(2500));
/// assert_eq!(input.offset(7), ExactTime::ZERO);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StationInput {
    /// Sentinel values of the time columns.
    pub sentinels: Sentinels,
    /// Per-detector timing offsets, subtracted from that detector's times (missing: 0).
    pub offsets: Vec<ExactTime>,
    /// Name of the wide format's event timestamp column (default: `timestamp_ns` or
    /// `ext_timestamp` when present).
    pub timestamp_column: Option<String>,
}

impl StationInput {
    /// Options as given on a command line: sentinel values (`none` for no sentinel),
    /// per-detector offsets in ns, and the timestamp column's name.
    ///
    /// # Errors
    ///
    /// A message naming the option whose value is not a decimal time.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::StationInput;
    /// use components::physics::direction::time::ExactTime;
    ///
    /// let input = StationInput::from_options("-999", "none", &["0", "-2.5"], None)?;
    /// assert_eq!(input.sentinels.no_detector, None);
    /// assert_eq!(input.offset(1), ExactTime::from_ps(-2500));
    /// assert!(StationInput::from_options("x", "-1", &[] as &[&str], None).is_err());
    /// # Ok::<(), String>(())
    /// ```
    pub fn from_options(
        no_signal: &str,
        no_detector: &str,
        offsets: &[impl AsRef<str>],
        timestamp_column: Option<String>,
    ) -> Result<Self, String> {
        let sentinel = |text: &str, option: &str| -> Result<Option<ExactTime>, String> {
            if text.trim().eq_ignore_ascii_case("none") {
                return Ok(None);
            }
            ExactTime::parse(text)
                .map(Some)
                .map_err(|e| format!("--{option}: {e}"))
        };
        Ok(StationInput {
            sentinels: Sentinels {
                no_signal: sentinel(no_signal, "no-signal")?,
                no_detector: sentinel(no_detector, "no-detector")?,
            },
            offsets: offsets
                .iter()
                .enumerate()
                .map(|(d, o)| {
                    ExactTime::parse(o.as_ref())
                        .map_err(|e| format!("--offsets, detector {d}: {e}"))
                })
                .collect::<Result<_, _>>()?,
            timestamp_column,
        })
    }

    /// The offset of `detector` (0 when none was given).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::StationInput;
    /// use components::physics::direction::time::ExactTime;
    /// assert_eq!(StationInput::default().offset(0), ExactTime::ZERO);
    /// ```
    pub fn offset(&self, detector: usize) -> ExactTime {
        self.offsets
            .get(detector)
            .copied()
            .unwrap_or(ExactTime::ZERO)
    }
}

/// A header the reader cannot use.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::station::{EventReader, HeaderError, StationInput};
///
/// let err = EventReader::new(&["a", "b"], StationInput::default()).unwrap_err();
/// assert!(matches!(err, HeaderError::Missing { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    /// A required column is absent.
    #[error("the header row has no `{column}` column (it has: {have})")]
    Missing {
        /// The column wanted.
        column: String,
        /// The columns present, comma-separated.
        have: String,
    },
    /// The wide format's `t` columns skip a detector.
    #[error("the time columns are t1…t{found} but t{missing} is absent")]
    Gap {
        /// Highest `t` column present.
        found: usize,
        /// The first one missing.
        missing: usize,
    },
}

/// One hit of an event: exact absolute time after its detector's offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StationHit {
    /// Detector id (0-based; `t1` is detector 0).
    pub detector: usize,
    /// Arrival time, ns (event timestamp + column value − offset).
    pub time: ExactTime,
    /// Timing error, ns, when the row gives one.
    pub sigma: Option<f64>,
}

/// One event read from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct StationEvent {
    /// The event id (from the id column, or the row number from 0).
    pub id: u64,
    /// Line of the event's (first) row.
    pub line: u64,
    /// The event timestamp, when the input has one (chooses the layout).
    pub timestamp: Option<ExactTime>,
    /// Detectors with a signal.
    pub hits: Vec<StationHit>,
}

impl StationEvent {
    /// The earliest hit time and every hit as `(detector, ns since it, σ)` — exact
    /// differences, rounded once to `f64` (the timestamp, or 0, without hits).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{StationEvent, StationHit};
    /// use components::physics::direction::time::ExactTime;
    ///
    /// let t = |s: &str| ExactTime::parse(s).unwrap();
    /// let e = StationEvent {
    ///     id: 1, line: 2, timestamp: None,
    ///     hits: vec![
    ///         StationHit { detector: 0, time: t("1800000000000000007.5"), sigma: None },
    ///         StationHit { detector: 1, time: t("1800000000000000002.5"), sigma: Some(2.0) },
    ///     ],
    /// };
    /// let (start, rel) = e.relative();
    /// assert_eq!(start, t("1800000000000000002.5"));
    /// assert_eq!(rel, vec![(0, 5.0, None), (1, 0.0, Some(2.0))]);
    /// ```
    pub fn relative(&self) -> (ExactTime, Vec<(usize, f64, Option<f64>)>) {
        let start = self
            .hits
            .iter()
            .map(|h| h.time)
            .min()
            .or(self.timestamp)
            .unwrap_or(ExactTime::ZERO);
        let hits = self
            .hits
            .iter()
            .map(|h| (h.detector, h.time.ns_since(start), h.sigma))
            .collect();
        (start, hits)
    }
}

/// Why rows or events were not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectKind {
    /// A field is not a number, a required field is missing, or an id exceeds `i64`.
    Malformed,
    /// An event id appeared earlier, away from its other rows.
    Repeated,
    /// A hit names a detector the layout does not have.
    UnknownDetector,
    /// No layout is valid at the event's time.
    NoLayout,
}

impl RejectKind {
    /// A short description for summaries.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::RejectKind;
    /// assert_eq!(RejectKind::NoLayout.describe(), "no layout valid at the event's time");
    /// ```
    pub fn describe(self) -> &'static str {
        match self {
            RejectKind::Malformed => "malformed",
            RejectKind::Repeated => "event id repeated away from its rows",
            RejectKind::UnknownDetector => "detector not in the layout",
            RejectKind::NoLayout => "no layout valid at the event's time",
        }
    }
}

/// A row (and with it, its event) not used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Line of the row.
    pub line: u64,
    /// The kind, for the summary.
    pub kind: RejectKind,
    /// What is wrong and what was skipped.
    pub message: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What the reader produced for a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A complete event.
    Event(StationEvent),
    /// A row not used (its event is skipped).
    Rejected(Rejection),
}

/// Counts of what was read.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::station::{InputSummary, RejectKind};
///
/// let mut s = InputSummary::default();
/// s.events = 3;
/// s.count(RejectKind::Malformed);
/// assert_eq!(s.to_string(), "3 event(s) read; 1 skipped: 1 malformed");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSummary {
    /// Events handed on.
    pub events: usize,
    /// Events (or rows without an event) skipped, by reason.
    pub skipped: BTreeMap<RejectKind, usize>,
    /// Time fields holding the "no signal" sentinel.
    pub no_signal: usize,
    /// Time fields holding the "no detector" sentinel.
    pub no_detector: usize,
}

impl InputSummary {
    /// Counts one skipped event (or row) of this kind.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{InputSummary, RejectKind};
    /// let mut s = InputSummary::default();
    /// s.count(RejectKind::NoLayout);
    /// assert_eq!(s.skipped[&RejectKind::NoLayout], 1);
    /// ```
    pub fn count(&mut self, kind: RejectKind) {
        *self.skipped.entry(kind).or_default() += 1;
    }

    /// Total skipped.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::InputSummary;
    /// assert_eq!(InputSummary::default().total_skipped(), 0);
    /// ```
    pub fn total_skipped(&self) -> usize {
        self.skipped.values().sum()
    }
}

impl fmt::Display for InputSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} event(s) read", self.events)?;
        if self.total_skipped() > 0 {
            let parts: Vec<String> = self
                .skipped
                .iter()
                .map(|(k, n)| format!("{n} {}", k.describe()))
                .collect();
            write!(
                f,
                "; {} skipped: {}",
                self.total_skipped(),
                parts.join(", ")
            )?;
        }
        if self.no_signal + self.no_detector > 0 {
            write!(
                f,
                "; {} time(s) 'no signal', {} 'no detector'",
                self.no_signal, self.no_detector
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Format {
    Wide {
        times: Vec<usize>,
        timestamp: Option<usize>,
        id: Option<usize>,
    },
    Long {
        id: usize,
        detector: usize,
        time: usize,
        sigma: Option<usize>,
    },
}

/// The event being gathered from long-format rows.
#[derive(Debug)]
struct Pending {
    event: StationEvent,
    spoilt: bool,
}

/// Turns rows into events; see the [module docs](self).
#[derive(Debug)]
pub struct EventReader {
    format: Format,
    input: StationInput,
    next_id: u64,
    pending: Option<Pending>,
    seen: HashSet<u64>,
    summary: InputSummary,
}

/// Largest id accepted: the store keeps ids as SQLite's signed 64-bit integers.
pub const MAX_ID: u64 = i64::MAX as u64;

/// Reads an id: a non-negative integer no larger than [`MAX_ID`].
///
/// # Errors
///
/// A message naming the column and, for a too large id, the limit.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::station::parse_id;
///
/// assert_eq!(parse_id("42", "pulse_id"), Ok(42));
/// let err = parse_id("18446744073709551615", "pulse_id").unwrap_err();
/// assert!(err.contains("9223372036854775807"), "{err}");
/// assert!(parse_id("-1", "pulse_id").is_err());
/// ```
pub fn parse_id(text: &str, column: &str) -> Result<u64, String> {
    let id: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{column}` is not a non-negative integer: {text:?}"))?;
    if id > MAX_ID {
        return Err(format!(
            "`{column}` {id} is above the largest id stored, {MAX_ID} (2^63 - 1)"
        ));
    }
    Ok(id)
}

fn find(names: &[String], candidates: &[&str]) -> Option<usize> {
    candidates
        .iter()
        .find_map(|c| names.iter().position(|n| n == c))
}

impl EventReader {
    /// A reader for rows under this header (names compared case-insensitively).
    ///
    /// # Errors
    ///
    /// [`HeaderError`] when neither format's required columns are present, or the
    /// timestamp column named in `input` is absent.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{EventReader, StationInput};
    ///
    /// assert!(EventReader::new(&["shower_id", "detector", "time_ns"], StationInput::default())?.is_long());
    /// assert!(!EventReader::new(&["t1", "t2", "t3"], StationInput::default())?.is_long());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(header: &[&str], input: StationInput) -> Result<Self, HeaderError> {
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let have = || names.join(", ");
        let t_column = |k: usize| find(&names, &[&format!("t{k}"), &format!("t{k}_ns")]);
        let format = if t_column(1).is_some() {
            let mut times = Vec::new();
            while let Some(c) = t_column(times.len() + 1) {
                times.push(c);
            }
            // A later t column after a gap would be silently ignored: refuse it.
            if let Some(k) = (times.len() + 2..=times.len() + 64).find(|&k| t_column(k).is_some()) {
                return Err(HeaderError::Gap {
                    found: k,
                    missing: times.len() + 1,
                });
            }
            let timestamp = match &input.timestamp_column {
                Some(name) => {
                    Some(find(&names, &[&name.to_ascii_lowercase()]).ok_or_else(|| {
                        HeaderError::Missing {
                            column: name.clone(),
                            have: have(),
                        }
                    })?)
                }
                None => find(&names, &["timestamp_ns", "ext_timestamp"]),
            };
            Format::Wide {
                times,
                timestamp,
                id: find(&names, &["event_id", "shower_id", "id"]),
            }
        } else {
            let need = |c: &str| {
                find(&names, &[c]).ok_or_else(|| HeaderError::Missing {
                    column: c.to_owned(),
                    have: have(),
                })
            };
            let detector = need("detector").map_err(|_| HeaderError::Missing {
                column: "t1 (one row per event) or detector (one row per hit)".into(),
                have: have(),
            })?;
            Format::Long {
                id: need("shower_id")?,
                detector,
                time: need("time_ns")?,
                sigma: find(&names, &["sigma_ns"]),
            }
        };
        Ok(EventReader {
            format,
            input,
            next_id: 0,
            pending: None,
            seen: HashSet::new(),
            summary: InputSummary::default(),
        })
    }

    /// `true` for one row per hit, `false` for one row per event.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{EventReader, StationInput};
    /// assert!(!EventReader::new(&["t1"], StationInput::default())?.is_long());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_long(&self) -> bool {
        matches!(self.format, Format::Long { .. })
    }

    /// Number of `t` columns of the wide format (0 for the long format).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{EventReader, StationInput};
    /// assert_eq!(EventReader::new(&["t1", "t2_ns", "x"], StationInput::default())?.detectors(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detectors(&self) -> usize {
        match &self.format {
            Format::Wide { times, .. } => times.len(),
            Format::Long { .. } => 0,
        }
    }

    /// What was read so far.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{EventReader, StationInput};
    /// let reader = EventReader::new(&["t1"], StationInput::default())?;
    /// assert_eq!(reader.summary().events, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn summary(&self) -> &InputSummary {
        &self.summary
    }

    /// Counts an event the caller skipped after reading it (e.g. no layout at its time).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{EventReader, RejectKind, StationInput};
    /// let mut reader = EventReader::new(&["t1"], StationInput::default())?;
    /// let _ = reader.push(2, &["5"]);
    /// reader.skip_event(RejectKind::NoLayout);
    /// assert_eq!((reader.summary().events, reader.summary().total_skipped()), (0, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn skip_event(&mut self, kind: RejectKind) {
        self.summary.events = self.summary.events.saturating_sub(1);
        self.summary.count(kind);
    }

    /// Reads one data row (`line` is its line number, for messages).
    ///
    /// Returns the events completed and the rows rejected by this row: a wide row gives
    /// one event or one rejection; a long row completes the previous event when its id
    /// differs.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{EventReader, Outcome, StationInput};
    ///
    /// let mut r = EventReader::new(&["shower_id", "detector", "time_ns"], StationInput::default())?;
    /// assert!(r.push(2, &["7", "0", "1.5"]).is_empty());
    /// assert!(r.push(3, &["7", "1", "-999"]).is_empty()); // no signal: not a hit
    /// let done = r.push(4, &["8", "0", "abc"]);
    /// assert!(matches!(&done[0], Outcome::Event(e) if e.id == 7 && e.hits.len() == 1));
    /// assert!(matches!(&done[1], Outcome::Rejected(r) if r.line == 4));
    /// assert!(r.finish().is_empty()); // event 8 was spoilt by its malformed row
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&mut self, line: u64, fields: &[&str]) -> Vec<Outcome> {
        match self.format.clone() {
            Format::Wide {
                times,
                timestamp,
                id,
            } => {
                let outcome = match self.wide(line, fields, &times, timestamp, id) {
                    Ok(event) => {
                        self.summary.events += 1;
                        Outcome::Event(event)
                    }
                    Err(r) => {
                        self.summary.count(r.kind);
                        Outcome::Rejected(r)
                    }
                };
                vec![outcome]
            }
            Format::Long {
                id,
                detector,
                time,
                sigma,
            } => self.long(line, fields, id, detector, time, sigma),
        }
    }

    /// Completes the last event of a long-format input.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{EventReader, Outcome, StationInput};
    /// let mut r = EventReader::new(&["shower_id", "detector", "time_ns"], StationInput::default())?;
    /// let _ = r.push(2, &["1", "0", "0"]);
    /// assert!(matches!(&r.finish()[..], [Outcome::Event(e)] if e.id == 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(&mut self) -> Vec<Outcome> {
        self.take_pending().into_iter().collect()
    }

    /// A time field: `Ok(None)` for a sentinel or an empty field.
    fn time(&mut self, text: &str, column: &str) -> Result<Option<ExactTime>, String> {
        if text.trim().is_empty() {
            self.summary.no_signal += 1;
            return Ok(None);
        }
        let t = ExactTime::parse(text).map_err(|e| format!("`{column}`: {e}"))?;
        if Some(t) == self.input.sentinels.no_signal {
            self.summary.no_signal += 1;
            return Ok(None);
        }
        if Some(t) == self.input.sentinels.no_detector {
            self.summary.no_detector += 1;
            return Ok(None);
        }
        Ok(Some(t))
    }

    fn wide(
        &mut self,
        line: u64,
        fields: &[&str],
        times: &[usize],
        timestamp: Option<usize>,
        id: Option<usize>,
    ) -> Result<StationEvent, Rejection> {
        let malformed = |message: String| Rejection {
            line,
            kind: RejectKind::Malformed,
            message: format!("{message}; event skipped"),
        };
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        let event_id = match id {
            Some(c) => parse_id(field(c), "id").map_err(malformed)?,
            None => self.next_id,
        };
        self.next_id = self.next_id.saturating_add(1);
        let stamp = match timestamp {
            Some(c) => {
                Some(ExactTime::parse(field(c)).map_err(|e| malformed(format!("timestamp: {e}")))?)
            }
            None => None,
        };
        let mut hits = Vec::new();
        for (detector, &c) in times.iter().enumerate() {
            let column = format!("t{}", detector + 1);
            if let Some(t) = self.time(field(c), &column).map_err(malformed)? {
                hits.push(StationHit {
                    detector,
                    time: stamp.unwrap_or(ExactTime::ZERO) + t - self.input.offset(detector),
                    sigma: None,
                });
            }
        }
        Ok(StationEvent {
            id: event_id,
            line,
            timestamp: stamp,
            hits,
        })
    }

    fn take_pending(&mut self) -> Option<Outcome> {
        let p = self.pending.take()?;
        if p.spoilt {
            return None;
        }
        self.summary.events += 1;
        Some(Outcome::Event(p.event))
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the long format's column indices"
    )]
    fn long(
        &mut self,
        line: u64,
        fields: &[&str],
        id: usize,
        detector: usize,
        time: usize,
        sigma: Option<usize>,
    ) -> Vec<Outcome> {
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        let mut out = Vec::new();
        let row_id = parse_id(field(id), "shower_id");
        if self
            .pending
            .as_ref()
            .is_some_and(|p| Ok(p.event.id) != row_id)
        {
            out.extend(self.take_pending());
        }
        let parsed = (|| -> Result<(u64, Option<StationHit>), String> {
            let event = row_id.clone()?;
            let d: usize = field(detector)
                .trim()
                .parse()
                .map_err(|_| format!("`detector` is not a valid number: {:?}", field(detector)))?;
            let s = match sigma.map(field).map(str::trim) {
                None | Some("") => None,
                Some(text) => {
                    let s: f64 = text
                        .parse()
                        .map_err(|_| format!("`sigma_ns` is not a valid number: {text:?}"))?;
                    if !(s.is_finite() && s > 0.0) {
                        return Err("`sigma_ns` must be positive".into());
                    }
                    Some(s)
                }
            };
            let hit = self.time(field(time), "time_ns")?.map(|t| StationHit {
                detector: d,
                time: t - self.input.offset(d),
                sigma: s,
            });
            Ok((event, hit))
        })();
        match parsed {
            Ok((event, hit)) => {
                if self.pending.is_none() {
                    let fresh = self.seen.insert(event);
                    if !fresh {
                        self.summary.count(RejectKind::Repeated);
                        out.push(Outcome::Rejected(Rejection {
                            line,
                            kind: RejectKind::Repeated,
                            message: format!(
                                "event {event} appeared earlier; the rows of an event must be consecutive; event skipped"
                            ),
                        }));
                    }
                    self.pending = Some(Pending {
                        event: StationEvent {
                            id: event,
                            line,
                            timestamp: None,
                            hits: Vec::new(),
                        },
                        spoilt: !fresh,
                    });
                }
                if let (Some(p), Some(h)) = (self.pending.as_mut(), hit) {
                    p.event.hits.push(h);
                }
            }
            Err(why) => {
                let skipped = match (&row_id, self.pending.as_mut()) {
                    (Ok(_), Some(p)) => {
                        let first = !p.spoilt;
                        p.spoilt = true;
                        first.then(|| format!("event {} skipped", p.event.id))
                    }
                    (Ok(event), None) => {
                        self.seen.insert(*event);
                        self.pending = Some(Pending {
                            event: StationEvent {
                                id: *event,
                                line,
                                timestamp: None,
                                hits: Vec::new(),
                            },
                            spoilt: true,
                        });
                        Some(format!("event {event} skipped"))
                    }
                    (Err(_), _) => Some("row skipped".into()),
                };
                // Count each spoilt event once; report every malformed row.
                let what = skipped
                    .clone()
                    .unwrap_or_else(|| "event already skipped".into());
                if skipped.is_some() {
                    self.summary.count(RejectKind::Malformed);
                }
                out.push(Outcome::Rejected(Rejection {
                    line,
                    kind: RejectKind::Malformed,
                    message: format!("{why}; {what}"),
                }));
            }
        }
        out
    }
}

/// One pulse of a one-row-per-pulse input (`cosmici showers`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StationPulse {
    /// Detector id.
    pub detector: usize,
    /// Pulse time after the detector's offset, ns.
    pub time: ExactTime,
    /// Pulse height, V (absolute value), when given.
    pub amplitude: Option<f64>,
    /// The pulse's id, when given.
    pub pulse_id: Option<u64>,
}

/// Column positions of a one-row-per-pulse input: `detector`, `time_ns`, optional
/// `amplitude_v` and `pulse_id`.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::station::{PulseColumns, StationInput};
///
/// let cols = PulseColumns::new(&["detector", "time_ns", "pulse_id"])?;
/// let input = StationInput::default();
/// let p = cols.parse(&["2", "1800000000000000001.25", "9"], &input)?.expect("a pulse");
/// assert_eq!((p.detector, p.time.to_string(), p.pulse_id), (2, "1800000000000000001.25".into(), Some(9)));
/// assert_eq!(cols.parse(&["2", "-999", ""], &input)?, None); // no signal
/// assert!(cols.parse(&["2", "5", "9223372036854775808"], &input).is_err()); // above i64
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PulseColumns {
    detector: usize,
    time: usize,
    amplitude: Option<usize>,
    pulse_id: Option<usize>,
}

impl PulseColumns {
    /// Finds the columns (case-insensitively).
    ///
    /// # Errors
    ///
    /// [`HeaderError::Missing`] without `detector` or `time_ns`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::PulseColumns;
    /// assert!(PulseColumns::new(&["detector"]).is_err());
    /// ```
    pub fn new(header: &[&str]) -> Result<Self, HeaderError> {
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let need = |c: &str| {
            find(&names, &[c]).ok_or_else(|| HeaderError::Missing {
                column: c.to_owned(),
                have: names.join(", "),
            })
        };
        Ok(PulseColumns {
            detector: need("detector")?,
            time: need("time_ns")?,
            amplitude: find(&names, &["amplitude_v"]),
            pulse_id: find(&names, &["pulse_id"]),
        })
    }

    /// Reads one row: `Ok(None)` when the time is a sentinel (or empty).
    ///
    /// # Errors
    ///
    /// A message for a malformed field or an id above [`MAX_ID`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::station::{PulseColumns, StationInput};
    /// let cols = PulseColumns::new(&["detector", "time_ns", "amplitude_v"])?;
    /// let p = cols.parse(&["0", "3", "-0.25"], &StationInput::default())?.unwrap();
    /// assert_eq!(p.amplitude, Some(0.25));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(
        &self,
        fields: &[&str],
        input: &StationInput,
    ) -> Result<Option<StationPulse>, String> {
        let field = |i: usize| fields.get(i).copied().unwrap_or("").trim();
        let detector: usize = field(self.detector).parse().map_err(|_| {
            format!(
                "`detector` is not a valid number: {:?}",
                field(self.detector)
            )
        })?;
        let text = field(self.time);
        if text.is_empty() {
            return Ok(None);
        }
        let time = ExactTime::parse(text).map_err(|e| format!("`time_ns`: {e}"))?;
        if Some(time) == input.sentinels.no_signal || Some(time) == input.sentinels.no_detector {
            return Ok(None);
        }
        let amplitude = match self.amplitude.map(field) {
            None | Some("") => None,
            Some(a) => Some(
                a.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("`amplitude_v` is not a finite number: {a:?}"))?
                    .abs(),
            ),
        };
        let pulse_id = match self.pulse_id.map(field) {
            None | Some("") => None,
            Some(id) => Some(parse_id(id, "pulse_id")?),
        };
        Ok(Some(StationPulse {
            detector,
            time: time - input.offset(detector),
            amplitude,
            pulse_id,
        }))
    }
}
