//! Links: FIFO, fan-in order, one destination per source, passthrough chains,
//! unlinking, bounded boxes, overflow policies and relinking under load.

use std::sync::{Arc, Mutex};

use axon::component::from_fn;
use axon::{
    BoxError, Component, Context, Control, LinkError, Policy, Runtime, SendError, Setup,
    TrySendError,
};

/// Collects everything it receives into a shared vector until its input ends.
fn collector<T: Send + 'static>(
    name: &'static str,
    into: Arc<Mutex<Vec<T>>>,
) -> impl Component<In = T, Out = ()> {
    from_fn(name, move |mut ctx: Context<T, ()>| async move {
        while let Some(x) = ctx.recv().await {
            into.lock().unwrap().push(x);
        }
        Ok(())
    })
}

#[tokio::test]
async fn a_link_delivers_in_order() {
    let rt = Runtime::new();
    let source = rt
        .add(from_fn("source", |mut ctx: Context<(), u32>| async move {
            for i in 0..10_000 {
                ctx.send(i).await?;
            }
            Ok(())
        }))
        .unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = rt.add(collector("sink", got.clone())).unwrap();
    rt.link(source.outbox(), sink.inbox()).unwrap();
    rt.link(source.signal(), sink.control()).unwrap();
    let (a, b) = (source.start(), sink.start());
    assert!(a.join().await.is_clean());
    assert!(b.join().await.is_clean());
    assert_eq!(*got.lock().unwrap(), (0..10_000).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_in_keeps_each_sources_order() {
    let rt = Runtime::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = rt.add(collector("sink", got.clone())).unwrap();
    let mut handles = Vec::new();
    for p in 0..4u32 {
        let src = rt
            .add(from_fn(
                "producer",
                move |mut ctx: Context<(), (u32, u32)>| async move {
                    for i in 0..2_000 {
                        ctx.send((p, i)).await?;
                    }
                    Ok(())
                },
            ))
            .unwrap();
        rt.link(src.outbox(), sink.inbox()).unwrap();
        handles.push(src.start());
    }
    let sink = sink.start();
    for h in handles {
        assert!(h.join().await.is_clean());
    }
    // Every producer's sends have completed, so ProducerFinished drains them all.
    rt.send_control(sink.id(), Control::ProducerFinished)
        .await
        .unwrap();
    assert!(sink.join().await.is_clean());
    let got = got.lock().unwrap();
    for p in 0..4 {
        let seq: Vec<u32> = got
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, i)| *i)
            .collect();
        assert_eq!(seq.len(), 2_000, "producer {p}: messages lost");
        assert!(
            seq.iter().copied().eq(0..2_000),
            "producer {p}: out of order"
        );
    }
}

#[tokio::test]
async fn a_second_destination_is_refused_naming_both_ends() {
    let rt = Runtime::new();
    let a = rt
        .add(from_fn("a", |_c: Context<(), u8>| async { Ok(()) }))
        .unwrap();
    let b = rt
        .add(from_fn("b", |_c: Context<u8, ()>| async { Ok(()) }))
        .unwrap();
    let c = rt
        .add(from_fn("c", |_c: Context<u8, ()>| async { Ok(()) }))
        .unwrap();
    rt.link(a.outbox(), b.inbox()).unwrap();
    let err = rt.link(a.outbox(), c.inbox()).unwrap_err();
    assert!(matches!(err, LinkError::AlreadyLinked { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("a#") && text.contains("b#") && text.contains("c#"),
        "{text}"
    );
    // The original link is untouched.
    assert_eq!(rt.snapshot().links.len(), 1);
}

#[tokio::test]
async fn links_by_name_are_checked_when_made() {
    let rt = Runtime::new();
    let a = rt
        .add(from_fn("words", |_c: Context<(), String>| async { Ok(()) }))
        .unwrap();
    let b = rt
        .add(from_fn("bytes", |_c: Context<Vec<u8>, ()>| async {
            Ok(())
        }))
        .unwrap();
    let err = rt
        .link_named((a.id(), "outbox"), (b.id(), "inbox"), Policy::Block)
        .unwrap_err();
    match &err {
        LinkError::TypeMismatch {
            from_type, to_type, ..
        } => {
            assert!(
                from_type.contains("String") && to_type.contains("Vec<u8>"),
                "{err}"
            );
        }
        other => panic!("expected a type mismatch, got {other}"),
    }
    let err = rt
        .link_named((a.id(), "outbx"), (b.id(), "inbox"), Policy::Block)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("outbx") && text.contains("outbox") && text.contains("signal"),
        "{text}"
    );
    let err = rt
        .link_named((a.id(), "inbox"), (b.id(), "inbox"), Policy::Block)
        .unwrap_err();
    assert!(matches!(err, LinkError::WrongDirection { .. }), "{err}");
}

/// A shell whose `inbox` is a passthrough to one child, as composites do.
struct Shell<C: Component<In = u32>> {
    child: Option<C>,
    link_outer_first: bool,
}

impl<C: Component<In = u32, Out = ()>> Component for Shell<C> {
    type In = u32;
    type Out = ();

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.make_passthrough("inbox")?;
        s.make_passthrough("control")?;
        let own = s.own::<u32>("inbox")?;
        let own_control = s.own::<Control>("control")?;
        let child = s.add_child(self.child.take().expect("setup runs once"))?;
        s.link(own_control, child.control())?;
        if self.link_outer_first {
            s.link(own, child.inbox())
        } else {
            // Leave the inner link to be made by the test after the outer one.
            Ok(())
        }
    }

    async fn run(self, mut ctx: Context<u32, ()>) -> Result<(), BoxError> {
        while ctx.next_child_exit().await.is_some() {}
        Ok(())
    }
}

