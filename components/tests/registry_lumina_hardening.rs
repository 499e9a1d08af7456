//! The Lumina node server against what real nodes and hostile clients do: pipelined
//! floods, spoofed events and names, quiet nodes, non-ASCII and over-long lines, broken
//! requests, slowloris clients and the 2018 wire form. Real sockets on loopback; every
//! wait bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axon::testing::Harness;
use axon::{Control, Handle, Inbox, Runtime};
use chassis::tcp::{ServerConfig, ServerStats};
use components::registry::lumina::ServerIdentity;
use components::registry::{
    LUMINA_SERVICE, LuminaConnection, NodeEvent, NodeRegistry, NodeServerOptions, Ownership,
    node_server,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(20);

/// A client's end of a real connection, reading raw lines.
struct Client {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client::connect_from(Ipv4Addr::LOCALHOST, addr).await
    }

    /// Connects from a chosen loopback address (127.0.0.x), to be another peer IP.
    async fn connect_from(local: Ipv4Addr, addr: SocketAddr) -> Client {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from((local, 0)))
            .expect("bind a loopback address");
        let stream: TcpStream = socket.connect(addr).await.expect("connect");
        let (read, write) = stream.into_split();
        Client {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.write.write_all(bytes).await.expect("write");
    }

    async fn send(&mut self, message: Value) {
        self.send_raw(format!("{message}\n").as_bytes()).await;
    }

    /// The next non-blank line, raw.
    async fn recv_line(&mut self) -> String {
        let next = async {
            loop {
                match self.lines.next_line().await {
                    Ok(Some(line)) if line.trim().is_empty() => {}
                    Ok(Some(line)) => return line,
                    other => panic!("connection ended: {other:?}"),
                }
            }
        };
        tokio::time::timeout(LIMIT, next)
            .await
            .expect("a line in time")
    }

    async fn recv(&mut self) -> Value {
        let line = self.recv_line().await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    async fn register(&mut self, node: &str, events: &[&str], commands: &[&str]) -> Value {
        self.send(json!({"name": "register", "seq": 1, "kw": {
            "node": node, "hostname": "host", "events": events, "commands": commands,
        }}))
        .await;
        self.recv().await
    }
}

struct Server {
    addr: SocketAddr,
    events: Inbox<NodeEvent>,
    stats: ServerStats,
    _ext: axon::External,
    _server: Handle,
    _registry: Handle,
}

async fn start(registry: NodeRegistry, options: NodeServerOptions) -> Server {
    let rt = Runtime::new();
    let registry = rt.add(registry).expect("registry");
    rt.register_service(LUMINA_SERVICE, registry.inbox())
        .expect("service");
    let mut ext = rt.external("event handler");
    let (events_ref, events) = ext.add_inbox::<NodeEvent>("events", 64).expect("inbox");
    let events_out = rt
        .box_ref::<NodeEvent>(registry.id(), "events")
        .expect("events outbox");
    rt.link(events_out, events_ref).expect("link events");
    let registry = registry.start();
    let config = ServerConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let server = node_server(config, options).expect("bind");
    Server {
        addr: server.local_addr(),
        stats: server.stats(),
        events,
        _ext: ext,
        _server: rt.spawn(server).expect("server"),
        _registry: registry,
    }
}

async fn start_default() -> Server {
    start(
        NodeRegistry::new(Ownership::Strict),
        NodeServerOptions::default(),
    )
    .await
}

fn error_name(reply: &Value) -> Option<&str> {
    reply["result"][0].as_str()
}

/// Item 1: a reply is never dropped; a client that does not read stops being read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_pipelined_requests_from_a_client_that_reads_late_all_get_replies() {
    // A long host id makes the replies (about 1.4 MB in all) overflow the socket buffers.
    let identity = ServerIdentity {
        hostname: "hub".into(),
        host_id: "h".repeat(250),
    };
    let server = start(
        NodeRegistry::new(Ownership::Strict).identity(identity),
        NodeServerOptions::default(),
    )
    .await;
    let client = Client::connect(server.addr).await;
    let (mut lines, mut write) = (client.lines, client.write);
    const N: i64 = 5_000;
    let writer = tokio::spawn(async move {
        for seq in 1..=N {
            let line = format!("{}\n", json!({"name": "serverid", "seq": seq}));
            write.write_all(line.as_bytes()).await.expect("write");
        }
        write
    });
    // Read nothing while the writer runs, for at most half a second: long enough for
    // the replies to back up (the server must then stop reading us, not drop them).
    // The outcome does not depend on this wait; only the pressure does.
    let mut writer = writer;
    let early = tokio::time::timeout(Duration::from_millis(500), &mut writer).await;
    let writer = async move {
        match early {
            Ok(done) => done.is_ok(),
            Err(_) => writer.await.is_ok(),
        }
    };
    let read_all = async {
        let mut seen = 0;
        while seen < N {
            let line = lines.next_line().await.expect("read").expect("a line");
            if line.is_empty() {
                continue;
            }
            let reply: Value = serde_json::from_str(&line).expect("json");
            seen += 1;
            assert_eq!(reply["seq"], json!(seen), "replies in order, none missing");
            assert_eq!(reply["success"], json!(true));
        }
        seen
    };
    let both = tokio::time::timeout(LIMIT, async { tokio::join!(read_all, writer) }).await;
    assert_eq!(both, Ok((N, true)), "every request answered");
}

