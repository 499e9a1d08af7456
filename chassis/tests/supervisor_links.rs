//! Supervisor: links and services survive restarts; messages are delivered to the
//! new instance or counted, never lost silently; requests never hang.

mod supervisor_support;

use std::time::Duration;

use axon::component::from_fn;
use axon::testing::Harness;
use axon::{Context, GraphEvent, Request, Runtime};
use chassis::supervisor::{Backoff, ChildSpec, Intensity, Supervisor};
use supervisor_support::{PANIC, Starts, bounded, next_restart, worker_spec};

/// A worker that panics on every multiple of `every` and passes the rest on.
fn fragile(every: u32) -> ChildSpec {
    ChildSpec::new("fragile", move || {
        from_fn("fragile", move |mut c: Context<u32, u32>| async move {
            while let Some(n) = c.recv().await {
                assert!(n % every != 0, "{n} is a multiple of {every}");
                c.send(n).await?;
            }
            Ok(())
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_reaches_an_instance_once_and_in_order_across_many_restarts() {
    const N: u32 = 4_000;
    const EVERY: u32 = 250;
    let sup = Supervisor::<u32, u32>::new()
        .intensity(Intensity::new(100, Duration::from_secs(60)))
        .backoff(Backoff::none())
        .hold_capacity(16)
        .child(fragile(EVERY))
        .link(("self", "inbox"), ("fragile", "inbox"))
        .link(("fragile", "outbox"), ("self", "outbox"));
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    let mut h = Harness::with_runtime(rt.clone(), sup);
    let counting = tokio::spawn(async move {
        let (mut restarts, mut unread) = (0u32, 0u64);
        while let Ok(e) = events.recv().await {
            match e {
                GraphEvent::Restarted { .. } => restarts += 1,
                GraphEvent::Exited { unread: u, .. } => unread += u,
                _ => {}
            }
            if restarts == (N - 1) / EVERY {
                break;
            }
        }
        (restarts, unread)
    });
    let mut got = Vec::with_capacity(N as usize);
    let send = async {
        for n in 1..N {
            h.send(n).await;
            while let Some(m) = h.try_recv() {
                got.push(m);
            }
        }
    };
    bounded("sending", send).await;
    let expected: Vec<u32> = (1..N).filter(|n| n % EVERY != 0).collect();
    while got.len() < expected.len() {
        got.push(bounded("the rest", h.recv()).await.expect("more output"));
    }
    // Exactly the messages that did not crash an instance, each once, in order: the
    // ones queued when an instance failed went to the next one.
    assert_eq!(got, expected);
    let (restarts, unread) = bounded("events", counting).await.unwrap();
    assert_eq!(restarts, (N - 1) / EVERY);
    assert_eq!(unread, 0, "nothing was dropped with a failed instance");
}

#[tokio::test(start_paused = true)]
async fn while_a_child_restarts_its_hold_keeps_messages_then_makes_senders_wait() {
    let starts = Starts::default();
    let sup = Supervisor::<u32, (String, u32)>::new()
        .backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).jitter(0.0))
        .hold_capacity(4)
        .child(worker_spec("w", &starts))
        .link(("self", "inbox"), ("w", "inbox"))
        .link(("w", "outbox"), ("self", "outbox"));
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    let mut h = Harness::with_runtime(rt.clone(), sup);
    h.send(PANIC).await;
    supervisor_support::wait_exited(&mut events, "w").await;
    // Down for a second: four messages wait in the hold, the fifth does not fit.
    let mut ext = rt.external("sender");
    let (src, mut to) = ext.add_outbox::<u32>("to").unwrap();
    rt.link(src, rt.box_ref(h.id(), "inbox").unwrap()).unwrap();
    for n in 1..=4 {
        to.try_send(n).expect("room in the hold");
    }
    assert!(to.try_send(5).unwrap_err().is_full(), "the hold is bounded");
    let snap = rt.snapshot();
    let hold = snap.components[0]
        .boxes
        .iter()
        .find(|b| b.name == "w.inbox")
        .expect("the hold is shown");
    assert_eq!((hold.depth, hold.capacity), (4, Some(4)));
    // The new instance gets them first, in order.
    to.send(5).await.unwrap();
    for n in 1..=5 {
        assert_eq!(bounded("reply", h.recv()).await, Some(("w".into(), n)));
    }
    assert_eq!(starts.count(), 2);
}

type Doubling = Request<u32, u32>;

fn doubler() -> ChildSpec {
    ChildSpec::new("doubler", || {
        from_fn("doubler", |mut c: Context<Doubling, ()>| async move {
            while let Some(req) = c.recv().await {
                let n = *req.body();
                assert!(n != 0, "cannot double zero");
                let _ = req.reply(n * 2);
            }
            Ok(())
        })
    })
    .service("doubler", "inbox")
}

#[tokio::test]
async fn a_supervised_service_is_found_by_the_same_name_and_its_askers_never_hang() {
    let sup = Supervisor::<(), ()>::new()
        .backoff(Backoff::none())
        .child(doubler());
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    let s = rt.spawn(sup).unwrap();
    let before = rt.service::<Doubling>("doubler").unwrap();
    let mut ext = rt.external("asker");
    let (src, mut ask) = ext.add_outbox::<Doubling>("ask").unwrap();
    rt.link(src, before).unwrap();
    let t = Duration::from_secs(30);
    assert_eq!(ask.ask(5, t).await.unwrap(), 10);
    // Two requests at once: the first crashes the instance and is answered with an
    // error (its replier went with it); the second waited and the new instance
    // answers it.
    let crashing = ask.request(0).await.unwrap();
    let waiting = ask.request(9).await.unwrap();
    assert!(crashing.wait(t).await.is_err());
    assert_eq!(waiting.wait(t).await.unwrap(), 18);
    let (child, ..) = next_restart(&mut events).await;
    assert_eq!(child, "doubler");
    // Same name, same box; the old link reaches the new instance.
    assert_eq!(rt.service::<Doubling>("doubler").unwrap().id(), before.id());
    assert_eq!(ask.ask(21, t).await.unwrap(), 42);
    s.shutdown().await.unwrap();
    assert!(bounded("end", s.join()).await.is_clean());
    // With the supervisor gone, the service is gone, and asking says so.
    assert!(rt.service::<Doubling>("doubler").is_err());
    assert!(ask.ask(1, t).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn links_between_siblings_are_restored_whichever_end_restarts() {
    let (a_starts, b_starts) = (Starts::default(), Starts::default());
    let relay = {
        let a_starts = a_starts.clone();
        ChildSpec::new("a", move || {
            let a_starts = a_starts.clone();
            from_fn("a", move |mut c: Context<u32, u32>| async move {
                a_starts.0.lock().unwrap().push(tokio::time::Instant::now());
                while let Some(n) = c.recv().await {
                    assert!(n != 0, "a got zero");
                    c.send(n.wrapping_add(1)).await?;
                }
                Ok(())
            })
        })
    };
    let sup = Supervisor::<u32, (String, u32)>::new()
        .backoff(Backoff::none())
        .child(relay)
        .child(worker_spec("b", &b_starts))
        .link(("self", "inbox"), ("a", "inbox"))
        .link(("a", "outbox"), ("b", "inbox"))
        .link(("b", "outbox"), ("self", "outbox"));
    let mut h = Harness::new(sup);
    h.send(1).await;
    assert_eq!(bounded("reply", h.recv()).await, Some(("b".into(), 2)));
    // b crashes (a sends it u32::MAX + 1 = 0): a's link reaches the new b.
    h.send(u32::MAX).await;
    h.send(10).await;
    assert_eq!(bounded("reply", h.recv()).await, Some(("b".into(), 11)));
    // a crashes: the new a's outbox is linked to b again.
    h.send(0).await;
    h.send(20).await;
    assert_eq!(bounded("reply", h.recv()).await, Some(("b".into(), 21)));
    assert_eq!((a_starts.count(), b_starts.count()), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervised_stage_in_a_batch_pipeline_finishes_its_input_across_restarts() {
    use chassis::pipeline::Pipeline;
    let source = from_fn("numbers", |mut c: Context<(), u32>| async move {
        for n in 1..=100 {
            c.send(n).await?;
        }
        Ok(())
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sink = from_fn("collect", move |mut c: Context<u32, ()>| async move {
        let mut got = Vec::new();
        while let Some(n) = c.recv().await {
            got.push(n);
        }
        let _ = tx.send(got);
        Ok(())
    });
    let stage = Supervisor::<u32, u32>::new()
        .backoff(Backoff::none())
        .intensity(Intensity::new(10, Duration::from_secs(60)))
        .child(fragile(30))
        .link(("self", "inbox"), ("fragile", "inbox"))
        .link(("fragile", "outbox"), ("self", "outbox"));
    let rt = Runtime::new();
    let h = rt
        .spawn(Pipeline::new(source).then(stage).then(sink))
        .unwrap();
    let exit = bounded("the pipeline ends", h.join()).await;
    assert!(exit.is_clean(), "{exit}");
    let got = rx.await.unwrap();
    // Only the messages that crashed an instance are missing; the end of input
    // reached every instance, including ones started after it.
    let expected: Vec<u32> = (1..=100).filter(|n| n % 30 != 0).collect();
    assert_eq!(got, expected);
}

#[tokio::test(start_paused = true)]
async fn a_child_linked_to_a_sibling_gone_for_good_still_restarts() {
    use chassis::supervisor::Restart;
    // `a` is temporary; `relay` feeds it. Once `a` has ended for good, the relay's
    // sends are handed back, it fails, and it must still be restarted (its link to
    // `a` stays unmade), not make the supervisor give up.
    let a = ChildSpec::new("a", || {
        from_fn("a", |mut c: Context<u32, ()>| async move {
            while c.recv().await.is_some() {}
            Ok(())
        })
    })
    .restart(Restart::Temporary);
    let relay = ChildSpec::new("relay", || {
        from_fn("relay", |mut c: Context<u32, u32>| async move {
            while let Some(n) = c.recv().await {
                assert!(n != 0, "relay got zero");
                c.send(n).await?;
            }
            Ok(())
        })
    });
    let sup = Supervisor::<u32, ()>::new()
        .backoff(Backoff::none())
        .child(a)
        .child(relay)
        .link(("self", "inbox"), ("relay", "inbox"))
        .link(("relay", "outbox"), ("a", "inbox"));
    let rt = Runtime::new();
    let mut events = rt.subscribe();
    let mut h = Harness::with_runtime(rt.clone(), sup);
    h.send(1).await;
    let a_id = supervisor_support::ids_named(&rt, "a")[0];
    rt.send_control(a_id, axon::Control::ProducerFinished)
        .await
        .unwrap();
    supervisor_support::wait_exited(&mut events, "a").await;
    // Nowhere to send: the relay fails on its next message and is restarted.
    h.send(2).await;
    let (child, _, restarts, reason) = next_restart(&mut events).await;
    assert_eq!((child.as_str(), restarts), ("relay", 1), "{reason}");
    // The new relay runs (and fails on zero like any other).
    h.send(0).await;
    let (child, _, restarts, _) = next_restart(&mut events).await;
    assert_eq!((child.as_str(), restarts), ("relay", 2));
    assert!(rt.is_alive(h.id()), "the supervisor did not give up");
}
