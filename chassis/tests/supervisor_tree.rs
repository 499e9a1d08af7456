//! Supervisor: trees of supervisors, and a ServerCore kept serving under one.

mod supervisor_support;

use std::time::Duration;

use axon::testing::Harness;
use axon::{Exit, Runtime};
use chassis::supervisor::{Backoff, ChildSpec, Intensity, Supervisor};
use chassis::tcp::{Echo, ServerConfig, ServerCore};
use supervisor_support::{PANIC, Starts, bounded, ids_named, next_restart, worker_spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(start_paused = true)]
async fn a_supervisor_that_gives_up_is_restarted_by_its_parent() {
    let starts = Starts::default();
    let inner = {
        let starts = starts.clone();
        ChildSpec::new("inner", move || {
            Supervisor::<u32, (String, u32)>::new()
                .named("inner")
                // Gives up at the first failure.
                .intensity(Intensity::new(0, Duration::from_secs(5)))
                .child(worker_spec("w", &starts))
                .link(("self", "inbox"), ("w", "inbox"))
                .link(("w", "outbox"), ("self", "outbox"))
        })
    };
    let outer = Supervisor::<u32, (String, u32)>::new()
        .named("outer")
        .backoff(Backoff::none())
        .child(inner)
        .link(("self", "inbox"), ("inner", "inbox"))
        .link(("inner", "outbox"), ("self", "outbox"));
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    let mut h = Harness::with_runtime(rt.clone(), outer);
    h.send(1).await;
    assert_eq!(bounded("reply", h.recv()).await, Some(("w".into(), 1)));
    h.send(PANIC).await;
    let (child, id, restarts, reason) = next_restart(&mut events).await;
    assert_eq!((child.as_str(), restarts), ("inner", 1));
    assert!(
        reason.contains("gave up") && reason.contains("w got zero"),
        "{reason}"
    );
    assert_eq!(ids_named(&rt, "inner"), [id]);
    // Through two supervisors' holds, the same link reaches the new inner tree.
    h.send(2).await;
    assert_eq!(bounded("reply", h.recv()).await, Some(("w".into(), 2)));
    assert_eq!(starts.count(), 2);
    let snap = rt.snapshot();
    assert_eq!(snap.component(id).unwrap().restarts, 1);
    h.send_control(axon::Control::Shutdown).await;
    assert!(matches!(bounded("end", h.exit()).await, Exit::ShutDown));
}

async fn echo_once(addr: std::net::SocketAddr, msg: &[u8]) -> Vec<u8> {
    let mut s = bounded("connect", TcpStream::connect(addr)).await.unwrap();
    s.write_all(msg).await.unwrap();
    let mut back = vec![0; msg.len()];
    bounded("echo", s.read_exact(&mut back)).await.unwrap();
    back
}

#[tokio::test]
async fn a_server_core_under_a_supervisor_keeps_serving_after_it_is_killed() {
    // Find a free port, then let the supervisor's factory bind it for every instance.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = ChildSpec::try_new("echo", move || {
        ServerCore::new(ServerConfig::new(addr), |_| Echo)
    });
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    let sup = rt
        .spawn(
            Supervisor::<(), ()>::new()
                .backoff(Backoff::none())
                .child(server),
        )
        .unwrap();
    assert_eq!(echo_once(addr, b"first").await, b"first");
    let first = ids_named(&rt, "ServerCore");
    assert_eq!(
        first.len(),
        1,
        "{:?}",
        rt.snapshot()
            .components
            .iter()
            .map(|c| &c.name)
            .collect::<Vec<_>>()
    );
    rt.kill(first[0]);
    let (child, id, restarts, reason) = next_restart(&mut events).await;
    assert_eq!((child.as_str(), restarts), ("echo", 1));
    assert!(reason.contains("abort"), "{reason}");
    assert_eq!(ids_named(&rt, "ServerCore"), [id]);
    assert_eq!(echo_once(addr, b"second").await, b"second");
    sup.shutdown().await.unwrap();
    assert!(matches!(bounded("end", sup.join()).await, Exit::ShutDown));
}

#[tokio::test]
async fn a_factory_that_fails_at_restart_is_retried_within_the_intensity() {
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let spec = {
        let attempts = attempts.clone();
        ChildSpec::try_new("flaky", move || {
            let n = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The first instance is made; the next two attempts fail; then it works.
            if n == 1 || n == 2 {
                Err(format!("attempt {n} failed"))
            } else {
                Ok(supervisor_support::worker("flaky", Starts::default()))
            }
        })
    };
    let sup = Supervisor::<u32, (String, u32)>::new()
        .backoff(Backoff::none())
        .intensity(Intensity::new(5, Duration::from_secs(60)))
        .child(spec)
        .link(("self", "inbox"), ("flaky", "inbox"))
        .link(("flaky", "outbox"), ("self", "outbox"));
    let mut h = Harness::new(sup);
    h.send(PANIC).await;
    h.send(3).await;
    assert_eq!(bounded("reply", h.recv()).await, Some(("flaky".into(), 3)));
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 4);
}
