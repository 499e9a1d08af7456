//! [`RunArchive`]: pulses and showers into an SQLite file. Needs the `store` feature.
//!
//! Tables:
//!
//! Each time the file is opened a new run number is taken (`runs` table); every row
//! carries it, so runs accumulate in one file.
//!
//! | table | one row per | columns |
//! | --- | --- | --- |
//! | `runs` | opening of the file | `run`, `opened_utc_ns` |
//! | `pulses` | reconstructed pulse | `run`, `id`, `node`, `ch`, `detector`, `pulse_num`, `utc_ns` (first rising edge), `levels`, `onset_utc_ns`, `peak_height`, `peak_height_err`, `onset_ns`, `onset_err`, `peak_time_ns`, `area`, `chi2`, `dof`, `status`, `error` |
//! | `showers` | shower | `run`, `id`, `utc_ns`, `detectors`, `zenith`, `zenith_err`, `azimuth`, `azimuth_err`, `unphysical`, `error` |
//! | `shower_pulses` | pulse of a shower | `run`, `shower_id`, `pulse_id` |

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axon::BoxError;
use axon::threaded::{BlockingContext, Threaded, threaded};
use rusqlite::{Connection, params};

use super::reconstruct::{ReconstructedPulse, Record, ShowerRecord};

/// Records written per transaction at most.
const BATCH: usize = 256;
/// Longest a record waits for its transaction to commit (checked as records arrive).
const COMMIT_EVERY: Duration = Duration::from_millis(250);

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, opened_utc_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pulses (
    run INTEGER NOT NULL, id INTEGER NOT NULL, node INTEGER NOT NULL, ch INTEGER NOT NULL, detector INTEGER,
    pulse_num INTEGER NOT NULL, utc_ns INTEGER NOT NULL, levels INTEGER NOT NULL,
    onset_utc_ns INTEGER NOT NULL, peak_height REAL, peak_height_err REAL, onset_ns REAL,
    onset_err REAL, peak_time_ns REAL, area REAL, chi2 REAL, dof INTEGER, status TEXT, error TEXT,
    PRIMARY KEY (run, id));
CREATE TABLE IF NOT EXISTS showers (
    run INTEGER NOT NULL, id INTEGER NOT NULL, utc_ns INTEGER NOT NULL, detectors INTEGER NOT NULL,
    zenith REAL, zenith_err REAL, azimuth REAL, azimuth_err REAL, unphysical INTEGER, error TEXT,
    PRIMARY KEY (run, id));
CREATE TABLE IF NOT EXISTS shower_pulses (
    run INTEGER NOT NULL, shower_id INTEGER NOT NULL, pulse_id INTEGER NOT NULL);
";

/// The body of the archive's blocking thread.
///
/// # Examples
///
/// ```
/// use axon::threaded::Threaded;
/// use components::cosmici::archive::{ArchiveBody, RunArchive};
/// use components::cosmici::reconstruct::Record;
///
/// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-body.db", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let component: Threaded<Record, (), ArchiveBody> = RunArchive::open(&path)?.into_component();
/// # drop(component);
/// # for end in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
/// # }
/// # Ok::<(), rusqlite::Error>(())
/// ```
pub type ArchiveBody =
    Box<dyn FnOnce(BlockingContext<Record, ()>) -> Result<(), BoxError> + Send + 'static>;

