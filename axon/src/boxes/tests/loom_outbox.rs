//! loom models of relinking during a send: an outbox's cached route and its version
//! against a link changed from another thread. A message is delivered exactly once, to
//! the old destination or the new one, or handed back; never twice, never lost.

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;

use super::super::{InboxNode, Node, NodeKind, Outbox, OutboxNode, Policy, make_node};
use crate::sync::model;

/// A real inbox of `capacity`, as the graph holds it and as its reader sees it.
pub(super) fn inbox(capacity: usize) -> (Arc<dyn Node>, Arc<InboxNode<u8>>) {
    let node = make_node::<u8>(NodeKind::Inbox, capacity);
    let typed = node
        .clone()
        .as_any_arc()
        .downcast::<InboxNode<u8>>()
        .expect("an inbox of u8");
    (node, typed)
}

/// An outbox linked to `to` (a blocking link), and its shared node for relinking.
pub(super) fn outbox_to(to: &Arc<dyn Node>) -> (Outbox<u8>, Arc<dyn Node>) {
    let node = make_node::<u8>(NodeKind::Outbox, 0);
    node.set_route(Some((to, Policy::Block)), None);
    let typed = node
        .clone()
        .as_any_arc()
        .downcast::<OutboxNode<u8>>()
        .expect("an outbox of u8");
    (Outbox::new(typed), node)
}

/// What an inbox holds, in order (closed or not).
pub(super) fn held(inbox: &InboxNode<u8>) -> Vec<u8> {
    let mut held = Vec::new();
    while let Ok(m) = inbox.queue().try_pop() {
        held.push(m);
    }
    held
}

#[test]
fn loom_a_message_sent_during_a_relink_arrives_once() {
    model("outbox: send while the link moves", || {
        let (old, old_inbox) = inbox(2);
        let (new, new_inbox) = inbox(2);
        let (mut outbox, route) = outbox_to(&old);
        let relink = thread::spawn(move || route.set_route(Some((&new, Policy::Block)), None));
        assert!(block_on(outbox.send(1)).is_ok());
        assert!(block_on(outbox.send(2)).is_ok());
        relink.join().unwrap();
        let mut all = held(&old_inbox);
        let at_new = held(&new_inbox);
        all.extend(&at_new);
        all.sort_unstable();
        assert_eq!(all, [1, 2], "each message once, old or new destination");
        // Once the relink is seen, later messages go to the new destination.
        assert!(!at_new.contains(&1) || at_new.contains(&2), "order kept");
    });
}

#[test]
fn loom_a_send_waiting_on_an_old_destination_that_ends_moves_to_the_new_one() {
    model(
        "outbox: waiting send, relink, old destination closes",
        || {
            let (old, old_inbox) = inbox(1);
            let (new, new_inbox) = inbox(1);
            assert!(old_inbox.queue().try_push(0).is_ok());
            let (mut outbox, route) = outbox_to(&old);
            let old_node = old.clone();
            // As when the old destination's component ends: its link goes, then its queue
            // closes, dropping (and counting) what nobody will read.
            let ending = thread::spawn(move || {
                route.set_route(Some((&new, Policy::Block)), None);
                old_node.close()
            });
            assert!(
                block_on(outbox.send(1)).is_ok(),
                "delivered to the new destination"
            );
            assert_eq!(ending.join().unwrap(), 1, "the unread message is counted");
            assert!(held(&old_inbox).is_empty());
            assert_eq!(held(&new_inbox), [1]);
        },
    );
}

#[test]
fn loom_a_send_waiting_on_a_destination_that_ends_unlinked_is_handed_back() {
    model("outbox: waiting send, unlink, destination closes", || {
        let (old, old_inbox) = inbox(1);
        assert!(old_inbox.queue().try_push(0).is_ok());
        let (mut outbox, route) = outbox_to(&old);
        let old_node = old.clone();
        let ending = thread::spawn(move || {
            route.set_route(None, None);
            old_node.close()
        });
        let sent = block_on(outbox.send(1));
        assert_eq!(ending.join().unwrap(), 1, "the unread message is counted");
        assert_eq!(sent.map_err(|e| e.0), Err(1), "handed back, not lost");
        assert!(held(&old_inbox).is_empty());
    });
}

#[test]
fn loom_a_send_waiting_during_a_relink_is_delivered_once_as_room_frees() {
    model("outbox: waiting send, relink, reader frees room", || {
        let (old, old_inbox) = inbox(1);
        let (new, new_inbox) = inbox(1);
        assert!(old_inbox.queue().try_push(0).is_ok());
        let (mut outbox, route) = outbox_to(&old);
        let relink = thread::spawn(move || route.set_route(Some((&new, Policy::Block)), None));
        let reader = {
            let old_inbox = old_inbox.clone();
            thread::spawn(move || block_on(old_inbox.queue().pop()))
        };
        assert!(block_on(outbox.send(1)).is_ok());
        relink.join().unwrap();
        assert_eq!(reader.join().unwrap(), Some(0));
        let mut all = held(&old_inbox);
        all.extend(held(&new_inbox));
        assert_eq!(all, [1], "once, at the old or the new destination");
    });
}
