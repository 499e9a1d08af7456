//! Hostile clients against the node server and the datahub: malformed input, clients
//! that never read, pipelined floods and many identities. Each asserts that the
//! server's state stays bounded and unchanged by what it refused, and that it keeps
//! serving everyone else. Real sockets on loopback, on tokio's paused clock (which
//! advances only when every task, the servers' included, waits): every wait bounded.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axon::{Handle, Outbox, Runtime};
use chassis::tcp::ServerConfig;
use components::registry::{
    DATAHUB_SERVICE, DatahubOptions, LUMINA_SERVICE, Node, NodeRegistry, NodeServerOptions,
    Ownership, RegistryAsk, RegistryReply, RegistryRequest, datahub_server, node_server,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const LIMIT: Duration = Duration::from_secs(60);

/// A registry behind one server, and a way to look at its table.
struct Target {
    addr: SocketAddr,
    ask: Outbox<RegistryAsk>,
    _ext: axon::External,
    _server: Handle,
    _registry: Handle,
}

impl Target {
    async fn lumina(registry: NodeRegistry) -> Target {
        Target::start(registry, LUMINA_SERVICE, |config| {
            let server = node_server(config, NodeServerOptions::default()).expect("bind");
            (server.local_addr(), Box::new(server) as Box<dyn Spawn>)
        })
        .await
    }

    async fn datahub(registry: NodeRegistry, options: DatahubOptions) -> Target {
        Target::start(registry, DATAHUB_SERVICE, move |config| {
            let server = datahub_server(config, options).expect("bind");
            (server.local_addr(), Box::new(server) as Box<dyn Spawn>)
        })
        .await
    }

    async fn start(
        registry: NodeRegistry,
        service: &'static str,
        make: impl FnOnce(ServerConfig) -> (SocketAddr, Box<dyn Spawn>),
    ) -> Target {
        let rt = Runtime::new();
        let registry = rt.add(registry).expect("registry");
        rt.register_service(service, registry.inbox())
            .expect("service");
        let mut ext = rt.external("probe");
        let (out_ref, ask) = ext.add_outbox::<RegistryAsk>("ask").expect("outbox");
        rt.link(out_ref, registry.inbox()).expect("link");
        let registry = registry.start();
        let (addr, server) = make(ServerConfig::new(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            0,
        ))));
        Target {
            addr,
            ask,
            _ext: ext,
            _server: server.spawn(&rt),
            _registry: registry,
        }
    }

    async fn nodes(&mut self) -> Vec<Node> {
        match self.ask.ask(RegistryRequest::Nodes, LIMIT).await {
            Ok(RegistryReply::Nodes(nodes)) => nodes,
            other => panic!("the registry answers with its nodes, not {other:?}"),
        }
    }
}

/// Either server, spawned the same way.
trait Spawn {
    fn spawn(self: Box<Self>, rt: &Runtime) -> Handle;
}

impl<F> Spawn for chassis::tcp::ServerCore<F>
where
    chassis::tcp::ServerCore<F>: axon::Component,
{
    fn spawn(self: Box<Self>, rt: &Runtime) -> Handle {
        rt.spawn(*self).expect("server")
    }
}

/// One JSON line to a Lumina server and its reply.
async fn lumina_ask(stream: &mut BufReader<TcpStream>, message: Value) -> Value {
    let exchange = async {
        stream
            .get_mut()
            .write_all(format!("{message}\n").as_bytes())
            .await
            .expect("write");
        let mut line = String::new();
        loop {
            line.clear();
            stream.read_line(&mut line).await.expect("read");
            assert!(!line.is_empty(), "connection closed");
            if !line.trim().is_empty() {
                return serde_json::from_str(&line).expect("json");
            }
        }
    };
    tokio::time::timeout(LIMIT, exchange)
        .await
        .expect("a reply in time")
}

async fn lumina_client(addr: SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).await.expect("connect"))
}

/// Writes `lines` in a task that ends when all are written.
fn flood(mut stream: tokio::net::tcp::OwnedWriteHalf, lines: Vec<u8>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = stream.write_all(&lines).await;
        let _ = stream.flush().await;
        // Keep the connection open (and unread) until the test ends.
        std::future::pending::<()>().await;
    })
}

