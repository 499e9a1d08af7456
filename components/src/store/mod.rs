//! SQLite storage of pulses, fits and showers (feature `store`).
//!
//! [`Store`] is the database: WAL journal, batched transactions, queries and CSV export.
//! [`StoreWriter`] is the axon component that writes [`Record`]s in batches and
//! acknowledges each batch on its outbox only after the transaction has committed, so
//! an acknowledged record survives the process being killed.
//!
//! # Schema
//!
//! Units are in the column names: `_v` volts (positive convention, see
//! [`crate::physics::model`]), `_ns` nanoseconds, `_vns` volt·nanoseconds, `_deg`
//! degrees. Errors are 1σ. Ids are the caller's, as SQLite integers (below 2⁶³).
//! `PRAGMA user_version` holds the schema version ([`SCHEMA_VERSION`]).
//!
//! **`pulses`**: one row per pulse.
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `id` | INTEGER PRIMARY KEY | the caller's pulse id |
//! | `detector` | INTEGER NULL | detector id, if known |
//! | `levels` | INTEGER | number of levels crossed |
//! | `next_level_v` | REAL NULL | the level not reached; NULL when the top level was crossed |
//!
//! **`crossings`**: one row per level crossed (the input of a fit).
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `pulse_id` | INTEGER | the pulse (`pulses.id`) |
//! | `level_index` | INTEGER | 0 = lowest level |
//! | `level_v` | REAL | threshold level |
//! | `rise_ns`, `fall_ns` | REAL | clock times of the rising and falling edge, as reported (floored) |
//!
//! **`fits`**: one row per fitted pulse, columns [`FIT_COLUMNS`].
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `pulse_id` | INTEGER PRIMARY KEY | the pulse |
//! | `status` | TEXT | `converged`, `iteration_limit`, `numerical`, or `invalid` (crossings inconsistent: no fit) |
//! | `reason` | TEXT NULL | for `invalid`: why (e.g. `level 0: fall before rise`) |
//! | `shape_path` | TEXT NULL | `fixed`, `decay_free` or `free`: which shape parameters were fitted |
//! | `peak_height_v`, `peak_height_err_v` | REAL | peak height |
//! | `peak_time_ns`, `peak_time_err_ns` | REAL | time of the peak |
//! | `onset_ns`, `onset_err_ns` | REAL | onset `t0` |
//! | `amplitude_v`, `amplitude_err_v` | REAL | bi-exponential amplitude `A` |
//! | `area_vns`, `area_err_vns` | REAL | pulse area |
//! | `cf_time_ns`, `cf_time_err_ns` | REAL | constant-fraction time |
//! | `decay_ns`, `decay_err_ns` | REAL | decay time constant (error 0 when held) |
//! | `rise_ns`, `rise_err_ns` | REAL | rise time constant (error 0 when held) |
//! | `chi2` | REAL | χ² of the time residuals |
//! | `dof` | INTEGER | degrees of freedom |
//! | `p_value` | REAL NULL | χ² probability; NULL without degrees of freedom |
//! | `flags` | TEXT | `;`-separated: `peak_at_limit`, `peak_at_top_level`, `shape_fit_failed`, `no_dof` |
//!
//! Fit columns other than the first three are NULL for `invalid` rows.
//!
//! **`showers`**: one row per shower candidate or event, columns [`SHOWER_COLUMNS`].
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `id` | INTEGER PRIMARY KEY | the caller's shower (event) id |
//! | `start_ns` | REAL NULL | earliest hit time (NULL when the hits are not known) |
//! | `detectors` | INTEGER | number of hits (distinct detectors) |
//! | `direction` | TEXT | `found`, `unphysical` (no direction fits the times; zenith reported as 90°), `failed`, or `none` (not attempted) |
//! | `reason` | TEXT NULL | for `failed`: why (e.g. `hit detectors are collinear…`) |
//! | `zenith_deg`, `zenith_err_deg` | REAL NULL | zenith angle θ from vertical |
//! | `azimuth_deg`, `azimuth_err_deg` | REAL NULL | azimuth φ from +x (east) towards +y (north), in (−180, 180] |
//! | `front_time_ns`, `front_time_err_ns` | REAL NULL | time the front passes the layout origin |
//! | `chi2` | REAL NULL | χ² of the arrival times |
//! | `dof` | INTEGER NULL | hits − 3 |
//!
//! **`shower_hits`**: one row per hit of a shower, columns [`HIT_COLUMNS`].
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `shower_id` | INTEGER | the shower (`showers.id`) |
//! | `detector` | INTEGER | detector id |
//! | `time_ns` | REAL | arrival time |
//! | `amplitude_v` | REAL NULL | pulse peak height, if known |
//! | `pulse_id` | INTEGER NULL | the pulse (`pulses.id`), if known |
//!
//! Writing a record with an id that is already stored replaces it (with its crossings
//! or hits), so a writer that restarts and repeats its last batch stores nothing twice.
//!
//! # Durability
//!
//! The journal is WAL. A batch is one transaction; [`StoreWriter`] acknowledges it after
//! `COMMIT` returns. With [`Durability::Process`] (`synchronous = NORMAL`) a committed
//! transaction survives the process being killed; with [`Durability::PowerLoss`]
//! (`synchronous = FULL`, the default) it also survives an operating-system crash or a
//! power cut, at the cost of one `fsync` per batch.
//!
//! # Examples
//!
//! ```
//! use components::physics::fit::{Crossings, LevelCrossing};
//! use components::store::{Record, RecordKind, Store, StoredPulse};
//!
//! let mut store = Store::open_in_memory()?;
//! let pulse = StoredPulse {
//!     id: 1,
//!     detector: Some(2),
//!     crossings: Crossings {
//!         levels: vec![LevelCrossing { level: 0.2, rise: 10.0, fall: 14.0 }],
//!         next_level: Some(0.3),
//!     },
//! };
//! let keys = store.write(&[Record::Pulse(pulse.clone())])?;
//! assert_eq!(keys[0].kind, RecordKind::Pulse);
//! assert_eq!(store.pulse(1)?, Some(pulse));
//! let mut csv = Vec::new();
//! store.export(components::store::Table::Crossings, &mut csv)?;
//! assert!(String::from_utf8_lossy(&csv).starts_with("pulse_id,level_index,level_v,rise_ns,fall_ns\n1,0,0.2,10,14\n"));
//! # Ok::<(), components::store::StoreError>(())
//! ```

mod error;
mod writer;

use std::fmt;
use std::io::Write;
use std::path::Path;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::{Deserialize, Serialize};

pub use error::StoreError;
pub use writer::{StoreAck, StoreStats, StoreWriter};

use crate::physics::angle::ShowerDirection;
use crate::physics::components::{FittedPulse, FoundDirection, Hit};
use crate::physics::direction::output::DIRECTION_COLUMNS;
use crate::physics::error::AngleError;
use crate::physics::event_mapper::MappedEvent;
use crate::physics::fit::{Crossings, FitStatus, LevelCrossing, ShapePath};
use crate::physics::model::{BiExpPulse, PulseShape};
use crate::physics::shower::ShowerCandidate;
use crate::physics::sky::Site;

/// Version of the schema this code writes (`PRAGMA user_version`).
///
/// Version 1 held pulses, crossings, fits, showers and shower hits; version 2 adds
/// runs, nodes, where each pulse came from (node, channel, pulse number, UTC) and each
/// shower's UTC and sky coordinates. Older databases are migrated when opened.
///
/// # Examples
///
/// ```
/// use components::store::{SCHEMA_VERSION, Store};
/// // A fresh database is set up at this version.
/// let _store = Store::open_in_memory()?;
/// assert_eq!(SCHEMA_VERSION, 2);
/// # Ok::<(), components::store::StoreError>(())
/// ```
pub const SCHEMA_VERSION: i64 = 2;

/// `PRAGMA application_id` of a store database ("AXcm"): tells it from other SQLite files.
///
/// # Examples
///
/// ```
/// assert_eq!(components::store::APPLICATION_ID.to_be_bytes(), *b"AXcm");
/// ```
pub const APPLICATION_ID: i32 = i32::from_be_bytes(*b"AXcm");

