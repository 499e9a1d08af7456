//! Station layouts from a file: east/north/up or distance/bearing/height, with an optional
//! valid-from time so one file holds a station's history.
//!
//! The file has a header row and one row per detector and layout version:
//!
//! | column | meaning |
//! | --- | --- |
//! | `detector` | 0, 1, 2, … (`t1` of a wide event is detector 0) |
//! | `x_m`, `y_m`, `z_m` (or `east_m`, `north_m`, `up_m`) | position, m; the height is optional (0) |
//! | `distance_m`, `bearing_deg`, `height_m` | instead: distance from the reference, bearing clockwise from north, height relative to the reference (optional, 0) |
//! | `valid_from` (or `valid_from_ns`) | optional: ns (same clock as the event timestamps) from which this version holds; empty = from the beginning |
//!
//! An event uses the version with the latest `valid_from` not after its time (its
//! timestamp, or else its earliest hit). Every version lists detectors 0…N−1 once.
//!
//! # Examples
//!
//! ```rust
//! use components::physics::direction::layouts::LayoutReader;
//! use components::physics::direction::time::ExactTime;
//!
//! let mut r = LayoutReader::new(&["detector", "distance_m", "bearing_deg", "height_m", "valid_from"])?;
//! r.push(2, &["0", "0", "0", "0", ""])?;
//! r.push(3, &["1", "10", "90", "1.5", ""])?;   // 10 m east, 1.5 m up
//! r.push(4, &["2", "10", "0", "0", ""])?;      // 10 m north
//! r.push(5, &["0", "0", "0", "0", "1000"])?;   // from t = 1000 ns: detector 1 moved
//! r.push(6, &["1", "10", "180", "0", "1000"])?;
//! r.push(7, &["2", "10", "0", "0", "1000"])?;
//! let history = r.finish()?;
//! assert_eq!(history.versions().len(), 2);
//! let p = history.versions()[0].layout.position(1).unwrap();
//! assert!((p[0] - 10.0).abs() < 1e-12 && p[1].abs() < 1e-12 && p[2] == 1.5);
//! assert_eq!(history.at(Some(ExactTime::from_ns(999))), Some(0));
//! assert_eq!(history.at(Some(ExactTime::from_ns(1000))), Some(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use thiserror::Error;

use super::station::{RejectKind, Rejection, StationEvent};
use super::time::ExactTime;
use crate::physics::error::ConfigError;
use crate::physics::layout::DetectorLayout;

/// A layout file the reader cannot use.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::layouts::{LayoutFileError, LayoutReader};
/// assert!(matches!(LayoutReader::new(&["detector", "x_m"]), Err(LayoutFileError::Header(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LayoutFileError {
    /// The header has neither coordinate form.
    #[error("layout header: {0}")]
    Header(String),
    /// A row is malformed.
    #[error("layout line {line}: {message}")]
    Row {
        /// Line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A version lacks a detector, repeats one, or is not a valid layout.
    #[error("layout valid from {valid_from}: {message}")]
    Version {
        /// The version's valid-from time (`beginning` when none).
        valid_from: String,
        /// What is wrong.
        message: String,
    },
}

/// One layout and the time from which it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutVersion {
    /// Holds from this time (ns); `None`: from the beginning.
    pub valid_from: Option<ExactTime>,
    /// The detectors.
    pub layout: DetectorLayout,
}

/// A station's layouts over time, sorted by valid-from.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::layouts::LayoutHistory;
/// use components::physics::layout::DetectorLayout;
///
/// let h = LayoutHistory::single(DetectorLayout::grid(2, 2, 10.0)?);
/// assert_eq!(h.at(None), Some(0));
/// assert_eq!(h.combined().len(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutHistory {
    versions: Vec<LayoutVersion>,
    /// Index of each version's detector 0 in [`combined`](Self::combined).
    starts: Vec<usize>,
}

