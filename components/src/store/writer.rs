//! [`StoreWriter`]: the component that writes records in batched transactions and
//! acknowledges each batch after it has committed.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axon::threaded::{BlockingContext, threaded};
use axon::{BoxError, Component, Context, LinkError, Setup};
use serde::{Deserialize, Serialize};

use super::{Durability, Record, RecordKey, Store, StoreError};

/// Acknowledgement of one committed batch: every record in it is durable.
///
/// # Examples
///
/// ```
/// use components::store::{RecordKey, RecordKind, StoreAck};
///
/// let ack = StoreAck { batch: 1, keys: vec![RecordKey { kind: RecordKind::Pulse, id: 4 }] };
/// assert_eq!(ack.keys.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreAck {
    /// Batch number, from 1.
    pub batch: u64,
    /// The records of the batch, in the order they arrived.
    pub keys: Vec<RecordKey>,
}

/// Writes [`Record`]s to a [`Store`] in batched transactions, on a blocking thread.
///
/// # What it does
///
/// Takes the next record and whatever else is already queued (up to
/// [`max_batch`](Self::max_batch)), writes them in one transaction, and only after
/// `COMMIT` has returned sends a [`StoreAck`] with their keys. A record whose key has
/// been acknowledged survives the process being killed (see the store's
/// [durability](super#durability)).
///
/// # When the database fails
///
/// Records are never discarded. A write that fails is logged at ERROR and recorded in
/// [`StoreStats::error`] (the sensornet shows it on its status line and in its
/// summary); then, if a [fallback](Self::fallback) file is set, the writer opens it as
/// a store of the same schema (a run of program `spill`), writes the failed batch
/// there and every record after it, and goes on acknowledging
/// ([`StoreStats::spill_path`], [`StoreStats::spilled`]). Without a fallback, or if
/// the fallback fails too, the component ends with [`Exit::Failed`](axon::Exit::Failed)
/// naming both errors ([`StoreStats::stopped`]); that batch is not acknowledged, and
/// whatever feeds the writer stops with it rather than drop records.
///
/// # Quiet spells
///
/// A batch is committed as soon as the queue is empty, so a record never waits for
/// the next one. When no record has arrived for [`idle_checkpoint`](Self::idle_checkpoint)
/// (default 1 s) after a commit, the writer also checkpoints the write-ahead log into
/// the database file, so that the file alone (a copy, a reader that ignores `-wal`)
/// holds every committed record ([`StoreStats::checkpoints`]).
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`Record`] | pulses, fits and showers to store |
/// | `outbox` | [`StoreAck`] | one acknowledgement per committed batch (optional: unlinked, none are sent) |
/// | `control` / `signal` | [`Control`](axon::Control) | `ProducerFinished` writes what is queued, then ends; `Shutdown` ends after the batch in hand |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::physics::components::FittedPulse;
/// use components::physics::error::CrossingsError;
/// use components::store::{Record, Store, StoreWriter};
///
/// let mut h = Harness::new(StoreWriter::new(Store::open_in_memory()?));
/// h.send(Record::Fit(FittedPulse { id: 3, result: Err(CrossingsError::Empty) })).await;
/// let ack = h.recv().await.expect("acknowledged after commit");
/// assert_eq!(ack.keys[0].id, 3);
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// SQLite calls block, so the body runs on tokio's blocking pool. Batching costs no
/// latency: an idle writer commits a single record at once; under load the queue
/// fills while a transaction commits and the next batch takes all of it, so the
/// commit (and `fsync`) cost is shared by many records.
#[derive(Debug)]
pub struct StoreWriter {
    store: Store,
    max_batch: usize,
    stats: StoreStats,
    fallback: Option<(PathBuf, Durability)>,
    idle_checkpoint: Duration,
}