/// Counters of a [`RunArchive`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), rusqlite::Error> {
/// use components::cosmici::archive::RunArchive;
///
/// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
/// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
/// #     components::cosmici::timing::TimedPulse {
/// #         node,
/// #         pulse: line.parse().unwrap(),
/// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
/// #         levels: vec![0.2, 0.299, 0.447],
/// #         clock_period_ns: 2.0,
/// #     }
/// # }
/// # fn record(id: u64) -> components::cosmici::reconstruct::Record {
/// #     let r = components::cosmici::reconstruct::PulseReconstructor::new(
/// #         Default::default(), Default::default(), Default::default()).unwrap();
/// #     components::cosmici::reconstruct::Record::Pulse(Box::new(r.reconstruct(id, timed(1, 1))))
/// # }
/// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-stats.db", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let archive = RunArchive::open(&path)?;
/// let stats = archive.stats();
/// let mut h = axon::testing::Harness::new(archive.into_component());
/// h.send(record(1)).await;
/// h.finish().await;
/// h.exit().await;
/// assert_eq!((stats.pulses(), stats.showers()), (1, 0));
/// # for end in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
/// # }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ArchiveStats {
    inner: Arc<[AtomicU64; 2]>,
}

impl ArchiveStats {
    /// Pulses stored (committed or about to be).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), rusqlite::Error> {
    /// use components::cosmici::archive::RunArchive;
    ///
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// # fn record(id: u64) -> components::cosmici::reconstruct::Record {
    /// #     let r = components::cosmici::reconstruct::PulseReconstructor::new(
    /// #         Default::default(), Default::default(), Default::default()).unwrap();
    /// #     components::cosmici::reconstruct::Record::Pulse(Box::new(r.reconstruct(id, timed(1, 1))))
    /// # }
    /// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-pulses.db", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let archive = RunArchive::open(&path)?;
    /// let stats = archive.stats();
    /// let mut h = axon::testing::Harness::new(archive.into_component());
    /// for id in 1..=3 {
    ///     h.send(record(id)).await;
    /// }
    /// h.finish().await;
    /// h.exit().await;
    /// assert_eq!(stats.pulses(), 3);
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok(()) }
    /// ```
    pub fn pulses(&self) -> u64 {
        self.inner[0].load(Ordering::Relaxed)
    }
    /// Showers stored.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), rusqlite::Error> {
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::archive::RunArchive;
    /// use components::cosmici::reconstruct::{Record, ShowerRecord};
    /// use components::physics::error::AngleError;
    ///
    /// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-showers.db", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let archive = RunArchive::open(&path)?;
    /// let stats = archive.stats();
    /// let mut h = axon::testing::Harness::new(archive.into_component());
    /// let shower = ShowerRecord {
    ///     id: 1,
    ///     utc: UtcNanos::from_unix_seconds(1_700_000_000),
    ///     pulse_ids: vec![1, 2],
    ///     hits: vec![(0, 0.0), (1, 3.5)],
    ///     direction: Err(AngleError::TooFewHits(2)),
    /// };
    /// h.send(Record::Shower(Box::new(shower))).await;
    /// h.finish().await;
    /// h.exit().await;
    /// assert_eq!(stats.showers(), 1);
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok(()) }
    /// ```
    pub fn showers(&self) -> u64 {
        self.inner[1].load(Ordering::Relaxed)
    }
}

/// Writes [`Record`]s to an SQLite file, on a blocking thread, in transactions of up
/// to 256 records committed at least every 250 ms while records arrive, and at the
/// end.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`Record`] | pulses and showers |
/// | `outbox` | out | `()` | unused |
/// | `control` / `signal` | | `Control` | lifecycle; what was received is committed before it ends |
///
/// # Examples
///
/// ```no_run
/// use components::cosmici::archive::RunArchive;
///
/// let archive = RunArchive::open("sensornet.db")?;
/// let stats = archive.stats();
/// let component = archive.into_component();
/// # let _ = (stats, component);
/// # Ok::<(), rusqlite::Error>(())
/// ```
#[derive(Debug)]
pub struct RunArchive {
    conn: Connection,
    run: i64,
    stats: ArchiveStats,
}

