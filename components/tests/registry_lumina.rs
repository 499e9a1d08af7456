//! The Lumina node server: the full message flow over two real node connections, and
//! the 10 s command timeout and the 60 s / 180 s keepalive on tokio's paused clock.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axon::testing::Harness;
use axon::{Handle, Inbox, Request, Runtime};
use chassis::tcp::ServerConfig;
use components::registry::lumina::{DispatcherConfig, Message};
use components::registry::{
    LUMINA_SERVICE, LinkState, LuminaConnection, Node, NodeEvent, NodeRegistry, NodeServerOptions,
    Ownership, RegistryAsk, RegistryChange, RegistryReply, RegistryRequest, node_server,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(30);

/// A node's end of a real connection.
struct NodeClient {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl NodeClient {
    async fn connect(addr: SocketAddr) -> NodeClient {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (read, write) = stream.into_split();
        NodeClient {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    async fn send(&mut self, message: Value) {
        let line = format!("{message}\n");
        self.write.write_all(line.as_bytes()).await.expect("write");
    }

    /// The next message, skipping keepalives.
    async fn recv(&mut self) -> Message {
        let next = async {
            loop {
                match self.lines.next_line().await {
                    Ok(Some(line)) if line.trim().is_empty() => {}
                    Ok(Some(line)) => {
                        return Message::parse_line(line.as_bytes())
                            .ok()
                            .flatten()
                            .unwrap_or_else(|| panic!("unparsable line {line:?}"));
                    }
                    other => panic!("connection ended: {other:?}"),
                }
            }
        };
        tokio::time::timeout(LIMIT, next)
            .await
            .expect("a message in time")
    }

    async fn register(&mut self, node: &str, events: &[&str], commands: &[&str]) -> Message {
        self.send(json!({"name": "register", "seq": 1, "kw": {
            "node": node, "hostid": format!("{node}-host"), "module": "test",
            "events": events, "commands": commands,
        }}))
        .await;
        self.recv().await
    }
}

struct Server {
    addr: SocketAddr,
    events: Inbox<NodeEvent>,
    changes: Inbox<RegistryChange>,
    _ext: axon::External,
    _server: Handle,
    _registry: Handle,
}

async fn start_server(registry: NodeRegistry) -> Server {
    let rt = Runtime::new();
    let registry = rt.add(registry).expect("registry");
    rt.register_service(LUMINA_SERVICE, registry.inbox())
        .expect("service");
    let mut ext = rt.external("event handler");
    let (events_ref, events) = ext.add_inbox::<NodeEvent>("events", 64).expect("inbox");
    let (changes_ref, changes) = ext
        .add_inbox::<RegistryChange>("changes", 64)
        .expect("inbox");
    let events_out = rt
        .box_ref::<NodeEvent>(registry.id(), "events")
        .expect("events outbox");
    rt.link(events_out, events_ref).expect("link events");
    rt.link(registry.outbox(), changes_ref)
        .expect("link changes");
    let registry = registry.start();
    let config = ServerConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let server = node_server(config, NodeServerOptions::default()).expect("bind");
    let addr = server.local_addr();
    Server {
        addr,
        events,
        changes,
        _ext: ext,
        _server: rt.spawn(server).expect("server"),
        _registry: registry,
    }
}

fn error_name(message: &Message) -> Option<&str> {
    message.result.as_array()?.first()?.as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_register_fire_events_and_call_each_other_through_the_server() {
    let mut server = start_server(NodeRegistry::new(Ownership::Strict)).await;
    let mut lamp = NodeClient::connect(server.addr).await;
    let mut panel = NodeClient::connect(server.addr).await;

    let reply = lamp.register("lamp", &["ding"], &["on"]).await;
    assert_eq!((reply.seq, reply.success), (Some(1), Some(true)));
    let reply = panel.register("panel", &[], &["beep"]).await;
    assert_eq!((reply.seq, reply.success), (Some(1), Some(true)));
    let Some(RegistryChange::Registered { name, .. }) = server.changes.recv().await else {
        panic!("expected a registration");
    };
    assert_eq!(name.as_deref(), Some("lamp"));

    // The name rule: a connected name is refused.
    let mut impostor = NodeClient::connect(server.addr).await;
    let refused = impostor.register("lamp", &[], &[]).await;
    assert_eq!(refused.success, Some(false));
    assert_eq!(error_name(&refused), Some("NodeConfigException"));

    // A declared event reaches the event handler; an undeclared one is ignored.
    lamp.send(json!({"name": "lamp/ding", "args": [1, 2]}))
        .await;
    lamp.send(json!({"name": "lamp/undeclared", "args": []}))
        .await;
    lamp.send(json!({"name": "serverid", "seq": 2})).await;
    let event = tokio::time::timeout(LIMIT, server.events.recv())
        .await
        .expect("an event in time")
        .expect("the event");
    assert_eq!(event.message.name, "lamp/ding");
    assert_eq!(event.message.args, vec![json!(1), json!(2)]);
    let id = lamp.recv().await;
    assert_eq!(
        (id.name.as_str(), id.seq, id.success),
        ("serverid", Some(2), Some(true))
    );
    // The server handled the undeclared event before `serverid`: nothing more came.
    assert!(server.events.try_recv().is_err());

    // A command from one node to the other, and the reply back by `seq`.
    panel
        .send(json!({"name": "lamp/on", "args": [3], "kw": {"fade": true}, "seq": 7}))
        .await;
    let forwarded = lamp.recv().await;
    assert_eq!(forwarded.name, "lamp/on");
    assert_eq!(forwarded.args, vec![json!(3)]);
    assert_eq!(forwarded.kw.get("fade"), Some(&json!(true)));
    let seq = forwarded.seq.expect("a forwarded command wants a reply");
    lamp.send(json!({"name": "lamp/on", "seq": seq, "success": true, "result": "done"}))
        .await;
    let reply = panel.recv().await;
    assert_eq!(
        (reply.name.as_str(), reply.seq, reply.success, reply.result),
        ("lamp/on", Some(7), Some(true), json!("done"))
    );
    // And the other way, with a failure carrying [ErrorName, args…].
    lamp.send(json!({"name": "panel/beep", "seq": 3})).await;
    let forwarded = panel.recv().await;
    let seq = forwarded.seq.expect("seq");
    panel
        .send(json!({"name": "panel/beep", "seq": seq, "success": false, "result": ["BusyException", "later"]}))
        .await;
    let reply = lamp.recv().await;
    assert_eq!((reply.seq, reply.success), (Some(3), Some(false)));
    assert_eq!(reply.result, json!(["BusyException", "later"]));

    // Status and the combined state.
    lamp.send(json!({"name": "status", "args": ["GREEN", "OFF", "lit"], "seq": 4}))
        .await;
    assert_eq!(lamp.recv().await.success, Some(true));
    panel.send(json!({"name": "_info", "seq": 5})).await;
    let info = panel.recv().await.result;
    assert_eq!(info["status"], json!("YELLOW"));
    let lamp_info = info["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["name"] == json!("lamp")))
        .cloned()
        .expect("lamp in _info");
    assert_eq!(lamp_info["status"], json!("GREEN"));
    assert_eq!(lamp_info["status_why"], json!("lit"));
    assert_eq!(lamp_info["commands"], json!(["lamp/on"]));
    panel.send(json!({"name": "_server", "seq": 6})).await;
    let about = panel.recv().await.result;
    assert_eq!(about["n_commands"], json!(2));

    // Disconnect mid-command: the caller's request fails, the commands disappear.
    panel.send(json!({"name": "lamp/on", "seq": 8})).await;
    assert_eq!(lamp.recv().await.name, "lamp/on");
    drop(lamp);
    let failed = panel.recv().await;
    assert_eq!((failed.seq, failed.success), (Some(8), Some(false)));
    assert_eq!(error_name(&failed), Some("NoConnectionException"));
    panel.send(json!({"name": "lamp/on", "seq": 9})).await;
    let unknown = panel.recv().await;
    assert_eq!((unknown.seq, unknown.success), (Some(9), Some(false)));
    assert_eq!(error_name(&unknown), Some("UnknownCommandException"));

    // The name is free again.
    let mut again = NodeClient::connect(server.addr).await;
    assert_eq!(again.register("lamp", &[], &[]).await.success, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_command_over_real_connections_times_out() {
    // Real sockets need the real clock (the paused one would jump ahead while a socket
    // waits), so this server's timeout is short; the 10 s default is checked on the
    // paused clock below.
    let timeout = Duration::from_millis(200);
    let timing = DispatcherConfig {
        request_timeout: timeout,
        ..DispatcherConfig::default()
    };
    let server = start_server(NodeRegistry::new(Ownership::Strict).timing(timing)).await;
    let mut lamp = NodeClient::connect(server.addr).await;
    let mut panel = NodeClient::connect(server.addr).await;
    assert_eq!(
        lamp.register("lamp", &[], &["on"]).await.success,
        Some(true)
    );
    assert_eq!(panel.register("panel", &[], &[]).await.success, Some(true));
    let asked = Instant::now();
    panel.send(json!({"name": "lamp/on", "seq": 11})).await;
    let forwarded = lamp.recv().await;
    let failed = panel.recv().await;
    assert!(asked.elapsed() >= timeout);
    assert_eq!((failed.seq, failed.success), (Some(11), Some(false)));
    assert_eq!(error_name(&failed), Some("TimeoutException"));
    // The lamp answers too late: the panel hears nothing of it.
    lamp.send(serde_json::to_value(forwarded.success_reply(json!("late"))).expect("json"))
        .await;
    panel.send(json!({"name": "serverid", "seq": 12})).await;
    assert_eq!(panel.recv().await.seq, Some(12));
}

/// A registry in a harness, with fake connections whose inboxes the test reads.
struct FakeConnections {
    h: Harness<RegistryAsk, RegistryChange>,
    ext: axon::External,
    n: usize,
}

impl FakeConnections {
    fn new(registry: NodeRegistry) -> Self {
        let h = Harness::new(registry);
        let ext = h.runtime().external("connections");
        FakeConnections { h, ext, n: 0 }
    }

    /// A connection: its id, its inbox of replies to its forwarded commands, and its
    /// inbox of commands called on it.
    async fn connect(&mut self) -> (components::registry::ConnectionId, Lines, Lines) {
        self.n += 1;
        let (replies_ref, replies) = self
            .ext
            .add_inbox::<String>(format!("replies{}", self.n), 64)
            .expect("inbox");
        let (commands_ref, commands) = self
            .ext
            .add_inbox::<String>(format!("commands{}", self.n), 64)
            .expect("inbox");
        let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 40000));
        let (ask, answer) = Request::new(RegistryRequest::Connect {
            peer,
            replies: replies_ref,
            replies_room: 64,
            commands: commands_ref,
        });
        self.h.send(ask).await;
        let Ok(RegistryReply::Connected(conn)) = answer.wait(LIMIT).await else {
            panic!("a connection id");
        };
        (conn, Lines(replies), Lines(commands))
    }

    /// Sends one line; returns the messages that answer it.
    async fn line(
        &mut self,
        conn: components::registry::ConnectionId,
        line: Value,
    ) -> Vec<Message> {
        let (ask, answer) = Request::new(RegistryRequest::Line {
            conn,
            line: line.to_string(),
        });
        self.h.send(ask).await;
        let Ok(RegistryReply::Lines(lines)) = answer.wait(LIMIT).await else {
            panic!("the lines that answer it");
        };
        lines.iter().map(|line| parse(line)).collect()
    }
}

fn parse(line: &str) -> Message {
    Message::parse_line(line.as_bytes())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("unparsable line {line:?}"))
}

/// An inbox of lines for a fake connection, read as messages.
struct Lines(Inbox<String>);

impl Lines {
    async fn recv(&mut self) -> Option<Message> {
        self.0.recv().await.map(|line| parse(&line))
    }
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_command_fails_after_ten_seconds() {
    let mut fake = FakeConnections::new(NodeRegistry::new(Ownership::Strict));
    let (lamp, _, mut lamp_in) = fake.connect().await;
    let (panel, mut panel_in, _) = fake.connect().await;
    let answer = fake
        .line(
            lamp,
            json!({"name": "register", "seq": 1, "kw": {"node": "lamp", "commands": ["on"]}}),
        )
        .await;
    assert_eq!(answer[0].success, Some(true));

    let t0 = Instant::now();
    let answer = fake
        .line(panel, json!({"name": "lamp/on", "seq": 42}))
        .await;
    assert!(answer.is_empty());
    let forwarded = lamp_in.recv().await.expect("forwarded");
    let failed = panel_in.recv().await.expect("a failure reply");
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    assert_eq!((failed.seq, failed.success), (Some(42), Some(false)));
    assert_eq!(error_name(&failed), Some("TimeoutException"));

    // A late reply is dropped: the next thing the panel hears answers its next request.
    let late = forwarded.success_reply(json!("late"));
    fake.line(lamp, serde_json::to_value(&late).expect("json"))
        .await;
    let answer = fake
        .line(panel, json!({"name": "serverid", "seq": 43}))
        .await;
    assert_eq!(answer[0].seq, Some(43));

    // A command the server itself calls times out the same way.
    let (ask, answer) = Request::new(RegistryRequest::Call {
        command: "lamp/on".into(),
        args: vec![],
        kw: serde_json::Map::new(),
    });
    fake.h.send(ask).await;
    assert_eq!(lamp_in.recv().await.map(|m| m.name), Some("lamp/on".into()));
    let t1 = Instant::now();
    let Ok(RegistryReply::Called(failed)) = answer.wait(LIMIT).await else {
        panic!("a failure reply");
    };
    assert_eq!(t1.elapsed(), Duration::from_secs(10));
    assert_eq!(error_name(&failed), Some("TimeoutException"));
}

async fn nodes(rt: &Runtime, registry: axon::BoxRef<RegistryAsk>) -> Vec<Node> {
    let mut ext = rt.external("probe");
    let (out_ref, mut out) = ext.add_outbox::<RegistryAsk>("ask").expect("outbox");
    rt.link(out_ref, registry).expect("link");
    match out.ask(RegistryRequest::Nodes, LIMIT).await {
        Ok(RegistryReply::Nodes(nodes)) => nodes,
        other => panic!("the registry answers with its nodes, not {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_told_to_send_keepalives_sends_them_and_drops_a_silent_node() {
    let rt = Runtime::new();
    let registry = rt
        .add(NodeRegistry::new(Ownership::Strict))
        .expect("registry");
    let registry_inbox = registry.inbox();
    rt.register_service(LUMINA_SERVICE, registry_inbox)
        .expect("service");
    let _registry = registry.start();
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 40000));
    let options = NodeServerOptions::default().keepalive(Some(Duration::from_secs(60)));
    let conn = LuminaConnection::new(peer, options);
    let mut h = Harness::with_runtime(rt.clone(), conn);

    let t0 = Instant::now();
    h.send(
        json!({"name": "register", "seq": 1, "kw": {"node": "quiet", "events": ["e"]}}).to_string(),
    )
    .await;
    let reply = h.recv().await.expect("register reply");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.contains(r#""success":true"#), "{reply}");
    // Heard again at 100 s (a bare newline counts): dead at 280 s, not 180 s.
    let mut ticks = Vec::new();
    for _ in 0..4 {
        let line = h.recv().await.expect("a keepalive");
        assert_eq!(&line[..], b"\n", "a bare newline");
        ticks.push(t0.elapsed().as_secs());
        if ticks.len() == 1 {
            tokio::time::sleep_until(t0 + Duration::from_secs(100)).await;
            h.send(String::new()).await;
        }
    }
    let closing = h.recv_signal().await;
    assert_eq!(closing, Some(axon::Control::ProducerFinished));
    assert_eq!(ticks, vec![60, 120, 180, 240]);
    assert_eq!(t0.elapsed(), Duration::from_secs(280));
    h.send_control(axon::Control::SocketShutdown).await;
    assert!(h.exit().await.is_clean());
    let nodes = nodes(&rt, registry_inbox).await;
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].link, LinkState::Disconnected);
    assert!(nodes[0].events.is_empty());
}
