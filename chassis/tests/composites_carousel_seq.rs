//! Carousel (a new child per `next` message) and Seq (children one after another).

use std::future::Future;
use std::time::Duration;

use axon::testing::Harness;
use axon::{Component, Context, Control, Exit, GraphEvent, Runtime, component::from_fn};
use chassis::carousel::Carousel;
use chassis::pipeline::ChildFailed;
use chassis::seq::Seq;
use tokio::sync::broadcast;

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(3600), f)
        .await
        .expect("the graph deadlocked")
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

/// Wait until a component of this name has ended.
async fn ended(events: &mut broadcast::Receiver<GraphEvent>, who: &str) {
    loop {
        match events.recv().await {
            Ok(GraphEvent::Exited { name, .. }) if name == who => return,
            Ok(_) => {}
            Err(e) => panic!("event stream: {e}"),
        }
    }
}

/// A Carousel child: prefixes numbers; ends by itself on 0; panics on 13.
fn prefixer(prefix: String) -> impl Component<In = u32, Out = String> {
    from_fn(
        format!("child {prefix}"),
        move |mut ctx: Context<u32, String>| async move {
            while let Some(n) = ctx.recv().await {
                match n {
                    0 => break,
                    13 => panic!("unlucky"),
                    n => ctx.send(format!("{prefix}{n}")).await?,
                }
            }
            Ok(())
        },
    )
}

struct Wired {
    rt: Runtime,
    next: axon::Outbox<String>,
    data: axon::Outbox<u32>,
    control: axon::Outbox<Control>,
    out: axon::Inbox<String>,
    requests: axon::Inbox<()>,
    signal: axon::Inbox<Control>,
    handle: axon::Handle,
    _ext: axon::External,
}

fn wired_carousel() -> Wired {
    let rt = Runtime::new();
    let c = rt.add(Carousel::new(prefixer)).unwrap();
    let mut ext = rt.external("test");
    let (r, next) = ext.add_outbox::<String>("next").unwrap();
    rt.link(r, rt.box_ref(c.id(), "next").unwrap()).unwrap();
    let (r, data) = ext.add_outbox::<u32>("data").unwrap();
    rt.link(r, c.inbox()).unwrap();
    let (r, control) = ext.add_outbox::<Control>("control").unwrap();
    rt.link(r, c.control()).unwrap();
    let (r, out) = ext.add_inbox::<String>("out", 64).unwrap();
    rt.link(c.outbox(), r).unwrap();
    let (r, requests) = ext.add_inbox::<()>("requests", 64).unwrap();
    rt.link(rt.box_ref(c.id(), "requestNext").unwrap(), r)
        .unwrap();
    let (r, signal) = ext.add_inbox::<Control>("signal", 8).unwrap();
    rt.link(c.signal(), r).unwrap();
    let handle = c.start();
    Wired {
        rt,
        next,
        data,
        control,
        out,
        requests,
        signal,
        handle,
        _ext: ext,
    }
}

