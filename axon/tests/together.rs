//! Two components started together in one task (`Prepared::start_with`): each keeps its
//! own boxes, exit reason, panic isolation and handle.

use axon::component::from_fn;
use axon::{Component, Context, Control, Exit, Runtime};

/// Adds one to every number and passes it on.
fn incrementer(name: &'static str) -> impl Component<In = u64, Out = u64> {
    from_fn(name, |mut ctx: Context<u64, u64>| async move {
        while let Some(n) = ctx.recv().await {
            ctx.send(n + 1).await?;
        }
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_in_one_task_exchanges_messages_in_order_and_both_end_cleanly() {
    let rt = Runtime::new();
    let a = rt.add(incrementer("a")).unwrap();
    let b = rt.add(incrementer("b")).unwrap();
    let mut ext = rt.external("test");
    let (to_ref, mut tx) = ext.add_outbox::<u64>("numbers").unwrap();
    let (ctl_ref, mut ctl) = ext.add_outbox::<Control>("ctl").unwrap();
    let (from_ref, mut rx) = ext.add_inbox::<u64>("results", 16).unwrap();
    rt.link(to_ref, a.inbox()).unwrap();
    rt.link(ctl_ref, a.control()).unwrap();
    rt.link(a.outbox(), b.inbox()).unwrap();
    rt.link(a.signal(), b.control()).unwrap();
    rt.link(b.outbox(), from_ref).unwrap();
    let (ha, hb) = a.start_with(b);
    let feeder = tokio::spawn(async move {
        for i in 0..20_000u64 {
            tx.send(i).await.unwrap();
        }
        ctl.send(Control::ProducerFinished).await.unwrap();
    });
    for i in 0..20_000u64 {
        assert_eq!(
            rx.recv().await,
            Some(i + 2),
            "each message passes both, in order"
        );
    }
    feeder.await.unwrap();
    assert!(matches!(ha.join().await, Exit::Finished));
    assert!(matches!(hb.join().await, Exit::Finished));
    assert_eq!(
        rt.live_components(),
        1,
        "only the external endpoint remains"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_one_leaves_the_other_serving() {
    let rt = Runtime::new();
    let bomb = rt
        .add(from_fn("bomb", |mut ctx: Context<u64, u64>| async move {
            let _ = ctx.recv().await;
            panic!("boom");
        }))
        .unwrap();
    let calm = rt.add(incrementer("calm")).unwrap();
    let mut ext = rt.external("test");
    let (bomb_ref, mut to_bomb) = ext.add_outbox::<u64>("to_bomb").unwrap();
    let (calm_ref, mut tx) = ext.add_outbox::<u64>("to_calm").unwrap();
    let (from_ref, mut rx) = ext.add_inbox::<u64>("from_calm", 4).unwrap();
    rt.link(bomb_ref, bomb.inbox()).unwrap();
    rt.link(calm_ref, calm.inbox()).unwrap();
    rt.link(calm.outbox(), from_ref).unwrap();
    let (hb, hc) = bomb.start_with(calm);
    to_bomb.send(1).await.unwrap();
    match hb.join().await {
        Exit::Panicked(m) => assert!(m.contains("boom"), "{m}"),
        other => panic!("expected a panic, got {other}"),
    }
    for i in 0..100 {
        tx.send(i).await.unwrap();
        assert_eq!(rx.recv().await, Some(i + 1), "the partner carries on");
    }
    assert!(!hc.is_finished());
    hc.kill();
    assert!(matches!(hc.join().await, Exit::Aborted));
}

#[tokio::test]
async fn killing_one_of_the_pair_does_not_stop_the_other() {
    let rt = Runtime::new();
    let stuck = rt
        .add(from_fn("stuck", |_c: Context<(), ()>| {
            std::future::pending()
        }))
        .unwrap();
    let worker = rt.add(incrementer("worker")).unwrap();
    let mut ext = rt.external("test");
    let (to_ref, mut tx) = ext.add_outbox::<u64>("numbers").unwrap();
    let (from_ref, mut rx) = ext.add_inbox::<u64>("results", 4).unwrap();
    rt.link(to_ref, worker.inbox()).unwrap();
    rt.link(worker.outbox(), from_ref).unwrap();
    let (hs, hw) = stuck.start_with(worker);
    hs.kill();
    assert!(matches!(hs.join().await, Exit::Aborted));
    tx.send(41).await.unwrap();
    assert_eq!(rx.recv().await, Some(42), "the partner still serves");
    hw.shutdown().await.unwrap();
    assert!(matches!(hw.join().await, Exit::ShutDown));
}
