//! Limits: maximum connections and the idle timeout.

mod tcp_support;

use std::time::Duration;

use axon::Runtime;
use chassis::tcp::{Echo, ServerConfig, ServerCore};
use tcp_support::{bounded, read_until_closed, round_trip, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn sockets_beyond_max_connections_are_closed_at_once_and_counted() {
    let rt = Runtime::new();
    let config = ServerConfig::default().max_connections(3);
    let server = ServerCore::new(config, |_| Echo).unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let handle = rt.spawn(server).unwrap();

    let mut open = Vec::new();
    for i in 0..3u8 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert_eq!(round_trip(&mut c, &[i]).await, [i]);
        open.push(c);
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra.write_all(b"anyone?").await;
    assert!(read_until_closed(&mut extra).await.is_empty());
    assert_eq!(stats.rejected(), 1);
    assert_eq!(stats.live(), 3);

    // The others are untouched, and a slot frees when one closes.
    assert_eq!(round_trip(&mut open[0], b"still").await, b"still");
    drop(open.pop());
    wait_for(
        &rt,
        &stats,
        "the closed connection to free its slot",
        || stats.live() == 2,
    )
    .await;
    let mut next = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut next, b"in").await, b"in");
    assert_eq!(stats.rejected(), 1);

    handle.shutdown().await.unwrap();
    bounded("server end", handle.join()).await;
    assert_eq!(stats.report().unwrap().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_after_the_timeout_and_a_busy_one_is_not() {
    let rt = Runtime::new();
    let idle = Duration::from_secs(30);
    let config = ServerConfig::default().idle_timeout(Some(idle));
    let server = ServerCore::new(config, |_| Echo).unwrap();
    let addr = server.local_addr();
    let handle = rt.spawn(server).unwrap();

    let mut quiet = TcpStream::connect(addr).await.unwrap();
    let mut busy = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut quiet, b"hi").await, b"hi");
    assert_eq!(round_trip(&mut busy, b"hi").await, b"hi");
    let start = tokio::time::Instant::now();

    // The busy client talks every 20 s of (paused) time: never 30 s of silence.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(round_trip(&mut busy, b"tick").await, b"tick");
    }
    assert!(start.elapsed() >= Duration::from_secs(80));

    // The quiet one was closed once 30 s had passed without traffic.
    let mut buf = [0u8; 1];
    assert_eq!(quiet.read(&mut buf).await.unwrap_or(0), 0);

    // And the busy one closes 30 s after its last word.
    let last_word = tokio::time::Instant::now();
    assert_eq!(busy.read(&mut buf).await.unwrap_or(0), 0);
    let silent = last_word.elapsed();
    assert!(
        silent >= idle && silent < idle + Duration::from_secs(1),
        "{silent:?}"
    );

    handle.shutdown().await.unwrap();
    handle.join().await;
}

// The connections of one server share one idle timer: each still closes after its
// own silence, one that closes early leaves the others' clocks alone, and a
// connection that arrives after all the others have gone gets a timer again.
#[tokio::test(start_paused = true)]
async fn idle_connections_each_close_after_their_own_silence() {
    let rt = Runtime::new();
    let idle = Duration::from_secs(30);
    let config = ServerConfig::default().idle_timeout(Some(idle));
    let server = ServerCore::new(config, |_| Echo).unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let handle = rt.spawn(server).unwrap();

    let mut early = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut early, b"first").await, b"first");
    let mut quiet = Vec::new();
    for i in 0..3u8 {
        tokio::time::sleep(Duration::from_secs(7)).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert_eq!(round_trip(&mut c, &[i]).await, [i]);
        quiet.push((c, tokio::time::Instant::now()));
        if i == 0 {
            // Closed by the client well before its deadline.
            drop(std::mem::replace(
                &mut early,
                TcpStream::connect(addr).await.unwrap(),
            ));
        }
    }
    // `early` now holds a connection that never says anything.
    let opened = tokio::time::Instant::now();
    for (c, last_word) in &mut quiet {
        closed_after_silence(c, *last_word, idle).await;
    }
    closed_after_silence(&mut early, opened, idle).await;
    wait_for(&rt, &stats, "every connection to close", || {
        stats.live() == 0
    })
    .await;

    // Every timer has gone; a new connection starts one again.
    tokio::time::sleep(Duration::from_secs(100)).await;
    let mut late = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut late, b"late").await, b"late");
    closed_after_silence(&mut late, tokio::time::Instant::now(), idle).await;

    handle.shutdown().await.unwrap();
    handle.join().await;
}

/// Wait for the server to close `c`, which has said nothing since `since`, and check
/// that it did so once `idle` of silence had passed (within a second of paused time).
async fn closed_after_silence(c: &mut TcpStream, since: tokio::time::Instant, idle: Duration) {
    assert_eq!(silent_until_closed(c).await, 0);
    let silent = since.elapsed();
    assert!(
        silent >= idle && silent < idle + Duration::from_secs(1),
        "{silent:?}"
    );
}

/// Wait (as long as it takes) for the server to close a connection that sends
/// nothing; what it read first (should be nothing).
async fn silent_until_closed(c: &mut TcpStream) -> usize {
    let mut buf = [0u8; 16];
    c.read(&mut buf).await.unwrap_or(0)
}