#[tokio::test(start_paused = true)]
async fn carousel_swaps_children_and_asks_for_the_next() {
    within(async {
        let mut w = wired_carousel();
        let mut events = w.rt.subscribe();
        assert_eq!(
            w.requests.recv().await,
            Some(()),
            "asks for the first child"
        );

        w.next.send("a:".into()).await.unwrap();
        w.data.send(1).await.unwrap();
        w.data.send(2).await.unwrap();
        assert_eq!(w.out.recv().await.as_deref(), Some("a:1"));
        assert_eq!(w.out.recv().await.as_deref(), Some("a:2"));

        // Replacing: the old child is shut down, data waits for the new one.
        w.next.send("b:".into()).await.unwrap();
        w.data.send(3).await.unwrap();
        assert_eq!(w.out.recv().await.as_deref(), Some("b:3"));

        // A child that ends by itself makes the Carousel ask for the next.
        w.data.send(0).await.unwrap();
        assert_eq!(w.requests.recv().await, Some(()));
        w.next.send("c:".into()).await.unwrap();
        w.data.send(4).await.unwrap();
        w.control.send(Control::ProducerFinished).await.unwrap();
        assert_eq!(w.out.recv().await.as_deref(), Some("c:4"));
        assert_eq!(w.signal.recv().await, Some(Control::ProducerFinished));
        assert!(matches!(w.handle.join().await, Exit::Finished));

        assert!(w.requests.try_recv().is_err(), "two requests in all");
        assert!(w.out.try_recv().is_err());
        let children: Vec<(String, String)> = exits(&mut events)
            .into_iter()
            .filter(|(n, _)| n.starts_with("child"))
            .collect();
        let expect = |n: &str, e: &str| (format!("child {n}"), e.to_string());
        assert_eq!(
            children,
            vec![
                expect("a:", "shut down"),
                expect("b:", "finished"),
                expect("c:", "finished")
            ]
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn carousel_passes_shutdown_to_its_child() {
    within(async {
        let mut w = wired_carousel();
        w.next.send("a:".into()).await.unwrap();
        w.data.send(1).await.unwrap();
        assert_eq!(w.out.recv().await.as_deref(), Some("a:1"));
        w.control.send(Control::Shutdown).await.unwrap();
        assert_eq!(w.signal.recv().await, Some(Control::Shutdown));
        assert!(matches!(w.handle.join().await, Exit::ShutDown));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn carousel_fails_when_its_child_panics() {
    within(async {
        let mut w = wired_carousel();
        w.next.send("a:".into()).await.unwrap();
        w.data.send(13).await.unwrap();
        assert_eq!(w.signal.recv().await, Some(Control::Shutdown));
        let exit = w.handle.join().await;
        let Exit::Failed(e) = &exit else {
            panic!("expected a failure, got {exit}")
        };
        let failed = e.downcast_ref::<ChildFailed>().unwrap();
        assert_eq!(failed.name, "child a:");
        assert!(matches!(&failed.exit, Exit::Panicked(m) if m == "unlucky"));
    })
    .await;
}

/// Sends one line and ends without reading.
fn say(name: &'static str, line: &'static str) -> impl Component<In = String, Out = String> {
    from_fn(name, move |mut ctx: Context<String, String>| async move {
        ctx.send(line.to_string()).await?;
        Ok(())
    })
}

/// Upper-cases lines until "bye" or the end of its input.
fn upper() -> impl Component<In = String, Out = String> {
    from_fn("upper", |mut ctx: Context<String, String>| async move {
        while let Some(line) = ctx.recv().await {
            if line == "bye" {
                break;
            }
            ctx.send(line.to_uppercase()).await?;
        }
        Ok(())
    })
}

/// Waits for its lifecycle, reading nothing.
fn idle(name: &'static str) -> impl Component<In = String, Out = String> {
    from_fn(name, |mut ctx: Context<String, String>| async move {
        while ctx.recv().await.is_some() {}
        Ok(())
    })
}

#[tokio::test(start_paused = true)]
async fn seq_runs_children_in_turn_and_ends_after_the_last() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let s = Seq::new(say("greet", "hello"))
            .then(upper())
            .then(say("farewell", "goodbye"));
        let mut h = Harness::with_runtime(rt.clone(), s);
        assert_eq!(h.recv().await.as_deref(), Some("hello"));
        ended(&mut events, "greet").await;
        h.send("x".into()).await;
        h.send("bye".into()).await;
        assert_eq!(h.recv().await.as_deref(), Some("X"));
        assert_eq!(h.recv().await.as_deref(), Some("goodbye"));
        assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
        assert!(matches!(h.exit().await, Exit::Finished));
        assert_eq!(
            h.recv_signal().await,
            None,
            "one signal, from the Seq itself"
        );
        assert_eq!(h.recv().await, None);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn seq_passes_producer_finished_to_every_later_child() {
    within(async {
        let s = Seq::new(upper())
            .then(idle("listener"))
            .then(say("farewell", "goodbye"));
        let mut h = Harness::new(s);
        h.send("a".into()).await;
        h.finish().await;
        assert_eq!(h.recv().await.as_deref(), Some("A"));
        assert_eq!(h.recv().await.as_deref(), Some("goodbye"));
        assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
        assert!(matches!(h.exit().await, Exit::Finished));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn seq_shutdown_stops_the_running_child_and_starts_no_other() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let s = Seq::new(idle("first")).then(idle("never"));
        let mut h = Harness::with_runtime(rt.clone(), s);
        h.send_control(Control::Shutdown).await;
        assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
        assert!(matches!(h.exit().await, Exit::ShutDown));
        let mut added = Vec::new();
        while let Ok(ev) = events.try_recv() {
            match ev {
                GraphEvent::Added { name, .. } => added.push(name),
                GraphEvent::Exited { name, exit, .. } if name == "first" => {
                    assert_eq!(exit, "shut down");
                }
                _ => {}
            }
        }
        assert!(added.contains(&"first".to_string()));
        assert!(!added.contains(&"never".to_string()), "{added:?}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn seq_fails_when_a_child_fails_and_skips_the_rest() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let broken = from_fn("broken", |_c: Context<String, String>| async {
            Err("disk full".into())
        });
        let s = Seq::new(broken).then(say("after", "unreachable"));
        let mut h = Harness::with_runtime(rt.clone(), s);
        let exit = h.exit().await;
        let Exit::Failed(e) = &exit else {
            panic!("expected a failure, got {exit}")
        };
        assert_eq!(e.downcast_ref::<ChildFailed>().unwrap().name, "broken");
        assert_eq!(h.recv().await, None);
        assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
        let names: Vec<String> = exits(&mut events).into_iter().map(|(n, _)| n).collect();
        assert!(!names.contains(&"after".to_string()), "{names:?}");
    })
    .await;
}
