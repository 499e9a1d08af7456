//! The MAIN server over TCP and the node model's AWOL timer on the paused clock.

use std::time::Duration;

use axon::testing::Harness;
use axon::{Control, Runtime};
use chassis::tcp::ConnectionInfo;
use components::cosmici::admission::{NodeAdmission, NodeLimits};
use components::cosmici::main_server::{
    MainEvent, MainStats, NODE_EVENTS_SERVICE, NetEvent, SensorNet, SensorNetConfig, main_server,
};
use components::cosmici::{MainCommand, NodeEvent, NodeNotice, NodeState, Transition};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

struct Client {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    tx: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        let (rx, tx) = TcpStream::connect(addr).await.unwrap().into_split();
        Self {
            lines: BufReader::new(rx).lines(),
            tx,
        }
    }

    async fn ask(&mut self, line: &str) -> String {
        self.tx.write_all(line.as_bytes()).await.unwrap();
        self.tx.write_all(b"\r\n").await.unwrap();
        timeout(LIMIT, self.lines.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("an answer")
    }
}

#[tokio::test]
async fn every_main_command_good_and_malformed() {
    let rt = Runtime::new();
    let net = SensorNet::new(SensorNetConfig::default());
    let view = net.view();
    let net = rt.add(net).unwrap();
    let mut ext = rt.external("test");
    let (events_ref, mut events) = ext.add_inbox::<NetEvent>("events", 64).unwrap();
    rt.link(net.outbox(), events_ref).unwrap();
    let _net = net.start();
    let stats = MainStats::default();
    let server = main_server(
        "127.0.0.1:0".parse().unwrap(),
        stats.clone(),
        NodeAdmission::default(),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let server = rt.spawn(server).unwrap();
    let mut node = Client::connect(addr).await;

    // Malformed lines are answered with the reason and change nothing.
    for (line, reason) in [
        ("POWERED_ON 1 not-an-ip 00:11:22:33:44:55", "ip"),
        ("POWERED_ON 1 10.0.0.2", "mac"),
        ("HEARTBEAT x 3", "x"),
        ("BRIDGE_MODE 1 SIDEWAYS", "SIDEWAYS"),
        ("LOGMSG 1 NORMAL deep message", "deep"),
        ("FLY_TO_MOON 1", "FLY_TO_MOON"),
    ] {
        let answer = node.ask(line).await;
        assert!(answer.starts_with("ERR "), "{line}: {answer}");
        assert!(answer.contains(reason), "{line}: {answer}");
    }
    assert_eq!(stats.malformed(), 6);
    assert!(view.states().is_empty(), "malformed lines changed state");

    // The declared-but-unwritten commands answer clearly and change nothing.
    for cmd in [
        "PULSE_DATA 1 2",
        "1ST_SYNC",
        "MISSING_SYNCS 1 2",
        "CALIBRATE_TIMING",
    ] {
        let answer = node.ask(cmd).await;
        let name = cmd.split(' ').next().unwrap();
        assert_eq!(answer, format!("ERR NOT_IMPLEMENTED {name}"));
    }
    assert_eq!(stats.unimplemented(), 4);
    assert!(view.states().is_empty());

    // The implemented commands are acknowledged and applied.
    assert_eq!(
        node.ask("POWERED_ON 1 10.0.0.2 00:11:22:33:44:55").await,
        "ACK POWERED_ON 1"
    );
    let ev = timeout(LIMIT, events.recv()).await.unwrap().unwrap();
    assert!(
        matches!(
            ev,
            NetEvent::PoweredOn {
                node: 1,
                first: true,
                ..
            }
        ),
        "{ev:?}"
    );
    let ev = timeout(LIMIT, events.recv()).await.unwrap().unwrap();
    assert_eq!(
        ev,
        NetEvent::StateChanged {
            node: 1,
            transition: Transition {
                from: NodeState::Unseen,
                to: NodeState::On
            }
        }
    );
    assert_eq!(
        node.ask("LOGMSG 1 NORMAL 2 Bridge server connected.").await,
        "ACK LOGMSG 1"
    );
    assert_eq!(node.ask("HEARTBEAT 1 17").await, "ACK HEARTBEAT 1");
    assert_eq!(
        node.ask("BRIDGE_MODE 1 UART-ONLY").await,
        "ACK BRIDGE_MODE 1"
    );
    let ev = timeout(LIMIT, events.recv()).await.unwrap().unwrap();
    assert!(matches!(ev, NetEvent::BridgeMode { node: 1, .. }), "{ev:?}");
    // A second POWERED_ON is not a first one: bridges are made once.
    assert_eq!(
        node.ask("POWERED_ON 1 10.0.0.2 00:11:22:33:44:55").await,
        "ACK POWERED_ON 1"
    );
    let ev = timeout(LIMIT, events.recv()).await.unwrap().unwrap();
    assert!(
        matches!(
            ev,
            NetEvent::PoweredOn {
                node: 1,
                first: false,
                ..
            }
        ),
        "{ev:?}"
    );
    assert_eq!(stats.commands(), 5);
    assert_eq!(view.states().get(&1), Some(&NodeState::On));

    // A line too long to be a command is refused, and the connection still works.
    let long = "LOGMSG 1 NORMAL 0 ".to_owned() + &"x".repeat(5000);
    assert_eq!(node.ask(&long).await, "ERR line too long");
    assert_eq!(node.ask("HEARTBEAT 1 18").await, "ACK HEARTBEAT 1");

    server.shutdown().await.unwrap();
    assert!(timeout(LIMIT, server.join()).await.unwrap().is_clean());
}

fn conn() -> ConnectionInfo {
    ConnectionInfo {
        id: 1,
        peer: "127.0.0.1:40000".parse().unwrap(),
        local: "127.0.0.1:26766".parse().unwrap(),
    }
}

fn cmd(line: &str) -> MainEvent {
    MainEvent {
        conn: conn(),
        command: MainCommand::parse(line).unwrap(),
    }
}

async fn next_transition(h: &mut Harness<MainEvent, NetEvent>) -> (u32, Transition) {
    loop {
        match h.recv().await.expect("an event") {
            NetEvent::StateChanged { node, transition } => return (node, transition),
            _ => continue,
        }
    }
}

/// AWOL is detected by a timer exactly one AWOL period after the last message, on
/// tokio's paused clock; any message brings the node back.
#[tokio::test(start_paused = true)]
async fn silent_nodes_go_awol_on_the_timer() {
    use NodeState::*;
    let awol = Duration::from_secs(330);
    let config = SensorNetConfig {
        awol_after: awol,
        heartbeat: Duration::from_secs(300),
        ..SensorNetConfig::default()
    };
    let mut h = Harness::new(SensorNet::new(config));
    let start = tokio::time::Instant::now();
    h.send(cmd("POWERED_ON 0 10.0.0.1 00:11:22:33:44:55")).await;
    assert_eq!(
        next_transition(&mut h).await,
        (
            0,
            Transition {
                from: Unseen,
                to: On
            }
        )
    );
    assert_eq!(
        next_transition(&mut h).await,
        (
            0,
            Transition {
                from: On,
                to: OnAwol
            }
        )
    );
    // tokio timers have millisecond resolution.
    let waited = start.elapsed();
    assert!(
        waited > awol && waited <= awol + Duration::from_millis(2),
        "{waited:?}"
    );

    h.send(cmd("HEARTBEAT 0 1")).await;
    assert_eq!(
        next_transition(&mut h).await,
        (
            0,
            Transition {
                from: OnAwol,
                to: On
            }
        )
    );

    // A run start arrives on node_events, as the run manager sends it.
    let mut notices = h.inbox_sender::<NodeNotice>("node_events").unwrap();
    assert!(
        h.runtime()
            .service::<NodeNotice>(NODE_EVENTS_SERVICE)
            .is_ok()
    );
    notices
        .send(NodeNotice {
            node: 0,
            event: NodeEvent::RunStarted,
        })
        .await
        .unwrap();
    assert_eq!(
        next_transition(&mut h).await,
        (
            0,
            Transition {
                from: On,
                to: Running
            }
        )
    );
    let before = tokio::time::Instant::now();
    // Heartbeats keep it from going AWOL.
    for n in 2..5 {
        tokio::time::sleep(Duration::from_secs(300)).await;
        h.send(cmd(&format!("HEARTBEAT 0 {n}"))).await;
    }
    assert_eq!(
        next_transition(&mut h).await,
        (
            0,
            Transition {
                from: Running,
                to: RunningAwol
            }
        )
    );
    assert!(before.elapsed() > Duration::from_secs(900) + awol);

    h.send_control(Control::Shutdown).await;
    assert!(h.exit().await.is_clean());
}

/// A MAIN client connected from `ip` (any 127.x address is loopback on Linux).
async fn client_from(ip: &str, server: std::net::SocketAddr) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::new(ip.parse().unwrap(), 0))
        .unwrap();
    let stream = timeout(LIMIT, socket.connect(server))
        .await
        .unwrap()
        .unwrap();
    let (rx, tx) = stream.into_split();
    Client {
        lines: BufReader::new(rx).lines(),
        tx,
    }
}

