//! [`boxes!`](crate::boxes!): declare a component's extra boxes once — name, message
//! type, description — and get typed keys, a rustdoc table and introspection from that
//! one declaration.

/// Declare a component's boxes once. Each line names a box, its direction, its message
/// type and a one-line description; the macro makes a struct of typed keys with:
///
/// - `declare(s)`, called in `setup`, which adds every box (the description is what
///   introspection shows) and returns the keys;
/// - a rustdoc table of the boxes on the struct (name, direction, type, description);
/// - `TABLE`, the same as data ([`BoxDoc`](crate::BoxDoc));
/// - `Default`, keys not declared yet, to initialise a component's field.
///
/// `run` opens each key by id with [`Context::open_inbox`](crate::Context::open_inbox)
/// or [`Context::open_outbox`](crate::Context::open_outbox): no second lookup by string,
/// and the compiler checks the message type. Boxes added at run time keep using names
/// ([`Context::add_inbox`](crate::Context::add_inbox)).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{BoxError, Component, Context, LinkError, Setup, boxes, testing::Harness};
///
/// boxes! {
///     /// The boxes of `Metronome` besides `inbox` and `outbox`.
///     pub struct MetronomeBoxes {
///         inbox tempo: u32 => "beats per minute, from the conductor";
///         outbox ticks: u64 => "one tick per beat";
///     }
/// }
///
/// #[derive(Default)]
/// struct Metronome {
///     boxes: MetronomeBoxes,
/// }
///
/// impl Component for Metronome {
///     type In = ();
///     type Out = ();
///     fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
///         self.boxes = MetronomeBoxes::declare(s)?;
///         Ok(())
///     }
///     async fn run(self, mut ctx: Context<(), ()>) -> Result<(), BoxError> {
///         let mut tempo = ctx.open_inbox(self.boxes.tempo)?;
///         let mut ticks = ctx.open_outbox(self.boxes.ticks)?;
///         while let Some(bpm) = tempo.recv().await {
///             ticks.send(u64::from(bpm)).await?;
///         }
///         Ok(())
///     }
/// }
///
/// assert_eq!(MetronomeBoxes::TABLE[1].description, "one tick per beat");
/// let mut h = Harness::new(Metronome::default());
/// let mut tempo = h.inbox_sender::<u32>("tempo").unwrap();
/// let mut ticks = h.outbox_receiver::<u64>("ticks").unwrap();
/// tempo.send(120).await.unwrap();
/// assert_eq!(ticks.recv().await, Some(120));
/// let snap = h.runtime().snapshot();
/// let tempo_box = snap.component(h.id()).unwrap().boxes.iter().find(|b| b.name == "tempo").unwrap();
/// assert_eq!(tempo_box.description, "beats per minute, from the conductor");
/// # }
/// ```
#[macro_export]
macro_rules! boxes {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $dir:ident $field:ident : $ty:ty => $desc:literal ; )*
        }
    ) => {
        $(#[$meta])*
        ///
        /// | box | direction | type | what |
        /// | --- | --- | --- | --- |
        $( #[doc = concat!("| `", stringify!($field), "` | ", $crate::__box_word!($dir), " | `", stringify!($ty), "` | ", $desc, " |")] )*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name {
            $(
                #[doc = $desc]
                pub $field: $crate::__box_key!($dir, $ty),
            )*
        }

        impl $name {
            /// Every box of the declaration, as data.
            #[allow(dead_code, reason = "for introspection and tests")]
            pub const TABLE: &'static [$crate::BoxDoc] = &[
                $( $crate::BoxDoc {
                    name: stringify!($field),
                    direction: $crate::__box_direction!($dir),
                    message_type: stringify!($ty),
                    description: $desc,
                }, )*
            ];

            /// Add every box to the component being set up; returns their keys.
            ///
            /// # Errors
            ///
            /// [`LinkError::DuplicateBox`]($crate::LinkError::DuplicateBox) if a name is taken.
            pub fn declare(s: &mut $crate::Setup<'_>) -> ::core::result::Result<Self, $crate::LinkError> {
                ::core::result::Result::Ok(Self {
                    $( $field: $crate::__box_declare!($dir, s, stringify!($field), $ty, $desc)?, )*
                })
            }
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                Self {
                    $( $field: <$crate::__box_key!($dir, $ty)>::undeclared(stringify!($field)), )*
                }
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __box_word {
    (inbox) => {
        "in"
    };
    (outbox) => {
        "out"
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __box_direction {
    (inbox) => {
        $crate::Direction::In
    };
    (outbox) => {
        $crate::Direction::Out
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __box_key {
    (inbox, $ty:ty) => {
        $crate::InboxKey<$ty>
    };
    (outbox, $ty:ty) => {
        $crate::OutboxKey<$ty>
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __box_declare {
    (inbox, $s:ident, $name:expr, $ty:ty, $desc:literal) => {
        $s.declare_inbox::<$ty>($name, $desc)
    };
    (outbox, $s:ident, $name:expr, $ty:ty, $desc:literal) => {
        $s.declare_outbox::<$ty>($name, $desc)
    };
}