/// The tables of version 1, from which every database is migrated.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS pulses (
    id INTEGER PRIMARY KEY,
    detector INTEGER,
    levels INTEGER NOT NULL,
    next_level_v REAL
);
CREATE TABLE IF NOT EXISTS crossings (
    pulse_id INTEGER NOT NULL,
    level_index INTEGER NOT NULL,
    level_v REAL NOT NULL,
    rise_ns REAL NOT NULL,
    fall_ns REAL NOT NULL,
    PRIMARY KEY (pulse_id, level_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fits (
    pulse_id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT,
    shape_path TEXT,
    peak_height_v REAL, peak_height_err_v REAL,
    peak_time_ns REAL, peak_time_err_ns REAL,
    onset_ns REAL, onset_err_ns REAL,
    amplitude_v REAL, amplitude_err_v REAL,
    area_vns REAL, area_err_vns REAL,
    cf_time_ns REAL, cf_time_err_ns REAL,
    decay_ns REAL, decay_err_ns REAL,
    rise_ns REAL, rise_err_ns REAL,
    chi2 REAL, dof INTEGER, p_value REAL,
    flags TEXT
);
CREATE TABLE IF NOT EXISTS showers (
    id INTEGER PRIMARY KEY,
    start_ns REAL,
    detectors INTEGER NOT NULL,
    direction TEXT NOT NULL,
    reason TEXT,
    zenith_deg REAL, zenith_err_deg REAL,
    azimuth_deg REAL, azimuth_err_deg REAL,
    front_time_ns REAL, front_time_err_ns REAL,
    chi2 REAL, dof INTEGER
);
CREATE TABLE IF NOT EXISTS shower_hits (
    shower_id INTEGER NOT NULL,
    detector INTEGER NOT NULL,
    time_ns REAL NOT NULL,
    amplitude_v REAL,
    pulse_id INTEGER,
    PRIMARY KEY (shower_id, detector)
) WITHOUT ROWID;
";

/// Migration from version 1 to 2.
const MIGRATE_V1_V2: &str = "
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_utc_ns INTEGER NOT NULL,
    program TEXT NOT NULL,
    site_latitude_deg REAL, site_longitude_deg REAL, site_altitude_m REAL
);
CREATE TABLE nodes (
    run INTEGER NOT NULL,
    node INTEGER NOT NULL,
    levels_v TEXT NOT NULL,
    clock_period_ns REAL,
    PRIMARY KEY (run, node)
) WITHOUT ROWID;
ALTER TABLE pulses ADD COLUMN run INTEGER;
ALTER TABLE pulses ADD COLUMN node INTEGER;
ALTER TABLE pulses ADD COLUMN channel INTEGER;
ALTER TABLE pulses ADD COLUMN pulse_num INTEGER;
ALTER TABLE pulses ADD COLUMN utc_ns INTEGER;
ALTER TABLE showers ADD COLUMN run INTEGER;
ALTER TABLE showers ADD COLUMN utc_ns INTEGER;
ALTER TABLE showers ADD COLUMN ra_deg REAL;
ALTER TABLE showers ADD COLUMN ra_err_deg REAL;
ALTER TABLE showers ADD COLUMN dec_deg REAL;
ALTER TABLE showers ADD COLUMN dec_err_deg REAL;
ALTER TABLE showers ADD COLUMN l_deg REAL;
ALTER TABLE showers ADD COLUMN l_err_deg REAL;
ALTER TABLE showers ADD COLUMN b_deg REAL;
ALTER TABLE showers ADD COLUMN b_err_deg REAL;
CREATE INDEX pulses_by_run ON pulses (run, node, channel, pulse_num);
CREATE INDEX showers_by_run ON showers (run, utc_ns);
";

/// Columns of the `fits` table and of a fits CSV, in order.
///
/// # Examples
///
/// ```
/// use components::store::{FIT_COLUMNS, Store, Table};
/// let store = Store::open_in_memory()?;
/// let mut csv = Vec::new();
/// store.export(Table::Fits, &mut csv)?;
/// assert_eq!(String::from_utf8_lossy(&csv), FIT_COLUMNS.join(",") + "\n");
/// # Ok::<(), components::store::StoreError>(())
/// ```
pub const FIT_COLUMNS: [&str; 24] = [
    "pulse_id",
    "status",
    "reason",
    "shape_path",
    "peak_height_v",
    "peak_height_err_v",
    "peak_time_ns",
    "peak_time_err_ns",
    "onset_ns",
    "onset_err_ns",
    "amplitude_v",
    "amplitude_err_v",
    "area_vns",
    "area_err_vns",
    "cf_time_ns",
    "cf_time_err_ns",
    "decay_ns",
    "decay_err_ns",
    "rise_ns",
    "rise_err_ns",
    "chi2",
    "dof",
    "p_value",
    "flags",
];

/// Columns of the `showers` table, in order: the first 13 of a directions CSV
/// ([`DIRECTION_COLUMNS`]).
///
/// # Examples
///
/// ```
/// use components::store::{SHOWER_COLUMNS, Store, Table};
/// let store = Store::open_in_memory()?;
/// let mut csv = Vec::new();
/// store.export(Table::Showers, &mut csv)?;
/// // The table adds the run, the UTC and the sky coordinates after these.
/// assert!(String::from_utf8_lossy(&csv).starts_with(&(SHOWER_COLUMNS.join(",") + ",run,utc_ns,ra_deg")));
/// # Ok::<(), components::store::StoreError>(())
/// ```
pub const SHOWER_COLUMNS: [&str; 13] = match DIRECTION_COLUMNS.first_chunk::<13>() {
    Some(columns) => *columns,
    None => panic!("a directions CSV has at least the 13 columns of a shower row"),
};

/// Columns of the `shower_hits` table and of a shower-candidates CSV, in order.
///
/// # Examples
///
/// ```
/// use components::store::{HIT_COLUMNS, Store, Table};
/// let store = Store::open_in_memory()?;
/// let mut csv = Vec::new();
/// store.export(Table::ShowerHits, &mut csv)?;
/// assert_eq!(String::from_utf8_lossy(&csv), HIT_COLUMNS.join(",") + "\n");
/// # Ok::<(), components::store::StoreError>(())
/// ```
pub const HIT_COLUMNS: [&str; 5] = [
    "shower_id",
    "detector",
    "time_ns",
    "amplitude_v",
    "pulse_id",
];

/// One value of a row: what a table cell or a CSV field holds.
///
/// Displays as a CSV field: NULL empty, numbers in Rust's shortest round-trip form,
/// text quoted when it holds a comma, quote or line break.
///
/// # Examples
///
/// ```
/// use components::store::Cell;
///
/// assert_eq!(Cell::Real(0.5).to_string(), "0.5");
/// assert_eq!(Cell::Null.to_string(), "");
/// assert_eq!(Cell::Text("a,b".into()).to_string(), "\"a,b\"");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// An integer.
    Int(i64),
    /// A real number (NaN and infinities are stored as NULL).
    Real(f64),
    /// Text.
    Text(String),
}

impl Cell {
    fn real(v: f64) -> Cell {
        if v.is_finite() {
            Cell::Real(v)
        } else {
            Cell::Null
        }
    }

    fn opt_real(v: Option<f64>) -> Cell {
        v.map_or(Cell::Null, Cell::real)
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => Ok(()),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Real(r) => write!(f, "{r}"),
            Cell::Text(t) if t.contains([',', '"', '\n', '\r']) => {
                write!(f, "\"{}\"", t.replace('"', "\"\""))
            }
            Cell::Text(t) => f.write_str(t),
        }
    }
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Cell::Null => ToSqlOutput::Owned(Value::Null),
            Cell::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            Cell::Real(r) => ToSqlOutput::Owned(Value::Real(*r)),
            Cell::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

impl From<ValueRef<'_>> for Cell {
    fn from(v: ValueRef<'_>) -> Self {
        match v {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Int(i),
            ValueRef::Real(r) => Cell::Real(r),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                Cell::Text(String::from_utf8_lossy(t).into_owned())
            }
        }
    }
}

fn sql_id(id: u64) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| StoreError::IdOutOfRange(id))
}

