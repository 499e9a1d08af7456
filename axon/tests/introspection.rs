//! Introspection: snapshots with box counters, exports, and the stream of changes.

use axon::component::from_fn;
use axon::{Context, GraphEvent, Policy, Runtime};

#[tokio::test]
async fn a_snapshot_shows_components_boxes_counters_and_links() {
    let rt = Runtime::new();
    let src = rt
        .add(from_fn("numbers", |mut ctx: Context<(), u32>| async move {
            for i in 0..5 {
                ctx.send(i).await?;
            }
            std::future::pending::<()>().await;
            Ok(())
        }))
        .unwrap();
    let mut ext = rt.external("tap");
    let (in_ref, mut inbox) = ext.add_inbox::<u32>("in", 16).unwrap();
    rt.link_with(src.outbox(), in_ref, Policy::DropOldest)
        .unwrap();
    let h = src.start();
    for _ in 0..3 {
        inbox.recv().await.unwrap();
    }
    while inbox.len() < 2 {
        tokio::task::yield_now().await;
    }
    let snap = rt.snapshot();
    let numbers = snap.named("numbers").unwrap();
    assert_eq!(numbers.state, "running");
    let outbox = numbers.boxes.iter().find(|b| b.name == "outbox").unwrap();
    assert_eq!((outbox.sent, outbox.message_type), (5, "u32"));
    let tap = snap.named("tap").unwrap();
    let tin = tap.boxes.iter().find(|b| b.name == "in").unwrap();
    assert_eq!((tin.received, tin.depth, tin.capacity), (3, 2, Some(16)));
    let link = &snap.links[0];
    assert_eq!(
        (link.from_box.as_str(), link.to_box.as_str(), link.policy),
        ("outbox", "in", Policy::DropOldest)
    );

    let json: serde_json::Value = serde_json::from_str(&snap.to_json()).unwrap();
    assert_eq!(json["components"].as_array().unwrap().len(), 2);
    let dot = snap.to_dot();
    assert!(
        dot.contains(&format!("c{} -> c{}", numbers.id, tap.id)) && dot.contains("drop oldest"),
        "{dot}"
    );
    let mermaid = snap.to_mermaid();
    assert!(
        mermaid.contains(&format!("c{} -->", numbers.id)) && mermaid.contains("numbers#"),
        "{mermaid}"
    );
    h.kill();
    h.join().await;
}

#[tokio::test]
async fn the_change_stream_reports_additions_links_and_exits_in_order() {
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    let a = rt
        .add(from_fn("a", |_c: Context<(), u8>| async { Ok(()) }))
        .unwrap();
    let b = rt
        .add(from_fn("b", |mut c: Context<u8, ()>| async move {
            while c.recv().await.is_some() {}
            Ok(())
        }))
        .unwrap();
    rt.link(a.outbox(), b.inbox()).unwrap();
    rt.link(a.signal(), b.control()).unwrap();
    let (ha, hb) = (a.start(), b.start());
    ha.join().await;
    hb.join().await;
    let mut seen = Vec::new();
    while let Ok(ev) = events.try_recv() {
        seen.push(match ev {
            GraphEvent::Added { name, .. } => format!("added {name}"),
            GraphEvent::Started { .. } => "started".into(),
            GraphEvent::Linked { from, to, .. } => {
                format!("linked {} {}", short(&from), short(&to))
            }
            GraphEvent::Unlinked { .. } => "unlinked".into(),
            GraphEvent::Exited { name, exit, .. } => format!("exited {name} {exit}"),
            other => format!("{other:?}"),
        });
    }
    let pos = |s: &str| {
        seen.iter()
            .position(|e| e == s)
            .unwrap_or_else(|| panic!("{s} missing from {seen:?}"))
    };
    assert!(pos("added a") < pos("linked a.outbox b.inbox"));
    assert!(pos("linked a.signal b.control") < pos("exited a finished"));
    assert!(pos("exited a finished") < pos("exited b finished"));
    assert_eq!(rt.live_components(), 0);
}

/// `a#3.outbox` -> `a.outbox`.
fn short(label: &str) -> String {
    let (name, rest) = label.split_once('#').unwrap();
    let (_, bx) = rest.split_once('.').unwrap();
    format!("{name}.{bx}")
}

#[tokio::test]
async fn dot_lists_each_nodes_boxes_and_the_snapshot_lists_services() {
    let rt = Runtime::new();
    let err = rt.service::<String>("kv-store").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no service named \"kv-store\"; registered: none"
    );
    let store = rt
        .add(from_fn("store", |_c: Context<String, ()>| async { Ok(()) }))
        .unwrap();
    rt.register_service("kv-store", store.inbox()).unwrap();
    let err = rt.service::<String>("kv").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no service named \"kv\"; registered: kv-store"
    );
    let snap = rt.snapshot();
    assert_eq!(snap.services.len(), 1);
    assert_eq!(snap.services[0].name, "kv-store");
    assert_eq!(snap.services[0].component, store.id());
    let dot = snap.to_dot();
    assert!(
        dot.contains(&format!(
            "c{} [label=\"store#{}\\nin: inbox, control\\nout: outbox, signal\"]",
            store.id().get(),
            store.id().get()
        )),
        "{dot}"
    );
}
