//! A panicking handler closes only its own connection.

mod tcp_support;

use axon::{Context, Runtime, component::from_fn};
use bytes::Bytes;
use chassis::tcp::ServerCore;
use tcp_support::{bounded, read_until_closed, round_trip, wait_for};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const CONNECTIONS: usize = 50;
const VICTIM: usize = 17;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_among_fifty_closes_only_its_connection() {
    let rt = Runtime::new();
    let server = ServerCore::bind("127.0.0.1:0", |_| {
        from_fn("fragile", |mut ctx: Context<Bytes, Bytes>| async move {
            while let Some(b) = ctx.recv().await {
                assert!(&b[..] != b"panic", "asked to panic");
                ctx.send(b).await?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let handle = rt.spawn(server).unwrap();
    let baseline = rt.live_components();

    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let msg = format!("hello {i}");
        assert_eq!(round_trip(&mut c, msg.as_bytes()).await, msg.as_bytes());
        clients.push(c);
    }
    assert_eq!(rt.live_components(), baseline + 2 * CONNECTIONS);

    clients[VICTIM].write_all(b"panic").await.unwrap();
    assert!(read_until_closed(&mut clients[VICTIM]).await.is_empty());
    wait_for(&rt, &stats, "the failed pair to be removed", || {
        rt.live_components() == baseline + 2 * (CONNECTIONS - 1) && stats.handler_failures() == 1
    })
    .await;
    assert_eq!(stats.handler_failures(), 1);

    for (i, c) in clients.iter_mut().enumerate() {
        if i != VICTIM {
            let msg = format!("still here {i}");
            assert_eq!(round_trip(c, msg.as_bytes()).await, msg.as_bytes());
        }
    }
    let mut late = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut late, b"new").await, b"new");

    handle.shutdown().await.unwrap();
    assert!(bounded("server end", handle.join()).await.is_clean());
    let report = stats.report().unwrap();
    assert_eq!(report.handler_failures, 1);
    assert_eq!(report.open_at_shutdown.len(), CONNECTIONS);
    assert!(report.forced.is_empty());
}
