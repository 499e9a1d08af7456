//! Pipeline: lifecycle through the chain, passthrough resolution, failure policy.

use std::future::Future;
use std::time::Duration;

use axon::introspect::BoxInfo;
use axon::testing::Harness;
use axon::{
    BoxError, Component, Context, Control, Exit, GraphEvent, LinkError, Runtime, Setup, Snapshot,
    component::from_fn,
};
use chassis::pipeline;
use chassis::pipeline::{ChildFailed, Pipeline};
use tokio::sync::broadcast;

/// Run a test body; with the clock paused, a graph that deadlocks lets time jump and
/// fails here instead of hanging.
async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(3600), f)
        .await
        .expect("the graph deadlocked")
}

/// Adds one to each number until its input ends.
fn relay(name: &'static str) -> impl Component<In = u32, Out = u32> {
    from_fn(name, |mut ctx: Context<u32, u32>| async move {
        while let Some(n) = ctx.recv().await {
            ctx.send(n + 1).await?;
        }
        Ok(())
    })
}

/// Never reads its inbox; ends on the first lifecycle message.
fn hold() -> impl Component<In = u32, Out = u32> {
    from_fn("hold", |mut ctx: Context<u32, u32>| async move {
        while let Some(c) = ctx.control.recv().await {
            if c.is_stop() || c.ends_input() {
                break;
            }
        }
        Ok(())
    })
}

/// (name, exit) of every component that ended, in order.
fn exits(events: &mut broadcast::Receiver<GraphEvent>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let GraphEvent::Exited { name, exit, .. } = ev {
            out.push((name, exit));
        }
    }
    out
}

fn box_info<'a>(snap: &'a Snapshot, component: &str, name: &str) -> &'a BoxInfo {
    let c = snap
        .named(component)
        .unwrap_or_else(|| panic!("no component {component}"));
    c.boxes
        .iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| panic!("{component} has no box {name}"))
}

