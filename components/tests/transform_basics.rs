//! Transform, FilterMap and Filter: order, typed chains, lifecycle, a missing destination.

use axon::testing::Harness;
use axon::{Context, Control, Exit, Runtime, component::from_fn};
use components::transform::{Error, Filter, FilterMap, Transform};

#[tokio::test]
async fn transform_maps_every_message_in_order() {
    let mut h = Harness::new(Transform::new(|n: u32| n * 10));
    for n in 1..=3 {
        h.send(n).await;
    }
    h.finish().await;
    let mut got = Vec::new();
    while let Some(n) = h.recv().await {
        got.push(n);
    }
    assert_eq!(got, [10, 20, 30]);
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn transform_keeps_state_between_messages() {
    let mut count = 0;
    let mut h = Harness::new(Transform::new(move |line: String| {
        count += 1;
        format!("{count}: {line}")
    }));
    h.send("a".into()).await;
    h.send("b".into()).await;
    assert_eq!(h.recv().await.as_deref(), Some("1: a"));
    assert_eq!(h.recv().await.as_deref(), Some("2: b"));
}

#[tokio::test]
async fn filter_map_and_filter_drop_what_they_reject() {
    let mut h = Harness::new(FilterMap::new(|s: String| s.parse::<i32>().ok()));
    for s in ["1", "x", "-2", ""] {
        h.send(s.to_string()).await;
    }
    h.finish().await;
    assert_eq!(h.recv().await, Some(1));
    assert_eq!(h.recv().await, Some(-2));
    assert_eq!(h.recv().await, None);

    let mut h = Harness::new(Filter::new(|n: &u8| n.is_multiple_of(2)));
    for n in 0..6 {
        h.send(n).await;
    }
    h.finish().await;
    let mut got = Vec::new();
    while let Some(n) = h.recv().await {
        got.push(n);
    }
    assert_eq!(got, [0, 2, 4]);
}

#[tokio::test]
async fn shutdown_ends_at_once_and_passes_on() {
    let mut h = Harness::new(Transform::new(|s: String| s.len()));
    h.send_control(Control::Shutdown).await;
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::ShutDown));
    assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
}

#[tokio::test]
async fn chained_transforms_link_by_type() {
    let rt = Runtime::new();
    let len = rt
        .add(Transform::new(|s: String| s.len()).named("len"))
        .unwrap();
    let show = rt
        .add(Transform::new(|n: usize| format!("{n} bytes")).named("show"))
        .unwrap();
    let mut ext = rt.external("test");
    let (in_ref, mut input) = ext.add_outbox::<String>("in").unwrap();
    let (out_ref, mut output) = ext.add_inbox::<String>("out", 8).unwrap();
    rt.link(in_ref, len.inbox()).unwrap();
    rt.link(len.outbox(), show.inbox()).unwrap();
    rt.link(show.outbox(), out_ref).unwrap();
    let snap = rt.snapshot();
    assert!(snap.named("len").is_some() && snap.named("show").is_some());
    let _running = [len.start(), show.start()];
    input.send("hello".into()).await.unwrap();
    assert_eq!(output.recv().await.as_deref(), Some("5 bytes"));
}

#[tokio::test]
async fn a_transform_without_destination_fails() {
    let rt = Runtime::new();
    let t = rt.add(Transform::new(|n: u8| n)).unwrap();
    let source = rt
        .add(from_fn("source", |mut ctx: Context<(), u8>| async move {
            ctx.send(1).await?;
            Ok(())
        }))
        .unwrap();
    rt.link(source.outbox(), t.inbox()).unwrap();
    let (t, _source) = (t.start(), source.start());
    let exit = t.join().await;
    let Exit::Failed(e) = &exit else {
        panic!("expected a failure, got {exit}");
    };
    assert_eq!(e.downcast_ref::<Error>(), Some(&Error::NoDestination));
}