/// Item 4: only the connection that registered a node may fire its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_connection_that_registered_a_node_may_fire_its_events() {
    let mut server = start_default().await;
    let mut lamp = Client::connect(server.addr).await;
    assert_eq!(
        lamp.register("lamp", &["ding"], &[]).await["success"],
        json!(true)
    );
    let mut stranger = Client::connect(server.addr).await;
    stranger
        .send(json!({"name": "lamp/ding", "args": ["spoofed"], "seq": 4}))
        .await;
    let refused = stranger.recv().await;
    assert_eq!(
        (refused["seq"].clone(), refused["success"].clone()),
        (json!(4), json!(false))
    );
    assert!(
        refused["result"][1]
            .as_str()
            .is_some_and(|why| why.contains("only that connection")),
        "{refused}"
    );
    // Without `seq` too: nothing reaches the event handler but the owner's event.
    stranger
        .send(json!({"name": "lamp/ding", "args": ["spoofed"]}))
        .await;
    lamp.send(json!({"name": "lamp/ding", "args": ["real"]}))
        .await;
    let event = tokio::time::timeout(LIMIT, server.events.recv())
        .await
        .expect("an event in time")
        .expect("the event");
    assert_eq!(event.message.args, vec![json!("real")]);
}

/// Item 4: a disconnected node's name is reserved for the IP that held it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_name_is_taken_again_only_from_the_same_ip() {
    let server = start_default().await;
    let mut lamp = Client::connect(server.addr).await;
    assert_eq!(
        lamp.register("lamp", &[], &["on"]).await["success"],
        json!(true)
    );
    drop(lamp);
    let mut impostor = Client::connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr).await;
    // The server may not have seen the close yet: then the name is still connected.
    let refused = impostor.register("lamp", &[], &["on"]).await;
    assert_eq!(refused["success"], json!(false), "{refused}");
    assert_eq!(error_name(&refused), Some("NodeConfigException"));
    let mut panel = Client::connect(server.addr).await;
    let mut back = None;
    for seq in 0..200 {
        // Until the server has seen the close, the name is still connected: try again.
        panel
            .send(json!({"name": "register", "seq": seq, "kw": {"node": "lamp"}}))
            .await;
        let reply = panel.recv().await;
        if reply["success"] == json!(true) {
            back = Some(reply);
            break;
        }
        assert!(
            reply["result"][1]
                .as_str()
                .is_some_and(|why| why.contains("still connected")),
            "{reply}"
        );
        tokio::task::yield_now().await;
    }
    assert!(back.is_some(), "the same IP takes its name back");
    let mut again = Client::connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr).await;
    drop(panel);
    let mut last = Value::Null;
    for seq in 0..200 {
        again
            .send(json!({"name": "register", "seq": seq, "kw": {"node": "lamp"}}))
            .await;
        last = again.recv().await;
        let why = last["result"][1].as_str().unwrap_or_default().to_owned();
        if why.contains("retained") {
            break;
        }
        assert!(why.contains("still connected"), "{last}");
        tokio::task::yield_now().await;
    }
    assert!(
        last["result"][1]
            .as_str()
            .is_some_and(|why| why.contains("was last held from 127.0.0.1")),
        "{last}"
    );
}

