//! Backplane: subscribers joining and leaving, slow subscribers, lifecycle.

use std::future::Future;
use std::time::Duration;

use axon::introspect::BoxInfo;
use axon::{ComponentId, Control, Exit, GraphEvent, LinkError, Policy, Runtime, Snapshot};
use chassis::backplane::{Backplane, PublishTo, SubscribeTo};
use tokio::sync::broadcast;

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(3600), f)
        .await
        .expect("the graph deadlocked")
}

/// Wait until the Backplane has linked subscriber `id` in.
async fn joined(events: &mut broadcast::Receiver<GraphEvent>, id: ComponentId) {
    let target = format!("#{id}.outbox");
    loop {
        match events.recv().await {
            Ok(GraphEvent::Linked { to, .. }) if to.ends_with(&target) => return,
            Ok(_) => {}
            Err(e) => panic!("event stream: {e}"),
        }
    }
}

/// Wait until the Backplane has removed subscriber `id`'s outbox.
async fn left(events: &mut broadcast::Receiver<GraphEvent>, id: ComponentId) {
    let target = format!("subscriber#{id}");
    loop {
        match events.recv().await {
            Ok(GraphEvent::BoxRemoved { name, .. }) if name == target => return,
            Ok(_) => {}
            Err(e) => panic!("event stream: {e}"),
        }
    }
}

fn box_info<'a>(snap: &'a Snapshot, component: ComponentId, name: &str) -> &'a BoxInfo {
    snap.component(component)
        .and_then(|c| c.boxes.iter().find(|b| b.name == name))
        .unwrap_or_else(|| panic!("no box {name} on #{component}"))
}

