//! Inboxes bounded in bytes as well as in messages.

use axon::{
    BoxError, Bytes, Component, Context, LinkError, Policy, Runtime, Setup, component::from_fn,
};

fn box_info(rt: &Runtime, id: axon::ComponentId, name: &str) -> axon::introspect::BoxInfo {
    rt.snapshot()
        .component(id)
        .unwrap()
        .boxes
        .iter()
        .find(|b| b.name == name)
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_full_byte_budget_refuses_more_though_slots_are_free() {
    let rt = Runtime::new();
    let consumer = rt
        .add(from_fn("consumer", |_c: Context<Bytes, ()>| {
            std::future::pending()
        }))
        .unwrap();
    let mut ext = rt.external("producer");
    let (out_ref, mut out) = ext.add_outbox::<Bytes>("out").unwrap();
    rt.link(out_ref, consumer.inbox()).unwrap();
    rt.set_byte_budget(consumer.inbox(), 4096).unwrap();
    let kib = Bytes::from(vec![0u8; 1024]);
    let mut accepted = 0;
    while out.try_send(kib.clone()).is_ok() {
        accepted += 1;
        assert!(accepted <= 64, "the byte budget never filled");
    }
    assert_eq!(accepted, 4, "four 1 KiB messages fill a 4 KiB budget");
    let inbox = box_info(&rt, consumer.id(), "inbox");
    assert_eq!(
        (inbox.depth, inbox.bytes, inbox.byte_budget),
        (4, Some(4096), Some(4096))
    );
    assert!(
        inbox.capacity.unwrap() > 4,
        "the count bound is not what stopped it"
    );
}

#[tokio::test]
async fn a_lossy_link_counts_what_the_byte_budget_drops() {
    let rt = Runtime::new();
    let consumer = rt
        .add(from_fn("consumer", |_c: Context<String, ()>| {
            std::future::pending()
        }))
        .unwrap();
    let mut ext = rt.external("producer");
    let (out_ref, mut out) = ext.add_outbox::<String>("out").unwrap();
    rt.link_with(out_ref, consumer.inbox(), Policy::DropOldest)
        .unwrap();
    rt.set_byte_budget(consumer.inbox(), 10).unwrap();
    for word in ["aaaa", "bbbb", "cccc", "dddddddd"] {
        out.send(word.to_string()).await.unwrap();
    }
    // 4 + 4 fit; "cccc" evicts "aaaa"; 8 bytes evict "bbbb" and "cccc".
    let inbox = box_info(&rt, consumer.id(), "inbox");
    assert_eq!((inbox.depth, inbox.dropped, inbox.bytes), (1, 3, Some(8)));
    assert_eq!(box_info(&rt, ext.id(), "out").dropped, 3);
}

/// A composite whose `inbox` is a passthrough to one child.
struct Shell;

impl Component for Shell {
    type In = Bytes;
    type Out = ();

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.make_passthrough("inbox")?;
        let kid = s.add_child(from_fn("kid", |_c: Context<Bytes, ()>| {
            std::future::pending()
        }))?;
        let me = s.own::<Bytes>("inbox")?;
        s.link(me, kid.inbox())
    }

    async fn run(self, mut ctx: Context<Bytes, ()>) -> Result<(), BoxError> {
        while ctx.next_child_exit().await.is_some() {}
        Ok(())
    }
}

#[tokio::test]
async fn a_budget_on_a_composite_boundary_bounds_the_inbox_behind_it() {
    let rt = Runtime::new();
    let outer = rt.add(Shell).unwrap();
    rt.set_byte_budget(outer.inbox(), 100).unwrap();
    let kid = rt.children_of(outer.id())[0];
    assert_eq!(box_info(&rt, kid, "inbox").byte_budget, Some(100));
    let mut ext = rt.external("test");
    let (out, _) = ext.add_outbox::<Bytes>("out").unwrap();
    let err = rt.set_byte_budget(out, 100).unwrap_err();
    assert!(matches!(err, LinkError::WrongDirection { .. }), "{err}");
}
