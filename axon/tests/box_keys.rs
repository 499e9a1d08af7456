//! Typed box keys: declared once with `boxes!`, opened by id in `run`.

use axon::{BoxError, Component, Context, Direction, LinkError, Setup, boxes, testing::Harness};

boxes! {
    /// The boxes of `Relay`.
    pub struct RelayBoxes {
        inbox words: String => "words to relay";
        outbox lengths: usize => "the length of each word";
    }
}

/// Relays each word's length; `open_twice` tries to open its inbox a second time.
#[derive(Default)]
struct Relay {
    boxes: RelayBoxes,
    declare: bool,
    open_twice: bool,
}

impl Component for Relay {
    type In = ();
    type Out = String;
    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        if self.declare {
            self.boxes = RelayBoxes::declare(s)?;
        }
        Ok(())
    }
    async fn run(self, mut ctx: Context<(), String>) -> Result<(), BoxError> {
        let opened = ctx.open_inbox(self.boxes.words);
        let mut words = match opened {
            Ok(w) => w,
            Err(e) => {
                ctx.send(e.to_string()).await?;
                return Ok(());
            }
        };
        if self.open_twice {
            let again = ctx.open_inbox(self.boxes.words).unwrap_err();
            ctx.send(again.to_string()).await?;
        }
        let mut lengths = ctx.open_outbox(self.boxes.lengths)?;
        while let Some(w) = words.recv().await {
            lengths.send(w.len()).await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn declared_keys_open_their_boxes_and_the_declaration_feeds_introspection() {
    let mut h = Harness::new(Relay {
        declare: true,
        ..Relay::default()
    });
    let mut words = h.inbox_sender::<String>("words").unwrap();
    let mut lengths = h.outbox_receiver::<usize>("lengths").unwrap();
    words.send("axon".into()).await.unwrap();
    assert_eq!(lengths.recv().await, Some(4));
    let snap = h.runtime().snapshot();
    let me = snap.component(h.id()).unwrap();
    for row in RelayBoxes::TABLE {
        let b = me.boxes.iter().find(|b| b.name == row.name).unwrap();
        assert_eq!(
            (b.direction, b.description.as_str()),
            (row.direction, row.description)
        );
        assert!(
            b.message_type.ends_with(row.message_type),
            "{} vs {}",
            b.message_type,
            row.message_type
        );
    }
    assert_eq!(RelayBoxes::TABLE[0].direction, Direction::In);
}

#[tokio::test]
async fn a_key_not_declared_in_setup_is_refused_naming_the_box() {
    let mut h = Harness::new(Relay::default());
    let err = h.recv().await.expect("the error as a message");
    assert!(
        err.contains("\"words\"") && err.contains("not declared"),
        "{err}"
    );
}

#[tokio::test]
async fn a_key_opens_its_inbox_once() {
    let mut h = Harness::new(Relay {
        declare: true,
        open_twice: true,
        ..Relay::default()
    });
    let err = h.recv().await.expect("the error as a message");
    assert!(err.contains("words") && err.contains("taken"), "{err}");
}

#[tokio::test]
async fn a_key_of_another_component_is_refused() {
    // Keys declared by one instance do not open another's boxes.
    let rt = axon::Runtime::new();
    let first = rt
        .add(Relay {
            declare: true,
            ..Relay::default()
        })
        .unwrap();
    let _ = first;
    let mut keys = RelayBoxes::default();
    struct Steal(
        RelayBoxes,
        std::sync::Arc<std::sync::Mutex<Option<RelayBoxes>>>,
    );
    impl Component for Steal {
        type In = ();
        type Out = String;
        fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
            let mine = RelayBoxes::declare(s)?;
            *self.1.lock().unwrap() = Some(mine);
            Ok(())
        }
        async fn run(self, mut ctx: Context<(), String>) -> Result<(), BoxError> {
            let e = ctx.open_inbox(self.0.words).unwrap_err();
            ctx.send(e.to_string()).await?;
            Ok(())
        }
    }
    let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
    let _a = rt.add(Steal(keys, slot.clone())).unwrap();
    keys = slot.lock().unwrap().take().unwrap();
    let mut h = Harness::with_runtime(rt.clone(), Steal(keys, slot));
    let err = h.recv().await.expect("the error as a message");
    assert!(err.contains("not declared"), "{err}");
}
