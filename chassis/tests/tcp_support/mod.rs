//! Helpers shared by the `tcp_*` tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use axon::Runtime;
use chassis::tcp::ServerStats;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any single wait in these tests may take.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Wait until `cond` holds, re-checking it after every change to the graph (a
/// component added, started or ended, a link made or removed) and to the server's
/// counters. Panics after [`LIMIT`].
pub async fn wait_for(
    rt: &Runtime,
    stats: &ServerStats,
    what: &str,
    mut cond: impl FnMut() -> bool,
) {
    let mut events = rt.subscribe();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        if cond() {
            return;
        }
        let mut registered = false;
        // The first check registers for the next change; the next one reports it.
        let next_change = stats.wait_for(|_| std::mem::replace(&mut registered, true));
        // Any graph event, lag notice or counter change is a reason to look again.
        tokio::select! {
            _ = events.recv() => {}
            () = next_change => {}
            () = tokio::time::sleep_until(deadline) => {
                assert!(cond(), "timed out waiting for {what}");
                return;
            }
        }
    }
}

/// Run `fut`, panicking if it takes longer than [`LIMIT`].
pub async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Send `msg` and read the same number of bytes back.
pub async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    stream.write_all(msg).await.expect("write");
    let mut back = vec![0u8; msg.len()];
    bounded("echo reply", stream.read_exact(&mut back))
        .await
        .expect("read");
    back
}

/// Read until the peer closes (or resets); returns what was read.
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match bounded("the peer to close", stream.read(&mut buf)).await {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// The names of the live components.
pub fn names(rt: &Runtime) -> Vec<String> {
    rt.snapshot()
        .components
        .into_iter()
        .map(|c| c.name)
        .collect()
}
