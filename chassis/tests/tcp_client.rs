//! TcpClient: bytes in and out, finishing, connection errors, reconnect.

mod tcp_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axon::{Context, Control, Exit, Runtime, component::from_fn};
use bytes::Bytes;
use chassis::tcp::{ClientError, Echo, Reconnect, ServerCore, TcpClient};
use tcp_support::bounded;

/// A port nothing listens on (bound, then released).
fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn failure_text(exit: &Exit) -> String {
    match exit {
        Exit::Failed(e) => {
            assert!(e.downcast_ref::<ClientError>().is_some(), "{e}");
            e.to_string()
        }
        other => panic!("expected a failure, got {other}"),
    }
}

#[tokio::test]
async fn the_client_sends_and_receives_and_finishing_closes_after_the_flush() {
    let rt = Runtime::new();
    let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await.unwrap();
    let addr = server.local_addr();
    let server = rt.spawn(server).unwrap();

    let client = rt.add(TcpClient::new(addr)).unwrap();
    let mut ext = rt.external("test");
    let (to, mut tx) = ext.add_outbox::<Bytes>("requests").unwrap();
    let (ctl, mut ctl_tx) = ext.add_outbox::<Control>("control").unwrap();
    let (from, mut rx) = ext.add_inbox::<Bytes>("replies", 64).unwrap();
    rt.link(to, client.inbox()).unwrap();
    rt.link(ctl, client.control()).unwrap();
    rt.link(client.outbox(), from).unwrap();
    let handle = client.start();

    let mut sent = Vec::new();
    for i in 0..3u8 {
        let msg = vec![b'a' + i; 1000];
        sent.extend_from_slice(&msg);
        tx.send(Bytes::from(msg)).await.unwrap();
    }
    ctl_tx.send(Control::ProducerFinished).await.unwrap();

    let mut got = Vec::new();
    while let Some(b) = bounded("a reply", rx.recv()).await {
        got.extend_from_slice(&b);
        if got.len() >= sent.len() {
            break;
        }
    }
    assert_eq!(got, sent);
    // The server answers our close with its own once it has echoed everything.
    assert!(matches!(
        bounded("client end", handle.join()).await,
        Exit::Finished
    ));

    server.shutdown().await.unwrap();
    bounded("server end", server.join()).await;
}

#[tokio::test]
async fn a_refused_connection_is_the_exit_reason() {
    let rt = Runtime::new();
    let addr = closed_port();
    let handle = rt.spawn(TcpClient::new(addr)).unwrap();
    let exit = bounded("client end", handle.join()).await;
    let text = failure_text(&exit);
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.contains("after 1 attempt"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn reconnect_backs_off_exponentially_then_gives_up() {
    let rt = Runtime::new();
    let addr = closed_port();
    let policy = Reconnect::new(
        Duration::from_millis(100),
        Duration::from_millis(250),
        Some(4),
    );
    let start = tokio::time::Instant::now();
    let handle = rt.spawn(TcpClient::new(addr).reconnect(policy)).unwrap();
    let exit = handle.join().await;
    let waited = start.elapsed();
    let text = failure_text(&exit);
    assert!(text.contains("after 4 attempt"), "{text}");
    // 100 + 200 + 250 (capped) ms between the four attempts.
    assert!(waited >= Duration::from_millis(550), "{waited:?}");
    assert!(waited < Duration::from_millis(600), "{waited:?}");
}

#[tokio::test]
async fn a_lost_connection_is_made_again() {
    let rt = Runtime::new();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let (made_tx, mut made) = tokio::sync::mpsc::unbounded_channel();
    // Each handler answers one message and then ends, which closes its connection.
    let server = ServerCore::bind("127.0.0.1:0", move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        let _ = made_tx.send(());
        from_fn("one-shot", |mut ctx: Context<Bytes, Bytes>| async move {
            if let Some(b) = ctx.recv().await {
                ctx.send(b).await?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let server = rt.spawn(server).unwrap();

    let policy = Reconnect::new(
        Duration::from_millis(10),
        Duration::from_millis(100),
        Some(5),
    );
    let client = rt.add(TcpClient::new(addr).reconnect(policy)).unwrap();
    let mut ext = rt.external("test");
    let (to, mut tx) = ext.add_outbox::<Bytes>("requests").unwrap();
    let (from, mut rx) = ext.add_inbox::<Bytes>("replies", 64).unwrap();
    rt.link(to, client.inbox()).unwrap();
    rt.link(client.outbox(), from).unwrap();
    let handle = client.start();

    bounded("first connection", made.recv()).await.unwrap();
    tx.send(Bytes::from_static(b"one")).await.unwrap();
    assert_eq!(
        bounded("first reply", rx.recv()).await.unwrap(),
        &b"one"[..]
    );
    // The server closed that connection; the client connects again by itself.
    bounded("second connection", made.recv()).await.unwrap();
    tx.send(Bytes::from_static(b"two")).await.unwrap();
    assert_eq!(
        bounded("second reply", rx.recv()).await.unwrap(),
        &b"two"[..]
    );
    assert!(connections.load(Ordering::SeqCst) >= 2);

    handle.shutdown().await.unwrap();
    assert!(matches!(
        bounded("client end", handle.join()).await,
        Exit::ShutDown
    ));
    server.shutdown().await.unwrap();
    bounded("server end", server.join()).await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_ends_the_client_after_its_idle_timeout() {
    let rt = Runtime::new();
    let server = ServerCore::new(
        chassis::tcp::ServerConfig::new("127.0.0.1:0".parse().unwrap()).idle_timeout(None),
        |_| Echo,
    )
    .unwrap();
    let addr = server.local_addr();
    let server = rt.spawn(server).unwrap();

    let idle = Duration::from_secs(5);
    let start = tokio::time::Instant::now();
    let handle = rt
        .spawn(TcpClient::new(addr).idle_timeout(Some(idle)))
        .unwrap();
    let exit = handle.join().await;
    let waited = start.elapsed();
    let text = failure_text(&exit);
    assert!(text.contains("idle"), "{text}");
    assert!(
        waited >= idle && waited < idle + Duration::from_secs(1),
        "{waited:?}"
    );

    server.shutdown().await.unwrap();
    bounded("server end", server.join()).await;
}