/// Item 4: the operator option lets any IP take a disconnected name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_open_names_any_ip_may_take_a_disconnected_name() {
    let server = start(
        NodeRegistry::new(Ownership::Open),
        NodeServerOptions::default(),
    )
    .await;
    let mut lamp = Client::connect(server.addr).await;
    assert_eq!(
        lamp.register("lamp", &[], &[]).await["success"],
        json!(true)
    );
    drop(lamp);
    let mut other = Client::connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr).await;
    let mut taken = false;
    for seq in 0..200 {
        other
            .send(json!({"name": "register", "seq": seq, "kw": {"node": "lamp"}}))
            .await;
        let reply = other.recv().await;
        if reply["success"] == json!(true) {
            taken = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(taken);
}

/// Item 6: what the server writes is ASCII, escaped as Python's `json.dumps` escapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_forwarded_commands_escape_non_ascii_like_json_dumps() {
    let server = start_default().await;
    let mut lamp = Client::connect(server.addr).await;
    lamp.send(json!({"name": "register", "seq": 1, "kw": {"node": "lamp", "hostname": "K\u{fc}che", "commands": ["say"]}}))
        .await;
    let registered = lamp.recv_line().await;
    assert!(registered.contains(r#""success":true"#), "{registered}");
    let mut panel = Client::connect(server.addr).await;
    // Sent as raw UTF-8, as a Python 3 client may.
    panel
        .send_raw(
            "{\"name\":\"lamp/say\",\"seq\":2,\"args\":[\"gr\u{fc}\u{df} dich \u{1f600}\"]}\n"
                .as_bytes(),
        )
        .await;
    let forwarded = lamp.recv_line().await;
    assert!(forwarded.is_ascii(), "{forwarded}");
    // python3 -c 'import json; print(json.dumps("grüß dich 😀"))'
    assert!(
        forwarded.contains(r#""gr\u00fc\u00df dich \ud83d\ude00""#),
        "{forwarded}"
    );
    panel.send(json!({"name": "_info", "seq": 3})).await;
    let info = panel.recv_line().await;
    assert!(
        info.is_ascii() && info.contains(r#""K\u00fcche""#),
        "{info}"
    );
}

/// Item 6: invalid UTF-8 gets an error reply and is not forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_gets_an_error_reply_and_is_not_forwarded() {
    let server = start_default().await;
    let mut lamp = Client::connect(server.addr).await;
    assert_eq!(
        lamp.register("lamp", &[], &["say"]).await["success"],
        json!(true)
    );
    let mut panel = Client::connect(server.addr).await;
    panel
        .send_raw(b"{\"name\":\"lamp/say\",\"seq\":5,\"args\":[\"caf\xe9\"]}\n")
        .await;
    let refused = panel.recv().await;
    assert_eq!(
        (refused["seq"].clone(), refused["success"].clone()),
        (json!(5), json!(false))
    );
    assert_eq!(refused["result"][1], json!("message is not valid UTF-8"));
    // The next thing the lamp hears is the next, valid call.
    panel
        .send(json!({"name": "lamp/say", "seq": 6, "args": ["ok"]}))
        .await;
    let forwarded = lamp.recv().await;
    assert_eq!(forwarded["args"], json!(["ok"]));
}

/// Item 6: a line longer than a node accepts (16 384 bytes) is never written to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_too_long_for_the_node_fails_back_to_its_caller() {
    let server = start_default().await;
    let mut lamp = Client::connect(server.addr).await;
    assert_eq!(
        lamp.register("lamp", &[], &["say"]).await["success"],
        json!(true)
    );
    let mut panel = Client::connect(server.addr).await;
    panel
        .send(json!({"name": "lamp/say", "seq": 7, "args": ["x".repeat(20_000)]}))
        .await;
    let refused = panel.recv().await;
    assert_eq!(
        (refused["seq"].clone(), refused["success"].clone()),
        (json!(7), json!(false))
    );
    assert!(
        refused["result"][1]
            .as_str()
            .is_some_and(|why| why.contains("max_line_to_node")),
        "{refused}"
    );
    panel
        .send(json!({"name": "lamp/say", "seq": 8, "args": ["short"]}))
        .await;
    let forwarded = lamp.recv_line().await;
    assert!(forwarded.len() < 16_384);
    assert!(forwarded.contains("short"), "{forwarded}");
}

/// Item 7: a request with a valid `seq` but bad fields is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_a_seq_but_bad_fields_gets_a_failure_reply() {
    let server = start_default().await;
    let mut client = Client::connect(server.addr).await;
    for (seq, bad, problem) in [
        (
            3,
            json!({"name": "serverid", "seq": 3, "args": "x"}),
            "`args` must be a list",
        ),
        (4, json!({"name": 17, "seq": 4}), "`name` must be a string"),
        (5, json!({"seq": 5, "kw": []}), "missing field `name`"),
        (
            6,
            json!({"name": "serverid", "seq": 6, "kw": [1]}),
            "`kw` must be an object",
        ),
    ] {
        client.send(bad).await;
        let reply = client.recv().await;
        assert_eq!(
            (reply["seq"].clone(), reply["success"].clone()),
            (json!(seq), json!(false))
        );
        assert_eq!(error_name(&reply), Some("NodeException"));
        let why = format!("malformed message: {problem}");
        assert_eq!(reply["result"][1], json!(why));
    }
}

/// Item 9: a node speaking the 2018 form registers, reports, fires events and answers
/// commands; a 2017 node calls it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_speaking_the_2018_form_are_answered_in_it() {
    let mut server = start_default().await;
    let mut hifi = Client::connect(server.addr).await;
    hifi.send(json!({"type": "command", "name": "register", "requestid": 1, "args": [{
        "node": "hifi", "nodeid": "hifi", "hostname": "pi", "hostid": "pi-1", "module": "yamaha",
        "events": ["on"], "commands": ["volume"],
    }]}))
    .await;
    let reply = hifi.recv().await;
    assert_eq!(
        (reply["requestid"].clone(), reply["response"].clone()),
        (json!(1), json!(true)),
        "{reply}"
    );
    assert!(
        reply.get("seq").is_none() && reply.get("success").is_none(),
        "{reply}"
    );
    hifi.send(json!({"type": "command", "name": "status", "requestid": 2, "args": ["GREEN", "OFF", "playing"]}))
        .await;
    assert_eq!(hifi.recv().await["response"], json!(true));
    hifi.send(json!({"type": "event", "name": "hifi/on", "args": [1]}))
        .await;
    let event = tokio::time::timeout(LIMIT, server.events.recv())
        .await
        .expect("an event in time")
        .expect("the event");
    assert_eq!(
        (event.message.name.as_str(), &event.message.args[..]),
        ("hifi/on", &[json!(1)][..])
    );

    let mut panel = Client::connect(server.addr).await;
    panel
        .send(json!({"name": "hifi/volume", "seq": 9, "args": [30]}))
        .await;
    let call = hifi.recv().await;
    assert_eq!(
        (
            call["type"].clone(),
            call["name"].clone(),
            call["args"].clone()
        ),
        (json!("command"), json!("hifi/volume"), json!([30]))
    );
    let id = call["requestid"].clone();
    hifi.send(json!({"type": "command", "name": "hifi/volume", "requestid": id, "response": true, "result": 30}))
        .await;
    let back = panel.recv().await;
    assert_eq!(
        (
            back["seq"].clone(),
            back["success"].clone(),
            back["result"].clone()
        ),
        (json!(9), json!(true), json!(30))
    );

    // Failures in the 2018 form carry `response: false` and [ErrorName, text].
    hifi.send(json!({"type": "command", "name": "nobody/here", "requestid": 3}))
        .await;
    let failed = hifi.recv().await;
    assert_eq!(
        (failed["requestid"].clone(), failed["response"].clone()),
        (json!(3), json!(false))
    );
    assert_eq!(error_name(&failed), Some("UnknownCommandException"));
}