/// The row of [`FIT_COLUMNS`] for one fit result (or refusal).
///
/// # Examples
///
/// ```
/// use components::physics::components::FittedPulse;
/// use components::physics::error::CrossingsError;
/// use components::store::{Cell, FIT_COLUMNS, fit_row};
///
/// let row = fit_row(&FittedPulse { id: 4, result: Err(CrossingsError::FallBeforeRise { index: 0 }) });
/// assert_eq!(row.len(), FIT_COLUMNS.len());
/// assert_eq!(row[1], Cell::Text("invalid".into()));
/// assert_eq!(row[2], Cell::Text("level 0: fall before rise".into()));
/// ```
pub fn fit_row(fitted: &FittedPulse) -> Vec<Cell> {
    let id = i64::try_from(fitted.id).map_or(Cell::Text(fitted.id.to_string()), Cell::Int);
    match &fitted.result {
        Err(e) => {
            let mut row = vec![id, Cell::Text("invalid".into()), Cell::Text(e.to_string())];
            row.resize(FIT_COLUMNS.len(), Cell::Null);
            row
        }
        Ok(fit) => {
            let status = match fit.status {
                FitStatus::Converged => "converged",
                FitStatus::IterationLimit => "iteration_limit",
                FitStatus::Numerical => "numerical",
            };
            let path = match fit.shape_path {
                ShapePath::Fixed => "fixed",
                ShapePath::DecayFree => "decay_free",
                ShapePath::Free => "free",
            };
            let mut flags = Vec::new();
            for (on, name) in [
                (fit.flags.peak_at_limit, "peak_at_limit"),
                (fit.flags.peak_at_top_level, "peak_at_top_level"),
                (fit.flags.shape_fit_failed, "shape_fit_failed"),
                (fit.flags.no_dof, "no_dof"),
            ] {
                if on {
                    flags.push(name);
                }
            }
            let mut row = vec![
                id,
                Cell::Text(status.into()),
                Cell::Null,
                Cell::Text(path.into()),
            ];
            for m in [
                fit.peak_height,
                fit.peak_time,
                fit.onset,
                fit.amplitude,
                fit.area,
                fit.cf_time,
                fit.decay,
                fit.rise,
            ] {
                row.push(Cell::real(m.value));
                row.push(Cell::real(m.error));
            }
            row.push(Cell::real(fit.chi2));
            row.push(Cell::Int(fit.dof as i64));
            row.push(Cell::opt_real(fit.p_value));
            row.push(Cell::Text(flags.join(";")));
            row
        }
    }
}

/// A pulse as stored: its id, detector and crossings.
///
/// # Examples
///
/// ```
/// use components::store::StoredPulse;
/// let p = StoredPulse { id: 1, detector: None, crossings: Default::default() };
/// assert!(p.crossings.levels.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPulse {
    /// The caller's pulse id.
    pub id: u64,
    /// Detector id, if known.
    pub detector: Option<u32>,
    /// The threshold crossings.
    pub crossings: Crossings,
}

/// One hit of a stored shower.
///
/// # Examples
///
/// ```
/// use components::store::ShowerHit;
/// let h = ShowerHit { detector: 1, time: 20.0, amplitude: None, pulse_id: None };
/// assert_eq!(h.detector, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShowerHit {
    /// Detector id.
    pub detector: usize,
    /// Arrival time, ns.
    pub time: f64,
    /// Peak height, V, if known.
    pub amplitude: Option<f64>,
    /// The pulse's id, if known.
    pub pulse_id: Option<u64>,
}

/// A shower (candidate or event) as stored: its hits and, if attempted, its direction.
///
/// # Examples
///
/// ```
/// use components::physics::shower::{ShowerCandidate, ShowerPulse};
/// use components::store::StoredShower;
///
/// let c = ShowerCandidate { pulses: vec![ShowerPulse { detector: 0, time: 1.0, amplitude: 0.3, fit_ref: Some(8) }] };
/// let s = StoredShower::from_candidate(3, &c);
/// assert_eq!(s.hits[0].pulse_id, Some(8));
/// assert!(s.direction.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StoredShower {
    /// The caller's shower id.
    pub id: u64,
    /// One hit per detector.
    pub hits: Vec<ShowerHit>,
    /// The direction, the reason there is none, or `None` if not attempted.
    pub direction: Option<Result<ShowerDirection, AngleError>>,
}

impl StoredShower {
    /// A candidate from the shower filter, without a direction.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::shower::{ShowerCandidate, ShowerPulse};
    /// use components::store::StoredShower;
    /// let candidate = ShowerCandidate {
    ///     pulses: vec![ShowerPulse { detector: 2, time: 40.0, amplitude: f64::NAN, fit_ref: None }],
    /// };
    /// let shower = StoredShower::from_candidate(9, &candidate);
    /// assert_eq!((shower.id, shower.hits[0].detector), (9, 2));
    /// assert_eq!(shower.hits[0].amplitude, None); // a non-finite amplitude is not kept
    /// ```
    pub fn from_candidate(id: u64, candidate: &ShowerCandidate) -> Self {
        StoredShower {
            id,
            hits: candidate
                .pulses
                .iter()
                .map(|p| ShowerHit {
                    detector: p.detector,
                    time: p.time,
                    amplitude: Some(p.amplitude).filter(|a| a.is_finite()),
                    pulse_id: p.fit_ref,
                })
                .collect(),
            direction: None,
        }
    }

    /// Earliest hit time, ns (NaN without hits).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{ShowerHit, StoredShower};
    /// let hit = |detector, time| ShowerHit { detector, time, amplitude: None, pulse_id: None };
    /// let shower = StoredShower { id: 1, hits: vec![hit(0, 25.0), hit(1, 12.5)], direction: None };
    /// assert_eq!(shower.start(), 12.5);
    /// assert!(StoredShower { id: 2, hits: vec![], direction: None }.start().is_nan());
    /// ```
    pub fn start(&self) -> f64 {
        self.hits.iter().map(|h| h.time).fold(f64::NAN, f64::min)
    }
}

/// The row of [`SHOWER_COLUMNS`] for a shower (angles in degrees).
///
/// # Examples
///
/// ```
/// use components::store::{Cell, SHOWER_COLUMNS, StoredShower, shower_row};
///
/// let row = shower_row(&StoredShower { id: 2, hits: vec![], direction: None });
/// assert_eq!(row.len(), SHOWER_COLUMNS.len());
/// assert_eq!(row[3], Cell::Text("none".into()));
/// ```
pub fn shower_row(shower: &StoredShower) -> Vec<Cell> {
    let id = i64::try_from(shower.id).map_or(Cell::Text(shower.id.to_string()), Cell::Int);
    let mut row = vec![
        id,
        Cell::real(shower.start()),
        Cell::Int(shower.hits.len() as i64),
    ];
    match &shower.direction {
        None => {
            row.push(Cell::Text("none".into()));
            row.resize(SHOWER_COLUMNS.len(), Cell::Null);
        }
        Some(Err(e)) => {
            row.push(Cell::Text("failed".into()));
            row.push(Cell::Text(e.to_string()));
            row.resize(SHOWER_COLUMNS.len(), Cell::Null);
        }
        Some(Ok(d)) => {
            // The finder's own status: `found`, `ambiguous`, `unphysical`, `poor_fit`,
            // `not_converged` (a poor fit is never stored as found).
            row.push(Cell::Text(d.status.as_str().into()));
            row.push(Cell::Null);
            row.push(Cell::real(d.zenith.value.to_degrees()));
            row.push(Cell::real(d.zenith.error.to_degrees()));
            row.push(Cell::real(d.azimuth.value.to_degrees()));
            row.push(Cell::real(d.azimuth.error.to_degrees()));
            row.push(Cell::real(d.time.value));
            row.push(Cell::real(d.time.error));
            row.push(Cell::real(d.chi2));
            row.push(Cell::Int(d.dof as i64));
        }
    }
    row
}