#[tokio::test]
async fn passthrough_chains_deliver_to_the_final_inbox_in_any_link_order() {
    for inner_link_made_late in [false, true] {
        let rt = Runtime::new();
        let got = Arc::new(Mutex::new(Vec::new()));
        let inner_shell = Shell {
            child: Some(collector("sink", got.clone())),
            link_outer_first: !inner_link_made_late,
        };
        let outer = rt
            .add(Shell {
                child: Some(inner_shell),
                link_outer_first: true,
            })
            .unwrap();
        let mut ext = rt.external("test");
        let (out_ref, mut out) = ext.add_outbox::<u32>("numbers").unwrap();
        rt.link(out_ref, outer.inbox()).unwrap();
        let snap = rt.snapshot();
        let inner_shell_id = snap
            .components
            .iter()
            .find(|c| c.name == "Shell" && c.parent == Some(outer.id()))
            .unwrap()
            .id;
        let sink_id = snap.named("sink").unwrap().id;
        if inner_link_made_late {
            // Sending now finds no destination: the chain is not complete yet.
            assert_eq!(out.send(99).await, Err(SendError::new(99)));
            rt.link_named((inner_shell_id, "inbox"), (sink_id, "inbox"), Policy::Block)
                .unwrap();
        }
        let outer_id = outer.id();
        let h = outer.start();
        for i in 0..3 {
            out.send(i).await.unwrap();
        }
        let snap = rt.snapshot();
        for shell in [outer_id, inner_shell_id] {
            let inbox = snap
                .component(shell)
                .unwrap()
                .boxes
                .iter()
                .find(|b| b.name == "inbox")
                .unwrap();
            assert!(inbox.passthrough && inbox.capacity.is_none() && inbox.received == 0);
        }
        rt.send_control(outer_id, Control::ProducerFinished)
            .await
            .unwrap();
        assert!(h.join().await.is_clean());
        assert_eq!(*got.lock().unwrap(), vec![0, 1, 2]);
    }
}