#[tokio::test(start_paused = true)]
async fn lumina_malformed_input_changes_nothing_and_the_server_keeps_serving() {
    let mut target = Target::lumina(NodeRegistry::new(Ownership::Strict)).await;
    let mut lamp = lumina_client(target.addr).await;
    let reply = lumina_ask(
        &mut lamp,
        json!({"name": "register", "seq": 1, "kw": {"node": "lamp", "events": ["e"], "commands": ["on"]}}),
    )
    .await;
    assert_eq!(reply["success"], json!(true));
    let before = target.nodes().await;

    let mut garbage: Vec<u8> = Vec::new();
    for i in 0..200 {
        garbage.extend_from_slice(b"{not json\n\xff\xfe\x00\n[1,2,3]\n\"text\"\n");
        garbage.extend_from_slice(format!("{{\"name\":{i}}}\n").as_bytes());
        garbage.extend_from_slice(b"{\"name\":\"status\",\"args\":[\"PURPLE\"]}\n");
        garbage.extend_from_slice(
            b"{\"name\":\"lamp/e\"}\n{\"name\":\"register\",\"kw\":{\"node\":\"lamp\"}}\n",
        );
        garbage.extend_from_slice(b"{\"name\":\"lamp/on\",\"seq\":1,\"success\":true}\n");
    }
    let mut attacker = TcpStream::connect(target.addr).await.expect("connect");
    attacker.write_all(&garbage).await.expect("write");
    // A line longer than the server reads (64 KiB): the connection is closed.
    let mut huge = TcpStream::connect(target.addr).await.expect("connect");
    let _ = huge.write_all(&vec![b'x'; 200_000]).await;
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(LIMIT, huge.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "an over-long line closes its connection");

    let mut panel = lumina_client(target.addr).await;
    let reply = lumina_ask(&mut panel, json!({"name": "serverid", "seq": 1})).await;
    assert_eq!(reply["success"], json!(true));
    assert_eq!(target.nodes().await, before, "nothing changed");
}

#[tokio::test(start_paused = true)]
async fn lumina_a_client_that_never_reads_stops_being_read_and_others_are_served() {
    let mut target = Target::lumina(NodeRegistry::new(Ownership::Strict)).await;
    // Twenty nodes with long host names make every `_info` reply about 8 KB.
    let mut nodes = Vec::new();
    for i in 0..20 {
        let mut node = lumina_client(target.addr).await;
        let kw = json!({"node": format!("node{i}"), "hostname": "h".repeat(250), "module": "m".repeat(250)});
        let reply = lumina_ask(&mut node, json!({"name": "register", "seq": 1, "kw": kw})).await;
        assert_eq!(reply["success"], json!(true));
        nodes.push(node);
    }
    // 5 000 `_info` requests (about 40 MB of replies) from a client that never reads.
    let mut requests = Vec::new();
    for seq in 0..5_000 {
        requests
            .extend_from_slice(format!("{}\n", json!({"name": "_info", "seq": seq})).as_bytes());
    }
    let (_read, write) = TcpStream::connect(target.addr)
        .await
        .expect("connect")
        .into_split();
    let writer = flood(write, requests);
    // Let everything run until it waits (the paused clock then moves on).
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!writer.is_finished());
    // The others are served meanwhile, and the table is as it was.
    let mut panel = lumina_client(target.addr).await;
    let reply = lumina_ask(&mut panel, json!({"name": "_server", "seq": 1})).await;
    assert_eq!(reply["result"]["nodes"].as_array().map(Vec::len), Some(20));
    assert_eq!(target.nodes().await.len(), 20);
    writer.abort();
}