/// The rows of [`HIT_COLUMNS`] for a shower's hits.
///
/// # Examples
///
/// ```
/// use components::store::{Cell, ShowerHit, StoredShower, hit_rows};
///
/// let s = StoredShower { id: 5, hits: vec![ShowerHit { detector: 1, time: 2.5, amplitude: None, pulse_id: None }], direction: None };
/// assert_eq!(hit_rows(&s)[0], vec![Cell::Int(5), Cell::Int(1), Cell::Real(2.5), Cell::Null, Cell::Null]);
/// ```
pub fn hit_rows(shower: &StoredShower) -> Vec<Vec<Cell>> {
    let id = i64::try_from(shower.id).map_or(Cell::Text(shower.id.to_string()), Cell::Int);
    shower
        .hits
        .iter()
        .map(|h| {
            vec![
                id.clone(),
                Cell::Int(h.detector as i64),
                Cell::real(h.time),
                Cell::opt_real(h.amplitude),
                h.pulse_id
                    .and_then(|p| i64::try_from(p).ok())
                    .map_or(Cell::Null, Cell::Int),
            ]
        })
        .collect()
}

impl StoredShower {
    /// Event `id` as the angle finder saw it: its hits (no amplitudes or pulse ids)
    /// and its direction.
    fn found(id: u64, hits: &[Hit], direction: &Result<ShowerDirection, AngleError>) -> Self {
        StoredShower {
            id,
            hits: hits
                .iter()
                .map(|h| ShowerHit {
                    detector: h.detector,
                    time: h.time,
                    amplitude: None,
                    pulse_id: None,
                })
                .collect(),
            direction: Some(direction.clone()),
        }
    }
}

impl From<&FoundDirection> for StoredShower {
    /// An event from the angle finder, with its hits and direction.
    fn from(found: &FoundDirection) -> Self {
        StoredShower::found(found.event, &found.hits, &found.result)
    }
}

/// Something to store.
///
/// # Examples
///
/// ```
/// use components::physics::components::FittedPulse;
/// use components::physics::error::CrossingsError;
/// use components::store::{Record, RecordKind};
///
/// let r = Record::Fit(FittedPulse { id: 1, result: Err(CrossingsError::Empty) });
/// assert_eq!(r.key().kind, RecordKind::Fit);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A pulse and its crossings (`pulses`, `crossings`).
    Pulse(StoredPulse),
    /// A pulse from a node, with where and when it was seen (`pulses`, `crossings`).
    NodePulse(StoredPulse, PulseOrigin),
    /// A fit result, or why there is none (`fits`).
    Fit(FittedPulse),
    /// A shower with its hits and, if attempted, its direction (`showers`, `shower_hits`).
    Shower(StoredShower),
    /// A shower's time, direction and sky coordinates (`showers`); its hits come
    /// with a [`Record::Shower`] of the same id, before or after.
    Event(MappedEvent),
    /// A node's threshold ladder and clock (`nodes`).
    Node(NodeLevels),
}

impl Record {
    /// What the record is and its id.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Record, RecordKey, RecordKind, StoredPulse};
    /// let pulse = StoredPulse { id: 7, detector: None, crossings: Default::default() };
    /// assert_eq!(Record::Pulse(pulse).key(), RecordKey { kind: RecordKind::Pulse, id: 7 });
    /// ```
    pub fn key(&self) -> RecordKey {
        let (kind, id) = match self {
            Record::Pulse(p) | Record::NodePulse(p, _) => (RecordKind::Pulse, p.id),
            Record::Fit(f) => (RecordKind::Fit, f.id),
            Record::Shower(s) => (RecordKind::Shower, s.id),
            Record::Event(e) => (RecordKind::Shower, e.event),
            Record::Node(n) => (RecordKind::Node, u64::from(n.node)),
        };
        RecordKey { kind, id }
    }
}

/// Where and when a pulse was seen.
///
/// # Examples
///
/// ```
/// use components::store::PulseOrigin;
/// let o = PulseOrigin { node: 1, channel: 2, pulse_num: 3186, utc_ns: 1_700_000_000_000_000_000 };
/// assert_eq!(o.channel, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulseOrigin {
    /// The FEDM node.
    pub node: u32,
    /// Its channel, from 1.
    pub channel: u8,
    /// The node's pulse number.
    pub pulse_num: u32,
    /// UTC of the first rising edge, ns since the Unix epoch.
    pub utc_ns: i64,
}

/// A node's threshold ladder and clock period, as used for its pulses.
///
/// # Examples
///
/// ```
/// use components::store::NodeLevels;
/// let n = NodeLevels { node: 1, levels: vec![0.2, 0.3], clock_period_ns: 2.0 };
/// assert_eq!(n.levels.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeLevels {
    /// The node.
    pub node: u32,
    /// Threshold levels, V, lowest first.
    pub levels: Vec<f64>,
    /// FEDM clock period, ns.
    pub clock_period_ns: f64,
}

/// The kind of a stored record.
///
/// # Examples
///
/// ```
/// use components::store::{Record, RecordKind, Store, StoredPulse};
/// let mut store = Store::open_in_memory()?;
/// let pulse = StoredPulse { id: 7, detector: None, crossings: Default::default() };
/// store.write(&[Record::Pulse(pulse)])?;
/// assert_eq!(store.ids(RecordKind::Pulse)?, [7]);
/// assert!(store.ids(RecordKind::Shower)?.is_empty());
/// # Ok::<(), components::store::StoreError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordKind {
    /// A pulse.
    Pulse,
    /// A fit.
    Fit,
    /// A shower.
    Shower,
    /// A node's levels (id: the node).
    Node,
}

/// Identifies a stored record: its kind and id.
///
/// # Examples
///
/// ```
/// use components::store::{Record, RecordKey, RecordKind, Store, StoredPulse};
/// let mut store = Store::open_in_memory()?;
/// let pulse = StoredPulse { id: 7, detector: None, crossings: Default::default() };
/// let keys = store.write(&[Record::Pulse(pulse)])?;
/// assert_eq!(keys, [RecordKey { kind: RecordKind::Pulse, id: 7 }]);
/// # Ok::<(), components::store::StoreError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    /// The kind.
    pub kind: RecordKind,
    /// The id (pulse id for pulses and fits, shower id for showers).
    pub id: u64,
}

/// How much a commit survives; see the [module docs](self#durability).
///
/// # Examples
///
/// ```
/// use components::store::Durability;
/// assert_eq!(Durability::default(), Durability::PowerLoss);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = NORMAL`: survives the process being killed.
    Process,
    /// `synchronous = FULL`: also survives an operating-system crash or power cut.
    #[default]
    PowerLoss,
}

/// A table, for [`Store::export`].
///
/// # Examples
///
/// ```
/// use components::store::{Store, Table};
/// let store = Store::open_in_memory()?;
/// let mut csv = Vec::new();
/// assert_eq!(store.export(Table::Pulses, &mut csv)?, 0);
/// assert_eq!(csv, b"id,detector,levels,next_level_v,run,node,channel,pulse_num,utc_ns\n");
/// # Ok::<(), components::store::StoreError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `pulses`.
    Pulses,
    /// `crossings` (the input format of `cosmici fit`).
    Crossings,
    /// `fits`.
    Fits,
    /// `showers`.
    Showers,
    /// `shower_hits` (the input format of `cosmici direction`).
    ShowerHits,
}

impl Table {
    /// The table's SQL name.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::Table;
    /// assert_eq!(Table::ShowerHits.name(), "shower_hits");
    /// assert_eq!(Table::Crossings.name(), "crossings");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Table::Pulses => "pulses",
            Table::Crossings => "crossings",
            Table::Fits => "fits",
            Table::Showers => "showers",
            Table::ShowerHits => "shower_hits",
        }
    }

    fn order(self) -> &'static str {
        match self {
            Table::Pulses => "id",
            Table::Crossings => "pulse_id, level_index",
            Table::Fits => "pulse_id",
            Table::Showers => "id",
            Table::ShowerHits => "shower_id, time_ns",
        }
    }
}

