//! Two Zenoh sessions in one process on loopback ("central" listens, "station"
//! connects): links by name, the type check across hosts, the snapshot naming remote
//! links. Every wait is bounded.

use std::time::Duration;

use axon::{Context, Exit, Policy, Runtime, component::from_fn};
use remote::{Remote, RemoteError, Role, ZenohConfig};
use tokio::sync::oneshot;
use tokio::time::timeout;

async fn two_hosts() -> (Remote, Remote) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let listen = ZenohConfig::default().listen(&addr).unwrap();
    let connect = ZenohConfig::default().connect(&addr).unwrap();
    let central = Remote::open("central", &listen).await.unwrap();
    (central, Remote::open("station", &connect).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_made_by_name_deliver_and_both_hosts_name_the_link() {
    let (central, station) = two_hosts().await;
    let rt = Runtime::new();
    let (done, got) = oneshot::channel();
    let archive = rt
        .add(from_fn(
            "archive",
            move |mut ctx: Context<String, ()>| async move {
                let mut all = Vec::new();
                while let Some(s) = ctx.recv().await {
                    all.push(s);
                }
                let _ = done.send((all, ctx.ended_by()));
                Ok(())
            },
        ))
        .unwrap();
    central
        .expose_named::<String>(&rt, archive.id(), "inbox")
        .unwrap();
    archive.start();
    let fitter = rt
        .add(from_fn(
            "fitter",
            |mut ctx: Context<(), String>| async move {
                for s in ["a", "b", "c"] {
                    ctx.send(s.to_string()).await?;
                }
                Ok(())
            },
        ))
        .unwrap();
    let sender = station
        .link_to_named::<String>(
            &rt,
            fitter.id(),
            "outbox",
            "central/archive/inbox",
            Policy::Block,
        )
        .unwrap();
    fitter.start();
    let (all, ended_by) = timeout(Duration::from_secs(30), got)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all, ["a", "b", "c"]);
    assert_eq!(ended_by, Some(axon::Control::ProducerFinished));
    assert!(matches!(sender.join().await, Exit::Finished));

    let (r, s) = (&central.links()[0], &station.links()[0]);
    assert_eq!(
        (r.key.as_str(), r.role, r.messages),
        ("axon/central/archive/inbox", Role::Receiver, 3)
    );
    assert_eq!(
        (s.key.as_str(), s.role, s.messages),
        ("axon/central/archive/inbox", Role::Sender, 3)
    );
    let json = station.snapshot_json(&rt);
    assert!(
        json.contains("\"remote_links\":[{\"key\":\"axon/central/archive/inbox\""),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_type_mismatch_ends_the_sender_naming_both_types() {
    let (central, station) = two_hosts().await;
    let rt = Runtime::new();
    let counter = rt
        .add(from_fn("counter", |mut ctx: Context<u64, ()>| async move {
            while ctx.recv().await.is_some() {}
            Ok(())
        }))
        .unwrap();
    central.expose(&rt, counter.inbox()).unwrap();
    counter.start();
    let words = rt
        .add(from_fn(
            "words",
            |mut ctx: Context<(), String>| async move {
                ctx.send("one".to_string()).await?;
                Ok(())
            },
        ))
        .unwrap();
    let to = "central/counter/inbox".parse().unwrap();
    let sender = station
        .link_to(&rt, words.outbox(), &to, Policy::Block)
        .unwrap();
    words.start();
    let exit = timeout(Duration::from_secs(30), sender.join())
        .await
        .unwrap();
    let why = exit.to_string();
    assert!(matches!(exit, Exit::Failed(_)), "{why}");
    assert!(
        why.contains("takes `u64`") && why.contains("String"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_names_are_errors_that_say_what_is_wrong() {
    let (_central, station) = two_hosts().await;
    let rt = Runtime::new();
    let p = rt
        .add(from_fn("p", |_ctx: Context<(), u64>| async { Ok(()) }))
        .unwrap();
    let bad_box = station.link_to_named::<u64>(&rt, p.id(), "nope", "a/b/c", Policy::Block);
    assert!(matches!(bad_box, Err(RemoteError::Link(_))));
    let bad_type = station.link_to_named::<String>(&rt, p.id(), "outbox", "a/b/c", Policy::Block);
    assert!(matches!(bad_type, Err(RemoteError::Link(_))));
    let bad_name = station.link_to_named::<u64>(&rt, p.id(), "outbox", "a/b", Policy::Block);
    assert!(
        bad_name
            .unwrap_err()
            .to_string()
            .contains("expected GRAPH/COMPONENT/BOX")
    );
}

/// The value of the counter `name` that the endpoint called `endpoint` publishes, if
/// that endpoint is alive.
fn published(rt: &Runtime, endpoint: &str, name: &str) -> Option<u64> {
    let snap = rt.snapshot();
    let c = snap.components.iter().find(|c| c.name == endpoint)?;
    c.counters.iter().find(|k| k.name == name).map(|k| k.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_endpoints_publish_their_links_counters_in_the_snapshot() {
    let (central, station) = two_hosts().await;
    let rt = Runtime::new();
    let sink = rt
        .add(from_fn("sink", |mut ctx: Context<u32, ()>| async move {
            while ctx.recv().await.is_some() {}
            Ok(())
        }))
        .unwrap();
    central
        .expose_named::<u32>(&rt, sink.id(), "inbox")
        .unwrap();
    sink.start();
    // A producer that sends five and then stays, so both endpoints stay alive.
    let source = rt
        .add(from_fn("source", |mut ctx: Context<(), u32>| async move {
            for i in 0..5 {
                ctx.send(i).await?;
            }
            std::future::pending::<()>().await;
            Ok(())
        }))
        .unwrap();
    station
        .link_to_named::<u32>(
            &rt,
            source.id(),
            "outbox",
            "central/sink/inbox",
            Policy::Block,
        )
        .unwrap();
    source.start();
    let key = "axon/central/sink/inbox";
    let (sender, receiver) = (
        format!("remote-sender {key}"),
        format!("remote-receiver {key}"),
    );
    // Wait (bounded) until the receiving endpoint has delivered all five.
    let mut delivered = None;
    for _ in 0..1000 {
        delivered = published(&rt, &receiver, "remote_messages_total");
        if delivered == Some(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        delivered,
        Some(5),
        "the receiver publishes what it delivered"
    );
    assert_eq!(published(&rt, &sender, "remote_messages_total"), Some(5));
    assert_eq!(published(&rt, &receiver, "remote_dropped_total"), Some(0));
    assert_eq!(published(&rt, &receiver, "remote_peer_live"), Some(1));
    rt.shutdown(Duration::from_secs(5)).await;
}
