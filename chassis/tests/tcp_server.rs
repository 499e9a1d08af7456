//! ServerCore: binding, addresses given to the factory, echo, composite handlers.

mod tcp_support;

use axon::{BoxError, Component, Context, Exit, LinkError, Runtime, Setup};
use bytes::Bytes;
use chassis::tcp::{BindError, ConnectionInfo, Echo, ServerConfig, ServerCore};
use tcp_support::{bounded, read_until_closed, round_trip, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn the_factory_sees_peer_and_local_addresses_and_bytes_echo() {
    let rt = Runtime::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = ServerCore::bind("127.0.0.1:0", move |info: &ConnectionInfo| {
        let _ = tx.send(*info);
        Echo
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0, "port 0 must report the bound port");
    let handle = rt.spawn(server).unwrap();

    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    let a = bounded("factory call", rx.recv()).await.unwrap();
    let b = bounded("factory call", rx.recv()).await.unwrap();
    let (a, b) = if a.peer == first.local_addr().unwrap() {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(a.peer, first.local_addr().unwrap());
    assert_eq!(b.peer, second.local_addr().unwrap());
    assert_eq!(a.local, addr);
    assert_eq!(b.local, addr);
    assert_ne!(a.id, b.id);

    assert_eq!(round_trip(&mut first, b"hello axon").await, b"hello axon");
    assert_eq!(round_trip(&mut second, b"second").await, b"second");

    // A large message, written and read at the same time, comes back intact.
    let big: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i % 251) as u8).collect();
    let (mut rd, mut wr) = first.split();
    let expected = big.clone();
    let (written, back) = tokio::join!(wr.write_all(&big), async {
        let mut back = vec![0u8; expected.len()];
        rd.read_exact(&mut back).await.map(|_| back)
    });
    written.unwrap();
    assert!(back.unwrap() == expected, "1 MiB echo differs");

    handle.shutdown().await.unwrap();
    assert!(matches!(
        bounded("server end", handle.join()).await,
        Exit::ShutDown
    ));
}

#[tokio::test]
async fn binding_a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = ServerCore::bind(addr, |_| Echo).await.unwrap_err();
    assert!(matches!(err, BindError::Listen { .. }));
    assert_eq!(err.addr(), Some(addr));
    assert_eq!(err.io_error().kind(), std::io::ErrorKind::AddrInUse);
    let text = err.to_string();
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.to_lowercase().contains("in use"), "{text}");

    let err = ServerCore::new(ServerConfig::new(addr), |_| Echo).unwrap_err();
    assert_eq!(err.io_error().kind(), std::io::ErrorKind::AddrInUse);
}

#[tokio::test]
async fn an_unresolvable_address_is_a_clear_error() {
    let err = ServerCore::bind("not an address", |_| Echo)
        .await
        .unwrap_err();
    assert!(matches!(err, BindError::Resolve { .. }), "{err}");
    assert!(err.to_string().contains("not an address"), "{err}");
}

#[tokio::test]
async fn ipv6_loopback_works_and_reports_its_port() {
    let rt = Runtime::new();
    let server = match ServerCore::bind("[::1]:0", |_| Echo).await {
        Ok(s) => s,
        Err(e) if e.io_error().kind() == std::io::ErrorKind::AddrNotAvailable => return,
        Err(e) => panic!("{e}"),
    };
    let addr = server.local_addr();
    assert!(addr.is_ipv6());
    assert_ne!(addr.port(), 0);
    let handle = rt.spawn(server).unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut c, b"over v6").await, b"over v6");
    handle.shutdown().await.unwrap();
    assert!(bounded("server end", handle.join()).await.is_clean());
}

/// Upper-cases bytes.
struct Upper;

impl Component for Upper {
    type In = Bytes;
    type Out = Bytes;
    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        while let Some(b) = ctx.recv().await {
            if ctx.send(Bytes::from(b.to_ascii_uppercase())).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// A composite handler: Upper -> Echo, wired like a pipeline, with the composite's
/// own inbox and control passed through to the first stage.
struct UpperEcho;

impl Component for UpperEcho {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let upper = s.add_child(Upper)?;
        let echo = s.add_child(Echo)?;
        s.make_passthrough("inbox")?;
        s.make_passthrough("control")?;
        let (inbox, control) = (s.own::<Bytes>("inbox")?, s.own("control")?);
        let (outbox, signal) = (s.own::<Bytes>("outbox")?, s.own("signal")?);
        s.link(inbox, upper.inbox())?;
        s.link(control, upper.control())?;
        s.link(upper.outbox(), echo.inbox())?;
        s.link(upper.signal(), echo.control())?;
        s.link(echo.outbox(), outbox)?;
        s.link(echo.signal(), signal)
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        while ctx.next_child_exit().await.is_some() {}
        Ok(())
    }
}

#[tokio::test]
async fn a_composite_handler_is_wired_and_removed_like_any_other() {
    let rt = Runtime::new();
    let server = ServerCore::bind("127.0.0.1:0", |_| UpperEcho)
        .await
        .unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let handle = rt.spawn(server).unwrap();
    let baseline = rt.live_components();

    let mut c = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut c, b"quiet words").await, b"QUIET WORDS");
    // The composite, its two stages and the adapter.
    assert_eq!(rt.live_components(), baseline + 4);

    // Half-close: the last request is still answered, then the server closes.
    c.write_all(b"last").await.unwrap();
    c.shutdown().await.unwrap();
    assert_eq!(read_until_closed(&mut c).await, b"LAST");
    wait_for(&rt, &stats, "the composite and the adapter to go", || {
        rt.live_components() == baseline
    })
    .await;

    handle.shutdown().await.unwrap();
    assert!(bounded("server end", handle.join()).await.is_clean());
}