impl RunArchive {
    /// Opens (or creates) the file at `path` and its tables.
    ///
    /// # Errors
    ///
    /// The SQLite error if the file cannot be opened or the schema made.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::archive::RunArchive;
    ///
    /// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-open.db", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// // Every opening of the file is a new run.
    /// assert_eq!(RunArchive::open(&path)?.run(), 1);
    /// assert_eq!(RunArchive::open(&path)?.run(), 2);
    /// assert!(RunArchive::open("/nonexistent-dir/sensornet.db").is_err());
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok::<(), rusqlite::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT INTO runs (opened_utc_ns) VALUES (?1)",
            params![super::lines::utc_now().0],
        )?;
        let run = conn.last_insert_rowid();
        Ok(Self {
            conn,
            run,
            stats: ArchiveStats::default(),
        })
    }

    /// The run number the records go under.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::archive::RunArchive;
    ///
    /// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-run.db", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let first = RunArchive::open(&path)?;
    /// let second = RunArchive::open(&path)?;
    /// assert_eq!(second.run(), first.run() + 1);
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok::<(), rusqlite::Error>(())
    /// ```
    pub fn run(&self) -> i64 {
        self.run
    }

    /// Its counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::archive::RunArchive;
    ///
    /// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-statsfn.db", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let archive = RunArchive::open(&path)?;
    /// // Keep the counters: the archive itself is consumed by `into_component`.
    /// let stats = archive.stats();
    /// let _component = archive.into_component();
    /// assert_eq!(stats.pulses(), 0);
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok::<(), rusqlite::Error>(())
    /// ```
    pub fn stats(&self) -> ArchiveStats {
        self.stats.clone()
    }

    /// The component writing records.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), rusqlite::Error> {
    /// use components::cosmici::archive::{RunArchive, read_back};
    ///
    /// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
    /// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
    /// #     components::cosmici::timing::TimedPulse {
    /// #         node,
    /// #         pulse: line.parse().unwrap(),
    /// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
    /// #         levels: vec![0.2, 0.299, 0.447],
    /// #         clock_period_ns: 2.0,
    /// #     }
    /// # }
    /// # fn record(id: u64) -> components::cosmici::reconstruct::Record {
    /// #     let r = components::cosmici::reconstruct::PulseReconstructor::new(
    /// #         Default::default(), Default::default(), Default::default()).unwrap();
    /// #     components::cosmici::reconstruct::Record::Pulse(Box::new(r.reconstruct(id, timed(1, 1))))
    /// # }
    /// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-component.db", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut h = axon::testing::Harness::new(RunArchive::open(&path)?.into_component());
    /// h.send(record(1)).await;
    /// // Everything received is committed before the component ends.
    /// h.finish().await;
    /// h.exit().await;
    /// let (pulses, showers) = read_back(&path)?;
    /// assert_eq!((pulses.len(), showers.len()), (1, 0));
    /// # for end in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    /// # }
    /// # Ok(()) }
    /// ```
    pub fn into_component(self) -> Threaded<Record, (), ArchiveBody> {
        let body: ArchiveBody = Box::new(move |mut ctx: BlockingContext<Record, ()>| {
            let (mut conn, run) = (self.conn, self.run);
            let mut pending: Vec<Record> = Vec::with_capacity(BATCH);
            let mut since = Instant::now();
            while let Some(record) = ctx.recv() {
                pending.push(record);
                if pending.len() >= BATCH || since.elapsed() >= COMMIT_EVERY {
                    write(&mut conn, run, &mut pending, &self.stats)?;
                    since = Instant::now();
                }
            }
            write(&mut conn, run, &mut pending, &self.stats)?;
            Ok(())
        });
        threaded("RunArchive", body)
    }
}

