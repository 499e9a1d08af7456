//! Many connections opened and closed leave nothing behind.

mod tcp_support;

use axon::Runtime;
use chassis::tcp::{Echo, ServerCore};
use tcp_support::{bounded, round_trip, wait_for};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 2_000;
const AT_ONCE: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_connections_leave_the_graph_as_it_was() {
    let rt = Runtime::new();
    let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await.unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let handle = rt.spawn(server).unwrap();
    let baseline = rt.live_components();
    let links = rt.snapshot().links.len();

    for batch in 0..CONNECTIONS / AT_ONCE {
        let mut tasks = Vec::new();
        for i in 0..AT_ONCE {
            tasks.push(tokio::spawn(async move {
                let mut c = TcpStream::connect(addr).await.unwrap();
                let msg = format!("{batch}/{i}");
                assert_eq!(round_trip(&mut c, msg.as_bytes()).await, msg.as_bytes());
            }));
        }
        for t in tasks {
            bounded("a client", t).await.unwrap();
        }
    }

    wait_for(&rt, &stats, "every connection's components to go", || {
        rt.live_components() == baseline
            && stats.live() == 0
            && stats.closed() == CONNECTIONS as u64
    })
    .await;
    assert_eq!(rt.snapshot().links.len(), links);
    assert_eq!(stats.accepted(), CONNECTIONS as u64);
    assert_eq!(stats.closed(), CONNECTIONS as u64);
    assert_eq!(stats.handler_failures(), 0);

    handle.shutdown().await.unwrap();
    let report = {
        bounded("server end", handle.join()).await;
        stats.report().unwrap()
    };
    assert!(report.open_at_shutdown.is_empty());
}
