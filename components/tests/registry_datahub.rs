//! The SmartGet datahub server over real loopback sockets: byte-exact replies for every
//! command and error, malformed input leaving the registry unchanged, ownership, the
//! keep-open option, and 1 000 concurrent registrations.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axon::testing::Harness;
use axon::{Handle, Inbox, Outbox, Runtime};
use bytes::Bytes;
use chassis::tcp::ServerConfig;
use components::registry::{
    DATAHUB_SERVICE, DatahubHandler, DatahubOptions, Node, NodeRegistry, Ownership, RegistryAsk,
    RegistryChange, RegistryReply, RegistryRequest, datahub_server,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const OK: &[u8] = b"200 OK\r\n";
const BAD: &[u8] = b"400 BAD REQUEST\r\n";
const NOT_FOUND: &[u8] = b"404 NOT FOUND\r\n";
const LIMIT: Duration = Duration::from_secs(60);

/// A running datahub: its address, a way to ask the registry directly, and the
/// registry's published changes.
struct Hub {
    addr: SocketAddr,
    to_registry: Outbox<RegistryAsk>,
    changes: Inbox<RegistryChange>,
    _ext: axon::External,
    _server: Handle,
    _registry: Handle,
}

impl Hub {
    async fn start(ownership: Ownership, options: DatahubOptions) -> Hub {
        let rt = Runtime::new();
        let registry = rt
            .add(NodeRegistry::new(ownership).seed(1))
            .expect("registry");
        rt.register_service(DATAHUB_SERVICE, registry.inbox())
            .expect("service");
        let mut ext = rt.external("test");
        let (out_ref, to_registry) = ext.add_outbox::<RegistryAsk>("ask").expect("outbox");
        let (in_ref, changes) = ext
            .add_inbox::<RegistryChange>("changes", 4096)
            .expect("inbox");
        rt.link(out_ref, registry.inbox()).expect("link ask");
        rt.link(registry.outbox(), in_ref).expect("link changes");
        let registry = registry.start();
        let config = ServerConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let server = datahub_server(config, options).expect("bind");
        let addr = server.local_addr();
        let server = rt.spawn(server).expect("server");
        Hub {
            addr,
            to_registry,
            changes,
            _ext: ext,
            _server: server,
            _registry: registry,
        }
    }

    async fn nodes(&mut self) -> Vec<Node> {
        match self.to_registry.ask(RegistryRequest::Nodes, LIMIT).await {
            Ok(RegistryReply::Nodes(nodes)) => nodes,
            other => panic!("the registry answers with its nodes, not {other:?}"),
        }
    }

    /// One request on a fresh connection from 127.0.0.1; the reply up to the close.
    async fn ask(&self, request: &[u8]) -> Vec<u8> {
        ask_from(self.addr, Ipv4Addr::LOCALHOST, request).await
    }
}

async fn ask_from(addr: SocketAddr, from: Ipv4Addr, request: &[u8]) -> Vec<u8> {
    let exchange = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((from, 0)))?;
        let mut stream = socket.connect(addr).await?;
        stream.write_all(request).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    match tokio::time::timeout(LIMIT, exchange).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => panic!(
            "exchange {:?} failed: {e}",
            String::from_utf8_lossy(request)
        ),
        Err(_) => panic!("no reply to {:?}", String::from_utf8_lossy(request)),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_and_error_byte_for_byte() {
    let mut hub = Hub::start(Ownership::Strict, DatahubOptions::default()).await;
    let cases: &[(&[u8], &[u8])] = &[
        (b"`register 1234", b"200 OK\r\n1"),
        (
            b"`register 1234\r\n",
            b"400 BAD REQUEST\r\nNode already exists!",
        ),
        (b"`register 1235\n", b"200 OK\r\n2"),
        (b"`requestnodes 5", NOT_FOUND),
        (b"`setstatus 1 2", OK),
        (b"`setstatus 99 1", BAD),
        (b"`setstatus 0 1", BAD),
        (b"`requestnodes 5 1", b"200 OK\r\n127.0.0.1 1234\r\n"),
        (b"`requestnodes 1\r\n", b"200 OK\r\n127.0.0.1 1234\r\n"),
        (b"`requestnodes 1", NOT_FOUND),
        (b"`setstatus 2 -1", OK),
        (b"`requestnodes 3", NOT_FOUND),
        (b"`requestnodes 0", NOT_FOUND),
        (b"`deregister 1235", OK),
        (b"`deregister 1235", NOT_FOUND),
        (b"`register 1235", b"200 OK\r\n3"),
    ];
    for (request, expected) in cases {
        assert_eq!(
            text(&hub.ask(request).await),
            text(expected),
            "reply to {:?}",
            text(request)
        );
    }
    // Every change, and only the changes, was published, in order.
    let mut published = Vec::new();
    while let Ok(change) = hub.changes.try_recv() {
        published.push(match change {
            RegistryChange::Registered { id, port, .. } => format!("registered {id} {port}"),
            RegistryChange::StatusChanged { id, status } => format!("status {id} {status}"),
            RegistryChange::Reserved { nodes } => format!("reserved {nodes:?}"),
            RegistryChange::Deregistered { id } => format!("deregistered {id}"),
            other => format!("{other:?}"),
        });
    }
    let one = components::registry::NodeId::new(1);
    assert_eq!(
        published,
        vec![
            "registered 1 1234".to_owned(),
            "registered 2 1235".to_owned(),
            "status 1 2".to_owned(),
            format!("reserved {:?}", vec![(one, 1)]),
            format!("reserved {:?}", vec![(one, 0)]),
            "status 2 -1".to_owned(),
            "deregistered 2".to_owned(),
            "registered 3 1235".to_owned(),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requestnodes_returns_a_partial_list_and_decrements() {
    let mut hub = Hub::start(Ownership::Strict, DatahubOptions::default()).await;
    for port in [7001, 7002, 7003] {
        assert!(
            hub.ask(format!("`register {port}").as_bytes())
                .await
                .starts_with(OK)
        );
    }
    assert_eq!(hub.ask(b"`setstatus 1 1").await, OK);
    assert_eq!(hub.ask(b"`setstatus 3 2").await, OK);
    let reply = text(&hub.ask(b"`requestnodes 5").await);
    let mut lines: Vec<&str> = reply.split("\r\n").collect();
    assert_eq!(lines.remove(0), "200 OK");
    assert_eq!(lines.pop(), Some(""), "every node line ends with CRLF");
    let chosen: HashSet<&str> = lines.into_iter().collect();
    let expected: HashSet<&str> = ["127.0.0.1 7001", "127.0.0.1 7003"].into();
    assert_eq!(chosen, expected);
    let statuses: Vec<i64> = hub.nodes().await.iter().map(|n| n.status).collect();
    assert_eq!(statuses, vec![0, 0, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_is_a_bad_request_and_changes_nothing() {
    let mut hub = Hub::start(Ownership::Strict, DatahubOptions::default()).await;
    assert_eq!(hub.ask(b"`register 4000").await, b"200 OK\r\n1");
    assert_eq!(hub.ask(b"`setstatus 1 3").await, OK);
    let before = hub.nodes().await;
    while hub.changes.try_recv().is_ok() {}

    let oversized = [b"`".as_slice(), &[b'a'; 2000]].concat();
    let malformed: Vec<&[u8]> = vec![
        b"register 4001",
        b"`frobnicate 1",
        b"`register",
        b"`register abc",
        b"`register 0",
        b"`register 70000",
        b"`register -5",
        b"`register 4001 4002",
        b"`deregister",
        b"`deregister x",
        b"`setstatus 1",
        b"`setstatus x 1",
        b"`setstatus 1 -2",
        b"`setstatus 1 2 3",
        b"`setstatus 1 99999999999999999999999",
        b"`requestnodes",
        b"`requestnodes -1",
        b"`requestnodes many",
        b"`register \xff\xfe",
        b"\xc3\x28`setstatus 1 5",
        &oversized,
    ];
    for request in &malformed {
        assert_eq!(
            text(&hub.ask(request).await),
            text(BAD),
            "reply to {:?}",
            text(request)
        );
    }
    assert_eq!(
        hub.nodes().await,
        before,
        "a malformed request changed the table"
    );
    assert!(
        hub.changes.try_recv().is_err(),
        "a malformed request published a change"
    );
    // Still serving, and no id was used up.
    assert_eq!(hub.ask(b"`register 4001").await, b"200 OK\r\n2");
}

#[tokio::test]
async fn an_oversized_request_is_refused_without_asking() {
    let rt = Runtime::new();
    let registry = rt
        .add(NodeRegistry::new(Ownership::Strict))
        .expect("registry");
    rt.register_service(DATAHUB_SERVICE, registry.inbox())
        .expect("service");
    let _registry = registry.start();
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let options = DatahubOptions::default().keep_open(true);
    let mut h = Harness::with_runtime(rt, DatahubHandler::new(peer, options));
    // Valid as a request, but longer than the 1024 bytes the original read.
    let long = format!("`register 1234{}", " ".repeat(1100));
    h.send(Bytes::from(long)).await;
    assert_eq!(h.recv().await.as_deref(), Some(BAD));
    // Where the next request would start cannot be told: the connection closes.
    assert!(h.exit().await.is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_registering_address_may_change_a_node() {
    let mut hub = Hub::start(Ownership::Strict, DatahubOptions::default()).await;
    let other = Ipv4Addr::new(127, 0, 0, 2);
    assert_eq!(hub.ask(b"`register 5000").await, b"200 OK\r\n1");
    assert_eq!(ask_from(hub.addr, other, b"`setstatus 1 4").await, BAD);
    // A deregister names the requester's own (IP, port): not this node.
    assert_eq!(
        ask_from(hub.addr, other, b"`deregister 5000").await,
        NOT_FOUND
    );
    let nodes = hub.nodes().await;
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].status, 0);
    assert_eq!(hub.ask(b"`setstatus 1 4").await, OK);

    let mut open = Hub::start(Ownership::Open, DatahubOptions::default()).await;
    assert_eq!(open.ask(b"`register 5000").await, b"200 OK\r\n1");
    assert_eq!(ask_from(open.addr, other, b"`setstatus 1 4").await, OK);
    assert_eq!(open.nodes().await[0].status, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_open_answers_several_requests_on_one_connection() {
    let hub = Hub::start(Ownership::Strict, DatahubOptions::default().keep_open(true)).await;
    let exchange = async {
        let mut stream = TcpStream::connect(hub.addr).await?;
        stream.write_all(b"`register 1\n`register 2\n").await?;
        let mut first = vec![0u8; b"200 OK\r\n1\r\n200 OK\r\n2\r\n".len()];
        stream.read_exact(&mut first).await?;
        // The original client's form, with no line end: answered when the client
        // closes its side (only a line end says a request is complete).
        stream.write_all(b"`setstatus 2 1").await?;
        stream.shutdown().await?;
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await?;
        Ok::<_, std::io::Error>((first, rest))
    };
    let (first, rest) = tokio::time::timeout(LIMIT, exchange)
        .await
        .expect("in time")
        .expect("exchange");
    assert_eq!(text(&first), "200 OK\r\n1\r\n200 OK\r\n2\r\n");
    assert_eq!(rest, OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_registrations_get_distinct_ids_and_keep_their_status() {
    const N: u16 = 1000;
    let mut hub = Hub::start(Ownership::Strict, DatahubOptions::default()).await;
    let addr = hub.addr;
    let clients: Vec<_> = (1..=N)
        .map(|port| {
            tokio::spawn(async move {
                let reply = ask_from(
                    addr,
                    Ipv4Addr::LOCALHOST,
                    format!("`register {port}").as_bytes(),
                )
                .await;
                let id: u64 = text(&reply)
                    .strip_prefix("200 OK\r\n")
                    .and_then(|id| id.parse().ok())
                    .unwrap_or_else(|| panic!("bad reply {:?}", text(&reply)));
                let status = i64::from(port % 7) + 1;
                let set = ask_from(
                    addr,
                    Ipv4Addr::LOCALHOST,
                    format!("`setstatus {id} {status}").as_bytes(),
                )
                .await;
                assert_eq!(set, OK);
                (id, port, status)
            })
        })
        .collect();
    let mut results = Vec::new();
    for client in clients {
        results.push(client.await.expect("client"));
    }
    let ids: HashSet<u64> = results.iter().map(|r| r.0).collect();
    assert_eq!(ids, (1..=u64::from(N)).collect::<HashSet<_>>());
    let nodes = hub.nodes().await;
    assert_eq!(nodes.len(), usize::from(N));
    for (id, port, status) in results {
        let node = nodes
            .iter()
            .find(|n| n.id.get() == id)
            .expect("node present");
        assert_eq!((node.port, node.status), (port, status), "node {id}");
    }
}

/// Item 18: blank lines before a request are skipped, as the original skipped them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_after_blank_lines_is_answered() {
    let mut hub = Hub::start(Ownership::Strict, DatahubOptions::default()).await;
    assert_eq!(text(&hub.ask(b"\n`register 4000").await), "200 OK\r\n1");
    assert_eq!(text(&hub.ask(b"\r\n`register 4001").await), "200 OK\r\n2");
    assert_eq!(hub.ask(b"\r\n \r\n`deregister 4000\r\n").await, OK);
    let ports: Vec<u16> = hub.nodes().await.iter().map(|n| n.port).collect();
    assert_eq!(ports, vec![4001]);
}

/// Item 18: with `keep_open`, a request is complete at its line end, however the
/// bytes were cut into segments.
#[tokio::test(start_paused = true)]
async fn keep_open_joins_a_request_cut_across_segments() {
    let mut hub = Hub::start(Ownership::Strict, DatahubOptions::default().keep_open(true)).await;
    let mut stream = TcpStream::connect(hub.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(b"\r\n`regis").await.expect("write");
    // On the paused clock this lets the server read the first segment on its own.
    tokio::time::sleep(Duration::from_millis(10)).await;
    stream
        .write_all(b"ter 8000\r\n`register 8001\n")
        .await
        .expect("write");
    let mut replies = vec![0u8; b"200 OK\r\n1\r\n200 OK\r\n2\r\n".len()];
    stream.read_exact(&mut replies).await.expect("two replies");
    assert_eq!(text(&replies), "200 OK\r\n1\r\n200 OK\r\n2\r\n");
    stream.shutdown().await.expect("shutdown");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.expect("close");
    assert!(rest.is_empty(), "{}", text(&rest));
    assert_eq!(hub.nodes().await.len(), 2);
}
