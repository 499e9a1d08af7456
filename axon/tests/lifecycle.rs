//! Lifecycle messages, exit reasons, panic isolation, services and threaded bodies.

use std::sync::{Arc, Mutex};

use axon::component::from_fn;
use axon::testing::Harness;
use axon::threaded::{BlockingContext, threaded};
use axon::{BoxError, Component, Context, Control, Exit, GraphEvent, LinkError, Runtime, Setup};

fn doubler() -> impl Component<In = u32, Out = u32> {
    from_fn("doubler", |mut ctx: Context<u32, u32>| async move {
        while let Some(n) = ctx.recv().await {
            ctx.send(n * 2).await?;
        }
        Ok(())
    })
}

#[tokio::test]
async fn producer_finished_drains_queued_data_then_passes_on() {
    let mut h = Harness::new(doubler());
    for i in 0..5 {
        h.send(i).await;
    }
    h.finish().await;
    let mut got = Vec::new();
    while let Some(x) = h.recv().await {
        got.push(x);
    }
    assert_eq!(got, vec![0, 2, 4, 6, 8]);
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn shutdown_stops_now_and_is_passed_on() {
    // A component that does not read until told, so data is queued when Shutdown comes.
    let gate = Arc::new(tokio::sync::Notify::new());
    let g = gate.clone();
    let c = from_fn("slow", move |mut ctx: Context<u32, u32>| async move {
        g.notified().await;
        while let Some(n) = ctx.recv().await {
            ctx.send(n).await?;
        }
        Ok(())
    });
    let mut h = Harness::new(c);
    for i in 0..5 {
        h.send(i).await;
    }
    h.send_control(Control::Shutdown).await;
    gate.notify_one();
    assert_eq!(
        h.recv().await,
        None,
        "queued data is not handed out after Shutdown"
    );
    assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
    assert!(matches!(h.exit().await, Exit::ShutDown));
}

#[tokio::test]
async fn every_exit_reason_is_reported() {
    let rt = Runtime::new();
    let failed = rt
        .spawn(from_fn("fails", |_c: Context<(), ()>| async {
            Err::<(), BoxError>("disk full".into())
        }))
        .unwrap();
    let panicked = rt
        .spawn(from_fn("panics", |_c: Context<(), ()>| async {
            panic!("boom")
        }))
        .unwrap();
    let stuck = rt
        .spawn(from_fn("stuck", |_c: Context<(), ()>| {
            std::future::pending()
        }))
        .unwrap();
    stuck.kill();
    match failed.join().await {
        Exit::Failed(e) => assert_eq!(e.to_string(), "disk full"),
        other => panic!("expected failed, got {other}"),
    }
    match panicked.join().await {
        Exit::Panicked(m) => assert_eq!(m, "boom"),
        other => panic!("expected panicked, got {other}"),
    }
    assert!(matches!(stuck.join().await, Exit::Aborted));
    assert_eq!(rt.live_components(), 0, "ended components leave the graph");
}

/// A parent with two independent chains: `feeder -> panicker` and `feeder -> doubler`.
struct TwoChains {
    exits: Arc<Mutex<Vec<(String, String)>>>,
}

impl Component for TwoChains {
    type In = ();
    type Out = ();

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let panicker = s.add_child(from_fn(
            "panicker",
            |mut ctx: Context<u32, ()>| async move {
                let _first = ctx.recv().await;
                panic!("bad input")
            },
        ))?;
        let feed_a = s.add_child(from_fn("feed-a", |mut ctx: Context<(), u32>| async move {
            for i in 0..100 {
                if ctx.send(i).await.is_err() {
                    break;
                }
            }
            Ok(())
        }))?;
        let feed_b = s.add_child(from_fn("feed-b", |mut ctx: Context<(), u32>| async move {
            for i in 0..100 {
                ctx.send(i).await?;
            }
            Ok(())
        }))?;
        let sum = s.add_child(from_fn("sum", |mut ctx: Context<u32, ()>| async move {
            let mut total = 0;
            while let Some(n) = ctx.recv().await {
                total += n;
            }
            if total == 4950 {
                Ok(())
            } else {
                Err(format!("sum {total}").into())
            }
        }))?;
        s.link(feed_a.outbox(), panicker.inbox())?;
        s.link(feed_b.outbox(), sum.inbox())?;
        s.link(feed_b.signal(), sum.control())
    }

    async fn run(self, mut ctx: Context<(), ()>) -> Result<(), BoxError> {
        while let Some(c) = ctx.next_child_exit().await {
            self.exits
                .lock()
                .unwrap()
                .push((c.name, c.exit.kind().to_string()));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_takes_down_only_its_component_and_the_parent_is_told() {
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    let exits = Arc::new(Mutex::new(Vec::new()));
    let h = rt
        .spawn(TwoChains {
            exits: exits.clone(),
        })
        .unwrap();
    assert!(h.join().await.is_clean());
    let exits = exits.lock().unwrap();
    let kind = |n: &str| {
        exits
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, k)| k.as_str())
    };
    assert_eq!(kind("panicker"), Some("panicked"));
    assert_eq!(
        kind("sum"),
        Some("finished"),
        "the sibling chain carried on"
    );
    assert_eq!(kind("feed-b"), Some("finished"));
    assert_eq!(
        kind("feed-a"),
        Some("finished"),
        "its producer saw the link go and stopped"
    );
    let mut saw_unlink = false;
    while let Ok(ev) = events.try_recv() {
        if let GraphEvent::Unlinked { to, .. } = ev {
            saw_unlink |= to.starts_with("panicker#");
        }
    }
    assert!(saw_unlink, "the panicked component's links were removed");
    assert_eq!(rt.live_components(), 0);
}

#[tokio::test]
async fn services_are_found_by_components_made_later() {
    let rt = Runtime::new();
    let total = Arc::new(Mutex::new(0u32));
    let t = total.clone();
    let registry = rt
        .add(from_fn(
            "registry",
            move |mut ctx: Context<u32, ()>| async move {
                while let Some(n) = ctx.recv().await {
                    *t.lock().unwrap() += n;
                }
                Ok(())
            },
        ))
        .unwrap();
    rt.register_service("registry", registry.inbox()).unwrap();
    let registry = registry.start();
    let mut handlers = Vec::new();
    for n in 1..=3u32 {
        let handler = rt
            .add(from_fn(
                "handler",
                move |mut ctx: Context<(), u32>| async move {
                    ctx.send(n).await?;
                    Ok(())
                },
            ))
            .unwrap();
        let service = rt.service::<u32>("registry").unwrap();
        rt.link(handler.outbox(), service).unwrap();
        handlers.push(handler.start());
    }
    for h in handlers {
        assert!(h.join().await.is_clean());
    }
    // The handlers' sends have completed, so ProducerFinished drains them all.
    rt.send_control(registry.id(), Control::ProducerFinished)
        .await
        .unwrap();
    assert!(registry.join().await.is_clean());
    assert_eq!(*total.lock().unwrap(), 6);
    let err = rt.service::<u32>("registry").unwrap_err();
    assert!(
        matches!(err, LinkError::UnknownService { .. }),
        "gone with its component: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threaded_bodies_use_the_same_bounded_boxes() {
    let c = threaded("sum-squares", |mut ctx: BlockingContext<u64, u64>| {
        let mut acc = 0;
        while let Some(n) = ctx.recv() {
            acc += n * n;
        }
        ctx.send(acc)?;
        Ok(())
    });
    let mut h = Harness::new(c);
    for i in 1..=1000u64 {
        h.send(i).await;
    }
    h.finish().await;
    assert_eq!(h.recv().await, Some((1..=1000u64).map(|n| n * n).sum()));
    assert!(matches!(h.exit().await, Exit::Finished));

    let boom = threaded("boom", |_ctx: BlockingContext<u8, u8>| {
        panic!("thread boom")
    });
    let mut h = Harness::new(boom);
    assert!(matches!(h.exit().await, Exit::Panicked(m) if m == "thread boom"));
}

#[tokio::test]
async fn the_harness_links_extra_endpoints_to_any_box_more_than_once() {
    let mut h = Harness::new(doubler());
    let mut a = h.inbox_sender::<u32>("inbox").unwrap();
    let mut b = h.inbox_sender::<u32>("inbox").unwrap();
    a.send(1).await.unwrap();
    b.send(2).await.unwrap();
    assert_eq!(h.recv().await, Some(2));
    assert_eq!(h.recv().await, Some(4));
    // `outbox` already feeds the harness: a second destination is refused.
    let err = h.outbox_receiver::<u32>("outbox").unwrap_err();
    assert!(matches!(err, LinkError::AlreadyLinked { .. }), "{err}");
}

/// A composite whose one child ignores `Shutdown`.
struct Holder;

impl Component for Holder {
    type In = ();
    type Out = ();
    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.make_passthrough("control")?;
        let kid = s.add_child(from_fn("deaf", |_c: Context<(), ()>| {
            std::future::pending()
        }))?;
        let own = s.own::<Control>("control")?;
        s.link(own, kid.control())
    }
    async fn run(self, mut ctx: Context<(), ()>) -> Result<(), BoxError> {
        while ctx.next_child_exit().await.is_some() {}
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn runtime_shutdown_stops_everything_and_reports_what_it_had_to_force() {
    let rt = Runtime::new();
    let polite = rt.spawn(doubler()).unwrap();
    let holder = rt.spawn(Holder).unwrap();
    let started = tokio::time::Instant::now();
    let summary = rt.shutdown(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        summary.ended,
        vec![format!("doubler#{}: shut down", polite.id().get())]
    );
    assert_eq!(
        summary.forced,
        vec![format!("Holder#{}", holder.id().get())]
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(3),
        "waited for the deadline"
    );
    assert_eq!(
        rt.live_components(),
        0,
        "the composite's children went with it"
    );
    assert!(
        summary
            .to_string()
            .starts_with("1 ended, 1 forced: Holder#")
    );
}