/// Committed records counted by a [`StoreWriter`]: a count rises only after the
/// transaction holding the record has committed.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::store::{Record, Store, StoredPulse, StoreWriter};
///
/// let writer = StoreWriter::new(Store::open_in_memory()?);
/// let stats = writer.stats();
/// let mut h = Harness::new(writer);
/// h.send(Record::Pulse(StoredPulse { id: 1, detector: None, crossings: Default::default() })).await;
/// h.recv().await.expect("acknowledged");
/// assert_eq!((stats.pulses(), stats.showers()), (1, 0));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    inner: Arc<[AtomicU64; 4]>,
    health: Arc<Health>,
}

#[derive(Debug, Default)]
struct Health {
    error: Mutex<Option<String>>,
    spill_path: Mutex<Option<PathBuf>>,
    spilled: AtomicU64,
    stopped: AtomicBool,
    checkpoints: AtomicU64,
}

impl StoreStats {
    /// Pulses committed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::store::StoreStats::default().pulses(), 0);
    /// ```
    pub fn pulses(&self) -> u64 {
        self.inner[0].load(Ordering::Relaxed)
    }

    /// Fits committed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::store::StoreStats::default().fits(), 0);
    /// ```
    pub fn fits(&self) -> u64 {
        self.inner[1].load(Ordering::Relaxed)
    }

    /// Showers (with their hits) committed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::store::StoreStats::default().showers(), 0);
    /// ```
    pub fn showers(&self) -> u64 {
        self.inner[2].load(Ordering::Relaxed)
    }

    /// Shower events (time, direction and sky position) committed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::store::StoreStats::default().events(), 0);
    /// ```
    pub fn events(&self) -> u64 {
        self.inner[3].load(Ordering::Relaxed)
    }

    /// The archive's failure, if it failed: what went wrong and what was done.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::store::StoreStats::default().error(), None);
    /// ```
    pub fn error(&self) -> Option<String> {
        self.health.error.lock().ok().and_then(|e| e.clone())
    }

    /// The fallback file records are spilled to, once the database failed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::store::StoreStats::default().spill_path(), None);
    /// ```
    pub fn spill_path(&self) -> Option<PathBuf> {
        self.health.spill_path.lock().ok().and_then(|p| p.clone())
    }

    /// Records committed to the fallback file (also counted in the per-kind counts).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::store::StoreStats::default().spilled(), 0);
    /// ```
    pub fn spilled(&self) -> u64 {
        self.health.spilled.load(Ordering::Relaxed)
    }

    /// Whether the writer stopped: the database failed and no fallback took the records.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!components::store::StoreStats::default().stopped());
    /// ```
    pub fn stopped(&self) -> bool {
        self.health.stopped.load(Ordering::Relaxed)
    }

    /// Checkpoints made after a quiet spell.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::store::StoreStats::default().checkpoints(), 0);
    /// ```
    pub fn checkpoints(&self) -> u64 {
        self.health.checkpoints.load(Ordering::Relaxed)
    }

    fn set_error(&self, error: String) {
        if let Ok(mut e) = self.health.error.lock() {
            *e = Some(error);
        }
    }

