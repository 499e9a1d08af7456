//! The protocol handlers ask the node registry with axon's request and reply, so the
//! runtime's snapshot counts each handler's requests and replies on its `registry`
//! outbox.

use std::time::Duration;

use axon::testing::Harness;
use axon::{AskInfo, Runtime};
use bytes::Bytes;
use components::registry::{
    DATAHUB_SERVICE, DatahubHandler, DatahubOptions, LUMINA_SERVICE, LuminaConnection,
    NodeRegistry, NodeServerOptions, Ownership,
};

const LIMIT: Duration = Duration::from_secs(30);

/// The request counters of `component`'s `registry` outbox: asked, replied, timed out,
/// failed, in flight.
fn registry_asks(rt: &Runtime, component: axon::ComponentId) -> (u64, u64, u64, u64, u64) {
    let snapshot = rt.snapshot();
    let info = snapshot.component(component).expect("the handler runs");
    info.boxes
        .iter()
        .find(|b| b.name == "registry")
        .and_then(|b| b.asks)
        .map(|a: AskInfo| (a.asked, a.replied, a.timed_out, a.failed, a.in_flight))
        .expect("the registry outbox counts its requests")
}

/// A runtime with a running registry behind `service`.
fn runtime_with_registry(service: &str) -> (Runtime, axon::Handle) {
    let rt = Runtime::new();
    let registry = rt
        .add(NodeRegistry::new(Ownership::Strict))
        .expect("registry");
    rt.register_service(service, registry.inbox())
        .expect("service");
    let registry = registry.start();
    (rt, registry)
}

async fn recv<I: Send + 'static>(h: &mut Harness<I, Bytes>) -> Bytes {
    tokio::time::timeout(LIMIT, h.recv())
        .await
        .expect("a reply in time")
        .expect("a reply")
}

#[tokio::test(start_paused = true)]
async fn a_datahub_connection_shows_its_requests_and_replies() {
    let (rt, _registry) = runtime_with_registry(DATAHUB_SERVICE);
    let handler = DatahubHandler::new(
        "10.0.0.2".parse().expect("ip"),
        DatahubOptions::default().keep_open(true),
    );
    let mut h = Harness::with_runtime(rt.clone(), handler);
    h.send(Bytes::from_static(b"`register 8000\n`setstatus 1 1\n"))
        .await;
    assert_eq!(&recv(&mut h).await[..], b"200 OK\r\n1\r\n");
    assert_eq!(&recv(&mut h).await[..], b"200 OK\r\n");
    assert_eq!(registry_asks(&rt, h.id()), (2, 2, 0, 0, 0));
    // A request longer than the protocol allows is answered without asking.
    let mut long = vec![b'x'; 2000];
    long.push(b'\n');
    h.send(Bytes::from(long)).await;
    assert_eq!(&recv(&mut h).await[..], b"400 BAD REQUEST\r\n");
    assert_eq!(registry_asks(&rt, h.id()).0, 2);
}

#[tokio::test(start_paused = true)]
async fn a_lumina_connection_shows_its_requests_and_replies() {
    let (rt, _registry) = runtime_with_registry(LUMINA_SERVICE);
    let conn = LuminaConnection::new(
        "127.0.0.1:40000".parse().expect("address"),
        NodeServerOptions::default(),
    );
    let mut h = Harness::with_runtime(rt.clone(), conn);
    for seq in 1..=3 {
        h.send(format!(r#"{{"name":"serverid","seq":{seq}}}"#))
            .await;
        let reply = String::from_utf8(recv(&mut h).await.to_vec()).expect("utf-8");
        assert!(reply.contains(&format!(r#""seq":{seq}"#)), "{reply}");
    }
    // Connect, then one request per line.
    assert_eq!(registry_asks(&rt, h.id()), (4, 4, 0, 0, 0));
}
