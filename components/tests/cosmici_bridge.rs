//! Bridges: made once per node, torn down on shutdown, operators see the node and
//! type commands that reach it, transcripts are written.

use std::net::SocketAddr;
use std::time::Duration;

use axon::testing::Harness;
use axon::{Control, GraphEvent, Runtime};
use components::cosmici::bridge::{BridgeAddrs, BridgeConfig, BridgeEvent, BridgeManager};
use components::cosmici::main_server::NetEvent;
use components::cosmici::{LinkKind, NodeLine};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

fn free_ports(dir: Option<std::path::PathBuf>) -> BridgeConfig {
    BridgeConfig {
        auxio_base: 0,
        uart_base: 0,
        terminal_base: 0,
        transcript_dir: dir,
        uart_lines_service: Some("test.lines".into()),
        ..BridgeConfig::default()
    }
}

fn powered_on(node: u32, first: bool) -> NetEvent {
    NetEvent::PoweredOn {
        node,
        ip: "127.0.0.1".parse().unwrap(),
        first,
    }
}

async fn opened(h: &mut Harness<NetEvent, BridgeEvent>) -> (u32, LinkKind, BridgeAddrs) {
    match timeout(LIMIT, h.recv()).await.unwrap() {
        Some(BridgeEvent::Opened { node, link, addrs }) => (node, link, addrs),
        other => panic!("expected an opened bridge, got {other:?}"),
    }
}

#[tokio::test]
async fn bridges_are_made_once_per_node_and_torn_down() {
    let mut h = Harness::new(BridgeManager::new(free_ports(None)));
    h.send(powered_on(1, true)).await;
    let (n1, l1, a1) = opened(&mut h).await;
    let (n2, l2, a2) = opened(&mut h).await;
    assert_eq!((n1, l1, n2, l2), (1, LinkKind::Auxio, 1, LinkKind::Uart));
    // Node 1 again (even if told it is a first power-on), then node 2.
    h.send(powered_on(1, false)).await;
    h.send(powered_on(1, true)).await;
    h.send(powered_on(2, true)).await;
    let (n3, _, _) = opened(&mut h).await;
    let (n4, _, _) = opened(&mut h).await;
    assert_eq!((n3, n4), (2, 2), "node 1's bridges were made twice");
    // The servers listen.
    for addr in [a1.node, a1.terminal, a2.node, a2.terminal] {
        drop(TcpStream::connect(addr).await.expect("a listening bridge"));
    }
    h.send_control(Control::Shutdown).await;
    assert!(timeout(LIMIT, h.exit()).await.unwrap().is_clean());
    for addr in [a1.node, a1.terminal, a2.node, a2.terminal] {
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "{addr} still listening"
        );
    }
}

async fn wait_linked(events: &mut broadcast::Receiver<GraphEvent>, component: &str, boxname: &str) {
    timeout(LIMIT, async {
        loop {
            if let GraphEvent::Linked { to, .. } = events.recv().await.unwrap()
                && to.starts_with(component)
                && to.ends_with(boxname)
            {
                return;
            }
        }
    })
    .await
    .expect("the subscription in time");
}

async fn read_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
) -> String {
    timeout(LIMIT, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("a line")
}

struct Peer {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    tx: tokio::net::tcp::OwnedWriteHalf,
}

async fn peer(addr: SocketAddr) -> Peer {
    let (rx, tx) = TcpStream::connect(addr).await.unwrap().into_split();
    Peer {
        lines: BufReader::new(rx).lines(),
        tx,
    }
}

#[tokio::test]
async fn operators_watch_the_node_and_their_commands_reach_it() {
    let dir = std::env::temp_dir().join(format!("cosmici-bridge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    // The lines service the UART bridge reports to.
    let mut ext = rt.external("test");
    let (lines_ref, mut node_lines) = ext.add_inbox::<NodeLine>("lines", 64).unwrap();
    rt.register_service("test.lines", lines_ref).unwrap();
    let mut h = Harness::with_runtime(
        rt.clone(),
        BridgeManager::new(free_ports(Some(dir.clone()))),
    );
    h.send(powered_on(3, true)).await;
    let _ = opened(&mut h).await;
    let (_, link, addrs) = opened(&mut h).await;
    assert_eq!(link, LinkKind::Uart);

    let mut node = peer(addrs.node).await;
    wait_linked(&mut events, "BridgeLink", ".down").await;
    let mut operator = peer(addrs.terminal).await;
    wait_linked(&mut events, "OperatorTerminal", ".view").await;

    // The operator sees the node's stream live; the parser gets its lines.
    node.tx.write_all(b"$HOST_READY*14\r\n").await.unwrap();
    assert_eq!(read_line(&mut operator.lines).await, "$HOST_READY*14");
    let got = timeout(LIMIT, node_lines.recv()).await.unwrap().unwrap();
    assert_eq!(
        (got.node, got.link, got.line.as_str()),
        (3, LinkKind::Uart, "$HOST_READY*14")
    );

    // What the operator types goes down the node's link.
    operator.tx.write_all(b"START\r\n").await.unwrap();
    assert_eq!(read_line(&mut node.lines).await, "START");

    // The operator leaves; the node keeps streaming, undisturbed, to a new operator.
    drop(operator);
    let mut second = peer(addrs.terminal).await;
    wait_linked(&mut events, "OperatorTerminal", ".view").await;
    node.tx.write_all(b"$ACK,START*25\r\n").await.unwrap();
    let got = timeout(LIMIT, node_lines.recv()).await.unwrap().unwrap();
    assert_eq!(got.line, "$ACK,START*25");
    assert_eq!(read_line(&mut second.lines).await, "$ACK,START*25");
    second.tx.write_all(b"STOP\r\n").await.unwrap();
    assert_eq!(read_line(&mut node.lines).await, "STOP");

    drop(node);
    drop(second);
    h.send_control(Control::Shutdown).await;
    assert!(timeout(LIMIT, h.exit()).await.unwrap().is_clean());

    // One transcript per connection, a timestamp and a direction on every line.
    let transcripts: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("node3-uart"))
        .collect();
    assert_eq!(transcripts.len(), 1, "{transcripts:?}");
    let text = std::fs::read_to_string(&transcripts[0]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (line, (dir, body)) in lines.iter().zip([
        ("<", "$HOST_READY*14"),
        (">", "START"),
        ("<", "$ACK,START*25"),
        (">", "STOP"),
    ]) {
        let mut parts = line.splitn(3, ' ');
        let stamp = parts.next().unwrap();
        assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{line}");
        assert_eq!((parts.next(), parts.next()), (Some(dir), Some(body)));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