/// Item 8: a node dropped for silence is a close reason, not a handler failure.
#[tokio::test(start_paused = true)]
async fn slowloris_clients_dropped_for_silence_are_not_handler_failures() {
    let server = start_default().await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut client = Client::connect(server.addr).await;
        client.send_raw(b"{\"name\": \"serv").await;
        clients.push(client);
    }
    let started = Instant::now();
    for client in &mut clients {
        let closed = async {
            // Keepalives (blank lines), if any, until the close.
            while let Ok(Some(line)) = client.lines.next_line().await {
                assert!(line.is_empty(), "{line:?}");
            }
        };
        let end = tokio::time::timeout(Duration::from_secs(400), closed).await;
        assert!(end.is_ok(), "closed in time");
    }
    assert!(started.elapsed() >= Duration::from_secs(180));
    assert_eq!(server.stats.handler_failures(), 0);
}

/// Item 5: by default the server sends a node nothing of its own, so the node's own
/// keepalives keep it alive; silence is counted from what the node sent.
#[tokio::test(start_paused = true)]
async fn a_quiet_node_hears_no_keepalives_and_is_dropped_only_after_its_own_silence() {
    let rt = Runtime::new();
    let registry = rt
        .add(NodeRegistry::new(Ownership::Strict))
        .expect("registry");
    rt.register_service(LUMINA_SERVICE, registry.inbox())
        .expect("service");
    let _registry = registry.start();
    let peer = SocketAddr::from((IpAddr::V4(Ipv4Addr::LOCALHOST), 40000));
    let mut h = Harness::with_runtime(
        rt,
        LuminaConnection::new(peer, NodeServerOptions::default()),
    );
    let t0 = Instant::now();
    h.send(json!({"name": "register", "seq": 1, "kw": {"node": "quiet"}}).to_string())
        .await;
    let reply = h.recv().await.expect("register reply");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.contains(r#""success":true"#), "{reply}");
    // The node's own keepalives, every 60 s, as a Lumina node sends them when it hears
    // nothing; then it falls silent after 240 s.
    for at in [60, 120, 180, 240] {
        tokio::time::sleep_until(t0 + Duration::from_secs(at)).await;
        h.send(String::new()).await;
    }
    // The handler asks to close (its framer flushes and closes the socket)...
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
    assert_eq!(t0.elapsed(), Duration::from_secs(240 + 180));
    assert_eq!(h.try_recv(), None, "the server wrote nothing but the reply");
    // ...and ends cleanly once the closed socket ends its input.
    h.send_control(Control::SocketShutdown).await;
    assert!(h.exit().await.is_clean());
}

/// Item 3: size limits are enforced with errors naming the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_registrations_are_refused_naming_the_limit() {
    let server = start_default().await;
    let mut client = Client::connect(server.addr).await;
    let cases = [
        (
            json!({"node": "n", "hostname": "h".repeat(60_000)}),
            "max_field",
        ),
        (json!({"node": "n".repeat(200)}), "max_name"),
        (
            json!({"node": "n", "commands": (0..100).map(|i| format!("c{i}")).collect::<Vec<_>>()}),
            "max_declared",
        ),
    ];
    for (seq, (kw, limit)) in cases.into_iter().enumerate() {
        client
            .send(json!({"name": "register", "seq": seq, "kw": kw}))
            .await;
        let reply = client.recv().await;
        assert_eq!(reply["success"], json!(false), "{reply}");
        assert!(
            reply["result"][1]
                .as_str()
                .is_some_and(|why| why.contains(limit)),
            "{reply}"
        );
    }
    client.send(json!({"name": "_info", "seq": 10})).await;
    assert_eq!(
        client.recv().await["result"]["nodes"],
        json!([]),
        "nothing was registered"
    );
}