#[tokio::test]
async fn unlinking_leaves_delivered_messages_and_hands_back_later_ones() {
    let rt = Runtime::new();
    let mut ext = rt.external("test");
    let (out_ref, mut out) = ext.add_outbox::<u32>("out").unwrap();
    let (in_ref, mut inbox) = ext.add_inbox::<u32>("in", 8).unwrap();
    rt.link(out_ref, in_ref).unwrap();
    for i in 0..3 {
        out.send(i).await.unwrap();
    }
    rt.unlink(out_ref.id()).unwrap();
    assert_eq!(out.send(3).await, Err(SendError::new(3)));
    assert_eq!(out.try_send(4), Err(TrySendError::Unlinked(4)));
    let got: Vec<u32> = std::iter::from_fn(|| inbox.try_recv().ok()).collect();
    assert_eq!(got, vec![0, 1, 2]);
    let snap = rt.snapshot();
    let me = snap.component(ext.id()).unwrap();
    let out_info = me.boxes.iter().find(|b| b.name == "out").unwrap();
    assert_eq!((out_info.sent, out_info.undelivered), (3, 2));
    assert!(snap.links.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_inboxes_hold_n_then_wait_and_k_receives_free_k_places() {
    let rt = Runtime::new();
    let mut ext = rt.external("test");
    let (out_ref, mut out) = ext.add_outbox::<u32>("out").unwrap();
    let (in_ref, mut inbox) = ext.add_inbox::<u32>("in", 4).unwrap();
    rt.link(out_ref, in_ref).unwrap();
    for i in 0..4 {
        out.try_send(i).unwrap();
    }
    assert_eq!(out.try_send(4), Err(TrySendError::Full(4)));
    for k in 0..2 {
        assert_eq!(inbox.try_recv(), Ok(k));
    }
    out.try_send(4).unwrap();
    out.try_send(5).unwrap();
    assert_eq!(out.try_send(6), Err(TrySendError::Full(6)));
    // A blocking send waits until a place frees.
    let waiting = tokio::spawn(async move {
        out.send(6).await.unwrap();
        out
    });
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(!waiting.is_finished(), "a send into a full inbox must wait");
    assert_eq!(inbox.try_recv(), Ok(2));
    let _out = waiting.await.unwrap();
    let rest: Vec<u32> = std::iter::from_fn(|| inbox.try_recv().ok()).collect();
    assert_eq!(rest, vec![3, 4, 5, 6]);
}

#[tokio::test]
async fn lossy_policies_drop_and_count() {
    for (policy, expect) in [
        (Policy::DropNewest, vec![0, 1, 2]),
        (Policy::DropOldest, vec![7, 8, 9]),
        (Policy::KeepLatest, vec![9]),
    ] {
        let rt = Runtime::new();
        let mut ext = rt.external("test");
        let (out_ref, mut out) = ext.add_outbox::<u32>("out").unwrap();
        let (in_ref, mut inbox) = ext.add_inbox::<u32>("in", 3).unwrap();
        rt.link_with(out_ref, in_ref, policy).unwrap();
        for i in 0..10 {
            out.send(i).await.unwrap();
        }
        let got: Vec<u32> = std::iter::from_fn(|| inbox.try_recv().ok()).collect();
        assert_eq!(got, expect, "{policy:?}");
        let snap = rt.snapshot();
        let me = snap.component(ext.id()).unwrap();
        let inbox_info = me.boxes.iter().find(|b| b.name == "in").unwrap();
        assert_eq!(inbox_info.dropped as usize, 10 - expect.len(), "{policy:?}");
        let out_info = me.boxes.iter().find(|b| b.name == "out").unwrap();
        assert_eq!(
            out_info.dropped, inbox_info.dropped,
            "{policy:?}: counted on both ends"
        );
        assert_eq!(snap.links[0].policy, policy);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relinking_under_load_loses_and_duplicates_nothing() {
    const N: u64 = 200_000;
    let rt = Runtime::new();
    let source = rt
        .add(from_fn("source", |mut ctx: Context<(), u64>| async move {
            for i in 0..N {
                ctx.send(i).await?;
            }
            Ok(())
        }))
        .unwrap();
    let left = Arc::new(Mutex::new(Vec::new()));
    let right = Arc::new(Mutex::new(Vec::new()));
    let a = rt.add(collector("left", left.clone())).unwrap();
    let b = rt.add(collector("right", right.clone())).unwrap();
    rt.link(source.outbox(), a.inbox()).unwrap();
    let (so, ai, bi) = (source.outbox(), a.inbox(), b.inbox());
    let (ha, hb) = (a.start(), b.start());
    let hs = source.start();
    let mut relinks = 0u32;
    while !hs.is_finished() && relinks < 100_000 {
        let to = if relinks.is_multiple_of(2) { bi } else { ai };
        if rt.relink(so, to).is_err() {
            break; // the source ended between the check and the relink
        }
        relinks += 1;
        tokio::task::yield_now().await;
    }
    assert!(hs.join().await.is_clean());
    for h in [&ha, &hb] {
        rt.send_control(h.id(), Control::ProducerFinished)
            .await
            .unwrap();
    }
    assert!(ha.join().await.is_clean() && hb.join().await.is_clean());
    let (l, r) = (left.lock().unwrap(), right.lock().unwrap());
    assert!(l.windows(2).all(|w| w[0] < w[1]) && r.windows(2).all(|w| w[0] < w[1]));
    let mut all: Vec<u64> = l.iter().chain(r.iter()).copied().collect();
    all.sort_unstable();
    assert_eq!(all.len() as u64, N, "after {relinks} relinks");
    assert!(
        all.iter().copied().eq(0..N),
        "a message was lost or duplicated"
    );
    assert!(relinks > 1, "the test must relink while the source runs");
}

#[tokio::test]
async fn a_send_error_names_the_outbox_and_its_component() {
    struct KvHandler;
    impl Component for KvHandler {
        type In = ();
        type Out = u32;
        fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
            s.outbox::<u32>("store", "requests to the store").map(drop)
        }
        async fn run(self, mut ctx: Context<(), u32>) -> Result<(), BoxError> {
            let mut store = ctx.outbox_named::<u32>("store")?;
            store.send(1).await?;
            Ok(())
        }
    }
    let rt = Runtime::new();
    let h = rt.spawn(KvHandler).unwrap();
    let id = h.id();
    let exit = h.join().await;
    assert_eq!(
        exit.to_string(),
        format!(
            "failed: outbox `store` of KvHandler#{} has no destination (not linked, or its destination has ended)",
            id.get()
        )
    );
    // The default outbox says which box too.
    let lone = rt
        .spawn(from_fn("lone", |mut ctx: Context<(), u8>| async move {
            ctx.send(1).await?;
            Ok(())
        }))
        .unwrap();
    assert!(
        lone.join()
            .await
            .to_string()
            .contains("outbox `outbox` has no destination")
    );
}
