//! Graphline: `"self"` boundary, control forwarding, signal rules, link errors, and
//! instances that keep their boundary boxes to themselves.

use std::future::Future;
use std::time::Duration;

use axon::testing::Harness;
use axon::{
    Component, Context, Control, Exit, GraphEvent, LinkError, Runtime, Snapshot, component::from_fn,
};
use chassis::graphline::Graphline;
use tokio::sync::broadcast;

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(3600), f)
        .await
        .expect("the graph deadlocked")
}

/// Forwards numbers until its input ends.
fn relay(name: &'static str) -> impl Component<In = u32, Out = u32> {
    from_fn(name, |mut ctx: Context<u32, u32>| async move {
        while let Some(n) = ctx.recv().await {
            ctx.send(n).await?;
        }
        Ok(())
    })
}

fn exits(events: &mut broadcast::Receiver<GraphEvent>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let GraphEvent::Exited { name, exit, .. } = ev {
            out.push((name, exit));
        }
    }
    out
}

fn box_names(snap: &Snapshot, id: axon::ComponentId) -> Vec<String> {
    snap.component(id)
        .unwrap()
        .boxes
        .iter()
        .map(|b| b.name.clone())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn control_goes_to_unwired_children_and_shutdown_leaves_through_signal() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let g = Graphline::<(), ()>::new()
            .child("a", relay("a"))
            .child("b", relay("b"))
            .child("c", relay("c"))
            .link(("a", "signal"), ("c", "control"));
        let mut h = Harness::with_runtime(rt.clone(), g);

        let snap = rt.snapshot();
        let names = box_names(&snap, h.id());
        assert!(names.contains(&"control->a".to_string()));
        assert!(names.contains(&"control->b".to_string()));
        assert!(
            !names.contains(&"control->c".to_string()),
            "c's control is wired from a"
        );

        h.send_control(Control::Shutdown).await;
        assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
        assert!(matches!(h.exit().await, Exit::ShutDown));
        assert_eq!(h.recv_signal().await, None, "exactly one signal");
        let ended = exits(&mut events);
        for child in ["a", "b", "c"] {
            assert!(
                ended.contains(&(child.to_string(), "shut down".to_string())),
                "{child} shut down: {ended:?}"
            );
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn producer_finished_is_forwarded_and_the_graphline_emits_its_own() {
    within(async {
        let g = Graphline::<u32, u32>::new()
            .child("w", relay("w"))
            .link(("self", "inbox"), ("w", "inbox"))
            .link(("w", "outbox"), ("self", "outbox"));
        let mut h = Harness::new(g);
        h.send(1).await;
        h.send(2).await;
        h.finish().await;
        assert_eq!(h.recv().await, Some(1));
        assert_eq!(h.recv().await, Some(2));
        assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
        assert!(matches!(h.exit().await, Exit::Finished));
        assert_eq!(h.recv_signal().await, None, "exactly one signal");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_child_wired_to_self_signal_speaks_for_the_graphline() {
    within(async {
        let src = from_fn("src", |mut ctx: Context<(), u32>| async move {
            for n in 1..=3 {
                ctx.send(n).await?;
            }
            Ok(())
        });
        let g = Graphline::<(), u32>::new()
            .child("src", src)
            .child("w", relay("w"))
            .link(("src", "outbox"), ("w", "inbox"))
            .link(("src", "signal"), ("w", "control"))
            .link(("w", "outbox"), ("self", "outbox"))
            .link(("w", "signal"), ("self", "signal"));
        let mut h = Harness::new(g);
        for n in 1..=3 {
            assert_eq!(h.recv().await, Some(n));
        }
        assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
        assert!(matches!(h.exit().await, Exit::Finished));
        assert_eq!(
            h.recv_signal().await,
            None,
            "the Graphline adds nothing to its child's signal"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn self_control_wired_to_a_child_is_a_plain_passthrough() {
    within(async {
        let g = Graphline::<u32, u32>::new()
            .child("w", relay("w"))
            .child("idle", relay("idle"))
            .link(("self", "inbox"), ("w", "inbox"))
            .link(("self", "control"), ("w", "control"))
            .link(("w", "signal"), ("idle", "control"))
            .link(("w", "outbox"), ("self", "outbox"));
        let rt = Runtime::new();
        let mut h = Harness::with_runtime(rt.clone(), g);
        let snap = rt.snapshot();
        let me = snap.component(h.id()).unwrap();
        let control = me.boxes.iter().find(|b| b.name == "control").unwrap();
        assert!(control.passthrough);
        assert_eq!(
            box_names(&snap, h.id()),
            vec!["inbox", "control", "outbox", "signal"],
            "no forwarding boxes"
        );

        h.send(5).await;
        assert_eq!(h.recv().await, Some(5));
        h.send_control(Control::Shutdown).await;
        assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
        assert!(matches!(h.exit().await, Exit::ShutDown));
    })
    .await;
}

fn refused(g: Graphline<(), ()>) -> LinkError {
    let rt = Runtime::new();
    let err = match rt.add(g) {
        Ok(_) => panic!("the layout was accepted"),
        Err(e) => e,
    };
    assert_eq!(rt.live_components(), 0, "nothing stays in the graph");
    err
}

#[tokio::test]
async fn layout_errors_are_setup_errors_that_name_what_exists() {
    let producer = || from_fn("producer", |_c: Context<(), u32>| async { Ok(()) });
    let text = || from_fn("text", |_c: Context<String, ()>| async { Ok(()) });
    let numbers = || from_fn("numbers", |_c: Context<u32, ()>| async { Ok(()) });

    let e = refused(
        Graphline::new()
            .child("a", producer())
            .link(("x", "outbox"), ("a", "inbox")),
    );
    assert!(matches!(e, LinkError::UnknownComponent { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"x\"") && msg.contains("children are: a"),
        "{msg}"
    );

    let e = refused(
        Graphline::new()
            .child("a", producer())
            .child("b", numbers())
            .link(("a", "outbx"), ("b", "inbox")),
    );
    assert!(matches!(e, LinkError::UnknownBox { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"outbx\"") && msg.contains("child \"a\"") && msg.contains("outbox, signal"),
        "{msg}"
    );

    let e = refused(
        Graphline::new()
            .child("a", producer())
            .child("b", text())
            .link(("a", "outbox"), ("b", "inbox")),
    );
    assert!(matches!(e, LinkError::TypeMismatch { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("a.outbox") && msg.contains("b.inbox"),
        "names both ends: {msg}"
    );
    assert!(
        msg.contains("u32") && msg.contains("String"),
        "names both types: {msg}"
    );

    let e = refused(
        Graphline::new()
            .child("a", producer())
            .child("b", numbers())
            .child("c", numbers())
            .link(("a", "outbox"), ("b", "inbox"))
            .link(("a", "outbox"), ("c", "inbox")),
    );
    assert!(matches!(e, LinkError::AlreadyLinked { .. }), "{e}");

    let e = refused(
        Graphline::new()
            .child("a", producer())
            .child("a", numbers()),
    );
    assert!(matches!(e, LinkError::DuplicateBox { .. }), "{e}");

    let e = refused(
        Graphline::new()
            .child("a", producer())
            .link(("a", "outbox"), ("self", "inbox")),
    );
    assert!(matches!(e, LinkError::WrongDirection { .. }), "{e}");
}

/// A Graphline around one relay; `extra` adds a `"self"` box of its own.
fn layout(extra: bool) -> Graphline<u32, u32> {
    let g = Graphline::new()
        .child("w", relay("w"))
        .link(("self", "inbox"), ("w", "inbox"))
        .link(("w", "outbox"), ("self", "outbox"));
    if extra {
        g.child("tap", relay("tap"))
            .link(("self", "extra"), ("tap", "inbox"))
            .link(("tap", "outbox"), ("self", "tapped"))
    } else {
        g
    }
}

#[tokio::test(start_paused = true)]
async fn instances_do_not_share_boundary_boxes() {
    within(async {
        let rt = Runtime::new();
        let a = rt.add(layout(true)).unwrap();
        let b = rt.add(layout(false)).unwrap();
        let c = rt.add(layout(false)).unwrap();

        let snap = rt.snapshot();
        let a_boxes = box_names(&snap, a.id());
        assert!(a_boxes.contains(&"extra".to_string()) && a_boxes.contains(&"tapped".to_string()));
        for other in [b.id(), c.id()] {
            assert_eq!(
                box_names(&snap, other),
                vec![
                    "inbox",
                    "control",
                    "outbox",
                    "signal",
                    "control->w",
                    "_control"
                ],
                "no boxes leaked from the first instance"
            );
        }

        let mut ext = rt.external("test");
        let (r, mut to_a) = ext.add_outbox::<u32>("to_a").unwrap();
        rt.link(r, a.inbox()).unwrap();
        let (r, mut to_a_extra) = ext.add_outbox::<u32>("to_a_extra").unwrap();
        rt.link(r, rt.box_ref(a.id(), "extra").unwrap()).unwrap();
        let (r, mut from_a_tapped) = ext.add_inbox::<u32>("from_a_tapped", 8).unwrap();
        rt.link(rt.box_ref(a.id(), "tapped").unwrap(), r).unwrap();
        let (r, mut to_b) = ext.add_outbox::<u32>("to_b").unwrap();
        rt.link(r, b.inbox()).unwrap();
        let (r, mut from_a) = ext.add_inbox::<u32>("from_a", 8).unwrap();
        rt.link(a.outbox(), r).unwrap();
        let (r, mut from_b) = ext.add_inbox::<u32>("from_b", 8).unwrap();
        rt.link(b.outbox(), r).unwrap();
        let (a, b, c) = (a.start(), b.start(), c.start());

        to_a.send(1).await.unwrap();
        to_a_extra.send(7).await.unwrap();
        to_b.send(2).await.unwrap();
        assert_eq!(from_a.recv().await, Some(1));
        assert_eq!(from_a_tapped.recv().await, Some(7));
        assert_eq!(from_b.recv().await, Some(2));
        let snap = rt.snapshot();
        let c_child = snap
            .components
            .iter()
            .find(|k| k.parent == Some(c.id()))
            .unwrap();
        let c_inbox = c_child.boxes.iter().find(|x| x.name == "inbox").unwrap();
        assert_eq!(c_inbox.received + c_inbox.depth as u64, 0, "c saw nothing");
        assert!(from_a.try_recv().is_err() && from_b.try_recv().is_err());

        for h in [a, b, c] {
            h.shutdown().await.unwrap();
            assert!(matches!(h.join().await, Exit::ShutDown));
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_child_shuts_its_siblings_down_and_fails_the_graphline() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let broken = from_fn("broken", |mut ctx: Context<u32, u32>| async move {
            match ctx.recv().await {
                Some(n) => Err(format!("cannot take {n}").into()),
                None => Ok(()),
            }
        });
        let g = Graphline::<u32, ()>::new()
            .child("broken", broken)
            .child("bystander", relay("bystander"))
            .link(("self", "inbox"), ("broken", "inbox"));
        let mut h = Harness::with_runtime(rt.clone(), g);
        h.send(9).await;
        assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
        let exit = h.exit().await;
        let Exit::Failed(e) = &exit else {
            panic!("expected a failure, got {exit}")
        };
        let text = e.to_string();
        assert!(
            text.contains("broken#") && text.contains("cannot take 9"),
            "{text}"
        );
        assert!(
            exits(&mut events).contains(&("bystander".to_string(), "shut down".to_string())),
            "the sibling was shut down"
        );
    })
    .await;
}