    fn count(&self, batch: &[Record]) {
        for r in batch {
            let i = match r {
                Record::Pulse(_) | Record::NodePulse(..) => 0,
                Record::Fit(_) => 1,
                Record::Shower(_) => 2,
                Record::Event(_) => 3,
                Record::Node(_) => continue,
            };
            self.inner[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl StoreWriter {
    /// A writer into `store`, at most 1024 records per transaction.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use axon::testing::Harness;
    /// use components::store::{Record, RecordKind, Store, StoredPulse, StoreWriter};
    ///
    /// let mut h = Harness::new(StoreWriter::new(Store::open_in_memory()?));
    /// let pulse = StoredPulse { id: 6, detector: None, crossings: Default::default() };
    /// h.send(Record::Pulse(pulse)).await;
    /// let ack = h.recv().await.expect("acknowledged after commit");
    /// assert_eq!(ack.batch, 1);
    /// assert_eq!((ack.keys[0].kind, ack.keys[0].id), (RecordKind::Pulse, 6));
    /// # Ok(()) }
    /// ```
    pub fn new(store: Store) -> Self {
        StoreWriter {
            store,
            max_batch: 1024,
            stats: StoreStats::default(),
            fallback: None,
            idle_checkpoint: Duration::from_secs(1),
        }
    }

    /// Where records go if the database fails (see [the type docs](Self)); the file is
    /// created only then.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Durability, Store, StoreWriter};
    /// let w = StoreWriter::new(Store::open_in_memory()?)
    ///     .fallback("sensornet.db.spill", Durability::Process);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn fallback(mut self, path: impl Into<PathBuf>, durability: Durability) -> Self {
        self.fallback = Some((path.into(), durability));
        self
    }

    /// Quiet time after a commit before the log is checkpointed into the file
    /// (default 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::store::{Store, StoreWriter};
    /// let w = StoreWriter::new(Store::open_in_memory()?).idle_checkpoint(Duration::from_millis(200));
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn idle_checkpoint(mut self, quiet: Duration) -> Self {
        self.idle_checkpoint = quiet;
        self
    }

    /// Its counters of committed records.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Store, StoreWriter};
    /// let w = StoreWriter::new(Store::open_in_memory()?);
    /// assert_eq!(w.stats().pulses(), 0);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn stats(&self) -> StoreStats {
        self.stats.clone()
    }

    /// At most `n` (at least 1) records per transaction.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::store::{Store, StoreWriter};
    /// let w = StoreWriter::new(Store::open_in_memory()?).max_batch(64);
    /// # Ok::<(), components::store::StoreError>(())
    /// ```
    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }
}

impl Component for StoreWriter {
    type In = Record;
    type Out = StoreAck;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("StoreWriter")
    }

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "pulses, fits and showers to store")?;
        setup.describe("outbox", "one acknowledgement per committed batch")
    }

    fn run(
        self,
        ctx: Context<Record, StoreAck>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let StoreWriter {
            store,
            max_batch,
            stats,
            fallback,
            idle_checkpoint,
        } = self;
        let body = move |mut ctx: BlockingContext<Record, StoreAck>| {
            let mut archive = Archive {
                store,
                fallback,
                spilling: false,
                stats: stats.clone(),
            };
            let mut batch = Vec::with_capacity(max_batch);
            let mut batches = 0;
            let mut dirty = false;
            loop {
                let first = if dirty {
                    match recv_within(&mut ctx, idle_checkpoint) {
                        Some(r) => r,
                        None => {
                            dirty = false;
                            archive.checkpoint();
                            continue;
                        }
                    }
                } else {
                    ctx.recv()
                };
                let Some(first) = first else { break };
                batch.clear();
                batch.push(first);
                while batch.len() < max_batch {
                    match ctx.ctx.inbox.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                let keys = archive.write(&batch)?;
                dirty = true;
                stats.count(&batch);
                batches += 1;
                if ctx.ctx.outbox.is_linked() {
                    // The records are stored whether or not anyone still listens.
                    let _ = ctx.send(StoreAck {
                        batch: batches,
                        keys,
                    });
                }
            }
            Ok(())
        };
        threaded("StoreWriter", body).run(ctx)
    }
}

/// The next record (`Some(None)`: the input ended), or `None` if none came within `quiet`.
fn recv_within(
    ctx: &mut BlockingContext<Record, StoreAck>,
    quiet: Duration,
) -> Option<Option<Record>> {
    let timed = tokio::time::timeout(quiet, ctx.ctx.recv());
    futures::executor::block_on(timed).ok()
}

/// The database, and the fallback it gives way to when it fails.
struct Archive {
    store: Store,
    fallback: Option<(PathBuf, Durability)>,
    spilling: bool,
    stats: StoreStats,
}