fn write(
    conn: &mut Connection,
    run: i64,
    pending: &mut Vec<Record>,
    stats: &ArchiveStats,
) -> Result<(), rusqlite::Error> {
    if pending.is_empty() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for record in pending.drain(..) {
        match record {
            Record::Pulse(p) => {
                insert_pulse(&tx, run, &p)?;
                stats.inner[0].fetch_add(1, Ordering::Relaxed);
            }
            Record::Shower(s) => {
                insert_shower(&tx, run, &s)?;
                stats.inner[1].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    tx.commit()
}

fn insert_pulse(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    p: &ReconstructedPulse,
) -> Result<(), rusqlite::Error> {
    let fit = p.fit.as_ref().ok();
    tx.prepare_cached(
        "INSERT INTO pulses (id, node, ch, detector, pulse_num, utc_ns, levels, onset_utc_ns,
         peak_height, peak_height_err, onset_ns, onset_err, peak_time_ns, area, chi2, dof, status, error, run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
        i64::try_from(p.id).unwrap_or(i64::MAX),
        p.timed.node,
        p.timed.pulse.ch,
        p.detector.and_then(|d| i64::try_from(d).ok()),
        p.timed.pulse.pulse_num,
        p.timed.utc.0,
        i64::try_from(p.crossings.levels.len()).unwrap_or(0),
        p.onset_utc().0,
        fit.map(|f| f.peak_height.value),
        fit.map(|f| f.peak_height.error),
        fit.map(|f| f.onset.value),
        fit.map(|f| f.onset.error),
        fit.map(|f| f.peak_time.value),
        fit.map(|f| f.area.value),
        fit.map(|f| f.chi2),
        fit.and_then(|f| i64::try_from(f.dof).ok()),
        fit.map(|f| format!("{:?}", f.status)),
        p.fit.as_ref().err().map(ToString::to_string),
        run,
    ])?;
    Ok(())
}

fn insert_shower(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    s: &ShowerRecord,
) -> Result<(), rusqlite::Error> {
    let d = s.direction.as_ref().ok();
    tx.prepare_cached(
        "INSERT INTO showers (id, utc_ns, detectors, zenith, zenith_err, azimuth, azimuth_err, unphysical, error, run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        i64::try_from(s.id).unwrap_or(i64::MAX),
        s.utc.0,
        i64::try_from(s.hits.len()).unwrap_or(0),
        d.map(|d| d.zenith.value),
        d.map(|d| d.zenith.error),
        d.map(|d| d.azimuth.value),
        d.map(|d| d.azimuth.error),
        d.map(|d| d.unphysical),
        s.direction.as_ref().err().map(ToString::to_string),
        run,
    ])?;
    let mut link = tx.prepare_cached(
        "INSERT INTO shower_pulses (shower_id, pulse_id, run) VALUES (?1, ?2, ?3)",
    )?;
    for &pulse in &s.pulse_ids {
        link.execute(params![
            i64::try_from(s.id).unwrap_or(i64::MAX),
            i64::try_from(pulse).unwrap_or(i64::MAX),
            run
        ])?;
    }
    Ok(())
}

/// A stored pulse, as read back.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), rusqlite::Error> {
/// use components::cosmici::archive::{RunArchive, read_back};
///
/// # fn timed(node: u32, ch: u8) -> components::cosmici::timing::TimedPulse {
/// #     let line = format!("CON_PULSE,1,0,{ch},1,500,2,(0,(2,2),5)");
/// #     components::cosmici::timing::TimedPulse {
/// #         node,
/// #         pulse: line.parse().unwrap(),
/// #         utc: components::cosmici::UtcNanos::from_unix_seconds(1_700_000_000),
/// #         levels: vec![0.2, 0.299, 0.447],
/// #         clock_period_ns: 2.0,
/// #     }
/// # }
/// # fn record(id: u64) -> components::cosmici::reconstruct::Record {
/// #     let r = components::cosmici::reconstruct::PulseReconstructor::new(
/// #         Default::default(), Default::default(), Default::default()).unwrap();
/// #     components::cosmici::reconstruct::Record::Pulse(Box::new(r.reconstruct(id, timed(1, 1))))
/// # }
/// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-stored-pulse.db", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut h = axon::testing::Harness::new(RunArchive::open(&path)?.into_component());
/// h.send(record(1)).await;
/// h.finish().await;
/// h.exit().await;
/// let (pulses, _) = read_back(&path)?;
/// let p = &pulses[0];
/// assert_eq!((p.node, p.ch, p.pulse_num), (1, 1, 1));
/// assert_eq!(p.utc_ns, 1_700_000_000_000_000_000);
/// assert!(p.peak_height.is_some());
/// # for end in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
/// # }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPulse {
    /// FEDM node.
    pub node: u32,
    /// Channel.
    pub ch: u8,
    /// Pulse number on its channel.
    pub pulse_num: u32,
    /// UTC of the first rising edge, ns.
    pub utc_ns: i64,
    /// UTC of the fitted onset, ns.
    pub onset_utc_ns: i64,
    /// Fitted peak height, V.
    pub peak_height: Option<f64>,
}