impl LayoutHistory {
    /// One layout, valid always.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutHistory;
    /// use components::physics::layout::DetectorLayout;
    /// assert_eq!(LayoutHistory::single(DetectorLayout::grid(3, 1, 5.0)?).versions().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn single(layout: DetectorLayout) -> Self {
        Self::from_versions(vec![LayoutVersion {
            valid_from: None,
            layout,
        }])
    }

    fn from_versions(mut versions: Vec<LayoutVersion>) -> Self {
        versions.sort_by_key(|v| v.valid_from);
        let mut starts = Vec::with_capacity(versions.len());
        let mut next = 0;
        for v in &versions {
            starts.push(next);
            next += v.layout.len();
        }
        LayoutHistory { versions, starts }
    }

    /// The versions, earliest first.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutHistory;
    /// use components::physics::layout::DetectorLayout;
    /// let h = LayoutHistory::single(DetectorLayout::grid(2, 1, 5.0)?);
    /// assert!(h.versions()[0].valid_from.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn versions(&self) -> &[LayoutVersion] {
        &self.versions
    }

    /// The version valid at `time`: the latest whose valid-from is not after it. Without a
    /// time, the only version, or `None` when there are several.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutHistory;
    /// use components::physics::layout::DetectorLayout;
    /// let h = LayoutHistory::single(DetectorLayout::grid(2, 1, 5.0)?);
    /// assert_eq!(h.at(Some(components::physics::direction::time::ExactTime::from_ns(-5))), Some(0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(&self, time: Option<ExactTime>) -> Option<usize> {
        match time {
            None => (self.versions.len() == 1).then_some(0),
            Some(t) => self
                .versions
                .iter()
                .rposition(|v| v.valid_from.is_none_or(|from| from <= t)),
        }
    }

    /// Every version's detectors in one layout (version after version), so that one angle
    /// finder serves the whole history; see [`combined_index`](Self::combined_index).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutHistory;
    /// use components::physics::layout::DetectorLayout;
    /// let h = LayoutHistory::single(DetectorLayout::grid(2, 1, 5.0)?);
    /// assert_eq!(h.combined(), DetectorLayout::grid(2, 1, 5.0)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn combined(&self) -> DetectorLayout {
        let positions: Vec<[f64; 3]> = self
            .versions
            .iter()
            .flat_map(|v| v.layout.positions().iter().copied())
            .collect();
        // Each version is a valid, non-empty layout, so their concatenation is too.
        DetectorLayout::new(positions).unwrap_or_else(|_| self.versions[0].layout.clone())
    }

    /// Index in [`combined`](Self::combined) of `detector` of `version`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutHistory;
    /// use components::physics::layout::DetectorLayout;
    /// let h = LayoutHistory::single(DetectorLayout::grid(2, 1, 5.0)?);
    /// assert_eq!(h.combined_index(0, 1), Some(1));
    /// assert_eq!(h.combined_index(0, 2), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn combined_index(&self, version: usize, detector: usize) -> Option<usize> {
        let v = self.versions.get(version)?;
        (detector < v.layout.len()).then(|| self.starts[version] + detector)
    }

    /// The `(version, detector)` of an index in [`combined`](Self::combined).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutHistory;
    /// use components::physics::layout::DetectorLayout;
    /// let h = LayoutHistory::single(DetectorLayout::grid(2, 1, 5.0)?);
    /// assert_eq!(h.split_index(1), Some((0, 1)));
    /// assert_eq!(h.split_index(2), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split_index(&self, combined: usize) -> Option<(usize, usize)> {
        let version = self.starts.iter().rposition(|&s| s <= combined)?;
        let detector = combined - self.starts[version];
        (detector < self.versions[version].layout.len()).then_some((version, detector))
    }

    /// The version an event uses (by its timestamp, else its earliest hit), checking that
    /// every hit's detector is in it.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] of kind [`RejectKind::NoLayout`] or [`RejectKind::UnknownDetector`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutHistory;
    /// use components::physics::direction::station::{StationEvent, StationHit, RejectKind};
    /// use components::physics::direction::time::ExactTime;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let h = LayoutHistory::single(DetectorLayout::grid(2, 1, 5.0)?);
    /// let hit = |detector| StationHit { detector, time: ExactTime::ZERO, sigma: None };
    /// let event = StationEvent { id: 3, line: 9, timestamp: None, hits: vec![hit(0), hit(5)] };
    /// assert_eq!(h.place(&event).unwrap_err().kind, RejectKind::UnknownDetector);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn place(&self, event: &StationEvent) -> Result<usize, Rejection> {
        let time = event
            .timestamp
            .or_else(|| event.hits.iter().map(|h| h.time).min());
        let version = self.at(time).ok_or_else(|| Rejection {
            line: event.line,
            kind: RejectKind::NoLayout,
            message: match time {
                Some(t) => format!(
                    "no layout is valid at {t} ns (the first is valid from {}); event {} skipped",
                    self.versions[0]
                        .valid_from
                        .map_or("the beginning".into(), |f| format!("{f} ns")),
                    event.id
                ),
                None => format!(
                    "the layout has {} versions and event {} has no time to choose one; event skipped",
                    self.versions.len(),
                    event.id
                ),
            },
        })?;
        let n = self.versions[version].layout.len();
        if let Some(h) = event.hits.iter().find(|h| h.detector >= n) {
            return Err(Rejection {
                line: event.line,
                kind: RejectKind::UnknownDetector,
                message: format!(
                    "detector {} is not in the layout ({} detectors); event {} skipped",
                    h.detector, n, event.id
                ),
            });
        }
        Ok(version)
    }
}

#[derive(Debug, Clone, Copy)]
enum Coordinates {
    Cartesian {
        x: usize,
        y: usize,
        z: Option<usize>,
    },
    Polar {
        distance: usize,
        bearing: usize,
        height: Option<usize>,
    },
}

/// Reads a layout file row by row; see the [module docs](self).
#[derive(Debug)]
pub struct LayoutReader {
    detector: usize,
    coordinates: Coordinates,
    valid_from: Option<usize>,
    versions: BTreeMap<Option<ExactTime>, BTreeMap<usize, [f64; 3]>>,
}

fn column(names: &[String], candidates: &[&str]) -> Option<usize> {
    candidates
        .iter()
        .find_map(|c| names.iter().position(|n| n == c))
}