impl Archive {
    fn write(&mut self, batch: &[Record]) -> Result<Vec<RecordKey>, BoxError> {
        let failed = match self.store.write(batch) {
            Ok(keys) => {
                if self.spilling {
                    self.stats
                        .health
                        .spilled
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                return Ok(keys);
            }
            Err(e) => e,
        };
        let what = if self.spilling {
            "fallback archive"
        } else {
            "archive"
        };
        let path = self.store.path().to_owned();
        let stop = |stats: &StoreStats, reason: String| -> BoxError {
            tracing::error!("{reason}; the archive stops");
            stats.set_error(format!("{reason}; stopped"));
            stats.health.stopped.store(true, Ordering::Relaxed);
            reason.into()
        };
        let Some((spill, durability)) = self.fallback.take().filter(|_| !self.spilling) else {
            return Err(stop(
                &self.stats,
                format!("{what} {path} failed: {failed} (no fallback)"),
            ));
        };
        tracing::error!(
            "archive {path} failed: {failed}; spilling every record from now on to {}",
            spill.display()
        );
        self.stats.set_error(format!(
            "archive {path} failed: {failed}; spilling to {}",
            spill.display()
        ));
        let mut spill_store = match open_spill(&spill, durability) {
            Ok(s) => s,
            Err(e) => {
                return Err(stop(
                    &self.stats,
                    format!(
                        "archive {path} failed: {failed}, and the fallback {} failed: {e}",
                        spill.display()
                    ),
                ));
            }
        };
        if let Ok(mut p) = self.stats.health.spill_path.lock() {
            *p = Some(spill.clone());
        }
        match spill_store.write(batch) {
            Ok(keys) => {
                self.stats
                    .health
                    .spilled
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                self.store = spill_store;
                self.spilling = true;
                Ok(keys)
            }
            Err(e) => Err(stop(
                &self.stats,
                format!(
                    "archive {path} failed: {failed}, and the fallback {} failed: {e}",
                    spill.display()
                ),
            )),
        }
    }

    fn checkpoint(&self) {
        match self.store.checkpoint() {
            Ok(()) => {
                self.stats
                    .health
                    .checkpoints
                    .fetch_add(1, Ordering::Relaxed);
            }
            // Committed records stay in the log, which SQLite reads: nothing is lost.
            Err(e) => tracing::warn!("checkpoint of {} failed: {e}", self.store.path()),
        }
    }
}

fn open_spill(path: &Path, durability: Durability) -> Result<Store, StoreError> {
    let mut store = Store::open(path, durability)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    store.begin_run("spill", now, None)?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use axon::Exit;
    use axon::testing::Harness;

    use super::*;
    use crate::physics::fit::Crossings;
    use crate::store::{RecordKind, StoredPulse};

    fn pulse(id: u64) -> Record {
        Record::Pulse(StoredPulse {
            id,
            detector: None,
            crossings: Crossings::default(),
        })
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("axon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// Issue 13 item 13: a database damaged mid-run (a table dropped under the
    /// writer) is an error everyone can see, and every record from then on goes to
    /// the fallback file: none is discarded, every one is acknowledged.
    #[tokio::test]
    async fn a_failing_database_spills_to_the_fallback_and_says_so() {
        let dir = temp_dir("store-spill");
        let (db, spill) = (dir.join("main.db"), dir.join("main.spill.db"));
        let writer = StoreWriter::new(Store::open(&db, Durability::Process).expect("opens"))
            .fallback(&spill, Durability::Process);
        let stats = writer.stats();
        let mut h = Harness::new(writer);
        h.send(pulse(1)).await;
        assert_eq!(h.recv().await.expect("ack").keys[0].id, 1);
        assert_eq!(stats.error(), None);
        // Another process damages the database.
        rusqlite::Connection::open(&db)
            .expect("second connection")
            .execute_batch("DROP TABLE crossings;")
            .expect("dropped");
        for id in 2..=5 {
            h.send(pulse(id)).await;
        }
        let mut acked = Vec::new();
        while acked.len() < 4 {
            acked.extend(
                h.recv()
                    .await
                    .expect("still acknowledged")
                    .keys
                    .iter()
                    .map(|k| k.id),
            );
        }
        assert_eq!(acked, [2, 3, 4, 5]);
        let error = stats.error().expect("the failure is visible");
        assert!(
            error.contains("main.db") && error.contains("spilling to"),
            "{error}"
        );
        assert_eq!(stats.spill_path().as_deref(), Some(spill.as_path()));
        assert_eq!(
            (stats.pulses(), stats.spilled(), stats.stopped()),
            (5, 4, false)
        );
        h.finish().await;
        assert!(matches!(h.exit().await, Exit::Finished));
        let spilled = Store::open(&spill, Durability::Process).expect("the fallback opens");
        assert_eq!(spilled.ids(RecordKind::Pulse).expect("query"), [2, 3, 4, 5]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Issue 13 item 13: when the fallback fails as well, the writer stops with both
    /// reasons (it does not run on discarding records).
    #[tokio::test]
    async fn without_a_working_fallback_the_writer_stops_with_the_reason() {
        let dir = temp_dir("store-stop");
        let db = dir.join("main.db");
        let spill = dir.join("no-such-dir").join("spill.db");
        let writer = StoreWriter::new(Store::open(&db, Durability::Process).expect("opens"))
            .fallback(&spill, Durability::Process);
        let stats = writer.stats();
        let mut h = Harness::new(writer);
        rusqlite::Connection::open(&db)
            .expect("second connection")
            .execute_batch("DROP TABLE crossings;")
            .expect("dropped");
        h.send(pulse(1)).await;
        let exit = h.exit().await;
        let Exit::Failed(e) = &exit else {
            panic!("{exit}")
        };
        let e = e.to_string();
        assert!(e.contains("main.db") && e.contains("spill.db"), "{e}");
        assert!(stats.stopped());
        assert!(stats.error().is_some_and(|s| s.ends_with("stopped")));
        assert_eq!(stats.pulses(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Issue 13 item 14: after a quiet spell the committed records are in the database
    /// file itself, without waiting for another record or for shutdown.
    #[tokio::test]
    async fn a_quiet_writer_leaves_its_records_in_the_file_itself() {
        let dir = temp_dir("store-quiet");
        let db = dir.join("main.db");
        let writer = StoreWriter::new(Store::open(&db, Durability::Process).expect("opens"))
            .idle_checkpoint(Duration::from_millis(50));
        let stats = writer.stats();
        let mut h = Harness::new(writer);
        for id in 1..=48 {
            h.send(pulse(id)).await;
        }
        let mut acked = 0;
        while acked < 48 {
            acked += h.recv().await.expect("ack").keys.len();
        }
        // Bounded wait for the writer's own timer (50 ms of quiet).
        tokio::time::timeout(Duration::from_secs(10), async {
            while stats.checkpoints() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("a checkpoint after the quiet spell");
        // A copy of the file alone (no -wal beside it) holds every record.
        let copy = dir.join("copy.db");
        std::fs::copy(&db, &copy).expect("copied");
        let copied = Store::open(&copy, Durability::Process).expect("the copy opens");
        assert_eq!(copied.ids(RecordKind::Pulse).expect("query").len(), 48);
        drop(copied);
        h.finish().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn every_record_is_acknowledged_once_in_order_after_commit() {
        let dir = std::env::temp_dir().join(format!("axon-store-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("writer.sqlite");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path, super::super::Durability::Process).expect("opens");
        let mut h = Harness::new(StoreWriter::new(store).max_batch(7));
        for id in 0..100 {
            h.send(Record::Pulse(StoredPulse {
                id,
                detector: None,
                crossings: Crossings::default(),
            }))
            .await;
        }
        h.finish().await;
        let mut acked = Vec::new();
        while let Some(ack) = h.recv().await {
            assert!(ack.keys.len() <= 7);
            acked.extend(ack.keys.iter().map(|k| k.id));
        }
        assert_eq!(acked, (0..100).collect::<Vec<_>>());
        assert!(matches!(h.exit().await, Exit::Finished));
        let reopened = Store::open(&path, super::super::Durability::Process).expect("reopens");
        assert_eq!(reopened.ids(RecordKind::Pulse).expect("query"), acked);
        drop(reopened);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