/// A point of the sky plot: one shower direction.
///
/// # Examples
///
/// ```
/// use components::physics::angle::AngleFinder;
/// use components::physics::layout::DetectorLayout;
/// use components::store::{Record, ShowerHit, Store, StoredShower};
///
/// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
/// let hits = [(0, 7.0), (1, 7.0), (2, 7.0), (3, 7.0)]; // all at once: from the zenith
/// let shower = StoredShower {
///     id: 4,
///     hits: hits
///         .iter()
///         .map(|&(detector, time)| ShowerHit { detector, time, amplitude: None, pulse_id: None })
///         .collect(),
///     direction: Some(finder.find(&hits)),
/// };
/// let mut store = Store::open_in_memory()?;
/// store.write(&[Record::Shower(shower)])?;
/// let sky = store.sky()?;
/// assert_eq!(sky.len(), 1);
/// assert_eq!(sky[0].id, 4);
/// assert!(sky[0].zenith_deg.abs() < 1e-6 && !sky[0].unphysical);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SkyPoint {
    /// The shower id.
    pub id: u64,
    /// Zenith, degrees.
    pub zenith_deg: f64,
    /// Zenith error, degrees.
    pub zenith_err_deg: f64,
    /// Azimuth, degrees from +x towards +y.
    pub azimuth_deg: f64,
    /// No direction fits the times (zenith shown at 90°).
    pub unphysical: bool,
    /// UTC of the shower, ns since the Unix epoch, if known.
    pub utc_ns: Option<i64>,
    /// J2000 right ascension and declination, degrees, if mapped.
    pub equatorial: Option<(f64, f64)>,
    /// Galactic longitude and latitude, degrees, if mapped.
    pub galactic: Option<(f64, f64)>,
}

/// A pulse of a run, as read back by [`Store::run_pulses`].
///
/// # Examples
///
/// ```
/// use components::store::{PulseOrigin, RunPulse};
/// let p = RunPulse { id: 1, origin: PulseOrigin { node: 1, channel: 1, pulse_num: 1, utc_ns: 0 }, onset_utc_ns: Some(-2), peak_height: Some(0.4) };
/// assert_eq!(p.onset_utc_ns, Some(-2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunPulse {
    /// The pulse id.
    pub id: u64,
    /// Node, channel, pulse number, UTC of the first rise.
    pub origin: PulseOrigin,
    /// UTC of the fitted onset, ns, if fitted.
    pub onset_utc_ns: Option<i64>,
    /// Fitted peak height, V, if fitted.
    pub peak_height: Option<f64>,
}

/// A shower of a run, as read back by [`Store::run_showers`].
///
/// # Examples
///
/// ```
/// use components::store::RunShower;
/// let s = RunShower { id: 1, utc_ns: Some(5), zenith_deg: None, azimuth_deg: None };
/// assert!(s.zenith_deg.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunShower {
    /// The shower id.
    pub id: u64,
    /// UTC of its earliest hit, ns, if known.
    pub utc_ns: Option<i64>,
    /// Zenith, degrees, if a direction was found.
    pub zenith_deg: Option<f64>,
    /// Azimuth, degrees, if a direction was found.
    pub azimuth_deg: Option<f64>,
}

/// The SQLite database of pulses, fits and showers; see the [module docs](self).
///
/// # Examples
///
/// ```
/// use components::store::{Record, RecordKind, Store, StoredPulse};
/// let mut store = Store::open_in_memory()?;
/// let pulse = StoredPulse { id: 1, detector: Some(3), crossings: Default::default() };
/// store.write(&[Record::Pulse(pulse.clone())])?;
/// assert_eq!(store.ids(RecordKind::Pulse)?, [1]);
/// assert_eq!(store.pulse(1)?, Some(pulse));
/// # Ok::<(), components::store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    run: Option<i64>,
    path: String,
}