impl LayoutReader {
    /// A reader for rows under this header (names compared case-insensitively).
    ///
    /// # Errors
    ///
    /// [`LayoutFileError::Header`] without `detector`, or without either coordinate form.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutReader;
    /// assert!(LayoutReader::new(&["Detector", "East_m", "North_m"]).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(header: &[&str]) -> Result<Self, LayoutFileError> {
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let detector = column(&names, &["detector"]).ok_or_else(|| {
            LayoutFileError::Header(format!(
                "no `detector` column (it has: {})",
                names.join(", ")
            ))
        })?;
        let coordinates = match (
            column(&names, &["x_m", "east_m"]),
            column(&names, &["y_m", "north_m"]),
            column(&names, &["distance_m"]),
            column(&names, &["bearing_deg"]),
        ) {
            (Some(x), Some(y), _, _) => Coordinates::Cartesian {
                x,
                y,
                z: column(&names, &["z_m", "up_m"]),
            },
            (_, _, Some(distance), Some(bearing)) => Coordinates::Polar {
                distance,
                bearing,
                height: column(&names, &["height_m", "z_m", "up_m"]),
            },
            _ => {
                return Err(LayoutFileError::Header(format!(
                    "need x_m and y_m (or east_m and north_m), or distance_m and bearing_deg (it has: {})",
                    names.join(", ")
                )));
            }
        };
        Ok(LayoutReader {
            detector,
            coordinates,
            valid_from: column(&names, &["valid_from", "valid_from_ns"]),
            versions: BTreeMap::new(),
        })
    }

    /// Reads one row.
    ///
    /// # Errors
    ///
    /// [`LayoutFileError::Row`] for a malformed field or a detector listed twice in a
    /// version.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutReader;
    /// let mut r = LayoutReader::new(&["detector", "x_m", "y_m"])?;
    /// assert!(r.push(2, &["0", "1", "nan"]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&mut self, line: u64, fields: &[&str]) -> Result<(), LayoutFileError> {
        let err = |message: String| LayoutFileError::Row { line, message };
        let field = |i: usize| fields.get(i).copied().unwrap_or("").trim();
        let number = |i: usize, name: &str| -> Result<f64, LayoutFileError> {
            let text = field(i);
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| err(format!("`{name}` is not a finite number: {text:?}")))
        };
        let optional = |i: Option<usize>, name: &str| -> Result<f64, LayoutFileError> {
            match i {
                Some(i) if !field(i).is_empty() => number(i, name),
                _ => Ok(0.0),
            }
        };
        let detector: usize = field(self.detector).parse().map_err(|_| {
            err(format!(
                "`detector` is not a valid id: {:?}",
                field(self.detector)
            ))
        })?;
        let position = match self.coordinates {
            Coordinates::Cartesian { x, y, z } => {
                [number(x, "x_m")?, number(y, "y_m")?, optional(z, "z_m")?]
            }
            Coordinates::Polar {
                distance,
                bearing,
                height,
            } => {
                let (d, b) = (
                    number(distance, "distance_m")?,
                    number(bearing, "bearing_deg")?.to_radians(),
                );
                [d * b.sin(), d * b.cos(), optional(height, "height_m")?]
            }
        };
        let valid_from = match self.valid_from.map(field) {
            None | Some("") => None,
            Some(text) => {
                Some(ExactTime::parse(text).map_err(|e| err(format!("`valid_from`: {e}")))?)
            }
        };
        let version = self.versions.entry(valid_from).or_default();
        if version.insert(detector, position).is_some() {
            return Err(err(format!(
                "detector {detector} listed twice for one valid_from"
            )));
        }
        Ok(())
    }

    /// The history read.
    ///
    /// # Errors
    ///
    /// [`LayoutFileError::Version`] when a version skips a detector id or is not a valid
    /// layout, or no rows were read.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::layouts::LayoutReader;
    /// let mut r = LayoutReader::new(&["detector", "x_m", "y_m"])?;
    /// r.push(2, &["0", "0", "0"])?;
    /// r.push(3, &["2", "5", "0"])?;
    /// assert!(r.finish().is_err()); // detector 1 missing
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(self) -> Result<LayoutHistory, LayoutFileError> {
        if self.versions.is_empty() {
            return Err(LayoutFileError::Header("no detectors".into()));
        }
        let mut versions = Vec::with_capacity(self.versions.len());
        for (valid_from, detectors) in self.versions {
            let name = || valid_from.map_or("the beginning".into(), |t| format!("{t} ns"));
            if let Some((expected, found)) = detectors
                .keys()
                .enumerate()
                .find(|(i, d)| *i != **d)
                .map(|(i, d)| (i, *d))
            {
                return Err(LayoutFileError::Version {
                    valid_from: name(),
                    message: format!("detector {expected} is missing (next listed: {found})"),
                });
            }
            let layout = DetectorLayout::new(detectors.into_values().collect()).map_err(
                |e: ConfigError| LayoutFileError::Version {
                    valid_from: name(),
                    message: e.to_string(),
                },
            )?;
            versions.push(LayoutVersion { valid_from, layout });
        }
        Ok(LayoutHistory::from_versions(versions))
    }
}