/// Item 3: disconnected nodes are forgotten after the retention time (1 h by default),
/// and their names are then free for anyone.
#[tokio::test(start_paused = true)]
async fn disconnected_nodes_are_forgotten_after_the_retention_time() {
    let server = start_default().await;
    let mut watcher = Client::connect(server.addr).await;
    for i in 0..20 {
        let mut node = Client::connect(server.addr).await;
        assert_eq!(
            node.register(&format!("n{i}"), &[], &[]).await["success"],
            json!(true)
        );
    }
    // Wait (bounded) until the server has seen the 20 closes: one connection is left.
    let mut seq = 0;
    let mut ask = async |watcher: &mut Client, name: &str| {
        seq += 1;
        watcher.send(json!({"name": name, "seq": seq})).await;
        watcher.recv().await["result"].clone()
    };
    let mut left = Value::Null;
    for _ in 0..1000 {
        left = ask(&mut watcher, "_server").await;
        if left["n_connections"] == json!(1) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(left["n_connections"], json!(1), "{left}");
    let t0 = Instant::now();
    let kept = ask(&mut watcher, "_info").await;
    assert_eq!(kept["nodes"].as_array().map(Vec::len), Some(20));
    // (The watcher is closed for silence meanwhile: each look is a new connection.)
    tokio::time::sleep_until(t0 + Duration::from_secs(3599)).await;
    let mut watcher = Client::connect(server.addr).await;
    let info = ask(&mut watcher, "_info").await;
    assert_eq!(
        info["nodes"].as_array().map(Vec::len),
        Some(20),
        "kept for the hour"
    );
    tokio::time::sleep_until(t0 + Duration::from_secs(3601)).await;
    let mut watcher = Client::connect(server.addr).await;
    let info = ask(&mut watcher, "_info").await;
    assert_eq!(info["nodes"], json!([]), "all forgotten after an hour");
    let mut stranger = Client::connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr).await;
    assert_eq!(
        stranger.register("n0", &[], &[]).await["success"],
        json!(true)
    );
}

