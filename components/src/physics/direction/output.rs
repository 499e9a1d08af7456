//! The CSV row `cosmici direction` writes per event, with exact times.
//!
//! The first thirteen columns are the store's `showers` columns (so `cosmici export
//! showers` reads the same way); four more give the χ² probability and an ambiguous
//! event's second direction. `start_ns` and `front_time_ns` are written exactly
//! ([`ExactTime`]), to the picosecond.
//!
//! # Examples
//!
//! ```rust
//! use components::physics::angle::AngleFinder;
//! use components::physics::direction::output::{DIRECTION_COLUMNS, direction_row};
//! use components::physics::direction::time::ExactTime;
//! use components::physics::layout::DetectorLayout;
//!
//! let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
//! let result = finder.find(&[(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0)]);
//! let start = ExactTime::parse("1800000000000000000.5")?;
//! let row = direction_row(7, start, 4, &result);
//! assert_eq!(row.len(), DIRECTION_COLUMNS.len());
//! assert_eq!(&row[..4], ["7", "1800000000000000000.5", "4", "found"]);
//! assert_eq!(row[9], "1800000000000000000.5"); // front time at the origin, exact
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use super::time::ExactTime;
use crate::physics::angle::ShowerDirection;
use crate::physics::error::AngleError;

/// Columns of a directions CSV, in order.
pub const DIRECTION_COLUMNS: [&str; 18] = [
    "id",
    "start_ns",
    "detectors",
    "direction",
    "reason",
    "zenith_deg",
    "zenith_err_deg",
    "azimuth_deg",
    "azimuth_err_deg",
    "front_time_ns",
    "front_time_err_ns",
    "chi2",
    "dof",
    "p_value",
    "second_zenith_deg",
    "second_zenith_err_deg",
    "second_azimuth_deg",
    "second_azimuth_err_deg",
];

fn real(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        String::new()
    }
}

fn text(t: &str) -> String {
    if t.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", t.replace('"', "\"\""))
    } else {
        t.to_owned()
    }
}

/// The row of [`DIRECTION_COLUMNS`] for an event whose hit times were given relative to
/// `start` (its earliest hit), with `hits` hits.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::output::direction_row;
/// use components::physics::direction::time::ExactTime;
/// use components::physics::error::AngleError;
///
/// let row = direction_row(3, ExactTime::from_ns(10), 2, &Err(AngleError::TooFewHits(2)));
/// assert_eq!(row[3], "failed");
/// assert_eq!(row[4], "2 hits: need at least 3 detectors");
/// assert!(row[5..].iter().all(String::is_empty));
/// ```
pub fn direction_row(
    id: u64,
    start: ExactTime,
    hits: usize,
    result: &Result<ShowerDirection, AngleError>,
) -> Vec<String> {
    let mut row = vec![id.to_string(), start.to_string(), hits.to_string()];
    match result {
        Err(e) => {
            row.push("failed".into());
            row.push(text(&e.to_string()));
        }
        Ok(d) => {
            row.push(d.status.as_str().into());
            row.push(String::new());
            row.push(real(d.zenith.value.to_degrees()));
            row.push(real(d.zenith.error.to_degrees()));
            row.push(real(d.azimuth.value.to_degrees()));
            row.push(real(d.azimuth.error.to_degrees()));
            row.push((start + ExactTime::from_ns_f64(d.time.value)).to_string());
            row.push(real(d.time.error));
            row.push(real(d.chi2));
            row.push(d.dof.to_string());
            row.push(d.p_value().map_or(String::new(), real));
            if let Some(s) = d.second {
                row.push(real(s.zenith.value.to_degrees()));
                row.push(real(s.zenith.error.to_degrees()));
                row.push(real(s.azimuth.value.to_degrees()));
                row.push(real(s.azimuth.error.to_degrees()));
            }
        }
    }
    row.resize(DIRECTION_COLUMNS.len(), String::new());
    row
}

/// How many events ended with each status (`failed` for errors).
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::output::StatusCounts;
/// use components::physics::error::AngleError;
///
/// let mut counts = StatusCounts::default();
/// counts.add(&Err(AngleError::TooFewHits(2)));
/// assert_eq!(counts.to_string(), "1 direction(s): 1 failed");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    counts: BTreeMap<&'static str, usize>,
}

impl StatusCounts {
    /// Counts one result.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::output::StatusCounts;
    /// let mut c = StatusCounts::default();
    /// c.add(&Err(components::physics::error::AngleError::Degenerate));
    /// assert_eq!(c.get("failed"), 1);
    /// ```
    pub fn add(&mut self, result: &Result<ShowerDirection, AngleError>) {
        let key = match result {
            Ok(d) => d.status.as_str(),
            Err(_) => "failed",
        };
        *self.counts.entry(key).or_default() += 1;
    }

    /// The count of one status name.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::output::StatusCounts;
    /// assert_eq!(StatusCounts::default().get("found"), 0);
    /// ```
    pub fn get(&self, status: &str) -> usize {
        self.counts.get(status).copied().unwrap_or(0)
    }
}

impl fmt::Display for StatusCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: usize = self.counts.values().sum();
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        write!(f, "{total} direction(s): {}", parts.join(", "))
    }
}
