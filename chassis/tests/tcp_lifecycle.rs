//! ServerCore lifecycle: socket close, handler finishing, server shutdown and drain.

mod tcp_support;

use std::time::Duration;

use axon::{Context, Control, Exit, Runtime, component::from_fn};
use bytes::Bytes;
use chassis::tcp::{Echo, ServerConfig, ServerCore, ShutdownReport};
use tcp_support::{bounded, names, read_until_closed, round_trip, wait_for};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_client_close_sends_socket_shutdown_and_removes_the_pair() {
    let rt = Runtime::new();
    let (tx, mut ended_by) = tokio::sync::mpsc::unbounded_channel();
    let server = ServerCore::bind("127.0.0.1:0", move |_| {
        let tx = tx.clone();
        from_fn("probe", move |mut ctx: Context<Bytes, Bytes>| async move {
            while let Some(b) = ctx.recv().await {
                let _ = ctx.send(b).await;
            }
            let _ = tx.send(ctx.ended_by());
            Ok(())
        })
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let handle = rt.spawn(server).unwrap();
    let baseline = rt.live_components();

    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut c, b"ping").await, b"ping");
    assert!(names(&rt).contains(&"probe".to_string()));
    drop(c);

    let why = bounded("the handler to end", ended_by.recv())
        .await
        .unwrap();
    assert_eq!(why, Some(Control::SocketShutdown));
    wait_for(&rt, &stats, "the handler and adapter to be removed", || {
        rt.live_components() == baseline && stats.closed() == 1
    })
    .await;
    assert!(!names(&rt).contains(&"probe".to_string()));
    assert!(!names(&rt).contains(&"ConnectedSocketAdapter".to_string()));
    assert!(rt.snapshot().links.len() <= 2, "{:?}", rt.snapshot().links);
    assert_eq!(stats.live(), 0);
    assert_eq!(stats.closed(), 1);

    handle.shutdown().await.unwrap();
    bounded("server end", handle.join()).await;
}

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_finishes_has_everything_it_sent_flushed_before_the_close() {
    let rt = Runtime::new();
    let server = ServerCore::bind("127.0.0.1:0", |_| {
        from_fn("talker", |mut ctx: Context<Bytes, Bytes>| async move {
            for i in 0..CHUNKS {
                ctx.send(Bytes::from(vec![i as u8; CHUNK])).await?;
            }
            // Returning Ok sends ProducerFinished on `signal`, to the adapter.
            Ok(())
        })
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let handle = rt.spawn(server).unwrap();
    let baseline = rt.live_components();

    let mut c = TcpStream::connect(addr).await.unwrap();
    let all = read_until_closed(&mut c).await;
    assert_eq!(
        all.len(),
        CHUNK * CHUNKS,
        "everything sent must arrive before the close"
    );
    for (i, chunk) in all.chunks(CHUNK).enumerate() {
        assert!(
            chunk.iter().all(|&b| b == i as u8),
            "chunk {i} out of order"
        );
    }
    wait_for(&rt, &stats, "the pair to be removed", || {
        rt.live_components() == baseline
    })
    .await;

    handle.shutdown().await.unwrap();
    bounded("server end", handle.join()).await;
}

#[tokio::test]
async fn shutdown_closes_the_listener_and_every_connection_and_reports() {
    let rt = Runtime::new();
    let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await.unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let core = rt.add(server).unwrap();
    let mut ext = rt.external("test");
    let (report_box, mut reports) = ext.add_inbox::<ShutdownReport>("report", 1).unwrap();
    rt.link(core.outbox(), report_box).unwrap();
    let handle = core.start();

    let mut clients = Vec::new();
    for i in 0..5u8 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert_eq!(round_trip(&mut c, &[i; 3]).await, [i; 3]);
        clients.push(c);
    }

    handle.shutdown().await.unwrap();
    assert!(matches!(
        bounded("server end", handle.join()).await,
        Exit::ShutDown
    ));
    for c in &mut clients {
        assert!(read_until_closed(c).await.is_empty());
    }
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "the listener must be closed");

    let report = bounded("the report", reports.recv()).await.unwrap();
    assert_eq!(report.listen, Some(addr));
    assert_eq!(report.accepted, 5);
    assert_eq!(report.open_at_shutdown.len(), 5);
    assert_eq!(report.drained, 5);
    assert!(report.forced.is_empty());
    assert_eq!(stats.report(), Some(report));
    assert_eq!(stats.live(), 0);
    assert_eq!(rt.live_components(), 1, "only the test's endpoint is left");
}

#[tokio::test]
async fn handlers_that_ignore_the_drain_are_stopped_at_the_deadline_and_named() {
    let rt = Runtime::new();
    let config = ServerConfig::default().drain_deadline(Duration::from_millis(200));
    let server = ServerCore::new(config, |_| {
        from_fn("stubborn", |mut ctx: Context<Bytes, Bytes>| async move {
            // Reads data only, never its control inbox.
            while let Some(b) = ctx.inbox.recv().await {
                let _ = ctx.send(b).await;
            }
            Ok(())
        })
    })
    .unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let handle = rt.spawn(server).unwrap();

    let mut polite = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut polite, b"x").await, b"x");
    let polite_port = polite.local_addr().unwrap().port();

    handle.shutdown().await.unwrap();
    assert!(bounded("server end", handle.join()).await.is_clean());
    assert!(read_until_closed(&mut polite).await.is_empty());
    let report = stats.report().unwrap();
    assert_eq!(report.open_at_shutdown.len(), 1);
    assert_eq!(report.forced.len(), 1);
    assert_eq!(report.forced[0].peer.port(), polite_port);
    assert!(report.to_string().contains("stopped"), "{report}");
    assert_eq!(stats.live(), 0);
    assert_eq!(rt.live_components(), 0);
}

#[tokio::test]
async fn a_half_closed_client_still_gets_its_reply() {
    let rt = Runtime::new();
    let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await.unwrap();
    let addr = server.local_addr();
    let handle = rt.spawn(server).unwrap();

    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"request without a line end").await.unwrap();
    c.shutdown().await.unwrap();
    assert_eq!(
        read_until_closed(&mut c).await,
        b"request without a line end"
    );

    handle.shutdown().await.unwrap();
    bounded("server end", handle.join()).await;
}