/// Item 8 (and the hostile suite): a client that leaves while its replies are still on
/// their way closes its connection; that is not a handler failure either.
#[tokio::test(start_paused = true)]
async fn a_client_leaving_with_replies_on_their_way_is_not_a_handler_failure() {
    let identity = ServerIdentity {
        hostname: "hub".into(),
        host_id: "h".repeat(250),
    };
    let server = start(
        NodeRegistry::new(Ownership::Strict).identity(identity),
        NodeServerOptions::default(),
    )
    .await;
    let mut requests = Vec::new();
    for seq in 0..20_000 {
        requests
            .extend_from_slice(format!("{}\n", json!({"name": "serverid", "seq": seq})).as_bytes());
    }
    let mut leaver = TcpStream::connect(server.addr).await.expect("connect");
    // It writes until the server stops reading it, then leaves without reading.
    let _ = tokio::time::timeout(Duration::from_secs(5), leaver.write_all(&requests)).await;
    drop(leaver);
    let mut watcher = Client::connect(server.addr).await;
    let mut open = Value::Null;
    for seq in 0..1000 {
        watcher.send(json!({"name": "_server", "seq": seq})).await;
        open = watcher.recv().await["result"]["n_connections"].clone();
        if open == json!(1) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(open, json!(1), "the leaver's connection is closed");
    assert_eq!(server.stats.handler_failures(), 0);
}