/// A stored shower, as read back.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), rusqlite::Error> {
/// use components::cosmici::UtcNanos;
/// use components::cosmici::archive::{RunArchive, read_back};
/// use components::cosmici::reconstruct::{Record, ShowerRecord};
/// use components::physics::error::AngleError;
///
/// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-stored-shower.db", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut h = axon::testing::Harness::new(RunArchive::open(&path)?.into_component());
/// let shower = ShowerRecord {
///     id: 1,
///     utc: UtcNanos(1_700_000_000_000_000_000),
///     pulse_ids: vec![1, 2],
///     hits: vec![(0, 0.0), (1, 3.5)],
///     direction: Err(AngleError::TooFewHits(2)),
/// };
/// h.send(Record::Shower(Box::new(shower))).await;
/// h.finish().await;
/// h.exit().await;
/// let (_, showers) = read_back(&path)?;
/// assert_eq!(showers[0].detectors, 2);
/// assert_eq!((showers[0].zenith, showers[0].azimuth), (None, None)); // no direction
/// # for end in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
/// # }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredShower {
    /// UTC of its earliest pulse, ns.
    pub utc_ns: i64,
    /// Detectors hit.
    pub detectors: u32,
    /// Zenith angle, rad, if found.
    pub zenith: Option<f64>,
    /// Azimuth, rad, if found.
    pub azimuth: Option<f64>,
}

/// Reads the stored pulses and showers of the latest run in the file at `path`.
///
/// # Errors
///
/// The SQLite error if the file or its tables cannot be read.
///
/// # Examples
///
/// ```no_run
/// let (pulses, showers) = components::cosmici::archive::read_back("sensornet.db")?;
/// println!("{} pulses, {} showers", pulses.len(), showers.len());
/// # Ok::<(), rusqlite::Error>(())
/// ```
pub fn read_back(
    path: impl AsRef<Path>,
) -> Result<(Vec<StoredPulse>, Vec<StoredShower>), rusqlite::Error> {
    let conn = Connection::open(path)?;
    let run: i64 = conn.query_row("SELECT COALESCE(MAX(run), 0) FROM runs", [], |r| r.get(0))?;
    let pulses = conn
        .prepare(
            "SELECT node, ch, pulse_num, utc_ns, onset_utc_ns, peak_height FROM pulses
             WHERE run = ?1 ORDER BY id",
        )?
        .query_map([run], |r| {
            Ok(StoredPulse {
                node: r.get(0)?,
                ch: r.get(1)?,
                pulse_num: r.get(2)?,
                utc_ns: r.get(3)?,
                onset_utc_ns: r.get(4)?,
                peak_height: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let showers = conn
        .prepare(
            "SELECT utc_ns, detectors, zenith, azimuth FROM showers WHERE run = ?1 ORDER BY id",
        )?
        .query_map([run], |r| {
            Ok(StoredShower {
                utc_ns: r.get(0)?,
                detectors: r.get(1)?,
                zenith: r.get(2)?,
                azimuth: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((pulses, showers))
}
