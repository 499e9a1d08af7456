//! Writes pulses to a SQLite store through the `StoreWriter` component as fast as it
//! can and prints the id of every record on its own line as soon as its batch is
//! acknowledged (committed). `tests/store_kill.rs` kills it mid-run with SIGKILL and
//! checks that every printed id is in the database.
//!
//! ```text
//! store_writer DB_PATH [RECORDS]
//! ```

use std::io::Write;

use axon::{Control, Runtime};
use components::physics::fit::{Crossings, LevelCrossing};
use components::store::{Durability, Record, Store, StoreAck, StoreWriter, StoredPulse};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: store_writer DB_PATH [RECORDS]")?;
    let records: u64 = match args.next() {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let store = Store::open(&path, Durability::Process)?;
    let rt = Runtime::new();
    let writer = rt.add(StoreWriter::new(store).max_batch(256))?;
    let mut ext = rt.external("store_writer");
    let (to, mut out) = ext.add_outbox::<Record>("records")?;
    let (end_ref, mut end) = ext.add_outbox::<Control>("end")?;
    let (from, mut acks) = ext.add_inbox::<StoreAck>("acks", 64)?;
    let (signal_ref, mut signal) = ext.add_inbox::<Control>("signal", 4)?;
    rt.link(to, writer.inbox())?;
    rt.link(end_ref, writer.control())?;
    rt.link(writer.outbox(), from)?;
    rt.link(writer.signal(), signal_ref)?;
    let handle = writer.start();

    let produce = async move {
        for id in 0..records {
            let t = 100.0 + 2.0 * (id % 7) as f64;
            let pulse = StoredPulse {
                id,
                detector: Some((id % 4) as u32),
                crossings: Crossings {
                    levels: vec![LevelCrossing {
                        level: 0.2,
                        rise: t,
                        fall: t + 4.0,
                    }],
                    next_level: Some(0.3),
                },
            };
            out.send(Record::Pulse(pulse)).await?;
        }
        end.send(Control::ProducerFinished).await?;
        Ok::<(), BoxError>(())
    };
    let report = async move {
        let mut stdout = std::io::stdout().lock();
        let mut print = |ack: StoreAck| -> std::io::Result<()> {
            for key in ack.keys {
                writeln!(stdout, "{}", key.id)?;
            }
            stdout.flush()
        };
        loop {
            tokio::select! {
                biased;
                ack = acks.recv() => match ack {
                    Some(ack) => print(ack)?,
                    None => break,
                },
                _ = signal.recv() => {
                    while let Ok(ack) = acks.try_recv() {
                        print(ack)?;
                    }
                    break;
                }
            }
        }
        Ok::<(), BoxError>(())
    };
    let (produced, reported) = tokio::join!(produce, report);
    produced?;
    reported?;
    let exit = handle.join().await;
    if !exit.is_clean() {
        return Err(format!("store writer ended with {exit}").into());
    }
    Ok(())
}
