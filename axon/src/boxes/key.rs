//! Typed keys for declared boxes: [`InboxKey`] and [`OutboxKey`], made by
//! [`boxes!`](crate::boxes!) declarations in `setup` and opened in `run` without a
//! lookup by name; [`BoxDoc`], a declaration as data.

use std::marker::PhantomData;

use super::{BoxId, Direction};

/// A declared inbox carrying `T`: its name, and once declared in `setup`, its id.
/// [`Context::open_inbox`](crate::Context::open_inbox) turns it into the
/// [`Inbox`](crate::Inbox) in `run`, by id.
///
/// Usually made by a [`boxes!`](crate::boxes!) declaration; see there for an example.
pub struct InboxKey<T> {
    name: &'static str,
    id: Option<BoxId>,
    _t: PhantomData<fn() -> T>,
}

/// A declared outbox carrying `T`: its name, and once declared in `setup`, its id.
/// [`Context::open_outbox`](crate::Context::open_outbox) turns it into the
/// [`Outbox`](crate::Outbox) in `run`, by id.
///
/// Usually made by a [`boxes!`](crate::boxes!) declaration; see there for an example.
pub struct OutboxKey<T> {
    name: &'static str,
    id: Option<BoxId>,
    _t: PhantomData<fn() -> T>,
}

macro_rules! key_impls {
    ($key:ident) => {
        impl<T> $key<T> {
            /// A key for the box `name`, not declared yet (opening it fails, naming it).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let key = axon::", stringify!($key), "::<u32>::undeclared(\"ticks\");")]
            /// assert_eq!((key.name(), key.id()), ("ticks", None));
            /// ```
            pub const fn undeclared(name: &'static str) -> Self {
                $key {
                    name,
                    id: None,
                    _t: PhantomData,
                }
            }

            pub(crate) const fn declared(name: &'static str, id: BoxId) -> Self {
                $key {
                    name,
                    id: Some(id),
                    _t: PhantomData,
                }
            }

            /// The box's name.
            pub const fn name(&self) -> &'static str {
                self.name
            }

            /// The box's id, once declared.
            pub const fn id(&self) -> Option<BoxId> {
                self.id
            }
        }

        impl<T> Clone for $key<T> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<T> Copy for $key<T> {}

        impl<T> std::fmt::Debug for $key<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($key))
                    .field("name", &self.name)
                    .field("id", &self.id)
                    .field("type", &std::any::type_name::<T>())
                    .finish()
            }
        }
    };
}

key_impls!(InboxKey);
key_impls!(OutboxKey);

/// One box of a [`boxes!`](crate::boxes!) declaration, as data: what its rustdoc
/// table row and introspection show.
///
/// # Examples
///
/// ```
/// let row = axon::BoxDoc { name: "ticks", direction: axon::Direction::In, message_type: "u64", description: "the time" };
/// assert_eq!(row.name, "ticks");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxDoc {
    /// The box's name.
    pub name: &'static str,
    /// In or out.
    pub direction: Direction,
    /// The message type, as written in the declaration.
    pub message_type: &'static str,
    /// The one-line description.
    pub description: &'static str,
}
