//! How many bytes a message counts for under an inbox's byte budget.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

/// The size a message counts for when an inbox is bounded in bytes
/// ([`Runtime::set_byte_budget`](crate::Runtime::set_byte_budget),
/// [`Setup::set_byte_budget`](crate::Setup::set_byte_budget)).
///
/// Byte buffers and strings count their length. A user type says what it holds: the
/// heap bytes it owns are what a slow reader makes the process keep, so count those
/// (a fixed-size struct may count `size_of::<Self>()`). The size must not change while
/// the message waits (it is measured when it enters and when it leaves).
///
/// # Examples
///
/// ```
/// use axon::MessageSize;
///
/// /// A reply: a status line and a body.
/// struct Reply { status: String, body: Vec<u8> }
///
/// impl MessageSize for Reply {
///     fn message_size(&self) -> usize {
///         self.status.len() + self.body.len()
///     }
/// }
///
/// let r = Reply { status: "ok".into(), body: vec![0; 1024] };
/// assert_eq!(r.message_size(), 1026);
/// assert_eq!(bytes::Bytes::from_static(b"hello").message_size(), 5);
/// ```
pub trait MessageSize {
    /// The bytes this message counts for.
    fn message_size(&self) -> usize;
}

macro_rules! by_len {
    ($($t:ty),* $(,)?) => {$(
        impl MessageSize for $t {
            #[inline]
            fn message_size(&self) -> usize {
                self.len()
            }
        }
    )*};
}

by_len!(
    Bytes,
    BytesMut,
    String,
    Vec<u8>,
    Box<[u8]>,
    Box<str>,
    Arc<[u8]>,
    Arc<str>
);

macro_rules! by_size {
    ($($t:ty),* $(,)?) => {$(
        impl MessageSize for $t {
            #[inline]
            fn message_size(&self) -> usize {
                std::mem::size_of::<$t>()
            }
        }
    )*};
}

// Plain values count what they occupy.
by_size!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64
);

impl<T: MessageSize> MessageSize for Option<T> {
    fn message_size(&self) -> usize {
        self.as_ref().map_or(0, T::message_size)
    }
}
