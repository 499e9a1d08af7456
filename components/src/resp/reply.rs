//! [`Reply`]: one RESP2 value the server sends back.

use bytes::{BufMut, Bytes, BytesMut};

/// One RESP2 reply.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use components::resp::Reply;
/// let mut out = BytesMut::new();
/// Reply::Array(vec![Reply::Bulk("v".into()), Reply::Nil]).write_to(&mut out);
/// assert_eq!(&out[..], b"*2\r\n$1\r\nv\r\n$-1\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+text`: a status such as `OK` or `PONG`.
    Status(&'static str),
    /// `-text`: an error line, with its code (`ERR ...`, `WRONGTYPE ...`).
    Error(String),
    /// `:n`.
    Integer(i64),
    /// `$len` and the bytes.
    Bulk(Bytes),
    /// `$-1`: the null bulk string (a missing key).
    Nil,
    /// `*n` and the elements.
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub const OK: Reply = Reply::Status("OK");

    /// An error reply from anything whose `Display` is the Redis error line.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::resp::{CommandError, Reply};
    /// assert_eq!(
    ///     Reply::error(CommandError::Syntax),
    ///     Reply::Error("ERR syntax error".into())
    /// );
    /// ```
    pub fn error(error: impl std::fmt::Display) -> Reply {
        Reply::Error(error.to_string())
    }

    /// Append the reply's wire form to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        match self {
            Reply::Status(text) => line(out, b'+', text.as_bytes()),
            Reply::Error(text) => line(out, b'-', text.as_bytes()),
            Reply::Integer(n) => line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(bytes) => {
                line(out, b'$', bytes.len().to_string().as_bytes());
                out.reserve(bytes.len() + 2);
                out.put_slice(bytes);
                out.put_slice(b"\r\n");
            }
            Reply::Nil => out.put_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.write_to(out);
                }
            }
        }
    }
}

fn line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(kind);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}
