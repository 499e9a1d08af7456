//! loom models of holds (a supervisor's boundary boxes): an inbox that ends behind a
//! hold hands its queue to the hold while a sender keeps sending, and a hold linked
//! again hands what it kept to the new inbox while a sender keeps sending. Nothing is
//! lost, nothing arrives twice, and the sender's order holds.

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;

use super::super::node::HoldNode;
use super::super::{InboxNode, Node, Policy};
use super::loom_outbox::{held, inbox, outbox_to};
use crate::sync::model;

fn queue_of(hold: &Arc<dyn Node>) -> Arc<InboxNode<u8>> {
    hold.held()
        .expect("a hold")
        .as_any_arc()
        .downcast::<InboxNode<u8>>()
        .expect("of u8")
}

#[test]
fn loom_an_inbox_ending_behind_a_hold_hands_everything_over_in_order() {
    model(
        "hold: the inbox behind it ends while a sender sends",
        || {
            let hold: Arc<dyn Node> = Arc::new(HoldNode::<u8>::new(4));
            let (child, child_inbox) = inbox(4);
            assert!(child_inbox.queue().try_push(0).is_ok());
            let (mut outbox, route) = outbox_to(&child);
            let ending = {
                let hold = hold.clone();
                thread::spawn(move || {
                    // As the runtime retires the child: routes through the hold now end in
                    // the hold's queue, then the child's inbox hands its queue over.
                    let kept = hold.held().expect("a hold");
                    route.set_route(Some((&kept, Policy::Block)), None);
                    child.hand_over(&hold)
                })
            };
            assert!(block_on(outbox.send(1)).is_ok());
            assert!(block_on(outbox.send(2)).is_ok());
            assert_eq!(
                ending.join().unwrap(),
                Some(0),
                "nothing lost in the hand-over"
            );
            assert!(held(&child_inbox).is_empty());
            assert_eq!(
                held(&queue_of(&hold)),
                [0, 1, 2],
                "all of it, once, in order"
            );
        },
    );
}

#[test]
fn loom_a_hold_linked_again_hands_over_ahead_of_newer_messages() {
    model("hold: relinked to a new inbox while a sender sends", || {
        let hold: Arc<dyn Node> = Arc::new(HoldNode::<u8>::new(4));
        let kept = hold.held().expect("a hold");
        assert!(queue_of(&hold).queue().try_push(0).is_ok());
        let (mut outbox, route) = outbox_to(&kept);
        let (new, new_inbox) = inbox(4);
        let relink = {
            let hold = hold.clone();
            thread::spawn(move || {
                // As the graph relinks a hold: routes first, then the hand-over.
                route.set_route(Some((&new, Policy::Block)), None);
                hold.release_into(&new)
            })
        };
        assert!(block_on(outbox.send(1)).is_ok());
        assert!(block_on(outbox.send(2)).is_ok());
        assert_eq!(relink.join().unwrap(), 0, "nothing lost");
        assert_eq!(held(&new_inbox), [0, 1, 2], "all of it, once, in order");
        assert!(held(&queue_of(&hold)).is_empty(), "the fresh hold is empty");
    });
}