impl Store {
    /// Opens (creating if needed) the database at `path` with WAL and the schema.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] (naming the file) if SQLite cannot open or set it up,
    /// [`StoreError::SchemaTooNew`] for a database of a newer version.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Durability, Record, RecordKind, Store, StoredPulse};
    /// let path = std::env::temp_dir().join(format!("axon-store-doc-{}.sqlite", std::process::id()));
    /// {
    ///     let mut store = Store::open(&path, Durability::Process)?;
    ///     let pulse = StoredPulse { id: 5, detector: None, crossings: Default::default() };
    ///     store.write(&[Record::Pulse(pulse)])?;
    /// }
    /// // Committed records are there when the database is opened again.
    /// let store = Store::open(&path, Durability::PowerLoss)?;
    /// assert_eq!(store.ids(RecordKind::Pulse)?, [5]);
    /// # drop(store);
    /// # for suffix in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    /// # }
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let named = |e: StoreError| match e {
            StoreError::Sqlite(source) => StoreError::Open {
                path: name.clone(),
                source,
            },
            other => other,
        };
        let conn = Connection::open(path).map_err(|e| named(e.into()))?;
        Self::setup(conn, durability, &name).map_err(named)
    }

    /// A private in-memory database (tests, examples).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if SQLite cannot create it.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{RecordKind, Store};
    /// let store = Store::open_in_memory()?;
    /// assert!(store.ids(RecordKind::Fit)?.is_empty());
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::setup(
            Connection::open_in_memory()?,
            Durability::Process,
            ":memory:",
        )
    }

    fn setup(conn: Connection, durability: Durability, path: &str) -> Result<Self, StoreError> {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        // Version 1 wrote no application id; anything else must carry ours.
        let foreign_app = app != APPLICATION_ID && !(app == 0 && version == 1);
        if (version == 0 && !tables.is_empty()) || (version > 0 && foreign_app) {
            return Err(StoreError::Foreign {
                path: path.to_owned(),
                found: format!(
                    "application id {app:#x}, schema version {version}, tables: {}",
                    if tables.is_empty() {
                        "none".to_owned()
                    } else {
                        tables.join(", ")
                    }
                ),
            });
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        // journal_mode answers with a row; read it rather than pragma_update.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        let sync = match durability {
            Durability::Process => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        if version < SCHEMA_VERSION {
            let mut batch = String::from("BEGIN;");
            if version < 1 {
                batch += SCHEMA_V1;
            }
            batch += MIGRATE_V1_V2;
            batch += &format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            );
            conn.execute_batch(&batch)?;
        }
        Ok(Store {
            conn,
            run: None,
            path: path.to_owned(),
        })
    }

    /// Starts a run: a row in `runs`, whose id every pulse, shower and node written
    /// from now on carries. Returns the run id.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::Store;
    /// let mut store = Store::open_in_memory()?;
    /// assert_eq!(store.begin_run("sensornet", 1_700_000_000_000_000_000, None)?, 1);
    /// assert_eq!(store.begin_run("sensornet", 1_700_000_100_000_000_000, None)?, 2);
    /// assert_eq!(store.latest_run()?, Some(2));
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn begin_run(
        &mut self,
        program: &str,
        started_utc_ns: i64,
        site: Option<Site>,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO runs (started_utc_ns, program, site_latitude_deg, site_longitude_deg, site_altitude_m)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                started_utc_ns,
                program,
                site.map(|s| s.latitude_deg),
                site.map(|s| s.longitude_deg),
                site.map(|s| s.altitude_m)
            ],
        )?;
        let run = self.conn.last_insert_rowid();
        self.run = Some(run);
        Ok(run)
    }

    /// The newest run, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// let store = components::store::Store::open_in_memory()?;
    /// assert_eq!(store.latest_run()?, None);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn latest_run(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT MAX(id) FROM runs", [], |r| r.get(0))?)
    }

    /// The site of the newest run that recorded one.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`], or [`StoreError::BadRow`] for a stored site out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::Site;
    /// use components::store::Store;
    /// let mut store = Store::open_in_memory()?;
    /// assert_eq!(store.latest_site()?, None);
    /// store.begin_run("test", 0, Some(Site::default()))?;
    /// assert_eq!(store.latest_site()?, Some(Site::default()));
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn latest_site(&self) -> Result<Option<Site>, StoreError> {
        let row: Option<(i64, f64, f64, f64)> = self
            .conn
            .query_row(
                "SELECT id, site_latitude_deg, site_longitude_deg, COALESCE(site_altitude_m, 0) FROM runs
                 WHERE site_latitude_deg IS NOT NULL AND site_longitude_deg IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(id, lat, lon, alt)| {
            Site::new(lat, lon, alt).map_err(|e| StoreError::BadRow {
                what: "run",
                id,
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    /// The id after the largest stored one of `kind` (1 in an empty store): where a
    /// new run numbers its records so that runs accumulate in one file.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Record, RecordKind, Store, StoredPulse};
    /// let mut store = Store::open_in_memory()?;
    /// assert_eq!(store.next_id(RecordKind::Pulse)?, 1);
    /// store.write(&[Record::Pulse(StoredPulse { id: 41, detector: None, crossings: Default::default() })])?;
    /// assert_eq!(store.next_id(RecordKind::Pulse)?, 42);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn next_id(&self, kind: RecordKind) -> Result<u64, StoreError> {
        let sql = match kind {
            RecordKind::Pulse | RecordKind::Fit => {
                "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM pulses UNION ALL SELECT MAX(pulse_id) FROM fits)"
            }
            RecordKind::Shower => "SELECT MAX(id) FROM showers",
            RecordKind::Node => "SELECT MAX(node) FROM nodes",
        };
        let max: Option<i64> = self.conn.query_row(sql, [], |r| r.get(0))?;
        Ok(max.map_or(1, |m| m.max(0) as u64 + 1))
    }

    /// Writes `records` in one transaction and returns their keys once it has committed.
    ///
    /// # Errors
    ///
    /// [`StoreError`]; on error nothing of the batch is stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::FittedPulse;
    /// use components::physics::error::CrossingsError;
    /// use components::store::{Record, RecordKind, Store, StoredPulse};
    /// let mut store = Store::open_in_memory()?;
    /// let pulse = StoredPulse { id: 2, detector: None, crossings: Default::default() };
    /// let fit = FittedPulse { id: 2, result: Err(CrossingsError::Empty) };
    /// let keys = store.write(&[Record::Pulse(pulse.clone()), Record::Fit(fit)])?;
    /// assert_eq!(keys.len(), 2);
    /// // Writing an id again replaces the record instead of storing it twice.
    /// store.write(&[Record::Pulse(pulse)])?;
    /// assert_eq!(store.ids(RecordKind::Pulse)?, [2]);
    /// assert_eq!(store.ids(RecordKind::Fit)?, [2]);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn write(&mut self, records: &[Record]) -> Result<Vec<RecordKey>, StoreError> {
        self.write_batch(records)
    }

    /// Copies what the write-ahead log holds into the database file itself (a passive
    /// checkpoint: it never waits for readers), so that a copy of the file alone has
    /// every committed record.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the checkpoint fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let store = components::store::Store::open_in_memory()?;
    /// store.checkpoint()?;
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The file it was opened from (`:memory:` for [`Store::open_in_memory`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let store = components::store::Store::open_in_memory()?;
    /// assert_eq!(store.path(), ":memory:");
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    fn write_batch(&mut self, records: &[Record]) -> Result<Vec<RecordKey>, StoreError> {
        let run = self.run;
        let tx = self.conn.transaction()?;
        for r in records {
            match r {
                Record::Pulse(p) => write_pulse(&tx, run, p, None)?,
                Record::NodePulse(p, origin) => write_pulse(&tx, run, p, Some(origin))?,
                Record::Fit(f) => {
                    sql_id(f.id)?;
                    let sql = format!(
                        "INSERT OR REPLACE INTO fits ({}) VALUES ({})",
                        FIT_COLUMNS.join(", "),
                        placeholders(FIT_COLUMNS.len())
                    );
                    tx.prepare_cached(&sql)?
                        .execute(rusqlite::params_from_iter(fit_row(f).iter()))?;
                }
                Record::Shower(s) => {
                    let id = sql_id(s.id)?;
                    upsert_shower(&tx, run, s, None)?;
                    tx.prepare_cached("DELETE FROM shower_hits WHERE shower_id = ?1")?
                        .execute([id])?;
                    let sql = format!(
                        "INSERT OR REPLACE INTO shower_hits ({}) VALUES ({})",
                        HIT_COLUMNS.join(", "),
                        placeholders(HIT_COLUMNS.len())
                    );
                    let mut insert = tx.prepare_cached(&sql)?;
                    for row in hit_rows(s) {
                        insert.execute(rusqlite::params_from_iter(row.iter()))?;
                    }
                }
                Record::Event(e) => {
                    sql_id(e.event)?;
                    let shower = StoredShower::found(e.event, &e.hits, &e.direction);
                    upsert_shower(&tx, run, &shower, Some(e))?;
                }
                Record::Node(n) => {
                    let levels: Vec<String> = n.levels.iter().map(f64::to_string).collect();
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO nodes (run, node, levels_v, clock_period_ns) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        run.unwrap_or(0),
                        n.node,
                        levels.join(";"),
                        Cell::real(n.clock_period_ns)
                    ])?;
                }
            }
        }
        tx.commit()?;
        Ok(records.iter().map(Record::key).collect())
    }

    /// The rows of `sql` with `params`, each made by `row`.
    fn rows<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt
            .query_map(params, row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Ids of every stored record of one kind, ascending.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Record, RecordKind, Store, StoredPulse};
    /// let mut store = Store::open_in_memory()?;
    /// let pulse = |id| Record::Pulse(StoredPulse { id, detector: None, crossings: Default::default() });
    /// store.write(&[pulse(30), pulse(4), pulse(12)])?;
    /// assert_eq!(store.ids(RecordKind::Pulse)?, [4, 12, 30]);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn ids(&self, kind: RecordKind) -> Result<Vec<u64>, StoreError> {
        let sql = match kind {
            RecordKind::Pulse => "SELECT id FROM pulses ORDER BY id",
            RecordKind::Fit => "SELECT pulse_id FROM fits ORDER BY pulse_id",
            RecordKind::Shower => "SELECT id FROM showers ORDER BY id",
            RecordKind::Node => "SELECT DISTINCT node FROM nodes ORDER BY node",
        };
        self.rows(sql, [], |r| r.get::<_, i64>(0).map(|i| i as u64))
    }

    /// One stored pulse with its crossings.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::fit::{Crossings, LevelCrossing};
    /// use components::store::{Record, Store, StoredPulse};
    /// let mut store = Store::open_in_memory()?;
    /// let pulse = StoredPulse {
    ///     id: 8,
    ///     detector: Some(1),
    ///     crossings: Crossings {
    ///         levels: vec![LevelCrossing { level: 0.2, rise: 10.0, fall: 14.0 }],
    ///         next_level: None,
    ///     },
    /// };
    /// store.write(&[Record::Pulse(pulse.clone())])?;
    /// assert_eq!(store.pulse(8)?, Some(pulse));
    /// assert_eq!(store.pulse(9)?, None);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn pulse(&self, id: u64) -> Result<Option<StoredPulse>, StoreError> {
        let sid = sql_id(id)?;
        let head = self
            .conn
            .query_row(
                "SELECT detector, next_level_v FROM pulses WHERE id = ?1",
                [sid],
                |r| Ok((r.get::<_, Option<u32>>(0)?, r.get::<_, Option<f64>>(1)?)),
            )
            .optional()?;
        let Some((detector, next_level)) = head else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT level_v, rise_ns, fall_ns FROM crossings WHERE pulse_id = ?1 ORDER BY level_index",
        )?;
        let levels = stmt
            .query_map([sid], |r| {
                Ok(LevelCrossing {
                    level: r.get(0)?,
                    rise: r.get(1)?,
                    fall: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(StoredPulse {
            id,
            detector,
            crossings: Crossings { levels, next_level },
        }))
    }

    /// The fitted pulse curve of one pulse (onset, amplitude and shape), if it has a fit.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadRow`] if the stored parameters do not make a pulse.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::FittedPulse;
    /// use components::physics::fit::{Crossings, LevelCrossing, PulseFitter, PulseFitterConfig};
    /// use components::store::{Record, Store};
    ///
    /// let fitter = PulseFitter::new(PulseFitterConfig::default())?;
    /// let crossings = Crossings {
    ///     levels: vec![
    ///         LevelCrossing { level: 0.2, rise: 100.0, fall: 104.0 },
    ///         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
    ///     ],
    ///     next_level: Some(0.45),
    /// };
    /// let fit = fitter.fit(&crossings)?;
    /// let peak = fit.peak_height.value;
    /// let mut store = Store::open_in_memory()?;
    /// store.write(&[Record::Fit(FittedPulse { id: 1, result: Ok(fit) })])?;
    ///
    /// let curve = store.fitted_curve(1)?.ok_or("pulse 1 has a fit")?;
    /// assert!((curve.peak_height() - peak).abs() < 1e-9);
    /// assert!(store.fitted_curve(2)?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fitted_curve(&self, pulse_id: u64) -> Result<Option<BiExpPulse>, StoreError> {
        let sid = sql_id(pulse_id)?;
        let row = self
            .conn
            .query_row(
                "SELECT amplitude_v, onset_ns, rise_ns, decay_ns FROM fits WHERE pulse_id = ?1 AND status != 'invalid'",
                [sid],
                |r| {
                    Ok((
                        r.get::<_, Option<f64>>(0)?,
                        r.get::<_, Option<f64>>(1)?,
                        r.get::<_, Option<f64>>(2)?,
                        r.get::<_, Option<f64>>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((Some(a), Some(t0), Some(rise), Some(decay))) = row else {
            return Ok(None);
        };
        let bad = |reason: String| StoreError::BadRow {
            what: "fit",
            id: sid,
            reason,
        };
        let shape = PulseShape::new(rise, decay).map_err(|e| bad(e.to_string()))?;
        BiExpPulse::new(a, t0, shape)
            .map(Some)
            .map_err(|e| bad(e.to_string()))
    }

    /// Every shower with a direction (found or unphysical), by id.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Store, StoredShower, Record};
    /// let mut store = Store::open_in_memory()?;
    /// // A shower whose direction was not attempted is not on the sky plot.
    /// store.write(&[Record::Shower(StoredShower { id: 1, hits: vec![], direction: None })])?;
    /// assert!(store.sky()?.is_empty());
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn sky(&self) -> Result<Vec<SkyPoint>, StoreError> {
        let pair = |a: Option<f64>, b: Option<f64>| a.zip(b);
        self.rows(
            "SELECT id, zenith_deg, zenith_err_deg, azimuth_deg, direction, utc_ns,
                    ra_deg, dec_deg, l_deg, b_deg FROM showers
             WHERE zenith_deg IS NOT NULL ORDER BY id",
            [],
            |r| {
                Ok(SkyPoint {
                    id: r.get::<_, i64>(0)? as u64,
                    zenith_deg: r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
                    zenith_err_deg: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
                    azimuth_deg: r.get::<_, Option<f64>>(3)?.unwrap_or(f64::NAN),
                    unphysical: r.get::<_, String>(4)? == "unphysical",
                    utc_ns: r.get(5)?,
                    equatorial: pair(r.get(6)?, r.get(7)?),
                    galactic: pair(r.get(8)?, r.get(9)?),
                })
            },
        )
    }

    /// The pulses of one run that came from nodes, with their fitted onset and peak.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{PulseOrigin, Record, Store, StoredPulse};
    /// let mut store = Store::open_in_memory()?;
    /// let run = store.begin_run("test", 0, None)?;
    /// let origin = PulseOrigin { node: 1, channel: 3, pulse_num: 9, utc_ns: 1_000 };
    /// let pulse = StoredPulse { id: 1, detector: Some(2), crossings: Default::default() };
    /// store.write(&[Record::NodePulse(pulse, origin)])?;
    /// let pulses = store.run_pulses(run)?;
    /// assert_eq!(pulses[0].origin, origin);
    /// assert_eq!(pulses[0].onset_utc_ns, None); // no fit stored
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn run_pulses(&self, run: i64) -> Result<Vec<RunPulse>, StoreError> {
        self.rows(
            "SELECT p.id, p.node, p.channel, p.pulse_num, p.utc_ns, f.onset_ns, f.peak_height_v
             FROM pulses p LEFT JOIN fits f ON f.pulse_id = p.id
             WHERE p.run = ?1 AND p.node IS NOT NULL ORDER BY p.id",
            [run],
            |r| {
                let utc_ns: i64 = r.get(4)?;
                let onset: Option<f64> = r.get(5)?;
                Ok(RunPulse {
                    id: r.get::<_, i64>(0)? as u64,
                    origin: PulseOrigin {
                        node: r.get(1)?,
                        channel: r.get(2)?,
                        pulse_num: r.get(3)?,
                        utc_ns,
                    },
                    onset_utc_ns: onset.map(|o| utc_ns.saturating_add(o.round() as i64)),
                    peak_height: r.get(6)?,
                })
            },
        )
    }

    /// The showers of one run: id, UTC and direction (degrees), if found.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Record, Store, StoredShower};
    /// let mut store = Store::open_in_memory()?;
    /// let run = store.begin_run("test", 0, None)?;
    /// store.write(&[Record::Shower(StoredShower { id: 4, hits: vec![], direction: None })])?;
    /// let showers = store.run_showers(run)?;
    /// assert_eq!((showers[0].id, showers[0].zenith_deg), (4, None));
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn run_showers(&self, run: i64) -> Result<Vec<RunShower>, StoreError> {
        self.rows(
            "SELECT id, utc_ns, zenith_deg, azimuth_deg FROM showers
             WHERE run = ?1 ORDER BY id",
            [run],
            |r| {
                Ok(RunShower {
                    id: r.get::<_, i64>(0)? as u64,
                    utc_ns: r.get(1)?,
                    zenith_deg: r.get(2)?,
                    azimuth_deg: r.get(3)?,
                })
            },
        )
    }

    /// The hits of one shower, earliest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Record, ShowerHit, Store, StoredShower};
    /// let mut store = Store::open_in_memory()?;
    /// let hit = |detector, time| ShowerHit { detector, time, amplitude: None, pulse_id: None };
    /// store.write(&[Record::Shower(StoredShower { id: 2, hits: vec![hit(1, 9.0), hit(0, 4.0)], direction: None })])?;
    /// let hits = store.shower_hits(2)?;
    /// assert_eq!(hits.iter().map(|h| h.detector).collect::<Vec<_>>(), [0, 1]);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn shower_hits(&self, shower_id: u64) -> Result<Vec<ShowerHit>, StoreError> {
        self.rows(
            "SELECT detector, time_ns, amplitude_v, pulse_id FROM shower_hits
             WHERE shower_id = ?1 ORDER BY time_ns",
            [sql_id(shower_id)?],
            |r| {
                Ok(ShowerHit {
                    detector: r.get::<_, i64>(0)? as usize,
                    time: r.get(1)?,
                    amplitude: r.get(2)?,
                    pulse_id: r.get::<_, Option<i64>>(3)?.map(|p| p as u64),
                })
            },
        )
    }

    /// One shower's direction as stored: zenith, azimuth (degrees), and the front
    /// time (ns, in the hits' time frame), if found.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Record, Store, StoredShower};
    /// let mut store = Store::open_in_memory()?;
    /// store.write(&[Record::Shower(StoredShower { id: 2, hits: vec![], direction: None })])?;
    /// assert_eq!(store.shower_direction(2)?, None);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn shower_direction(&self, shower_id: u64) -> Result<Option<(f64, f64, f64)>, StoreError> {
        let row: Option<(Option<f64>, Option<f64>, Option<f64>)> = self
            .conn
            .query_row(
                "SELECT zenith_deg, azimuth_deg, front_time_ns FROM showers WHERE id = ?1",
                [sql_id(shower_id)?],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.and_then(|(z, a, t)| Some((z?, a?, t?))))
    }

    /// Writes one table as CSV with a header row; returns the number of data rows.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] or [`StoreError::Io`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::fit::{Crossings, LevelCrossing};
    /// use components::store::{Record, Store, StoredPulse, Table};
    /// let mut store = Store::open_in_memory()?;
    /// let pulse = StoredPulse {
    ///     id: 1,
    ///     detector: Some(2),
    ///     crossings: Crossings {
    ///         levels: vec![LevelCrossing { level: 0.2, rise: 10.0, fall: 14.0 }],
    ///         next_level: Some(0.3),
    ///     },
    /// };
    /// store.write(&[Record::Pulse(pulse)])?;
    /// let mut csv = Vec::new();
    /// assert_eq!(store.export(Table::Pulses, &mut csv)?, 1);
    /// assert_eq!(
    ///     String::from_utf8_lossy(&csv),
    ///     "id,detector,levels,next_level_v,run,node,channel,pulse_num,utc_ns\n1,2,1,0.3,,,,,\n"
    /// );
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn export(&self, table: Table, out: &mut impl Write) -> Result<usize, StoreError> {
        let sql = format!("SELECT * FROM {} ORDER BY {}", table.name(), table.order());
        let mut stmt = self.conn.prepare(&sql)?;
        let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
        writeln!(out, "{}", names.join(","))?;
        let n = names.len();
        let mut rows = stmt.query([])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            let mut line = String::new();
            for i in 0..n {
                if i > 0 {
                    line.push(',');
                }
                line += &Cell::from(row.get_ref(i)?).to_string();
            }
            writeln!(out, "{line}")?;
            count += 1;
        }
        out.flush()?;
        Ok(count)
    }
}

fn write_pulse(
    tx: &rusqlite::Transaction<'_>,
    run: Option<i64>,
    p: &StoredPulse,
    origin: Option<&PulseOrigin>,
) -> Result<(), StoreError> {
    let id = sql_id(p.id)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO pulses (id, detector, levels, next_level_v, run, node, channel, pulse_num, utc_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        p.detector,
        p.crossings.levels.len() as i64,
        Cell::opt_real(p.crossings.next_level),
        run,
        origin.map(|o| o.node),
        origin.map(|o| o.channel),
        origin.map(|o| o.pulse_num),
        origin.map(|o| o.utc_ns),
    ])?;
    tx.prepare_cached("DELETE FROM crossings WHERE pulse_id = ?1")?
        .execute([id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO crossings (pulse_id, level_index, level_v, rise_ns, fall_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, l) in p.crossings.levels.iter().enumerate() {
        insert.execute(params![id, i as i64, l.level, l.rise, l.fall])?;
    }
    Ok(())
}

/// Sky columns of `showers`, after [`SHOWER_COLUMNS`] and `run`.
const SKY_COLUMNS: [&str; 9] = [
    "utc_ns",
    "ra_deg",
    "ra_err_deg",
    "dec_deg",
    "dec_err_deg",
    "l_deg",
    "l_err_deg",
    "b_deg",
    "b_err_deg",
];

/// Inserts or updates a shower row. Without `event` only the hit summary (and the
/// direction, when the shower has one) is set, so the hits of a [`Record::Shower`]
/// and the direction of a [`Record::Event`] may arrive in either order.
fn upsert_shower(
    tx: &rusqlite::Transaction<'_>,
    run: Option<i64>,
    shower: &StoredShower,
    event: Option<&MappedEvent>,
) -> Result<(), StoreError> {
    let mut columns: Vec<&str> = SHOWER_COLUMNS.to_vec();
    let mut row = shower_row(shower);
    columns.push("run");
    row.push(run.map_or(Cell::Null, Cell::Int));
    if let Some(e) = event {
        columns.extend(SKY_COLUMNS);
        row.push(e.utc_ns.map_or(Cell::Null, Cell::Int));
        let coordinate = |c: Option<crate::physics::sky::SkyCoordinate>| {
            [
                Cell::opt_real(c.map(|c| c.lon_deg)),
                Cell::opt_real(c.map(|c| c.lon_err_deg)),
                Cell::opt_real(c.map(|c| c.lat_deg)),
                Cell::opt_real(c.map(|c| c.lat_err_deg)),
            ]
        };
        row.extend(coordinate(e.sky.map(|s| s.equatorial)));
        row.extend(coordinate(e.sky.map(|s| s.galactic)));
    }
    // Hits decide start and count; a direction (when given) its own columns.
    let updated: Vec<String> = columns
        .iter()
        .filter(|c| **c != "id")
        .filter(|c| shower.direction.is_some() || matches!(**c, "start_ns" | "detectors" | "run"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO showers ({}) VALUES ({}) ON CONFLICT(id) DO UPDATE SET {}",
        columns.join(", "),
        placeholders(columns.len()),
        updated.join(", ")
    );
    tx.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(row.iter()))?;
    Ok(())
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::fit::{PulseFitter, PulseFitterConfig};
    use crate::physics::simulate::{PulseSynth, PulseSynthConfig};

    #[test]
    fn records_round_trip_and_replace() {
        let mut store = Store::open_in_memory().expect("opens");
        let fitter = PulseFitter::new(PulseFitterConfig::default()).expect("valid");
        let mut synth = PulseSynth::new(PulseSynthConfig::default(), 3).expect("valid");
        let mut records = Vec::new();
        let mut pulses = Vec::new();
        for id in 0..20 {
            let (_, crossings) = synth.next_pulse();
            let p = StoredPulse {
                id,
                detector: Some(1),
                crossings: crossings.clone(),
            };
            pulses.push(p.clone());
            records.push(Record::Pulse(p));
            records.push(Record::Fit(FittedPulse {
                id,
                result: fitter.fit(&crossings),
            }));
        }
        let keys = store.write(&records).expect("writes");
        assert_eq!(keys.len(), 40);
        // The same batch again replaces, never duplicates.
        store.write(&records).expect("rewrites");
        assert_eq!(store.ids(RecordKind::Pulse).expect("query").len(), 20);
        for p in &pulses {
            assert_eq!(store.pulse(p.id).expect("query").as_ref(), Some(p));
            let fitted = fitter.fit(&p.crossings);
            let curve = store.fitted_curve(p.id).expect("query");
            match fitted {
                Ok(fit) => {
                    let c = curve.expect("a fitted curve");
                    assert!((c.peak_height() - fit.peak_height.value).abs() < 1e-9);
                }
                Err(_) => assert!(curve.is_none()),
            }
        }
        let mut csv = Vec::new();
        let rows = store.export(Table::Fits, &mut csv).expect("exports");
        assert_eq!(rows, 20);
        let text = String::from_utf8(csv).expect("utf-8");
        let header = text.lines().next().expect("header");
        assert_eq!(header, FIT_COLUMNS.join(","));
    }

    #[test]
    fn showers_store_hits_and_directions() {
        use crate::physics::angle::AngleFinder;
        use crate::physics::layout::DetectorLayout;
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let finder = AngleFinder::new(layout, 1.0).expect("valid");
        let hits: Vec<(usize, f64)> = (0..4).map(|d| (d, 100.0 + d as f64)).collect();
        let shower = StoredShower {
            id: 7,
            hits: hits
                .iter()
                .map(|&(detector, time)| ShowerHit {
                    detector,
                    time,
                    amplitude: Some(0.4),
                    pulse_id: None,
                })
                .collect(),
            direction: Some(finder.find(&hits)),
        };
        let mut store = Store::open_in_memory().expect("opens");
        store
            .write(&[
                Record::Shower(shower.clone()),
                Record::Shower(StoredShower {
                    id: 8,
                    hits: vec![],
                    direction: Some(Err(AngleError::TooFewHits(0))),
                }),
            ])
            .expect("writes");
        let sky = store.sky().expect("query");
        assert_eq!(sky.len(), 1);
        assert_eq!(sky[0].id, 7);
        let mut csv = Vec::new();
        assert_eq!(
            store.export(Table::ShowerHits, &mut csv).expect("exports"),
            4
        );
        let mut csv = Vec::new();
        store.export(Table::Showers, &mut csv).expect("exports");
        let text = String::from_utf8(csv).expect("utf-8");
        assert!(
            text.contains("\n8,,0,failed,0 hits: need at least 3 detectors,,"),
            "{text}"
        );
    }

    #[test]
    fn out_of_range_ids_are_refused_and_nothing_is_written() {
        let mut store = Store::open_in_memory().expect("opens");
        let ok = Record::Pulse(StoredPulse {
            id: 1,
            detector: None,
            crossings: Crossings::default(),
        });
        let bad = Record::Pulse(StoredPulse {
            id: u64::MAX,
            detector: None,
            crossings: Crossings::default(),
        });
        assert!(matches!(
            store.write(&[ok, bad]),
            Err(StoreError::IdOutOfRange(u64::MAX))
        ));
        assert!(store.ids(RecordKind::Pulse).expect("query").is_empty());
    }
}