/// Issue 13 item 10: POWERED_ON, HEARTBEAT and LOGMSG for arbitrary ids no longer
/// create nodes (and bridges) without limit: ids outside the range and ids past the
/// node limit are refused with an ERR naming the limit, and nothing reaches the model.
#[tokio::test]
async fn node_ids_are_bounded_and_refusals_name_the_limit() {
    let rt = axon::Runtime::new();
    let net = SensorNet::new(SensorNetConfig::default());
    let view = net.view();
    let net = rt.add(net).unwrap();
    let mut ext = rt.external("test");
    let (to_test, mut events) = ext.add_inbox::<NetEvent>("events", 4096).unwrap();
    rt.link(net.outbox(), to_test).unwrap();
    let _net = net.start();
    let stats = MainStats::default();
    let admission = NodeAdmission::new(NodeLimits {
        max_nodes: 3,
        ids: 0..=9,
    });
    let server = main_server(
        "127.0.0.1:0".parse().unwrap(),
        stats.clone(),
        admission.clone(),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let server = rt.spawn(server).unwrap();
    let mut node = Client::connect(addr).await;
    for id in 0..3 {
        let answer = node
            .ask(&format!("POWERED_ON {id} 10.0.0.2 00:11:22:33:44:55"))
            .await;
        assert_eq!(answer, format!("ACK POWERED_ON {id}"));
    }
    // A fourth id in range: the table is full.
    for line in [
        "POWERED_ON 5 10.0.0.2 00:11:22:33:44:55",
        "HEARTBEAT 6 1",
        "LOGMSG 7 INFO 0 hi",
    ] {
        let answer = node.ask(line).await;
        assert!(answer.starts_with("ERR TOO_MANY_NODES"), "{line}: {answer}");
        assert!(answer.contains("limit 3, --max-nodes"), "{answer}");
    }
    // Out of range, whatever the room left.
    for id in [10, 1000, u32::MAX] {
        let answer = node.ask(&format!("HEARTBEAT {id} 1")).await;
        assert_eq!(
            answer,
            format!("ERR NODE_ID_OUT_OF_RANGE {id} (allowed 0-9, --node-ids)")
        );
    }
    // Known nodes are still served.
    assert_eq!(node.ask("HEARTBEAT 2 5").await, "ACK HEARTBEAT 2");
    assert_eq!((stats.refused(), stats.commands()), (6, 4));
    assert_eq!(admission.len(), 3);
    // Exactly three power-ons reached the model (so three nodes' bridges, not more).
    let mut powered = Vec::new();
    while powered.len() < 3 {
        if let NetEvent::PoweredOn { node, .. } =
            timeout(LIMIT, events.recv()).await.unwrap().unwrap()
        {
            powered.push(node);
        }
    }
    assert_eq!(powered, [0, 1, 2]);
    assert_eq!(view.states().keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    server.shutdown().await.unwrap();
    assert!(timeout(LIMIT, server.join()).await.unwrap().is_clean());
}

/// Issue 13 item 11: a live node's id is refused from another peer address; once the
/// owner's MAIN connection has closed, another address may take it over.
#[tokio::test]
async fn a_live_node_is_refused_from_another_address() {
    let rt = axon::Runtime::new();
    let stats = MainStats::default();
    let admission = NodeAdmission::default();
    let server = main_server(
        "127.0.0.1:0".parse().unwrap(),
        stats.clone(),
        admission.clone(),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let server = rt.spawn(server).unwrap();
    let mut owner = client_from("127.0.0.1", addr).await;
    let mut other = client_from("127.0.0.2", addr).await;
    assert_eq!(
        owner.ask("POWERED_ON 1 10.0.0.2 00:11:22:33:44:55").await,
        "ACK POWERED_ON 1"
    );
    for line in [
        "POWERED_ON 1 10.0.0.9 00:11:22:33:44:99",
        "HEARTBEAT 1 3",
        "BRIDGE_MODE 1 NONE",
    ] {
        assert_eq!(
            other.ask(line).await,
            "ERR NODE_OWNED 1 (live from 127.0.0.1)",
            "{line}"
        );
    }
    // The same address on a second connection is the same node, reconnected.
    let mut again = client_from("127.0.0.1", addr).await;
    assert_eq!(again.ask("HEARTBEAT 1 4").await, "ACK HEARTBEAT 1");
    drop(again);
    assert_eq!(owner.ask("HEARTBEAT 1 5").await, "ACK HEARTBEAT 1");
    // The owner goes away: once its connections have closed, the id is free.
    drop(owner);
    timeout(LIMIT, async {
        while admission.is_live(1) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the owner's connections close");
    assert_eq!(
        other.ask("POWERED_ON 1 10.0.0.9 00:11:22:33:44:99").await,
        "ACK POWERED_ON 1"
    );
    assert_eq!(admission.owner(1), Some("127.0.0.2".parse().unwrap()));
    assert_eq!(stats.refused(), 3);
    server.shutdown().await.unwrap();
    assert!(timeout(LIMIT, server.join()).await.unwrap().is_clean());
}

/// Hostile clients (issue 13's suite for the MAIN server): a client that floods
/// commands and never reads its replies stops being read — its connection holds at
/// most its byte budgets — while another client is answered at once, and nothing the
/// flood asked for reaches the model twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_stops_being_read_and_others_are_served() {
    let rt = axon::Runtime::new();
    let net = SensorNet::new(SensorNetConfig::default());
    let view = net.view();
    let net = rt.add(net).unwrap();
    let mut ext = rt.external("test");
    let (to_test, _events) = ext.add_inbox::<NetEvent>("events", 4096).unwrap();
    rt.link(net.outbox(), to_test).unwrap();
    let _net = net.start();
    let stats = MainStats::default();
    let server = main_server(
        "127.0.0.1:0".parse().unwrap(),
        stats.clone(),
        NodeAdmission::default(),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let server = rt.spawn(server).unwrap();
    let mut node = Client::connect(addr).await;
    assert_eq!(
        node.ask("POWERED_ON 1 10.0.0.2 00:11:22:33:44:55").await,
        "ACK POWERED_ON 1"
    );
    // 2 000 000 heartbeats (about 36 MB of commands, as much in replies: more than
    // any socket buffers hold), never read.
    let flood: Vec<u8> = (0..2_000_000)
        .flat_map(|i| format!("HEARTBEAT 1 {i}\r\n").into_bytes())
        .collect();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // The server stops reading it once its replies back up: the write cannot finish.
    let wrote = timeout(Duration::from_secs(3), silent.write_all(&flood)).await;
    assert!(
        wrote.is_err(),
        "the server read a never-reading client's whole flood"
    );
    // Meanwhile another client is answered.
    assert_eq!(node.ask("HEARTBEAT 1 7").await, "ACK HEARTBEAT 1");
    // What the server holds for the silent connection is bounded by its budgets.
    let snap = rt.snapshot();
    for b in snap.components.iter().flat_map(|c| &c.boxes) {
        if let (Some(bytes), Some(budget)) = (b.bytes, b.byte_budget) {
            assert!(
                bytes <= budget + 64 * 1024,
                "{}: {bytes} of {budget}",
                b.name
            );
        }
    }
    assert!(stats.commands() < 2_000_000, "the flood was not all read");
    assert_eq!(view.states().keys().copied().collect::<Vec<_>>(), [1]);
    drop(silent);
    server.shutdown().await.unwrap();
    assert!(timeout(LIMIT, server.join()).await.unwrap().is_clean());
}