#[tokio::test(start_paused = true)]
async fn lumina_many_identities_are_capped_and_forgotten() {
    let mut target = Target::lumina(NodeRegistry::new(Ownership::Strict).max_nodes(50)).await;
    let mut refused = 0;
    for i in 0..120 {
        let mut node = lumina_client(target.addr).await;
        let kw = json!({"node": format!("id{i}"), "hostname": "h".repeat(200)});
        let reply = lumina_ask(&mut node, json!({"name": "register", "seq": 1, "kw": kw})).await;
        if reply["success"] == json!(false) {
            assert!(
                reply["result"][1]
                    .as_str()
                    .is_some_and(|w| w.contains("max_nodes")),
                "{reply}"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 70);
    assert_eq!(target.nodes().await.len(), 50, "the cap holds");
    // All gone: after the retention time, nothing is kept.
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    let mut panel = lumina_client(target.addr).await;
    let reply = lumina_ask(&mut panel, json!({"name": "_info", "seq": 1})).await;
    assert_eq!(reply["result"]["nodes"], json!([]));
    assert!(target.nodes().await.is_empty());
}

/// One datahub request on a fresh connection, then the client's side closed; the reply
/// up to the close.
async fn datahub_ask(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(request).await?;
        stream.shutdown().await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    tokio::time::timeout(LIMIT, exchange)
        .await
        .expect("in time")
        .expect("exchange")
}

#[tokio::test(start_paused = true)]
async fn datahub_malformed_floods_change_nothing() {
    let options = DatahubOptions::default().keep_open(true);
    let mut target = Target::datahub(NodeRegistry::new(Ownership::Strict).seed(1), options).await;
    let mut stream = TcpStream::connect(target.addr).await.expect("connect");
    stream.write_all(b"`register 4000\n").await.expect("write");
    let mut registered = vec![0u8; b"200 OK\r\n1\r\n".len()];
    stream
        .read_exact(&mut registered)
        .await
        .expect("registered");
    let before = target.nodes().await;
    let mut garbage = Vec::new();
    for i in 0..1_000 {
        garbage.extend_from_slice(
            format!("`frobnicate {i}\nregister 1\n`register x\n`setstatus 99 1\n").as_bytes(),
        );
        garbage.extend_from_slice(b"\xff\xfe\n");
    }
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move { write.write_all(&garbage).await });
    let mut replies = vec![0u8; 5_000 * b"400 BAD REQUEST\r\n".len()];
    tokio::time::timeout(LIMIT, read.read_exact(&mut replies))
        .await
        .expect("in time")
        .expect("every line answered");
    assert!(writer.await.is_ok());
    assert_eq!(target.nodes().await, before, "nothing changed");
    assert_eq!(
        datahub_ask(target.addr, b"`requestnodes 1").await,
        b"404 NOT FOUND\r\n"
    );
}

#[tokio::test(start_paused = true)]
async fn datahub_a_client_that_never_reads_stops_being_read() {
    let options = DatahubOptions::default().keep_open(true);
    let mut target = Target::datahub(NodeRegistry::new(Ownership::Strict).seed(1), options).await;
    // 200 nodes with plenty of free slots make each `requestnodes 200` reply 4 KB.
    for port in 1..=200u16 {
        let reply = datahub_ask(target.addr, format!("`register {port}").as_bytes()).await;
        let id = String::from_utf8_lossy(&reply)
            .trim_start_matches("200 OK\r\n")
            .trim()
            .to_owned();
        assert_eq!(
            datahub_ask(target.addr, format!("`setstatus {id} 100000").as_bytes()).await,
            b"200 OK\r\n"
        );
    }
    let (_read, write) = TcpStream::connect(target.addr)
        .await
        .expect("connect")
        .into_split();
    let writer = flood(write, b"`requestnodes 200\n".repeat(20_000));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!writer.is_finished());
    // It was not read to the end: far fewer than its 20 000 requests were served.
    let served: i64 = target
        .nodes()
        .await
        .iter()
        .map(|n| 100_000 - n.status)
        .sum::<i64>()
        / 200;
    assert!(served < 20_000, "served {served}");
    // Others are served meanwhile.
    assert_eq!(
        datahub_ask(target.addr, b"`register 9999").await,
        b"200 OK\r\n201\r\n"
    );
    writer.abort();
}

#[tokio::test(start_paused = true)]
async fn datahub_many_identities_are_capped() {
    let options = DatahubOptions::default().keep_open(true);
    let mut target =
        Target::datahub(NodeRegistry::new(Ownership::Strict).max_nodes(100), options).await;
    let mut stream = TcpStream::connect(target.addr).await.expect("connect");
    let requests: Vec<u8> = (1..=1_000u16)
        .flat_map(|port| format!("`register {port}\n").into_bytes())
        .collect();
    stream.write_all(&requests).await.expect("write");
    stream.shutdown().await.expect("shutdown");
    let mut replies = Vec::new();
    tokio::time::timeout(LIMIT, stream.read_to_end(&mut replies))
        .await
        .expect("in time")
        .expect("replies");
    let text = String::from_utf8_lossy(&replies);
    assert_eq!(text.matches("200 OK\r\n").count(), 100);
    assert_eq!(text.matches("400 BAD REQUEST\r\n").count(), 900);
    assert_eq!(target.nodes().await.len(), 100);
}
