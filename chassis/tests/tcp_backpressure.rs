//! A handler that does not read holds the client back; memory stays bounded.

mod tcp_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axon::{Context, Runtime, component::from_fn};
use bytes::Bytes;
use chassis::tcp::ServerCore;
use tcp_support::bounded;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const TOTAL: u64 = 64 * 1024 * 1024;
const WRITE: usize = 64 * 1024;
/// What the server may hold at most: the handler's inbox (its byte budget, 256 KiB by
/// default, or 64 chunks of at most 64 KiB without one)
/// and the adapter's one pending chunk, plus what the two kernels buffer (loopback
/// autotuning tops out at a few MiB each way). Far below the 64 MiB sent.
const BOUND: u64 = 24 * 1024 * 1024;

/// Full by count, or (with a byte budget) without room for another chunk as large as
/// the client writes.
fn is_full(b: &axon::introspect::BoxInfo) -> bool {
    b.capacity.is_some_and(|cap| b.depth >= cap)
        || b.bytes
            .zip(b.byte_budget)
            .is_some_and(|(used, limit)| used + WRITE > limit)
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

// On the paused clock: a sleep ends only when every task is waiting (the runtime
// advances time when it has nothing else to do), so each sample below is taken when the
// writer, the adapter and the handler have all done what they could.
#[tokio::test(start_paused = true)]
async fn a_handler_that_never_reads_holds_the_writer_back_until_it_reads() {
    let rt = Runtime::new();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let go = Arc::new(Mutex::new(Some(go_rx)));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<u64>();
    let done = Arc::new(Mutex::new(Some(done_tx)));
    let server = ServerCore::bind("127.0.0.1:0", move |_| {
        let go = go.lock().unwrap().take();
        let done = done.lock().unwrap().take();
        from_fn("sleepy", move |mut ctx: Context<Bytes, Bytes>| async move {
            if let Some(go) = go {
                let _ = go.await;
            }
            let mut n = 0u64;
            while n < TOTAL {
                match ctx.recv().await {
                    Some(b) => n += b.len() as u64,
                    None => break,
                }
            }
            if let Some(done) = done {
                let _ = done.send(n);
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let handle = rt.spawn(server).unwrap();

    let rss_before = resident_bytes();
    let written = Arc::new(AtomicU64::new(0));
    let progress = written.clone();
    let mut client = TcpStream::connect(addr).await.unwrap();
    let writer = tokio::spawn(async move {
        let chunk = vec![7u8; WRITE];
        while progress.load(Ordering::Relaxed) < TOTAL {
            client.write_all(&chunk).await?;
            progress.fetch_add(WRITE as u64, Ordering::Relaxed);
        }
        Ok::<_, std::io::Error>(client)
    });

    // Wait until the handler's inbox is full and the writer has stopped making
    // progress: three samples in a row, each taken once everything is waiting, with
    // nothing written in between. The bound is checked throughout.
    let handler_inbox_full = || {
        rt.snapshot()
            .components
            .iter()
            .any(|c| c.name == "sleepy" && c.boxes.iter().any(|b| b.name == "inbox" && is_full(b)))
    };
    let mut last = u64::MAX;
    let mut still = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = written.load(Ordering::Relaxed);
        assert!(
            now < BOUND,
            "the writer got {now} bytes in: no backpressure"
        );
        if now == last && handler_inbox_full() {
            still += 1;
            if still >= 3 {
                break;
            }
        } else {
            still = 0;
        }
        last = now;
    }
    assert!(still >= 3, "the writer never stalled");
    assert!(!writer.is_finished());
    if let (Some(before), Some(now)) = (rss_before, resident_bytes()) {
        let grown = now.saturating_sub(before);
        assert!(grown < BOUND, "resident memory grew by {grown} bytes");
    }

    // The handler starts reading: the writer is released and everything arrives.
    go_tx.send(()).unwrap();
    let client = bounded("the writer to finish", writer)
        .await
        .unwrap()
        .unwrap();
    let received = bounded("the handler to read it all", done_rx)
        .await
        .unwrap();
    assert_eq!(received, TOTAL);
    drop(client);

    handle.shutdown().await.unwrap();
    bounded("server end", handle.join()).await;
}
