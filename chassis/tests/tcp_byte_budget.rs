//! A client that asks for large replies and never reads them slows its handler: the
//! server's memory is bounded in bytes, not in messages.

mod tcp_support;

use std::time::Duration;

use axon::{Bytes, Context, Runtime, component::from_fn};
use chassis::tcp::{ServerConfig, ServerCore};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A request is 5 bytes; each is answered with this many.
const REPLY: usize = 1024 * 1024;
const REQUESTS: usize = 200;
const CLIENTS: usize = 3;
/// The bound on resident growth per never-reading connection.
const PER_CONNECTION: u64 = 8 * 1024 * 1024;

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn amplifier() -> impl axon::Component<In = Bytes, Out = Bytes> {
    from_fn("amplifier", |mut ctx: Context<Bytes, Bytes>| async move {
        let mut pending = 0usize;
        while let Some(chunk) = ctx.recv().await {
            pending += chunk.len();
            while pending >= 5 {
                pending -= 5;
                // A fresh, touched megabyte per reply: what the server would hold.
                ctx.send(Bytes::from(vec![b'x'; REPLY])).await?;
            }
        }
        Ok(())
    })
}

/// Runs the never-reading clients against a server with `config`; returns the
/// resident growth once every connection is stalled, and the deepest data inbox (depth,
/// capacity).
async fn stall(config: ServerConfig) -> (u64, (usize, usize)) {
    let rt = Runtime::new();
    let server = ServerCore::new(config, |_| amplifier()).unwrap();
    let addr = server.local_addr();
    let handle = rt.spawn(server).unwrap();
    let before = resident_bytes().expect("/proc/self/statm");

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&b"GET!\n".repeat(REQUESTS)).await.unwrap();
        clients.push(c); // never read
    }
    // Stalled: every handler has stopped sending. On the paused clock each sample is
    // taken when everything is waiting; three equal samples in a row mean nothing moves.
    let sent = || {
        let snap = rt.snapshot();
        let handlers: Vec<u64> = snap
            .components
            .iter()
            .filter(|c| c.name == "amplifier")
            .flat_map(|c| {
                c.boxes
                    .iter()
                    .filter(|b| b.name == "outbox")
                    .map(|b| b.sent)
            })
            .collect();
        let deepest = snap
            .components
            .iter()
            .flat_map(|c| c.boxes.iter())
            .filter(|b| b.name == "inbox" && b.message_type.contains("Bytes"))
            .map(|b| (b.depth, b.capacity.unwrap_or(0)))
            .max()
            .unwrap_or((0, 0));
        (handlers, deepest)
    };
    let mut last = (Vec::new(), (0, 0));
    let mut still = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = sent();
        if now == last && now.0.len() == CLIENTS {
            still += 1;
            if still >= 3 {
                break;
            }
        } else {
            still = 0;
        }
        last = now;
    }
    assert!(still >= 3, "the handlers never stalled: {last:?}");
    assert!(
        last.0.iter().all(|&n| (n as usize) < REQUESTS),
        "a handler sent every reply to a client that never reads: {last:?}"
    );
    let grown = resident_bytes().unwrap().saturating_sub(before);
    drop(clients);
    handle.shutdown().await.unwrap();
    tcp_support::bounded("server end", handle.join()).await;
    (grown, last.1)
}

// One test, so that nothing else in this process allocates while resident memory is
// measured; the contrast without a budget runs after the measurement.
#[tokio::test(start_paused = true)]
async fn never_reading_clients_hold_a_few_megabytes_each_not_their_replies() {
    let (grown, deepest) = stall(ServerConfig::default()).await;
    assert!(
        grown < PER_CONNECTION * CLIENTS as u64,
        "resident memory grew by {} MiB for {CLIENTS} never-reading clients",
        grown >> 20
    );
    // The adapter's inbox holds at most one megabyte reply (the budget is 256 KiB; one
    // larger message is let into an empty inbox).
    assert!(
        deepest.0 <= 1,
        "an inbox held {} replies of 1 MiB",
        deepest.0
    );

    // What the budget bounds: counted in messages only, an adapter's inbox fills to its
    // capacity with replies of 1 MiB.
    let (_, (depth, capacity)) = stall(ServerConfig::default().buffer_budget(None)).await;
    assert_eq!(
        depth, capacity,
        "without a budget the inbox is full by count"
    );
}
