//! [`StoreWriter`]: the component that writes records in batched transactions and
//! acknowledges each batch after it has committed.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axon::threaded::{BlockingContext, threaded};
use axon::{BoxError, Component, Context, LinkError, Setup};
use serde::{Deserialize, Serialize};

use super::{Record, RecordKey, Store};

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
/// [durability](super#durability)). A write that fails ends the component with
/// [`Exit::Failed`](axon::Exit::Failed) and the error; that batch is not acknowledged.
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
        }
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
            mut store,
            max_batch,
            stats,
        } = self;
        let body = move |mut ctx: BlockingContext<Record, StoreAck>| {
            let mut batch = Vec::with_capacity(max_batch);
            let mut batches = 0;
            while let Some(first) = ctx.recv() {
                batch.clear();
                batch.push(first);
                while batch.len() < max_batch {
                    match ctx.ctx.inbox.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                let keys = store.write(&batch)?;
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

#[cfg(test)]
mod tests {
    use axon::Exit;
    use axon::testing::Harness;

    use super::*;
    use crate::physics::fit::Crossings;
    use crate::store::{RecordKind, StoredPulse};

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