#[tokio::test(start_paused = true)]
async fn shutdown_crosses_five_stages_and_leaves_through_signal() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let p = pipeline![
            relay("s1"),
            relay("s2"),
            relay("s3"),
            relay("s4"),
            relay("s5")
        ];
        let mut h = Harness::with_runtime(rt.clone(), p);
        h.send(0).await;
        assert_eq!(h.recv().await, Some(5), "data crosses all five stages");

        h.send_control(Control::Shutdown).await;
        assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
        assert!(matches!(h.exit().await, Exit::ShutDown));
        assert_eq!(h.recv_signal().await, None, "one Shutdown, no more");

        let stages: Vec<(String, String)> = exits(&mut events)
            .into_iter()
            .filter(|(name, _)| name.starts_with('s'))
            .collect();
        let expected: Vec<(String, String)> = (1..=5)
            .map(|i| (format!("s{i}"), "shut down".to_string()))
            .collect();
        assert_eq!(
            stages, expected,
            "each stage shut down by the one before it"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn producer_finished_from_first_stage_reaches_last_with_all_data() {
    within(async {
        let count = from_fn("count", |mut ctx: Context<(), u32>| async move {
            for n in 1..=300 {
                ctx.send(n).await?;
            }
            Ok(())
        });
        let p: Pipeline<(), u32> = Pipeline::new(count).then(relay("a")).then(relay("b"));
        let mut h = Harness::new(p);
        for n in 1..=300 {
            assert_eq!(h.recv().await, Some(n + 2));
        }
        assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
        assert!(matches!(h.exit().await, Exit::Finished));
        assert_eq!(h.recv().await, None);
        assert_eq!(
            h.recv_signal().await,
            None,
            "the Pipeline adds no signal of its own"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn nested_pipelines_deliver_into_the_innermost_inbox() {
    within(async {
        for link_before_start in [true, false] {
            let rt = Runtime::new();
            let outer =
                Pipeline::new(Pipeline::new(Pipeline::new(hold()).named("inner")).named("middle"))
                    .named("outer");
            let p = rt.add(outer).unwrap();
            let mut ext = rt.external("test");
            let (to_r, mut to) = ext.add_outbox::<u32>("to").unwrap();
            let (sig_r, mut signal) = ext.add_inbox::<Control>("signal", 4).unwrap();
            let handle = if link_before_start {
                rt.link(to_r, p.inbox()).unwrap();
                rt.link(p.signal(), sig_r).unwrap();
                p.start()
            } else {
                let (inbox, sig) = (p.inbox(), p.signal());
                let handle = p.start();
                rt.link(to_r, inbox).unwrap();
                rt.link(sig, sig_r).unwrap();
                handle
            };
            for n in 0..10 {
                to.send(n).await.unwrap();
            }

            let snap = rt.snapshot();
            for name in ["outer", "middle", "inner"] {
                for b in ["inbox", "control"] {
                    let info = box_info(&snap, name, b);
                    assert!(info.passthrough, "{name}.{b} is a passthrough");
                    assert_eq!(info.depth, 0);
                }
            }
            let landed = box_info(&snap, "hold", "inbox");
            assert!(!landed.passthrough);
            assert_eq!(landed.depth, 10, "all ten landed in the innermost inbox");
            assert_eq!(box_info(&snap, "test", "to").sent, 10);

            handle.shutdown().await.unwrap();
            assert_eq!(signal.recv().await, Some(Control::Shutdown));
            assert!(matches!(handle.join().await, Exit::ShutDown));
        }
    })
    .await;
}

/// A composite shell with nothing inside: its inbox is a passthrough.
struct Hollow;

impl Component for Hollow {
    type In = u32;
    type Out = ();

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.make_passthrough("inbox")
    }

    async fn run(self, _ctx: Context<u32, ()>) -> Result<(), BoxError> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn passthrough_chain_resolves_whatever_the_link_order() {
    within(async {
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let rt = Runtime::new();
            let outer = rt.add(Hollow).unwrap();
            let middle = rt.add(Hollow).unwrap();
            let sink = rt.add(hold()).unwrap();
            let mut ext = rt.external("test");
            let (to_r, mut to) = ext.add_outbox::<u32>("to").unwrap();
            let links = [
                (to_r, outer.inbox()),
                (outer.inbox(), middle.inbox()),
                (middle.inbox(), sink.inbox()),
            ];
            for i in order {
                rt.link(links[i].0, links[i].1).unwrap();
            }
            let (outer_id, middle_id, sink_id) = (outer.id(), middle.id(), sink.id());
            let _handles = (outer.start(), middle.start(), sink.start());
            for n in 0..3 {
                to.send(n).await.unwrap();
            }
            let snap = rt.snapshot();
            let inbox = |id| {
                snap.component(id)
                    .unwrap()
                    .boxes
                    .iter()
                    .find(|b| b.name == "inbox")
                    .unwrap()
                    .clone()
            };
            assert!(inbox(outer_id).passthrough && inbox(middle_id).passthrough);
            assert_eq!(inbox(sink_id).depth, 3, "order {order:?}");
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_stage_fails_its_pipeline_only() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let boom = from_fn("boom", |mut ctx: Context<u32, u32>| async move {
            while let Some(n) = ctx.recv().await {
                assert_ne!(n, 3, "boom at {n}");
                ctx.send(n).await?;
            }
            Ok(())
        });
        let broken = rt
            .add(pipeline![relay("b1"), boom, relay("b3")].named("broken"))
            .unwrap();
        let healthy = rt
            .add(pipeline![relay("h1"), relay("h2")].named("healthy"))
            .unwrap();
        let mut ext = rt.external("test");
        let (r, mut to_broken) = ext.add_outbox::<u32>("to_broken").unwrap();
        rt.link(r, broken.inbox()).unwrap();
        let (r, mut broken_signal) = ext.add_inbox::<Control>("broken_signal", 8).unwrap();
        rt.link(broken.signal(), r).unwrap();
        let (r, mut to_healthy) = ext.add_outbox::<u32>("to_healthy").unwrap();
        rt.link(r, healthy.inbox()).unwrap();
        let (r, mut healthy_control) = ext.add_outbox::<Control>("healthy_control").unwrap();
        rt.link(r, healthy.control()).unwrap();
        let (r, mut from_healthy) = ext.add_inbox::<u32>("from_healthy", 8).unwrap();
        rt.link(healthy.outbox(), r).unwrap();
        let (broken, healthy) = (broken.start(), healthy.start());

        for n in 1..=5 {
            // Sends after the failure find no destination; that is expected.
            let _ = to_broken.send(n).await;
        }
        assert_eq!(broken_signal.recv().await, Some(Control::Shutdown));
        let exit = broken.join().await;
        let Exit::Failed(e) = &exit else {
            panic!("expected a failure, got {exit}")
        };
        let failed = e.downcast_ref::<ChildFailed>().expect("names the child");
        assert_eq!(failed.name, "boom");
        assert!(
            matches!(&failed.exit, Exit::Panicked(m) if m.contains("boom at 3")),
            "{failed}"
        );
        let ended = exits(&mut events);
        for stage in ["b1", "boom", "b3", "broken"] {
            assert!(ended.iter().any(|(n, _)| n == stage), "{stage} ended");
        }

        // The sibling pipeline and the runtime carry on.
        to_healthy.send(10).await.unwrap();
        assert_eq!(from_healthy.recv().await, Some(12));
        healthy_control
            .send(Control::ProducerFinished)
            .await
            .unwrap();
        assert!(matches!(healthy.join().await, Exit::Finished));
        let left: Vec<String> = rt
            .snapshot()
            .components
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(left, vec!["test".to_string()]);
    })
    .await;
}