#[tokio::test(start_paused = true)]
async fn subscribers_see_exactly_what_is_published_while_they_are_joined() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let board = rt.spawn(Backplane::<u32>::new("numbers")).unwrap();
        let mut ext = rt.external("test");

        let publisher = rt.add(PublishTo::<u32>::new("numbers")).unwrap();
        let (r, mut publish) = ext.add_outbox::<u32>("publish").unwrap();
        rt.link(r, publisher.inbox()).unwrap();
        let publisher = publisher.start();

        let a = rt
            .add(SubscribeTo::<u32>::new("numbers").policy(Policy::Block))
            .unwrap();
        let (r, mut seen_a) = ext.add_inbox::<u32>("seen_a", 64).unwrap();
        rt.link(a.outbox(), r).unwrap();
        let a = a.start();
        joined(&mut events, a.id()).await;

        for n in 1..=3 {
            publish.send(n).await.unwrap();
        }
        for n in 1..=3 {
            assert_eq!(seen_a.recv().await, Some(n));
        }

        let b = rt
            .add(SubscribeTo::<u32>::new("numbers").policy(Policy::Block))
            .unwrap();
        let (r, mut seen_b) = ext.add_inbox::<u32>("seen_b", 64).unwrap();
        rt.link(b.outbox(), r).unwrap();
        let b = b.start();
        joined(&mut events, b.id()).await;

        for n in 4..=6 {
            publish.send(n).await.unwrap();
        }
        for n in 4..=6 {
            assert_eq!(seen_a.recv().await, Some(n));
        }
        for n in 4..=6 {
            assert_eq!(
                seen_b.recv().await,
                Some(n),
                "b sees what came after it joined"
            );
        }

        let b_id = b.id();
        b.shutdown().await.unwrap();
        assert!(matches!(b.join().await, Exit::ShutDown));
        left(&mut events, b_id).await;
        for n in 7..=9 {
            publish.send(n).await.unwrap();
        }
        for n in 7..=9 {
            assert_eq!(seen_a.recv().await, Some(n));
        }
        assert!(seen_b.try_recv().is_err(), "b saw nothing after it left");
        let snap = rt.snapshot();
        let board_boxes: Vec<&str> = snap
            .component(board.id())
            .unwrap()
            .boxes
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        assert!(board_boxes.contains(&format!("subscriber#{}", a.id()).as_str()));
        assert!(
            !board_boxes
                .iter()
                .any(|n| *n == format!("subscriber#{b_id}"))
        );

        // The Backplane's end reaches its subscribers.
        board.shutdown().await.unwrap();
        assert!(matches!(board.join().await, Exit::ShutDown));
        assert!(matches!(a.join().await, Exit::ShutDown));
        assert!(
            rt.service::<u32>("numbers").is_err(),
            "the name is free again"
        );
        publisher.shutdown().await.unwrap();
        assert!(publisher.join().await.is_clean());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_subscriber_drops_instead_of_stalling_the_others() {
    within(async {
        let rt = Runtime::new();
        let mut events = rt.subscribe();
        let board = rt.spawn(Backplane::<u32>::new("feed")).unwrap();
        let mut ext = rt.external("test");

        // The slow one joins first, so each message reaches it before the fast one.
        let slow = rt.add(SubscribeTo::<u32>::new("feed")).unwrap();
        let (r, _never_read) = ext.add_inbox::<u32>("slow_view", 8).unwrap();
        rt.link(slow.outbox(), r).unwrap();
        let slow = slow.start();
        joined(&mut events, slow.id()).await;

        let fast = rt
            .add(SubscribeTo::<u32>::new("feed").policy(Policy::Block))
            .unwrap();
        let (r, mut fast_view) = ext.add_inbox::<u32>("fast_view", 4).unwrap();
        rt.link(fast.outbox(), r).unwrap();
        let fast = fast.start();
        joined(&mut events, fast.id()).await;

        let (r, mut publish) = ext.add_outbox::<u32>("publish").unwrap();
        rt.link(r, rt.service::<u32>("feed").unwrap()).unwrap();
        let (r, mut board_control) = ext.add_outbox::<Control>("board_control").unwrap();
        rt.link(r, rt.box_ref(board.id(), "control").unwrap())
            .unwrap();
        let reader = async {
            let mut got = Vec::new();
            while got.len() < 200 {
                got.push(fast_view.recv().await.unwrap());
            }
            got
        };
        let writer = async {
            for n in 0..200 {
                publish.send(n).await.unwrap();
            }
        };
        let (got, ()) = tokio::join!(reader, writer);
        assert_eq!(
            got,
            (0..200).collect::<Vec<u32>>(),
            "the fast one saw everything"
        );

        let snap = rt.snapshot();
        let view = box_info(&snap, ext.id(), "slow_view");
        assert_eq!(view.depth, 8);
        assert_eq!(view.dropped, 192, "drops counted on the slow inbox");
        let out = box_info(&snap, board.id(), &format!("subscriber#{}", slow.id()));
        assert_eq!(out.sent, 200, "the Backplane never waited for it");

        // ProducerFinished ends the Backplane, which ends its subscribers the same way.
        board_control.send(Control::ProducerFinished).await.unwrap();
        assert!(matches!(board.join().await, Exit::Finished));
        assert!(matches!(slow.join().await, Exit::Finished));
        assert!(matches!(fast.join().await, Exit::Finished));
    })
    .await;
}

#[tokio::test]
async fn publishers_and_subscribers_need_their_backplane() {
    let rt = Runtime::new();
    assert!(matches!(
        rt.add(PublishTo::<u32>::new("nowhere")),
        Err(LinkError::UnknownService { .. })
    ));
    assert!(matches!(
        rt.add(SubscribeTo::<u32>::new("nowhere")),
        Err(LinkError::UnknownService { .. })
    ));
    let _board = rt.add(Backplane::<String>::new("text")).unwrap();
    assert!(matches!(
        rt.add(PublishTo::<u32>::new("text")),
        Err(LinkError::WrongType { .. })
    ));
    assert!(matches!(
        rt.add(Backplane::<String>::new("text")),
        Err(LinkError::DuplicateService { .. })
    ));
}
