//! Fanout: every branch gets every message, in order; unlinked and full branches.

use axon::testing::Harness;
use axon::{Control, Exit, LinkError, Policy, Runtime};
use components::fanout::Fanout;

fn branch_counter(rt: &Runtime, component: &str, branch: &str) -> (u64, u64, u64) {
    let snap = rt.snapshot();
    let c = snap.named(component).expect("the fanout is alive");
    let b = c
        .boxes
        .iter()
        .find(|b| b.name == branch)
        .expect("the branch exists");
    (b.sent, b.undelivered, b.dropped)
}

#[tokio::test]
async fn every_branch_gets_every_message_in_order() {
    let mut h = Harness::new(Fanout::<String>::new(["outbox", "a", "b"]));
    let mut a = h.outbox_receiver::<String>("a").unwrap();
    let mut b = h.outbox_receiver::<String>("b").unwrap();
    for s in ["one", "two", "three"] {
        h.send(s.to_string()).await;
    }
    h.finish().await;
    for s in ["one", "two", "three"] {
        assert_eq!(h.recv().await.as_deref(), Some(s));
        assert_eq!(a.recv().await.as_deref(), Some(s));
        assert_eq!(b.recv().await.as_deref(), Some(s));
    }
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::Finished));
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
}

#[tokio::test]
async fn an_unlinked_branch_is_counted_and_the_others_are_served() {
    // "missing" comes first, so once "linked" has a message, "missing" was tried too.
    let mut h = Harness::new(Fanout::<u32>::new(["missing", "linked"]).named("tee"));
    let mut linked = h.outbox_receiver::<u32>("linked").unwrap();
    h.send(1).await;
    h.send(2).await;
    assert_eq!(linked.recv().await, Some(1));
    assert_eq!(linked.recv().await, Some(2));
    let rt = h.runtime().clone();
    assert_eq!(branch_counter(&rt, "tee", "missing"), (0, 2, 0));
    assert_eq!(branch_counter(&rt, "tee", "linked"), (2, 0, 0));
}

#[tokio::test]
async fn a_lossy_branch_does_not_hold_back_the_others() {
    let rt = Runtime::new();
    let tee = rt
        .add(Fanout::<u32>::new(["slow", "fast"]).named("tee"))
        .unwrap();
    let mut ext = rt.external("test");
    let (in_ref, mut input) = ext.add_outbox::<u32>("in").unwrap();
    // Nobody reads `slow_sink`: with Block the fan-out would stall at the second message.
    let (slow_ref, _slow_sink) = ext.add_inbox::<u32>("slow_sink", 1).unwrap();
    let (fast_ref, mut fast) = ext.add_inbox::<u32>("fast_sink", 16).unwrap();
    rt.link(in_ref, tee.inbox()).unwrap();
    let slow = rt.box_ref::<u32>(tee.id(), "slow").unwrap();
    let fast_box = rt.box_ref::<u32>(tee.id(), "fast").unwrap();
    rt.link_with(slow, slow_ref, Policy::DropNewest).unwrap();
    rt.link(fast_box, fast_ref).unwrap();
    let _h = tee.start();
    for n in 0..5 {
        input.send(n).await.unwrap();
    }
    for n in 0..5 {
        assert_eq!(fast.recv().await, Some(n));
    }
    let (sent, undelivered, dropped) = branch_counter(&rt, "tee", "slow");
    assert_eq!((sent, undelivered, dropped), (1, 0, 4));
}

#[tokio::test]
async fn clashing_branch_names_are_refused() {
    let rt = Runtime::new();
    let twice = rt.add(Fanout::<u8>::new(["a", "a"]));
    assert!(matches!(twice, Err(LinkError::DuplicateBox { .. })));
    let default_twice = rt.add(Fanout::<u8>::new(["outbox", "outbox"]));
    assert!(matches!(default_twice, Err(LinkError::DuplicateBox { .. })));
    let reserved = rt.add(Fanout::<u8>::new(["signal"]));
    assert!(matches!(reserved, Err(LinkError::DuplicateBox { .. })));
    assert_eq!(rt.live_components(), 0);
}

/// A component that counts what it receives and reports the count when it ends.
fn counter(
    name: &'static str,
) -> (
    impl axon::Component<In = u32, Out = ()>,
    tokio::sync::oneshot::Receiver<(usize, Option<Control>)>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let c = axon::component::from_fn(name, move |mut ctx: axon::Context<u32, ()>| async move {
        let mut n = 0;
        while ctx.recv().await.is_some() {
            n += 1;
        }
        let _ = tx.send((n, ctx.ended_by()));
        Ok(())
    });
    (c, rx)
}

async fn lifecycle_reaches_every_branch(ending: Control) -> Vec<(usize, Option<Control>)> {
    let rt = Runtime::new();
    let tee = rt.add(Fanout::<u32>::new(["outbox", "side"])).unwrap();
    let (main, main_done) = counter("main");
    let (side, side_done) = counter("side");
    let main = rt.add(main).unwrap();
    let side = rt.add(side).unwrap();
    let side_box = rt.box_ref::<u32>(tee.id(), "side").unwrap();
    rt.link(tee.outbox(), main.inbox()).unwrap();
    rt.link(tee.signal(), main.control()).unwrap();
    rt.link(side_box, side.inbox()).unwrap();
    let mut ext = rt.external("test");
    let (in_ref, mut input) = ext.add_outbox::<u32>("in").unwrap();
    let (ctl_ref, mut ctl) = ext.add_outbox::<Control>("ctl").unwrap();
    rt.link(in_ref, tee.inbox()).unwrap();
    rt.link(ctl_ref, tee.control()).unwrap();
    let handles = [tee.start(), main.start(), side.start()];
    for n in 0..3 {
        input.send(n).await.unwrap();
    }
    if ending == Control::Shutdown {
        // Let the messages through first, so both branches have the same count.
        tokio::task::yield_now().await;
    }
    ctl.send(ending).await.unwrap();
    let counts = vec![main_done.await.unwrap(), side_done.await.unwrap()];
    for h in handles {
        assert!(h.join().await.is_clean());
    }
    counts
}

#[tokio::test]
async fn producer_finished_reaches_every_branch() {
    let got = lifecycle_reaches_every_branch(Control::ProducerFinished).await;
    let finished = Some(Control::ProducerFinished);
    assert_eq!(got, [(3, finished), (3, finished)]);
}

#[tokio::test]
async fn shutdown_reaches_every_branch() {
    let got = lifecycle_reaches_every_branch(Control::Shutdown).await;
    assert!(
        got.iter().all(|(_, e)| *e == Some(Control::Shutdown)),
        "{got:?}"
    );
}
